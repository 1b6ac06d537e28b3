"""Shared test setup: everything runs offline against the fetched asset cache; the fixtures
several test modules share. Helpers a test imports by name live beside it (``eval_tasks``,
``dashboard_fixture``, ``fret_helpers``, ``train_helpers``)."""

import os
from pathlib import Path

import pytest

# `make test` runs two xdist workers on two cores: one compute thread each (torch reads these at
# import; the processes a test starts inherit them), so the workers do not fight for the cores.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    # xdist sets COLUMNS=80 in its workers; rich would freeze every module-level console at 80
    # columns on import, and the tests that give a width through the environment would not get it
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MTEB_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "gecko-bench", "mteb"))


# ---------------------------------------------------------------- shared session fixtures


@pytest.fixture(scope="session")
def eval_cache(tmp_path_factory) -> Path:
    """One embedding cache folder shared by the eval test modules."""
    return tmp_path_factory.mktemp("eval-emb")


@pytest.fixture(scope="session")
def dashboard_db(tmp_path_factory) -> Path:
    """The dashboard tests' database (tests/dashboard_fixture.py), built on first use.

    Set ``GECKO_BENCH_DASHBOARD_FIXTURE=/some/folder`` to keep and reuse it across sessions.
    """
    from dashboard_fixture import build_fixture_db, fixture_root

    return build_fixture_db(fixture_root(tmp_path_factory))


@pytest.fixture(scope="session")
def fret_db(tmp_path_factory) -> Path:
    """A database holding one small real FRet dataset (built on first use)."""
    from dashboard_fixture import build_fret_db, fixture_root

    return build_fret_db(fixture_root(tmp_path_factory))
