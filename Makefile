# The two commands a newcomer needs:  make demo   and   make test
# Both are idempotent: a second run reuses .venv and the asset cache and does no network work.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
GB := $(VENV)/bin/gecko-bench
STAMP := $(VENV)/.installed
TEST_WORKERS ?= 2
# The torch that make installs first (tested; a local CPU wheel here, CUDA from PyPI elsewhere).
# pyproject only asks for torch>=2.6, so a venv with its own torch keeps it.
TORCH ?= torch==2.13.0

.PHONY: install assets test-assets demo test test-fast llamacpp clean-venv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	# torch first, pinned: it takes the local CPU wheel instead of a CUDA build.
	$(PY) -m pip install -q --disable-pip-version-check '$(TORCH)'
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Everything the main job needs (models ~940 MB, open data ~86 MB).
assets: install
	$(GB) assets fetch

# What the tests need.
test-assets: install
	$(GB) assets fetch --models minilm-l6 --models smollm2-135m --models mpnet-base \
		--models e5-small-multilingual \
		--data debian-faq --data manpages --data manpages-dev --data manpages-l10n --data wordnet --data fortunes --data bible \
		--data gensim-test-data --data brown --data spamassassin --data nlp-corpus \
		--data janeaustenr

# The demo profile: MiniLM adapted to the German Debian FAQ, a domain job (9-13 min on 2 cores: docs/results.md).
demo: assets
	$(GB) run --profile demo

test: test-assets
	# Debian chromium + chromium-driver for the one real-browser dashboard test (skipped if present).
	bash scripts/ensure_browser.sh
	# Two workers, a test file each at a time (module fixtures stay in one process).
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

# The tests that need no fetched model or data (pytest marker `assets`): no download, ~2 min.
test-fast: install
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not assets"

# Optional, not needed by demo or test: the llama.cpp backend for GGUF teachers
# (llama-cpp-python compiles llama.cpp: ~25 min on 2 cores; docs/fret.md "Backends").
llamacpp: install
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev,llamacpp]'

clean-venv:
	rm -rf $(VENV)
