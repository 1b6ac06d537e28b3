"""``gecko-bench experiment domain``: one domain job (:mod:`gecko_bench.domain`) per target
task, each judged by :data:`TARGET_RULE` against its base, in one summary table.

Kept apart from :mod:`gecko_bench.domain` because it runs the whole job and its report
(:mod:`gecko_bench.pipeline` and :mod:`gecko_bench.report` import ``domain``, not this).
"""

from __future__ import annotations

from pathlib import Path

from gecko_bench import config, domain
from gecko_bench.errors import InputError

TARGET_RULE = ("gain >= min(3, (100 - base) / 3) nDCG@10 points with the 95% CI above 0; no "
               "harm: no category of the general suite (untouched tasks) significantly worse "
               "by more than 1 point")


def default_targets(profile: config.Profile) -> list[str]:
    """The monolingual offline retrieval tasks of the profile's suite (its size: ``-tiny`` on
    the tiny suite): the corpora ``experiment domain`` adapts to by default."""
    from gecko_bench.eval.beir_task import exportable
    from gecko_bench.tasks.registry import get_task, list_suites

    return [n for n in list_suites().get(profile.eval.suite, []) if exportable(get_task(n))]


def summary_row(task: str, target, general) -> dict:
    """One line of the domain experiment: the target gain (`target`: the report's target
    table, one row) judged by :data:`TARGET_RULE`, and the general suite's worst category
    (`general`: the same-protocol gain table over untouched tasks)."""
    t = target.iloc[0]  # columns: task, n, <the base's name>, student, delta, ci_low, ci_high
    base, student = float(t.iloc[2]), float(t["student"])
    needed = min(3.0, (100.0 - base) / 3.0)
    harmed = general[(general.ci_high < 0) & (general.delta < -1.0)]
    worst = general.loc[general.delta.idxmin()] if len(general) else None
    return {"task": task, "queries": int(t["n"]), "base": base, "student": student,
            "delta": float(t.delta), "ci_low": float(t.ci_low), "ci_high": float(t.ci_high),
            "needed": needed,
            "target_met": bool(t.delta >= needed and t.ci_low > 0),
            "worst_category": None if worst is None else worst.category,
            "worst_delta": None if worst is None else float(worst.delta),
            "harmed": ",".join(harmed.category)}


def run_experiment(profile: config.Profile, tasks: list[str] | None = None,
                   db_path: Path | None = None, root: Path | None = None,
                   console=None):
    """``gecko-bench experiment domain``: adapt the profile's base to each target task's corpus
    in turn (one domain job each, exported as a BEIR folder under the work root) and return
    one :func:`summary_row` per task. Every task is checked before any job starts."""
    import copy

    import pandas as pd
    from rich.console import Console

    from gecko_bench.eval.beir_task import check_exportable
    from gecko_bench.pipeline import run_pipeline
    from gecko_bench.report import build_report, render_report

    console = console or Console()
    tasks = tasks or default_targets(profile)
    if not tasks:
        raise InputError(f"suite {profile.eval.suite} has no monolingual retrieval task to adapt "
                         "to; name them with --tasks")
    for spec in tasks:
        check_exportable(*domain.parse_target(spec))
    base = (root or Path("results") / "runs") / "experiments" / "domain"
    rows = []
    for task in tasks:
        console.rule(f"experiment domain: {task}")
        name, lang = domain.parse_target(task)
        folder = domain.export_target(name, base / task.replace(":", "-"),
                               profile.domain.dev_queries, lang)
        job = domain.configure(copy.deepcopy(profile), folder)
        result = run_pipeline(job, db_path=db_path, root=root, console=console)
        report = build_report(result, job)
        render_report(report, console)
        rows.append(summary_row(task, report.target.table, report.gains[0].table))
    return pd.DataFrame(rows)
