"""Tests of gptbook.instruct (chapter 10) on a tiny random GPT and a byte-level tokenizer."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gptbook import instruct
from gptbook.instruct import InstructionConfig
from gptbook.instructions import Example, example_prompt, example_text
from gptbook.model import next_token_loss
from gptbook.optim import ConfigError, lr_at
from gptbook.tuning import NoDataError, PromptTooLongError, freeze_gpt, length_batches

ADD = "Add these two numbers."


def sums(n: int = 4, m: int = 3) -> list[Example]:
    return [Example("add", ADD, f"{a} + {b}", str(a + b)) for a in range(n) for b in range(m)]


# --------------------------------------------------------------------------- the masked loss


def test_mask_prompt_ignores_exactly_the_prompt_predictions():
    inputs, targets = instruct.mask_prompt([10, 11, 12, 20, 21, 99], prompt_len=3)
    assert inputs == [10, 11, 12, 20, 21]
    assert targets == [-100, -100, 20, 21, 99]  # the token after the prompt's last one is scored
    with pytest.raises(ValueError, match="prompt_len"):
        instruct.mask_prompt([1, 2], prompt_len=2)


def _loss_and_grads(gpt, idx, targets):
    gpt.zero_grad()
    _, loss = gpt(idx, targets)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in gpt.named_parameters()}


def test_masked_prompt_positions_contribute_nothing_to_loss_or_gradients(byte_tok, tiny_gpt):
    gpt = tiny_gpt(seed=4)
    ex = Example("add", ADD, "2 + 3", "5")
    prompt, response = example_text(ex)
    p_ids, r_ids = byte_tok.encode(prompt), byte_tok.encode(response)
    ids = p_ids + r_ids
    inputs, targets = instruct.mask_prompt(ids, len(p_ids))
    idx, tgt = torch.tensor([inputs]), torch.tensor([targets])
    loss, grads = _loss_and_grads(gpt, idx, tgt)

    # the same sequence, but random tokens as targets at the prompt positions, then masked
    gen = torch.Generator().manual_seed(0)
    scrambled = torch.randint(0, 256, (len(ids),), generator=gen).tolist()
    scrambled[len(p_ids) :] = r_ids
    _, targets2 = instruct.mask_prompt(scrambled, len(p_ids))
    assert targets2 == targets
    loss2, grads2 = _loss_and_grads(gpt, idx, torch.tensor([targets2]))
    assert torch.equal(loss, loss2)
    for name in grads:
        assert torch.equal(grads[name], grads2[name]), name

    # and the loss is the mean cross-entropy over the response predictions alone
    logits, _ = gpt(idx)
    n = len(p_ids)
    resp = F.cross_entropy(logits[0, n - 1 :], torch.tensor(r_ids))
    torch.testing.assert_close(loss, resp.detach())

    # without the mask the prompt targets do count: the check above could fail
    unmasked, _ = _loss_and_grads(gpt, idx, torch.tensor([ids[1:]]))
    unmasked2, _ = _loss_and_grads(gpt, idx, torch.tensor([scrambled[1:]]))
    assert not torch.isclose(unmasked, unmasked2)


def test_collate_pads_targets_with_ignore_and_padding_changes_nothing(byte_tok, tiny_gpt):
    gpt = tiny_gpt(seed=5)
    exs = [Example("add", ADD, "2 + 3", "5"), Example("qa", "Who are you?", "", "A small model.")]
    rows = [instruct.encode_instruction(byte_tok, e, 128) for e in exs]
    idx, tgt = instruct.collate_instructions(rows, pad_id=7)
    short = min(range(2), key=lambda i: len(rows[i][0]))
    n = len(rows[short][0])
    assert (idx[short, n:] == 7).all() and (tgt[short, n:] == -100).all()
    # the batch loss is the mean over all scored tokens of both rows, each computed alone
    total, count = 0.0, 0
    for inputs, targets in rows:
        logits, _ = gpt(torch.tensor([inputs]))
        t = torch.tensor(targets)
        total += F.cross_entropy(logits[0], t, ignore_index=-100, reduction="sum").item()
        count += int((t != -100).sum())
    _, loss = gpt(idx, tgt)
    assert loss.item() == pytest.approx(total / count, rel=1e-5)
    # the per-token losses the model gives with reduction="none" add up to the same
    _, per_token = gpt(idx, tgt, reduction="none")
    assert per_token.shape == tgt.shape and (per_token[tgt == -100] == 0).all()
    assert per_token.sum().item() == pytest.approx(total, rel=1e-5)


def test_encode_instruction_skips_examples_too_long_for_the_context(byte_tok):
    ex = Example("qa", "Tell me a long story.", "", "x" * 100)
    assert instruct.encode_instruction(byte_tok, ex, 64) is None
    inputs, targets = instruct.encode_instruction(byte_tok, ex, 256)
    assert len(inputs) == len(targets) == len(byte_tok.encode(example_prompt(ex))) + 101 - 1


def test_example_losses_give_every_example_the_same_weight(byte_tok, tiny_gpt):
    gpt = tiny_gpt(seed=7)
    exs = [Example("add", ADD, "2 + 3", "5"), Example("qa", "Who are you?", "", "A small model " * 4)]
    rows = [instruct.encode_instruction(byte_tok, e, 128) for e in exs]
    idx, tgt = instruct.collate_instructions(rows)
    logits, _ = gpt(idx)
    per_row = instruct.example_losses(logits, tgt)
    for b, (inputs, targets) in enumerate(rows):  # each row's own mean over its response tokens
        _, alone = gpt(torch.tensor([inputs]), torch.tensor([targets]))
        assert per_row[b].item() == pytest.approx(alone.item(), rel=1e-5)
    # the token mean weighs each row by its number of response tokens: 2 against 57 here
    n = (tgt != -100).sum(1).float()
    token_mean = next_token_loss(logits, tgt)
    assert token_mean.item() == pytest.approx(((per_row * n).sum() / n.sum()).item(), rel=1e-5)
    assert n.tolist() == [2.0, 57.0] and per_row.mean().item() != pytest.approx(token_mean.item())
    tgt[0] = -100
    with pytest.raises(ValueError, match="no scored target"):
        instruct.example_losses(logits, tgt)


# --------------------------------------------------------------------------- training


def test_instruction_training_teaches_a_copy_of_the_model_a_fixed_answer(byte_tok, tiny_gpt):
    exs = [Example("add", ADD, f"{a} + 1", "ok") for a in range(8)]
    rows = [instruct.encode_instruction(byte_tok, e, 128) for e in exs]
    gpt = tiny_gpt(seed=6)
    before = {k: v.clone() for k, v in gpt.state_dict().items()}
    assert instruct.answer(gpt, byte_tok, exs[0], max_new_tokens=4) != "ok"
    cfg = InstructionConfig(epochs=40, batch_size=8, lr=1e-2, warmup_steps=5)
    tuned, hist = instruct.train_instructions(gpt, rows, cfg)
    assert len(hist) == 40 and hist[-1] < hist[0] / 20
    assert tuned is not gpt and not tuned.training
    assert all(torch.equal(v, gpt.state_dict()[k]) for k, v in before.items())  # unchanged
    new = Example("add", ADD, "9 + 1", "ok")
    assert instruct.answer(tuned, byte_tok, new, max_new_tokens=4) == "ok"
    assert instruct.exact_match_by_task(tuned, byte_tok, exs[:3]) == {"add": (3, 3)}
    tuned2, hist2 = instruct.train_instructions(gpt, rows, cfg)
    assert hist2 == hist  # seeded: the same run twice


def test_training_the_top_blocks_equals_the_plain_loop_and_leaves_the_bottom_alone(
    byte_tok, tiny_gpt
):
    rows = [instruct.encode_instruction(byte_tok, e, 128) for e in sums()]
    cfg = InstructionConfig(epochs=2, batch_size=4, lr=1e-3, warmup_steps=2, trainable_blocks=1)
    gpt, twin = tiny_gpt(seed=9), tiny_gpt(seed=9)
    tuned, hist = instruct.train_instructions(gpt, rows, cfg)
    t, g = tuned.transformer, gpt.transformer
    assert torch.equal(t.wte.weight, g.wte.weight)
    assert torch.equal(t.h[0].mlp.c_fc.weight, g.h[0].mlp.c_fc.weight)
    assert not torch.equal(t.h[1].mlp.c_fc.weight, g.h[1].mlp.c_fc.weight)
    assert all(p.requires_grad for p in tuned.parameters())  # unfrozen again afterwards

    # the same steps written plainly: frozen bottom, full forward pass every step
    freeze_gpt(twin, 1)
    params = [p for p in twin.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    lengths = [len(r[0]) for r in rows]
    plan = length_batches(lengths, cfg.batch_size, gen)
    plan = (plan + length_batches(lengths, cfg.batch_size, gen))[: len(hist)]
    twin.train()
    want = []
    for step, b in enumerate(plan):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, len(plan), cfg.lr, warmup=cfg.warmup_steps)
        _, loss = twin(*instruct.collate_instructions([rows[i] for i in b]))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        want.append(loss.item())
    assert hist == pytest.approx(want, rel=1e-4, abs=1e-5)


def test_on_step_sees_every_example_loss_and_curves_split_them_by_task(byte_tok, tiny_gpt):
    exs = sums(3, 3) + [Example("qa", "Who are you?", "", f"A model number {i}.") for i in range(6)]
    rows = [instruct.encode_instruction(byte_tok, e, 128) for e in exs]
    curves = instruct.TaskCurves([e.task for e in exs])
    seen = []
    cfg = InstructionConfig(epochs=2, batch_size=5, lr=1e-3, warmup_steps=1)
    _, hist = instruct.train_instructions(
        tiny_gpt(seed=2), rows, cfg, on_step=lambda b, ls: (seen.append((b, ls)), curves.add(b, ls))
    )
    assert len(seen) == len(hist) == curves.steps == 6
    for (batch, losses), step_loss in zip(seen, hist):  # per-example average: their plain mean
        assert len(batch) == len(losses) and step_loss == pytest.approx(sum(losses) / len(losses))
    assert sorted(i for b, _ in seen for i in b) == sorted(list(range(15)) * 2)
    xs, ys = curves.curve("qa", window=4)
    assert len(xs) == 3 and all(0 <= x < 6 for x in xs)  # 12 qa losses seen, in windows of 4
    qa_losses = [ls[k] for b, ls in seen for k, i in enumerate(b) if exs[i].task == "qa"]
    assert ys[0] == pytest.approx(sum(qa_losses[:4]) / 4)
    with pytest.raises(KeyError, match="No training loss of task 'spell'"):
        curves.curve("spell")
    # the token average weighs the long chat answers more: another loss, same batches
    _, hist_tok = instruct.train_instructions(
        tiny_gpt(seed=2), rows, InstructionConfig(**{**cfg.__dict__, "average": "token"})
    )
    assert hist_tok[0] != pytest.approx(hist[0]) and len(hist_tok) == 6
    with pytest.raises(ValueError, match="average must be one of"):
        InstructionConfig(average="batch")


def test_no_rows_or_a_row_too_long_is_refused(byte_tok, tiny_gpt):
    with pytest.raises(NoDataError, match="no training rows"):
        instruct.train_instructions(tiny_gpt(), [], InstructionConfig())
    rows = [instruct.encode_instruction(byte_tok, e, 128) for e in sums(1, 2)]
    with pytest.raises(ValueError, match=r"Rows \[1\] are None"):
        instruct.train_instructions(tiny_gpt(), [rows[0], None], InstructionConfig())


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("epochs", 0, "epochs must be a finite number in \\(0.0"),
        ("epochs", math.nan, "epochs must be a finite number"),
        ("batch_size", 0, "batch_size must be a positive integer"),
        ("lr", -1e-3, "lr must be a finite number"),
        ("warmup_steps", 1.5, "warmup_steps must be an integer >= 0"),
        ("trainable_blocks", -1, "trainable_blocks must be an integer >= 0"),
    ],
)
def test_bad_instruction_configs_are_refused(field, value, words):
    with pytest.raises(ConfigError, match=words):
        InstructionConfig(**{field: value})


def test_a_fraction_of_an_epoch_trains_at_least_one_step(byte_tok, tiny_gpt):
    rows = [instruct.encode_instruction(byte_tok, e, 128) for e in sums(2, 2)]
    _, hist = instruct.train_instructions(tiny_gpt(), rows, InstructionConfig(epochs=0.01))
    assert len(hist) == 1


# --------------------------------------------------------------------------- answering


def test_answer_refuses_a_prompt_too_long_for_the_context(byte_tok, tiny_gpt):
    gpt = tiny_gpt(context=64)
    with pytest.raises(PromptTooLongError, match="more than the context of 64"):
        instruct.answer(gpt, byte_tok, Example("qa", "y" * 60, "", "n"), max_new_tokens=8)


def test_answer_ids_refuses_an_empty_prompt_with_a_clear_message(byte_tok, tiny_gpt):
    with pytest.raises(ValueError, match="The prompt has no tokens; encode a prompt first"):
        instruct.answer_ids(tiny_gpt(), [], byte_tok)
    with pytest.raises(ConfigError, match="max_new_tokens must be a positive integer"):
        instruct.answer_ids(tiny_gpt(), [1, 2], byte_tok, max_new_tokens=0)


def test_answering_restores_the_models_mode(byte_tok, tiny_gpt):
    ex = Example("add", ADD, "1 + 1", "2")
    for mode in (True, False):
        gpt = tiny_gpt().train(mode)
        instruct.answer(gpt, byte_tok, ex, max_new_tokens=2)
        assert gpt.training is mode


# --------------------------------------------------------------------------- scoring


def test_accepted_answers_let_any_answer_of_a_prompt_count():
    exs = [
        Example("qa", "Hi?", "", "Hello."),
        Example("qa", "Hi?", "", "Hi."),
        Example("qa", "Bye?", "", "Bye."),
    ]
    acc = instruct.accepted_answers(exs)
    assert acc[("qa", example_prompt(exs[0]))] == {"Hello.", "Hi."}


def test_score_answers_counts_exact_chance_form_and_overlap_per_task():
    exs = [
        Example("add", ADD, "3 + 4", "7"),
        Example("add", ADD, "1 + 1", "2"),
        Example("add", ADD, "2 + 2", "4"),
        Example("qa", "Hi?", "", "Hello."),
        Example("qa", "Hi?", "", "Hi."),
    ]
    answers = ["7", "3", "four", "Hi."]
    scores = instruct.score_answers(exs[:4], answers, instruct.accepted_answers(exs))
    add, qa = scores["add"], scores["qa"]
    assert (add.right, add.total, add.well_formed) == (1, 3, 2)
    assert add.exact == pytest.approx(1 / 3) and add.formed == pytest.approx(2 / 3)
    assert add.chance_level == pytest.approx(1 / 199)  # one of the 199 sums 0..198
    assert add.f1 == pytest.approx(1 / 3)
    assert (qa.right, qa.total, qa.chance, qa.well_formed) == (1, 1, None, None)
    assert qa.formed is None and qa.chance_level is None and qa.f1 == 1.0
    assert instruct.overall_exact(scores) == pytest.approx(1 / 3)  # free text left out
    with pytest.raises(NoDataError, match="no checkable task"):
        instruct.overall_exact({"qa": qa})
    # without the accepted answers only the example's own response counts
    assert instruct.score_answers(exs[3:4], ["Hi."])["qa"].right == 0
    with pytest.raises(ValueError, match="2 answers for 1 examples"):
        instruct.score_answers(exs[:1], ["7", "8"])


def test_evaluate_answers_greedily_and_scores(byte_tok, tiny_gpt):
    gpt = tiny_gpt(seed=3)
    exs = sums(2, 2)
    answers, scores = instruct.evaluate(gpt, byte_tok, exs, max_new_tokens=3)
    assert answers == [instruct.answer(gpt, byte_tok, e, 3) for e in exs]
    assert scores == instruct.score_answers(exs, answers)
    # with a slack, an answer is cut where it could no longer match: no exact match changes
    cut, cut_scores = instruct.evaluate(gpt, byte_tok, exs, max_new_tokens=3, slack=0)
    assert all(a.startswith(c) for a, c in zip(answers, cut))
    assert {t: s.right for t, s in cut_scores.items()} == {t: s.right for t, s in scores.items()}
    ex = Example("add", ADD, "5 + 5", "10")
    assert instruct.answer_budget(byte_tok, ex, set(), 24, slack=2) == 5  # "10\n" is 3 bytes
    assert instruct.answer_budget(byte_tok, ex, {"ten!"}, 24, slack=2) == 7
    assert instruct.answer_budget(byte_tok, ex, set(), 4, slack=2) == 4
    assert instruct.answer_budget(byte_tok, ex, set(), 24, slack=None) == 24
