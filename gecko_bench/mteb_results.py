"""Scores in mteb's results layout, out and in (``gecko-bench export`` / ``gecko-bench import``).

Layout written (what mteb's ``ResultCache`` reads under its ``results/`` folder, and what the
published ``embeddings-benchmark/results`` repository holds)::

    OUT/<model name as path>/<revision>/<Task>.json + model_meta.json
    OUT/<model name as path>/<revision>/experiments/<experiment>/<Task>.json + model_meta.json

Every file is produced by mteb's own objects: a :class:`mteb.results.TaskResult` per task and a
:class:`mteb.models.model_meta.ModelMeta` per folder, written with
``ResultCache.save_to_cache`` into a staging cache and copied into OUT (mteb's
``run_settings.jsonl`` is dropped: it records the export machine's package versions, not the
evaluation's).

How our identities map onto mteb's (a score's identity is never dropped):

- ``name``: the model's name in the store; mteb wants ``org/name``, so a name without a ``/``
  gets the prefix ``gecko-bench/`` (removed again on import).
- ``revision``: the model's weights id (the full sha256 ``model_id``). mteb revisions are hub
  commits; ours is the weights hash, which is what decides the scores.
- **Protocols** (prompt style, input-token cap, dtype, scoring version) and **MRL dims** use
  mteb's own mechanism for "same weights, other settings": experiments. mteb itself records
  ``embed_dim`` in ``experiment_kwargs`` when a model is loaded at a truncated dim. Per model,
  the *primary* protocol (the one with the most current tasks, then the newest) at the full dim
  goes to the revision folder itself, so a plain ``ResultCache().load_results()`` reads it; its
  ``model_meta.json`` records the protocol in ``loader_kwargs`` (not ``experiment_kwargs``: mteb's
  default load skips folders whose meta names an experiment). Every other (protocol, dim) goes to
  ``experiments/<name>/`` with the protocol and ``embed_dim`` in ``experiment_kwargs`` (the
  folder name is mteb's own serialisation of them); load those with
  ``load_results(load_experiments="match_name")``.
- Per task: all stored scalar metrics per split and subset, ``main_score``, ``hf_subset``,
  ``languages``, ``dataset_revision`` = our task revision, ``evaluation_time`` = the run's
  recorded seconds for the task (all dims of that run), ``mteb_version`` = the version that
  evaluated it, ``date`` = when it was stored. The main metric is written first in each entry
  (import uses that to name the main metric of a task it does not know). mteb's non-scalar
  entries (per-class lists, cross-validation folds) were never stored and are not written.

Import reads a folder in that layout (ours or published results) with
``ResultCache.load_results`` and stores it as runs of kind ``import`` (one per model and
protocol), all in one transaction; see :func:`import_mteb`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from gecko_bench.errors import InputError
from gecko_bench.store.interchange import IMPORTED_CODE_VERSION
from gecko_bench.store.scores import PROTOCOL_COLUMNS, Protocol

NAME_PREFIX = "gecko-bench/"
IMPORT_SUITE = "mteb-import"
UNKNOWN_STYLE = "imported"  # prompt style of imported rows that do not say how they were run
_NOT_METRICS = {"hf_subset", "languages", "main_score", "evaluation_time", "mteb_version"}


def _mteb_name(name: str) -> str:
    return name if "/" in name else NAME_PREFIX + name


def _protocol_kwargs(protocol: Protocol) -> dict[str, Any]:
    return {k: v for k, v in protocol.as_dict().items() if v is not None}


def _none(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _model_meta(model: dict, protocol: Protocol, dim: int, experiment: bool):
    from mteb.models.model_meta import ModelMeta

    kwargs = _protocol_kwargs(protocol)
    n_params = _none(model.get("n_params"))
    return ModelMeta(
        loader=None, name=_mteb_name(str(model["name"])), revision=model["model_id"],
        release_date=None, languages=None,
        n_parameters=int(n_params) if n_params is not None else None,
        memory_usage_mb=None, max_tokens=protocol.max_seq_length, embed_dim=int(dim),
        license=None, open_weights=None, public_training_code=None, public_training_data=None,
        framework=["Sentence Transformers"] if model.get("kind") == "sentence-transformers"
        else [], similarity_fn_name="cosine",
        use_instructions=protocol.prompt_style not in (None, "none"), training_datasets=None,
        loader_kwargs=kwargs,
        experiment_kwargs=dict(kwargs, embed_dim=int(dim)) if experiment else None)


def _task_result(rows: pd.DataFrame, details: dict[str, dict]):
    """One mteb TaskResult from one task's current rows of one (model, protocol, dim)."""
    import mteb
    from mteb.results import TaskResult

    run_id = rows["run_id"].iloc[0]
    run = details.get(run_id, {})
    task = rows["task"].iloc[0]
    scores: dict[str, list[dict]] = {}
    for (split, subset), grp in rows.groupby(["split", "subset"], sort=True):
        main = grp[grp["is_main"].astype(bool)]
        entry: dict[str, Any] = {}
        for r in pd.concat([main, grp[~grp["is_main"].astype(bool)]]).itertuples():
            if _none(r.value) is not None:
                entry[r.metric] = float(r.value)
        entry["main_score"] = float(main["value"].iloc[0]) if len(main) else math.nan
        langs = grp["languages"].iloc[0]
        entry["hf_subset"] = str(subset)
        entry["languages"] = [x for x in str(langs or "").split(",") if x]
        scores.setdefault(str(split), []).append(entry)
    seconds = run.get("durations", {}).get(task)
    return TaskResult(
        dataset_revision=str(rows["task_revision"].iloc[0]), task_name=task,
        mteb_version=run.get("package_versions", {}).get("mteb") or mteb.__version__,
        scores=scores, evaluation_time=float(seconds) if seconds is not None else None,
        date=pd.Timestamp(rows["created_at"].max()).to_pydatetime())


def _protocols(rows: pd.DataFrame) -> list[tuple[Protocol, pd.DataFrame]]:
    """(protocol, its rows) for one model, the primary one first."""
    out = []
    for _, grp in rows.groupby(list(PROTOCOL_COLUMNS), dropna=False, sort=False):
        out.append((Protocol.of(grp.iloc[0].to_dict()), grp))

    def rank(item):
        _, grp = item
        full = grp[grp["dim"] == grp["dim"].max()]
        return (full["task"].nunique(), grp["created_at"].max())

    return sorted(out, key=rank, reverse=True)


def export_mteb(out: str | Path, db_path=None, *, models: list[str] | None = None,
                suite: str | None = None) -> dict[str, Any]:
    """Write the current scores in mteb's results layout under `out` (see module doc).

    Returns a summary: files written, folders (model, revision, experiment) and models.
    """
    from mteb.cache import ResultCache

    from gecko_bench.store.interchange import run_details
    from gecko_bench.store.runs import models_frame
    from gecko_bench.store.scores import current_scores

    model_ids = resolve_models(models, db_path)
    cur = current_scores(db_path, model_ids=model_ids, suite=suite)
    if cur.empty:
        raise InputError("no current scores to export"
                         + (f" for suite {suite!r}" if suite else "")
                         + (f" of model(s) {', '.join(models)}" if models else "")
                         + "; run `gecko-bench eval` first")
    details = run_details(db_path, sorted(cur["run_id"].unique()))
    model_rows = {r["model_id"]: r for r in
                  models_frame(db_path, sorted(cur["model_id"].unique())).to_dict("records")}
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    folders, n_files = [], 0
    with tempfile.TemporaryDirectory(prefix="gecko-mteb-export-") as staging:
        cache = ResultCache(cache_path=staging)
        for model_id, mrows in cur.groupby("model_id", sort=True):
            model = model_rows.get(model_id) or {"model_id": model_id,
                                                 "name": mrows["model_name"].iloc[0]
                                                 or model_id[:12]}
            model = dict(model, name=model.get("name") or model_id[:12])
            for i, (protocol, prows) in enumerate(_protocols(mrows)):
                for dim in sorted(prows["dim"].unique(), reverse=True):
                    experiment = not (i == 0 and dim == prows["dim"].max())
                    meta = _model_meta(model, protocol, int(dim), experiment)
                    drows = prows[prows["dim"] == dim]
                    for _, trows in drows.groupby("task", sort=True):
                        cache.save_to_cache(_task_result(trows, details), meta)
                        n_files += 1
                    folders.append({"model": model["name"], "revision": model_id,
                                    "experiment": meta.experiment_name,
                                    "protocol": protocol.label(), "dim": int(dim),
                                    "tasks": int(drows["task"].nunique())})
        root = Path(staging) / "results"
        for settings in root.rglob("run_settings.jsonl"):
            settings.unlink()
        shutil.copytree(root, out, dirs_exist_ok=True)
    return {"out": str(out), "files": n_files, "folders": folders,
            "models": sorted({f["model"] for f in folders})}


def resolve_models(models: list[str] | None, db_path) -> list[str] | None:
    """Model names / id prefixes -> model ids; InputError naming an unknown one."""
    if not models:
        return None
    from gecko_bench.store import get_model_row

    ids = []
    for name in models:
        row = get_model_row(name, db_path)
        if row is None:
            raise InputError(f"--model {name!r}: no such model in the store (give a name or "
                             "model id prefix from `gecko-bench leaderboard`)")
        ids.append(row["model_id"])
    return ids


def export_parquet(out: str | Path, db_path=None, *, models: list[str] | None = None,
                   suite: str | None = None, history: bool = False) -> dict[str, Any]:
    """``scores.parquet`` + ``item_scores.parquet`` (current rows, or every row with
    `history`) under `out`; see :func:`gecko_bench.store.interchange.export_parquet`."""
    from gecko_bench.store.interchange import export_parquet as _export

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    counts = _export(out, db_path, model_ids=resolve_models(models, db_path), suite=suite,
                     history=history)
    if not counts.get("scores.parquet"):
        raise InputError("no scores to export" + (f" for suite {suite!r}" if suite else "")
                         + "; run `gecko-bench eval` first")
    return {"out": str(out), "counts": counts, "history": history}


# ---------------------------------------------------------------------------------- import


def _results_root(src: Path) -> Path:
    if not src.exists():
        raise InputError(f"{src}: no such folder")
    if not src.is_dir():
        raise InputError(f"{src}: not a folder (give an mteb results folder)")
    # A ResultCache folder or a clone of embeddings-benchmark/results keeps them in results/.
    return src / "results" if (src / "results").is_dir() else src


def _result_files(root: Path) -> list[Path]:
    files = list(root.glob("*/*/*.json")) + list(root.glob("*/*/experiments/*/*.json"))
    return sorted(p for p in files if p.name != "model_meta.json")


def _check_files(src: Path, root: Path) -> list[Path]:
    """Every task file and model_meta.json parses (InputError naming the first bad file)."""
    from mteb.results import TaskResult

    files = _result_files(root)
    if not files:
        raise InputError(f"{src} is not an mteb results folder: no "
                         "<model>/<revision>/<Task>.json files in it")
    metas = sorted({p.parent / "model_meta.json" for p in files
                    if (p.parent / "model_meta.json").exists()})
    for path in [*metas, *files]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column "
                             f"{exc.colno})") from None
        if not isinstance(data, dict):
            raise InputError(f"{path}: expected a JSON object, got {type(data).__name__}")
        if path.name == "model_meta.json":
            missing = [k for k in ("name", "revision") if k not in data]
            if missing:
                raise InputError(f"{path}: missing key(s) {', '.join(missing)}")
            continue
        try:
            TaskResult.from_disk(path)
        except Exception as exc:
            why = " ".join(str(exc).split())[:200]
            raise InputError(f"{path}: not an mteb task result ({why})") from None
    return files


def _load(root: Path):
    """BenchmarkResults of `root` through mteb's ResultCache (which reads ``<cache>/results``)."""
    from mteb.cache import ResultCache

    with tempfile.TemporaryDirectory(prefix="gecko-mteb-import-") as staging:
        (Path(staging) / "results").symlink_to(root.resolve(), target_is_directory=True)
        cache = ResultCache(cache_path=staging)
        return cache.load_results(require_model_meta=False, include_remote=False,
                                  load_experiments="match_name")


_KNOWN: dict[str, tuple[str | None, str | None, str | None] | None] = {}


def _known_task(name: str) -> tuple[str | None, str | None, str | None] | None:
    """(current revision, category, main metric) of a task gecko_bench or mteb knows."""
    if name not in _KNOWN:
        from gecko_bench.eval.resolve import resolve

        try:
            spec = resolve(tasks=[name])[0]
            _KNOWN[name] = (spec.revision, spec.category, spec.task.metadata.main_score)
        except Exception:  # unknown here (e.g. a task from a --tasks-file): history only
            _KNOWN[name] = None
    return _KNOWN[name]


def _main_metric(entry: dict, known: str | None, stored: str | None) -> str:
    """The main metric's name: the task's own, a stored measured one, else the first metric
    equal to main_score in file order (our export writes it first), else ``main_score``."""
    for name in (known, stored):
        if name and name in entry:
            return name
    main = entry.get("main_score")
    for key, value in entry.items():
        if key not in _NOT_METRICS and isinstance(value, (int, float)) and value == main:
            return key
    return known or stored or "main_score"


def _numeric(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and not math.isnan(float(value)))


def import_mteb(src: str | Path, db_path=None) -> dict[str, Any]:
    """Put a folder in mteb's results layout into the store (one transaction; one ``import``
    run per model and protocol, its config recording the source path and mteb version).

    Identity of imported rows: ``model_id`` = the revision when it is one of our weights ids
    (64 hex: our own export), else a hash of ``mteb name@revision``; protocol = what the
    ``model_meta.json`` records (our export's ``loader_kwargs`` / ``experiment_kwargs``), else
    prompt style ``imported``; ``code_version`` is always ``mteb-import``, so imported rows are
    their own leaderboard rows, never merged with measured ones; dim = ``embed_dim`` of the
    experiment or the model (0 if unknown). ``task_revision`` = the file's dataset_revision:
    rows whose revision is the task's current one (registered in the store, or gecko_bench's /
    mteb's task of that name) are current; the others are kept as history only.
    Re-importing the same files adds nothing (see :func:`gecko_bench.store.interchange.write_import`).
    """
    import mteb

    from gecko_bench.provenance import collect
    from gecko_bench.store.interchange import (
        registered_revisions,
        stored_main_metrics,
        write_import,
    )

    src = Path(src)
    root = _results_root(src)
    files = _check_files(src, root)
    try:
        bench = _load(root)
    except Exception as exc:
        raise InputError(f"{src}: mteb could not read it as a results folder "
                         f"({' '.join(str(exc).split())[:200]})") from None
    registered = registered_revisions(db_path)
    stored_main = stored_main_metrics(db_path)
    rows, models, registrations, summary_models = [], {}, {}, []
    current, history = 0, []
    for mr in bench.model_results:
        meta = mr.model_meta
        kwargs = {**(getattr(meta, "loader_kwargs", None) or {}),
                  **(getattr(meta, "experiment_kwargs", None) or {})}
        ours = any(k in kwargs for k in PROTOCOL_COLUMNS)
        protocol = Protocol(kwargs.get("prompt_style") if ours else UNKNOWN_STYLE,
                            kwargs.get("max_seq_length"), kwargs.get("dtype"),
                            IMPORTED_CODE_VERSION)
        embed = kwargs.get("embed_dim", getattr(meta, "embed_dim", None))
        dim = int(max(embed) if isinstance(embed, (list, tuple)) else embed or 0)
        revision = str(mr.model_revision)
        model_id = revision if re.fullmatch(r"[0-9a-f]{64}", revision) else hashlib.sha256(
            f"mteb-results:{mr.model_name}@{revision}".encode()).hexdigest()
        name = str(mr.model_name).removeprefix(NAME_PREFIX)
        n_params = getattr(meta, "n_parameters", None)
        models.setdefault(model_id, {"model_id": model_id, "name": name, "kind": "mteb-import",
                                     "path": None, "n_params": n_params,
                                     "dim": dim or None})
        summary_models.append({"model": name, "revision": revision, "model_id": model_id,
                               "experiment": mr.experiment_name, "dim": dim,
                               "protocol": protocol.label(),
                               "tasks": len(mr.task_results)})
        for tr in mr.task_results:
            task, rev = tr.task_name, str(tr.dataset_revision)
            known = _known_task(task)
            if task in registered:
                now_rev, category = registered[task]
            elif known is not None:
                now_rev, category = known[0], known[1]
            else:
                now_rev, category = None, None
            if now_rev is not None and now_rev == rev:
                current += 1
                if task not in registered:
                    registrations[task] = (IMPORT_SUITE, task, category, rev)
            else:
                history.append(task)
            content = hashlib.sha256(tr.model_dump_json().encode()).hexdigest()
            identity = dict(protocol.as_dict(), task_revision=rev)
            key = hashlib.sha256(json.dumps(
                {"import": content, "model_id": model_id, "task": task, "dim": dim,
                 **identity}, sort_keys=True, default=str).encode()).hexdigest()[:24]
            subsets = {e.get("hf_subset", "default") for es in tr.scores.values() for e in es}
            for split, entries in tr.scores.items():
                for entry in entries:
                    main = _main_metric(entry, known[2] if known else None,
                                        stored_main.get(task))
                    values = {m: float(v) for m, v in entry.items()
                              if m not in _NOT_METRICS and _numeric(v)}
                    if main not in values and _numeric(entry.get("main_score")):
                        values[main] = float(entry["main_score"])
                    base = dict(model_id=model_id, suite=IMPORT_SUITE, task=task,
                                category=category, subset=str(entry.get("hf_subset", "default")),
                                languages=",".join(entry.get("languages") or []),
                                multilingual=len(subsets) > 1, split=str(split), dim=dim,
                                eval_key=key, **identity)
                    rows += [dict(base, metric=m, value=v, is_main=m == main)
                             for m, v in values.items()]
    config = {"source": str(src.resolve()), "mteb_version": mteb.__version__,
              "files": len(files), "models": summary_models,
              "file_mteb_versions": sorted({str(tr.mteb_version) for mr in bench.model_results
                                            for tr in mr.task_results})}
    frame = pd.DataFrame(rows)
    run_ids, written = write_import(frame, list(models.values()),
                                    list(registrations.values()), config, collect("cpu"),
                                    db_path) if len(frame) else ([], 0)
    return {"source": str(src), "run_ids": run_ids, "rows": written, "files": len(files),
            "models": summary_models, "current": current, "history": len(history),
            "history_tasks": sorted(set(history)), "registered": sorted(registrations)}
