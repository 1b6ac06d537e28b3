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

from gecko_bench import config
from gecko_bench.corpora.seeds import seed_passages
from gecko_bench.fret import prompts
from gecko_bench.llm.transformers_backend import TransformersLLM, resolve_dtype
from gecko_bench.provenance import device_name

T = TypeVar("T")


def naive_logprobs(llm: TransformersLLM, prefix: str, prompt_texts: list[str],
                   continuations: list[str]) -> list[float]:
    """The obvious loop: one full forward per pair (prefix re-encoded, logits for every
    position through the vocabulary head, no batching)."""
    out = []
    for prompt, cont in zip(prompt_texts, continuations):
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
    pairs = [prompts.ql_pair(p.text, prompts.EXAMPLES[i % len(prompts.EXAMPLES)].query)
             for i, p in enumerate(passages)]
    prompt_texts, conts = [a for a, _ in pairs], [b for _, b in pairs]
    prefix = prompts.ql_prefix()
    for model in [fp32] if fast is fp32 else [fp32, fast]:  # warm-up (and prefix cache)
        model.logprobs(prompt_texts[:2], conts[:2], prefix=prefix)
    naive_logprobs(fp32, prefix, prompt_texts[:1], conts[:1])
    naive, t_naive = _timed(lambda: naive_logprobs(fp32, prefix, prompt_texts, conts))
    ours, t_ours = _timed(lambda: fp32.logprobs(prompt_texts, conts, prefix=prefix))
    fast_scores, t_fast = (ours, t_ours) if fast is fp32 else \
        _timed(lambda: fast.logprobs(prompt_texts, conts, prefix=prefix))
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

        cfg = dataclasses.replace(config.FretConfig(llm=llm), n_seeds=n_seeds, batch_size=4)
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


GEN_TOKENS = 32


def compare_backends(llm: str = "gemma3-270m", n_pairs: int = 40, n_gen: int = 4,
                     out: Path = Path("results/perf")) -> dict:
    """FRet's stage-3 scoring (QL + RC for the same real (passage, query) pairs) through the
    transformers backend (its ``auto`` dtype) and llama.cpp (the GGUF as quantized), in one
    process: pairs/s of each, their ratio, and how far the scores agree, plus seconds per
    generated query prompt (greedy, up to GEN_TOKENS new tokens); writes
    ``fret-backends-<llm>.{json,md}``."""
    from gecko_bench.fret.pipeline import score_pairs
    from gecko_bench.llm.llamacpp_backend import LlamaCppLLM

    passages = seed_passages(limit=n_pairs, seed=1)
    # each query against several passages, as in re-ranking (query i's own passage among them)
    pairs = [(p.text, prompts.EXAMPLES[(i // 4) % len(prompts.EXAMPLES)].query)
             for i, p in enumerate(passages)]
    hf = TransformersLLM(llm, batch_size=8, dtype="auto")
    cpp = LlamaCppLLM(llm)
    gen_prompts = [prompts.generation_prompt(p.text, i)[0] for i, p in enumerate(passages[:n_gen])]
    scores, seconds, gen_s = {}, {}, {}
    for name, model in (("transformers", hf), ("llamacpp", cpp)):
        score_pairs(model, pairs[:2])  # warm-up: prefix caches, first-call allocations
        scores[name], seconds[name] = _timed(lambda m=model: score_pairs(m, pairs))
        # FRet stage 1: greedy, no stop string, so both write up to GEN_TOKENS tokens
        _, gen_s[name] = _timed(lambda m=model: m.generate(
            gen_prompts, max_new_tokens=GEN_TOKENS, temperature=0, stop=()))
    result = {"llm": llm, "device": device_name("cpu"), "threads": torch.get_num_threads(),
              "pairs": len(pairs), "transformers_dtype": hf.dtype,
              **{f"{b}_pairs_per_s": len(pairs) / s for b, s in seconds.items()},
              "llamacpp_speedup": seconds["transformers"] / seconds["llamacpp"],
              "generation_prompts": len(gen_prompts), "generation_max_new_tokens": GEN_TOKENS,
              **{f"{b}_generation_s_per_prompt": s / len(gen_prompts) for b, s in gen_s.items()},
              "llamacpp_generation_speedup": gen_s["transformers"] / gen_s["llamacpp"]}
    for key in ("ql", "rc_norm"):
        a, b = scores["transformers"][key], scores["llamacpp"][key]
        result[f"{key}_spearman"] = float(spearmanr(a, b).statistic)
        result[f"{key}_max_abs_diff"] = max(abs(x - y) for x, y in zip(a, b))
    md = (f"# FRet scoring backends ({llm}, {result['device']}, {result['threads']} threads)\n\n"
          f"QL + RC scoring of the same {len(pairs)} (passage, query) pairs, one process.\n\n"
          f"| backend | pairs/s | speed-up |\n|---|---|---|\n"
          f"| transformers ({hf.dtype}, GGUF de-quantized) | "
          f"{result['transformers_pairs_per_s']:.2f} | 1.0x |\n"
          f"| llama.cpp (GGUF as quantized) | {result['llamacpp_pairs_per_s']:.2f} | "
          f"**{result['llamacpp_speedup']:.1f}x** |\n\n"
          f"Generation (FRet stage 1 prompts, greedy, up to {GEN_TOKENS} new tokens, no stop "
          f"string): {result['transformers_generation_s_per_prompt']:.1f} s per prompt through "
          f"transformers, {result['llamacpp_generation_s_per_prompt']:.1f} s through llama.cpp "
          f"(**{result['llamacpp_generation_speedup']:.1f}x**).\n\n"
          f"Agreement: QL Spearman {result['ql_spearman']:.3f} (max abs diff "
          f"{result['ql_max_abs_diff']:.3f}), RC normalised Spearman "
          f"{result['rc_norm_spearman']:.3f} (max abs diff {result['rc_norm_max_abs_diff']:.3f})."
          f"\n\nCommand: `gecko-bench perf fret --llm {llm} --backend llamacpp`\n")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"fret-backends-{llm}.json").write_text(json.dumps(result, indent=2))
    (out / f"fret-backends-{llm}.md").write_text(md)
    return result | {"markdown": md}
