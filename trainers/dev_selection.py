"""Checkpoint selection and early stopping on the dev split while fine-tuning.

With ``train.dev_eval_steps`` = N > 0 and a dev split (FRet rows never trained on), the
trainer scores the student every N steps with sentence-transformers'
``InformationRetrievalEvaluator`` on :func:`trainers.prompt_choice.dev_problem`, using the
retrieval prefixes of the style it is trained in (unified format -> ``gecko``) and its serving
input length (what the checkpoint will be used at, as the prompt choice scores it). It saves a
checkpoint at every evaluation, ``load_best_model_at_end`` keeps the best dev nDCG@10, and
with ``train.early_stopping_patience`` = P > 0 transformers' ``EarlyStoppingCallback`` stops
after P evaluations without an improvement. The curve, best step and whether training stopped
early come from the trainer's state (restored on resume) and go into the manifest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from trainers.prompt_choice import (
    METRIC, MIN_DEV_QUERIES, dev_digest, dev_problem, evaluator_prompts,
)

NAME = "dev"
METRIC_KEY = f"eval_{NAME}_{METRIC}"  # how the trainer logs the evaluator's nDCG@10


def requested(cfg, dev_jsonl: Path | None) -> bool:
    """Whether the run selects on dev: ``dev_eval_steps`` > 0 and a dev split is given."""
    return getattr(cfg, "dev_eval_steps", 0) > 0 and dev_jsonl is not None


def key_material(cfg) -> dict[str, int]:
    """The settings that change the result; in the checkpoint key only when selection is on."""
    return {"eval_steps": cfg.dev_eval_steps, "early_stopping_patience":
            cfg.early_stopping_patience}


@dataclass
class DevSelection:
    """What the dev split decided during training (recorded in the manifest and card)."""

    chosen_on: str                  # "dev" | why not (too few dev queries)
    metric: str
    eval_steps: int
    early_stopping_patience: int
    n_queries: int
    n_passages: int
    dev_sha256: str
    curve: list[tuple[int, float]] = field(default_factory=list)  # (step, dev nDCG@10)
    best_step: int | None = None
    best_score: float | None = None
    steps_trained: int | None = None
    stopped_early: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _serve_length_evaluator():
    from sentence_transformers.sentence_transformer.evaluation import (
        InformationRetrievalEvaluator,
    )

    class ServeLengthEvaluator(InformationRetrievalEvaluator):
        """Scores at the checkpoint's serving input length (the trainer shortens it)."""

        def __init__(self, *args, serve_length: int, **kw) -> None:
            super().__init__(*args, **kw)
            self.serve_length = serve_length

        def __call__(self, model, *args, **kw) -> dict[str, float]:
            train_length, model.max_seq_length = model.max_seq_length, self.serve_length
            try:
                return super().__call__(model, *args, **kw)
            finally:
                model.max_seq_length = train_length

    return ServeLengthEvaluator


class DevSelector:
    """The evaluator, training arguments and callbacks of one run's dev selection.

    A dev split of fewer than :data:`~trainers.prompt_choice.MIN_DEV_QUERIES` queries selects
    nothing (no evaluator, no overrides, the last step kept) and the selection says why.
    """

    def __init__(self, cfg, dev_jsonl: Path, training_style: str, serve_length: int,
                 batch_size: int = 32) -> None:
        queries, corpus, relevant = dev_problem(Path(dev_jsonl))
        self.cfg = cfg
        self.usable = len(queries) >= MIN_DEV_QUERIES
        self.evaluator = _serve_length_evaluator()(
            queries, corpus, relevant, name=NAME, batch_size=batch_size,
            show_progress_bar=False, write_csv=False, serve_length=serve_length,
            **evaluator_prompts(training_style)) if self.usable else None
        chosen_on = "dev" if self.usable else (
            f"not selected: dev split of {len(queries)} queries, fewer than {MIN_DEV_QUERIES}; "
            "the last step is kept")
        self.selection = DevSelection(chosen_on, METRIC, cfg.dev_eval_steps,
                                      cfg.early_stopping_patience,
                                      len(queries), len(corpus), dev_digest(Path(dev_jsonl)))

    def training_args(self) -> dict[str, Any]:
        """Overrides of :func:`trainers.core.training_args`: evaluate, save and keep the best.

        A checkpoint is saved at every evaluation so the best step always has one; callback
        state (the early-stopping counter) is restored on resume.
        """
        if not self.usable:
            return {}
        n = self.cfg.dev_eval_steps
        return dict(eval_strategy="steps", eval_steps=n, save_steps=n,
                    metric_for_best_model=METRIC_KEY, greater_is_better=True,
                    load_best_model_at_end=True, restore_callback_states_from_checkpoint=True)

    def callbacks(self) -> list:
        """transformers' ``EarlyStoppingCallback`` when a patience is set."""
        from transformers import EarlyStoppingCallback

        patience = self.cfg.early_stopping_patience
        if not self.usable or patience <= 0:
            return []
        return [EarlyStoppingCallback(early_stopping_patience=patience)]

    def result(self, state, model) -> DevSelection:
        """The selection read from the trainer's final `state`; checks `model` holds it."""
        sel = self.selection
        sel.steps_trained = state.global_step
        if not self.usable:
            return sel
        if state.best_model_checkpoint is None:
            raise RuntimeError("training evaluated on the dev split but no best checkpoint "
                               f"was recorded (max {state.max_steps} steps, eval every "
                               f"{self.cfg.dev_eval_steps})")
        sel.curve = [(int(e["step"]), float(e[METRIC_KEY]))
                     for e in state.log_history if METRIC_KEY in e]
        sel.best_step = int(state.best_model_checkpoint.rsplit("-", 1)[1])
        sel.best_score = float(state.best_metric)
        sel.stopped_early = state.global_step < state.max_steps
        check_loaded(model, state.best_model_checkpoint)
        return sel


def check_loaded(model, checkpoint: str) -> None:
    """RuntimeError unless `model`'s weights are `checkpoint`'s.

    sentence-transformers' ``_load_best_model`` only logs a failed load and trains on, which
    would keep the last step's weights while the manifest names the best one.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    saved = SentenceTransformer(checkpoint, device="cpu").state_dict()
    own = model.state_dict()
    if saved.keys() != own.keys() or not all(torch.equal(own[k].cpu(), v)
                                             for k, v in saved.items()):
        raise RuntimeError(f"the model does not hold the best dev checkpoint {checkpoint}; "
                           "sentence-transformers could not load it (see the log above)")
