"""Gecko ablations at our scale: label strategies (Table 3), task diversity (Table 4), MRL dims,
and the soft-label loss (eq. 3 vs MarginMSE on the teacher's scores).

Every experiment shares the main job's assets, FRet build and pre-finetuned checkpoint (the
pipeline stages are reused, not rebuilt), fine-tunes one student per variant and seed with
everything else fixed, evaluates it, and tags its training and evaluation runs with
(experiment, variant) in the store. The summary compares each variant with a reference variant
per category, with paired bootstrap CIs over items pooled across seeds.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from rich.console import Console

from gecko_bench import config
from gecko_bench.errors import InputError
from gecko_bench.progress import training_progress
from gecko_bench.store.scores import Protocol, run_selection


@dataclass(frozen=True)
class Variant:
    """One cell of an experiment: what differs from the profile's fine-tuning settings."""

    name: str
    positive: str = "p1"
    negative: str = "lowest"
    train_overrides: dict = field(default_factory=dict)
    task_types: tuple[str, ...] | None = None
    mrl: bool = True
    prompt_style: str = "gecko"
    pool_size: int | None = None  # train on exactly this many distinct examples (repeated)

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", self.name)


def label_strategy_variants(_fret_types: Counter[str]) -> list[Variant]:
    """Paper Table 3: positive in {seed, p1} x hard negative in {none, random, lowest}."""
    return [Variant(f"pos={pos},neg={neg}", positive=pos, negative=neg)
            for pos in ("seed", "p1") for neg in ("none", "random", "lowest")]


MIN_TYPE_EXAMPLES = 3  # a single-type set smaller than this gives a batch of < 2 negatives


def diversity_plan(fret_types: Counter[str]) -> tuple[int, list[str], list[str]]:
    """(examples per training set, task types with a single-type variant, types left out).

    Every variant trains on the same number of distinct FRet examples: the size of the smallest
    single-type set with at least MIN_TYPE_EXAMPLES queries.
    """
    kept = sorted(t for t, n in fret_types.items() if n >= MIN_TYPE_EXAMPLES)
    if not kept:
        raise InputError(f"task-diversity needs a FRet task type with >= {MIN_TYPE_EXAMPLES} "
                         f"queries; this build has {dict(fret_types)}. Build a larger one, e.g. "
                         "--set fret.n_seeds=96")
    left_out = sorted(set(fret_types) - set(kept))
    return min(fret_types[t] for t in kept), kept, left_out


def task_diversity_variants(fret_types: Counter[str]) -> list[Variant]:
    """Paper Table 4, FRet data only: each single task type, all types with original and with
    uniform sampling, and all types without the unified format - equal-size training sets."""
    size, kept, _ = diversity_plan(fret_types)
    every = tuple(sorted(fret_types))
    singles = [Variant(f"task={t}", task_types=(t,), pool_size=size) for t in kept]
    return singles + [
        Variant("all-original", train_overrides={"task_sampling": "original"},
                task_types=every, pool_size=size),
        Variant("all-uniform", train_overrides={"task_sampling": "uniform"},
                task_types=every, pool_size=size),
        Variant("all-no-unified-format", train_overrides={"text_style": "plain"},
                prompt_style="plain", task_types=every, pool_size=size),
    ]


def describe_diversity(fret_types: Counter[str], train: config.TrainConfig) -> str:
    """What the task-diversity sets are, printed before training."""
    size, _, left_out = diversity_plan(fret_types)
    return (f"task-diversity: every variant trains on {size} distinct FRet examples "
            f"(batch {min(size, train.finetune_batch_size)}, {train.finetune_steps} steps, "
            f"repeated as needed); FRet types {dict(sorted(fret_types.items()))}"
            + (f"; no single-type variant for {', '.join(left_out)} "
               f"(< {MIN_TYPE_EXAMPLES} queries)" if left_out else ""))


def dims_variants(_fret_types: Counter[str]) -> list[Variant]:
    """MRL: the same fine-tune with and without Matryoshka dims, scored at every dim."""
    return [Variant("mrl", mrl=True), Variant("no-mrl", mrl=False)]


def loss_variants(fret_types: Counter[str]) -> list[Variant]:
    """Eq. 3 vs MarginMSE on the teacher's stored scores vs their sum (``train.loss``), on every
    FRet row and nothing else: classification triples carry no teacher score, and margin_mse
    needs one per row (the pool of all FRet rows caps the batch at their number)."""
    return [Variant(loss, train_overrides={"loss": loss, "classification_per_task": 0},
                    pool_size=sum(fret_types.values()))
            for loss in ("gecko", "margin_mse", "gecko+margin_mse")]


@dataclass(frozen=True)
class Experiment:
    name: str
    variants: Callable[[Counter[str]], list[Variant]]  # from the FRet build's task-type counts
    reference: str  # the variant the others are compared with
    all_dims: bool  # evaluate at every MRL dim (True) or only the full dim
    paper_claim: str
    describe: Callable[[Counter[str], config.TrainConfig], str] | None = None  # printed first


EXPERIMENTS: dict[str, Experiment] = {
    e.name: e for e in [
        Experiment("label-strategies", label_strategy_variants, "pos=seed,neg=none", False,
                   "Gecko Table 3: the LLM-chosen positive (p1) with the lowest-ranked hard "
                   "negative beats the seed passage as positive, on retrieval and STS"),
        Experiment("task-diversity", task_diversity_variants, "all-original", False,
                   "Gecko Table 4: training on all task types beats any single type, and the "
                   "unified format helps", describe_diversity),
        Experiment("dims", dims_variants, "no-mrl", True,
                   "MRL keeps truncated embeddings (e.g. 64-d) much closer to full-dim quality "
                   "than a model trained without it"),
        Experiment("loss", loss_variants, "gecko", False,
                   "not a Gecko claim: GPL trains on MarginMSE over a cross-encoder's margins; "
                   "here the teacher LLM's stored scores (train.soft_label_score) instead of, "
                   "or added to, eq. 3"),
    ]
}


def get_experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        # domain is one domain job per corpus, not variants of one fine-tune (gecko_bench.domain)
        raise InputError(f"unknown experiment {name!r}; valid: {', '.join(EXPERIMENTS)}, domain")
    return EXPERIMENTS[name]


def _fret_task_types(jsonl: Path) -> Counter[str]:
    from trainers.data import read_fret_jsonl

    return Counter(ex.task_type for ex in read_fret_jsonl(jsonl))


def run_experiment(name: str, profile: config.Profile, seeds: int = 1,
                   db_path: Path | None = None, root: Path | None = None,
                   only: list[str] | None = None, tasks: list[str] | None = None,
                   console: Console | None = None) -> pd.DataFrame:
    """Train and evaluate every variant (x seeds) of experiment `name`; return the summary.

    `only` restricts to the named variants (the reference is always kept); `tasks` evaluates
    on these task names instead of the profile's suite (for quick runs).
    """
    from gecko_bench import fret
    from gecko_bench.eval.runner import RunContext, TaskSource, evaluate
    from gecko_bench.pipeline import run_pipeline, work_dir
    from gecko_bench.store import default_db_path
    from trainers import finetune

    console = console or Console()
    exp = get_experiment(name)
    db = Path(db_path) if db_path else default_db_path()
    prepared = run_pipeline(profile, db_path=db, root=root, console=console,
                            stages=("assets", "fret", "prefinetune")).outputs
    dataset_id = prepared["fret"]["dataset_id"]
    wd = work_dir(profile, root) / "experiments" / name
    wd.mkdir(parents=True, exist_ok=True)
    fret_types = _fret_task_types(Path(prepared["fret"]["jsonl"]))
    variants = exp.variants(fret_types)
    if exp.describe:
        console.print(exp.describe(fret_types, profile.train))
    if only:
        unknown = set(only) - {v.name for v in variants}
        if unknown:
            raise InputError(f"unknown variant(s) {sorted(unknown)} of {name}; valid: "
                             f"{', '.join(v.name for v in variants)}")
        variants = [v for v in variants if v.name in set(only) | {exp.reference}]
    dims = profile.train.mrl_dims if exp.all_dims else [max(profile.train.mrl_dims)]
    checkpoints: dict[str, list[str]] = {}
    protocols: dict[str, Protocol] = {}  # how each variant's checkpoints were measured
    for variant in variants:
        jsonl = wd / f"fret_{variant.positive}_{variant.negative}.jsonl"
        if not jsonl.exists():
            fret.export_training_jsonl(dataset_id, jsonl, positive=variant.positive,
                                       negative=variant.negative, db_path=db)
        for s in range(seeds):
            cfg = dataclasses.replace(profile.train, seed=profile.train.seed + s,
                                      positive=variant.positive, negative=variant.negative,
                                      **variant.train_overrides)
            if variant.pool_size:  # a batch may not hold the same example twice
                cfg = dataclasses.replace(cfg, finetune_batch_size=min(
                    cfg.finetune_batch_size, variant.pool_size))
            console.rule(f"{name}: {variant.name} (seed {cfg.seed})")
            with training_progress("fine-tuning", console) as progress:
                ckpt = finetune(cfg, jsonl,
                                init_checkpoint=prepared["prefinetune"]["checkpoint"],
                                out_dir=wd / variant.slug / f"seed{cfg.seed}", db_path=db,
                                device=profile.device, fret_dataset_id=dataset_id,
                                experiment=name, variant=variant.name,
                                task_types=variant.task_types, mrl=variant.mrl,
                                profile=profile.name, pool_size=variant.pool_size,
                                progress=progress)
            tasks = tasks or profile.eval.tasks or None
            run_id = evaluate(
                str(ckpt), tasks or TaskSource.of(profile.eval),
                config=dataclasses.replace(profile.eval, dims=dims,
                                           prompt_style=variant.prompt_style),
                db=db, context=RunContext(device=profile.device, experiment=name,
                                          variant=variant.name, profile=profile.name))
            protocols[variant.name] = run_selection(db, run_id)[1]
            checkpoints.setdefault(variant.name, []).append(str(ckpt))
    return summarize(name, checkpoints, db, dims, suite=None if tasks else profile.eval.suite,
                     protocols=protocols)


def summarize(name: str, checkpoints: dict[str, list[str]], db: Path, dims: list[int],
              suite: str | None, protocols: dict[str, Protocol]) -> pd.DataFrame:
    """Per variant, dim and category: mean score and delta vs the reference with a 95% CI,
    each variant read under the protocol it was measured with."""
    from gecko_bench.provenance import checkpoint_id
    from gecko_bench.regress import category_gains

    exp = get_experiment(name)
    ids = {v: [checkpoint_id(c) for c in cks] for v, cks in checkpoints.items()}
    ref = ids[exp.reference]
    frames = []
    for variant, cand in ids.items():
        for dim in dims:
            gains = category_gains(db, ref, cand, suite=suite, dim=dim,
                                   baseline_protocol=protocols[exp.reference],
                                   candidate_protocol=protocols[variant])
            gains.insert(0, "dim", dim)
            gains.insert(0, "variant", variant)
            frames.append(gains)
    out = pd.concat(frames, ignore_index=True)
    out = out.rename(columns={"baseline": "reference", "candidate": "score"})
    out.insert(0, "experiment", name)
    return out


def verdict_lines(name: str, summary: pd.DataFrame) -> list[str]:
    """Plain statements of whether the paper's effect shows at this scale."""
    exp = get_experiment(name)
    lines = [f"paper: {exp.paper_claim}"]
    others = summary[summary["variant"] != exp.reference]
    for row in others.itertuples():
        sig = row.ci_low > 0 or row.ci_high < 0
        direction = "better" if row.delta > 0 else "worse"
        lines.append(
            f"  {row.variant} vs {exp.reference}, {row.category} @ {row.dim}d: "
            f"{row.delta:+.2f} points [{row.ci_low:+.2f}, {row.ci_high:+.2f}] -> "
            + (f"significantly {direction}" if sig else "no significant difference at this scale"))
    return lines
