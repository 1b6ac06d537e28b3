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


@app.command("smoke")
def smoke(
    model: str = typer.Option("minilm-l6", "--model", help="Registered sentence-transformers "
                              "model name or checkpoint folder."),
    suite: str = typer.Option("gecko-offline-tiny", "--suite", help="Suite to run."),
    langs: str = typer.Option("", "--langs", help="Comma-separated languages for multilingual "
                              "tasks (default: all of the suite's)."),
) -> None:
    """Run a suite through plain mteb.evaluate (no store, no cache): main score and time per task.

    A check that the tasks load and score offline; real evaluations go through `gecko-bench eval`.
    """
    import os
    import time

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import mteb
    from gecko_bench.progress import StageProgress

    from gecko_bench.assets.loaders import load_sentence_transformer
    from gecko_bench.tasks import get_suite

    tasks = get_suite(suite, langs=[x for x in langs.split(",") if x] or None)
    encoder = load_sentence_transformer(model)
    table = Table("task", "subset: main score", "wall s", "cpu s")
    wall0, cpu0 = time.time(), time.process_time()
    with StageProgress() as progress:
        bar = progress.add_task(f"{suite} on {model}", total=len(tasks))
        for task in tasks:
            wall, cpu = time.time(), time.process_time()
            result = mteb.evaluate(encoder, [task], cache=None, show_progress_bar=False)
            scores = result.task_results[0].scores["test"]
            table.add_row(task.metadata.name,
                          ", ".join(f"{s['hf_subset']}: {s['main_score']:.3f}" for s in scores),
                          f"{time.time() - wall:.1f}", f"{time.process_time() - cpu:.1f}")
            progress.advance(bar)
    table.add_row("TOTAL", "", f"{time.time() - wall0:.1f}", f"{time.process_time() - cpu0:.1f}")
    Console().print(table)


@app.command("export")
def export(
    task: str = typer.Argument(..., help="A registered retrieval task, e.g. ManPageRetrieval or "
                               "ManPageRetrieval-tiny."),
    folder: str = typer.Argument(..., help="Where to write corpus.jsonl, queries.jsonl and "
                                 "qrels/test.tsv (created; must not hold a BEIR folder yet)."),
    dev_queries: int = typer.Option(0, "--dev-queries", help="Put this many of the queries "
                                    "(a fixed sample) in qrels/dev.tsv: a domain job chooses "
                                    "on them and reports on the rest (docs/domain.md)."),
    lang: str = typer.Option("", "--lang", help="Of a multilingual (MIRACL-style) task, the "
                             "language to write, e.g. de."),
) -> None:
    """Write a registered offline retrieval task as a BEIR folder (for --beir-dir, --corpus)."""
    from pathlib import Path

    from gecko_bench.eval.beir_task import export_beir

    counts = export_beir(task, Path(folder), dev_queries=dev_queries, lang=lang or None)
    name = f"{task} ({lang})" if lang else task
    Console().print(f"{name} -> {folder}: {counts['corpus']} documents, {counts['queries']} "
                    f"queries, {counts['qrels']} qrels"
                    + (f"; {counts['dev_queries']} queries in qrels/dev.tsv, the rest in "
                       "qrels/test.tsv" if dev_queries else ""), highlight=False)
