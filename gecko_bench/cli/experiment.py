"""``gecko-bench experiment NAME``: the Gecko ablations, tagged in the store."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from gecko_bench import config
from gecko_bench.experiments import (
    EXPERIMENTS,
    run_experiment,
    verdict_lines,
)

console = Console()


def experiment(
    name: str = typer.Argument(..., help=f"One of: {', '.join(EXPERIMENTS)}, domain."),
    profile: str = typer.Option("tiny", "--profile", "-p", help="tiny | demo | cpu | gpu"),
    seeds: int = typer.Option(1, "--seeds", help="Repeat each fine-tune with this many seeds."),
    variants: Optional[list[str]] = typer.Option(
        None, "--variant", help="Only these variants (repeatable); the reference always runs."),
    tasks: Optional[str] = typer.Option(
        None, "--tasks", help="Comma-separated task names instead of the profile's suite "
        "(domain: the retrieval tasks to adapt to; default every monolingual one of the suite)."),
    db: Optional[Path] = typer.Option(None, "--db", help="Results database."),
    work_root: Optional[Path] = typer.Option(None, "--work-dir", help="Where checkpoints go "
                                             "(default results/runs/)."),
    overrides: Optional[list[str]] = typer.Option(
        None, "--set", help="Override a profile field, e.g. --set fret.n_seeds=8 "
        "--set eval.tasks=LeeSTS-tiny (repeatable)."),
    output: Path = typer.Option(Path("results") / "experiments", "--output",
                                help="Folder for the summary CSV."),
) -> None:
    """A Gecko ablation: one student per variant, per-category deltas with bootstrap CIs.

    Fine-tune one student per variant (and seed) from the main job's FRet data and
    pre-finetuned checkpoint, evaluate each, and report per-category deltas against the
    reference variant with paired bootstrap CIs over items and seeds.

    label-strategies: positive {seed, p1} x hard negative {none, random, lowest} (paper Table 3).
    task-diversity: single task types vs all (original / uniform sampling / no unified format)
    (paper Table 4). dims: Matryoshka vs no Matryoshka, scored at every dim.
    domain: one domain job (run --corpus) per offline retrieval task, its corpus exported as a
    BEIR folder; per-task gain on its own queries with CIs, and the general suite's worst
    category (docs/domain.md).
    """
    from gecko_bench.report import SHORT_HEADERS, frame_table

    resolved = config.apply_overrides(config.resolve(profile), overrides or [])
    names = [t.strip() for t in tasks.split(",")] if tasks else None
    if name == "domain":
        _domain(resolved, names, db, work_root, output, profile)
        return
    summary = run_experiment(name, resolved, seeds=seeds, db_path=db, root=work_root,
                             only=variants, console=console, tasks=names)
    output.mkdir(parents=True, exist_ok=True)
    csv = output / f"{name}-{profile}.csv"
    summary.to_csv(csv, index=False, float_format="%.3f")
    # Narrow enough for an 80-column terminal; the CSV keeps every column.
    shown = summary.drop(columns=["experiment", "n_tasks"])
    if shown["dim"].nunique() == 1:
        shown = shown.drop(columns=["dim"])
    shown = shown.assign(category=shown["category"].map(lambda c: SHORT_HEADERS.get(c, c)))
    console.print(frame_table(shown.rename(columns={"reference": "ref", "ci_low": "ci lo",
                                                    "ci_high": "ci hi"}),
                              f"{name} ({profile} profile, {seeds} seed(s)): points 0-100"))
    for line in verdict_lines(name, summary):
        console.print(line)
    console.print(f"summary written to {csv}")


def _domain(profile: config.Profile, tasks: list[str] | None, db: Path | None,
            work_root: Path | None, output: Path, profile_name: str) -> None:
    """``experiment domain``: the per-task summary, its CSV and the target rule's verdicts."""
    from gecko_bench import domain_experiment
    from gecko_bench.report import frame_table

    summary = domain_experiment.run_experiment(profile, tasks, db_path=db, root=work_root, console=console)
    output.mkdir(parents=True, exist_ok=True)
    csv = output / f"domain-{profile_name}.csv"
    summary.to_csv(csv, index=False, float_format="%.3f")
    # Narrow enough for an 80-column terminal; the CSV keeps every column.
    shown = summary[["task", "queries", "base", "student", "delta", "ci_low", "ci_high",
                     "needed"]].rename(columns={"queries": "n", "ci_low": "ci lo",
                                                "ci_high": "ci hi"})
    console.print(frame_table(shown, f"domain ({profile_name} profile): target nDCG@10, "
                              "student vs base, same protocol"))
    console.print(f"target: {domain_experiment.TARGET_RULE}")
    for row in summary.itertuples():
        console.print(f"  {row.task}: {row.delta:+.2f} [{row.ci_low:+.2f}, {row.ci_high:+.2f}] "
                      f"(needed {row.needed:+.2f}) -> "
                      + ("target met" if row.target_met else "target not met")
                      + (f"; general harmed: {row.harmed}" if row.harmed else "; no harm")
                      + (f" (worst: {row.worst_category} {row.worst_delta:+.2f})"
                         if row.worst_category else ""), highlight=False)
    console.print(f"summary written to {csv}")
