"""``gecko-bench regress``: gate a candidate checkpoint against a baseline with paired tests."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from gecko_bench import regress as gate
from gecko_bench.errors import InputError
from gecko_bench.store.scores import Protocol

console = Console()


def _ensure_evaluated(model: str, protocol: Protocol, suite: Optional[str],
                      db: Optional[Path]) -> None:
    """Evaluate `model` on `suite` under `protocol` first when the store has no scores for it."""
    try:
        gate.resolve_model_id(db, model)
        return
    except InputError:
        if suite is None:
            raise
    from gecko_bench.config import EvalConfig
    from gecko_bench.eval.runner import TaskSource, evaluate

    style = protocol.prompt_style or "gecko"
    console.print(f"[yellow]{model} has no stored scores: evaluating it on {suite} first "
                  f"({style} prompts)[/]")
    evaluate(model, TaskSource(suite=suite), db=db,
             config=EvalConfig(dims=[], prompt_style=style,
                               max_seq_length=protocol.max_seq_length,
                               dtype=protocol.dtype or "float32"))


def _print_table(report: gate.RegressionReport) -> None:
    table = Table(title=f"{report.candidate.label} vs {report.baseline.label} (dim "
                        f"{report.dim}, points 0-100, Holm-adjusted p)")
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
    colour = {gate.EXIT_PASS: "[bold green]", gate.EXIT_REGRESSION: "[bold red]"}
    console.print(colour.get(report.exit_code, "[bold yellow]") + report.message + "[/]",
                  highlight=False)


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
    prompt_style: Optional[str] = typer.Option(
        None, "--prompt-style", help="Both sides: only scores measured with this prompt style."),
    max_seq_length: Optional[int] = typer.Option(
        None, "--max-seq-length", help="Both sides: only scores measured with this input-token "
        "cap."),
    dtype: Optional[str] = typer.Option(
        None, "--dtype", help="Both sides: only scores computed in this dtype (float32, "
        "bfloat16, ...)."),
    baseline_prompt_style: Optional[str] = typer.Option(
        None, "--baseline-prompt-style", help="The baseline's prompt style (overrides "
        "--prompt-style)."),
    candidate_prompt_style: Optional[str] = typer.Option(
        None, "--candidate-prompt-style", help="The candidate's prompt style (overrides "
        "--prompt-style)."),
    allow_missing: bool = typer.Option(
        False, "--allow-missing", help="Pass even when the candidate lacks tasks or language "
        "subsets the baseline has, or a shared task cannot be tested (listed either way)."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level (Holm-adjusted)."),
    tolerance: float = typer.Option(0.5, "--tolerance",
                                    help="Non-inferiority margin in points: a task regresses "
                                    "when its CI's lower bound is below -tolerance and the "
                                    "drop is significant."),
    fmt: str = typer.Option("table", "--format", help="table | markdown | junit | json"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write the report "
                                          "(markdown/junit/json) to this file."),
    reproduce: Optional[str] = typer.Option(None, "--reproduce", help="Re-evaluate this stored "
                                            "checkpoint and check its stored scores reproduce."),
    resamples: int = typer.Option(2000, "--resamples", help="Minimum bootstrap/permutation "
                                  "resamples (raised to fit the number of tests)."),
    db: Optional[Path] = typer.Option(None, "--db", help="Results database."),
) -> None:
    """Gate a candidate against a baseline (exit 0 pass, 1 regression, 2 bad input, 3 incomplete).

    Incomplete: the candidate lacks a task or subset the baseline has, or a task went untested;
    --allow-missing passes it.

    Per task, the two models' per-item scores are paired (same queries / pairs / items;
    clustering: mteb's clustering experiments) and compared with a paired bootstrap CI and a
    paired permutation test, p-values Holm-adjusted across tasks. A task regresses when the lower
    95% CI bound of candidate - baseline is below -tolerance and the drop is significant. Each
    side is one protocol (prompt style, input cap, dtype): a model stored under several must be
    narrowed with the options below.
    """
    if fmt not in ("table", "markdown", "junit", "json"):
        raise InputError(f"unknown --format {fmt!r}; use table, markdown, junit or json")
    if reproduce:
        _reproduce(reproduce, db, tolerance, fmt, output)
        return
    if not baseline or not candidate:
        raise InputError("give --baseline and --candidate (or --reproduce MODEL)")
    if not 0 < alpha < 1:
        raise InputError(f"--alpha must be between 0 and 1, got {alpha}")
    if tolerance < 0:
        raise InputError(f"--tolerance must be >= 0 points, got {tolerance}")
    protocols = {side: Protocol(style or prompt_style, max_seq_length, dtype)
                 for side, style in (("baseline", baseline_prompt_style),
                                     ("candidate", candidate_prompt_style))}
    for model, side in ((baseline, "baseline"), (candidate, "candidate")):
        _ensure_evaluated(model, protocols[side], suite, db)
    report = gate.compare(db, baseline, candidate, suite=suite, dim=dim, alpha=alpha,
                             tolerance=tolerance, n_resamples=resamples,
                             baseline_protocol=protocols["baseline"],
                             candidate_protocol=protocols["candidate"],
                             allow_missing=allow_missing)
    rendered = {"markdown": gate.to_markdown, "junit": gate.to_junit,
                "json": gate.to_json}
    if fmt == "table":
        _print_table(report)
    else:
        typer.echo(rendered[fmt](report))
    if output is not None:
        output.write_text(rendered.get(fmt, gate.to_markdown)(report))
    raise typer.Exit(report.exit_code)
