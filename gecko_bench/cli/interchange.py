"""``gecko-bench export`` (mteb results layout or Parquet) and ``gecko-bench import``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from gecko_bench.errors import InputError

console = Console()


def export_command(
    out: Path = typer.Argument(..., help="Folder to write into (created if missing)."),
    fmt: str = typer.Option("mteb", "--format", "-f", help="mteb (mteb's results layout: "
                            "<model>/<revision>/<Task>.json + model_meta.json) | parquet "
                            "(scores.parquet + item_scores.parquet)."),
    model: Optional[list[str]] = typer.Option(
        None, "--model", "-m", help="Only this model (name or model id prefix; repeatable)."),
    suite: Optional[str] = typer.Option(None, "--suite", "-s",
                                        help="Only the tasks of this suite."),
    history: bool = typer.Option(False, "--history", help="parquet: every stored row (all "
                                 "runs and revisions), not only the current scores."),
    db: Optional[Path] = typer.Option(None, "--db", help="DuckDB results file."),
) -> None:
    """Write the current scores as mteb result files, or scores and item scores as Parquet."""
    from gecko_bench import mteb_results

    if fmt not in ("mteb", "parquet"):
        raise InputError(f"--format must be mteb or parquet, got {fmt!r}")
    if history and fmt != "parquet":
        raise InputError("--history goes with --format parquet (mteb files hold current "
                         "scores only)")
    if fmt == "parquet":
        done = mteb_results.export_parquet(out, db, models=model, suite=suite, history=history)
        counts = done["counts"]
        console.print(f"wrote {counts['scores.parquet']} score rows and "
                      f"{counts['item_scores.parquet']} item rows "
                      f"({'history' if history else 'current'}) to {out}", highlight=False)
        return
    done = mteb_results.export_mteb(out, db, models=model, suite=suite)
    console.print(f"wrote {done['files']} mteb task files for {len(done['models'])} model(s) "
                  f"to {out}:", highlight=False)
    for f in done["folders"]:
        where = f"{f['revision'][:12]}" + (f"/experiments/{f['experiment']}"
                                           if f["experiment"] else "")
        console.print(f"  {f['model']} {where}: {f['tasks']} tasks, dim {f['dim']}, "
                      f"{f['protocol']}", highlight=False)


def import_command(
    folder: Path = typer.Argument(..., help="mteb results folder (<model>/<revision>/"
                                  "<Task>.json, or a folder holding results/)."),
    db: Optional[Path] = typer.Option(None, "--db", help="DuckDB results file."),
) -> None:
    """Store an mteb results folder (e.g. published results) as an import run."""
    from gecko_bench.mteb_results import import_mteb

    done = import_mteb(folder, db)
    if not done["run_ids"]:
        console.print(f"nothing new: every result in {folder} is already in the store",
                      highlight=False)
        return
    console.print(f"imported {done['files']} task files ({done['rows']} score rows, "
                  f"{len(done['models'])} model folder(s)) as run(s) {', '.join(done['run_ids'])}; "
                  f"{done['current']} at the task's current revision (on the leaderboard), "
                  f"{done['history']} kept as history only"
                  + (f" ({', '.join(done['history_tasks'])}: other or unknown revision)"
                     if done["history"] else ""), highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``export`` and ``import`` to the top-level app."""
    app.command("export")(export_command)
    app.command("import")(import_command)
