"""``gecko-bench tasks``: the offline evaluation suites and their tasks."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Offline evaluation tasks and suites (real open text as mteb tasks).",
                  no_args_is_help=True)


@app.command("suites")
def suites() -> None:
    """List the suites and the tasks in each."""
    from gecko_bench.tasks import list_suites

    table = Table("suite", "tasks", "task names")
    for name, tasks in list_suites().items():
        table.add_row(name, str(len(tasks)), ", ".join(tasks))
    Console().print(table)


@app.command("list")
def list_tasks(
    sizes: bool = typer.Option(False, "--sizes", help="Build every task to report its size "
                               "(full and tiny); takes ~20 s the first time."),
) -> None:
    """List every full task: category, source, licence, main metric (and sizes)."""
    from rich.progress import track

    from gecko_bench.tasks.registry import FULL_TASKS, describe, task_category

    table = Table("task", "category", "source", "licence", "main metric", "gecko instruction")
    if sizes:
        table.add_column("size (full)")
        table.add_column("size (tiny)")
        for name in track(list(FULL_TASKS), description="building tasks"):
            row = describe(name)
            table.add_row(row["task"], row["category"], row["source"], row["licence"],
                          row["main metric"], row["instruction"], row["size"], row["tiny size"])
    else:
        for name, cls in FULL_TASKS.items():
            task = cls()
            table.add_row(name, task_category(task), task.source, task.licence,
                          task.metadata.main_score, task.gecko_instruction)
    Console().print(table)
