"""``gecko-bench fret``: build, inspect, re-mine, export and merge FRet datasets; re-ranker check."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from gecko_bench import config
from gecko_bench.cli.perf import app as perf_app

app = typer.Typer(help="FRet data: LLM-generated queries, LLM-ranked neighbours, mined pairs.",
                  no_args_is_help=True)
console = Console()

DB = typer.Option(None, "--db", envvar="GECKO_BENCH_DB",
                  help="DuckDB file (default results/gecko_bench.duckdb).")


def _cfg(profile: str, **overrides) -> config.FretConfig:
    cfg = config.resolve(profile).fret
    return dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})


@app.command("build")
def build_cmd(
    profile: str = typer.Option("tiny", help="Profile whose FRet settings are the defaults."),
    llm: Optional[str] = typer.Option(None, help="LLM name (smollm2-135m, gemma3-270m, "
                                      "qwen2.5-coder-0.5b, qwen2.5-coder-1.5b), .gguf path, "
                                      "or URL[#model] for --backend http."),
    backend: Optional[str] = typer.Option(None, help="transformers | llamacpp | http (an OpenAI-compatible server)"),
    llm_dtype: Optional[str] = typer.Option(None, help="transformers backend compute dtype: "
                                            "auto (bfloat16 where the CPU/GPU has it natively), "
                                            "float32 or bfloat16."),
    retriever: Optional[str] = typer.Option(None, help="Embedding model for neighbours."),
    n_seeds: Optional[int] = typer.Option(None, help="Seed passages to generate queries for."),
    n_neighbours: Optional[int] = typer.Option(None, "--n-neighbours", "-n",
                                               help="Neighbours retrieved and ranked per query."),
    corpus_size: Optional[int] = typer.Option(None, help="Passages searched (0: all)."),
    batch_size: Optional[int] = typer.Option(None, help="Seeds per stored batch."),
    rrf_k: Optional[float] = typer.Option(None, help="RRF constant k in 1/(k + rank)."),
    temperature: Optional[float] = typer.Option(None, help="Sampling temperature."),
    seed: Optional[int] = typer.Option(None, help="Sampling and corpus seed."),
    max_new_tokens: Optional[int] = typer.Option(None, help="Token budget of each generation."),
    generation: Optional[str] = typer.Option(None, help="gecko (a task and a query, six task "
                                             "types) or questions (one QA task, the LLM "
                                             "writes a question)."),
    rankers: Optional[str] = typer.Option(None, help="Comma list fused by RRF: ql, rc (raw "
                                          "log p(Yes)), rc_norm (Yes vs No), retriever."),
    filter_: Optional[str] = typer.Option(None, "--filter", help="Round-trip filter: none, "
                                          "retriever:K, teacher:K or retriever:K+teacher:K."),
    llm_scoring: Optional[bool] = typer.Option(
        None, "--llm-scoring/--no-llm-scoring",
        help="Score every neighbour with QL + RC (default), or let the LLM only write queries "
        "(ranks are the retriever's; needs --rankers retriever)."),
    api_key: Optional[str] = typer.Option(None, envvar="OPENAI_API_KEY", show_default=False,
                                          help="API key for --backend http (never stored)."),
    shard: Optional[str] = typer.Option(None, help="Build only shard i/n of the seeds."),
    device: str = typer.Option("cpu", help="cpu or cuda."),
    db: Optional[Path] = DB,
) -> None:
    """Generate -> retrieve -> rank. Resumable: rerun the same command after a kill.

    A config that differs from a stored one only in rankers, rrf-k or filter is derived from its
    stored scores without the LLM."""
    from gecko_bench import provenance
    from gecko_bench.fret import build, dataset_id, summary
    from gecko_bench.store import recorded_run

    cfg = _cfg(profile, llm=llm, llm_backend=backend, llm_dtype=llm_dtype, retriever=retriever,
               n_seeds=n_seeds,
               n_neighbours=n_neighbours, batch_size=batch_size, rrf_k=rrf_k,
               temperature=temperature, seed=seed, max_new_tokens=max_new_tokens,
               generation=generation, llm_scoring=llm_scoring,
               rankers=[r.strip() for r in rankers.split(",") if r.strip()] if rankers
               else None, filter=filter_)
    if corpus_size is not None:
        cfg = dataclasses.replace(cfg, corpus_size=corpus_size or None)
    dataset_id(cfg, device)  # bad ranker, filter, scoring, generation or dtype: nothing stored
    with recorded_run("fret", config.as_dict(cfg), provenance.collect(device), profile=profile,
                      db_path=db) as run:
        llm_obj = None
        if cfg.llm_backend == "http":
            from gecko_bench.llm import load_llm

            llm_obj = load_llm(cfg.llm, "http", batch_size=cfg.batch_size, api_key=api_key)
        ds = build(cfg, db_path=db, device=device, shard=shard, run_id=run.run_id, llm=llm_obj)
    console.print(summary(ds, db))


@app.command("list")
def list_cmd(db: Optional[Path] = DB) -> None:
    """Table of FRet datasets with counts, seed-found and relabel rates."""
    import pandas as pd

    from gecko_bench.report import frame_table
    from gecko_bench.store import fret as fret_store

    frame = fret_store.fret_datasets_frame(db)
    if frame.empty:
        console.print("no FRet datasets in this store")
        return
    # Short columns so whole dataset ids fit an 80-column terminal; seeds "80/400" = partial.
    shown = pd.DataFrame({
        "dataset": frame.dataset_id, "llm": frame.llm, "retriever": frame.retriever,
        "seeds": [f"{d}/{n}" for d, n in zip(frame.seeds_done, frame.n_seeds)],
        "queries": frame.n_queries, "rejects": frame.n_rejects,
        "found": frame.seed_found_rate.map(lambda v: "-" if pd.isna(v) else f"{v:.2f}"),
        "relabel": frame.relabel_rate.map(lambda v: "-" if pd.isna(v) else f"{v:.2f}")})
    console.print(frame_table(shown, "FRet datasets (found: share of queries whose seed is "
                              "among their retrieved neighbours; relabel: share whose top "
                              "passage is not their seed)"))


@app.command("show")
def show_cmd(dataset_id: str, n: int = typer.Option(5, help="Queries to show."),
             db: Optional[Path] = DB) -> None:
    """A few queries with their seed and top neighbours by RRF, and the reject counts."""
    from gecko_bench.store import fret as fret_store

    queries = fret_store.fret_queries_frame(db, dataset_id).head(n)
    for q in queries.itertuples(index=False):
        console.print(f"[bold]{q.task_type}[/] | {q.task}\n  query: {q.query}\n"
                      f"  seed ({q.seed_source}): {q.seed_text[:120]}...")
        nb = fret_store.fret_neighbours_frame(db, dataset_id, q.query_id).head(3)
        for r in nb.itertuples(index=False):
            console.print(f"    rrf#{r.rrf_rank} ql#{r.ql_rank} rc#{r.rc_rank} ret#"
                          f"{r.retriever_rank} {'(seed) ' if r.is_seed else ''}{r.text[:80]}...")
    rejects = fret_store.fret_rejects_frame(db, dataset_id)
    console.print(f"rejects: {rejects['reason'].value_counts().to_dict() if len(rejects) else {}}")


@app.command("mine")
def mine_cmd(dataset_id: str,
             positive: str = typer.Option("p1", help="seed | p1"),
             negative: str = typer.Option("lowest", help="none | random | lowest | range:a-b"),
             db: Optional[Path] = DB) -> None:
    """Re-mine positives/negatives from stored ranks (no LLM); prints the relabel rate."""
    from gecko_bench.fret import mine

    frame = mine(dataset_id, positive, negative, db_path=db)
    relabel = frame["relabelled"].mean() if len(frame) else float("nan")
    console.print(f"{len(frame)} examples mined with positive={positive} negative={negative}; "
                  f"relabelled {relabel:.0%}; {frame['negative_id'].notna().sum()} with negative")


@app.command("export")
def export_cmd(dataset_id: str, out: Path = typer.Argument(..., help="Output .jsonl file, or a "
                                                           "folder with --format parquet."),
               positive: str = typer.Option("p1", help="seed | p1"),
               negative: str = typer.Option("lowest", help="none | random | lowest | range:a-b"),
               fmt: str = typer.Option("jsonl", "--format", help="jsonl | parquet"),
               db: Optional[Path] = DB) -> None:
    """Export mined examples: the trainer's JSONL, or Parquet files with every score."""
    from gecko_bench.errors import InputError
    from gecko_bench.fret import export_parquet, export_training_jsonl

    if fmt == "jsonl":
        n = export_training_jsonl(dataset_id, out, positive, negative, db_path=db)
        console.print(f"wrote {n} examples to {out}")
    elif fmt == "parquet":
        files = export_parquet(dataset_id, out, positive, negative, db_path=db)
        console.print("wrote " + ", ".join(map(str, files)))
    else:
        raise InputError(f"--format must be jsonl or parquet, not {fmt!r}")


@app.command("merge")
def merge_cmd(shards: list[Path] = typer.Argument(..., help="Shard DuckDB files."),
              db: Optional[Path] = DB) -> None:
    """Join FRet shard databases (built with --shard i/n --db shard_i.duckdb) into --db."""
    from gecko_bench.fret import merge

    added = merge([str(s) for s in shards], db)
    console.print("rows added: " + ", ".join(f"{t}={n}" for t, n in added.items()))


def _split(values: list[str]) -> list[str]:
    """Repeated options, each possibly a comma list: ``--llm a --llm b,c`` -> [a, b, c]."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def rerank_tables(results) -> list[Table]:
    """One Rich table per task: a row per teacher, nDCG@10 of every method and, under it, the
    paired difference from the retriever with its 95% bootstrap CI; pairs/s."""
    from gecko_bench.fret.rerank_check import METHODS

    headers = {"retriever": "retriever", "ql": "QL", "rc": "RC raw", "rc_norm": "RC norm",
               "rrf": "RRF"}
    tables = []
    for task in dict.fromkeys(r.task for r in results):
        rows = [r for r in results if r.task == task]
        first = rows[0]
        table = Table(title=f"{task}: nDCG@10 of top-{first.n_neighbours} of {first.retriever}, "
                      f"{first.n_queries} queries, prompts {first.prompt_version}; under each: "
                      "difference from the retriever [paired 95% bootstrap CI]",
                      title_justify="left")
        one_fusion = len({r.rankers for r in rows}) == 1
        table.add_column("teacher")
        if not one_fusion:
            table.add_column("RRF of")
        for m in METHODS:
            table.add_column(headers[m] + (f" ({'+'.join(first.rankers)})"
                                           if m == "rrf" and one_fusion else ""), justify="right")
        table.add_column("pairs/s", justify="right")
        for r in rows:
            cells = [] if one_fusion else ["+".join(r.rankers)]
            for m in METHODS:
                s = r.methods[m]
                cell = f"{100 * s.ndcg_at_10:.1f}"
                if s.delta is not None:
                    cell += (f"\n{100 * s.delta:+.1f} [{100 * s.ci_low:+.1f}, "
                             f"{100 * s.ci_high:+.1f}]")
                cells.append(cell)
            table.add_row(r.llm, *cells, f"{r.pairs_per_s:.2f}")
        tables.append(table)
    return tables


@app.command("rerank-check")
def rerank_check_cmd(
    task: list[str] = typer.Option(["DebianFAQRetrieval"], "--task",
                                   help="Offline retrieval task; repeat (or comma list) for "
                                   "several, one table each."),
    llm: list[str] = typer.Option(["smollm2-135m"], "--llm",
                                  help="LLM that re-ranks; repeat (or comma list) to compare "
                                  "teachers, one row each."),
    backend: str = typer.Option("transformers", help="LLM backend."),
    llm_dtype: str = typer.Option("auto", help="transformers backend compute dtype: auto, "
                                  "float32 or bfloat16."),
    retriever: str = typer.Option("minilm-l6", help="First-stage retriever."),
    n_neighbours: int = typer.Option(20, "--n-neighbours", "-n", help="Candidates re-ranked."),
    max_queries: Optional[int] = typer.Option(None, help="Use only the first N queries."),
    rrf_k: float = typer.Option(0.0, help="RRF constant k."),
    rankers: list[str] = typer.Option(["ql,rc"], "--rankers",
                                      help="Comma list fused by RRF: ql, rc, rc_norm, "
                                      "retriever. Repeat to compare fusions of the same "
                                      "scores, a row each."),
    api_key: Optional[str] = typer.Option(None, envvar="OPENAI_API_KEY", show_default=False,
                                          help="API key for --backend http (never stored)."),
    device: str = typer.Option("cpu", help="cpu or cuda."),
    db: Optional[Path] = DB,
) -> None:
    """Teachers vs the retriever: nDCG@10 of QL, RC and RRF with paired CIs, stored.

    Per teacher and task: the retriever, QL, RC (raw, Yes-vs-No) and RRF re-rankings, each with
    a paired bootstrap CI against the retriever (fret_rerank_checks). The analogue of Gecko's
    Table 6."""
    from gecko_bench.errors import InputError
    from gecko_bench.fret.pipeline import check_rankers
    from gecko_bench.fret.rerank_check import compare

    tasks, llms = _split(task), _split(llm)
    if max_queries is not None and max_queries < 1:
        raise InputError(f"--max-queries must be at least 1, not {max_queries}")
    models: list = list(llms)
    if backend == "http":
        from gecko_bench.llm import load_llm

        models = [load_llm(name, "http", api_key=api_key) for name in llms]
    results = compare(tasks, models, backend=backend, retriever=retriever,
                      n_neighbours=n_neighbours, max_queries=max_queries, rrf_k=rrf_k,
                      device=device, db_path=db, llm_dtype=llm_dtype,
                      rankers=[check_rankers([r.strip() for r in fusion.split(",")
                                              if r.strip()]) for fusion in rankers])
    for table in rerank_tables(results):
        console.print(table)


@app.command("serve")
def serve_cmd(
    llm: str = typer.Argument(..., help="Registered LLM name or .gguf path (transformers backend)."),
    host: str = typer.Option("127.0.0.1", help="Address to bind (0.0.0.0 serves other machines)."),
    port: int = typer.Option(8000, help="Port (0 picks a free one)."),
    llm_dtype: str = typer.Option("auto", help="Compute dtype: auto, float32 or bfloat16."),
    device: str = typer.Option("cpu", help="cpu or cuda."),
) -> None:
    """Serve a local LLM as an OpenAI-compatible /v1/completions endpoint (Ctrl-C stops).

    It echoes prompt log-probs, which the http backend's QL and RC scoring needs; point
    ``--backend http --llm http://HOST:PORT/v1#NAME`` (or ``fret.llm``) at it. SIGTERM stops
    it like Ctrl-C, with exit 0."""
    import signal

    from gecko_bench.llm import load_llm
    from gecko_bench.llm.serve import make_server

    server = make_server(load_llm(llm, "transformers", device=device, dtype=llm_dtype),
                         host=host, port=port)
    bound_host, bound_port = server.server_address[:2]
    console.print(f"Serving {llm} at http://{bound_host}:{bound_port}/v1 (Ctrl-C stops)")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops it like Ctrl-C
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@perf_app.command("fret")
def perf_fret_cmd(
    llm: str = typer.Option("smollm2-135m", help="LLM to time."),
    pairs: int = typer.Option(48, help="(passage, query) pairs scored by each scorer."),
    seeds: int = typer.Option(8, help="Seeds for the whole-pipeline timing (0: skip)."),
    out: Path = typer.Option(Path("results/perf"), help="Folder for fret.json / fret.md."),
    backend: str = typer.Option("transformers", help="llamacpp: time llama.cpp against the "
                                "transformers backend on the same pairs instead."),
) -> None:
    """Pairs/s of the batched scorer vs a naive one-pair loop; seeds/min of the pipeline."""
    from gecko_bench.errors import InputError
    from gecko_bench.fret.perf import compare_backends, run

    if backend not in ("transformers", "llamacpp"):
        raise InputError(f"--backend must be transformers or llamacpp, not {backend!r}")
    result = run(llm=llm, n_pairs=pairs, n_seeds=seeds, out=out) if backend == "transformers" \
        else compare_backends(llm=llm, n_pairs=pairs, out=out)
    console.print(result["markdown"])


@perf_app.command("neighbours")
def perf_neighbours_cmd(
    sizes: str = typer.Option("2000,20000,100000", help="Corpus sizes (nlp-corpus sentences)."),
    queries: int = typer.Option(256, help="Queries searched at each size."),
    k: int = typer.Option(20, "-k", help="Neighbours per query."),
    out: Path = typer.Option(Path("results/perf"), help="Folder for neighbours.json / .md."),
) -> None:
    """FRet neighbour search per corpus size: encode time, peak RSS, faiss vs semantic_search.

    Each size in a fresh process over nlp-corpus sentences; figures to
    results/perf/neighbours.{json,md}."""
    from gecko_bench.errors import InputError
    from gecko_bench.fret.neighbours_perf import run

    try:
        values = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError:
        raise InputError(f"--sizes {sizes!r}: give comma-separated integers") from None
    if not values or min(values) <= queries or max(values) > 100_000:
        raise InputError(f"--sizes must lie in ({queries}, 100000] (nlp-corpus has 100k "
                         "sentences and each size must exceed --queries)")
    console.print(run(values, n_queries=queries, k=k, out=out)["markdown"])
