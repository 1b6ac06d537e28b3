"""The main job: assets -> FRet -> pre-finetune -> fine-tune -> evaluate -> report.

Every stage is resumable on its own (FRet by batch, training from its last checkpoint, evaluation
by finished task), and a finished stage is recorded in the store with its output, so a rerun after
a kill continues where it stopped and a rerun after completion only prints the results.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from gecko_bench import assets, config, domain, provenance
from gecko_bench.errors import InputError
from gecko_bench.progress import training_progress
from gecko_bench.store import default_db_path, recorded_run
from gecko_bench.store.pipeline import finished_stages, record_stage

STAGES = ("assets", "fret", "prefinetune", "finetune", "evaluate")

# How each evaluated model is prompted: the student was trained on the unified Gecko format; the
# others are evaluated the way their authors use them.
PROMPT_STYLE = {"mpnet-base": "none", "minilm-l6": "none", "e5-small-multilingual": "e5",
                "bm25": "none"}


@dataclass
class PipelineResult:
    pipeline_id: str
    db_path: Path
    outputs: dict[str, Any]

    @property
    def student(self) -> str:
        return self.outputs["finetune"]["checkpoint"]


def pipeline_id(profile: config.Profile) -> str:
    """Stable id of a profile's resolved config: the same settings resume the same pipeline.

    A domain job (``domain.corpus`` set; its content hash is in the config) is
    ``domain-<profile>-<hash>``. Settings at their neutral value (no target corpus, one query
    per seed, LLM scoring on, gathering across devices) are left out, so jobs configured before
    they existed keep their ids."""
    settings = config.as_dict(profile)
    settings["train"] = config.train_identity(settings["train"])
    if not profile.domain.corpus:
        settings.pop("domain")
    else:  # how a registered target was exported: its content hash already says the split
        settings["domain"].pop("dev_queries")
    if profile.fret.queries_per_seed == 1:
        settings["fret"].pop("queries_per_seed")
    if profile.fret.llm_scoring:
        settings["fret"].pop("llm_scoring")
    if profile.train.gather_across_devices:  # acts only under torchrun
        settings["train"].pop("gather_across_devices")
    settings["eval"].pop("processes")  # how the same vectors are computed, not what they are
    blob = json.dumps(settings, sort_keys=True).encode()
    kind = "domain" if profile.domain.corpus else "pipeline"
    return f"{kind}-{profile.name}-{hashlib.sha256(blob).hexdigest()[:10]}"


def work_dir(profile: config.Profile, root: Path | None = None) -> Path:
    """Where the pipeline keeps checkpoints and exported data (git-ignored)."""
    return (root or Path("results") / "runs") / pipeline_id(profile)


def eval_label(p: config.Profile) -> str:
    """The suite name, or the explicit task list when the profile overrides it."""
    return ",".join(p.eval.tasks) if p.eval.tasks else p.eval.suite


def eval_suite(p: config.Profile) -> str | None:
    """The suite to filter stored scores by (None when an explicit task list is evaluated)."""
    return None if p.eval.tasks else p.eval.suite


def model_dims(model: str, requested: list[int]) -> list[int]:
    """The requested dims the model can serve, plus its full dim."""
    from gecko_bench.eval.lexical import is_lexical
    from gecko_bench.store.scores import NO_DIM

    if is_lexical(model):  # BM25 has no embedding dim
        return [NO_DIM]
    if model in assets.MODELS:
        full = assets.get_model(model).dim
    else:
        from gecko_bench.assets.loaders import embedding_dimension, load_sentence_transformer

        full = embedding_dimension(load_sentence_transformer(model))
    return sorted({d for d in requested if d <= full} | {full}, reverse=True)


def _stage_assets(p: config.Profile, out: dict, wd: Path, db: Path, console: Console) -> dict:
    names = {p.fret.llm, p.fret.retriever, p.train.base_model, *p.eval.baselines}
    for name in sorted(n for n in names if n in assets.MODELS):
        assets.fetch_model(name)
    for source in assets.DATA_SOURCES:
        assets.fetch_source(source)
    return {"models": sorted(names)}


def _stage_fret(p: config.Profile, out: dict, wd: Path, db: Path, console: Console) -> dict:
    from gecko_bench import fret

    from trainers.data import split_dev

    dataset_id = fret.build(p.fret, db_path=db, device=p.device)
    every, jsonl, dev = wd / "fret_all.jsonl", wd / "fret_train.jsonl", wd / "fret_dev.jsonl"
    fret.export_training_jsonl(dataset_id, every, positive=p.train.positive,
                               negative=p.train.negative, db_path=db)
    target = domain.target_texts(p)
    if target is not None:  # the overlap rule, before anything trains on these rows
        domain.check_fret_rows(every, target)
    # a target with its own dev queries is chosen on those: no FRet query is held out of training
    target_dev = domain.dev_split(p)
    rows, dev_rows = split_dev(every, 0.0 if target_dev else p.train.dev_fraction, jsonl, dev)
    held = (f"none held out (choices on {target_dev}'s dev queries)" if target_dev
            else f"{dev_rows} held out as the dev split -> {dev}")
    console.print(f"{fret.summary(dataset_id, db)}; {rows} training rows -> {jsonl}, {held}")
    return {"dataset_id": dataset_id, "jsonl": str(jsonl), "rows": rows,
            "dev_jsonl": str(dev), "dev_rows": dev_rows}


def _stage_prefinetune(p: config.Profile, out: dict, wd: Path, db: Path,
                       console: Console) -> dict:
    import trainers

    if p.train.prefinetune_steps == 0:  # e.g. a domain job whose dev split it harms
        console.print(f"pre-finetuning skipped (train.prefinetune_steps=0): fine-tuning starts "
                      f"from {p.train.base_model}")
        return {"checkpoint": p.train.base_model, "skipped": True}
    with training_progress("pre-finetuning", console) as progress:
        ckpt = trainers.prefinetune(p.train, wd / "prefinetune", db_path=db, device=p.device,
                                    progress=progress, target=domain.target_texts(p))
    return {"checkpoint": str(ckpt)}


def _stage_finetune(p: config.Profile, out: dict, wd: Path, db: Path, console: Console) -> dict:
    import trainers

    with training_progress("fine-tuning", console) as progress:
        ckpt = trainers.finetune(p.train, Path(out["fret"]["jsonl"]),
                                 init_checkpoint=out["prefinetune"]["checkpoint"],
                                 out_dir=wd / "finetune", db_path=db, device=p.device,
                                 fret_dataset_id=out["fret"]["dataset_id"], progress=progress,
                                 dev_jsonl=domain.dev_split(p) or out["fret"].get("dev_jsonl"),
                                 target=domain.target_texts(p))
    manifest = json.loads((Path(ckpt) / trainers.MANIFEST).read_text())
    choice = manifest.get("prompt_choice", {})
    console.print(f"student prompt style: [bold]{manifest.get('prompt_style')}[/] (chosen on "
                  f"{choice.get('chosen_on')}; dev nDCG@10 "
                  + (", ".join(f"{k} {100 * v:.1f}" for k, v in choice.get("scores", {}).items())
                     or "n/a") + ")")
    return {"checkpoint": str(ckpt), "prompt_style": manifest.get("prompt_style")}


LIKE_BASE = "student, scored like its base"  # key of the student's second evaluation


def _evaluate(p: config.Profile, model: str, style: str, source, db: Path) -> str:
    """Evaluate one model of the job's plan: the profile's eval settings at the model's dims
    and `style` prompts; return the run id."""
    from gecko_bench.eval.runner import RunContext, evaluate

    cfg = dataclasses.replace(p.eval, dims=model_dims(model, p.eval.dims), prompt_style=style)
    return evaluate(model, source, config=cfg, db=db,
                    context=RunContext(device=p.device, profile=p.name))


def _stage_evaluate(p: config.Profile, out: dict, wd: Path, db: Path, console: Console) -> dict:
    """A domain job's target first; then every model at its own prompt style on the general
    suite (the student: the one its prompts carry, chosen on the dev split), and the student a
    second time under its base's protocol, so the headline gain compares like with like; then
    the student's model card gets its scores. A baseline that can score none of the suite's
    tasks (BM25 on STS alone) is left out with a line saying why."""
    from gecko_bench.errors import NothingToScore
    from gecko_bench.eval.runner import TaskSource
    from gecko_bench.store.scores import run_selection
    from trainers.card import refresh_card

    student, base = out["finetune"]["checkpoint"], p.train.base_model
    plan = [(base, base, PROMPT_STYLE.get(base, "none")), (student, student, "auto"),
            (LIKE_BASE, student, PROMPT_STYLE.get(base, "none"))]
    baselines = [(m, m, PROMPT_STYLE.get(m, "none")) for m in p.eval.baselines if m != base]
    target = _evaluate_target(p, plan, db, console)
    runs, measured = {}, {}
    for key, model, style in plan + baselines:
        console.print(f"[bold]evaluate[/] {model} on {eval_label(p)} ({style} prompts)")
        try:
            runs[key] = _evaluate(p, model, style, TaskSource.of(p.eval), db)
        except NothingToScore as exc:
            if (key, model, style) in plan:
                raise
            console.print(f"{model} left out: {exc}")
            continue
        model_id, protocol = run_selection(db, runs[key])
        measured[key] = {"model_id": model_id, **protocol.as_dict()}
    refresh_card(Path(student), db)
    # What the report reads back: each model as this job measured it, nothing else.
    return {"runs": runs, "models": [m for k, m, _ in plan + baselines if k in runs],
            "measured": measured, **target}


def _evaluate_target(p: config.Profile, plan: list[tuple[str, str, str]], db: Path,
                     console: Console) -> dict:
    """A domain job's target task (base, student, student like its base, on the folder's own
    queries) and which general-suite tasks share texts with the target corpus."""
    from gecko_bench.eval.resolve import resolve
    from gecko_bench.eval.runner import TaskSource
    from gecko_bench.store.scores import run_selection

    beir = domain.folder(p)
    if beir is None:
        return {}
    out: dict[str, Any] = {"target": None}
    if beir.has_evaluation():
        runs, measured = {}, {}
        for key, model, style in plan:
            console.print(f"[bold]evaluate[/] {model} on the target {beir.name} ({style} prompts)")
            runs[key] = _evaluate(p, model, style, TaskSource(beir_dir=beir.root), db)
            model_id, protocol = run_selection(db, runs[key])
            measured[key] = {"model_id": model_id, **protocol.as_dict()}
        (spec,) = resolve(beir_dir=beir.root)
        out["target"] = {"task": spec.name, "suite": spec.suite, "runs": runs,
                         "measured": measured}
    specs = resolve(suite=eval_suite(p), tasks=p.eval.tasks or None)
    out |= domain.touched_tasks(specs, domain.target_texts(p))
    console.print("general-suite tasks touched by the target corpus: "
                  + (", ".join(out["touched"]) or "none"))
    return out


STAGE_FUNCS: dict[str, Callable[..., dict]] = {
    "assets": _stage_assets, "fret": _stage_fret, "prefinetune": _stage_prefinetune,
    "finetune": _stage_finetune, "evaluate": _stage_evaluate,
}


def run_pipeline(profile: config.Profile, db_path: Path | None = None,
                 root: Path | None = None, console: Console | None = None,
                 stages: tuple[str, ...] = STAGES) -> PipelineResult:
    """Run (or resume) the main job's `stages` (default: all) for `profile`."""
    import trainers
    from gecko_bench.fret import dataset_id

    dataset_id(profile.fret, profile.device)  # bad FRet settings: fail, nothing written
    trainers.check_settings(profile.train, profile.device)  # bad training settings: the same
    if not profile.fret.llm_scoring and profile.train.loss != "gecko":
        raise InputError(f"train.loss={profile.train.loss} learns from the teacher's scores, "
                         "and fret.llm_scoring=false stores none; use train.loss=gecko")
    console = console or Console()
    db = Path(db_path) if db_path else default_db_path()
    pid = pipeline_id(profile)
    wd = work_dir(profile, root)
    wd.mkdir(parents=True, exist_ok=True)
    done = finished_stages(pid, db)
    if "measured" not in done.get("evaluate", {"measured": None}):
        # Recorded before scores carried their protocol: score again under the current rules
        # (finished tasks of the same identity are skipped by the runner).
        done.pop("evaluate")
    if all(s in done for s in stages):
        if stages == STAGES:
            console.print(f"[green]{pid} already complete[/]: printing stored results")
        return PipelineResult(pid, db, done)
    with recorded_run("pipeline", config.as_dict(profile), provenance.collect(profile.device),
                      profile=profile.name, db_path=db) as run:
        for stage in stages:
            if stage in done:
                console.print(f"[dim]stage {stage}: done earlier, skipped[/]")
                continue
            console.rule(f"stage {stage}")
            t0 = time.perf_counter()
            done[stage] = STAGE_FUNCS[stage](profile, done, wd, db, console)
            run.durations[stage] = time.perf_counter() - t0
            record_stage(pid, stage, done[stage], run.durations[stage], db)
            console.print(f"stage {stage} finished in {run.durations[stage]:.0f} s")
    return PipelineResult(pid, db, done)
