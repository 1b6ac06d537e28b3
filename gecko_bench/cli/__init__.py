"""The ``gecko-bench`` command line: thin wrappers that parse, call and print.

Each command group lives in its own module and is added here with one line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from gecko_bench.cli import assets, dashboard, perf
from gecko_bench.cli.output import EXIT_CODES_HELP, quiet_third_party, version_text

app = typer.Typer(
    name="gecko-bench",
    help="Distill LLMs into compact text-embedding models the Gecko way, and benchmark "
    "checkpoints with every score stored in DuckDB.\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(version_text())
        raise typer.Exit()


@app.callback()
def main(
    home: Optional[Path] = typer.Option(
        None, "--home", envvar="GECKO_BENCH_HOME",
        help="Cache folder for models and data (default ~/.cache/gecko-bench)."),
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_version,
                                 help="Print the version (and git commit) and exit."),
    verbose: bool = typer.Option(
        False, "--verbose", envvar="GECKO_BENCH_VERBOSE",
        help="Also show third-party progress bars and warnings (hidden by default)."),
) -> None:
    """gecko-bench: Gecko-style distillation and embedding benchmarks, offline-first."""
    if home is not None:
        os.environ["GECKO_BENCH_HOME"] = str(home)
    if not verbose:
        quiet_third_party()


app.add_typer(assets.app, name="assets")
app.command("run")(__import__("gecko_bench.cli.run", fromlist=["run"]).run)
app.command("experiment")(__import__("gecko_bench.cli.experiment", fromlist=["x"]).experiment)
app.command("regress")(__import__("gecko_bench.cli.regress", fromlist=["regress"]).regress)
app.command("dashboard")(dashboard.dashboard)
# Area command groups register below, one line each; `perf` stays last so areas can add to it.
__import__("gecko_bench.cli.eval", fromlist=["register"]).register(app)  # eval, leaderboard
app.add_typer(__import__("gecko_bench.cli.train", fromlist=["app"]).app, name="train")
app.add_typer(__import__("gecko_bench.cli.fret", fromlist=["app"]).app, name="fret")
app.add_typer(__import__("gecko_bench.cli.tasks", fromlist=["app"]).app, name="tasks")
__import__("gecko_bench.cli.interchange", fromlist=["register"]).register(app)  # export, import
app.add_typer(perf.app, name="perf")


def run() -> None:
    """Console-script entry point: known errors print one clear line and exit 2."""
    from rich.console import Console
    from rich.markup import escape

    from gecko_bench.errors import GeckoBenchError

    try:
        app()
    except GeckoBenchError as exc:
        message = str(exc)
        # One line whatever the terminal width or the message's own line breaks; the message
        # is never read as markup.
        line = " ".join(part.strip() for part in message.splitlines() if part.strip())
        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(line)}",
                                                   highlight=False)
        raise SystemExit(2) from None
