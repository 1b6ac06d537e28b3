"""The two Gecko training stages: pre-finetuning on open text pairs, fine-tuning on the mixture."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gecko_bench.config import train_identity
from gecko_bench.errors import InputError
from trainers import distributed
from trainers.core import ProgressFn, RunSpec, run_training, train_dtype
from trainers.data import (
    Example,
    build_mixture,
    check_dev_fraction,
    check_loss,
    check_sampling,
    check_text_style,
    classification_triples,
    prefinetune_pairs,
    read_fret_jsonl,
    to_dataset,
    without_negative,
)
from trainers.losses import build_loss, describe_loss
from trainers.prompt_choice import dev_digest

_STAGE_ONLY = {"prefinetune": ("finetune_", "mrl_dims", "task_sampling", "positive", "negative",
                               "classification_per_task", "other_hard_negatives",
                               "mini_batch_size", "loss", "soft_label_"),
               "finetune": ("prefinetune_",)}
# train.loss and its settings: in a fine-tuning key only when the loss is not eq. 3, so eq. 3
# runs keep the key they had before the setting existed
_SOFT_LABEL = ("loss", "soft_label_score", "soft_label_weight")
_KEYED_IN_CORE = ("dtype", "dev_eval_steps", "early_stopping_patience", "gather_across_devices")


def check_settings(cfg, device: str = "cpu") -> None:
    """InputError on a training setting no stage could run with, before any stage runs: the
    loss and its soft-label score, task sampling, the mining strategies, the dtype on
    `device`, the dev fraction, step counts and batch sizes."""
    from gecko_bench.fret.rank import POSITIVES, parse_negative

    check_loss(cfg.loss, cfg.soft_label_score)
    check_sampling(cfg.task_sampling)
    check_text_style(cfg.text_style)
    if cfg.positive not in POSITIVES:
        raise InputError(f"unknown train.positive {cfg.positive!r}; choose "
                         f"{' or '.join(POSITIVES)}")
    try:
        parse_negative(cfg.negative)
    except ValueError as exc:
        raise InputError(f"train.negative: {exc}") from None
    check_dev_fraction(cfg.dev_fraction)
    for key in ("prefinetune_steps", "finetune_steps", "prefinetune_batch_size",
                "finetune_batch_size", "max_seq_length"):
        if getattr(cfg, key) < (0 if key == "prefinetune_steps" else 1):
            raise InputError(f"train.{key} must be at least "
                             f"{0 if key == 'prefinetune_steps' else 1}, got {getattr(cfg, key)}")
    train_dtype(cfg, device)


def _cfg_key(cfg, stage: str) -> dict[str, Any]:
    """The config fields that decide `stage`'s result (others do not change its key).

    ``dtype`` is left out as written: ``auto`` means different things on different machines,
    so :func:`trainers.core.run_training` adds the resolved dtype to the key instead; it adds
    the dev-selection settings only when they act (a dev split and ``dev_eval_steps`` > 0), and
    the process count and ``gather_across_devices`` only under torchrun.
    """
    return {k: v for k, v in train_identity(dataclasses.asdict(cfg)).items()
            if not k.startswith(_STAGE_ONLY[stage]) and k not in _KEYED_IN_CORE
            and not (cfg.loss == "gecko" and k in _SOFT_LABEL)}


def _guard(examples: Sequence[Example], what: str, target=None) -> dict[str, Any]:
    """Run the evaluation-overlap guard on every training text (it raises InputError on an
    overlap); returns what was checked.

    `target` (a domain job's :class:`gecko_bench.tasks.overlap.TargetTexts`): an example
    holding one of its queries is an InputError naming the example; its documents are allowed.
    """
    from gecko_bench.tasks import overlap_guard

    if target is not None:
        target.refuse_queries(((f"example {ex.id!r} ({field})", getattr(ex, field))
                               for ex in examples for field in ("query", "positive", "negative")),
                              what)
    texts = [t for ex in examples for t in (ex.query, ex.positive, ex.negative) if t]
    overlap_guard(texts, what, allow=target)
    out = {"texts": len(texts), "result": "passed"}
    return out | ({"target": target.name} if target is not None else {})


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_mrl_dims(dims: Sequence[int], init: str) -> None:
    """InputError when an MRL dim exceeds the init model's embedding dimension."""
    import json

    from gecko_bench.assets import MODELS
    from gecko_bench.assets.loaders import resolve_st_path

    if init in MODELS:
        dim = MODELS[init].dim
    else:
        pooling = resolve_st_path(init) / "1_Pooling" / "config.json"
        dim = json.loads(pooling.read_text()).get("embedding_dimension") \
            if pooling.exists() else None
    bad = [d for d in dims if d <= 0 or (dim is not None and d > dim)]
    if bad:
        raise InputError(f"MRL dim(s) {bad} invalid for {init} (embedding dimension {dim}); "
                         f"use dims between 1 and {dim}")


def prefinetune(cfg, out_dir: str | Path, db_path: str | Path | None = None,
                device: str = "cpu", profile: str | None = None, experiment: str | None = None,
                variant: str | None = None, progress: ProgressFn | None = None,
                target=None) -> Path:
    """Pre-finetune ``cfg.base_model`` on open text pairs; returns the checkpoint folder.

    Pairs: Wikipedia section heading -> section text and Austen paragraph -> next paragraph
    (:mod:`gecko_bench.corpora.seeds`), each with a dataset-specific task string on the query.
    In-batch negatives only (no hard negatives, no same-tower term), mean pooling.
    """
    from gecko_bench.corpora import seeds

    train_dtype(cfg, device)  # a bad dtype fails before the data is built
    pairs = prefinetune_pairs(seeds.wikipedia_sections(), seeds.book_paragraphs())
    groups: dict[str, list[Example]] = {}
    for ex in pairs:
        groups.setdefault(ex.task_type, []).append(ex)
    bs, steps = cfg.prefinetune_batch_size, cfg.prefinetune_steps
    mix = build_mixture(groups, steps * bs, bs, "original", cfg.seed)
    guard = _guard(mix.examples, "pre-finetuning pairs", target)  # what is trained on
    dataset = to_dataset(mix.examples, cfg.text_style, with_negative=False)
    spec = RunSpec(
        stage="prefinetune", init=cfg.base_model, out=Path(out_dir), steps=steps, batch_size=bs,
        key_material={"stage": "prefinetune", "config": _cfg_key(cfg, "prefinetune"),
                      "init": cfg.base_model, "composition": mix.composition},
        manifest_extra={"mixture": mix.composition, "overlap_guard": guard, "mrl_dims": [],
                        "text_style": cfg.text_style, "pooling": "mean",
                        "loss": "in-batch negatives (query_to_doc), tau="
                                f"{cfg.temperature}"},
        profile=profile, experiment=experiment, variant=variant)

    def make_loss(model):
        _check_mean_pooling(model)
        return build_loss(model, cfg.temperature, mrl_dims=None, same_tower=False,
                          mini_batch_size=cfg.mini_batch_size or None,
                          gather_across_devices=distributed.gathers(cfg))

    return run_training(spec, cfg, dataset, make_loss, device, db_path, progress)


def _check_mean_pooling(model) -> None:
    pooling = getattr(model[1], "pooling_mode", None)
    if pooling not in (None, "mean"):
        raise InputError(f"pre-finetuning uses mean pooling; this model pools with {pooling!r}")


def finetune_groups(cfg, fret_jsonl: Path | None,
                    extra_jsonl: Sequence[Path] = ()) -> tuple[dict[str, list[Example]], dict]:
    """Task-type groups of the fine-tuning mixture and the ids of the data they came from.

    FRet rows group by their task_type; classification triples form ``classification``; extra
    pair files in FRet format group by their own task_type.
    """
    from gecko_bench.tasks import classification_train_sets

    groups: dict[str, list[Example]] = {}
    data_ids: dict[str, Any] = {}
    for path in ([fret_jsonl] if fret_jsonl else []) + list(extra_jsonl):
        path = Path(path)
        for ex in read_fret_jsonl(path):
            groups.setdefault(ex.task_type, []).append(ex)
        data_ids[str(path)] = _sha256_file(path)
    if cfg.classification_per_task > 0:
        triples = classification_triples(classification_train_sets(),
                                         cfg.classification_per_task, cfg.seed)
        if triples:
            groups["classification"] = triples
            data_ids["classification"] = sorted({ex.source for ex in triples})
    if not groups:
        raise InputError("no fine-tuning data: give a FRet file or enable classification triples")
    return groups, data_ids


def finetune(cfg, fret_jsonl: str | Path | None, init_checkpoint: str, out_dir: str | Path,
             db_path: str | Path | None = None, device: str = "cpu",
             fret_dataset_id: str | None = None, experiment: str | None = None,
             variant: str | None = None, task_types: Sequence[str] | None = None,
             mrl: bool = True, profile: str | None = None,
             extra_jsonl: Sequence[str | Path] = (), progress: ProgressFn | None = None,
             pool_size: int | None = None, dev_jsonl: str | Path | None = None,
             target=None) -> Path:
    """Fine-tune `init_checkpoint` on the Gecko mixture; returns the checkpoint folder.

    Mixture: FRet rows + classification triples + extra FRet-format pair files, sampled by
    ``cfg.task_sampling`` (original | uniform) over task types, restricted to `task_types` if
    given, and to `pool_size` examples drawn from those types when given (equal-size sets;
    repeated over the steps). `dev_jsonl` (FRet rows never trained on) chooses the prompt
    style the checkpoint's prompts carry (:mod:`trainers.prompt_choice`). Loss: ``cfg.loss`` (default Gecko eq. 3: in-batch + hard negative + same-tower), tau = cfg.temperature,
    Matryoshka over ``cfg.mrl_dims`` when `mrl`. Idempotent: a finished checkpoint of the same
    config and data in `out_dir` is returned as is; an unfinished one is resumed.
    """
    train_dtype(cfg, device)  # a bad dtype fails before the data is built
    if mrl:
        check_mrl_dims(cfg.mrl_dims, init_checkpoint)
    groups, data_ids = finetune_groups(cfg, Path(fret_jsonl) if fret_jsonl else None,
                                       [Path(p) for p in extra_jsonl])
    bs, steps = cfg.finetune_batch_size, cfg.finetune_steps
    mix = build_mixture(groups, steps * bs, bs, cfg.task_sampling, cfg.seed, task_types,
                        pool_size)
    examples = mix.examples
    mix.composition["without_negative"] = without_negative(examples)
    guard = _guard(examples, "fine-tuning mixture", target)
    dataset = to_dataset(examples, cfg.text_style, with_negative=True, loss=cfg.loss,
                         soft_label_score=cfg.soft_label_score)
    dims = list(cfg.mrl_dims) if mrl else []
    spec = RunSpec(
        stage="finetune", init=init_checkpoint, out=Path(out_dir), steps=steps, batch_size=bs,
        key_material={"stage": "finetune", "config": _cfg_key(cfg, "finetune"),
                      "init": str(init_checkpoint), "data": data_ids,
                      "task_types": sorted(task_types) if task_types else None, "mrl": mrl,
                      "fret_dataset_id": fret_dataset_id}
                     | ({"pool_size": pool_size} if pool_size is not None else {})
                     | ({"dev": dev_digest(Path(dev_jsonl))} if dev_jsonl else {}),
        manifest_extra={"mixture": mix.composition, "data": data_ids, "overlap_guard": guard,
                        "mrl_dims": dims, "text_style": cfg.text_style,
                        "task_types": list(task_types) if task_types else None,
                        "loss": describe_loss(cfg)},
        fret_dataset_id=fret_dataset_id, profile=profile, experiment=experiment,
        variant=variant, dev_jsonl=Path(dev_jsonl) if dev_jsonl else None)

    def make_loss(model):
        return build_loss(model, cfg.temperature, mrl_dims=dims, same_tower=True,
                          mini_batch_size=cfg.mini_batch_size or None,
                          other_hard_negatives=cfg.other_hard_negatives, loss=cfg.loss,
                          soft_label_weight=cfg.soft_label_weight,
                          gather_across_devices=distributed.gathers(cfg))

    return run_training(spec, cfg, dataset, make_loss, device, db_path, progress)
