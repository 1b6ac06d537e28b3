"""``gecko-bench run``: the main job, end to end and resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from gecko_bench import config

console = Console()


def run(
    profile: str = typer.Option("tiny", "--profile", "-p",
                                help="tiny (CI, minutes on 2 cores) | demo (make demo: a "
                                "domain job on the German Debian FAQ) | cpu | gpu"),
    db: Optional[Path] = typer.Option(None, "--db", help="Results database "
                                      "(default results/gecko_bench.duckdb)."),
    device: Optional[str] = typer.Option(None, "--device", help="Override the profile's device "
                                         "(cpu, cuda)."),
    work_root: Optional[Path] = typer.Option(None, "--work-dir", help="Where checkpoints and "
                                             "exported data go (default results/runs/)."),
    overrides: Optional[list[str]] = typer.Option(
        None, "--set", help="Override a profile field, e.g. --set fret.n_seeds=8 "
        "--set eval.tasks=LeeSTS-tiny (repeatable)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table | json (the report as one "
                            "JSON document on stdout, progress on stderr)."),
    corpus: Optional[str] = typer.Option(
        None, "--corpus", help="Domain job: adapt to this BEIR folder (corpus.jsonl; with "
        "queries.jsonl + qrels/ its own queries are evaluated and reported first), or to a "
        "registered retrieval task (Task or Task:lang, exported with domain.dev_queries dev "
        "queries). Seeds are sampled from its documents, neighbours searched in all of them "
        "(docs/domain.md)."),
) -> None:
    """The main job, end to end: FRet data, pre-finetune, fine-tune, evaluate, report.

    Fetch assets, build FRet data with the profile's LLM, pre-finetune and fine-tune the
    student, evaluate it with its base and the baselines at every MRL dim, store everything in
    DuckDB and print the leaderboard and the student's gain per category.

    With --corpus it is a domain job: FRet seeds from that corpus, the target's own queries
    evaluated first, general-suite tasks that share its texts marked as touched.

    Rerunning continues after a kill; rerunning after completion only prints the results.
    """
    from gecko_bench.cli.output import check_format, echo_json, stdout_to_stderr
    from gecko_bench.pipeline import run_pipeline
    from gecko_bench.report import build_report, render_report, report_dict

    check_format(fmt, ("table", "json"))
    resolved = config.apply_overrides(config.resolve(profile), overrides or [])
    target = corpus if corpus is not None else resolved.domain.corpus  # the demo profile's
    if target:
        from gecko_bench.domain import configure

        configure(resolved, target)
    if device:
        resolved.device = device
    out = console if fmt == "table" else Console(stderr=True)
    with stdout_to_stderr(fmt == "json"):
        result = run_pipeline(resolved, db_path=db, root=work_root, console=out)
        report = build_report(result, resolved)
    if fmt == "json":
        echo_json(report_dict(report))
        return
    render_report(report, console)
    console.print(f"\nExplore the results: [bold]gecko-bench dashboard --db {result.db_path}[/]")
