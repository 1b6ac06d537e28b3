"""Optional backend for GPUs: vLLM (``pip install gecko-bench[vllm]``), imported lazily.

Scoring uses ``prompt_logprobs``: vLLM returns the log-prob of every prompt token, and the
continuation's tokens are the last ones of ``prefix + prompt + continuation``.
"""

from __future__ import annotations

from collections.abc import Sequence

from gecko_bench.errors import InputError
from gecko_bench.llm.base import LLM, cut_at_stop
from gecko_bench.llm.transformers_backend import cached_hf_folder


class VllmLLM(LLM):
    """A model served in-process by vLLM (CUDA); loads the dequantized HF folder."""

    def __init__(self, name_or_path: str, gpu_memory_utilization: float = 0.8) -> None:
        try:
            from vllm import LLM as Engine
        except ImportError as exc:
            raise InputError("the vLLM backend needs vllm on a CUDA machine: "
                             "pip install 'gecko-bench[vllm]'") from exc
        self.name = name_or_path
        self.engine = Engine(model=str(cached_hf_folder(name_or_path)),
                             gpu_memory_utilization=gpu_memory_utilization)
        self.tokenizer = self.engine.get_tokenizer()

    def token_logprobs(self, prompts: Sequence[str], continuations: Sequence[str],
                       prefix: str = "") -> list[list[float]]:
        from vllm import SamplingParams

        params = SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=0.0)
        contexts = [self.tokenizer(prefix + p)["input_ids"] for p in prompts]
        targets = [self.tokenizer(c, add_special_tokens=False)["input_ids"] for c in continuations]
        results = self.engine.generate(
            [{"prompt_token_ids": ctx + tgt} for ctx, tgt in zip(contexts, targets)], params,
            use_tqdm=False)
        out = []
        for res, ctx, tgt in zip(results, contexts, targets):
            steps = res.prompt_logprobs[len(ctx):]
            out.append([step[tok].logprob for step, tok in zip(steps, tgt)])
        return out

    def generate(self, prompts: Sequence[str], max_new_tokens: int = 64,
                 temperature: float = 0.7, seed: int = 0,
                 stop: Sequence[str] = ("\n\n",)) -> list[str]:
        from vllm import SamplingParams

        params = SamplingParams(max_tokens=max_new_tokens, temperature=temperature, seed=seed,
                                stop=list(stop))
        results = self.engine.generate(list(prompts), params, use_tqdm=False)
        return [cut_at_stop(r.outputs[0].text, stop) for r in results]
