"""The main job and the experiments end to end on a micro profile: kill, resume, rerun, tags."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from gecko_bench.store import connect
from gecko_bench.store.scores import scores_frame

# The tiny profile shrunk further so the whole job runs in a couple of minutes: real FRet with
# SmolLM2 on real seed passages, real training of MiniLM, real evaluation on two real tasks.
MICRO = ["fret.n_seeds=6", "fret.n_neighbours=4", "fret.batch_size=3",
         "train.prefinetune_steps=2", "train.prefinetune_batch_size=8",
         "train.finetune_steps=2", "train.finetune_batch_size=4",
         "train.classification_per_task=4", "train.save_steps=1", "train.dev_fraction=0.5",
         "train.mrl_dims=384,64", "eval.dims=384,64",
         "eval.tasks=DebianFAQRetrieval-tiny,LeeSTS-tiny", "eval.baselines=minilm-l6"]


def _cmd(*args: str) -> list[str]:
    sets = [x for s in MICRO for x in ("--set", s)]
    return [sys.executable, "-m", "gecko_bench", *args, "--profile", "tiny", *sets]


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    env = dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="160")
    return root, root / "r.duckdb", env


@pytest.mark.assets
@pytest.mark.slow
def test_killed_job_resumes_and_a_finished_job_only_reports(job):
    root, db, env = job
    args = _cmd("run", "--db", str(db), "--work-dir", str(root / "work"))
    # 1. start the job and kill it hard once the FRet stage is recorded
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, start_new_session=True)
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if "stage fret finished" in line:
                break
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert any("stage fret finished" in line for line in seen), "".join(seen[-30:])

    # 2. rerun: FRet is not rebuilt, the rest runs, the report prints
    second = subprocess.run(args, capture_output=True, text=True, env=env, timeout=900)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "stage fret: done earlier, skipped" in second.stdout
    assert "Student gain over minilm-l6" in second.stdout
    assert "gecko-bench dashboard" in second.stdout
    with connect(db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM fret_datasets").fetchone()[0] == 1
        statuses = dict(con.execute(
            "SELECT status, count(*) FROM runs WHERE kind = 'pipeline' GROUP BY status").fetchall())
    assert statuses.get("finished") == 1 and statuses.get("running") == 1  # the killed one
    scores = scores_frame(db, main_only=True)
    assert {"DebianFAQRetrieval-tiny", "LeeSTS-tiny"} <= set(scores["task"])
    assert scores["model_id"].nunique() == 2 and set(scores["dim"]) == {384, 64}

    # 3. rerun after completion: nothing runs, the results print
    t0 = time.monotonic()
    third = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert third.returncode == 0 and "already complete" in third.stdout
    assert "Student gain over minilm-l6" in third.stdout
    assert time.monotonic() - t0 < 120

    # 4. the same report as JSON: stdout is the document alone, each model with its identity
    fourth = subprocess.run(args + ["--format", "json"], capture_output=True, text=True,
                            env=env, timeout=300)
    assert fourth.returncode == 0, fourth.stderr[-3000:]
    assert "already complete" in fourth.stderr
    doc = json.loads(fourth.stdout)
    assert doc["schema"] == 1 and doc["kind"] == "job_report" and doc["dim"] == 384
    stored = scores_frame(db, main_only=True)
    ids = dict(zip(stored.model_name, stored.model_id))
    assert doc["student"]["model_id"] in set(stored.model_id) - {ids["minilm-l6"]}
    by_key = {m["key"]: m for m in doc["models"]}
    assert by_key["minilm-l6"]["model_id"] == ids["minilm-l6"]
    assert by_key["minilm-l6"]["protocol"]["prompt_style"] == "none"
    assert by_key[doc["student"]["checkpoint"]]["student"]
    gains = {g["key"]: g for g in doc["gains"]}
    # the second table only when the student's chosen style is not its base's
    assert set(gains) in ({"same_protocol", "own_styles"}, {"same_protocol"})
    headline = gains["same_protocol"]
    assert headline["baseline"]["model_id"] == ids["minilm-l6"]
    assert headline["candidate"]["protocol"] == headline["baseline"]["protocol"]
    assert {c["category"] for c in headline["categories"]} == {"Retrieval", "STS"}
    for row in headline["categories"]:
        assert row["ci_low"] <= row["delta"] <= row["ci_high"]
        assert row["delta"] == pytest.approx(row["candidate"] - row["baseline"])
        # the text report prints the same number (one decimal place or more)
        assert f"{row['delta']:.2f}" in third.stdout
    rows = doc["leaderboard"]["rows"]
    names = [r["display_name"] for r in rows]
    assert "minilm-l6" in names and sum(n.startswith("student (") for n in names) == len(gains)
    ranked = [r["rank"] for r in rows if r["complete"]]
    assert ranked == list(range(1, len(ranked) + 1)) and len(ranked) == len(gains) + 1
    assert all(r["rank"] is None for r in rows if not r["complete"])

    # 5. the student travels: its prompts say the style chosen on the dev split, its card says
    # how, and plain sentence-transformers + mteb score it as the job did (same input cap)
    import mteb
    from sentence_transformers import SentenceTransformer

    from gecko_bench.eval.prompts import checkpoint_prompts
    from gecko_bench.tasks.registry import get_task

    student = doc["student"]["checkpoint"]
    manifest = json.loads(open(os.path.join(student, "manifest.json")).read())
    assert manifest["prompt_choice"]["n_queries"] >= 2, manifest["prompt_choice"]
    assert manifest["prompt_choice"]["chosen_on"] == "dev"
    model = SentenceTransformer(student)
    assert {k: v for k, v in model.prompts.items() if v} == checkpoint_prompts(
        manifest["prompt_style"])
    card = open(os.path.join(student, "README.md")).read()
    assert manifest["prompt_style"] in card and "LeeSTS-tiny" in card
    own = by_key[student]["protocol"]
    assert own["prompt_style"] == ("none" if manifest["prompt_style"] == "none" else "model")
    model.max_seq_length = own["max_seq_length"]
    plain = mteb.evaluate(model, [get_task("LeeSTS-tiny")], cache=None, show_progress_bar=False)
    ours = stored[(stored.model_id == doc["student"]["model_id"]) & (stored.task == "LeeSTS-tiny")
                  & (stored.dim == 384) & (stored.prompt_style == own["prompt_style"])]
    assert ours["value"].iloc[-1] == pytest.approx(plain.task_results[0].get_score(), abs=1e-6)


@pytest.mark.assets
@pytest.mark.slow
def test_label_strategy_experiment_lands_tagged_in_the_store(job):
    root, db, env = job
    out = root / "experiments"
    result = subprocess.run(
        _cmd("experiment", "label-strategies", "--variant", "pos=p1,neg=lowest", "--db", str(db),
             "--work-dir", str(root / "work"), "--output", str(out)),
        capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "paper: Gecko Table 3" in result.stdout
    scores = scores_frame(db, experiment="label-strategies", main_only=True)
    assert set(scores["variant"]) == {"pos=seed,neg=none", "pos=p1,neg=lowest"}
    summary = (out / "label-strategies-tiny.csv").read_text()
    assert "pos=p1,neg=lowest" in summary and "Retrieval" in summary
    # the job's report, rerun on the shared store, lists its own models, not the experiment's
    rerun = subprocess.run(_cmd("run", "--db", str(db), "--work-dir", str(root / "work")),
                           capture_output=True, text=True, env=env, timeout=300)
    board = rerun.stdout.split("Leaderboard")[1].split("Student gain")[0]
    assert "student" in board and "minilm-l6" in board and "seed0" not in board, board
    # rows are in Borda order, and the Borda column that sets it is shown
    header, *rows = [line.split() for line in board.splitlines()
                     if line.split()[:1] in (["model"], ["student"], ["minilm-l6"],
                                             ["mpnet-base"], ["e5-small-multilingual"])]
    borda = [float(row[header.index("borda")]) for row in rows]
    assert borda == sorted(borda, reverse=True), board


def test_task_diversity_sets_are_equal_size_and_fret_only():
    from collections import Counter

    from gecko_bench.errors import InputError
    from gecko_bench.experiments import diversity_plan, task_diversity_variants

    counts = Counter({"question answering": 9, "fact checking": 4, "definition lookup": 3,
                      "search result": 1})
    assert diversity_plan(counts) == (3, ["definition lookup", "fact checking",
                                          "question answering"], ["search result"])
    variants = {v.name: v for v in task_diversity_variants(counts)}
    assert set(variants) == {"task=definition lookup", "task=fact checking",
                             "task=question answering", "all-original", "all-uniform",
                             "all-no-unified-format"}
    assert {v.pool_size for v in variants.values()} == {3}
    assert variants["all-uniform"].task_types == tuple(sorted(counts))  # no classification
    assert variants["all-uniform"].train_overrides == {"task_sampling": "uniform"}
    from gecko_bench.config import TrainConfig
    from gecko_bench.experiments import EXPERIMENTS

    line = EXPERIMENTS["task-diversity"].describe(counts, TrainConfig(finetune_batch_size=16))
    assert "3 distinct FRet examples (batch 3" in line and "for search result (< 3" in line
    with pytest.raises(InputError, match="fret.n_seeds"):
        diversity_plan(Counter({"question answering": 2, "fact checking": 1}))


@pytest.mark.assets
@pytest.mark.slow
def test_an_unrelated_eval_does_not_change_the_job_report(job):
    """The sequence that once changed a finished job's report: after the job, one eval of the
    base model under another protocol (gecko prompts), then the job's rerun, which
    only reports. The report must be the same text, Borda included."""
    root, db, env = job
    run_args = _cmd("run", "--db", str(db), "--work-dir", str(root / "work"))
    before = subprocess.run(run_args, capture_output=True, text=True, env=env, timeout=300)
    assert before.returncode == 0, before.stdout[-3000:] + before.stderr[-3000:]
    other = subprocess.run(
        [sys.executable, "-m", "gecko_bench", "eval", "--model", "minilm-l6", "--tasks",
         "DebianFAQRetrieval-tiny,LeeSTS-tiny", "--max-seq-length", "128", "--prompt-style",
         "gecko", "--db", str(db)],
        capture_output=True, text=True, env=env, timeout=300)
    assert other.returncode == 0, other.stdout[-3000:] + other.stderr[-3000:]
    after = subprocess.run(run_args, capture_output=True, text=True, env=env, timeout=300)
    assert after.returncode == 0

    def report(out: str) -> str:
        return out[out.index("Leaderboard"):out.index("student checkpoint")]

    assert "Student gain over minilm-l6" in report(after.stdout)
    assert report(after.stdout) == report(before.stdout)


def test_zero_prefinetune_steps_start_fine_tuning_from_the_base(tmp_path):
    import dataclasses

    from rich.console import Console

    from gecko_bench import config
    from gecko_bench.pipeline import _stage_prefinetune

    p = config.resolve("tiny")
    p = dataclasses.replace(p, train=dataclasses.replace(p.train, prefinetune_steps=0))
    console = Console(record=True, width=200)
    out = _stage_prefinetune(p, {}, tmp_path, tmp_path / "r.duckdb", console)
    assert out == {"checkpoint": "minilm-l6", "skipped": True}
    assert "pre-finetuning skipped" in console.export_text()
    assert not any(tmp_path.iterdir())  # nothing trained, nothing stored


@pytest.mark.assets
def test_a_baseline_with_nothing_to_score_is_skipped_not_fatal(tmp_path):
    """bm25 scores retrieval and reranking only. A job whose suite had neither (here STS alone)
    once trained a student and then exited 2 in the evaluate stage; now it says why the
    baseline is left out and evaluates the rest."""
    from rich.console import Console

    import trainers
    from gecko_bench import config
    from gecko_bench.pipeline import LIKE_BASE, _stage_evaluate
    from train_helpers import fret_rows, tiny_cfg, write_jsonl

    db = tmp_path / "r.duckdb"
    fret = write_jsonl(fret_rows(n_books=6, n_wiki=6), tmp_path / "fret.jsonl")
    student = trainers.finetune(tiny_cfg(finetune_steps=1, save_steps=1), fret, "minilm-l6",
                                tmp_path / "ft", db_path=db)
    p = config.apply_overrides(config.resolve("tiny"), [
        "eval.tasks=LeeSTS-tiny", "eval.dims=384", "eval.baselines=minilm-l6,bm25"])
    console = Console(record=True, width=200)
    out = _stage_evaluate(p, {"finetune": {"checkpoint": str(student)}}, tmp_path, db, console)
    assert "bm25" not in out["runs"] and "bm25" not in out["models"]
    assert set(out["runs"]) == {"minilm-l6", str(student), LIKE_BASE}
    printed = " ".join(console.export_text().split())
    assert "bm25 left out: bm25 scores Retrieval and Reranking tasks only" in printed
