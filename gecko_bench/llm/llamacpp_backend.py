"""Optional backend: llama.cpp's own CPU kernels on the packaged GGUF, quantized as shipped.

Through llama-cpp-python (``pip install 'gecko-bench[llamacpp]'``; it compiles llama.cpp, ~20
min on 2 cores, which is why it is optional). ``Llama`` loads the model and samples. Scoring
needs log-probs at the continuation positions only: ``Llama(logits_all=True)`` would keep a
``n_ctx x n_vocab`` float32 array (1 GiB for gemma3's 262k vocabulary at 1k tokens), so
:meth:`LlamaCppLLM._decode` asks ``llama_decode`` for just those rows and reuses the KV cache of
the tokens it shares with the previous call (the few-shot prefix, the same passage).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Sequence

import numpy as np

from gecko_bench.errors import InputError
from gecko_bench.llm.base import LLM, cut_at_stop, one_token_choices
from gecko_bench.llm.transformers_backend import _resolve_gguf


class LlamaCppLLM(LLM):
    """A GGUF model run by llama.cpp on CPU (or its GPU build), weights as quantized."""

    dtype = "gguf"  # the file's own quantization: what the scores were computed in

    def __init__(self, name_or_path: str, n_ctx: int = 2048, n_threads: int | None = None) -> None:
        try:
            import llama_cpp
        except ImportError as exc:
            raise InputError("the llama.cpp backend needs llama-cpp-python: "
                             "pip install 'gecko-bench[llamacpp]'") from exc
        name, gguf, _ = _resolve_gguf(name_or_path)
        self.name = name
        self._api = llama_cpp
        self.llama = llama_cpp.Llama(model_path=str(gguf), n_ctx=n_ctx, n_batch=n_ctx,
                                     n_threads=n_threads or len(os.sched_getaffinity(0)),
                                     verbose=False)
        # closed while the interpreter still runs: llama-cpp-python's own __del__ fails at exit
        weakref.finalize(self, self.llama.close)
        self.n_ctx = n_ctx
        self.n_vocab = self.llama.n_vocab()
        self._cached: list[int] = []  # tokens whose KV entries are in sequence 0

    # ------------------------------------------------------------ tokens

    def _split(self, context: str, continuation: str) -> tuple[list[int], int]:
        """Ids of ``context + continuation`` tokenized jointly and where the continuation starts:
        the first token starting at or after the context's last byte (the transformers
        backend's rule, so both score the same tokens)."""
        ids = self.llama.tokenize((context + continuation).encode(), add_bos=True)
        n_context, end = len(context.encode()), 0
        for i, token in enumerate(ids):
            piece = self.llama.detokenize([token])
            if end >= n_context and piece and i > 0:
                return ids, i
            end += len(piece)
        raise ValueError(f"continuation {continuation!r} has no tokens of its own after "
                         f"{context[-30:]!r}")

    # ------------------------------------------------------------ decoding

    def _decode(self, ids: list[int], want: range) -> np.ndarray:
        """Log-softmax rows at the positions in `want` (row j predicts token j + 1) after
        decoding `ids`, keeping the KV entries of the prefix shared with the last call."""
        if len(ids) > self.n_ctx:
            raise InputError(f"{len(ids)} tokens exceed the llama.cpp context of {self.n_ctx}")
        api, ctx = self._api, self.llama._ctx
        keep = next((j for j, (a, b) in enumerate(zip(self._cached, ids)) if a != b),
                    min(len(self._cached), len(ids)))
        keep = min(keep, want.start)  # every wanted row comes from this decode
        if not ctx.kv_cache_seq_rm(0, keep, -1):  # a cache that cannot drop a suffix
            ctx.kv_cache_seq_rm(0, 0, -1)
            keep = 0
        todo = ids[keep:]
        batch = api.llama_batch_init(len(todo), 0, 1)
        try:
            batch.n_tokens = len(todo)
            for i, token in enumerate(todo):
                batch.token[i] = token
                batch.pos[i] = keep + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = keep + i in want
            self._cached = []
            if api.llama_decode(ctx.ctx, batch) != 0:
                raise RuntimeError("llama_decode failed")
        finally:
            api.llama_batch_free(batch)
        self._cached = list(ids)
        rows = np.stack([np.ctypeslib.as_array(api.llama_get_logits_ith(ctx.ctx, pos - keep),
                                               shape=(self.n_vocab,)).astype(np.float64)
                         for pos in want])
        return rows - np.logaddexp.reduce(rows, axis=-1, keepdims=True)

    # ------------------------------------------------------------ scoring

    def token_logprobs(self, prompts: Sequence[str], continuations: Sequence[str],
                       prefix: str = "") -> list[list[float]]:
        out = []
        for prompt, cont in zip(prompts, continuations):
            ids, start = self._split(prefix + prompt, cont)
            logp = self._decode(ids, range(start - 1, len(ids) - 1))
            out.append([float(logp[j, t]) for j, t in enumerate(ids[start:])])
        return out

    def choice_logprobs(self, prompts: Sequence[str], choices: Sequence[str],
                        prefix: str = "") -> list[list[float]]:
        """One decode per prompt reads every choice off the next-token distribution when each
        choice is one token after it (" Yes" / " No" are); otherwise one scoring per choice."""
        rows = []
        for prompt in prompts:
            splits = [self._split(prefix + prompt, c) for c in choices]
            if not one_token_choices(splits):
                return super().choice_logprobs(prompts, choices, prefix)
            ids0, s0 = splits[0]
            logp = self._decode(ids0[:s0], range(s0 - 1, s0))
            rows.append([float(logp[0, ids[s]]) for ids, s in splits])
        return rows

    # ------------------------------------------------------------ sampling

    def generate(self, prompts: Sequence[str], max_new_tokens: int = 64,
                 temperature: float = 0.7, seed: int = 0,
                 stop: Sequence[str] = ("\n\n",)) -> list[str]:
        """Pure sampling at `temperature` like the transformers backend (no top-k / top-p /
        min-p, no repeat penalty); greedy at 0."""
        out = []
        for i, prompt in enumerate(prompts):
            self.llama.reset()  # the KV cache holds our scoring tokens, not its own
            self._cached = []
            res = self.llama.create_completion(
                prompt, max_tokens=max_new_tokens, temperature=temperature, top_k=0, top_p=1.0,
                min_p=0.0, repeat_penalty=1.0, seed=seed + i, stop=list(stop))
            out.append(cut_at_stop(res["choices"][0]["text"], stop))
        return out
