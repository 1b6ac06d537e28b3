"""One error root: user errors print one line and exit 2; a bug keeps its traceback."""

import subprocess
import sys

import pytest

from gecko_bench import cli
from gecko_bench.errors import AssetError, GeckoBenchError, InputError, StoreError


def test_errors_module_is_a_leaf():
    """Importing the error types loads nothing else of the package (no duckdb, no pandas)."""
    code = ("import sys, gecko_bench.errors; "
            "print(sorted(m for m in sys.modules if m.startswith(('gecko_bench.', 'duckdb', "
            "'pandas', 'torch'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "['gecko_bench.errors']"


def test_area_errors_are_the_root_and_re_exported():
    from gecko_bench import assets, store

    assert assets.AssetError is AssetError and store.StoreError is StoreError
    for kind in (AssetError, StoreError, InputError):
        assert issubclass(kind, GeckoBenchError)


def _run_raising(monkeypatch, exc: BaseException) -> None:
    def app():
        raise exc

    monkeypatch.setattr(cli, "app", app)
    cli.run()


@pytest.mark.parametrize("kind", [InputError, AssetError, StoreError])
def test_user_error_is_one_line_and_exit_2(monkeypatch, capsys, kind):
    with pytest.raises(SystemExit) as stop:
        _run_raising(monkeypatch, kind("bad thing\n  on two lines"))
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: bad thing on two lines"


@pytest.mark.parametrize("bug", [KeyError("dims"), FileNotFoundError("x.json"),
                                 ValueError("oops")])
def test_a_bug_keeps_its_traceback(monkeypatch, bug):
    """A KeyError or FileNotFoundError from our own code is not a user error: it propagates
    (Python prints its traceback) instead of being shortened to one misleading line."""
    with pytest.raises(type(bug)):
        _run_raising(monkeypatch, bug)
