"""Third-party bars and warnings stay out of a command's output unless --verbose."""

import os
import subprocess
import sys

import pytest

from gecko_bench.cli.output import _QUIET_ENV


def _eval_stderr(tmp_path, *flags: str) -> str:
    env = {k: v for k, v in os.environ.items()
           if k not in _QUIET_ENV and k != "GECKO_BENCH_VERBOSE"}
    out = subprocess.run(
        [sys.executable, "-m", "gecko_bench", *flags, "eval", "--model", "minilm-l6",
         "--tasks", "LeeSTS-tiny", "--db", str(tmp_path / f"s{len(flags)}.duckdb")],
        env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stderr


@pytest.mark.assets
@pytest.mark.slow
def test_transformers_bars_only_with_verbose(tmp_path):
    """transformers' "Loading weights" tqdm bar is printed at every model load; the default
    output keeps our own progress line and drops it."""
    quiet, verbose = _eval_stderr(tmp_path), _eval_stderr(tmp_path, "--verbose")
    assert "LeeSTS-tiny" in quiet and "LeeSTS-tiny" in verbose
    assert "Loading weights" in verbose
    assert "Loading weights" not in quiet and "it/s]" not in quiet


def test_quiet_filters_third_party_warnings_not_ours(monkeypatch):
    import warnings

    from gecko_bench.cli.output import quiet_third_party

    for key in _QUIET_ENV:  # restored after the test
        monkeypatch.delenv(key, raising=False)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_third_party()
        warnings.warn_explicit("from sklearn", UserWarning, "x.py", 1,
                               module="sklearn.metrics._classification")
        warnings.warn_explicit("from mteb", UserWarning, "x.py", 1, module="mteb")
        warnings.warn_explicit("ours", UserWarning, "x.py", 1, module="gecko_bench.eval.runner")
    assert [str(w.message) for w in caught] == ["ours"]
