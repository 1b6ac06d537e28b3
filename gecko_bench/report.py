"""What the main job prints at the end: the leaderboard and the student's gain over its base."""

from __future__ import annotations

import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table

from gecko_bench import config, provenance
from gecko_bench.compare import CATEGORIES, MULTILINGUAL, leaderboard
from gecko_bench.pipeline import LIKE_BASE, eval_label, eval_suite
from gecko_bench.regress import category_gains
from gecko_bench.store.scores import PROTOCOL_COLUMNS, Protocol


def frame_table(df, title: str, floatfmt: str = "{:.2f}") -> Table:
    """A rich table of a DataFrame (floats formatted with `floatfmt`)."""
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  padding=(0, 0))
    for col in df.columns:
        table.add_column(str(col), no_wrap=True)
    for row in df.itertuples(index=False):
        table.add_row(*[floatfmt.format(v) if isinstance(v, float) else str(v) for v in row])
    return table


# Short headers so the leaderboard fits an 80-column terminal or a CI log.
SHORT_HEADERS = {"Classification": "Class", "Clustering": "Clust", "PairClassification": "Pair",
                 "Reranking": "Rerank", "Retrieval": "Retr", "BitextMining": "Bitext",
                 "Multilingual": "Multi"}


def incomplete_view(incomplete: pd.DataFrame) -> pd.DataFrame:
    """Rows without every task of the suite, as the report shows them: a mean per category over
    the tasks the row has, blank where it has none (BM25 beyond Retrieval/Reranking), no overall
    mean, and what it misses as a count (the task names when there are at most three)."""
    if incomplete.empty:
        return incomplete
    cats = [c for c in incomplete.columns if c in CATEGORIES or c == MULTILINGUAL]
    rows = []
    for r in incomplete.to_dict("records"):
        names = [t for t in str(r.get("missing") or "").split(", ") if t]
        absent = ", ".join(SHORT_HEADERS.get(c, c) for c in cats if pd.isna(r[c]))
        lacks = ", ".join(names) if len(names) <= 3 else f"{len(names)} tasks" + (
            f" (no {absent})" if absent else "")
        rows.append({"model": r["model"], "prompts": r["prompt_style"], "n_tasks": r["n_tasks"],
                     **{c: "" if pd.isna(r[c]) else f"{r[c]:.1f}" for c in cats},
                     "missing": lacks})
    return pd.DataFrame(rows).rename(columns=SHORT_HEADERS)


def job_selections(result) -> dict[str, tuple[str, Protocol]]:
    """model -> (model_id, protocol) as the job's evaluate stage measured it."""
    return {model: (m["model_id"], Protocol.of(m))
            for model, m in result.outputs["evaluate"]["measured"].items()}


def print_pipeline_report(result, profile: config.Profile, console: Console) -> None:
    """Leaderboard of the profile's suite at the student's full dim, then per-category gains:
    first base and student under the same protocol (the headline), then the student at its
    training format against the base at its own, labelled."""
    student_path = result.outputs["finetune"]["checkpoint"]
    student_id = provenance.checkpoint_id(student_path)
    base = profile.train.base_model
    dim = max(profile.train.mrl_dims)
    suite = eval_suite(profile)
    # Only this job's models, each as the job measured it: other evaluations in the store (other
    # prompt styles, caps, dtypes, experiments) neither replace its scores nor enter its Borda.
    measured = job_selections(result)
    complete, incomplete = leaderboard(result.db_path, suite=suite, dim=dim,
                                       selections=list(measured.values()))
    shown = complete.assign(model=[f"student ({style})" if mid == student_id else name
                                   for name, mid, style in zip(complete.model, complete.model_id,
                                                               complete.prompt_style)])
    protocols = ", ".join(sorted({f"{m} {st}" for m, st in zip(shown.model, shown.prompt_style)
                                  if not m.startswith("student")}))
    common = {(int(c) if c == c else None, d) for c, d in zip(shown.max_seq_length, shown.dtype)}
    n_tasks = int(shown.n_tasks.max()) if len(shown) else 0
    # Borda stays visible: it sets the order (MTEB's rule), which can differ from the mean's.
    shown = shown.drop(columns=["rank", "model_id", "dim", "n_tasks", *PROTOCOL_COLUMNS])
    console.print(frame_table(shown.rename(columns=SHORT_HEADERS),
                              f"Leaderboard: {eval_label(profile)} ({n_tasks} tasks), dim {dim}: "
                              "mean main score per category, ranked by Borda count (MTEB's rule)",
                              floatfmt="{:.1f}"))
    console.print(f"prompts: {protocols}; inputs and dtype: "
                  + "; ".join(f"{cap or 'own'} tokens, {dtype}" for cap, dtype in sorted(
                      common, key=str)), highlight=False)
    if len(incomplete):
        title = "Incomplete task sets: mean per category over its tasks; no overall mean, unranked"
        console.print(frame_table(incomplete_view(incomplete), title))
    base_id, base_protocol = measured[base]
    for key, title in ((LIKE_BASE, f"Student gain over {base}, same protocol "
                        f"({base_protocol.prompt_style} prompts for both)"),
                       (student_path, f"Student at its training format "
                        f"({measured[student_path][1].prompt_style} prompts) vs {base} at its "
                        f"own ({base_protocol.prompt_style})")):
        if key not in measured:  # a job evaluated before the like-with-like run existed
            continue
        gains = category_gains(result.db_path, base_id, student_id, suite=suite, dim=dim,
                               baseline_protocol=base_protocol,
                               candidate_protocol=measured[key][1])
        gains = gains.rename(columns={"baseline": base, "candidate": "student"})
        console.print(frame_table(gains, f"{title}: per category, points, 95% bootstrap CI over "
                                  "items (per-item statistics: nDCG@10 for retrieval/reranking, "
                                  "so not the leaderboard's main scores)"))
    console.print(f"student checkpoint: {student_path}")
