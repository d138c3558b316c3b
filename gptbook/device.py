"""Where the tensors live, and how a chapter is made repeatable.

Every chapter calls :func:`device` once. It picks the fastest place this machine has: an NVIDIA GPU
(CUDA), then an Apple GPU (MPS), then the CPU. The same notebook therefore runs unchanged on a
laptop and on a GPU server. A device asked for by name (an argument, ``--device``, or the
environment variable ``GPTBOOK_DEVICE``) is checked first: an unknown name or one this machine
lacks is a :class:`DeviceError` that lists what is available. :func:`seed_everything` makes random
numbers repeatable.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

ENV_VAR = "GPTBOOK_DEVICE"


class DeviceError(ValueError):
    """A device was asked for that does not exist, or that this machine does not have."""


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def available_devices() -> list[str]:
    """The devices this machine can use, by name: ``cuda:0``, ``cuda:1``, ..., ``mps``, ``cpu``."""
    names = (
        [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    )
    if _mps_available():
        names.append("mps")
    return [*names, "cpu"]


def check_device(choice: str | torch.device, source: str = "the device") -> torch.device:
    """``choice`` as a ``torch.device``, if this machine has it; otherwise a :class:`DeviceError`
    naming ``source`` (where the choice came from) and the devices that are available."""
    have = ", ".join(available_devices())
    try:
        dev = torch.device(choice)
    except (RuntimeError, TypeError, ValueError):
        raise DeviceError(
            f"{source} {choice!r} is not a device name. Use one of: {have} (or cuda, for the "
            "first GPU)."
        ) from None
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"{source} is {choice!r}, but this machine has no usable CUDA GPU (or this PyTorch "
                f"is a CPU-only build). Available: {have}."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(
                f"{source} is {choice!r}, but this machine has {torch.cuda.device_count()} CUDA "
                f"GPU(s). Available: {have}."
            )
        return dev
    if dev.type == "mps":
        if not _mps_available():
            raise DeviceError(
                f"{source} is {choice!r}, but this machine has no Apple GPU (MPS). "
                f"Available: {have}."
            )
        return dev
    raise DeviceError(f"{source} is {choice!r}, which gptbook does not run on. Use one of: {have}.")


def device(prefer: str | torch.device | None = None) -> torch.device:
    """Return the best available device: CUDA, then MPS, then CPU.

    ``prefer`` (or the environment variable ``GPTBOOK_DEVICE``) forces a choice, for example
    ``"cpu"`` to reproduce the CPU numbers on a GPU machine; it must be a device this machine has.
    """
    if prefer is not None and prefer != "":
        return check_device(prefer, "The device asked for")
    env = os.environ.get(ENV_VAR)
    if env:
        return check_device(env, f"The environment variable {ENV_VAR}")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 1337) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (all devices); return a CPU generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return torch.Generator().manual_seed(seed)
