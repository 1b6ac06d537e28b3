"""Data-parallel fine-tuning through torchrun on 2 CPU processes (gloo), on real text.

The same global batch on 2 processes (4 examples each, embeddings gathered into the loss)
gives the loss of 1 process on all 8; the run lands once (rank 0 writes the store and the
checkpoint); a killed 2-process run resumes from its last checkpoint.

MiniLM with its dropout set to 0 (a copy of the packaged model, config edited) so both runs
compute the same function: with dropout, each process draws its own masks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gecko_bench.store import training as store
from train_helpers import fret_rows, write_jsonl

pytestmark = [pytest.mark.assets, pytest.mark.slow]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    from gecko_bench.assets.loaders import resolve_st_path

    root = tmp_path_factory.mktemp("ddp")
    model = root / "minilm-no-dropout"
    shutil.copytree(resolve_st_path("minilm-l6"), model)
    config = json.loads((model / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (model / "config.json").write_text(json.dumps(config))
    return root, model, write_jsonl(fret_rows(n_books=12, n_wiki=12), root / "fret.jsonl")


def _args(work, out: Path, db: Path, steps: int) -> list[str]:
    _, model, fret = work
    return ["-m", "gecko_bench", "train", "finetune", "--init", str(model), "--fret", str(fret),
            "--out", str(out), "--db", str(db), "--steps", str(steps), "--batch-size", "8",
            "--save-steps", "1", "--max-seq-length", "32", "--classification-per-task", "0",
            "--mrl-dims", "384,64", "--dtype", "float32"]  # bf16 kernels may split rows apart


def _torchrun(args: list[str]) -> list[str]:
    return [str(BIN / "torchrun"), "--standalone", "--nproc_per_node", "2", *args]


def _run(cmd: list[str], log: Path) -> None:
    with log.open("w") as fh:
        done = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=ENV, timeout=600)
    assert done.returncode == 0, log.read_text()[-3000:]


def _curve(db: Path, out: Path) -> list[tuple[int, float]]:
    model_id = json.loads((out / "manifest.json").read_text())["model_id"]
    curve = store.loss_curve(model_id, db)
    return list(zip(curve.step, curve.loss))


def test_two_processes_compute_the_one_process_loss_and_land_once(work):
    root = work[0]
    one, two = root / "one", root / "two"
    _run([sys.executable, *_args(work, one, root / "one.duckdb", 2)], root / "one.log")
    _run(_torchrun(_args(work, two, root / "two.duckdb", 2)), root / "two.log")

    single, ddp = _curve(root / "one.duckdb", one), _curve(root / "two.duckdb", two)
    assert [s for s, _ in ddp] == [s for s, _ in single] == [1, 2]
    # step 1: the same weights on the same 8 examples; step 2: after the same averaged update
    assert [loss for _, loss in ddp] == pytest.approx([loss for _, loss in single], rel=1e-4)

    m = json.loads((two / "manifest.json").read_text())
    assert m["ddp"] == {"world_size": 2, "gather_across_devices": True}
    assert m["batch_size"] == 8 and m["steps"] == 2
    assert json.loads((one / "manifest.json").read_text())["ddp"] is None
    runs = store.training_runs(root / "two.duckdb")
    assert len(runs) == 1 and runs.status.tolist() == ["finished"]
    assert runs.model_id.tolist() == [m["model_id"]]
    assert not (two / "_trainer").exists() and not (two / "train_state.json").exists()
    log = (root / "two.log").read_text()
    assert log.count("finetune checkpoint") == 1  # only rank 0 reports


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL torchrun's workers and torchrun: the workers run in sessions of their own, so
    killing torchrun alone leaves them training."""
    import psutil

    if proc.poll() is None:
        parent = psutil.Process(proc.pid)
        tree = [*parent.children(recursive=True), parent]
        for p in tree:
            p.kill()
        psutil.wait_procs(tree, timeout=30)
    proc.wait()


def test_killed_two_process_run_resumes_from_its_checkpoint(work):
    root = work[0]
    out, db, log = root / "killed", root / "killed.duckdb", root / "killed.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(_torchrun(_args(work, out, db, 3)), stdout=fh,
                                stderr=subprocess.STDOUT, env=ENV, start_new_session=True)
    deadline = time.monotonic() + 300
    try:
        while not list((out / "_trainer").glob("checkpoint-*/trainer_state.json")):
            assert proc.poll() is None, f"training exited early:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "no checkpoint within 300 s"
            time.sleep(0.2)
    finally:
        _kill_tree(proc)
    assert not (out / "manifest.json").exists()

    _run(_torchrun(_args(work, out, db, 3)), root / "resumed.log")
    m = json.loads((out / "manifest.json").read_text())
    assert 1 <= m["resumed_from_step"] < 3 and m["steps"] == 3
    assert [s for s, _ in _curve(db, out)] == [1, 2, 3]
    attempts = store.training_runs(db)
    assert sorted(attempts.status) == ["finished", "running"]  # SIGKILL leaves 'running'
