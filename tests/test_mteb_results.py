"""mteb results out and in (issue 17 item 3): `export --format mteb` read back by mteb's own
ResultCache, `import` into a store as imported rows of their own, Parquet export.

One module-scoped store: MiniLM on the three small real-data tasks of eval_tasks, at dims
384 and 128, under two prompt styles (so one model has two protocols and an MRL dim)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import eval_tasks as data
from test_bad_input import cli, one_error, rows

from gecko_bench.compare import leaderboard
from gecko_bench.errors import InputError
from gecko_bench.api import evaluate
from gecko_bench.config import EvalConfig
from gecko_bench.mteb_results import export_mteb, export_parquet, import_mteb
from gecko_bench.store import get_run
from gecko_bench.store.scores import (
    ITEM_COLUMNS,
    SCORE_COLUMNS,
    current_scores,
    register_suite,
    scores_frame,
    suite_tasks_frame,
)

pytestmark = pytest.mark.assets  # needs fetched models or data

TASKS = {"EvalTestFaqRetrieval", "EvalTestLeeSTS", "EvalTestPolarity"}


@pytest.fixture(scope="module")
def work(tmp_path_factory, eval_cache):
    root = tmp_path_factory.mktemp("mteb-results")
    db = root / "r.duckdb"
    for style in ("gecko", "none"):
        evaluate("minilm-l6", config=EvalConfig(dims=[384, 128], prompt_style=style), db=db,
                 tasks_file=Path(data.__file__), cache_dir=eval_cache, progress=False)
    out = root / "cache" / "results"  # ResultCache(root / "cache") reads <cache>/results
    summary = export_mteb(out, db)
    return {"root": root, "db": db, "out": out, "summary": summary,
            "current": current_scores(db, main_only=True)}


def _store_main(current: pd.DataFrame, style: str, dim: int) -> dict[str, float]:
    rows = current[(current.prompt_style == style) & (current.dim == dim)]
    return rows.groupby("task")["value"].mean().to_dict()


def _fresh(root: Path, name: str, register_from: Path | None = None) -> Path:
    db = root / f"{name}.duckdb"
    if register_from is not None:  # a store that knows these tasks at their current revision
        known = suite_tasks_frame(register_from)
        register_suite("file:eval_tasks", list(zip(known.task, known.category,
                                                      known.revision)), db_path=db)
    return db


def test_export_layout_and_model_meta(work):
    from mteb.models.model_meta import ModelMeta

    model_id = work["current"].model_id.iloc[0]
    top = work["out"] / "gecko-bench__minilm-l6" / model_id
    assert sorted(p.name for p in top.glob("*.json")) == sorted(
        [f"{t}.json" for t in TASKS] + ["model_meta.json"])
    experiments = sorted(p.name for p in (top / "experiments").iterdir())
    assert len(experiments) == 3, experiments  # other style at 384, both styles at 128
    assert all("embed_dim_" in e and "prompt_style_" in e for e in experiments)
    meta = ModelMeta.model_validate_json_resolved((top / "model_meta.json").read_text())
    assert meta.name == "gecko-bench/minilm-l6" and meta.revision == model_id
    assert meta.embed_dim == 384 and meta.n_parameters and meta.experiment_kwargs is None
    assert meta.loader_kwargs["code_version"] and meta.loader_kwargs["prompt_style"] in (
        "gecko", "none")
    task = json.loads((top / "EvalTestLeeSTS.json").read_text())
    revision = current_scores(work["db"], tasks=["EvalTestLeeSTS"]).task_revision.iloc[0]
    assert task["dataset_revision"] == revision and task["evaluation_time"] > 0
    entry = task["scores"]["test"][0]
    assert entry["hf_subset"] == "default" and entry["languages"] == ["eng-Latn"]
    assert next(iter(entry)) == "cosine_spearman"  # main metric first
    assert {"cosine_pearson", "spearman", "main_score"} <= set(entry)


def test_mteb_result_cache_reads_back_the_store_scores(work):
    from mteb.cache import ResultCache

    cache = ResultCache(cache_path=work["out"].parent)
    plain = cache.load_results(include_remote=False)
    assert len(plain.model_results) == 1  # experiments are opt-in in mteb
    primary = plain.model_results[0]
    meta = json.loads((work["out"] / "gecko-bench__minilm-l6" / primary.model_revision
                       / "model_meta.json").read_text())
    style = meta["loader_kwargs"]["prompt_style"]
    expected = _store_main(work["current"], style, 384)
    got = {tr.task_name: tr.get_score() for tr in primary.task_results}
    assert set(got) == TASKS
    for task, value in expected.items():
        assert got[task] == pytest.approx(value, abs=1e-6), task

    every = cache.load_results(include_remote=False, load_experiments="match_name")
    assert len(every.model_results) == 4
    seen = set()
    for mr in every.model_results:
        kwargs = mr.model_meta.experiment_kwargs or dict(mr.model_meta.loader_kwargs,
                                                         embed_dim=384)
        key = (kwargs["prompt_style"], kwargs["embed_dim"])
        seen.add(key)
        expected = _store_main(work["current"], *key)
        for tr in mr.task_results:
            assert tr.get_score() == pytest.approx(expected[tr.task_name], abs=1e-6), key
    assert seen == {("gecko", 384), ("gecko", 128), ("none", 384), ("none", 128)}


def _board(db, dim):
    complete, incomplete = leaderboard(db, dim=dim)
    return pd.concat([complete, incomplete])


def test_import_round_trip_same_leaderboard_marked_imported(work):
    db = _fresh(work["root"], "fresh", register_from=work["db"])
    done = import_mteb(work["out"], db)
    assert done["files"] == 12 and done["current"] == 12 and done["history"] == 0
    assert len(done["run_ids"]) == 2  # one per protocol
    for run_id in done["run_ids"]:
        run = get_run(run_id, db)
        assert run["kind"] == "import" and run["status"] == "finished"
        config = json.loads(run["config"])
        assert config["source"] == str(work["out"].resolve()) and config["mteb_version"]
        assert config["code_version"] == "mteb-import"
    imported = current_scores(db)
    assert set(imported.code_version) == {"mteb-import"}
    assert set(imported.model_id) == set(work["current"].model_id)  # same weights id
    for dim in (384, 128):
        ours, theirs = _board(work["db"], dim), _board(db, dim)
        assert len(ours) == len(theirs) == 2
        for style in ("gecko", "none"):
            a = ours[ours.prompt_style == style].iloc[0]
            b = theirs[theirs.prompt_style == style].iloc[0]
            assert b.model == "minilm-l6" and b.code_version == "mteb-import"
            for col in ("mean", "Retrieval", "STS", "Classification"):
                assert b[col] == pytest.approx(a[col], abs=1e-4), (dim, style, col)


def test_imported_rows_stand_beside_measured_ones_and_reimport_adds_nothing(work, tmp_path):
    db = tmp_path / "both.duckdb"
    shutil.copy(work["db"], db)
    before = len(scores_frame(db))
    first = import_mteb(work["out"], db)
    assert first["rows"] > 0
    board = _board(db, 384)
    assert len(board) == 4  # two measured + two imported protocols, never merged
    assert sorted(board.code_version.astype(str)) == sorted(
        ["mteb-import", "mteb-import"] + [str(work["current"].code_version.iloc[0])] * 2)
    after = len(scores_frame(db))
    again = import_mteb(work["out"], db)
    assert again["run_ids"] == [] and again["rows"] == 0
    assert len(scores_frame(db)) == after == before + first["rows"]


def test_import_of_unknown_revision_is_history_only(work, tmp_path):
    done = import_mteb(work["out"], tmp_path / "unregistered.duckdb")
    assert done["current"] == 0 and done["history"] == 12
    assert set(done["history_tasks"]) == TASKS
    assert done["rows"] > 0 and current_scores(tmp_path / "unregistered.duckdb").empty
    stale = tmp_path / "stale" / "results"
    shutil.copytree(work["out"], stale)
    for file in stale.rglob("EvalTestLeeSTS.json"):
        body = json.loads(file.read_text())
        file.write_text(json.dumps(dict(body, dataset_revision="an-older-revision")))
    db = _fresh(tmp_path, "stale", register_from=work["db"])
    done = import_mteb(stale.parent, db)  # a ResultCache folder (holding results/) works too
    assert done["current"] == 8 and done["history_tasks"] == ["EvalTestLeeSTS"]
    assert set(current_scores(db).task) == TASKS - {"EvalTestLeeSTS"}


def test_bad_import_folders_exit_2_naming_the_file_and_write_nothing(work, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(work["out"], bad)
    victim = sorted(bad.rglob("EvalTestPolarity.json"))[0]
    victim.write_text(victim.read_text()[:-40])
    db = tmp_path / "bad.duckdb"
    line = one_error(cli("import", str(bad), "--db", str(db), db=db, cwd=tmp_path))
    assert str(victim) in line and "not valid JSON" in line
    assert rows(db, "scores") == 0 and rows(db, "runs") == 0
    with pytest.raises(InputError, match="no such folder"):
        import_mteb(tmp_path / "missing", db)
    (tmp_path / "notmteb" / "x").mkdir(parents=True)
    (tmp_path / "notmteb" / "x" / "readme.txt").write_text("hello")
    with pytest.raises(InputError, match="is not an mteb results folder"):
        import_mteb(tmp_path / "notmteb", db)
    victim.write_text(json.dumps({"task_name": "EvalTestPolarity", "scores": {}}))
    with pytest.raises(InputError, match=r"EvalTestPolarity.json: not an mteb task result"):
        import_mteb(bad, db)
    assert rows(db, "scores") == 0


def test_parquet_export_equals_store_rows(work, tmp_path):
    db = work["db"]
    done = export_parquet(tmp_path / "pq", db)
    got = pd.read_parquet(tmp_path / "pq" / "scores.parquet")
    want = current_scores(db)[SCORE_COLUMNS]
    key = ["run_id", "task", "subset", "split", "dim", "metric"]
    assert list(got.columns) == SCORE_COLUMNS and done["counts"]["scores.parquet"] == len(want)
    pd.testing.assert_frame_equal(
        got.sort_values(key).reset_index(drop=True)[["model_id", *key, "value", "prompt_style"]],
        want.sort_values(key).reset_index(drop=True)[["model_id", *key, "value",
                                                       "prompt_style"]],
        check_dtype=False)
    items = pd.read_parquet(tmp_path / "pq" / "item_scores.parquet")
    assert list(items.columns) == ITEM_COLUMNS and len(items) > 0
    assert set(items.run_id) == set(want.run_id)
    history = export_parquet(tmp_path / "pq-all", db, history=True)
    assert history["counts"]["scores.parquet"] == len(scores_frame(db))
