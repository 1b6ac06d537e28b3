"""gecko_bench: Gecko-style LLM distillation into embedding models, and offline benchmarks."""

__version__ = "0.1.0"
