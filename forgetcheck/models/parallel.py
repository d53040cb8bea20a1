"""Data-parallel scoring: across processes started by ``torchrun`` or ``accelerate launch``, and
across two threads on a CPU.

Each process loads the model and scores every n-th chunk of the suite (chunks
are fixed by the probe, see :func:`forgetcheck.results.runner.chunks`), then the records
are gathered so that every process holds all of them; only rank 0 writes the
report. Because a chunk is scored the same way whichever process scores it,
the result is identical to one process. With one process (no ``WORLD_SIZE``,
or ``WORLD_SIZE=1``) every function here is a no-op.

On a CPU, one process also scores two chunks at a time, in two threads that
split the cores (:func:`cpu_workers`, :func:`in_threads`). At the shapes of small
models a matrix product does not use two cores twice as well as one, so two
single-thread passes side by side finish sooner than the same passes one after
the other on two threads each (``benchmarks/cpu_workers.py`` measures it).
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Callable, Iterator


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


def cpu_workers(device: str) -> int:
    """How many chunks a process scores side by side: 2 on a CPU with two or more threads, else 1.

    ``FORGETCHECK_CPU_WORKERS`` sets it (1 turns side-by-side scoring off). A GPU, or
    processes launched for data parallelism, score one chunk at a time.
    """
    import torch

    if launched() or not device.startswith("cpu"):
        return 1
    chosen = os.environ.get("FORGETCHECK_CPU_WORKERS", "").strip()
    if chosen.isdigit() and int(chosen) >= 1:
        return min(int(chosen), torch.get_num_threads())
    return 2 if torch.get_num_threads() >= 2 else 1


def in_threads(tasks: list, work: Callable, workers: int) -> Iterator[tuple]:
    """``(task, work(task))`` for every task, as each finishes, ``workers`` at a time.

    The torch threads are split between the workers, which run in the caller's grad mode. The caller's thread receives
    every result (so only it writes to the cache) and any error, which stops the
    tasks not yet started. Workers are daemon threads: Ctrl-C ends the run at once.
    """
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield task, work(task)
        return
    import torch

    threads_each = max(1, torch.get_num_threads() // workers)
    # Grad mode is per thread: a worker would otherwise record autograd graphs for work the caller
    # runs under torch.no_grad() (that cost drift's log-prob batches 2.5x their time).
    grad = torch.is_grad_enabled()
    waiting: queue.Queue = queue.Queue()
    for task in tasks:
        waiting.put(task)
    done: queue.Queue = queue.Queue()
    failed = threading.Event()

    def worker() -> None:
        torch.set_num_threads(threads_each)  # this thread's own OpenMP team
        torch.set_grad_enabled(grad)
        while not failed.is_set():
            try:
                task = waiting.get_nowait()
            except queue.Empty:
                return
            try:
                done.put((task, work(task), None))
            except BaseException as error:  # handed to the caller's thread, which raises it
                failed.set()
                done.put((task, None, error))
                return

    for _ in range(min(workers, len(tasks))):
        threading.Thread(target=worker, daemon=True).start()
    for _ in tasks:
        task, value, error = done.get()
        if error is not None:  # nothing new starts; the other worker finishes the chunk it is on
            raise error
        yield task, value
