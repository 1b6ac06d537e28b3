"""``gecko-bench perf fret``: our batched scorer vs a naive one-pair-at-a-time loop, and the
whole pipeline's seeds/min, in one process on the same model and pairs."""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch
from scipy.stats import spearmanr

from gecko_bench import config as C
from gecko_bench.corpora.seeds import seed_passages
from gecko_bench.fret import prompts as P
from gecko_bench.llm.transformers_backend import TransformersLLM, resolve_dtype
from gecko_bench.provenance import device_name

T = TypeVar("T")


def naive_logprobs(llm: TransformersLLM, prefix: str, prompts: list[str],
                   continuations: list[str]) -> list[float]:
    """The obvious loop: one full forward per pair (prefix re-encoded, logits for every
    position through the vocabulary head, no batching)."""
    out = []
    for prompt, cont in zip(prompts, continuations):
        ids, start = llm._split(prefix + prompt, cont)
        with torch.inference_mode():
            logits = llm.model(input_ids=torch.tensor([ids], device=llm.device)).logits[0]
        logp = torch.log_softmax(logits.float(), dim=-1)
        vals = [float(logp[j - 1, ids[j]]) for j in range(start, len(ids))]
        out.append(sum(vals) / len(vals))
    return out


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run(llm: str = "smollm2-135m", n_pairs: int = 48, n_seeds: int = 8,
        out: Path = Path("results/perf")) -> dict:
    """Time the naive loop and our scorer (float32, and the ``auto`` dtype when it differs),
    and the pipeline when n_seeds > 0; write fret.json and fret.md."""
    fp32 = TransformersLLM(llm, batch_size=16, dtype="float32")
    fast_dtype = resolve_dtype("auto", "cpu")
    fast = fp32 if fast_dtype == "float32" else TransformersLLM(llm, batch_size=16,
                                                                 dtype=fast_dtype)
    passages = seed_passages(limit=n_pairs, seed=1)
    pairs = [P.ql_pair(p.text, P.EXAMPLES[i % len(P.EXAMPLES)].query)
             for i, p in enumerate(passages)]
    prompts, conts = [a for a, _ in pairs], [b for _, b in pairs]
    prefix = P.ql_prefix()
    for model in [fp32] if fast is fp32 else [fp32, fast]:  # warm-up (and prefix cache)
        model.logprobs(prompts[:2], conts[:2], prefix=prefix)
    naive_logprobs(fp32, prefix, prompts[:1], conts[:1])
    naive, t_naive = _timed(lambda: naive_logprobs(fp32, prefix, prompts, conts))
    ours, t_ours = _timed(lambda: fp32.logprobs(prompts, conts, prefix=prefix))
    fast_scores, t_fast = (ours, t_ours) if fast is fp32 else \
        _timed(lambda: fast.logprobs(prompts, conts, prefix=prefix))
    result = {
        "llm": llm, "device": device_name("cpu"), "threads": torch.get_num_threads(),
        "pairs": len(pairs), "naive_pairs_per_s": len(pairs) / t_naive,
        "batched_fp32_pairs_per_s": len(pairs) / t_ours, "speedup_fp32": t_naive / t_ours,
        "max_abs_diff_fp32": max(abs(a - b) for a, b in zip(ours, naive)),
        "auto_dtype": fast_dtype, "batched_auto_pairs_per_s": len(pairs) / t_fast,
        "speedup_auto": t_naive / t_fast,
        "max_abs_diff_auto": max(abs(a - b) for a, b in zip(fast_scores, naive)),
        "spearman_auto_vs_naive": float(spearmanr(fast_scores, naive).statistic),
    }
    if n_seeds:
        from gecko_bench.fret.pipeline import build

        cfg = dataclasses.replace(C.FretConfig(llm=llm), n_seeds=n_seeds, batch_size=4)
        with tempfile.TemporaryDirectory() as tmp:
            fast.batch_size = cfg.batch_size
            _, elapsed = _timed(lambda: build(cfg, db_path=Path(tmp) / "perf.duckdb", llm=fast,
                                              show_progress=False))
        result |= {"pipeline_seeds": n_seeds, "pipeline_neighbours": cfg.n_neighbours,
                   "pipeline_seconds": elapsed, "seeds_per_min": 60 * n_seeds / elapsed}
    md = (f"# FRet scorer speed ({llm}, {result['device']}, {result['threads']} threads)\n\n"
          f"{len(pairs)} query-likelihood pairs, each scorer in the same process.\n\n"
          f"| scorer | pairs/s | speed-up | max abs diff of mean log-prob vs naive |\n"
          f"|---|---|---|---|\n"
          f"| naive one-pair-at-a-time forward, float32 | {result['naive_pairs_per_s']:.2f} | "
          f"1.0x | 0 |\n"
          f"| batched, shared few-shot prefix KV, logits_to_keep, float32 | "
          f"{result['batched_fp32_pairs_per_s']:.2f} | {result['speedup_fp32']:.1f}x | "
          f"{result['max_abs_diff_fp32']:.1e} |\n")
    if fast is not fp32:
        md += (f"| the same in {fast_dtype} (`dtype=auto` on this CPU: the default) | "
               f"{result['batched_auto_pairs_per_s']:.2f} | **{result['speedup_auto']:.1f}x** | "
               f"{result['max_abs_diff_auto']:.2f} (Spearman {result['spearman_auto_vs_naive']:.3f}) |\n")
    else:
        md += "\nThis CPU has no native bfloat16, so `dtype=auto` is float32 here.\n"
    if n_seeds:
        md += (f"\nWhole pipeline ({fast_dtype}: generate, retrieve top-"
               f"{result['pipeline_neighbours']}, QL+RC ranking, store): {n_seeds} seeds in "
               f"{result['pipeline_seconds']:.0f} s = **{result['seeds_per_min']:.1f} seeds/min**.\n")
    md += "\nCommand: `gecko-bench perf fret" + (f" --llm {llm}" if llm != "smollm2-135m" else "") \
        + "`\n"
    out.mkdir(parents=True, exist_ok=True)
    stem = "fret" if llm == "smollm2-135m" else f"fret-{llm}"
    (out / f"{stem}.json").write_text(json.dumps(result, indent=2))
    (out / f"{stem}.md").write_text(md)
    return result | {"markdown": md}
