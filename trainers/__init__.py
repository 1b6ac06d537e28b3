"""Gecko trainers: pre-finetuning, the fine-tuning mixture, the eq. 3 loss with Matryoshka dims,
checkpoints with manifests and lineage in the store.

Entry points (stable, called by the main job): :func:`prefinetune` and :func:`finetune`;
:func:`check_settings` refuses a bad training config before any stage runs.
"""

from trainers.core import MANIFEST
from trainers.stages import check_settings, finetune, prefinetune

__all__ = ["MANIFEST", "check_settings", "finetune", "prefinetune"]
