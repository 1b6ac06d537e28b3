"""Optional backend: llama.cpp through llama-cpp-python (``pip install gecko-bench[llamacpp]``).

Imported lazily; never required (the package compiles from source for ~19 min on 2 cores).
It reads the packaged GGUF directly, so its log-probs check the transformers dequantization.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gecko_bench.errors import InputError
from gecko_bench.llm.base import LLM, cut_at_stop
from gecko_bench.llm.transformers_backend import _resolve_gguf


class LlamaCppLLM(LLM):
    """A GGUF model run by llama.cpp on CPU (or its GPU build)."""

    def __init__(self, name_or_path: str, n_ctx: int = 4096, n_threads: int | None = None) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise InputError("the llama.cpp backend needs llama-cpp-python: "
                             "pip install 'gecko-bench[llamacpp]'") from exc
        name, gguf, _ = _resolve_gguf(name_or_path)
        self.name = name
        self.llama = Llama(model_path=str(gguf), n_ctx=n_ctx, logits_all=True, verbose=False,
                           n_threads=n_threads)

    def token_logprobs(self, prompts: Sequence[str], continuations: Sequence[str],
                       prefix: str = "") -> list[list[float]]:
        out = []
        for prompt, cont in zip(prompts, continuations):
            # Joint tokenization; continuation tokens start at or after the context's last byte
            # (the transformers backend's rule, so the two agree on which tokens are scored).
            context = (prefix + prompt).encode()
            ids = self.llama.tokenize(context + cont.encode(), add_bos=True, special=False)
            ends = np.cumsum([len(self.llama.detokenize([t])) for t in ids])
            start = int(np.searchsorted(ends - [len(self.llama.detokenize([t])) for t in ids],
                                        len(context)))
            self.llama.reset()
            self.llama.eval(ids)
            logits = np.asarray(self.llama.scores[start - 1:len(ids) - 1])
            logp = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
            out.append([float(logp[j, t]) for j, t in enumerate(ids[start:])])
        return out

    def generate(self, prompts: Sequence[str], max_new_tokens: int = 64,
                 temperature: float = 0.7, seed: int = 0,
                 stop: Sequence[str] = ("\n\n",)) -> list[str]:
        out = []
        for i, prompt in enumerate(prompts):
            res = self.llama.create_completion(prompt, max_tokens=max_new_tokens,
                                               temperature=temperature, seed=seed + i,
                                               stop=list(stop))
            out.append(cut_at_stop(res["choices"][0]["text"], stop))
        return out
