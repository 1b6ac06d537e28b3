"""``gecko-bench perf train``: our fine-tune step vs a plain sentence-transformers fit.

Both trainers get the same model weights, the same loss object type (Gecko eq. 3 + Matryoshka),
the same batch size, sequence length and rows; they alternate ``repeats`` times in one process
so machine load hits both alike. Step time is measured by one callback around each optimizer
step (the first step is a warm-up and is not counted).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from gecko_bench.config import TrainConfig


def _timer():
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self._t = 0.0

        def on_step_begin(self, args, state, control, **kw):
            self._t = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            self.times.append(time.perf_counter() - self._t)

    return StepTimer()


def _one(kind: str, dataset, cfg: TrainConfig, steps: int, batch_size: int,
         device: str) -> float:
    """Samples/s of `steps` timed steps (after one warm-up step) of one trainer kind."""
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
    timer = _timer()
    with tempfile.TemporaryDirectory() as tmp:
        if kind == "ours":
            model.model_card_data.generate_widget_examples = False
            args = training_args(Path(tmp), cfg, steps + 1, batch_size, device,
                                 save_strategy="no", batch_sampler=SequentialBatchSampler)
        else:  # what a user writes from the sentence-transformers docs
            args = SentenceTransformerTrainingArguments(
                output_dir=tmp, max_steps=steps + 1, per_device_train_batch_size=batch_size,
                learning_rate=cfg.learning_rate, save_strategy="no", report_to="none",
                use_cpu=not device.startswith("cuda"),
                bf16=device.startswith("cuda"), seed=cfg.seed)
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset,
                                             loss=loss, callbacks=[timer])
        trainer.train()
    timed = timer.times[1:]
    return batch_size * len(timed) / sum(timed)


def run_benchmark(steps: int = 6, batch_size: int = 16, repeats: int = 2, device: str = "cpu",
                  out: Path = Path("results/perf")) -> dict[str, Any]:
    """Alternate both trainers `repeats` times; write train.json and train.md under `out`."""
    from gecko_bench import provenance
    from trainers.core import resolve_device
    from trainers.data import Example, passage_rows, to_dataset

    device = resolve_device(device)
    cfg = TrainConfig()
    n = (steps + 1) * batch_size
    rows = passage_rows(n_books=n // 2 + 1, n_wiki=n // 2 + 1)[:n]
    dataset = to_dataset([Example(**r) for r in rows], cfg.unified_format)
    runs: dict[str, list[float]] = {"ours": [], "plain": []}
    for _ in range(repeats):
        for kind in runs:
            runs[kind].append(_one(kind, dataset, cfg, steps, batch_size, device))
    med = {k: statistics.median(v) for k, v in runs.items()}
    result = {
        "device": provenance.device_name(device), "steps": steps, "batch_size": batch_size,
        "max_seq_length": cfg.max_seq_length, "mrl_dims": cfg.mrl_dims, "repeats": repeats,
        "model": cfg.base_model, "git_sha": provenance.git_sha(),
        "trainers": {k: {"samples_per_s": v, "median_samples_per_s": med[k]}
                     for k, v in runs.items()},
        "ratio": med["ours"] / med["plain"],
    }
    out.mkdir(parents=True, exist_ok=True)
    stem = "train" if device == "cpu" else "train_cuda"
    (out / f"{stem}.json").write_text(json.dumps(result, indent=1))
    (out / f"{stem}.md").write_text(
        f"# perf train ({result['device']})\n\n"
        f"`gecko-bench perf train --steps {steps} --batch-size {batch_size} --repeats {repeats}"
        f" --device {device}`: {cfg.base_model}, Gecko eq. 3 + Matryoshka {cfg.mrl_dims}, "
        f"max_seq_length {cfg.max_seq_length}, real Austen/Wikipedia triples.\n\n"
        "| trainer | samples/s (median) | runs |\n|---|---|---|\n"
        + "".join(f"| {k} | {med[k]:.2f} | {', '.join(f'{x:.2f}' for x in v)} |\n"
                  for k, v in runs.items())
        + f"\nratio ours / plain: **{result['ratio']:.2f}x**\n")
    result["files"] = [str(out / f"{stem}.json"), str(out / f"{stem}.md")]
    return result
