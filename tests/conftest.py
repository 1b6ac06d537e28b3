"""Shared test setup: everything runs offline against the fetched asset cache."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MTEB_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "gecko-bench", "mteb"))
