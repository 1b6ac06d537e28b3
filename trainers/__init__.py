"""Gecko trainers: pre-finetuning, the fine-tuning mixture, the eq. 3 loss with Matryoshka dims,
checkpoints with manifests and lineage in the store.

Entry points (stable, called by the main job): :func:`prefinetune` and :func:`finetune`.
"""

from trainers.core import MANIFEST
from trainers.stages import finetune, prefinetune

__all__ = ["MANIFEST", "finetune", "prefinetune"]
