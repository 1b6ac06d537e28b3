"""The dashboard tests' fixture database, built by the real eval and store code.

The ``dashboard_db`` and ``fret_db`` fixtures of tests/conftest.py build them. The database is
built once per test session
(under pytest's session temp folder) and holds:

- ``minilm-l6`` scored on two tiny real-data tasks (tests/dashboard_tasks.py) at 384/256/128/64-d;
- a one-step real fine-tune (``trainers.finetune``) tagged ``task-diversity``/``all-original``;
- seeded perturbations of its weights (Gaussian noise scaled to each tensor's spread), each
  recorded as a real ``perturb`` run and registered with the base model as parent, then
  evaluated with the ``label-strategies``, ``task-diversity`` and ``dims`` experiment tags the
  experiment runner uses, plus one heavily damaged copy for the regression page.

The perturbed checkpoints stand in for trained students so that the fixture stays within the
test budget; every score in the file still comes from mteb's evaluators through
``gecko_bench.eval.evaluate``.
"""

from __future__ import annotations

import os
from pathlib import Path

TASKS_FILE = Path(__file__).with_name("dashboard_tasks.py")
ALL_DIMS = [384, 256, 128, 64]
# (name, experiment, variant, relative noise, seed, dims)
PERTURBED = [
    ("ls-seed-none", "label-strategies", "pos=seed,neg=none", 0.10, 1, [384]),
    ("ls-seed-lowest", "label-strategies", "pos=seed,neg=lowest", 0.06, 2, [384]),
    ("ls-p1-none", "label-strategies", "pos=p1,neg=none", 0.08, 3, [384]),
    ("ls-p1-lowest", "label-strategies", "pos=p1,neg=lowest", 0.03, 4, [384]),
    ("td-qa", "task-diversity", "task=question answering", 0.05, 5, [384]),
    ("dims-mrl", "dims", "mrl", 0.02, 7, ALL_DIMS),
    ("dims-no-mrl", "dims", "no-mrl", 0.12, 8, ALL_DIMS),
    ("damaged", None, None, 0.6, 9, [384]),
]


def perturbed_copy(base, out: Path, noise: float, seed: int) -> Path:
    """Save ``base`` with N(0, (noise * std)^2) added to every weight tensor (seeded)."""
    import copy

    import torch

    model = copy.deepcopy(base)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            if param.numel() > 1:
                param.add_(torch.randn(param.shape, generator=gen) * noise * param.std())
    model.save(str(out))
    return out


def _eval_config(dims: list[int]):
    from gecko_bench.config import EvalConfig

    return EvalConfig(dims=dims, batch_size=64, prompt_style="gecko")


def build_fixture_db(root: Path) -> Path:
    """Create (or reuse) the fixture database under ``root``; returns its path."""
    db = root / "dashboard.duckdb"
    done = root / "complete"
    if done.exists():
        return db
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gecko_bench.assets.loaders import load_sentence_transformer
    from gecko_bench.api import evaluate
    from gecko_bench.config import TrainConfig
    from gecko_bench.provenance import checkpoint_id, collect
    from gecko_bench.store import finish_run, start_run, upsert_model
    from gecko_bench.store.runs import get_model_row
    from trainers import finetune

    cache = root / "embeddings"
    common = dict(tasks_file=str(TASKS_FILE), db=db, progress=False, cache_dir=cache)
    evaluate("minilm-l6", config=_eval_config(ALL_DIMS), **common)
    base_id = get_model_row("minilm-l6", db)["model_id"]
    # One real (one-step) fine-tune tagged task-diversity/all-original, evaluated by an untagged
    # run: its scores reach the experiment through its training run, as when identical weights
    # were already scored elsewhere.
    checkpoint = finetune(TrainConfig(finetune_steps=1, finetune_batch_size=4), None,
                          "minilm-l6", root / "finetuned", db_path=db,
                          experiment="task-diversity", variant="all-original", mrl=False)
    evaluate(str(checkpoint), config=_eval_config([384]), **common)
    base = load_sentence_transformer("minilm-l6", "cpu")
    for name, experiment, variant, noise, seed, dims in PERTURBED:
        run_id = start_run("perturb", {"base": "minilm-l6", "noise": noise, "seed": seed},
                           collect("cpu"), profile="test", db_path=db)
        path = perturbed_copy(base, root / name, noise, seed)
        finish_run(run_id, durations={"perturb_s": 0.0}, db_path=db)
        evaluate(str(path), config=_eval_config(dims), experiment=experiment, variant=variant,
                 **common)
        upsert_model(checkpoint_id(path), name, base_model_id=base_id, parent_model_id=base_id,
                     train_run_id=run_id, db_path=db)
    done.touch()
    return db


def build_fret_db(root: Path) -> Path:
    """A real, very small FRet build (smollm2-135m, 3 seeds, 3 neighbours) mined as p1/lowest.

    With these settings the build keeps two queries and rejects one generation, so the page's
    examples and its reject counts both have something to show.
    """
    db = root / "fret.duckdb"
    done = root / "fret-complete"
    if done.exists():
        return db
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gecko_bench.config import FretConfig
    from gecko_bench.fret.mining import mine
    from gecko_bench.fret.pipeline import build

    cfg = FretConfig(n_seeds=3, n_neighbours=3, batch_size=3, corpus_size=30, seed=2,
                     gen_attempts=1, max_new_tokens=32)
    dataset = build(cfg, db_path=db, show_progress=False)
    mine(dataset, "p1", "lowest", db_path=db)
    done.touch()
    return db


def fixture_root(tmp_path_factory) -> Path:
    """Where the fixture databases live: ``$GECKO_BENCH_DASHBOARD_FIXTURE`` (kept and reused
    across sessions while working on the dashboard) or the session's temp folder."""
    keep = os.environ.get("GECKO_BENCH_DASHBOARD_FIXTURE")
    root = Path(keep) if keep else tmp_path_factory.getbasetemp() / "dashboard-fixture"
    root.mkdir(parents=True, exist_ok=True)
    return root
