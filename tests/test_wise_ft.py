"""WiSE-FT: exact interpolation endpoints, and `a` chosen on the dev split, never the test one."""

from __future__ import annotations

import json

import pytest
import torch

pytestmark = pytest.mark.assets  # needs fetched models or data


@pytest.fixture(scope="module")
def models():
    from sentence_transformers import SentenceTransformer

    from gecko_bench.assets.loaders import resolve_st_path

    path = str(resolve_st_path("minilm-l6"))
    base, damaged = SentenceTransformer(path), SentenceTransformer(path)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # a "fine-tune" that went badly: noise in every weight
        for p in damaged.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.05 * p.std().clamp(min=1e-3))
    return base, damaged


def test_interpolation_endpoints_and_midpoint(models):
    from trainers.wise_ft import interpolate

    base, damaged = models
    b = {k: v.clone() for k, v in base.state_dict().items()}
    f = {k: v.clone() for k, v in damaged.state_dict().items()}
    name = next(k for k, v in b.items() if v.is_floating_point() and v.dim() == 2)
    try:
        interpolate(damaged, b, f, 0.0)
        assert torch.equal(damaged.state_dict()[name], b[name])
        interpolate(damaged, b, f, 0.5)
        assert torch.allclose(damaged.state_dict()[name], (b[name] + f[name]) / 2, atol=1e-7)
    finally:
        interpolate(damaged, b, f, 1.0)
    assert torch.equal(damaged.state_dict()[name], f[name])


def test_alpha_is_chosen_on_the_dev_split(models, tmp_path):
    from trainers.data import passage_rows
    from trainers.prompt_choice import choose_prompt_style
    from trainers.wise_ft import GRID, choose_alpha

    _, damaged = models
    dev = tmp_path / "dev.jsonl"
    dev.write_text("".join(json.dumps(r) + "\n" for r in passage_rows(n_books=6, n_wiki=6)))
    before = max(choose_prompt_style(damaged, dev, "gecko").scores.values())
    grid = (0.0, 0.5, 1.0)  # the default GRID has two more points; three keep the test short
    assert set(grid) <= set(GRID)
    choice = choose_alpha(damaged, "minilm-l6", dev, "gecko", grid=grid)
    assert choice.chosen_on == "dev" and set(choice.scores) == {str(a) for a in grid}
    assert choice.scores[str(choice.alpha)] == max(choice.scores.values())
    assert choice.scores["1.0"] == pytest.approx(before, abs=1e-6)  # a = 1: the model as trained
    assert choice.alpha < 1.0  # the damaged weights are worse than the base on the dev split
    after = max(choose_prompt_style(damaged, dev, "gecko").scores.values())
    assert after == pytest.approx(choice.scores[str(choice.alpha)], abs=1e-6)  # left at best a
    assert choose_alpha(damaged, "minilm-l6", None, "gecko").alpha == 1.0  # no dev: untouched
