"""``gecko-bench perf eval``: plain ``mteb.evaluate`` vs our runner, same model and tasks.

Three timings in one process, after an untimed priming pass that loads every task's data once
(so in-process corpus caches and the OS file cache favour no variant). Each timing starts from
fresh task objects (building the datasets is counted every time) and includes model loading:
(1) plain mteb with a SentenceTransformer, no caches;
(2) our runner, cold: an empty embedding cache and an empty database; (3) our runner, warm: the
cache from (2), a new empty database (so nothing is skipped as already scored). Our runs use
prompt style ``none`` so the model reads exactly the texts plain mteb gives it, and float32 as
plain mteb computes; the main scores of (1) and (2) are compared to show the work is the same.

Then the compute dtypes (:func:`dtype_probe`): float32 against ``auto`` (and any other listed
setting) encoding the same real passages, in texts/s and achieved GFLOP/s beside the float32 and
bfloat16 matmul rates measured in the same run (:func:`gecko_bench.hardware.machine_limits`).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from gecko_bench.eval.resolve import resolve


def _plain(model: str, suite, tasks_file, batch_size: int,
           max_seq_length: int | None = None) -> tuple[float, dict[str, float]]:
    import mteb

    from gecko_bench.assets.loaders import load_sentence_transformer

    start = time.perf_counter()
    st = load_sentence_transformer(model)
    if max_seq_length and max_seq_length < (st.max_seq_length or 512):
        st.max_seq_length = max_seq_length
    tasks = [s.task for s in resolve(suite=suite, tasks_file=tasks_file)]
    res = mteb.evaluate(st, tasks, cache=None, show_progress_bar=False, co2_tracker=False,
                        encode_kwargs={"batch_size": batch_size, "show_progress_bar": False})
    wall = time.perf_counter() - start
    return wall, {r.task_name: float(r.get_score()) for r in res.task_results}


def _ours(model: str, suite, tasks_file, batch_size: int, cache_dir: Path,
          db: Path, max_seq_length: int | None = None) -> tuple[float, dict[str, float], dict]:
    from gecko_bench.config import EvalConfig
    from gecko_bench.eval.runner import RunContext, TaskSource, evaluate
    from gecko_bench.store import get_run
    from gecko_bench.store.scores import scores_frame

    start = time.perf_counter()
    run_id = evaluate(model, TaskSource(suite=suite, tasks_file=tasks_file),
                      config=EvalConfig(dims=[], prompt_style="none", batch_size=batch_size,
                                        max_seq_length=max_seq_length, dtype="float32"),
                      db=db, context=RunContext(cache_dir=cache_dir, progress=False))
    wall = time.perf_counter() - start
    df = scores_frame(db, main_only=True)
    means = df.groupby("task")["value"].mean().to_dict()
    durations = json.loads(get_run(run_id, db)["durations"])
    return wall, {k: float(v) for k, v in means.items()}, durations


def dtype_probe(model: str, dtypes: list[str], n_texts: int = 256, batch_size: int = 32,
                max_seq_length: int | None = 128, device: str = "cpu") -> dict[str, dict]:
    """Encode the same `n_texts` real passages (Wikipedia, Austen, nlp-corpus) once per dtype
    setting, after a one-batch warm-up; per setting: the resolved dtype, texts/s, achieved
    GFLOP/s (:func:`gecko_bench.hardware.forward_flops` over the padded batch shapes actually
    run) and the mean cosine of its vectors with float32's. Settings resolving to a dtype
    already timed reuse that timing (``same_as``)."""
    import numpy as np

    from gecko_bench.corpora.seeds import seed_passages
    from gecko_bench.eval.backends import load_backend
    from gecko_bench.eval.encoder import GeckoEncoder
    from gecko_bench.hardware import ShapeRecorder, encoder_shape, forward_flops

    texts = [p.text for p in seed_passages(limit=n_texts, seed=1)]
    rows: dict[str, dict] = {}
    by_dtype: dict[str, str] = {}
    reference = None
    for setting in dict.fromkeys(["float32", *dtypes]):
        backend = load_backend(model, device=device, max_seq_length=max_seq_length,
                               dtype=setting)
        if backend.dtype in by_dtype:
            rows[setting] = {**rows[by_dtype[backend.dtype]], "same_as": by_dtype[backend.dtype]}
            continue
        by_dtype[backend.dtype] = setting
        torch_module = backend.torch_module
        recorder = ShapeRecorder(torch_module) if torch_module is not None else None
        encoder = GeckoEncoder(backend, "none", cache=None, batch_size=batch_size)
        encoder.embed(texts[:batch_size])
        if recorder:
            recorder.take()
        t0 = time.perf_counter()
        vectors = encoder.embed(texts)
        seconds = time.perf_counter() - t0
        flops = forward_flops(encoder_shape(torch_module), recorder.take()) if recorder else None
        if recorder:
            recorder.close()
        unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        reference = unit if reference is None else reference
        rows[setting] = {"dtype": backend.dtype, "texts": len(texts), "seconds": round(seconds, 3),
                         "texts_per_s": round(len(texts) / seconds, 2),
                         "gflops": round(flops / seconds / 1e9, 1) if flops else None,
                         "mean_cosine_vs_float32": round(float((unit * reference).sum(1).mean()),
                                                         6)}
    return rows


def run_perf(model: str, suite: str | None, tasks_file: str | Path | None, batch_size: int,
             out: Path, console=None, dtypes: tuple[str, ...] = ("auto",),
             max_seq_length: int | None = None, probe_texts: int = 256,
             dtype_only: bool = False) -> str:
    """Time the three suite variants and the dtype probe; write ``eval.json`` and ``eval.md``
    under `out` (``eval-dtype.*`` with `dtype_only`, which skips the suite variants); return
    the md."""
    from gecko_bench.hardware import (best_limits, check_setting, dtype_markdown,
                                      machine_limits)

    for d in dtypes:
        check_setting(d, "dtype")
    say = console.print if console else print
    figures: dict = {"model": model, "batch_size": batch_size, "max_seq_length": max_seq_length}
    md = ""
    if not dtype_only:
        suite_figures, md = _suite_variants(model, suite, tasks_file, batch_size,
                                            max_seq_length, say)
        figures.update(suite_figures)
    say("machine limits: float32 / bfloat16 matmul ...")
    before = machine_limits()
    say(f"  {before['float32']:.1f} / {before['bfloat16']:.1f} GFLOP/s\n"
        f"dtypes float32 vs {', '.join(dtypes)} on {probe_texts} real passages ...")
    probe = dtype_probe(model, list(dtypes), n_texts=probe_texts, batch_size=batch_size,
                        max_seq_length=max_seq_length)
    limits = best_limits(before, machine_limits())
    figures.update(machine=limits, dtypes=probe)
    if dtype_only:
        md = f"# perf eval --dtype-only: {model}\n\n"
    md += (f"## Compute dtype: {probe_texts} real passages, batch {batch_size}, "
           f"max_seq_length {max_seq_length or 'of the model'}\n\n"
           + dtype_markdown(probe, limits)
           + "Mean cosine with the float32 vectors: "
           + ", ".join(f"{k} {v['mean_cosine_vs_float32']:.5f}" for k, v in probe.items())
           + ".\n\n"
           f"Command: `gecko-bench perf eval --model {model}"
           + ("" if dtype_only else
              f" --suite {suite}" if suite else f" --tasks-file {tasks_file}")
           + "".join(f" --dtype {d}" for d in dtypes)
           + (f" --max-seq-length {max_seq_length}" if max_seq_length else "")
           + (f" --batch-size {batch_size}" if batch_size != 32 else "")
           + (f" --probe-texts {probe_texts}" if probe_texts != 256 else "")
           + (" --dtype-only" if dtype_only else "") + "`\n")
    stem = "eval-dtype" if dtype_only else "eval"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(figures, indent=2) + "\n")
    (out / f"{stem}.md").write_text(md)
    return md


def _suite_variants(model: str, suite, tasks_file, batch_size: int,
                    max_seq_length: int | None, say) -> tuple[dict, str]:
    """Plain mteb vs our runner cold and warm (float32 throughout): figures and markdown."""
    with tempfile.TemporaryDirectory(prefix="gecko-perf-") as tmp:
        tmp = Path(tmp)
        say("priming: loading every task's data once (untimed) ...")
        for spec in resolve(suite=suite, tasks_file=tasks_file):
            spec.task.load_data()
        say("plain mteb.evaluate ...")
        plain_s, plain_scores = _plain(model, suite, tasks_file, batch_size, max_seq_length)
        say(f"  {plain_s:.1f} s\nour runner, cold cache ...")
        cold_s, cold_scores, cold_stats = _ours(model, suite, tasks_file, batch_size,
                                                tmp / "emb", tmp / "cold.duckdb", max_seq_length)
        say(f"  {cold_s:.1f} s\nour runner, warm cache ...")
        warm_s, _, warm_stats = _ours(model, suite, tasks_file, batch_size, tmp / "emb",
                                      tmp / "warm.duckdb", max_seq_length)
        say(f"  {warm_s:.1f} s")
    diff = max((abs(plain_scores[t] - cold_scores[t]) for t in plain_scores if t in cold_scores),
               default=float("nan"))
    figures = {"suite": suite, "tasks_file": str(tasks_file or ""),
               "tasks": sorted(plain_scores),
               "plain_s": round(plain_s, 2), "cold_s": round(cold_s, 2),
               "warm_s": round(warm_s, 2), "cold_ratio": round(cold_s / plain_s, 3),
               "warm_ratio": round(warm_s / plain_s, 3), "max_main_score_diff": diff,
               "cold_stats": cold_stats, "warm_stats": warm_stats,
               "targets": {"cold_ratio": 0.7, "warm_ratio": 0.05}}
    md = (f"# perf eval: {model} on {suite or tasks_file} ({len(plain_scores)} tasks)\n\n"
          "| variant | wall s | ratio vs plain mteb | target |\n|---|---|---|---|\n"
          f"| plain mteb.evaluate | {plain_s:.1f} | 1.00 | |\n"
          f"| ours, cold cache | {cold_s:.1f} | {cold_s / plain_s:.2f} | <= 0.70 |\n"
          f"| ours, warm cache | {warm_s:.1f} | {warm_s / plain_s:.3f} | <= 0.05 |\n\n"
          f"Texts asked for / unique / encoded (cold): {cold_stats.get('texts')} / "
          f"{cold_stats.get('unique_texts')} / {cold_stats.get('texts_encoded')}; "
          f"encoded when warm: {warm_stats.get('texts_encoded')}. "
          f"Largest main-score difference plain vs ours: {diff:.2e} (both float32).\n\n")
    return figures, md
