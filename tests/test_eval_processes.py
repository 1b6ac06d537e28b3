"""Real processes against one DuckDB file: two writers at once both land; a killed eval leaves
whole tasks only and a rerun resumes from them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gecko_bench.api import evaluate
from gecko_bench.config import EvalConfig
from gecko_bench.store import connect
from gecko_bench.store.scores import item_scores_frame, scores_frame

pytestmark = pytest.mark.assets  # needs fetched models or data

TESTS = Path(__file__).parent


def _task_file(folder: Path, name: str, *classes: tuple[str, str], extra: str = "pass") -> Path:
    """A tasks file with subclasses of eval_tasks tasks (alphabetical = run order)."""
    body = "".join(f"\n\nclass {alias}({base}):\n    {extra}\n" for alias, base in classes)
    path = folder / f"{name}.py"
    path.write_text(f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n"
                    f"from eval_tasks import {', '.join(b for _, b in classes)}\n{body}")
    return path


def _spawn(tasks_file: Path, db: Path, cache: Path) -> subprocess.Popen:
    code = ("from gecko_bench.api import evaluate; from gecko_bench.config import EvalConfig; "
            f"evaluate('minilm-l6', tasks_file={str(tasks_file)!r}, "
            f"config=EvalConfig(dims=[384, 64]), db={str(db)!r}, cache_dir={str(cache)!r}, "
            "progress=False)")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _tasks_in(db: Path) -> set[str]:
    if not db.exists():
        return set()
    with connect(db, read_only=True, timeout_s=5) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables")
                  .fetchall()}
        if "scores" not in tables:
            return set()
        return {r[0] for r in con.execute("SELECT DISTINCT task FROM scores").fetchall()}


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory, eval_cache):
    """The shared cache, filled for the STS and classification tasks (in-process)."""
    root = tmp_path_factory.mktemp("proc")
    both = _task_file(root, "warm", ("A", "LeeSTS"), ("B", "PolarityClassification"))
    evaluate("minilm-l6", config=EvalConfig(dims=[384, 64]), db=root / "warm.duckdb",
             tasks_file=both, cache_dir=eval_cache, progress=False)
    return eval_cache


@pytest.mark.slow
def test_two_processes_write_at_once(warm_cache, tmp_path):
    db = tmp_path / "shared.duckdb"
    a = _spawn(_task_file(tmp_path, "a", ("Lee", "LeeSTS")), db, warm_cache)
    b = _spawn(_task_file(tmp_path, "b", ("Pol", "PolarityClassification")), db,
               warm_cache)
    out_a, out_b = a.communicate(timeout=600), b.communicate(timeout=600)
    assert a.returncode == 0, out_a[0][-2000:]
    assert b.returncode == 0, out_b[0][-2000:]
    s = scores_frame(db)
    assert set(s.task) == {"EvalTestLeeSTS", "EvalTestPolarity"}
    assert set(s.run_status) == {"finished"} and s.run_id.nunique() == 2
    assert set(s.dim) == {384, 64}


@pytest.mark.slow
def test_killed_run_leaves_whole_tasks_and_resumes(tmp_path):
    """First task (small) lands; the second (retrieval, 96 texts) is killed mid-way.

    A cache of its own keeps the retrieval task cold whatever ran before."""
    db, cache = tmp_path / "killed.duckdb", tmp_path / "emb"
    tasks_file = _task_file(tmp_path, "two", ("A", "LeeSTS"), ("B", "FaqRetrieval"),
                            extra="n_pairs = 48")
    proc = _spawn(tasks_file, db, cache)
    deadline = time.monotonic() + 300
    while not _tasks_in(db) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _tasks_in(db) == {"EvalTestLeeSTS"}, "the retrieval task must not have landed"
    first = scores_frame(db)
    assert set(first.dim) == {384, 64} and set(first.run_status) == {"running"}
    model_id = first.model_id.iloc[0]
    assert len(item_scores_frame(db, model_id, task="EvalTestLeeSTS")) == 45 * 2 * 2

    run_id = evaluate("minilm-l6", config=EvalConfig(dims=[384, 64]), db=db,
                      tasks_file=tasks_file, cache_dir=cache, progress=False).run_id
    s = scores_frame(db)
    assert set(s.task) == {"EvalTestLeeSTS", "EvalTestFaqRetrieval"}
    assert set(s[s.task == "EvalTestLeeSTS"].run_id) == set(first.run_id)  # not re-scored
    assert set(s[s.task == "EvalTestFaqRetrieval"].run_id) == {run_id}
    with connect(db, read_only=True) as con:
        config = json.loads(con.execute("SELECT config FROM runs WHERE run_id = ?",
                                        [run_id]).fetchone()[0])
    assert config["skipped"] == ["EvalTestLeeSTS"]
