"""Tests of gptbook.throughput: FLOPs per token, the matmul peak, MFU and a run's speed."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gptbook.model import GPT, GPTConfig, count_params
from gptbook.optim import bf16_supported
from gptbook.throughput import (
    measure_matmul_peak,
    measure_peaks,
    mfu,
    model_flops_per_token,
    throughput,
)

CONFIG = GPTConfig(vocab_size=10, context=8, n_layer=2, n_head=2, d_model=16)


def test_flops_per_token_is_6n_plus_the_attention_term():
    n = count_params(CONFIG)["total"]
    assert model_flops_per_token(CONFIG) == 6 * n + 12 * 2 * 16 * 8
    assert model_flops_per_token(CONFIG, context=4) == 6 * n + 12 * 2 * 16 * 4
    assert model_flops_per_token(GPT(CONFIG)) == model_flops_per_token(CONFIG)


def test_flops_per_token_of_a_model_without_a_gpt_config_is_6n():
    assert model_flops_per_token(nn.Linear(3, 4)) == 6 * (3 * 4 + 4)
    with pytest.raises(TypeError, match="Pass a model or a GPTConfig"):
        model_flops_per_token("gpt")
    with pytest.raises(ValueError, match="context must be a positive"):
        model_flops_per_token(CONFIG, context=0)


def test_mfu_is_achieved_over_peak():
    assert mfu(50e9, 200e9) == 0.25
    assert mfu(0.0, 1e9) == 0.0
    with pytest.raises(ValueError, match="measure it with measure_matmul_peak"):
        mfu(1e9, 0.0)
    with pytest.raises(ValueError, match="flops_per_s must be a finite"):
        mfu(math.nan, 1e9)
    with pytest.raises(ValueError, match="peak_flops_per_s must be a finite"):
        mfu(1e9, -1.0)


def test_matmul_peak_is_a_positive_finite_speed():
    peak = measure_matmul_peak(size=64, trials=2, seconds=0.02)
    assert peak > 0 and math.isfinite(peak)
    with pytest.raises(ValueError, match="positive integers"):
        measure_matmul_peak(size=0)
    with pytest.raises(ValueError, match="positive time budget"):
        measure_matmul_peak(seconds=0)


def test_peaks_include_bf16_where_the_cpu_has_it():
    peaks = measure_peaks("cpu", seconds=0.02)
    assert peaks["float32"] > 0
    assert ("bfloat16" in peaks) == bf16_supported("cpu")
    if "bfloat16" in peaks:
        assert peaks["bfloat16"] > 0 and math.isfinite(peaks["bfloat16"])
    assert measure_matmul_peak(torch.float64, size=32, trials=1, seconds=0.01) > 0


def test_throughput_of_a_history():
    history = [
        {"step": 1, "loss": 2.0},
        {"step": 2, "val_loss": 1.0, "tokens_per_s": 100.0, "flops_per_s": 1e3},
        {"step": 4, "val_loss": 0.9, "tokens_per_s": 300.0, "flops_per_s": 3e3},
    ]
    speed = throughput(history)  # 2 equal intervals: 2 units of tokens in 1/100 + 1/300 s
    assert speed["tokens_per_s"] == pytest.approx(150.0)
    assert speed["flops_per_s"] == pytest.approx(1.5e3)
    with pytest.raises(ValueError, match="no records with tokens_per_s"):
        throughput(history[:1])
