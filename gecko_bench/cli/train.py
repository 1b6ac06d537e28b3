"""``gecko-bench train``: pre-finetune and fine-tune embedding checkpoints (trainers/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from gecko_bench.cli.perf import app as perf_app
from gecko_bench.errors import InputError
from gecko_bench.progress import training_progress

app = typer.Typer(help="Train Gecko-style embedding checkpoints: pre-finetune, then fine-tune "
                  "on the FRet + classification mixture.", no_args_is_help=True)
console = Console()

PROFILE = typer.Option("tiny", "--profile", "-p", help="Config profile: tiny | demo | cpu | gpu.")
DEVICE = typer.Option("cpu", "--device", help="cpu, or cuda[:N] (bf16 autocast when supported).")
DB = typer.Option(None, "--db", help="DuckDB results file (default $GECKO_BENCH_DB or "
                  "results/gecko_bench.duckdb).")
STEPS = typer.Option(None, "--steps", help="Optimizer steps (default: the profile's).")
BATCH = typer.Option(None, "--batch-size", help="Batch size (default: the profile's).")
SAVE = typer.Option(None, "--save-steps", help="Checkpoint every N steps (resume point).")
SEQ = typer.Option(None, "--max-seq-length", help="Truncate texts to N tokens.")
DTYPE = typer.Option(None, "--dtype", help="float32 | bfloat16 (mixed precision) | auto "
                     "(bfloat16 where the CPU/GPU runs it natively, float32 elsewhere); default: "
                     "the profile's (auto). The resolved dtype is part of the checkpoint key.")
TEXT_STYLE = typer.Option(None, "--text-style",
                          help="gecko: 'task: .. | query: ..' / 'title: .. | text: ..' (the "
                          "profile's default); plain: '{task} {text}' (the paper's ablation); "
                          "none: the bare texts, as a base without prompts is scored.")


def _cfg(profile: str, **over):
    from gecko_bench.config import resolve

    prof = resolve(profile)
    for key, value in over.items():
        if value is not None:
            setattr(prof.train, key, value)
    return prof.train


def _progress(what: str):
    """The training bar; under torchrun only rank 0 draws one (the others print nothing)."""
    from contextlib import nullcontext

    from trainers.distributed import is_main

    return training_progress(what, console) if is_main() else nullcontext()


def _report(path: Path) -> None:
    from trainers.distributed import is_main

    if not is_main():
        return
    m = json.loads((path / "manifest.json").read_text())
    console.print(f"[bold green]{m['stage']} checkpoint[/] {path}")
    table = Table(show_header=False)
    for key in ("name", "model_id", "parent", "base_model", "steps", "resumed_from_step",
                "final_loss", "samples_per_s", "mrl_dims", "train_run_id"):
        table.add_row(key, str(m.get(key)))
    table.add_row("mixture", json.dumps(m["mixture"].get("drawn")))
    console.print(table)


@app.command("prefinetune")
def prefinetune_cmd(
    out: Path = typer.Option(Path("results/runs/prefinetune"), "--out", "-o",
                             help="Checkpoint folder (reused if finished with the same config, "
                             "resumed if a run was interrupted)."),
    profile: str = PROFILE, device: str = DEVICE, db: Optional[Path] = DB,
    steps: Optional[int] = STEPS, batch_size: Optional[int] = BATCH,
    text_style: Optional[str] = TEXT_STYLE, save_steps: Optional[int] = SAVE,
    max_seq_length: Optional[int] = SEQ, dtype: Optional[str] = DTYPE,
    base_model: Optional[str] = typer.Option(None, "--base-model", help="Registered model name "
                                             "or sentence-transformers folder."),
) -> None:
    """Pre-finetune on open text pairs (in-batch negatives, mean pooling).

    Pairs: Wikipedia heading -> section text and Austen paragraph -> next paragraph, each query
    with a dataset-specific task string.
    """
    import trainers

    cfg = _cfg(profile, prefinetune_steps=steps, prefinetune_batch_size=batch_size,
               text_style=text_style, base_model=base_model, save_steps=save_steps,
               max_seq_length=max_seq_length, dtype=dtype)
    with _progress("pre-finetuning") as progress:
        path = trainers.prefinetune(cfg, out, db_path=db, device=device, profile=profile,
                                    progress=progress)
    _report(path)


@app.command("finetune")
def finetune_cmd(
    init: str = typer.Option(..., "--init", "-i", help="Checkpoint to start from: a "
                             "pre-finetuned folder or a registered model name."),
    fret: Optional[Path] = typer.Option(None, "--fret", "-f", help="FRet training JSONL "
                                        "(from the fret stage)."),
    out: Path = typer.Option(Path("results/runs/finetune"), "--out", "-o",
                             help="Checkpoint folder (reused / resumed like prefinetune)."),
    profile: str = PROFILE, device: str = DEVICE, db: Optional[Path] = DB,
    steps: Optional[int] = STEPS, batch_size: Optional[int] = BATCH,
    text_style: Optional[str] = TEXT_STYLE, save_steps: Optional[int] = SAVE,
    max_seq_length: Optional[int] = SEQ, dtype: Optional[str] = DTYPE,
    classification_per_task: Optional[int] = typer.Option(
        None, "--classification-per-task", help="(x, x+, x-) triples per classification "
        "train split (0: none)."),
    sampling: Optional[str] = typer.Option(None, "--sampling", help="Task sampling over task "
                                           "types: original (proportional) | uniform."),
    task_type: Optional[list[str]] = typer.Option(None, "--task-type", "-t", help="Keep only "
                                                  "these task types (repeatable)."),
    mrl: bool = typer.Option(True, "--mrl/--no-mrl", help="Matryoshka loss over --mrl-dims."),
    mrl_dims: Optional[str] = typer.Option(None, "--mrl-dims", help="Comma-separated dims, "
                                           "e.g. 384,256,128,64 (default: the profile's)."),
    mini_batch_size: Optional[int] = typer.Option(None, "--mini-batch-size", help="GradCache "
                                                  "mini-batch: large batches in bounded memory."),
    extra: Optional[list[Path]] = typer.Option(None, "--extra", help="Extra pair files in "
                                               "FRet format (repeatable)."),
    fret_dataset_id: Optional[str] = typer.Option(None, "--fret-dataset-id",
                                                  help="Id of the FRet dataset (lineage)."),
    experiment: Optional[str] = typer.Option(None, "--experiment", help="Experiment name."),
    variant: Optional[str] = typer.Option(None, "--variant", help="Variant name."),
    dev: Optional[Path] = typer.Option(None, "--dev", help="A dev split never trained on: "
                                       "FRet-format JSONL (the fret stage's fret_dev.jsonl) or "
                                       "a BEIR folder with qrels/dev.tsv. The prompt style is "
                                       "chosen on it (and the kept step, with --dev-eval-steps)."),
    dev_eval_steps: Optional[int] = typer.Option(None, "--dev-eval-steps", help="Score the "
                                                 "dev split every N steps, keep the best step "
                                                 "(default: the profile's)."),
) -> None:
    """Fine-tune on the Gecko mixture with the eq. 3 loss and Matryoshka dims.

    Mixture: FRet rows + classification triples + extra pair files. Loss: in-batch positives,
    the hard negative and same-tower (query) negatives, tau from the profile.
    """
    import trainers

    dims = None
    if mrl_dims:
        try:
            dims = [int(d) for d in mrl_dims.split(",")]
        except ValueError:
            raise InputError(f"--mrl-dims {mrl_dims!r}: give comma-separated integers") from None
    if dev is not None and not (dev.is_file() or (dev / "qrels" / "dev.tsv").is_file()):
        raise InputError(f"--dev {dev}: neither a FRet-format JSONL file nor a BEIR folder "
                         "with qrels/dev.tsv")
    cfg = _cfg(profile, finetune_steps=steps, finetune_batch_size=batch_size,
               text_style=text_style, task_sampling=sampling, mrl_dims=dims,
               mini_batch_size=mini_batch_size, save_steps=save_steps,
               max_seq_length=max_seq_length, classification_per_task=classification_per_task,
               dtype=dtype, dev_eval_steps=dev_eval_steps)
    with _progress("fine-tuning") as progress:
        path = trainers.finetune(cfg, fret, init, out, db_path=db, device=device,
                                 fret_dataset_id=fret_dataset_id, experiment=experiment,
                                 variant=variant, task_types=task_type or None, mrl=mrl,
                                 profile=profile, extra_jsonl=extra or (), progress=progress,
                                 dev_jsonl=dev)
    _report(path)


@app.command("runs")
def runs_cmd(db: Optional[Path] = DB,
             curve: Optional[str] = typer.Option(None, "--curve", help="Print the loss curve "
                                                 "of this model_id / run_id.")) -> None:
    """List training runs (or one loss curve) from the results database."""
    from gecko_bench.store import training as store

    if curve:
        df = store.loss_curve(curve, db_path=db)
        if df.empty:
            raise InputError(f"no loss curve for {curve!r}")
        console.print(df.to_string(index=False))
        return
    df = store.training_runs(db_path=db)
    if df.empty:
        console.print("no training runs yet: run `gecko-bench train prefinetune`")
        return
    from gecko_bench.report import frame_table

    cols = ["run_id", "stage", "status", "model_name", "steps_done", "final_loss",
            "samples_per_s", "resumed_from_step"]
    console.print(frame_table(df[cols], "training runs", floatfmt="{:.3f}"))


@perf_app.command("train")
def perf_train_cmd(
    steps: int = typer.Option(6, "--steps", help="Timed steps per trainer (after 1 warm-up)."),
    batch_size: int = typer.Option(16, "--batch-size", help="Triples per batch."),
    repeats: int = typer.Option(2, "--repeats", help="Alternating repeats of both trainers."),
    device: str = DEVICE,
    out: Path = typer.Option(Path("results/perf"), "--out", help="Where figures are written."),
    dtype: Optional[list[str]] = typer.Option(
        None, "--dtype", help="Dtype setting(s) our step is timed under against float32 "
        "(repeatable: auto | float32 | bfloat16; default auto)."),
) -> None:
    """Samples/s of our fine-tune step vs plain sentence-transformers, and float32 vs dtype.

    GFLOP/s are shown beside the machine's matmul rates measured in the same run.

    Same loss, model, batch and data, alternated in one process; figures to
    results/perf/train.{json,md}.
    """
    from gecko_bench.hardware import check_setting, dtype_markdown
    from trainers.perf import run_benchmark

    dtypes = tuple(check_setting(d, "train dtype") for d in dtype or ("auto",))
    result = run_benchmark(steps=steps, batch_size=batch_size, repeats=repeats, device=device,
                           out=out, dtypes=dtypes)
    table = Table(title=f"fine-tune step, {result['device']}")
    for col in ("trainer", "samples/s (median)", "runs"):
        table.add_column(col)
    for name, row in result["trainers"].items():
        table.add_row(name, f"{row['median_samples_per_s']:.2f}",
                      ", ".join(f"{x:.2f}" for x in row["samples_per_s"]))
    console.print(table)
    console.print(f"ratio ours / plain (float32): [bold]{result['ratio']:.2f}x[/]")
    console.print(dtype_markdown(result["dtypes"], result["machine"], "samples/s"))
    console.print(f"-> {result['files']}")
