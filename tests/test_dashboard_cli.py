"""`gecko-bench dashboard` refuses bad input with one clear message before starting Streamlit."""

from __future__ import annotations

import socket

from typer.testing import CliRunner

from gecko_bench.cli import app
from gecko_bench.cli.dashboard import streamlit_command
from gecko_bench.errors import InputError

runner = CliRunner()


def test_port_out_of_range():
    result = runner.invoke(app, ["dashboard", "--port", "70000"])
    assert isinstance(result.exception, InputError)
    assert "not a TCP port" in str(result.exception)


def test_port_in_use(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(app, ["dashboard", "--db", str(tmp_path / "x.duckdb"),
                                     "--port", str(port)])
    assert isinstance(result.exception, InputError)
    assert f"127.0.0.1:{port}" in str(result.exception) and "--port" in str(result.exception)


def test_db_must_be_a_file(tmp_path):
    result = runner.invoke(app, ["dashboard", "--db", str(tmp_path)])
    assert isinstance(result.exception, InputError)
    assert "is a folder" in str(result.exception)


def test_streamlit_command_binds_the_given_host_and_passes_the_database(tmp_path):
    cmd = streamlit_command(tmp_path / "r.duckdb", "127.0.0.1", 8501)
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[-2:] == ["--db", str(tmp_path / "r.duckdb")]
    assert cmd[cmd.index("run") + 1].endswith("dashboards/app.py")
    help_text = runner.invoke(app, ["dashboard", "--help"]).output
    assert "127.0.0.1" in help_text and "read-only" in help_text
