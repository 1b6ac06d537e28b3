"""``gecko-bench dashboard``: serve the Streamlit results dashboard (read-only) on localhost."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from gecko_bench.errors import InputError
from gecko_bench.store.core import default_db_path

console = Console()


def app_path() -> Path:
    """The dashboard's Streamlit script (dashboards/app.py of this installation)."""
    import dashboards

    return Path(dashboards.__file__).resolve().parent / "app.py"


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Like the server itself (tornado), ignore sockets of a just-stopped server in TIME_WAIT.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise InputError(f"cannot listen on {host}:{port} ({exc.strerror}); "
                             "pass another --port") from None


def streamlit_command(db: Path, host: str, port: int) -> list[str]:
    """The `streamlit run` command line that serves the dashboard over ``db``."""
    return [sys.executable, "-m", "streamlit", "run", str(app_path()),
            "--server.address", host, "--server.port", str(port), "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--", "--db", str(db)]


def dashboard(
    db: Optional[Path] = typer.Option(
        None, "--db", help="Results database (default $GECKO_BENCH_DB or "
        "results/gecko_bench.duckdb). Opened read-only; runs can keep writing."),
    port: int = typer.Option(8501, "--port", "-p", help="Port to serve on."),
    host: str = typer.Option("127.0.0.1", "--host",
                             help="Address to bind. Default: this machine only."),
) -> None:
    """Open the results dashboard: leaderboard, experiments, regression, FRet explorer, runs.

    Serves Streamlit on http://HOST:PORT until Ctrl-C. Pages: Leaderboard, Label strategies,
    Task diversity, Embedding dimensions, Regression, FRet explorer, Runs.
    """
    if not 0 < port < 65536:
        raise InputError(f"--port {port} is not a TCP port (1-65535)")
    db = (db or default_db_path()).resolve()
    if db.exists() and db.is_dir():
        raise InputError(f"--db {db} is a folder; give the .duckdb file")
    if not db.exists():
        console.print(f"[yellow]no results database at {db} yet[/]: the dashboard will say what "
                      "to run (e.g. `make demo`).")
    _check_port_free(host, port)
    console.print(f"dashboard on [bold]http://{host}:{port}[/] over {db} (Ctrl-C stops)")
    # Replace this process with Streamlit's so Ctrl-C or a kill of this pid stops the server too.
    cmd = streamlit_command(db, host, port)
    os.execv(cmd[0], cmd)
