"""What the main job prints at the end: the leaderboard and the student's gain over its base."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from gecko_bench import config, provenance
from gecko_bench.compare import leaderboard
from gecko_bench.pipeline import eval_label, eval_suite
from gecko_bench.regress import category_gains


def frame_table(df, title: str, floatfmt: str = "{:.2f}") -> Table:
    table = Table(title=title)
    for col in df.columns:
        table.add_column(str(col), no_wrap=True)
    for row in df.itertuples(index=False):
        table.add_row(*[floatfmt.format(v) if isinstance(v, float) else str(v) for v in row])
    return table


def print_pipeline_report(result, profile: config.Profile, console: Console) -> None:
    """Leaderboard of the profile's suite at the student's full dim, then per-category gains."""
    student_path = result.outputs["finetune"]["checkpoint"]
    student_id = provenance.checkpoint_id(student_path)
    base = profile.train.base_model
    dim = max(profile.train.mrl_dims)
    suite = eval_suite(profile)
    complete, incomplete = leaderboard(result.db_path, suite=suite, dim=dim)
    console.print(frame_table(complete, f"Leaderboard: {eval_label(profile)}, dim {dim} "
                               "(models with the complete task set)"))
    if len(incomplete):
        console.print(frame_table(incomplete, "Incomplete task sets (not averaged)"))
    gains = category_gains(result.db_path, base, student_id, suite=suite, dim=dim)
    gains = gains.rename(columns={"baseline": base, "candidate": "student"})
    console.print(frame_table(gains, f"Student gain over {base} per category "
                               "(points, 95% bootstrap CI over items)"))
    console.print(f"student checkpoint: {student_path}")
