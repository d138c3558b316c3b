"""Tests of gptbook.device: the best device by default, and a clear error for a device that does
not exist or that this machine lacks (named by argument or by GPTBOOK_DEVICE)."""

from __future__ import annotations

import pytest
import torch

from gptbook.device import DeviceError, available_devices, check_device, device, seed_everything


def test_the_default_is_an_available_device(monkeypatch):
    monkeypatch.delenv("GPTBOOK_DEVICE", raising=False)
    dev = device()
    assert dev.type in {"cuda", "mps", "cpu"}
    assert available_devices()[-1] == "cpu"


def test_cpu_can_always_be_asked_for(monkeypatch):
    monkeypatch.setenv("GPTBOOK_DEVICE", "cpu")
    assert device() == torch.device("cpu")
    assert device("cpu") == device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("name", ["tpu", "gpu", "cuda:x", "", " cpu", "meta", "xla"])
def test_unknown_devices_name_what_is_available(name):
    with pytest.raises(DeviceError) as err:
        check_device(name, "--device")
    assert "cpu" in str(err.value) and repr(name) in str(err.value)


def test_a_missing_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        with pytest.raises(DeviceError, match="CUDA GPU"):
            check_device(f"cuda:{torch.cuda.device_count()}")
        assert device("cuda").type == "cuda"
    else:
        with pytest.raises(DeviceError, match="no usable CUDA GPU"):
            device("cuda")
    if not available_devices().count("mps"):
        with pytest.raises(DeviceError, match="no Apple GPU"):
            device("mps")


def test_a_bad_environment_variable_is_named(monkeypatch):
    monkeypatch.setenv("GPTBOOK_DEVICE", "tpu")
    with pytest.raises(DeviceError, match="environment variable GPTBOOK_DEVICE"):
        device()
    assert device("cpu") == torch.device("cpu")  # an explicit choice wins over the variable


def test_device_errors_are_value_errors():
    assert issubclass(DeviceError, ValueError)


def test_seed_everything_repeats_random_numbers():
    seed_everything(3)
    a = torch.rand(3)
    g = seed_everything(3)
    assert torch.equal(a, torch.rand(3))
    assert torch.equal(g.get_state(), torch.Generator().manual_seed(3).get_state())
