"""Facts recorded with every run: git sha, package versions, host, device; checkpoint ids."""

from __future__ import annotations

import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from gecko_bench.assets.fetch import sha256_file

_PACKAGES = ["gecko-bench", "torch", "transformers", "sentence-transformers", "mteb", "beir",
             "duckdb", "pandas", "streamlit", "numpy", "scipy"]


@lru_cache(maxsize=1)
def git_sha() -> str | None:
    """The current commit of the checkout gecko_bench runs from (with -dirty), or None."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "-uno"],
                               capture_output=True, text=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that decide a score."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def device_name(device: str) -> str:
    """A readable device description, e.g. 'cpu (2 cores)' or the CUDA device name."""
    if device.startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            return f"{device}: {torch.cuda.get_device_name(0)}"
    import os

    return f"cpu ({os.cpu_count()} cores)"


def collect(device: str = "cpu") -> dict[str, Any]:
    """Everything start_run records about where and with what a run happened."""
    return {"git_sha": git_sha(), "host": platform.node(), "device": device_name(device),
            "package_versions": package_versions()}


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt")


def checkpoint_id(path: str | Path) -> str:
    """sha256 over a checkpoint's weight files (sorted by relative path): its identity.

    Two folders with the same weights get the same id wherever they live.
    """
    import hashlib

    root = Path(path)
    files = [root] if root.is_file() else sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES
        and "checkpoint-" not in str(p.relative_to(root)))
    if not files:
        raise FileNotFoundError(f"no weight files ({', '.join(WEIGHT_SUFFIXES)}) under {root}")
    if len(files) == 1:
        return sha256_file(files[0])
    digest = hashlib.sha256()
    for f in files:
        digest.update(str(f.relative_to(root)).encode())
        digest.update(sha256_file(f).encode())
    return digest.hexdigest()
