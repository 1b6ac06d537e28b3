"""LLM backends behind one interface: ``generate`` and ``logprobs`` (see base.LLM).

``load_llm(name, backend)`` picks one: ``transformers`` (default), ``llamacpp`` or ``http``
(``name`` is then ``URL`` or ``URL#model``: any OpenAI-compatible server, e.g. ``vllm serve``
on a GPU box). Optional backends import their libraries lazily and say how to install them.
"""

from __future__ import annotations

from gecko_bench.errors import InputError
from gecko_bench.llm.base import LLM

BACKENDS = ("transformers", "llamacpp", "http")


def load_llm(name: str, backend: str = "transformers", device: str = "cpu",
             batch_size: int = 8, dtype: str = "auto", api_key: str | None = None) -> LLM:
    """An LLM by registered name / .gguf path (or server URL for ``http``).

    `dtype` applies to the transformers backend (see ``transformers_backend.resolve_dtype``);
    `api_key` to ``http`` (default ``$OPENAI_API_KEY``).
    """
    if backend == "transformers":
        from gecko_bench.llm.transformers_backend import TransformersLLM

        return TransformersLLM(name, device=device, batch_size=batch_size, dtype=dtype)
    if backend == "llamacpp":
        from gecko_bench.llm.llamacpp_backend import LlamaCppLLM

        return LlamaCppLLM(name)
    if backend == "http":
        from gecko_bench.llm.http_backend import HttpLLM

        url, _, model = name.partition("#")
        return HttpLLM(url, model=model or "default", batch_size=batch_size, api_key=api_key)
    raise InputError(f"unknown LLM backend {backend!r}; valid: {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "LLM", "load_llm"]
