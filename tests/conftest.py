"""Shared test setup: everything runs offline against the fetched asset cache."""

import os

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
