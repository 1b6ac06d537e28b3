"""Re-evaluate a stored checkpoint and check that its stored scores reproduce."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console

from gecko_bench.errors import InputError
from gecko_bench.provenance import checkpoint_id
from gecko_bench.regress import resolve_model_id
from gecko_bench.store import get_model_row
from gecko_bench.store.scores import scores_frame


@dataclass
class ReproduceReport:
    """Stored vs re-evaluated main scores (points) per task, subset and dim."""

    model: str
    model_id: str
    tolerance: float
    table: pd.DataFrame  # task, subset, dim, stored, reproduced, delta, ok

    @property
    def passed(self) -> bool:
        return bool(len(self.table)) and bool(self.table["ok"].all())

    @property
    def message(self) -> str:
        bad = self.table[~self.table["ok"]]
        if self.passed:
            return (f"PASS: {len(self.table)} stored scores of {self.model} reproduce within "
                    f"{self.tolerance} points")
        return (f"FAIL: {len(bad)} of {len(self.table)} scores of {self.model} differ by more "
                f"than {self.tolerance} points: " + ", ".join(f"{r.task}@{r.dim}"
                                                             for r in bad.itertuples()))


def reproduce(model: str, db_path: str | Path | None = None, tolerance: float = 0.5,
              device: str = "cpu", console: Console | None = None) -> ReproduceReport:
    """Re-run the stored evaluations of `model` (same tasks, dims, prompt style) from scratch.

    The checkpoint must still hash to its stored id; the re-evaluation writes to a scratch
    database with the embedding cache off, so nothing stored is reused or changed.
    """
    from gecko_bench.eval import evaluate

    console = console or Console()
    model_id, name = resolve_model_id(db_path, model)
    row = get_model_row(model_id, db_path=db_path)
    path = row["path"] if row else None
    source = path if path and Path(path).exists() else name
    if path and Path(path).exists() and checkpoint_id(path) != model_id:
        raise InputError(f"the weights at {path} no longer hash to the stored id {model_id[:12]}; "
                         "the checkpoint changed since it was evaluated")
    stored = scores_frame(db_path, model_ids=[model_id], main_only=True)
    stored = stored.sort_values("created_at").groupby(["task", "subset", "dim"]).tail(1)
    if stored.empty:
        raise InputError(f"{name} has no stored scores to reproduce")
    rows = []
    stored["max_seq_length"] = stored["max_seq_length"].astype("Int64")
    for (style, max_len), group in stored.groupby(["prompt_style", "max_seq_length"],
                                                  dropna=False):
        tasks = sorted(group["task"].unique())
        dims = sorted(int(d) for d in group["dim"].unique())
        with tempfile.TemporaryDirectory() as scratch:
            scratch_db = Path(scratch) / "reproduce.duckdb"
            console.print(f"re-evaluating {name} on {len(tasks)} task(s) at dims {dims} "
                          f"({style} prompts)")
            evaluate(source, tasks=tasks, dims=dims, prompt_style=style, db_path=scratch_db,
                     device=device, use_cache=False, progress=False,
                     max_seq_length=None if pd.isna(max_len) else int(max_len))
            fresh = scores_frame(scratch_db, main_only=True)
        merged = group.merge(fresh[["task", "subset", "dim", "value"]],
                             on=["task", "subset", "dim"], how="left", suffixes=("", "_new"))
        for r in merged.itertuples():
            stored_v, new_v = 100 * r.value, 100 * r.value_new
            delta = new_v - stored_v
            rows.append(dict(task=r.task, subset=r.subset, dim=int(r.dim), stored=stored_v,
                             reproduced=new_v, delta=delta,
                             ok=bool(np.isfinite(delta) and abs(delta) <= tolerance)))
    return ReproduceReport(name, model_id, tolerance, pd.DataFrame(rows))
