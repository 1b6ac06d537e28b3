"""gecko_bench: Gecko-style LLM distillation into embedding models, and offline benchmarks.

The Python API (:mod:`gecko_bench.api`, loaded on first use so ``import gecko_bench`` stays
cheap): ``evaluate``, ``leaderboard``, ``scores``, ``EvalResult``.
"""

__version__ = "0.1.0"

_API = ("EvalResult", "evaluate", "leaderboard", "scores")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from gecko_bench import api

        return getattr(api, name)
    raise AttributeError(f"module 'gecko_bench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_API))
