"""WiSE-FT (Wortsman et al., 2022): the fine-tuned weights interpolated with the base's,
theta = (1 - a) theta_base + a theta_ft, with `a` chosen on the dev split.

Each `a` of :data:`GRID` is scored by :func:`trainers.prompt_choice.choose_prompt_style` (the
dev nDCG@10 of the best prompt style at that `a`); the best `a` wins, ties go to the larger `a`
(the less the weights move from what training produced). ``a = 0`` is the base model itself,
``a = 1`` the fine-tuned one. Off by default (``train.wise_ft``): at ``tiny`` a fixed a = 0.5 did
not beat the plain student (issue 16: +0.46 vs +0.94 Retrieval).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gecko_bench.errors import InputError

GRID = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass
class AlphaChoice:
    """The chosen interpolation weight and the dev figures behind it."""

    alpha: float
    chosen_on: str
    scores: dict[str, float] = field(default_factory=dict)  # str(a) -> best dev nDCG@10

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def interpolate(model, base_state: dict, fine_state: dict, alpha: float) -> None:
    """Set `model`'s floating-point weights to (1 - alpha) base + alpha fine, in place."""
    import torch

    own = model.state_dict()
    missing = sorted(set(own) - set(base_state))
    if missing:
        raise InputError(f"WiSE-FT needs the base and the fine-tuned model to share an "
                         f"architecture; the base lacks {', '.join(missing[:3])}")
    with torch.no_grad():
        for name, tensor in own.items():
            if tensor.is_floating_point():
                tensor.copy_((1 - alpha) * base_state[name].to(tensor.device, tensor.dtype)
                             + alpha * fine_state[name])


def choose_alpha(model, base: str, dev_jsonl: Path | None, training_style: str,
                 grid: tuple[float, ...] = GRID) -> AlphaChoice:
    """Pick `a` on the dev split, leave `model` interpolated at it and return the choice."""
    from gecko_bench.assets.loaders import load_sentence_transformer
    from trainers.prompt_choice import choose_prompt_style

    probe = choose_prompt_style(model, dev_jsonl, training_style)
    if probe.chosen_on != "dev":
        return AlphaChoice(1.0, f"not interpolated: {probe.chosen_on}")
    base_state = {k: v.detach().clone() for k, v in
                  load_sentence_transformer(base, device=str(model.device)).state_dict().items()}
    fine_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    scores: dict[str, float] = {}
    for alpha in grid:
        interpolate(model, base_state, fine_state, alpha)
        scores[str(alpha)] = max(choose_prompt_style(model, dev_jsonl,
                                                     training_style).scores.values())
    best = max(sorted(grid, reverse=True), key=lambda a: scores[str(a)])
    interpolate(model, base_state, fine_state, best)
    return AlphaChoice(best, "dev", scores)
