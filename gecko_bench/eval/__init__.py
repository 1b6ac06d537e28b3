"""Benchmark evaluation: mteb's evaluators, an embedding cache, MRL dims, scores into the store.

Entry point: :func:`evaluate` (``gecko-bench eval``). See docs/eval.md.
"""

from gecko_bench.eval.cache import EmbeddingCache, default_cache_root
from gecko_bench.eval.backends import Backend, load_backend
from gecko_bench.eval.encoder import GeckoEncoder
from gecko_bench.eval.prompts import PROMPT_STYLES
from gecko_bench.eval.resolve import valid_suites
from gecko_bench.eval.runner import evaluate

__all__ = ["Backend", "EmbeddingCache", "GeckoEncoder", "PROMPT_STYLES", "default_cache_root",
           "evaluate", "load_backend", "valid_suites"]
