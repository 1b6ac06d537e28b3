"""What this machine computes fast: the one dtype rule every stage shares, and its matmul limit.

``auto`` means bfloat16 where the hardware runs it natively (a CUDA device with bf16, or a CPU
whose oneDNN has native bf16 matmul: AVX512-BF16 or AMX) and float32 elsewhere. On a CPU
without native bf16 (e.g. AVX2-only) torch emulates bf16 matmuls and they run several times
*slower* than float32, so ``auto`` must not pick it there.

Nothing heavy is imported at module import time: torch is imported inside the functions.
"""

from __future__ import annotations

import time

SETTINGS = ("auto", "float32", "bfloat16")  # what a user may write; auto resolves to one of these


def cpu_has_native_bf16() -> bool:
    """True when oneDNN runs bfloat16 matmuls natively on this CPU (AVX512-BF16 or AMX)."""
    import torch

    try:
        return bool(torch.backends.mkldnn.is_available()
                    and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # private probe; absent on some builds
        return False


def cuda_has_bf16() -> bool:
    """True when a CUDA device is present and supports bfloat16."""
    import torch

    try:
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    except (AssertionError, RuntimeError):
        return False


def check_setting(dtype: str, what: str = "dtype") -> str:
    """`dtype` if it is a valid setting; InputError listing the valid values otherwise."""
    if dtype not in SETTINGS:
        from gecko_bench.errors import InputError

        raise InputError(f"unknown {what} {dtype!r}; valid: {', '.join(SETTINGS)}")
    return dtype


def resolve_dtype(dtype: str, device: str = "cpu", what: str = "dtype",
                  half_fallback: bool = False) -> str:
    """The compute dtype a setting means on `device`: 'float32', 'bfloat16' (or 'float16').

    ``auto``: bfloat16 on CUDA with bf16 and on CPUs with native bf16 matmul, else float32 --
    except that with ``half_fallback`` a CUDA device without bf16 gets float16 (inference only;
    training would need loss scaling). InputError for anything but auto/float32/bfloat16.
    """
    check_setting(dtype, what)
    if dtype != "auto":
        return dtype
    kind = device.split(":", 1)[0]
    if kind == "cuda":
        if cuda_has_bf16():
            return "bfloat16"
        return "float16" if half_fallback else "float32"
    return "bfloat16" if kind == "cpu" and cpu_has_native_bf16() else "float32"


def torch_dtype(name: str):
    """The torch dtype object of a resolved dtype name."""
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16,
            "float16": torch.float16}[name]


def matmul_gflops(dtype: str = "float32", n: int = 2048, reps: int = 3,
                  device: str = "cpu") -> float:
    """Achieved GFLOP/s of an n x n @ n x n torch matmul in `dtype` (one warm-up, best of reps).

    FLOPs of one product: 2 n^3. The best repetition is kept, so a momentary load spike from
    other processes lowers the figure less.
    """
    import torch

    dt = torch_dtype(dtype)
    gen = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(n, n, generator=gen).to(device=device, dtype=dt)
    b = torch.randn(n, n, generator=gen).to(device=device, dtype=dt)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    a @ b
    sync()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        sync()
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def machine_limits(device: str = "cpu", n: int = 2048, reps: int = 3) -> dict[str, float]:
    """float32 and bfloat16 matmul GFLOP/s on `device`, measured now (the perf reports' ceiling).

    On a CPU without native bf16 the bf16 product is emulated and slow: the probe then uses a
    smaller matrix (512) so it takes seconds, not minutes; GFLOP/s is size-normalised.
    """
    cuda = device.split(":", 1)[0] == "cuda"
    native = cuda_has_bf16() if cuda else cpu_has_native_bf16()
    fp32 = matmul_gflops("float32", n, reps, device)
    bf16 = matmul_gflops("bfloat16", n if native else min(n, 512), reps, device)
    return {"float32": round(fp32, 1), "bfloat16": round(bf16, 1), "matmul_n": n,
            "native_bf16": native}


def best_limits(*measured: dict) -> dict:
    """Per dtype the best of several :func:`machine_limits` probes (e.g. before and after a
    benchmark): other processes' load lowers a probe, never raises it."""
    out = dict(measured[0])
    for m in measured[1:]:
        out["float32"] = max(out["float32"], m["float32"])
        out["bfloat16"] = max(out["bfloat16"], m["bfloat16"])
    out["probes"] = len(measured)
    return out


def dtype_markdown(probe: dict[str, dict], limits: dict, what: str = "texts/s") -> str:
    """The dtype table of a perf report: speed, ratio to float32, GFLOP/s and its fraction of
    the float32 and bfloat16 matmul rates measured in the same run."""
    key = "texts_per_s" if what == "texts/s" else "samples_per_s"
    base = probe["float32"][key]
    lines = [f"| dtype setting | computes in | {what} | ratio vs float32 | GFLOP/s | "
             "of fp32 matmul | of bf16 matmul |", "|---|---|---|---|---|---|---|"]
    for setting, row in probe.items():
        g = row.get("gflops")
        lines.append(
            f"| {setting} | {row['dtype']} | {row[key]:.2f} | {row[key] / base:.2f} | "
            + (f"{g:.1f} | {g / limits['float32']:.0%} | "
               + (f"{g / limits['bfloat16']:.0%} |" if limits["native_bf16"] else "- |")
               if g else "- | - | - |"))
    native = "native" if limits["native_bf16"] else \
        "emulated: no native bf16 here, so auto computes in float32 and no fraction of it is shown"
    return ("\n".join(lines) + f"\n\nMatmul rates measured in this run ({limits['matmul_n']}^2 "
            f"square products, best of 3 per probe, best of {limits.get('probes', 1)} probes "
            f"(before and after)): float32 {limits['float32']:.1f} GFLOP/s, bfloat16 "
            f"{limits['bfloat16']:.1f} GFLOP/s ({native}).\n")


# ------------------------------------------------------------------ FLOPs of encoder forwards

def encoder_shape(model) -> dict[str, int]:
    """Non-embedding parameters, layers and hidden size of a sentence-transformers encoder."""
    auto = model[0].auto_model
    emb = getattr(auto, "embeddings", None) or auto.get_input_embeddings()
    emb_ids = {id(p) for p in emb.parameters()}
    return {"params_nonembedding": sum(p.numel() for p in auto.parameters()
                                       if id(p) not in emb_ids),
            "layers": int(auto.config.num_hidden_layers),
            "hidden": int(auto.config.hidden_size)}


def forward_flops(shape: dict[str, int], batches: list[tuple[int, int]]) -> float:
    """FLOPs of encoder forwards over padded (batch, seq_len) inputs.

    Formula: ``2 * P_ne * b * s`` (every non-embedding weight is one multiply-add per token;
    padding tokens count, they are computed) ``+ 4 * L * h * b * s^2`` (the two attention
    products QK^T and AV, ``2 * s^2 * h`` each per sequence and layer). A training step is
    taken as 3x its forward (backward ~ 2x forward).
    """
    p, layers, h = shape["params_nonembedding"], shape["layers"], shape["hidden"]
    return float(sum(2 * p * b * s + 4 * layers * h * b * s * s for b, s in batches))


class ShapeRecorder:
    """Records the (batch, seq_len) of every forward of a sentence-transformers model's
    transformer while ``active`` (a forward pre-hook), to count FLOPs of real work exactly."""

    def __init__(self, model) -> None:
        self.shapes: list[tuple[int, int]] = []
        self.active = True
        # on the sentence-transformers Transformer module: it calls the HF model's forward
        # method directly, past the HF module's own hooks
        self._handle = model[0].register_forward_pre_hook(self._hook)

    def _hook(self, module, args):
        ids = args[0].get("input_ids") if args and hasattr(args[0], "get") else None
        if self.active and ids is not None:
            self.shapes.append((int(ids.shape[0]), int(ids.shape[1])))

    def take(self) -> list[tuple[int, int]]:
        """The shapes recorded since the last take."""
        out, self.shapes = self.shapes, []
        return out

    def close(self) -> None:
        self._handle.remove()
