"""What the main job prints at the end: the leaderboard and the student's gain over its base."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    """A rich table of a DataFrame, the one table renderer of the job and the CLI: floats
    formatted with `floatfmt`, NaN and None blank, numeric columns right-aligned."""
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  padding=(0, 0))
    for col in df.columns:
        table.add_column(str(col), no_wrap=True,
                         justify="right" if df[col].dtype.kind in "fiu" else "left")
    for row in df.itertuples(index=False):
        table.add_row(*[_cell(v, floatfmt) for v in row])
    return table


def _cell(value, floatfmt: str) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return floatfmt.format(value) if isinstance(value, float) else str(value)


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
    # Categories no incomplete row has are left out, so the table fits a CI log's 80 columns.
    cats = [c for c in incomplete.columns if (c in CATEGORIES or c == MULTILINGUAL)
            and incomplete[c].notna().any()]
    rows = []
    for r in incomplete.to_dict("records"):
        names = [t for t in str(r.get("missing") or "").split(", ") if t]
        lacks = ", ".join(names) if len(names) <= 3 else f"{len(names)} tasks"
        rows.append({"model": r["model"], "prompts": r["prompt_style"], "n_tasks": r["n_tasks"],
                     **{c: "" if pd.isna(r[c]) else f"{r[c]:.1f}" for c in cats},
                     "missing": lacks})
    return pd.DataFrame(rows).rename(columns=SHORT_HEADERS)


def job_selections(result) -> dict[str, tuple[str, Protocol]]:
    """model -> (model_id, protocol) as the job's evaluate stage measured it."""
    return {model: (m["model_id"], Protocol.of(m))
            for model, m in result.outputs["evaluate"]["measured"].items()}


@dataclass
class GainTable:
    """One of the report's gain tables: the student against its base, per category (points)."""

    key: str  # same_protocol | own_styles
    title: str
    baseline: str  # the base model's name
    baseline_protocol: Protocol
    candidate_protocol: Protocol
    table: pd.DataFrame  # category, n_tasks, <base>, student, delta, ci_low, ci_high


@dataclass
class JobReport:
    """What the main job reports, computed once: the text and the JSON are rendered from it."""

    pipeline_id: str
    db_path: str
    label: str  # the suite, or the task list
    suite: str | None
    dim: int
    student_path: str
    student_id: str
    base: str
    measured: dict[str, tuple[str, Protocol]]  # job key -> (model_id, protocol)
    board: pd.DataFrame  # complete rows, `model` the display name, `name` the stored one
    incomplete: pd.DataFrame
    gains: list[GainTable]
    # A domain job (docs/domain.md): the gain on the target's own queries, reported first, and
    # the general-suite tasks that share texts with the target (left out of `gains`).
    target: GainTable | None = None
    target_task: str | None = None
    touched: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    domain_corpus: str | None = None

    @property
    def n_tasks(self) -> int:
        return int(self.board.n_tasks.max()) if len(self.board) else 0


def build_report(result, profile: config.Profile) -> JobReport:
    """Leaderboard of the profile's suite at the student's full dim, then per-category gains:
    first base and student under the same protocol (the headline), then each at its own prompt
    style (the student's: the one its prompts carry, chosen on the dev split) when that differs."""
    student_path = result.outputs["finetune"]["checkpoint"]
    student_id = provenance.checkpoint_id(student_path)
    base = profile.train.base_model
    dim = max(profile.train.mrl_dims)
    suite = eval_suite(profile)
    # Only this job's models, each as the job measured it: other evaluations in the store (other
    # prompt styles, caps, dtypes, experiments) neither replace its scores nor enter its Borda.
    measured = job_selections(result)
    ev = result.outputs["evaluate"]
    target_out = ev.get("target")
    touched = list(ev.get("touched", []))
    # The general comparison ("no harm"): neither the target task nor the touched tasks.
    excluded = touched + ([target_out["task"]] if target_out else [])
    complete, incomplete = leaderboard(result.db_path, suite=suite, dim=dim,
                                       selections=list(measured.values()),
                                       exclude_tasks=[target_out["task"]] if target_out else [])
    board = complete.assign(name=complete.get("model"), model=[
        f"student ({style})" if mid == student_id else name
        for name, mid, style in zip(complete.model, complete.model_id, complete.prompt_style)])
    base_id, base_protocol = measured[base]
    own = measured.get(student_path, (None, None))[1]
    style = result.outputs["finetune"].get("prompt_style")  # the style its prompts carry
    own_label = (own.prompt_style if own else "?") + (
        f": {style} prompts" if own and own.prompt_style == "model" else "")
    headline = (f"Student gain over {base}, same protocol ({base_protocol.prompt_style} prompts "
                "for both)")
    if own == base_protocol:  # the student's own style is its base's: one table says both
        headline += f"; also each at its own style (the student's chosen: {style})"
    gains = []
    for key, ident, title in (
            ("same_protocol", LIKE_BASE, headline),
            ("own_styles", student_path, f"Student at its own prompt style ({own_label}) vs "
             f"{base} at its own ({base_protocol.prompt_style})")):
        if ident not in measured:  # a job evaluated before the like-with-like run existed
            continue
        if key == "own_styles" and own == base_protocol:
            continue
        table = category_gains(result.db_path, base_id, student_id, suite=suite, dim=dim,
                               baseline_protocol=base_protocol,
                               candidate_protocol=measured[ident][1], exclude_tasks=excluded)
        if profile.domain.corpus:
            title += "; no harm: untouched tasks only"
        gains.append(GainTable(key, title, base, base_protocol, measured[ident][1],
                               table.rename(columns={"baseline": base,
                                                     "candidate": "student"})))
    return JobReport(result.pipeline_id, str(result.db_path), eval_label(profile), suite, dim,
                     str(student_path), student_id, base, measured, board, incomplete, gains,
                     target=_target_gain(result, target_out, base, dim) if target_out else None,
                     target_task=target_out["task"] if target_out else None,
                     touched=touched, unchecked=list(ev.get("unchecked", [])),
                     domain_corpus=profile.domain.corpus)


def _target_gain(result, target: dict, base: str, dim: int) -> GainTable:
    """The student's gain over its base on the target's own queries, same protocol for both
    (the base's), with the bootstrap CI over the target's queries."""
    sel = {key: (m["model_id"], Protocol.of(m)) for key, m in target["measured"].items()}
    (base_id, base_p), (student_id, student_p) = sel[base], sel[LIKE_BASE]
    table = category_gains(result.db_path, base_id, student_id, suite=target["suite"], dim=dim,
                           baseline_protocol=base_p, candidate_protocol=student_p)
    table = table.assign(category=target["task"]).rename(
        columns={"category": "task", "n_tasks": "n", "baseline": base, "candidate": "student"})
    table["n"] = _n_queries(result.db_path, base_id, base_p, target["suite"], dim)
    return GainTable("target", f"Target corpus {target['task']}: student gain over {base} on "
                     f"its own queries, same protocol ({base_p.prompt_style} prompts for both)",
                     base, base_p, student_p, table)


def _n_queries(db_path, model_id: str, protocol: Protocol, suite: str, dim: int) -> int:
    from gecko_bench.store.scores import current_items

    items = current_items(db_path, model_id, protocol, suite=suite, dim=dim)
    return int(items["item_id"].nunique()) if len(items) else 0


def print_pipeline_report(result, profile: config.Profile, console: Console) -> None:
    """The job report as text (see :func:`build_report`)."""
    render_report(build_report(result, profile), console)


def render_report(report: JobReport, console: Console) -> None:
    """Print a JobReport: (a domain job's target gain first), leaderboard, protocols,
    incomplete rows, gain tables, touched tasks, checkpoint."""
    if report.target is not None:
        console.print(frame_table(report.target.table, f"{report.target.title}: points, 95% "
                                  "bootstrap CI over the target's queries (nDCG@10)"))
    elif report.domain_corpus:
        console.print(f"target corpus {report.domain_corpus}: no queries/qrels, so no target "
                      "evaluation; adapted only", highlight=False)
    shown = report.board.drop(columns=["name"])
    protocols = ", ".join(sorted({f"{m} {st}" for m, st in zip(shown.model, shown.prompt_style)
                                  if not m.startswith("student")}))
    common = {(int(c) if c == c else None, d) for c, d in zip(shown.max_seq_length, shown.dtype)}
    # Borda stays visible: it sets the order (MTEB's rule), which can differ from the mean's.
    shown = shown.drop(columns=["rank", "model_id", "dim", "n_tasks", *PROTOCOL_COLUMNS])
    console.print(frame_table(shown.rename(columns=SHORT_HEADERS),
                              f"Leaderboard: {report.label} ({report.n_tasks} tasks), dim "
                              f"{report.dim}: mean main score per category, ranked by Borda "
                              "count (MTEB's rule)", floatfmt="{:.1f}"))
    console.print(f"prompts: {protocols}; inputs and dtype: "
                  + "; ".join(f"{cap or 'own'} tokens, {dtype}" for cap, dtype in sorted(
                      common, key=str)), highlight=False)
    if len(report.incomplete):
        title = "Incomplete task sets: mean per category over its tasks; no overall mean, unranked"
        console.print(frame_table(incomplete_view(report.incomplete), title))
    for gain in report.gains:
        console.print(frame_table(gain.table, f"{gain.title}: per category, points, 95% "
                                  "bootstrap CI over items (per-item statistics: nDCG@10 for "
                                  "retrieval/reranking, so not the leaderboard's main scores)"))
    if report.domain_corpus:
        console.print("touched tasks (share texts with the target corpus; left out of the gain "
                      "tables above): " + (", ".join(report.touched) or "none")
                      + (f"; not checked: {', '.join(report.unchecked)}" if report.unchecked
                         else ""), highlight=False)
    console.print(f"student checkpoint: {report.student_path}")


def report_dict(report: JobReport) -> dict:
    """The JSON document of ``gecko-bench run --format json`` (docs/eval.md "Machine-readable
    output"): every model with its measured identity, the leaderboard, the gain tables."""
    from gecko_bench.api import SCHEMA, leaderboard_dict, records

    named = report.board.assign(model=report.board["name"]).drop(columns=["name"])
    board = leaderboard_dict(named, report.incomplete, suite=report.suite, dim=report.dim)
    display = list(report.board["model"])  # complete rows come first, in the board's order
    for i, row in enumerate(board["rows"]):
        row["display_name"] = display[i] if row["complete"] else row["model"]
        row["student"] = row["model_id"] == report.student_id
    models = [{"key": key, "model_id": model_id, "protocol": protocol.as_dict(),
               "student": model_id == report.student_id}
              for key, (model_id, protocol) in report.measured.items()]
    gains = [{"key": g.key, "title": g.title, "baseline": {
                  "model": g.baseline, "model_id": report.measured[g.baseline][0],
                  "protocol": g.baseline_protocol.as_dict()},
              "candidate": {"model": "student", "model_id": report.student_id,
                            "protocol": g.candidate_protocol.as_dict()},
              "unit": "points (0-100), 95% bootstrap CI over items",
              "categories": records(g.table.rename(columns={g.baseline: "baseline",
                                                            "student": "candidate"}))}
             for g in report.gains]
    out = {"schema": SCHEMA, "kind": "job_report", "pipeline_id": report.pipeline_id,
            "db": report.db_path, "tasks": report.label, "suite": report.suite,
            "dim": report.dim, "n_tasks": report.n_tasks,
            "student": {"checkpoint": report.student_path, "model_id": report.student_id},
            "base_model": report.base, "models": models,
            "leaderboard": {k: board[k] for k in ("categories", "rows")}, "gains": gains}
    if report.domain_corpus:
        t = report.target
        out["domain"] = {
            "corpus": report.domain_corpus, "touched": report.touched,
            "unchecked": report.unchecked,
            "target": None if t is None else {
                "task": report.target_task, "title": t.title,
                "protocol": t.baseline_protocol.as_dict(),
                "unit": "points (0-100), 95% bootstrap CI over the target's queries",
                "rows": records(t.table.rename(columns={t.baseline: "baseline",
                                                        "student": "candidate"}))}}
    return out
