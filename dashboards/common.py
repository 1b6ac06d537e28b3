"""Shared pieces of the dashboard pages: which database, cached reads, friendly failures, CSV."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

from gecko_bench.errors import StoreError
from gecko_bench.store.core import default_db_path
from dashboards.analysis import bootstrap_category_ci, category_scores, task_scores
from gecko_bench.store.dashboard import RUN_HINT, Unavailable, as_unavailable, experiment_scores
from gecko_bench.store.scores import PROTOCOL_COLUMNS, Protocol


def db_path() -> Path:
    """``--db`` after ``streamlit run app.py --``, else $GECKO_BENCH_DB, else results/…duckdb."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db")
    known, _ = parser.parse_known_args(sys.argv[1:])
    return Path(known.db) if known.db else default_db_path()


def _stamp(path: Path) -> tuple[int, int]:
    """Changes whenever a writer commits (file or WAL modified): the cache key for reads."""
    def mtime(p: Path) -> int:
        return p.stat().st_mtime_ns if p.exists() else 0

    return mtime(path), mtime(path.with_name(path.name + ".wal"))


@st.cache_data(show_spinner=False, max_entries=256, ttl=600)
def _cached(target: str, db: str, stamp: tuple[int, int], kwargs: tuple) -> Any:
    module, name = target.rsplit(".", 1)
    fn = getattr(importlib.import_module(module), name)
    return fn(db, **dict(kwargs))


def load(fn: Callable[..., Any], db: Path, **kwargs: Any) -> Any:
    """Call a store read function ``fn(db, **kwargs)``, cached until the database changes.

    Unavailable (no file, busy, missing table) propagates to the page, which explains it.
    """
    target = f"{fn.__module__}.{fn.__qualname__}"
    key = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in kwargs.items()))
    if not db.exists():
        raise Unavailable(f"There is no results database at `{db}` yet.",
                          f"Run {RUN_HINT} to create one, or pass `--db PATH`.")
    try:
        return _cached(target, str(db), _stamp(db), key)
    except Unavailable:
        raise
    except (StoreError, duckdb.Error) as exc:
        # Other areas' read functions open their own connections; explain their failures too.
        raise as_unavailable(exc, db) from None


def explain(exc: Unavailable) -> None:
    """Show why a page has no data and what to run, instead of a stack trace."""
    show = st.warning if exc.busy else st.info
    show(f"{exc.reason}\n\n{exc.hint}".strip())


def download(df: pd.DataFrame, name: str, label: str = "Download CSV") -> None:
    """A CSV download button for a table shown on a page."""
    st.download_button(label, df.to_csv(index=False).encode(), file_name=f"{name}.csv",
                       mime="text/csv", key=f"csv-{name}")


def table(df: pd.DataFrame, name: str, **kwargs: Any) -> Any:
    """A dataframe with its CSV download button beneath it; returns st.dataframe's result."""
    out = st.dataframe(df, hide_index=True, width="stretch", **kwargs)
    download(df, name)
    return out


def experiment_tasks(db: Path, experiment: str, command: str) -> pd.DataFrame:
    """Per-task scores (points) of an experiment's checkpoints; Unavailable naming ``command``."""
    scores = load(experiment_scores, db, experiment=experiment)
    if scores.empty:
        raise Unavailable(f"No scores from the `{experiment}` experiment yet.",
                          f"Run `{command}` (it tags its runs experiment={experiment}).")
    return task_scores(one_fret_build(scores, key=f"{experiment}-fret"))


def one_fret_build(scores: pd.DataFrame, key: str) -> pd.DataFrame:
    """The scores of one FRet build's students: an experiment run on two builds (e.g. another
    `fret.n_seeds`) has variants of the same name that must not be pooled as seeds. A selector
    appears when there is a choice; the newest build is the default."""
    builds = scores["fret_dataset_id"].fillna("(not recorded)")
    if builds.nunique() < 2:
        return scores
    newest = scores.assign(build=builds).groupby("build")["created_at"].max()
    options = list(newest.sort_values(ascending=False).index)
    counts = builds.groupby(builds).size()
    chosen = st.selectbox("FRet build the students were trained on", options, index=0, key=key,
                          format_func=lambda b: f"{b} (newest {newest[b]:%Y-%m-%d %H:%M}, "
                                                f"{counts[b]} scores)")
    return scores[builds == chosen]


def variant_cells(db: Path, tasks: pd.DataFrame, dim: int) -> pd.DataFrame:
    """Per (variant, category) at `dim`: score with its bootstrap CI, n_tasks, n_models.

    Where per-item scores exist the score is the per-item estimate the CI belongs to; otherwise
    (e.g. clustering) the category's mean main score, without a CI.
    """
    cells = category_scores(tasks, ["variant"])
    cis = []
    for variant, group in tasks.groupby("variant"):
        measured = group[["model_id", *PROTOCOL_COLUMNS]].drop_duplicates()
        selections = sorted((r.model_id, Protocol.of(r)) for r in measured.itertuples())
        ci = load(bootstrap_category_ci, db, selections=selections, dim=dim)
        ci["variant"] = variant
        cis.append(ci)
    cells = cells.merge(pd.concat(cis), on=["variant", "category"], how="left")
    cells["score"] = cells.pop("estimate").fillna(cells["score"])
    return cells


def pick_dim(tasks: pd.DataFrame, key: str, label: str = "Embedding dimension") -> int:
    """A dimension selector over the dims present (default: the largest)."""
    dims = sorted({int(d) for d in tasks["dim"]}, reverse=True)
    return int(st.selectbox(label, dims, index=0, key=key))
