"""Tests of gptbook.tuning: padding, batches of similar length, freezing, the shared loop."""

from __future__ import annotations

import pytest
import torch

from gptbook import tuning
from gptbook.instruct import InstructionConfig


def test_pad_batch_pads_on_the_right():
    idx, lengths = tuning.pad_batch([[5, 6, 7], [8]], pad_id=9)
    assert idx.tolist() == [[5, 6, 7], [8, 9, 9]]
    assert lengths.tolist() == [3, 1]
    with pytest.raises(ValueError, match="at least one token"):
        tuning.pad_batch([[1], []])
    with pytest.raises(ValueError, match="at least one sequence"):
        tuning.pad_batch([])


def test_last_real_picks_each_rows_last_real_position():
    x = torch.arange(2 * 4 * 3).view(2, 4, 3)
    assert tuning.last_real(x, torch.tensor([2, 4])).tolist() == [
        x[0, 1].tolist(),
        x[1, 3].tolist(),
    ]


def test_length_batches_cover_every_index_once():
    gen = torch.Generator().manual_seed(0)
    lengths = [5, 1, 9, 3, 7, 2, 8, 4, 6, 10]
    bs = tuning.length_batches(lengths, 3, gen, pool=2)
    assert sorted(i for b in bs for i in b) == list(range(10))
    assert all(len(b) <= 3 for b in bs)


def test_plan_steps_counts_epochs_and_refuses_no_data():
    lengths = list(range(1, 11))  # 10 rows: 4 batches of 3 per epoch
    assert len(tuning.plan_steps(lengths, 3, 2, seed=0)) == 8
    assert len(tuning.plan_steps(lengths, 3, 1.5, seed=0)) == 6
    assert len(tuning.plan_steps(lengths, 3, 2, seed=0, max_steps=5)) == 5
    assert tuning.plan_steps(lengths, 3, 2, seed=1) == tuning.plan_steps(lengths, 3, 2, seed=1)
    with pytest.raises(tuning.NoDataError, match="nothing to train on"):
        tuning.plan_steps([], 3, 1, seed=0)


def test_freeze_gpt_and_frozen_blocks(tiny_gpt):
    gpt = tiny_gpt(n_layer=3)
    tuning.freeze_gpt(gpt, 1)
    assert tuning.frozen_blocks(gpt) == 2
    assert (
        not gpt.transformer.wte.weight.requires_grad and gpt.transformer.ln_f.weight.requires_grad
    )
    assert tuning.freeze_gpt(gpt, None) == gpt.num_params()
    assert tuning.frozen_blocks(gpt) == 0
    with pytest.raises(ValueError, match="0..3"):
        tuning.freeze_gpt(gpt, 4)
    with pytest.raises(ValueError, match="0..3"):
        tuning.freeze_gpt(gpt, True)


def test_residual_streams_are_what_the_blocks_above_start_from(tiny_gpt):
    gpt = tiny_gpt(seed=1, n_layer=3).train()
    seqs = [[1, 2, 3, 4, 5], [6, 7], [8, 9, 10]]
    xs = tuning.residual_streams(gpt, seqs, block=2, batch_size=2)
    assert gpt.training  # the mode is restored
    assert [tuple(x.shape) for x in xs] == [(5, 32), (2, 32), (3, 32)]
    gpt.eval()
    for s, x in zip(seqs, xs):
        idx = torch.tensor([s])
        want = gpt.run_blocks(gpt.embed(idx), last=2)[0]
        torch.testing.assert_close(x, want, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(
            gpt.finish(x[None], 2), gpt.hidden_states(idx), atol=1e-5, rtol=1e-5
        )
    padded, lengths = tuning.pad_streams(xs)
    assert padded.shape == (3, 5, 32) and lengths.tolist() == [5, 2, 3]
    assert (padded[1, 2:] == 0).all()


def test_fit_steps_once_per_batch_and_returns_the_losses():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.tensor([3.0]))
    plan = [[0]] * 20
    cfg = InstructionConfig(lr=0.1, weight_decay=0.0, warmup_steps=2, grad_clip=1.0)
    seen = []
    losses = tuning.fit(
        [w], plan, lambda b: (w**2).sum(), cfg, progress=lambda p: seen.append(p) or p
    )
    assert len(losses) == 20 and losses[-1] < losses[0] and seen == [plan]
