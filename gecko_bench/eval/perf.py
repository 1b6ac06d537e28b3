"""``gecko-bench perf eval``: plain ``mteb.evaluate`` vs our runner, same model and tasks.

Three timings in one process, after an untimed priming pass that loads every task's data once
(so in-process corpus caches and the OS file cache favour no variant). Each timing starts from
fresh task objects (building the datasets is counted every time) and includes model loading:
(1) plain mteb with a SentenceTransformer, no caches;
(2) our runner, cold: an empty embedding cache and an empty database; (3) our runner, warm: the
cache from (2), a new empty database (so nothing is skipped as already scored). Our runs use
prompt style ``none`` so the model reads exactly the texts plain mteb gives it; the main scores
of (1) and (2) are compared to show the work is the same.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from gecko_bench.eval.resolve import resolve


def _plain(model: str, suite, tasks_file, batch_size: int) -> tuple[float, dict[str, float]]:
    import mteb

    from gecko_bench.assets.loaders import load_sentence_transformer

    start = time.perf_counter()
    st = load_sentence_transformer(model)
    tasks = [s.task for s in resolve(suite=suite, tasks_file=tasks_file)]
    res = mteb.evaluate(st, tasks, cache=None, show_progress_bar=False, co2_tracker=False,
                        encode_kwargs={"batch_size": batch_size, "show_progress_bar": False})
    wall = time.perf_counter() - start
    return wall, {r.task_name: float(r.get_score()) for r in res.task_results}


def _ours(model: str, suite, tasks_file, batch_size: int, cache_dir: Path,
          db: Path) -> tuple[float, dict[str, float], dict]:
    from gecko_bench.eval.runner import evaluate
    from gecko_bench.store import get_run
    from gecko_bench.store.scores import scores_frame

    start = time.perf_counter()
    run_id = evaluate(model, suite=suite, tasks_file=tasks_file, prompt_style="none",
                      db_path=db, batch_size=batch_size, cache_dir=cache_dir, progress=False)
    wall = time.perf_counter() - start
    df = scores_frame(db, main_only=True)
    means = df.groupby("task")["value"].mean().to_dict()
    durations = json.loads(get_run(run_id, db)["durations"])
    return wall, {k: float(v) for k, v in means.items()}, durations


def run_perf(model: str, suite: str | None, tasks_file: str | Path | None, batch_size: int,
             out: Path, console=None) -> str:
    """Time the three variants, write ``eval.json`` and ``eval.md`` under `out`; return the md."""
    say = console.print if console else print
    with tempfile.TemporaryDirectory(prefix="gecko-perf-") as tmp:
        tmp = Path(tmp)
        say("priming: loading every task's data once (untimed) ...")
        for spec in resolve(suite=suite, tasks_file=tasks_file):
            spec.task.load_data()
        say("plain mteb.evaluate ...")
        plain_s, plain_scores = _plain(model, suite, tasks_file, batch_size)
        say(f"  {plain_s:.1f} s\nour runner, cold cache ...")
        cold_s, cold_scores, cold_stats = _ours(model, suite, tasks_file, batch_size,
                                                tmp / "emb", tmp / "cold.duckdb")
        say(f"  {cold_s:.1f} s\nour runner, warm cache ...")
        warm_s, _, warm_stats = _ours(model, suite, tasks_file, batch_size, tmp / "emb",
                                      tmp / "warm.duckdb")
        say(f"  {warm_s:.1f} s")
    diff = max((abs(plain_scores[t] - cold_scores[t]) for t in plain_scores if t in cold_scores),
               default=float("nan"))
    figures = {"model": model, "suite": suite, "tasks_file": str(tasks_file or ""),
               "tasks": sorted(plain_scores), "batch_size": batch_size,
               "plain_s": round(plain_s, 2), "cold_s": round(cold_s, 2),
               "warm_s": round(warm_s, 2), "cold_ratio": round(cold_s / plain_s, 3),
               "warm_ratio": round(warm_s / plain_s, 3), "max_main_score_diff": diff,
               "cold_stats": cold_stats, "warm_stats": warm_stats,
               "targets": {"cold_ratio": 0.7, "warm_ratio": 0.05}}
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(figures, indent=2) + "\n")
    md = (f"# perf eval: {model} on {suite or tasks_file} ({len(plain_scores)} tasks)\n\n"
          "| variant | wall s | ratio vs plain mteb | target |\n|---|---|---|---|\n"
          f"| plain mteb.evaluate | {plain_s:.1f} | 1.00 | |\n"
          f"| ours, cold cache | {cold_s:.1f} | {cold_s / plain_s:.2f} | <= 0.70 |\n"
          f"| ours, warm cache | {warm_s:.1f} | {warm_s / plain_s:.3f} | <= 0.05 |\n\n"
          f"Texts asked for / unique / encoded (cold): {cold_stats.get('texts')} / "
          f"{cold_stats.get('unique_texts')} / {cold_stats.get('texts_encoded')}; "
          f"encoded when warm: {warm_stats.get('texts_encoded')}. "
          f"Largest main-score difference plain vs ours: {diff:.2e}.\n\n"
          f"Command: `gecko-bench perf eval --model {model}"
          + (f" --suite {suite}" if suite else f" --tasks-file {tasks_file}") + "`\n")
    (out / "eval.md").write_text(md)
    return md
