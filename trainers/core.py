"""One training run on top of SentenceTransformerTrainer: resume, checkpoint, manifest, lineage.

A run writes into its output folder ``out``:
- ``train_state.json`` while running (the config key and key material; lets a rerun resume),
- ``_trainer/checkpoint-N`` (HF Trainer checkpoints with optimizer state, every ``save_steps``),
- at the end the sentence-transformers model files and ``manifest.json``; the two scratch
  items above are then removed. A folder with a manifest of the same key is reused as is.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gecko_bench.errors import InputError
from trainers import dev_selection, distributed
from trainers.data import check_columns

if TYPE_CHECKING:
    from gecko_bench.store.runs import RunRecord

MANIFEST = "manifest.json"
STATE = "train_state.json"
TRAINER_DIR = "_trainer"

ProgressFn = Callable[[int, int, "float | None"], None]


@dataclass
class RunSpec:
    """Everything one training run needs besides the dataset and the loss."""

    stage: str                      # prefinetune | finetune
    init: str                       # registered model name or checkpoint folder
    out: Path
    steps: int
    batch_size: int
    key_material: dict[str, Any]    # what decides the result; hashed into the checkpoint key
    manifest_extra: dict[str, Any] = field(default_factory=dict)
    fret_dataset_id: str | None = None
    profile: str | None = None
    experiment: str | None = None
    variant: str | None = None
    dev_jsonl: Path | None = None   # FRet-format dev split: the prompt style is chosen on it

    @property
    def key(self) -> str:
        blob = json.dumps(self.key_material, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()


def _diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _diff(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}: {a!r} -> {b!r}")
    return out


def check_out_dir(spec: RunSpec) -> dict[str, Any] | None:
    """The finished manifest to reuse, None to (re)start/resume; InputError if incompatible."""
    for name, what in ((MANIFEST, "a finished"), (STATE, "an unfinished")):
        path = spec.out / name
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        if data.get("checkpoint_key") == spec.key:
            return data if name == MANIFEST else None
        changes = _diff(data.get("key_material", {}), spec.key_material)
        raise InputError(
            f"{spec.out} holds {what} {data.get('stage', 'training')} run with a different "
            f"config ({'; '.join(changes[:4]) or 'different inputs'}); it cannot be "
            "resumed or reused: choose another output folder or delete it")
    return None


def resolve_device(device: str) -> str:
    """'cpu' or a CUDA device; InputError when CUDA is asked for but absent."""
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device {device!r} asked for but torch sees no CUDA GPU; use --device cpu")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise InputError(f"unknown device {device!r}; use cpu or cuda[:N]")
    return device


def model_lineage(init: str) -> dict[str, Any]:
    """Ids and names of the init checkpoint and its base (from its manifest, if ours)."""
    from gecko_bench.assets.loaders import resolve_st_path
    from gecko_bench.provenance import checkpoint_id

    path = resolve_st_path(init)
    parent_id = checkpoint_id(path)
    manifest = path / MANIFEST
    if manifest.exists():
        m = json.loads(manifest.read_text())
        return {"parent_path": str(path), "parent_model_id": parent_id,
                "parent_name": m["name"], "base_model": m["base_model"],
                "base_model_id": m["base_model_id"]}
    name = init if not Path(init).exists() else path.name
    return {"parent_path": str(path), "parent_model_id": parent_id, "parent_name": name,
            "base_model": name, "base_model_id": parent_id}


def _make_callback(run_id: str, db_path, progress: ProgressFn | None):
    """Logs every logged step to the store (flushed before each save and at the end)."""
    from transformers import TrainerCallback

    from gecko_bench.store import training as store

    class LossToStore(TrainerCallback):
        def __init__(self) -> None:
            self.rows: list[dict[str, Any]] = []
            self.last_loss: float | None = None

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                self.last_loss = float(logs["loss"])
                self.rows.append({"step": state.global_step, "epoch": logs.get("epoch"),
                                  "loss": self.last_loss,
                                  "learning_rate": logs.get("learning_rate"),
                                  "grad_norm": logs.get("grad_norm")})
            if control.should_save:  # before the checkpoint is written, not after (on_save):
                self.flush()         # a kill in between must not leave unlogged saved steps

        def flush(self) -> None:
            if run_id is not None:  # None: not rank 0 under torchrun, which writes nothing
                store.add_loss_rows(run_id, self.rows, db_path=db_path)
            self.rows = []

        def on_save(self, args, state, control, **kw):
            self.flush()

        def on_step_end(self, args, state, control, **kw):
            if progress is not None:
                progress(state.global_step, state.max_steps, self.last_loss)

    return LossToStore()


def last_complete_checkpoint(trainer_dir: Path) -> str | None:
    """The newest HF Trainer checkpoint that finished saving; half-written newer ones are removed.

    transformers' ``get_last_checkpoint`` returns the highest-numbered folder even when a kill
    interrupted its save, and resuming from it fails on missing weights. The Trainer writes
    ``trainer_state.json`` last, so a checkpoint without it is incomplete.
    """
    from transformers.trainer import TRAINER_STATE_NAME
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    if not trainer_dir.is_dir():
        return None
    steps = sorted((int(p.name.rsplit("-", 1)[1]), p)
                   for p in trainer_dir.glob(f"{PREFIX_CHECKPOINT_DIR}-*")
                   if p.is_dir() and p.name.rsplit("-", 1)[1].isdigit())
    for _, path in reversed(steps):
        if (path / TRAINER_STATE_NAME).is_file():
            return str(path)
        shutil.rmtree(path)
    return None


def train_dtype(cfg, device: str) -> str:
    """The compute dtype of a run: ``cfg.dtype`` (auto | float32 | bfloat16) resolved on
    `device` by :func:`gecko_bench.hardware.resolve_dtype` (auto: bfloat16 mixed precision
    where the CPU or GPU runs it natively, float32 elsewhere)."""
    from gecko_bench.hardware import resolve_dtype

    return resolve_dtype(getattr(cfg, "dtype", "auto"), device, what="train dtype")


def training_args(out: Path, cfg, steps: int, batch_size: int, device: str, **over):
    """The SentenceTransformerTrainingArguments both our runs and the perf baseline share.

    ``bf16=True`` when :func:`train_dtype` is bfloat16: the Trainer (through accelerate) then
    runs forward and loss under ``torch.autocast`` in bfloat16 -- on CPU too -- while weights,
    gradients and the optimizer stay float32 (mixed precision, no loss scaling needed).
    """
    from sentence_transformers import SentenceTransformerTrainingArguments

    cuda = device.startswith("cuda")
    # warmup_steps: a float below 1 is a ratio of max_steps (transformers 5)
    kw = dict(output_dir=str(out), max_steps=steps, per_device_train_batch_size=batch_size,
              learning_rate=cfg.learning_rate, warmup_steps=cfg.warmup_ratio,
              logging_steps=cfg.logging_steps, save_strategy="steps",
              save_steps=cfg.save_steps, save_total_limit=2, seed=cfg.seed,
              bf16=train_dtype(cfg, device) == "bfloat16", use_cpu=not cuda,
              report_to="none", dataloader_drop_last=True, disable_tqdm=True)
    kw.update(over)
    return SentenceTransformerTrainingArguments(**kw)


def run_training(spec: RunSpec, cfg, dataset, make_loss: Callable[[Any], Any],
                 device: str = "cpu", db_path=None, progress: ProgressFn | None = None) -> Path:
    """Train (or resume, or reuse) and return the checkpoint folder ``spec.out``."""
    spec.out = Path(spec.out)
    dtype, ddp = _add_run_keys(spec, cfg, device)
    finished = check_out_dir(spec)
    lineage = model_lineage(spec.init)
    if finished is not None:
        if distributed.is_main():
            _register(finished, spec.out, db_path)
        return spec.out
    device = resolve_device(device)
    check_columns(dataset)
    if len(dataset) < spec.steps * spec.batch_size:
        raise InputError(f"{len(dataset)} examples cannot fill {spec.steps} batches of "
                         f"{spec.batch_size}")
    distributed.setup(device)
    main = distributed.is_main()
    last = _prepare_out_dir(spec, main)
    model, serve_length = _load_student(lineage["parent_path"], cfg, device)
    loss = make_loss(model)
    dev = dev_selection.DevSelector(cfg, spec.dev_jsonl, cfg.text_style, serve_length) \
        if dev_selection.requested(cfg, spec.dev_jsonl) else None
    facts = {"device": device, "dtype": dtype, "ddp": ddp,
             "resumed_from_step": int(last.rsplit("-", 1)[1]) if last else 0}
    with _train_run(spec, cfg, facts, lineage, main, db_path) as run:
        callback = _make_callback(run.run_id, db_path, progress if main else None)
        trainer = _fit(spec, cfg, model, dataset, loss, dev, callback, last, device, run)
        facts.update(steps=trainer.state.global_step,  # below spec.steps when stopped early
                     final_loss=callback.last_loss,
                     selection=dev.result(trainer.state, model) if dev else None)
        model.max_seq_length = serve_length
        if not main:  # rank 0 saves, registers and cleans up; the others wait for it
            distributed.barrier()
            return spec.out
        _save_checkpoint(spec, cfg, model, lineage, run, facts, db_path)
    shutil.rmtree(spec.out / TRAINER_DIR, ignore_errors=True)
    (spec.out / STATE).unlink(missing_ok=True)
    distributed.barrier()
    return spec.out


def _add_run_keys(spec: RunSpec, cfg, device: str) -> tuple[str, dict[str, Any]]:
    """Add the settings that change the result to the checkpoint key; return (dtype, ddp).

    Each is added only when it is not the old default, so checkpoints keep the key they had
    before the option existed."""
    dtype = train_dtype(cfg, device)
    if dtype != "float32":
        spec.key_material = {**spec.key_material, "dtype": dtype}
    if dev_selection.requested(cfg, spec.dev_jsonl):
        spec.key_material = {**spec.key_material,
                             "dev_selection": dev_selection.key_material(cfg)}
    ddp = distributed.key_material(cfg)
    if ddp:  # one process: the key it had before torchrun
        spec.key_material = {**spec.key_material, "ddp": ddp}
    return dtype, ddp


def _prepare_out_dir(spec: RunSpec, main: bool) -> str | None:
    """Write the run state (rank 0) and return the checkpoint to resume from, if any."""
    trainer_dir = spec.out / TRAINER_DIR
    if main:
        spec.out.mkdir(parents=True, exist_ok=True)
        (spec.out / STATE).write_text(json.dumps(
            {"stage": spec.stage, "checkpoint_key": spec.key, "key_material": spec.key_material},
            indent=1, default=str))
        last_complete_checkpoint(trainer_dir)  # removes a half-written newest checkpoint
    distributed.barrier()
    return last_complete_checkpoint(trainer_dir)


def _load_student(parent_path: str, cfg, device: str) -> tuple[Any, int]:
    """The model to train, at the training input length; and the parent's length to save.

    Training on short inputs is for speed; a checkpoint saved at the training length would be
    evaluated on truncated texts against its own base."""
    from gecko_bench.assets.loaders import load_sentence_transformer

    model = load_sentence_transformer(parent_path, device=device)
    serve_length = model.max_seq_length
    model.max_seq_length = cfg.max_seq_length
    model.model_card_data.generate_widget_examples = False  # encodes examples: slow, unused
    return model, serve_length


@contextmanager
def _train_run(spec: RunSpec, cfg, facts: dict[str, Any], lineage: dict[str, Any], main: bool,
               db_path) -> Iterator[RunRecord]:
    """The run's store rows (``runs`` and ``train_runs``) on rank 0; nothing on other ranks."""
    from gecko_bench import provenance
    from gecko_bench.config import as_dict
    from gecko_bench.store import recorded_run
    from gecko_bench.store import training as store
    from gecko_bench.store.runs import RunRecord

    if not main:  # other ranks under torchrun write nothing
        yield RunRecord(None)
        return
    ddp = facts["ddp"]
    config = {"train": as_dict(cfg), "stage": spec.stage, "init": spec.init,
              "steps": spec.steps, "batch_size": spec.batch_size, "device": facts["device"],
              "dtype": facts["dtype"], **({"ddp": ddp} if ddp else {}),
              **{k: v for k, v in spec.manifest_extra.items() if k != "mixture"}}
    with recorded_run(spec.stage, config, provenance.collect(facts["device"]),
                      profile=spec.profile, experiment=spec.experiment, variant=spec.variant,
                      db_path=db_path) as run:
        store.record_train_run(run.run_id, spec.stage, spec.key, str(spec.out.resolve()),
                               lineage["parent_model_id"], spec.fret_dataset_id,
                               facts["resumed_from_step"], spec.steps, spec.batch_size,
                               spec.manifest_extra.get("mixture", {}), db_path=db_path)
        yield run


def _fit(spec: RunSpec, cfg, model, dataset, loss, dev, callback, last: str | None,
         device: str, run: RunRecord):
    """SentenceTransformerTrainer from `last` (or the start) to ``spec.steps``; the trainer.
    Its wall time goes to ``run.durations['train_s']``, also when it fails."""
    from sentence_transformers import SentenceTransformerTrainer
    from transformers.trainer_callback import PrinterCallback

    from trainers.sampler import SequentialBatchSampler

    args = training_args(spec.out / TRAINER_DIR, cfg, spec.steps,
                         distributed.per_device_batch(spec.batch_size), device,
                         batch_sampler=SequentialBatchSampler,
                         **(dev.training_args() if dev else {}))
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=dataset, loss=loss,
        evaluator=dev.evaluator if dev else None,
        callbacks=[callback, *(dev.callbacks() if dev else [])])
    trainer.remove_callback(PrinterCallback)  # we log to the store and a progress bar
    t0 = time.perf_counter()
    try:
        trainer.train(resume_from_checkpoint=last)
    except (RuntimeError, ValueError) as exc:
        raise _explain(exc, spec, last) from exc
    finally:
        run.durations["train_s"] = time.perf_counter() - t0
    callback.flush()
    return trainer


def _save_checkpoint(spec: RunSpec, cfg, model, lineage: dict[str, Any], run: RunRecord,
                     facts: dict[str, Any], db_path) -> None:
    """Rank 0: prompts chosen on dev (and WiSE-FT's alpha), the model, its manifest (written
    last, atomically), its store rows and its model card."""
    from gecko_bench import provenance
    from gecko_bench.config import as_dict
    from trainers.card import write_card
    from trainers.prompt_choice import choose_prompt_style, write_prompts

    wise = None
    if getattr(cfg, "wise_ft", False) and spec.dev_jsonl is not None:
        from trainers.wise_ft import choose_alpha

        wise = choose_alpha(model, lineage["base_model"], spec.dev_jsonl, cfg.text_style)
    choice = choose_prompt_style(model, spec.dev_jsonl, cfg.text_style)
    model.save(str(spec.out))
    write_prompts(spec.out, choice.style)
    model_id = provenance.checkpoint_id(spec.out)
    done = facts["steps"] - facts["resumed_from_step"]
    selection = facts["selection"]
    manifest = {
        "format": 1, "stage": spec.stage, "checkpoint_key": spec.key,
        "name": _name(lineage["base_model"], spec, model_id),
        "model_id": model_id, "base_model": lineage["base_model"],
        "base_model_id": lineage["base_model_id"], "parent": lineage["parent_name"],
        "parent_path": lineage["parent_path"], "parent_model_id": lineage["parent_model_id"],
        "fret_dataset_id": spec.fret_dataset_id, "train_run_id": run.run_id,
        "seed": cfg.seed, "git_sha": provenance.git_sha(), "steps": facts["steps"],
        "batch_size": spec.batch_size, "ddp": facts["ddp"],
        "resumed_from_step": facts["resumed_from_step"], "final_loss": facts["final_loss"],
        "samples_per_s": done * spec.batch_size / run.durations["train_s"] if done else None,
        "dim": model.get_embedding_dimension(),
        "n_params": sum(p.numel() for p in model.parameters()),
        "config": as_dict(cfg), "device": facts["device"], "dtype": facts["dtype"],
        "prompt_style": choice.style, "prompt_choice": choice.as_dict(),
        "wise_ft": wise.as_dict() if wise else None,
        "dev_selection": selection.as_dict() if selection else None,
        "key_material": spec.key_material,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **spec.manifest_extra,
    }
    _register(manifest, spec.out, db_path)
    tmp = spec.out / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, default=str))
    os.replace(tmp, spec.out / MANIFEST)
    write_card(spec.out, manifest, db_path)


def _name(base: str, spec: RunSpec, model_id: str) -> str:
    parts = [Path(base).name, spec.stage] + ([spec.variant] if spec.variant else [])
    return "-".join(parts + [model_id[:8]])


def _explain(exc: Exception, spec: RunSpec, last: str | None) -> Exception:
    """Turn the errors a user can fix into one clear InputError."""
    text = str(exc)
    if "out of memory" in text.lower() or "can't allocate memory" in text.lower():
        return InputError(
            f"a batch of {spec.batch_size} does not fit in device memory: lower the batch "
            "size, lower max_seq_length, or keep the batch and set mini_batch_size (GradCache, "
            "e.g. --mini-batch-size 32) so only that many texts are encoded with gradients at once")
    if last and ("size mismatch" in text or "state_dict" in text or "checkpoint" in text):
        return InputError(f"cannot resume from {last}: {text.splitlines()[0]}; delete "
                          f"{spec.out / TRAINER_DIR} to start over")
    return exc


def _register(manifest: dict[str, Any], out: Path, db_path) -> None:
    """Models rows (parent, base if missing; the checkpoint) + the run's final figures."""
    from gecko_bench.store import transaction, upsert_model
    from gecko_bench.store import training as store

    with transaction(db_path) as con:
        for role in ("base", "parent"):
            mid = manifest[f"{role}_model_id"]
            if not store.model_registered(mid, con):
                name = manifest["base_model"] if role == "base" else manifest["parent"]
                path = manifest["parent_path"] if mid == manifest["parent_model_id"] else None
                upsert_model(mid, name, path=path, kind="sentence-transformers", con=con)
        upsert_model(manifest["model_id"], manifest["name"], path=str(out.resolve()),
                     kind="sentence-transformers", base_model_id=manifest["base_model_id"],
                     parent_model_id=manifest["parent_model_id"],
                     train_run_id=manifest["train_run_id"],
                     fret_dataset_id=manifest.get("fret_dataset_id"),
                     n_params=manifest["n_params"], dim=manifest["dim"], con=con)
        store.finish_train_run(manifest["train_run_id"], manifest["model_id"], manifest["steps"],
                               manifest["final_loss"], manifest.get("samples_per_s"), con=con)
