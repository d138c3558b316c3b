"""Tests of gptbook.scale: 6ND compute, GPT-3's published figure, the table."""

import pytest

from gptbook.model import GPT, GPTConfig, count_params
from gptbook.scale import (
    GPUS,
    TrainingRun,
    format_table,
    gpt2_xl,
    gpu_days,
    petaflop_s_days,
    published_runs,
    scale_table,
    training_flops,
)


def test_six_n_d():
    assert training_flops(1_000, 2_000) == 12_000_000.0


@pytest.mark.parametrize("n, d", [(0, 10), (10, 0), (-1, 10)])
def test_training_flops_refuses_non_positive(n, d):
    with pytest.raises(ValueError, match="must be positive"):
        training_flops(n, d)


def test_gpt3_compute_matches_the_paper():
    gpt3 = {r.name: r for r in published_runs()}["GPT-3 175B"]
    # Brown et al. (2020), table D.1: 3.14e23 FLOPs, 3.64e3 petaflop/s-days for 175B on 300B tokens.
    assert gpt3.tokens == 300e9
    assert abs(gpt3.flops / 3.14e23 - 1) < 0.01
    assert abs(petaflop_s_days(gpt3.flops) / 3.64e3 - 1) < 0.01


def test_parameters_come_from_the_counter():
    runs = {r.name: r for r in published_runs()}
    assert runs["GPT-2 small"].params == 124_439_808
    assert runs["GPT-2 small"].params == count_params(GPTConfig.gpt2_small())["total"]
    assert 1.5e9 < runs["GPT-2 XL"].params < 1.6e9
    assert 174e9 < runs["GPT-3 175B"].params < 176e9


def test_gpt2_xl_counter_agrees_with_a_built_model_shape():
    # Build a narrow model with GPT-2 XL's depth and head count to check the config is valid and counted.
    cfg = gpt2_xl()
    small = GPTConfig(
        vocab_size=100, context=16, n_layer=cfg.n_layer, n_head=cfg.n_head, d_model=cfg.n_head * 2
    )
    assert GPT(small).num_params() == count_params(small)["total"]


def test_scale_table_rows_and_time():
    run = TrainingRun(
        "tiny", GPTConfig(vocab_size=10, context=4, n_layer=1, n_head=1, d_model=4), 1e6, "test"
    )
    (row,) = scale_table([run], flops_per_second=run.flops / 120)
    assert row["parameters"] == run.params
    assert row["tokens/parameter"] == pytest.approx(1e6 / run.params)
    assert row["FLOPs (6ND)"] == pytest.approx(6 * run.params * 1e6)
    assert row["time on this machine"] == "2 minutes"
    (row,) = scale_table([run])
    assert "time on this machine" not in row


def test_scale_table_refuses_a_bad_speed():
    with pytest.raises(ValueError, match="positive measured speed"):
        scale_table(published_runs(), flops_per_second=0)


def test_format_table_aligns_and_refuses_empty():
    text = format_table(scale_table(published_runs()))
    lines = text.splitlines()
    assert len(lines) == 4 and len({len(line) for line in lines}) == 1
    assert "174,604,259,328" in text
    with pytest.raises(ValueError, match="no rows"):
        format_table([])


def test_chinchilla_column_is_twenty_tokens_per_parameter():
    gpt3 = published_runs()[-1]
    row = scale_table([gpt3])[0]
    assert row["Chinchilla 20N"] == 20 * gpt3.params
    # GPT-3 saw fewer than 2 tokens per parameter, far below Chinchilla's 20
    assert row["tokens/parameter"] < 2 < 20


def test_gpu_days_of_gpt3_on_a100s():
    a100 = next(g for g in GPUS if "A100" in g.name)
    gpt3 = published_runs()[-1]
    days = gpu_days(gpt3.flops, a100, n_gpus=1024, mfu=0.4)
    assert abs(days - gpt3.flops / (312e12 * 0.4 * 1024) / 86_400) < 1e-9
    assert 20 < days < 40  # about a month on a thousand A100s
    assert gpu_days(gpt3.flops, a100, n_gpus=2048, mfu=0.4) == days / 2


@pytest.mark.parametrize("kwargs", [{"n_gpus": 0}, {"mfu": 0.0}, {"mfu": 1.5}])
def test_gpu_days_refuses_bad_input(kwargs):
    with pytest.raises(ValueError, match="need flops"):
        gpu_days(1e20, GPUS[0], **kwargs)
