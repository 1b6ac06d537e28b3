"""Pre-finetune -> fine-tune on real text: checkpoints load, lineage is stored, reruns reuse,
a killed run resumes, bad inputs fail with one clear message."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import trainers
from gecko_bench.assets import AssetError
from gecko_bench.config import resolve
from gecko_bench.errors import InputError
from gecko_bench.store import connect
from gecko_bench.store import training as store
from train_helpers import fret_rows, tiny_cfg, write_jsonl
from trainers.core import RunSpec, _explain


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    fret = write_jsonl(fret_rows(n_books=12, n_wiki=12), root / "fret.jsonl")
    return root, fret, root / "t.duckdb"


@pytest.fixture(scope="module")
def chain(work):
    """A real pre-finetune (2 steps) then fine-tune (3 steps, MRL) of minilm-l6."""
    root, fret, db = work
    cfg = tiny_cfg()
    pft = trainers.prefinetune(cfg, root / "pft", db_path=db)
    ft = trainers.finetune(cfg, fret, str(pft), root / "ft", db_path=db,
                           fret_dataset_id="fret-test", experiment="e", variant="v",
                           mrl=True)
    return cfg, pft, ft


@pytest.mark.assets
@pytest.mark.slow
def test_checkpoint_loads_and_embeds_at_every_mrl_dim(chain):
    from sentence_transformers import SentenceTransformer

    cfg, _, ft = chain
    model = SentenceTransformer(str(ft), device="cpu")
    full = model.encode(["Mr. Darcy walked in."], normalize_embeddings=True)
    assert full.shape == (1, 384)
    # trained at cfg.max_seq_length (32) but saved with MiniLM's own input length
    assert cfg.max_seq_length == 32 and model.max_seq_length == 256
    for dim in cfg.mrl_dims:
        small = SentenceTransformer(str(ft), device="cpu", truncate_dim=dim)
        assert small.encode(["Mr. Darcy walked in."]).shape == (1, dim)
    m = json.loads((ft / "manifest.json").read_text())
    assert m["mrl_dims"] == [384, 256, 128, 64] and m["steps"] == 3
    assert m["mixture"]["drawn"] == {"continuation": 9, "heading": 9} or \
        sum(m["mixture"]["drawn"].values()) == 18
    assert m["final_loss"] is not None and m["git_sha"]
    assert not (ft / "_trainer").exists() and not (ft / "train_state.json").exists()


@pytest.mark.assets
@pytest.mark.slow
def test_lineage_rows_and_loss_curve_in_store(chain, work):
    from gecko_bench.provenance import checkpoint_id

    _, pft, ft = chain
    db = work[2]
    pm = json.loads((pft / "manifest.json").read_text())
    fm = json.loads((ft / "manifest.json").read_text())
    assert fm["model_id"] == checkpoint_id(ft)
    with connect(db, read_only=True) as con:
        rows = {r[0]: r for r in con.execute(
            "SELECT model_id, name, base_model_id, parent_model_id, train_run_id, "
            "fret_dataset_id, dim FROM models").fetchall()}
    base = pm["base_model_id"]
    assert rows[pm["model_id"]][2:4] == (base, base)                  # prefinetune <- base
    assert rows[fm["model_id"]][2:4] == (base, pm["model_id"])        # finetune <- prefinetune
    assert rows[fm["model_id"]][5] == "fret-test" and rows[fm["model_id"]][6] == 384
    assert base in rows and rows[base][1] == "minilm-l6"
    runs = store.training_runs(db)
    ft_run = runs[runs.model_id == fm["model_id"]].iloc[0]
    assert ft_run.status == "finished" and ft_run.steps_done == 3
    assert ft_run.experiment == "e" and ft_run.variant == "v"
    curve = store.loss_curve(fm["model_id"], db)
    assert list(curve.step) == [1, 2, 3] and curve.loss.notna().all()


@pytest.mark.assets
@pytest.mark.slow
def test_evaluating_a_checkpoint_keeps_its_trained_name(chain, work, tmp_path):
    """Two jobs' students both live in folders named ``finetune``; the leaderboard told them
    apart by nothing once eval renamed each model row after its folder."""
    import shutil

    from gecko_bench.config import EvalConfig
    from gecko_bench.eval.runner import evaluate
    from gecko_bench.store.scores import scores_frame

    _, _, ft = chain
    db = tmp_path / "e.duckdb"
    shutil.copy(work[2], db)  # the store that trained it
    trained = json.loads((ft / "manifest.json").read_text())["name"]
    assert ft.name == "ft" and trained.startswith("minilm-l6-finetune-v-")
    evaluate(str(ft), ["LeeSTS-tiny"], config=EvalConfig(dims=[384], prompt_style="none"), db=db)
    assert set(scores_frame(db, main_only=True).model_name) == {trained}


@pytest.mark.assets
@pytest.mark.slow
def test_rerun_reuses_and_changed_config_is_refused(chain, work):
    cfg, pft, ft = chain
    root, fret, db = work
    n_runs = len(store.training_runs(db))
    t0 = time.perf_counter()
    again = trainers.finetune(cfg, fret, str(pft), root / "ft", db_path=db,
                              fret_dataset_id="fret-test", experiment="e", variant="v")
    assert again == ft and time.perf_counter() - t0 < 30
    assert len(store.training_runs(db)) == n_runs
    other = tiny_cfg(temperature=0.1)
    with pytest.raises(InputError, match=r"different config \(config.temperature: 0.05 -> 0.1"):
        trainers.finetune(other, fret, str(pft), root / "ft", db_path=db,
                          fret_dataset_id="fret-test")


def _cli_args(fret: Path, out: Path, db: Path) -> list[str]:
    return ["train", "finetune", "--init", "minilm-l6", "--fret", str(fret), "--out", str(out),
            "--db", str(db), "--steps", "6", "--batch-size", "4", "--save-steps", "2",
            "--max-seq-length", "32", "--classification-per-task", "0", "--mrl-dims", "384,64"]


def _cli_cfg():
    cfg = resolve("tiny").train
    cfg.finetune_steps, cfg.finetune_batch_size, cfg.save_steps = 6, 4, 2
    cfg.max_seq_length, cfg.classification_per_task, cfg.mrl_dims = 32, 0, [384, 64]
    return cfg


@pytest.mark.assets
@pytest.mark.slow
def test_resume_after_kill(work):
    """Kill a real training process after its first checkpoint; the rerun resumes from it."""
    root, fret, db = work
    out = root / "killed"
    exe = Path(sys.executable).parent / "gecko-bench"
    log = root / "killed.log"
    with log.open("w") as fh:
        proc = subprocess.Popen([str(exe), *_cli_args(fret, out, db)], stdout=fh, stderr=fh,
                                start_new_session=True)
    deadline = time.monotonic() + 240
    try:
        while not list((out / "_trainer").glob("checkpoint-*/trainer_state.json")):
            assert proc.poll() is None, f"training exited early:\n{log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.5)
        time.sleep(0.2)  # let the checkpoint finish writing
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (out / "manifest.json").exists()
    path = trainers.finetune(_cli_cfg(), fret, "minilm-l6", out, db_path=db,
                             profile="tiny")
    m = json.loads((path / "manifest.json").read_text())
    assert m["resumed_from_step"] in (2, 4) and m["steps"] == 6
    curve = store.loss_curve(m["model_id"], db)
    assert list(curve.step) == [1, 2, 3, 4, 5, 6]
    attempts = store.training_runs(db)
    attempts = attempts[attempts.checkpoint_key == m["checkpoint_key"]]
    assert sorted(attempts.status) == ["failed", "finished"] or \
        sorted(attempts.status) == ["finished", "running"]  # SIGKILL leaves 'running'


@pytest.mark.assets
def test_a_checkpoint_on_disk_has_its_loss_rows_in_the_store(work, tmp_path, monkeypatch):
    """A process killed right after writing checkpoint-2, before the Trainer's on_save, must
    not leave a checkpoint whose steps the store never saw: the resumed curve would lack them
    (test_ddp once failed so). The kill is raised where it happened."""
    from transformers import Trainer

    _, fret, _ = work
    db, out = tmp_path / "k.duckdb", tmp_path / "ft"
    real_save = Trainer._save_checkpoint

    def save_then_die(self, model, trial):
        real_save(self, model, trial)
        raise KeyboardInterrupt("killed after the checkpoint was written")

    monkeypatch.setattr(Trainer, "_save_checkpoint", save_then_die)
    cfg = tiny_cfg(finetune_steps=3, save_steps=2, mrl_dims=[384])
    with pytest.raises(KeyboardInterrupt):
        trainers.finetune(cfg, fret, "minilm-l6", out, db_path=db)
    assert (out / "_trainer" / "checkpoint-2" / "trainer_state.json").exists()
    (run_id,) = store.training_runs(db).run_id
    assert list(store.loss_curve(run_id, db).step) == [1, 2]
    monkeypatch.setattr(Trainer, "_save_checkpoint", real_save)
    m = json.loads((trainers.finetune(cfg, fret, "minilm-l6", out, db_path=db)
                    / "manifest.json").read_text())
    assert m["resumed_from_step"] == 2
    assert list(store.loss_curve(m["model_id"], db).step) == [1, 2, 3]


def test_resume_skips_a_checkpoint_whose_save_was_killed(tmp_path):
    """A kill during a save leaves checkpoint-N without trainer_state.json (written last)."""
    from trainers.core import last_complete_checkpoint

    assert last_complete_checkpoint(tmp_path / "_trainer") is None
    for step, files in [(2, ["model.safetensors", "trainer_state.json"]),
                        (4, ["config.json", ".tmpuGwtFH"]), (10, [])]:
        folder = tmp_path / "_trainer" / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        for name in files:
            (folder / name).write_text("x")
    assert last_complete_checkpoint(tmp_path / "_trainer") == str(
        tmp_path / "_trainer" / "checkpoint-2")
    assert sorted(p.name for p in (tmp_path / "_trainer").iterdir()) == ["checkpoint-2"]


def test_resume_into_folder_of_another_config_is_refused(tmp_path):
    state = {"stage": "finetune", "checkpoint_key": "abc",
             "key_material": {"config": {"learning_rate": 1e-4}}}
    (tmp_path / "train_state.json").write_text(json.dumps(state))
    spec = RunSpec(stage="finetune", init="minilm-l6", out=tmp_path, steps=1, batch_size=2,
                   key_material={"config": {"learning_rate": 2e-5}})
    from trainers.core import check_out_dir

    with pytest.raises(InputError, match=r"unfinished finetune run with a different config "
                                         r"\(config.learning_rate: 0.0001 -> 2e-05\)"):
        check_out_dir(spec)


@pytest.mark.assets
def test_bad_inputs(tmp_path, work):
    _, fret, db = work
    with pytest.raises(AssetError, match="no model 'no-such-model'"):
        trainers.finetune(tiny_cfg(), fret, "no-such-model", tmp_path / "x", db_path=db)
    with pytest.raises(InputError, match=r"MRL dim\(s\) \[512\] invalid for minilm-l6 "
                                         r"\(embedding dimension 384\)"):
        trainers.finetune(tiny_cfg(mrl_dims=[512, 384]), fret, "minilm-l6", tmp_path / "x",
                          db_path=db)
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(InputError, match="empty.jsonl is empty"):
        trainers.finetune(tiny_cfg(), tmp_path / "empty.jsonl", "minilm-l6", tmp_path / "x",
                          db_path=db)
    with pytest.raises(InputError, match="only 24 training examples for a batch of 64"):
        trainers.finetune(tiny_cfg(finetune_batch_size=64), fret, "minilm-l6", tmp_path / "x",
                          db_path=db)


def test_out_of_memory_becomes_advice():
    spec = RunSpec(stage="finetune", init="minilm-l6", out=Path("x"), steps=1, batch_size=4096,
                   key_material={})
    err = _explain(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), spec, None)
    assert isinstance(err, InputError)
    assert "batch of 4096 does not fit" in str(err) and "--mini-batch-size" in str(err)


@pytest.mark.assets
def test_cli_prints_one_line_errors(work, tmp_path):
    _, fret, db = work
    exe = Path(sys.executable).parent / "gecko-bench"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(fret.read_text().splitlines()[0] + "\n{oops\n")
    res = subprocess.run([str(exe), "train", "finetune", "--init", "minilm-l6", "--fret",
                          str(bad), "--out", str(tmp_path / "o"), "--db", str(db)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    text = " ".join(res.stderr.split())  # rich wraps long lines at the terminal width
    assert text.startswith("error:") and "bad.jsonl:2: not valid JSON" in text
    assert "Traceback" not in res.stderr


@pytest.mark.assets
def test_cli_finetune_chooses_on_a_given_dev_split(work, tmp_path):
    """``--dev`` takes a BEIR folder's qrels/dev.tsv (the target's own dev queries); a folder
    without one is refused before anything trains (the one-line exit 2 of every InputError is
    tested above)."""
    import shutil

    from typer.testing import CliRunner

    from gecko_bench.cli import app
    from gecko_bench.eval.beir_task import export_beir
    from trainers.prompt_choice import dev_digest

    _, fret, db = work
    with_dev, plain = tmp_path / "with-dev", tmp_path / "plain"
    export_beir("ManPageRetrieval-tiny", with_dev, dev_queries=10)
    shutil.copytree(with_dev, plain)
    (plain / "qrels" / "dev.tsv").unlink()
    base = ["train", "finetune", "--init", "minilm-l6", "--fret", str(fret), "--db", str(db),
            "--steps", "2", "--batch-size", "4", "--no-mrl"]
    res = CliRunner().invoke(app, base + ["--out", str(tmp_path / "bad"), "--dev", str(plain)])
    assert isinstance(res.exception, InputError) and "with qrels/dev.tsv" in str(res.exception)
    assert not (tmp_path / "bad").exists()
    res = CliRunner().invoke(app, base + ["--out", str(tmp_path / "ft"), "--dev", str(with_dev)])
    assert res.exit_code == 0, res.output[-2000:]
    choice = json.loads((tmp_path / "ft" / "manifest.json").read_text())["prompt_choice"]
    assert (choice["chosen_on"], choice["n_queries"]) == ("dev", 10)
    assert choice["dev_sha256"] == dev_digest(with_dev)


@pytest.mark.assets
def test_finetune_on_rows_with_and_without_negative(tmp_path):
    """neg=none rows next to rows with a negative train in the same batches, none invented."""
    rows = fret_rows(n_books=6, n_wiki=6)
    rows = [r if i % 2 else {**r, "negative": None, "negative_title": None}
            for i, r in enumerate(rows)]
    fret = write_jsonl(rows, tmp_path / "mixed.jsonl")
    out = trainers.finetune(tiny_cfg(finetune_steps=2), fret, "minilm-l6", tmp_path / "ft",
                            db_path=tmp_path / "t.duckdb", mrl=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["mixture"]["without_negative"] > 0
    assert manifest["final_loss"] == manifest["final_loss"]  # a number, not NaN
