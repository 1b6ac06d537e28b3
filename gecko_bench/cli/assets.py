"""``gecko-bench assets``: list, fetch and verify models and open data."""

from __future__ import annotations

from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from gecko_bench import assets
from gecko_bench.assets.registry import default_models
from gecko_bench.progress import StageProgress

app = typer.Typer(help="Models and open-data sources: list, fetch, verify.", no_args_is_help=True)
console = Console()


@app.command("list")
def list_assets() -> None:
    """Table of every registered model and data source with its fetch status and licence."""
    table = Table(title=f"gecko-bench assets ({assets.gecko_home()})")
    # Names and sizes never shrink to an ellipsis on a narrow terminal; the licence wraps.
    longest = max(len(n) for n in [*assets.MODELS, *assets.DATA_SOURCES])
    table.add_column("name", no_wrap=True, min_width=longest)
    table.add_column("kind", overflow="fold")
    table.add_column("status", overflow="fold")
    table.add_column("size", no_wrap=True, min_width=8)
    table.add_column("licence", overflow="fold")
    for m in assets.MODELS.values():
        status = "fetched" if assets.is_fetched("model", m.name) else "missing"
        table.add_row(m.name, f"model ({m.kind})", status, f"{m.size_mb} MB", m.licence)
    from gecko_bench.eval import lexical  # nothing to fetch: a Python dependency

    for name in lexical.LEXICAL_MODELS:
        table.add_row(name, f"model ({lexical.KIND})", lexical.availability(), "0 MB",
                      lexical.LICENCE)
    for d in assets.DATA_SOURCES.values():
        status = "fetched" if assets.is_fetched("data", d.name) else "missing"
        table.add_row(d.name, "data", status, f"{d.size_mb} MB", d.licence)
    console.print(table)


@app.command("fetch")
def fetch(
    models: Optional[list[str]] = typer.Option(
        None, "--models", "-m", help="Model names to fetch (repeatable). Default: every model "
        "but the optional teachers (qwen2.5-coder-*), which are fetched when named."),
    data: Optional[list[str]] = typer.Option(
        None, "--data", "-d", help="Data source names to fetch (repeatable). Default: all data."),
) -> None:
    """Download, checksum and unpack assets into the cache. Idempotent: fetched ones are skipped.

    With neither --models nor --data, fetches every model not marked on-request, and all data.
    """
    if models is None and data is None:
        models, data = default_models(), list(assets.DATA_SOURCES)
    work = [("model", assets.get_model(n).name) for n in models or []] + \
           [("data", assets.get_source(n).name) for n in data or []]
    with StageProgress(console=console) as progress:
        bar = progress.add_task("fetching assets", total=len(work))
        for kind, name in work:
            already = assets.is_fetched(kind, name)
            progress.update(bar, description=f"{kind} {name}")
            path = assets.fetch_model(name) if kind == "model" else assets.fetch_source(name)
            progress.console.print(f"  {kind:5} {name:24} {'cached' if already else 'fetched'}"
                                   f"  {path}")
            progress.advance(bar)


@app.command("verify")
def verify() -> None:
    """Re-hash every fetched package and weight file; exit 1 if anything is corrupt."""
    rows = assets.verify()
    table = Table(title="asset verification")
    for col in ("asset", "item", "status"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row, style=None if row[2].startswith("ok") else "bold red")
    console.print(table)
    bad = [r for r in rows if not r[2].startswith("ok")]
    if not rows:
        console.print("nothing fetched yet: run `gecko-bench assets fetch`")
    if bad:
        console.print(f"[bold red]{len(bad)} corrupt item(s)[/]; they will be re-fetched by "
                      "`gecko-bench assets fetch`")
        raise typer.Exit(1)
