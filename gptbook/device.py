"""Where the tensors live, and how a chapter is made repeatable.

Every chapter calls :func:`device` once. It picks the fastest place this machine has: an NVIDIA GPU
(CUDA), then an Apple GPU (MPS), then the CPU. The same notebook therefore runs unchanged on a
laptop and on a GPU server. :func:`seed_everything` makes random numbers repeatable.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def device(prefer: str | None = None) -> torch.device:
    """Return the best available device: CUDA, then MPS, then CPU.

    ``prefer`` (or the environment variable ``GPTBOOK_DEVICE``) forces a choice, for example
    ``"cpu"`` to reproduce the CPU numbers on a GPU machine.
    """
    choice = prefer or os.environ.get("GPTBOOK_DEVICE")
    if choice:
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
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
