"""Data-parallel scoring across processes started by ``torchrun`` or ``accelerate launch``.

Each process loads the model and scores every n-th chunk of the suite (chunks
are fixed by the probe, see :func:`forgetcheck.results.runner.chunks`), then the records
are gathered so that every process holds all of them; only rank 0 writes the
report. Because a chunk is scored the same way whichever process scores it,
the result is identical to one process. With one process (no ``WORLD_SIZE``,
or ``WORLD_SIZE=1``) every function here is a no-op.
"""

from __future__ import annotations

import os


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def launched() -> bool:
    """True under torchrun / accelerate launch with more than one process."""
    return world_size() > 1


def start(device: str) -> str:
    """Join the process group (gloo on CPU, nccl on CUDA); returns this process's device."""
    if not launched():
        return device
    import torch
    import torch.distributed as dist

    cuda = device.startswith("cuda")
    if cuda:
        # One GPU per process: the launcher's LOCAL_RANK picks it.
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return device


def _active() -> bool:
    if not launched():
        return False
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    if not _active():
        return 0
    import torch.distributed as dist

    return dist.get_rank()


def is_main() -> bool:
    return rank() == 0


def shard(work: list) -> list:
    """This process's share of ``work``: every n-th element, starting at its rank."""
    if not _active():
        return list(work)
    import torch.distributed as dist

    return list(work)[dist.get_rank()::dist.get_world_size()]


def broadcast(value):
    """Rank 0's ``value`` on every process."""
    if not _active():
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(value) -> list:
    """Every process's ``value``, in rank order, on every process (so all build the same result)."""
    if not _active():
        return [value]
    import torch.distributed as dist

    parts = [None] * dist.get_world_size()
    dist.all_gather_object(parts, value)
    return parts
