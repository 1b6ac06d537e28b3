"""Machine-readable output for the commands: ``--format`` checks, JSON to stdout alone.

With ``--format json`` a command's document is the only thing on stdout (so
``gecko-bench leaderboard --format json | python -m json.tool`` works); progress and notes go to
stderr. Exit codes are listed in the top-level ``--help`` (:data:`EXIT_CODES_HELP`).
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from importlib import metadata
from typing import Any, Iterator

import typer

from gecko_bench.errors import InputError
from gecko_bench.regress import EXIT_INCOMPLETE, EXIT_PASS, EXIT_REGRESSION

EXIT_INPUT = 2  # bad input: the run() entry point's one-line error, and click's usage errors

EXIT_CODES_HELP = (
    f"Exit codes: {EXIT_PASS} ok; {EXIT_REGRESSION} regress found a regression (or reproduce "
    f"failed; an unexpected crash, printed with its traceback, also exits 1); {EXIT_INPUT} bad "
    f"input (one error line); {EXIT_INCOMPLETE} regress is incomplete (the candidate lacks tasks "
    "the baseline has)."
)


# Libraries whose warnings are theirs to fix, not the user's (sklearn's UndefinedMetricWarning
# on tiny classification splits, torch / transformers deprecations, ...); `--verbose` shows them.
_QUIET_MODULES = (r"(sklearn|torch|transformers|sentence_transformers|mteb|datasets|"
                  r"huggingface_hub|accelerate|gguf|pytrec_eval|beir|bm25s)(\.|$)")
_QUIET_ENV = {
    "TQDM_DISABLE": "1",  # third-party tqdm bars ("Loading weights", de-quantizing); ours are rich
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}


def quiet_third_party() -> None:
    """Keep third-party progress bars and warnings out of a command's output: only our own
    progress lines and results remain. Environment variables (set unless the user set them),
    so torchrun workers inherit them; read when those libraries are first imported, which
    commands do lazily, after this runs."""
    import warnings

    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)
    warnings.filterwarnings("ignore", module=_QUIET_MODULES)


def check_format(fmt: str, allowed: tuple[str, ...]) -> str:
    """`fmt` if it is one of `allowed`, else InputError (exit 2, one line)."""
    if fmt not in allowed:
        raise InputError(f"--format must be {', '.join(allowed[:-1])} or {allowed[-1]}, "
                         f"got {fmt!r}")
    return fmt


@contextmanager
def stdout_to_stderr(enabled: bool = True) -> Iterator[None]:
    """While active, anything written to stdout (Python or child processes) goes to stderr."""
    if not enabled:
        yield
        return
    sys.stdout.flush()
    saved_fd = None
    try:
        saved_fd = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # no real stdout file descriptor: Python-level redirect only
        saved_fd = None
    saved = sys.stdout
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stdout = saved
        if saved_fd is not None:
            os.dup2(saved_fd, 1)
            os.close(saved_fd)


def echo_json(document: dict[str, Any]) -> None:
    """Print `document` as JSON on stdout (NaN never appears: callers pass None)."""
    typer.echo(json.dumps(document, indent=2, allow_nan=False, default=str))


def version_text() -> str:
    """``gecko-bench <version>`` plus ``(git <sha>)`` when run from a checkout."""
    try:
        version = metadata.version("gecko-bench")
    except metadata.PackageNotFoundError:
        from gecko_bench import __version__ as version
    from gecko_bench.provenance import git_sha

    sha = git_sha()
    return f"gecko-bench {version}" + (f" (git {sha})" if sha else "")
