"""``gecko-bench regress``: gate a candidate checkpoint against a baseline with paired tests."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from gecko_bench import regress as R
from gecko_bench.errors import InputError

console = Console()


def _ensure_evaluated(model: str, suite: Optional[str], db: Optional[Path]) -> None:
    """Evaluate `model` on `suite` first when the store has no scores for it."""
    try:
        R.resolve_model_id(db, model)
        return
    except InputError:
        if suite is None:
            raise
    from gecko_bench.eval import evaluate

    console.print(f"[yellow]{model} has no stored scores: evaluating it on {suite} first[/]")
    evaluate(model, suite=suite, db_path=db)


def _print_table(report: R.RegressionReport) -> None:
    table = Table(title=f"{report.candidate} vs {report.baseline} (dim {report.dim}, "
                        f"points 0-100, Holm-adjusted p)")
    show_subset = bool((report.table["subset"] != "default").any())
    for col in ("task", "subset", "n", "base", "cand", "delta [95% CI]", "p", "verdict"):
        if col != "subset" or show_subset:
            table.add_column(col, no_wrap=col == "delta [95% CI]", overflow="fold")
    for r in report.table.itertuples():
        subset = [r.subset] if show_subset else []
        if r.delta != r.delta:  # NaN: not tested
            table.add_row(r.task, *subset, str(r.n_items), "", "", "", "", r.note)
            continue
        verdict = ("[bold red]REGRESSED[/]" if r.regressed else
                   "[green]significant[/]" if r.significant else (r.note or "n.s."))
        p = "" if r.p_adjusted != r.p_adjusted else f"{r.p_adjusted:.3g}"
        table.add_row(r.task, *subset, str(r.n_items), f"{r.baseline:.1f}",
                      f"{r.candidate:.1f}", f"{r.delta:+.2f} [{r.ci_low:+.2f}, {r.ci_high:+.2f}]",
                      p, verdict)
    console.print(table)
    for side, tasks in report.missing.items():
        if tasks:
            console.print(f"[yellow]the {side} has no scores for {', '.join(tasks)}; evaluate it "
                          "on the same suite to include them[/]")
    console.print(("[bold green]" if report.passed else "[bold red]") + report.message + "[/]")


def _reproduce(model: str, db: Optional[Path], tolerance: float, fmt: str,
               output: Optional[Path]) -> None:
    from gecko_bench.report import frame_table
    from gecko_bench.reproduce import reproduce

    report = reproduce(model, db_path=db, tolerance=tolerance, console=console)
    if fmt == "json":
        text = report.table.to_json(orient="records", indent=2)
        typer.echo(text)
    else:
        text = None
        console.print(frame_table(report.table, f"reproduce {report.model} "
                                  f"({report.model_id[:12]}): stored vs re-evaluated, points"))
    if output is not None:
        output.write_text(text or report.table.to_csv(index=False))
    console.print(("[bold green]" if report.passed else "[bold red]") + report.message + "[/]")
    raise typer.Exit(0 if report.passed else 1)


def regress(
    baseline: Optional[str] = typer.Option(None, "--baseline", "-b",
                                           help="Baseline model: stored name, id (prefix) or "
                                           "checkpoint folder."),
    candidate: Optional[str] = typer.Option(None, "--candidate", "-c",
                                            help="Candidate model: stored name, id (prefix) "
                                            "or checkpoint folder."),
    suite: Optional[str] = typer.Option(None, "--suite", help="Restrict to this suite's tasks; "
                                        "models without scores are evaluated on it first."),
    dim: Optional[int] = typer.Option(None, "--dim", help="Embedding dim (default: the largest "
                                      "both models were scored at)."),
    max_seq_length: Optional[int] = typer.Option(
        None, "--max-seq-length", help="Compare only evaluations run with this input-token cap "
        "(default: each task's newest evaluation)."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level (Holm-adjusted)."),
    tolerance: float = typer.Option(0.5, "--tolerance",
                                    help="Regressions smaller than this many points pass."),
    fmt: str = typer.Option("table", "--format", help="table | markdown | junit | json"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write the report "
                                          "(markdown/junit/json) to this file."),
    reproduce: Optional[str] = typer.Option(None, "--reproduce", help="Re-evaluate this stored "
                                            "checkpoint and check its stored scores reproduce."),
    resamples: int = typer.Option(2000, "--resamples", help="Bootstrap/permutation resamples."),
    db: Optional[Path] = typer.Option(None, "--db", help="Results database."),
) -> None:
    """Exit 1 when the candidate regresses significantly on any task by more than --tolerance.

    Per task, the two models' per-item scores are paired (same queries / pairs / items) and
    compared with a paired bootstrap CI and a paired permutation test; p-values are
    Holm-adjusted across tasks.
    """
    if fmt not in ("table", "markdown", "junit", "json"):
        raise InputError(f"unknown --format {fmt!r}; use table, markdown, junit or json")
    if reproduce:
        _reproduce(reproduce, db, tolerance, fmt, output)
        return
    if not baseline or not candidate:
        raise InputError("give --baseline and --candidate (or --reproduce MODEL)")
    for model in (baseline, candidate):
        _ensure_evaluated(model, suite, db)
    report = R.compare(db, baseline, candidate, suite=suite, dim=dim, alpha=alpha,
                       tolerance=tolerance, n_resamples=resamples, max_seq_length=max_seq_length)
    rendered = {"markdown": R.to_markdown, "junit": R.to_junit, "json": R.to_json}
    if fmt == "table":
        _print_table(report)
    else:
        typer.echo(rendered[fmt](report))
    if output is not None:
        output.write_text(rendered.get(fmt, R.to_markdown)(report))
    raise typer.Exit(0 if report.passed else 1)
