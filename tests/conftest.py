"""Shared test setup: everything runs offline against the fetched asset cache."""

import os

# `make test` runs two xdist workers on two cores: one compute thread each (torch reads these at
# import; the processes a test starts inherit them), so the workers do not fight for the cores.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MTEB_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "gecko-bench", "mteb"))
