"""``gecko-bench perf train``: our fine-tune step vs a plain sentence-transformers fit.

Both trainers get the same model weights, the same loss object type (Gecko eq. 3 + Matryoshka),
the same batch size, sequence length and rows; they alternate ``repeats`` times in one process
so machine load hits both alike. Step time is measured by one callback around each optimizer
step (the first step is a warm-up and is not counted).

The compute dtype: our step in float32 against our step under each listed dtype setting
(default ``auto``: bfloat16 mixed precision where native), in samples/s and achieved GFLOP/s
beside the float32 and bfloat16 matmul rates measured in the same run. FLOPs of a step: 3x
the forward FLOPs (backward ~ 2x forward) of the padded (batch, seq_len) inputs the step
actually ran, by :func:`gecko_bench.hardware.forward_flops` (``2 * P_nonembedding * tokens +
4 * layers * hidden * seq_len^2`` per sequence).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from gecko_bench.config import TrainConfig


def _timer(recorder=None):
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self.shapes: list[list[tuple[int, int]]] = []
            self._t = 0.0

        def on_step_begin(self, args, state, control, **kw):
            if recorder is not None:
                recorder.take()
            self._t = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            self.times.append(time.perf_counter() - self._t)
            self.shapes.append(recorder.take() if recorder is not None else [])

    return StepTimer()


def _one(kind: str, dataset, cfg: TrainConfig, steps: int, batch_size: int,
         device: str) -> tuple[float, float]:
    """(samples/s, GFLOP/s) of `steps` timed steps (after one warm-up step) of one trainer
    kind; ``cfg.dtype`` decides our trainer's dtype (the plain one stays float32)."""
    from gecko_bench.hardware import ShapeRecorder, encoder_shape, forward_flops
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )

    from gecko_bench.assets.loaders import load_sentence_transformer
    from trainers.core import training_args
    from trainers.losses import build_loss
    from trainers.sampler import SequentialBatchSampler

    model = load_sentence_transformer(cfg.base_model, device=device)
    model.max_seq_length = cfg.max_seq_length
    loss = build_loss(model, cfg.temperature, mrl_dims=cfg.mrl_dims)
    recorder = ShapeRecorder(model)
    timer = _timer(recorder)
    with tempfile.TemporaryDirectory() as tmp:
        if kind == "ours":
            model.model_card_data.generate_widget_examples = False
            args = training_args(Path(tmp), cfg, steps + 1, batch_size, device,
                                 save_strategy="no", batch_sampler=SequentialBatchSampler)
        else:  # what a user writes from the sentence-transformers docs
            args = SentenceTransformerTrainingArguments(
                output_dir=tmp, max_steps=steps + 1, per_device_train_batch_size=batch_size,
                learning_rate=cfg.learning_rate, save_strategy="no", report_to="none",
                use_cpu=not device.startswith("cuda"), seed=cfg.seed)
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset,
                                             loss=loss, callbacks=[timer])
        trainer.train()
    recorder.close()
    timed = timer.times[1:]
    flops = 3 * sum(forward_flops(encoder_shape(model), s) for s in timer.shapes[1:])
    return batch_size * len(timed) / sum(timed), flops / sum(timed) / 1e9


def run_benchmark(steps: int = 6, batch_size: int = 16, repeats: int = 2, device: str = "cpu",
                  out: Path = Path("results/perf"),
                  dtypes: tuple[str, ...] = ("auto",)) -> dict[str, Any]:
    """Alternate the trainers `repeats` times (ours and plain in float32, ours under each
    dtype setting that resolves to another dtype); write train.json and train.md under `out`."""
    import dataclasses

    from gecko_bench import provenance
    from gecko_bench.hardware import best_limits, machine_limits
    from trainers.core import resolve_device, train_dtype
    from trainers.data import Example, passage_rows, to_dataset

    device = resolve_device(device)
    cfg = TrainConfig(dtype="float32")
    resolved = {d: train_dtype(dataclasses.replace(cfg, dtype=d), device) for d in dtypes}
    n = (steps + 1) * batch_size
    rows = passage_rows(n_books=n // 2 + 1, n_wiki=n // 2 + 1)[:n]
    dataset = to_dataset([Example(**r) for r in rows], cfg.text_style)
    variants = {"ours": ("ours", "float32"), "plain": ("plain", "float32")}
    for dt in dict.fromkeys(resolved.values()):
        if dt != "float32":
            variants[f"ours-{dt}"] = ("ours", dt)
    before = machine_limits(device)
    runs: dict[str, list[float]] = {k: [] for k in variants}
    gflops: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeats):
        for name, (kind, dt) in variants.items():
            rate, g = _one(kind, dataset, dataclasses.replace(cfg, dtype=dt), steps, batch_size,
                           device)
            runs[name].append(rate)
            gflops[name].append(g)
    limits = best_limits(before, machine_limits(device))
    med = {k: statistics.median(v) for k, v in runs.items()}
    by_dtype = {"float32": "ours", **{dt: f"ours-{dt}" for dt in resolved.values()
                                      if dt != "float32"}}
    dtype_rows = {"float32": {"dtype": "float32", "samples_per_s": med["ours"],
                              "gflops": statistics.median(gflops["ours"])}}
    for setting, dt in resolved.items():
        name = by_dtype[dt]
        dtype_rows[setting] = {"dtype": dt, "samples_per_s": med[name],
                               "gflops": statistics.median(gflops[name])}
    result = {
        "device": provenance.device_name(device), "steps": steps, "batch_size": batch_size,
        "max_seq_length": cfg.max_seq_length, "mrl_dims": cfg.mrl_dims, "repeats": repeats,
        "model": cfg.base_model, "git_sha": provenance.git_sha(),
        "trainers": {k: {"dtype": variants[k][1], "samples_per_s": v,
                         "median_samples_per_s": med[k], "gflops": gflops[k]}
                     for k, v in runs.items()},
        "ratio": med["ours"] / med["plain"],
        "machine": limits, "dtypes": dtype_rows,
    }
    out.mkdir(parents=True, exist_ok=True)
    stem = "train" if device == "cpu" else "train_cuda"
    result["command"] = (f"gecko-bench perf train --steps {steps} --batch-size {batch_size} "
                         f"--repeats {repeats} --device {device}"
                         + "".join(f" --dtype {d}" for d in dtypes))
    (out / f"{stem}.json").write_text(json.dumps(result, indent=1))
    (out / f"{stem}.md").write_text(report_md(result))
    result["files"] = [str(out / f"{stem}.json"), str(out / f"{stem}.md")]
    return result


def report_md(result: dict[str, Any]) -> str:
    """The markdown of a :func:`run_benchmark` result (train.md)."""
    from gecko_bench.hardware import dtype_markdown

    trainers = result["trainers"]
    return (
        f"# perf train ({result['device']})\n\n"
        f"`{result['command']}`: {result['model']}, Gecko eq. 3 + Matryoshka "
        f"{result['mrl_dims']}, max_seq_length {result['max_seq_length']}, real "
        "Austen/Wikipedia triples.\n\n"
        "| trainer | samples/s (median) | runs |\n|---|---|---|\n"
        + "".join(f"| {k} | {t['median_samples_per_s']:.2f} | "
                  f"{', '.join(f'{x:.2f}' for x in t['samples_per_s'])} |\n"
                  for k, t in trainers.items())
        + f"\nratio ours / plain (both float32): **{result['ratio']:.2f}x**\n\n"
        "## Compute dtype (our step)\n\n"
        + dtype_markdown(result["dtypes"], result["machine"], "samples/s")
        + "\nFLOPs of a step: 3 x forward FLOPs of the padded batches it ran (2 x non-embedding "
        "parameters x tokens + 4 x layers x hidden x seq_len^2 per sequence).\n")
