"""``gecko-bench perf fret``: our batched scorer vs a naive one-pair-at-a-time loop, and the
whole pipeline's seeds/min, in one process on the same model and pairs."""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from pathlib import Path

import torch

from gecko_bench import config as C
from gecko_bench.corpora.seeds import seed_passages
from gecko_bench.fret import prompts as P
from gecko_bench.llm.transformers_backend import TransformersLLM
from gecko_bench.provenance import device_name


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


def run(llm: str = "smollm2-135m", n_pairs: int = 48, n_seeds: int = 8,
        out: Path = Path("results/perf")) -> dict:
    """Time both scorers (and the pipeline when n_seeds > 0); write fret.json and fret.md."""
    model = TransformersLLM(llm, batch_size=16)
    passages = seed_passages(limit=n_pairs, seed=1)
    pairs = [P.ql_pair(p.text, P.EXAMPLES[i % len(P.EXAMPLES)].query)
             for i, p in enumerate(passages)]
    prompts, conts = [a for a, _ in pairs], [b for _, b in pairs]
    prefix = P.ql_prefix()
    model.logprobs(prompts[:2], conts[:2], prefix=prefix)  # warm-up (and prefix cache)
    naive_logprobs(model, prefix, prompts[:1], conts[:1])
    t0 = time.perf_counter()
    ours = model.logprobs(prompts, conts, prefix=prefix)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive = naive_logprobs(model, prefix, prompts, conts)
    t_naive = time.perf_counter() - t0
    result = {
        "llm": llm, "device": device_name("cpu"), "threads": torch.get_num_threads(),
        "pairs": len(pairs), "batched_pairs_per_s": len(pairs) / t_ours,
        "naive_pairs_per_s": len(pairs) / t_naive, "speedup": t_naive / t_ours,
        "max_abs_diff_mean_logprob": max(abs(a - b) for a, b in zip(ours, naive)),
    }
    if n_seeds:
        from gecko_bench.fret.pipeline import build

        cfg = dataclasses.replace(C.FretConfig(llm=llm), n_seeds=n_seeds, batch_size=4)
        with tempfile.TemporaryDirectory() as tmp:
            model.batch_size = cfg.batch_size
            t0 = time.perf_counter()
            build(cfg, db_path=Path(tmp) / "perf.duckdb", llm=model, show_progress=False)
            elapsed = time.perf_counter() - t0
        result |= {"pipeline_seeds": n_seeds, "pipeline_neighbours": cfg.n_neighbours,
                   "pipeline_seconds": elapsed, "seeds_per_min": 60 * n_seeds / elapsed}
    md = (f"# FRet scorer speed ({llm}, {result['device']}, {result['threads']} threads)\n\n"
          f"| scorer | pairs/s |\n|---|---|\n"
          f"| batched, shared few-shot prefix KV, logits_to_keep | "
          f"{result['batched_pairs_per_s']:.2f} |\n"
          f"| naive one-pair-at-a-time forward | {result['naive_pairs_per_s']:.2f} |\n\n"
          f"Speed-up **{result['speedup']:.1f}x** on {len(pairs)} query-likelihood pairs; the two "
          f"agree to {result['max_abs_diff_mean_logprob']:.1e} in mean log-prob.\n")
    if n_seeds:
        md += (f"\nWhole pipeline (generate, retrieve top-{result['pipeline_neighbours']}, QL+RC "
               f"ranking, store): {n_seeds} seeds in {result['pipeline_seconds']:.0f} s = "
               f"**{result['seeds_per_min']:.1f} seeds/min**.\n")
    md += "\nCommand: `gecko-bench perf fret" + (f" --llm {llm}" if llm != "smollm2-135m" else "") \
        + "`\n"
    out.mkdir(parents=True, exist_ok=True)
    stem = "fret" if llm == "smollm2-135m" else f"fret-{llm}"
    (out / f"{stem}.json").write_text(json.dumps(result, indent=2))
    (out / f"{stem}.md").write_text(md)
    return result | {"markdown": md}
