"""Tests of gptbook.finetune on a tiny randomly initialised GPT and a byte-level tokenizer."""

from __future__ import annotations

import pytest
import torch

from gptbook import finetune as ft
from gptbook.data import Message, read_spam_file, sms_spam
from gptbook.instructions import Example, example_prompt, example_text
from gptbook.model import GPT, GPTConfig
from gptbook.tokenizers import BPETokenizer


@pytest.fixture(scope="module")
def tok() -> BPETokenizer:
    return BPETokenizer()  # no merges: one token per byte, encodes any text


def tiny_gpt(seed: int = 0, context: int = 128, n_layer: int = 2) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=256, context=context, n_layer=n_layer, n_head=2, d_model=32)).eval()


# --------------------------------------------------------------------------- split


def test_stratified_split_is_fixed_disjoint_and_keeps_the_spam_share():
    msgs = sms_spam()
    a, b = ft.stratified_split(msgs), ft.stratified_split(msgs)
    assert a == b
    unique = set(msgs)
    assert len(unique) == 4534 and sum(m.label == "spam" for m in unique) == 561
    # every distinct message exactly once, on one side only: repeats cannot leak into the test
    everything = a.train + a.val + a.test
    assert len(everything) == len(set(everything)) == len(unique) and set(everything) == unique
    assert not set(a.test) & set(a.train) and not set(a.val) & set(a.train) and not set(a.val) & set(a.test)
    share = 561 / 4534
    for part, n in ((a.test, 907), (a.val, 453)):
        assert abs(len(part) - n) <= 2
        assert abs(sum(m.label == "spam" for m in part) / len(part) - share) < 0.005
    assert ft.stratified_split(msgs, seed=1) != a
    with pytest.raises(ValueError, match="add up to less than 1"):
        ft.stratified_split(msgs, val_fraction=0.5, test_fraction=0.5)


def test_stratified_split_keeps_a_repeated_message_once_at_its_first_place():
    m = [Message("ham", f"hello {i}") for i in range(20)] + [Message("spam", f"WIN {i}") for i in range(10)]
    s = ft.stratified_split(m + m[::-1] + m[:5])
    assert s == ft.stratified_split(m)


# --------------------------------------------------------------------------- bad input


def test_empty_message_is_refused_clearly(tok):
    for text in ("", "   \n\t"):
        with pytest.raises(ft.EmptyMessageError, match="message is empty"):
            ft.encode_message(tok, text, 64)
    clf = ft.GPTClassifier(tiny_gpt())
    with pytest.raises(ft.EmptyMessageError, match="type the text"):
        ft.classify(clf, tok, "")


def test_too_long_message_is_refused_or_cut_to_its_first_tokens(tok):
    text = "WINNER! " * 20  # 160 bytes = 160 tokens
    with pytest.raises(ft.MessageTooLongError, match="160 tokens long but the model reads at most 64"):
        ft.encode_message(tok, text, 64, truncate=False)
    assert ft.encode_message(tok, text, 64, truncate=True) == tok.encode(text)[:64]
    clf = ft.GPTClassifier(tiny_gpt())
    with pytest.raises(ft.MessageTooLongError, match="truncate=True"):
        ft.classify(clf, tok, text)
    label, p = ft.classify(clf, tok, text, truncate=True)
    assert label in ft.LABELS and 0 <= p <= 1


def test_a_label_that_is_neither_spam_nor_ham_in_a_data_file(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("ham\tsee you at 5\nmaybe\tWIN a prize now\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.tsv:2: label must be 'spam' or 'ham', got 'maybe'"):
        read_spam_file(path)
    with pytest.raises(ValueError, match="neither 'spam' nor 'ham'"):
        ft.encode_messages(BPETokenizer(), [Message("maybe", "hello")], 64)


def test_encode_messages_counts_cut_messages(tok):
    enc = ft.encode_messages(tok, [Message("ham", "hi"), Message("spam", "x" * 100)], 10)
    assert enc.ids == [tok.encode("hi"), tok.encode("x" * 10)]
    assert enc.labels == [0, 1] and enc.truncated == 1


# --------------------------------------------------------------------------- padding and the head


def test_pad_batch_pads_on_the_right():
    idx, lengths = ft.pad_batch([[5, 6, 7], [8]], pad_id=9)
    assert idx.tolist() == [[5, 6, 7], [8, 9, 9]]
    assert lengths.tolist() == [3, 1]
    with pytest.raises(ValueError, match="at least one token"):
        ft.pad_batch([[1], []])


def test_hidden_states_are_what_the_gpt_feeds_its_lm_head():
    gpt = tiny_gpt()
    idx = torch.randint(0, 256, (3, 20))
    logits, _ = gpt(idx)
    torch.testing.assert_close(gpt.lm_head(ft.hidden_states(gpt, idx)), logits)
    with pytest.raises(ValueError, match="context = 128"):
        ft.hidden_states(gpt, torch.zeros(1, 129, dtype=torch.long))


def test_the_head_reads_the_last_real_token():
    gpt = tiny_gpt()
    clf = ft.GPTClassifier(gpt)
    idx, lengths = ft.pad_batch([[1, 2, 3, 4], [5, 6]])
    h = ft.hidden_states(gpt, idx)
    want = clf.head(torch.stack([h[0, 3], h[1, 1]]))
    torch.testing.assert_close(clf(idx, lengths), want)


@pytest.mark.parametrize("pad_id", [0, 255, 17])
def test_padding_does_not_change_the_prediction(tok, pad_id):
    clf = ft.GPTClassifier(tiny_gpt(seed=3))
    texts = ["Free entry!", "ok see u later", "Call 0800 now to claim your prize of 500 pounds"]
    ids = [tok.encode(t) for t in texts]
    alone = torch.cat([clf(torch.tensor([s]), torch.tensor([len(s)])) for s in ids])
    idx, lengths = ft.pad_batch(ids, pad_id)
    assert idx.size(1) == len(ids[2]) and (idx[0, len(ids[0]) :] == pad_id).all()
    torch.testing.assert_close(clf(idx, lengths), alone, atol=1e-5, rtol=1e-5)
    # padding much further than needed changes nothing either
    longer = torch.cat([idx, torch.full((3, 128 - idx.size(1)), pad_id)], dim=1)  # up to the context
    torch.testing.assert_close(clf(longer, lengths), alone, atol=1e-5, rtol=1e-5)
    # but reading the last position (a padding token) instead of the last real one would differ
    wrong = clf.head(ft.hidden_states(clf.gpt, longer)[:, -1])
    assert not torch.allclose(wrong[:2], alone[:2], atol=1e-3)


def test_freeze_chooses_what_learns():
    clf = ft.GPTClassifier(tiny_gpt(n_layer=3))
    total = sum(p.numel() for p in clf.parameters())
    assert ft.freeze(clf, None) == total
    probe = ft.freeze(clf, 0)
    assert probe == sum(p.numel() for p in clf.head.parameters()) + sum(
        p.numel() for p in clf.gpt.transformer.ln_f.parameters()
    )
    one = ft.freeze(clf, 1)
    assert one == probe + sum(p.numel() for p in clf.gpt.transformer.h[2].parameters())
    assert not any(p.requires_grad for p in clf.gpt.transformer.h[1].parameters())
    assert not clf.gpt.transformer.wte.weight.requires_grad
    with pytest.raises(ValueError, match="0..3"):
        ft.freeze(clf, 4)


def test_training_updates_only_the_trainable_parts_and_learns_an_easy_rule(tok):
    # spam = messages in capitals: a rule a tiny model learns in a few steps
    gen = torch.Generator().manual_seed(0)
    words = ["win", "cash", "now", "call", "free", "home", "later", "dinner", "ok", "love"]
    msgs = []
    for i in range(96):
        text = " ".join(words[j] for j in torch.randint(0, 10, (4,), generator=gen).tolist())
        msgs.append(Message("spam", text.upper()) if i % 2 else Message("ham", text))
    data = ft.encode_messages(tok, msgs, 32)
    clf = ft.GPTClassifier(tiny_gpt(seed=1))
    ft.freeze(clf, 1)
    frozen_before = clf.gpt.transformer.h[0].attn.c_attn.weight.clone()
    head_before = clf.head.weight.clone()
    hist = ft.train_classifier(clf, data, ft.ClassifierConfig(epochs=6, batch_size=16, lr=3e-3, warmup_steps=2))
    assert len(hist) == 6 * 6
    assert torch.equal(clf.gpt.transformer.h[0].attn.c_attn.weight, frozen_before)
    assert not torch.equal(clf.head.weight, head_before)
    rep = ft.evaluate_classifier(clf, data)
    assert rep.accuracy >= 0.95
    assert sum(map(sum, rep.confusion)) == 96


def test_training_refuses_when_everything_is_frozen(tok):
    clf = ft.GPTClassifier(tiny_gpt())
    for p in clf.parameters():
        p.requires_grad = False
    with pytest.raises(ValueError, match="Nothing to train"):
        ft.train_classifier(clf, ft.encode_messages(tok, [Message("ham", "hi")], 8), ft.ClassifierConfig())


def test_report_and_confusion_matrix():
    rep = ft.report([0, 0, 0, 1, 1, 1, 1], [0, 1, 0, 1, 1, 0, 1])
    assert rep.confusion == [[2, 1], [1, 3]]
    assert rep.accuracy == pytest.approx(5 / 7)
    assert rep.spam_recall == pytest.approx(3 / 4)
    assert rep.spam_precision == pytest.approx(3 / 4)
    with pytest.raises(ValueError, match="pair up"):
        ft.confusion_matrix([0, 1], [0])


# --------------------------------------------------------------------------- zero-shot scoring


def test_label_logprobs_match_a_hand_computation(tok):
    gpt = tiny_gpt(seed=2)
    prompts = ["Message: hi\nAnswer:", "Message: WIN\nAnswer:"]
    got = ft.label_logprobs(gpt, tok, prompts, labels=(" ham", " spam"))
    for i, p in enumerate(prompts):
        for j, lab in enumerate((" ham", " spam")):
            ids = tok.encode(p) + tok.encode(lab)
            logp = torch.log_softmax(gpt(torch.tensor([ids]))[0][0], -1)
            n = len(tok.encode(p))
            want = sum(logp[n - 1 + k, t] for k, t in enumerate(tok.encode(lab)))
            assert got[i, j].item() == pytest.approx(want.item(), abs=1e-4)


def test_label_logprobs_crop_long_prompts_from_the_start(tok):
    gpt = tiny_gpt(seed=2, context=32)
    long = "x" * 100 + "Answer:"
    short = ("x" * 100 + "Answer:")[-(32 - len(" spam")) :]
    a = ft.label_logprobs(gpt, tok, [long], labels=(" spam",))
    b = ft.label_logprobs(gpt, tok, [short], labels=(" spam",))
    torch.testing.assert_close(a, b)


def test_few_shot_prompt_lists_the_worked_examples_first():
    p = ft.few_shot_prompt([Message("spam", "WIN"), Message("ham", "hi")], "hello")
    assert p == (
        "Message: WIN\nIs this message spam or ham? Answer: spam\n\n"
        "Message: hi\nIs this message spam or ham? Answer: ham\n\n"
        "Message: hello\nIs this message spam or ham? Answer:"
    )


# --------------------------------------------------------------------------- instructions: the masked loss


def test_mask_prompt_ignores_exactly_the_prompt_predictions():
    inputs, targets = ft.mask_prompt([10, 11, 12, 20, 21, 99], prompt_len=3)
    assert inputs == [10, 11, 12, 20, 21]
    assert targets == [-100, -100, 20, 21, 99]  # the token after the prompt's last token is scored
    with pytest.raises(ValueError, match="prompt_len"):
        ft.mask_prompt([1, 2], prompt_len=2)


def _loss_and_grads(gpt, idx, targets):
    gpt.zero_grad()
    _, loss = gpt(idx, targets)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in gpt.named_parameters()}


def test_masked_prompt_positions_contribute_nothing_to_loss_or_gradients(tok):
    gpt = tiny_gpt(seed=4)
    ex = Example("add", "Add these two numbers.", "2 + 3", "5")
    prompt, response = example_text(ex)
    p_ids, r_ids = tok.encode(prompt), tok.encode(response)
    ids = p_ids + r_ids
    inputs, targets = ft.mask_prompt(ids, len(p_ids))
    idx, tgt = torch.tensor([inputs]), torch.tensor([targets])
    loss, grads = _loss_and_grads(gpt, idx, tgt)

    # same sequence, but different (random) tokens as targets at the prompt positions, then masked
    gen = torch.Generator().manual_seed(0)
    scrambled = torch.randint(0, 256, (len(ids),), generator=gen).tolist()
    scrambled[len(p_ids) :] = r_ids
    _, targets2 = ft.mask_prompt(scrambled, len(p_ids))
    assert targets2 == targets
    loss2, grads2 = _loss_and_grads(gpt, idx, torch.tensor([targets2]))
    assert torch.equal(loss, loss2)
    for name in grads:
        assert torch.equal(grads[name], grads2[name]), name

    # and the loss is the mean cross-entropy over the response predictions alone
    logits, _ = gpt(idx)
    n = len(p_ids)
    resp = torch.nn.functional.cross_entropy(logits[0, n - 1 :], torch.tensor(r_ids))
    torch.testing.assert_close(loss, resp.detach())

    # without the mask the prompt targets do count: the check above could fail
    unmasked, _ = _loss_and_grads(gpt, idx, torch.tensor([ids[1:]]))
    unmasked2, _ = _loss_and_grads(gpt, idx, torch.tensor([scrambled[1:]]))
    assert not torch.isclose(unmasked, unmasked2)


def test_collate_pads_targets_with_ignore_and_padding_changes_nothing(tok):
    gpt = tiny_gpt(seed=5)
    exs = [Example("add", "Add these two numbers.", "2 + 3", "5"), Example("qa", "Who are you?", "", "A small model.")]
    rows = [ft.encode_instruction(tok, e, 128) for e in exs]
    idx, tgt = ft.collate_instructions(rows, pad_id=7)
    short = min(range(2), key=lambda i: len(rows[i][0]))
    n = len(rows[short][0])
    assert (idx[short, n:] == 7).all() and (tgt[short, n:] == -100).all()
    # the batch loss is the mean over all scored tokens of both rows, each computed alone
    total, count = 0.0, 0
    for inputs, targets in rows:
        logits, _ = gpt(torch.tensor([inputs]))
        t = torch.tensor(targets)
        total += torch.nn.functional.cross_entropy(logits[0], t, ignore_index=-100, reduction="sum").item()
        count += int((t != -100).sum())
    _, loss = gpt(idx, tgt)
    assert loss.item() == pytest.approx(total / count, rel=1e-5)


def test_encode_instruction_skips_examples_too_long_for_the_context(tok):
    ex = Example("qa", "Tell me a long story.", "", "x" * 100)
    assert ft.encode_instruction(tok, ex, 64) is None
    inputs, targets = ft.encode_instruction(tok, ex, 256)
    assert len(inputs) == len(targets) == len(tok.encode(example_prompt(ex))) + 101 - 1


def test_instruction_training_teaches_a_tiny_model_a_fixed_answer(tok):
    exs = [Example("add", "Add these two numbers.", f"{a} + 1", "ok") for a in range(8)]
    rows = [ft.encode_instruction(tok, e, 128) for e in exs]
    gpt = tiny_gpt(seed=6)
    assert ft.answer(gpt, tok, exs[0], max_new_tokens=4) != "ok"
    hist = ft.train_instructions(gpt, rows, ft.InstructionConfig(epochs=40, batch_size=8, lr=1e-2, warmup_steps=5))
    assert len(hist) == 40 and hist[-1] < hist[0] / 20
    assert ft.answer(gpt, tok, Example("add", "Add these two numbers.", "9 + 1", "ok"), max_new_tokens=4) == "ok"
    scores = ft.exact_match_by_task(gpt, tok, exs[:3])
    assert scores == {"add": (3, 3)}


def test_answer_refuses_a_prompt_too_long_for_the_context(tok):
    gpt = tiny_gpt(context=64)
    with pytest.raises(ft.PromptTooLongError, match="more than the context of 64"):
        ft.answer(gpt, tok, Example("qa", "y" * 60, "", "n"), max_new_tokens=8)


def test_accepted_answers_let_any_answer_of_a_prompt_count():
    exs = [Example("qa", "Hi?", "", "Hello."), Example("qa", "Hi?", "", "Hi."), Example("qa", "Bye?", "", "Bye.")]
    acc = ft.accepted_answers(exs)
    assert acc[("qa", example_prompt(exs[0]))] == {"Hello.", "Hi."}


# --------------------------------------------------------------------------- frozen features and prefix caches


def test_precomputed_features_give_the_same_logits_and_training(tok):
    msgs = [Message("spam" if i % 3 == 0 else "ham", f"message number {i} " * (1 + i % 4)) for i in range(24)]
    data = ft.encode_messages(tok, msgs, 100)
    clf = ft.GPTClassifier(tiny_gpt(seed=7, n_layer=3))
    assert ft.freeze(clf, None) and clf.frozen_blocks() == 0
    ft.freeze(clf, 1)
    assert clf.frozen_blocks() == 2
    feats = ft.precompute(clf, data)
    assert feats.start_block == 2 and [x.size(0) for x in feats.x] == [len(i) for i in data.ids]
    torch.testing.assert_close(ft.classifier_logits(clf, feats), ft.classifier_logits(clf, data), atol=1e-5, rtol=1e-5)
    # training from the features equals training from the tokens, step by step
    twin = ft.GPTClassifier(tiny_gpt(seed=7, n_layer=3))
    twin.load_state_dict(clf.state_dict())
    ft.freeze(twin, 1)
    cfg = ft.ClassifierConfig(epochs=2, batch_size=8, lr=1e-3, warmup_steps=1)
    h1 = ft.train_classifier(clf, feats, cfg)
    h2 = ft.train_classifier(twin, data, cfg)
    assert h1 == pytest.approx(h2, rel=1e-4, abs=1e-5)
    # features made before unfreezing more blocks are refused
    ft.freeze(clf, 2)
    with pytest.raises(ValueError, match="call precompute"):
        ft.train_classifier(clf, feats, cfg)


def test_max_steps_and_length_batches(tok):
    gen = torch.Generator().manual_seed(0)
    lengths = [5, 1, 9, 3, 7, 2, 8, 4, 6, 10]
    bs = ft.length_batches(lengths, 3, gen, pool=2)
    assert sorted(i for b in bs for i in b) == list(range(10))
    assert all(len(b) <= 3 for b in bs)
    data = ft.encode_messages(tok, [Message("ham", "hi there")] * 20, 16)
    clf = ft.GPTClassifier(tiny_gpt())
    ft.freeze(clf, 0)
    assert len(ft.train_classifier(clf, data, ft.ClassifierConfig(epochs=3, batch_size=4, max_steps=7))) == 7


def test_few_shot_prefix_cache_gives_the_same_scores_as_the_whole_prompt(tok):
    gpt = tiny_gpt(seed=8, context=128)
    shots = [Message("spam", "WIN cash"), Message("ham", "see you")]
    texts = ["free prize", "ok", "call me later please"]
    cached = ft.label_logprobs(gpt, tok, [ft.ZERO_SHOT_TEMPLATE.format(text=t) for t in texts], prefix=ft.few_shot_prefix(shots))
    whole = ft.label_logprobs(gpt, tok, [ft.few_shot_prompt(shots, t) for t in texts])
    torch.testing.assert_close(cached, whole, atol=1e-4, rtol=1e-4)
    with pytest.raises(ft.PromptTooLongError, match="fewer or shorter worked examples"):
        ft.label_logprobs(gpt, tok, texts, prefix="x" * 127)


def test_instruction_training_of_the_top_blocks_equals_the_plain_loop_and_leaves_the_bottom_alone(tok):
    exs = [Example("add", "Add these two numbers.", f"{a} + {b}", str(a + b)) for a in range(4) for b in range(3)]
    rows = [ft.encode_instruction(tok, e, 128) for e in exs]
    cfg = ft.InstructionConfig(epochs=2, batch_size=4, lr=1e-3, warmup_steps=2, trainable_blocks=1)
    gpt, twin = tiny_gpt(seed=9), tiny_gpt(seed=9)
    wte, block0 = gpt.transformer.wte.weight.clone(), gpt.transformer.h[0].mlp.c_fc.weight.clone()
    top = gpt.transformer.h[1].mlp.c_fc.weight.clone()
    hist = ft.train_instructions(gpt, rows, cfg)
    assert torch.equal(gpt.transformer.wte.weight, wte) and torch.equal(gpt.transformer.h[0].mlp.c_fc.weight, block0)
    assert not torch.equal(gpt.transformer.h[1].mlp.c_fc.weight, top)
    assert all(p.requires_grad for p in gpt.parameters())  # unfrozen again afterwards

    # the same steps written plainly: frozen bottom, full forward pass every step
    ft.freeze_gpt(twin, 1)
    params = [p for p in twin.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    plan = ft.length_batches([len(r[0]) for r in rows], cfg.batch_size, gen)
    plan = (plan + ft.length_batches([len(r[0]) for r in rows], cfg.batch_size, gen))[: len(hist)]
    twin.train()
    want = []
    for step, b in enumerate(plan):
        for g in opt.param_groups:
            g["lr"] = ft._lr_at(step, len(plan), cfg.lr, cfg.warmup_steps)
        _, loss = twin(*ft.collate_instructions([rows[i] for i in b]))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        want.append(loss.item())
    assert hist == pytest.approx(want, rel=1e-4, abs=1e-5)


def test_freeze_gpt_refuses_a_bad_count():
    with pytest.raises(ValueError, match="0..2"):
        ft.freeze_gpt(tiny_gpt(), 3)


def test_fine_tune_classifier_works_on_a_copy(tok):
    gpt = tiny_gpt(seed=10)
    before = {k: v.clone() for k, v in gpt.state_dict().items()}
    data = ft.encode_messages(tok, [Message("spam", "WIN NOW"), Message("ham", "hi")] * 8, 16)
    recipe = ft.ClassifierConfig(epochs=1, batch_size=4, lr=1e-3, warmup_steps=1)
    clf, losses, seconds = ft.fine_tune_classifier(gpt, data, 1, recipe)
    assert len(losses) == 4 and seconds > 0
    assert all(torch.equal(v, gpt.state_dict()[k]) for k, v in before.items())
    assert not torch.equal(clf.gpt.transformer.h[1].mlp.c_fc.weight, gpt.transformer.h[1].mlp.c_fc.weight)
    assert torch.equal(clf.gpt.transformer.h[0].mlp.c_fc.weight, gpt.transformer.h[0].mlp.c_fc.weight)
    again, losses2, _ = ft.fine_tune_classifier(gpt, data, 1, recipe)
    assert losses2 == losses  # seeded: the same run twice


def test_score_answers_counts_exact_and_well_formed_answers_per_task():
    exs = [
        Example("add", "Add these two numbers.", "3 + 4", "7"),
        Example("add", "Add these two numbers.", "1 + 1", "2"),
        Example("add", "Add these two numbers.", "2 + 2", "4"),
        Example("qa", "Hi?", "", "Hello."),
        Example("qa", "Hi?", "", "Hi."),
    ]
    scores = ft.score_answers(exs[:4], ["7", "3", "four", "Hi."], ft.accepted_answers(exs))
    assert scores == {"add": ft.TaskScore(1, 2, 3), "qa": ft.TaskScore(1, None, 1)}
    assert scores["add"].exact == pytest.approx(1 / 3) and scores["add"].formed == pytest.approx(2 / 3)
    assert scores["qa"].formed is None
    # without the accepted answers only the example's own response counts
    assert ft.score_answers(exs[3:4], ["Hi."])["qa"].right == 0
    with pytest.raises(ValueError, match="2 answers for 1 examples"):
        ft.score_answers(exs[:1], ["7", "8"])


def test_class_weights_may_be_integers_and_weigh_the_loss(tok):
    data = ft.encode_messages(tok, [Message("ham", "hi there"), Message("spam", "WIN NOW")] * 4, 16)
    losses = {}
    for weights in [None, (1, 3), (1.0, 3.0)]:
        clf = ft.GPTClassifier(tiny_gpt())
        ft.freeze(clf, 0)
        losses[weights] = ft.train_classifier(clf, data, ft.ClassifierConfig(epochs=1, batch_size=8, class_weights=weights))
    assert losses[(1, 3)] == losses[(1.0, 3.0)] != losses[None]
