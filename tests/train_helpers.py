"""Helpers for the trainer tests (``from train_helpers import ...``).

FRet-format rows come from real text via :func:`trainers.data.passage_rows`.
"""

from __future__ import annotations

import json
from pathlib import Path

from gecko_bench.config import TrainConfig
from trainers.data import passage_rows as fret_rows  # noqa: F401  (re-exported for tests)


def write_jsonl(rows: list[dict], path: Path) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def tiny_cfg(**over) -> TrainConfig:
    """A seconds-scale config: short sequences, small batches, few steps; float32, so a test
    computes the same on every machine (the ``auto`` default is tested in test_train_dtype)."""
    cfg = TrainConfig(prefinetune_steps=2, prefinetune_batch_size=8, finetune_steps=3,
                      finetune_batch_size=6, max_seq_length=32, save_steps=2,
                      classification_per_task=0, dtype="float32")
    for k, v in over.items():
        setattr(cfg, k, v)
    return cfg
