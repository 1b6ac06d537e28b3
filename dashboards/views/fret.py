"""fret page."""

from __future__ import annotations

from pathlib import Path

from dashboards import common


def render(db: Path) -> None:
    common.need("gecko_bench.store.scores", "scores store", "Run `gecko-bench eval`.")
