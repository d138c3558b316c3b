"""Training on several processes at once: data parallelism with PyTorch's DistributedDataParallel.

Read this module from top to bottom, like the appendix (notebook A1):

1. ``torchrun --nproc_per_node N ...`` starts N copies of the same program and tells each its
   place through environment variables (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, and where to
   meet: ``MASTER_ADDR``, ``MASTER_PORT``). :func:`process_info` reads them, and
   :func:`init_from_env` joins the processes into one group: the gloo backend on the CPU, NCCL on
   NVIDIA GPUs (one GPU per process, ``cuda:LOCAL_RANK``).
2. Every process holds a full copy of the model. Each optimisation step, every process draws the
   *same* global batch of ``batch_size`` windows (the batch sampler is seeded identically
   everywhere) and keeps only its own slice of it (:func:`shard`): the data is split by rank, and
   the union of the slices is exactly the batch one process would have used. Each slice may be cut
   again into ``grad_accum`` micro-batches (:func:`micro_batches`), run one after another, to save
   memory.
3. After the backward pass, DistributedDataParallel averages the gradients of all processes (an
   all-reduce). Every micro-batch's loss is divided by ``grad_accum``, so the gradient every
   process ends with is the gradient of the mean loss over the whole global batch: the same update
   as one process with the whole batch, up to the order of float additions. The optimizer then
   takes the same step everywhere, so the copies stay identical.
4. Only rank 0 writes checkpoints and prints; :func:`mean_over_processes` and
   :func:`from_rank0` keep the numbers every process decides on (the logged loss, the clock of a
   time-limited run) the same on all of them.

Without ``torchrun`` (one process) nothing here runs and training is exactly what it always was.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import Tensor

ENV_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
T = TypeVar("T")


class DistributedSetupError(RuntimeError):
    """The processes cannot form a group, or their settings do not fit together."""


@dataclass(frozen=True)
class ProcessInfo:
    """Where this process stands: its ``rank`` among ``world_size`` processes (``local_rank`` on
    this machine). One process alone is rank 0 of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and prints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def process_info() -> ProcessInfo:
    """This process's rank and the number of processes: from the process group when one is
    running, else from torchrun's environment variables, else rank 0 of 1."""
    if dist.is_available() and dist.is_initialized():
        local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
        return ProcessInfo(dist.get_rank(), dist.get_world_size(), local)
    env = {key: os.environ.get(key) for key in ENV_KEYS}
    if env["WORLD_SIZE"] is None:
        return ProcessInfo()
    try:
        rank, world = int(env["RANK"] or 0), int(env["WORLD_SIZE"])
        local = int(env["LOCAL_RANK"] or rank)
    except ValueError:
        raise DistributedSetupError(
            f"torchrun's variables RANK, WORLD_SIZE, LOCAL_RANK must be integers, got {env}."
        ) from None
    if not 0 <= rank < world:
        raise DistributedSetupError(f"RANK={rank} is not in 0 .. WORLD_SIZE-1 = {world - 1}.")
    return ProcessInfo(rank, world, local)


def backend_for(device: torch.device) -> str:
    """NCCL for CUDA GPUs (fast GPU-to-GPU all-reduce), gloo for everything else (the CPU)."""
    return "nccl" if device.type == "cuda" else "gloo"


def init_from_env(device: torch.device) -> tuple[ProcessInfo, torch.device]:
    """Join the process group torchrun set up, if any; returns this process's info and device.

    One process (no ``WORLD_SIZE`` above 1): nothing happens and ``device`` is returned as it is.
    Under torchrun on CUDA each process takes its own GPU, ``cuda:LOCAL_RANK``. Calling it again
    once the group exists only returns the info and the device.
    """
    info = process_info()
    if not info.distributed:
        return info, device
    if device.type == "cuda":
        if info.local_rank >= torch.cuda.device_count():
            raise DistributedSetupError(
                f"Process {info.rank} wants GPU cuda:{info.local_rank}, but this machine has "
                f"{torch.cuda.device_count()}. Use --nproc_per_node at most the number of GPUs."
            )
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    elif device.type != "cpu":
        raise DistributedSetupError(
            f"Training on several processes runs on CUDA GPUs or on the CPU, not on {device.type}; "
            "use --device cpu, or one process."
        )
    if dist.is_initialized():
        return info, device
    if not dist.is_available():
        raise DistributedSetupError(
            "WORLD_SIZE is above 1 (started by torchrun?), but this PyTorch was built without "
            "torch.distributed. Run with one process, or install a standard PyTorch build."
        )
    dist.init_process_group(backend=backend_for(device))
    return process_info(), device


def close() -> None:
    """Leave the process group (at the end of a run under torchrun); nothing without one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


# ---------------------------------------------------------------------------------------------
# Splitting the global batch
# ---------------------------------------------------------------------------------------------


def check_split(batch_size: int, world_size: int, grad_accum: int) -> int:
    """The micro-batch size: ``batch_size`` windows split over ``world_size`` processes and
    ``grad_accum`` micro-steps each. Raises ``ValueError`` unless it divides evenly (unequal
    micro-batches would weigh their windows unequally in the averaged gradient)."""
    parts = world_size * grad_accum
    if batch_size % parts:
        raise ValueError(
            f"The global batch of {batch_size} windows does not split evenly over {world_size} "
            f"process(es) x {grad_accum} accumulation step(s) = {parts} micro-batches. Choose a "
            f"batch size that is a multiple of {parts}, or other --nproc_per_node / --grad-accum."
        )
    return batch_size // parts


def shard(batch: Tensor, rank: int, world_size: int) -> Tensor:
    """Rank ``rank``'s share of a global batch: rows ``rank * n .. (rank + 1) * n - 1``, where
    ``n = len(batch) // world_size``. The shares of all ranks are the whole batch, once."""
    n = len(batch) // world_size
    return batch[rank * n : (rank + 1) * n]


def micro_batches(x: Tensor, y: Tensor, grad_accum: int) -> list[tuple[Tensor, Tensor]]:
    """``x`` and ``y`` cut into ``grad_accum`` equal micro-batches, in order."""
    return list(zip(x.chunk(grad_accum), y.chunk(grad_accum)))


# ---------------------------------------------------------------------------------------------
# Numbers all processes must agree on
# ---------------------------------------------------------------------------------------------


def _collective_device() -> torch.device:
    """Where tensors must be for a collective: the current GPU for NCCL, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def mean_over_processes(value: Tensor) -> float:
    """The mean of a scalar over all processes (all-reduce); the value itself for one process."""
    if not (dist.is_available() and dist.is_initialized()):
        return float(value)
    t = value.detach().to(_collective_device(), torch.float32).reshape(1)
    dist.all_reduce(t)
    return float(t) / dist.get_world_size()


def from_rank0(value: float) -> float:
    """Rank 0's ``value`` on every process (a broadcast): e.g. the clock of a time-limited run,
    so all processes use the same learning rate and stop at the same step."""
    if not (dist.is_available() and dist.is_initialized()):
        return value
    t = torch.tensor([value], dtype=torch.float32, device=_collective_device())
    dist.broadcast(t, src=0)
    return float(t)


def gather_rng_states(state: Tensor) -> list[Tensor]:
    """Every process's ``state`` (its CPU random state, for dropout), in rank order: a checkpoint
    stores them all so that a resumed run draws the same dropout masks on every process."""
    if not (dist.is_available() and dist.is_initialized()):
        return [state]
    dev = _collective_device()
    parts = [torch.empty_like(state, device=dev) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, state.to(dev))
    return [p.cpu() for p in parts]


def share_from_rank0(make: Callable[[], T]) -> T:
    """``make()`` run on rank 0 only, its result sent to every process (for work that should be
    done once, such as training a tokenizer); plain ``make()`` for one process. The result must
    be picklable plain data."""
    if not (dist.is_available() and dist.is_initialized()):
        return make()
    box = [make() if dist.get_rank() == 0 else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    """Wait until every process gets here (nothing for one process)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
