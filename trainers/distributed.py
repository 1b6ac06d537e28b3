"""Data-parallel training under torchrun: which process this is, and what only rank 0 does.

``torchrun --nproc_per_node N -m gecko_bench train finetune ...`` starts N copies of the CLI
with ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` set. The Trainer (through accelerate) then wraps
the model in DistributedDataParallel, gives each process every N-th batch of the sampler and
averages gradients; this module adds what a run of ours needs on top:

- the configured batch is the *global* batch: each process trains on ``batch / N`` examples
  (:func:`per_device_batch`), so one optimizer step sees the same examples as on one process;
- ``train.gather_across_devices`` (default on) gathers every process's embeddings into the
  loss, so in-batch and same-tower negatives span the global batch as on one process;
- only rank 0 writes the store, the checkpoint, its manifest and card; the others wait at a
  :func:`barrier` and return the same folder.

The process group is gloo on CPU, nccl on CUDA (:func:`setup`).
"""

from __future__ import annotations

import os

from gecko_bench.errors import InputError


def world_size() -> int:
    """Processes in this run: torchrun's ``WORLD_SIZE`` (1 outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's global rank (0 outside torchrun)."""
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    """Whether this process writes (the store, checkpoints, output): rank 0."""
    return rank() == 0


def setup(device: str) -> None:
    """Join the process group torchrun set up (gloo on CPU, nccl on CUDA); no-op alone."""
    if world_size() == 1:
        return
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")


def barrier() -> None:
    """Wait for every process (no-op outside torchrun)."""
    if world_size() == 1:
        return
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()


def per_device_batch(batch_size: int) -> int:
    """Each process's share of the global batch; InputError unless it divides evenly."""
    n = world_size()
    if batch_size % n:
        raise InputError(f"batch size {batch_size} does not split over {n} processes: "
                         f"give a multiple of {n} (it is the global batch)")
    return batch_size // n


def gathers(cfg) -> bool:
    """Whether the loss gathers embeddings across processes (only when there are several)."""
    return world_size() > 1 and bool(getattr(cfg, "gather_across_devices", True))


def key_material(cfg) -> dict | None:
    """What a multi-process run adds to the checkpoint key (None on one process: the key of
    a one-process run is unchanged)."""
    if world_size() == 1:
        return None
    return {"world_size": world_size(), "gather_across_devices": gathers(cfg)}
