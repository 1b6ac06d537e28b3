"""Machine-readable output and the Python API (issue 17, items 4 and 6): ``--format json`` of
``eval`` and ``leaderboard``, ``--version``, the exit codes in ``--help``, and
:mod:`gecko_bench.api` giving the same numbers as the command line.

One module-scoped store: MiniLM through the real CLI (a subprocess, stdout piped) on the tiny
suite's LeeSTS-tiny plus a ten-document Lee STS task from a tasks file, at two dims; then MiniLM
again through the API under another prompt style on LeeSTS-tiny only, which leaves that row
incomplete on the leaderboard. The job report's JSON is checked in tests/test_pipeline.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner


import gecko_bench
from gecko_bench.api import RESULT_COLUMNS, SCHEMA, EvalResult
from gecko_bench.cli import app
from gecko_bench.compare import leaderboard as compare_leaderboard
from gecko_bench.config import EvalConfig
from gecko_bench.store.scores import Protocol, run_selection, scores_frame

HERE = Path(__file__).parent
CLI_STYLE, OTHER_STYLE = "gecko", "none"  # explicit: two identities whatever the default


def cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """``python -m gecko_bench ARGS`` as a user runs it, stdout and stderr apart."""
    env = dict(os.environ, COLUMNS="100")
    return subprocess.run([sys.executable, "-m", "gecko_bench", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def invoke(*args: str):
    """The CLI in this process (stdout and stderr apart)."""
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("machine-output")
    db = root / "r.duckdb"
    lee = root / "lee_only.py"
    lee.write_text(f"import sys\nsys.path.insert(0, {str(HERE)!r})\n"
                   "from eval_tasks import LeeSTS\n\n\nclass Lee(LeeSTS):\n    pass\n")
    proc = cli("eval", "--model", "minilm-l6", "--tasks", "LeeSTS-tiny", "--tasks-file",
               str(lee), "--dims", "384,128", "--prompt-style", CLI_STYLE, "--db", str(db),
               "--format", "json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)  # the whole of stdout is the document
    other = gecko_bench.evaluate("minilm-l6", ["LeeSTS-tiny"], db=db,
                                 config=EvalConfig(dims=[], prompt_style=OTHER_STYLE),
                                 progress=False)
    return {"db": db, "lee": lee, "doc": doc, "stderr": proc.stderr, "other": other}


def _key(row) -> tuple:
    return (row["task"], row["subset"], row["split"], int(row["dim"]))


@pytest.mark.assets
def test_eval_json_is_the_stores_scores_and_identity(store):
    doc, db = store["doc"], store["db"]
    assert doc["schema"] == SCHEMA == 1 and doc["kind"] == "eval"
    assert "LeeSTS-tiny" in store["stderr"]  # progress went to stderr, not into the document
    model_id, protocol = run_selection(db, doc["run_id"])
    assert doc["model"] == {"name": "minilm-l6", "model_id": model_id}
    assert doc["protocol"] == protocol.as_dict() and doc["protocol"]["code_version"]
    assert doc["protocol"]["prompt_style"] == CLI_STYLE
    assert doc["skipped"] == []
    stored = scores_frame(db, main_only=True, run_id=doc["run_id"])
    assert len(stored) == len(doc["scores"]) == 4  # 2 tasks x 2 dims, one subset/split each
    want = {_key(r): (r["metric"], r["value"]) for r in stored.to_dict("records")}
    got = {_key(r): (r["metric"], r["value"]) for r in doc["scores"]}
    assert got == want
    assert {(t, d) for t, _, _, d in got} == {(t, d) for t in ("LeeSTS-tiny", "EvalTestLeeSTS")
                                              for d in (384, 128)}
    assert all(r["new"] and r["run_id"] == doc["run_id"] for r in doc["scores"])


@pytest.mark.assets
def test_eval_json_when_nothing_is_new_still_reports_the_scores(store):
    doc = store["doc"]
    again = invoke("eval", "--model", "minilm-l6", "--tasks", "LeeSTS-tiny", "--tasks-file",
                   str(store["lee"]), "--dims", "384,128", "--prompt-style", CLI_STYLE,
                   "--db", str(store["db"]), "--format", "json")
    second = json.loads(again.stdout)
    assert second["run_id"] != doc["run_id"]
    assert sorted(second["skipped"]) == ["EvalTestLeeSTS", "LeeSTS-tiny"]
    assert second["protocol"] == doc["protocol"] and second["model"] == doc["model"]
    assert not any(r["new"] for r in second["scores"])
    assert ({_key(r): r["value"] for r in second["scores"]}
            == {_key(r): r["value"] for r in doc["scores"]})
    assert all(r["run_id"] == doc["run_id"] for r in second["scores"])


@pytest.mark.assets
def test_api_evaluate_returns_an_eval_result_with_the_clis_numbers(store):
    doc, other = store["doc"], store["other"]
    assert isinstance(other, EvalResult) and isinstance(other.scores, pd.DataFrame)
    assert list(other.scores.columns) == RESULT_COLUMNS
    assert isinstance(other.protocol, Protocol) and other.protocol.prompt_style == OTHER_STYLE
    assert other.model == "minilm-l6" and other.model_id == doc["model"]["model_id"]
    assert list(other.scores.task) == ["LeeSTS-tiny"] and other.scores["new"].all()
    assert other.scores["dim"].tolist() == [384]  # no dims in the config: the full dim
    # the CLI's own measurement, asked again through the API: same identity, same numbers
    same = gecko_bench.evaluate("minilm-l6", ["LeeSTS-tiny"], db=store["db"], progress=False,
                                tasks_file=store["lee"],
                                config=EvalConfig(dims=[384, 128],
                                                  prompt_style=doc["protocol"]["prompt_style"]))
    assert same.protocol.as_dict() == doc["protocol"] and same.new_scores.empty
    assert ({_key(r): r["value"] for r in same.scores.to_dict("records")}
            == {_key(r): r["value"] for r in doc["scores"]})
    assert same.to_dict()["scores"] == json.loads(json.dumps(same.to_dict()))["scores"]
    # scores(): the store's current rows of one model, narrowed by protocol
    mine = gecko_bench.scores(store["db"], model="minilm-l6", prompt_style=OTHER_STYLE)
    assert mine["value"].tolist() == other.scores["value"].tolist()
    both = gecko_bench.scores(store["db"], model=doc["model"]["model_id"][:12])
    assert set(both.prompt_style) == {OTHER_STYLE, doc["protocol"]["prompt_style"]}


@pytest.mark.assets
def test_leaderboard_json_and_api_equal_compare_leaderboard(store):
    db = store["db"]
    complete, incomplete = compare_leaderboard(db)
    api_complete, api_incomplete = gecko_bench.leaderboard(db)
    pd.testing.assert_frame_equal(api_complete, complete)
    pd.testing.assert_frame_equal(api_incomplete, incomplete)
    assert len(complete) == 1 and len(incomplete) == 1  # the "none" row lacks the file task

    doc = json.loads(invoke("leaderboard", "--db", str(db), "--format", "json").stdout)
    assert doc["schema"] == SCHEMA and doc["kind"] == "leaderboard"
    assert doc["categories"] == ["STS"]
    rows = doc["rows"]
    assert [r["complete"] for r in rows] == [True, False]
    for row, (_, want) in zip(rows, [*complete.iterrows(), *incomplete.iterrows()]):
        assert row["model"] == want["model"] and row["model_id"] == want["model_id"]
        assert row["protocol"] == Protocol.of(want).as_dict()
        assert row["dim"] == want["dim"] and row["n_tasks"] == want["n_tasks"]
        assert row["mean"] == pytest.approx(want["mean"])
        assert row["categories"]["STS"] == pytest.approx(want["STS"])
    assert rows[0]["rank"] == 1 and rows[0]["missing"] == []
    assert rows[1]["rank"] is None and rows[1]["missing"] == ["EvalTestLeeSTS"]
    assert rows[1]["protocol"]["prompt_style"] == OTHER_STYLE
    # the leaderboard's 0-100 score is the eval document's 0-1 value x100
    lee_384 = [r["value"] for r in store["doc"]["scores"] if r["dim"] == 384]
    assert rows[0]["mean"] == pytest.approx(100 * sum(lee_384) / len(lee_384))

    piped = cli("leaderboard", "--db", str(db), "--format", "json")  # a real pipe
    assert piped.returncode == 0 and json.loads(piped.stdout) == doc

    table = invoke("leaderboard", "--db", str(db)).stdout  # report.frame_table, as the job's
    first = next(line for line in table.splitlines() if "minilm-l6" in line)  # complete: first
    assert f"{rows[0]['mean']:.2f}" in first.split() and "nan" not in table
    assert "incomplete: not averaged or ranked" in table


def test_version_prints_the_package_version():
    out = invoke("--version").stdout.strip()
    assert out.startswith(f"gecko-bench {metadata.version('gecko-bench')}")
    assert len(out.splitlines()) == 1


def test_help_lists_the_exit_codes():
    text = " ".join(invoke("--help").stdout.split())
    for code in ("0 ok", "1 regress found a regression", "2 bad input",
                 "3 regress is incomplete"):
        assert code in text, text


def test_a_bad_format_exits_2_with_one_line(tmp_path):
    for args in (["leaderboard", "--format", "yaml"], ["eval", "--model", "minilm-l6",
                                                        "--format", "xml"],
                 ["run", "--format", "jsonl"]):
        proc = cli(*args, "--db", str(tmp_path / "never.duckdb"), timeout=120)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr
        assert lines[0].startswith("error: --format must be") and "json" in lines[0]
        assert proc.stdout == ""
    assert not (tmp_path / "never.duckdb").exists()


def test_importing_gecko_bench_stays_cheap():
    code = ("import sys, gecko_bench; heavy = [m for m in ('torch', 'pandas', 'duckdb', "
            "'gecko_bench.api') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_frame_table_blanks_missing_values_and_right_aligns_numbers():
    """The one DataFrame -> terminal table renderer (job report, leaderboard, eval, lists)."""
    import io

    from rich.console import Console

    from gecko_bench.report import frame_table

    frame = pd.DataFrame({"model": ["a", "bb"], "dim": [384, 64], "STS": [50.126, float("nan")],
                          "note": [None, "x"]})
    console = Console(file=io.StringIO(), width=100)
    console.print(frame_table(frame, "t"))
    lines = [line.rstrip() for line in console.file.getvalue().splitlines()]
    row_a = next(line for line in lines if line.lstrip().startswith("a "))
    row_b = next(line for line in lines if line.lstrip().startswith("bb "))
    header = next(line for line in lines if "model" in line)
    assert row_a.split() == ["a", "384", "50.13"] and row_b.split() == ["bb", "64", "x"]
    assert row_a.index("384") + 3 == row_b.index("64") + 2 == header.index("dim") + 3


@pytest.mark.assets
def test_eval_table_names_the_database_it_wrote(tmp_path):
    """With the store set by $GECKO_BENCH_DB, the table's last line says which file holds the
    rows (it once said "the default results database")."""
    db = tmp_path / "env.duckdb"
    out = subprocess.run([sys.executable, "-m", "gecko_bench", "eval", "--model", "bm25",
                          "--tasks", "DebianFAQRetrieval-tiny"],
                         env=dict(os.environ, COLUMNS="400", GECKO_BENCH_DB=str(db)),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"stored in {db} (run eval-" in out.stdout and db.exists()
