"""Offline evaluation tasks (mteb 2.x task classes over :mod:`gecko_bench.corpora`) and suites.

Public API (imports mteb lazily, so ``from gecko_bench.tasks import overlap_guard`` stays light):
``list_suites``, ``get_suite``, ``get_task``, ``task_category`` (from :mod:`.registry`) and
``eval_texts``, ``normalize_text``, ``overlap_guard``, ``classification_train_sets`` (from
:mod:`.overlap`, which imports the registry only when called; the registry never imports it).
"""

from __future__ import annotations

from typing import Any

from gecko_bench.tasks.overlap import (
    classification_train_sets,
    eval_texts,
    normalize_text,
    overlap_guard,
)

_REGISTRY_NAMES = {"list_suites", "get_suite", "get_task", "task_category", "SUITES", "TASKS",
                   "FULL_TASKS", "TINY_TASKS", "CATEGORIES", "LANGS"}

__all__ = ["classification_train_sets", "eval_texts", "normalize_text", "overlap_guard",
           *sorted(_REGISTRY_NAMES)]


def __getattr__(name: str) -> Any:
    if name in _REGISTRY_NAMES:
        from gecko_bench.tasks import registry
        return getattr(registry, name)
    raise AttributeError(f"module 'gecko_bench.tasks' has no attribute {name!r}")
