"""Tests of gptbook.classify (chapter 09) on a tiny random GPT and a byte-level tokenizer."""

from __future__ import annotations

import math

import pytest
import torch

from gptbook import classify
from gptbook.classify import ClassifierConfig, GPTClassifier
from gptbook.data import Message, read_spam_file, sms_spam
from gptbook.optim import ConfigError
from gptbook.tuning import NoDataError, PromptTooLongError, pad_batch


def spam_and_ham(n: int) -> list[Message]:
    return [Message("spam", "WIN NOW"), Message("ham", "hi there")] * n


# --------------------------------------------------------------------------- split


def test_stratified_split_is_fixed_disjoint_and_keeps_the_spam_share():
    msgs = sms_spam()
    a, b = classify.stratified_split(msgs), classify.stratified_split(msgs)
    assert a == b
    unique = set(msgs)
    assert len(unique) == 4534 and sum(m.label == "spam" for m in unique) == 561
    # every distinct message exactly once, on one side only: repeats cannot leak into the test
    everything = a.train + a.val + a.test
    assert len(everything) == len(set(everything)) == len(unique) and set(everything) == unique
    assert not set(a.test) & set(a.train)
    assert not set(a.val) & set(a.train) and not set(a.val) & set(a.test)
    share = 561 / 4534
    for part, n in ((a.test, 907), (a.val, 453)):
        assert abs(len(part) - n) <= 2
        assert abs(sum(m.label == "spam" for m in part) / len(part) - share) < 0.005
    assert classify.stratified_split(msgs, seed=1) != a
    with pytest.raises(ValueError, match="add up to less than 1"):
        classify.stratified_split(msgs, val_fraction=0.5, test_fraction=0.5)


def test_stratified_split_keeps_a_repeated_message_once_at_its_first_place():
    m = [Message("ham", f"hello {i}") for i in range(20)]
    m += [Message("spam", f"WIN {i}") for i in range(10)]
    s = classify.stratified_split(m + m[::-1] + m[:5])
    assert s == classify.stratified_split(m)


# --------------------------------------------------------------------------- bad input


def test_empty_message_is_refused_clearly(byte_tok, tiny_gpt):
    for text in ("", "   \n\t"):
        with pytest.raises(classify.EmptyMessageError, match="message is empty"):
            classify.encode_message(byte_tok, text, 64)
        with pytest.raises(classify.EmptyMessageError, match="message is empty"):
            classify.encode_messages(byte_tok, [Message("ham", text)], 64)
    clf = GPTClassifier(tiny_gpt())
    with pytest.raises(classify.EmptyMessageError, match="type the text"):
        classify.classify(clf, byte_tok, "")


def test_too_long_message_is_refused_or_cut_to_its_first_tokens(byte_tok, tiny_gpt):
    text = "WINNER! " * 20  # 160 bytes = 160 tokens
    with pytest.raises(classify.MessageTooLongError, match="160 tokens long but the model reads"):
        classify.encode_message(byte_tok, text, 64, truncate=False)
    assert classify.encode_message(byte_tok, text, 64, truncate=True) == byte_tok.encode(text)[:64]
    clf = GPTClassifier(tiny_gpt())
    with pytest.raises(classify.MessageTooLongError, match="truncate=True"):
        classify.classify(clf, byte_tok, text)
    label, p = classify.classify(clf, byte_tok, text, truncate=True)
    assert label in classify.LABELS and 0 <= p <= 1


def test_a_label_that_is_neither_spam_nor_ham_in_a_data_file(tmp_path, byte_tok):
    path = tmp_path / "bad.tsv"
    path.write_text("ham\tsee you at 5\nmaybe\tWIN a prize now\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.tsv:2: label must be 'spam' or 'ham', got 'maybe'"):
        read_spam_file(path)
    with pytest.raises(ValueError, match="neither 'spam' nor 'ham'"):
        classify.encode_messages(byte_tok, [Message("maybe", "hello")], 64)


def test_encode_messages_counts_cut_messages_and_encodes_each_once(byte_tok, monkeypatch):
    calls = []
    encode = byte_tok.encode
    monkeypatch.setattr(byte_tok, "encode", lambda text: calls.append(text) or encode(text))
    enc = classify.encode_messages(byte_tok, [Message("ham", "hi"), Message("spam", "x" * 100)], 10)
    assert enc.ids == [encode("hi"), encode("x" * 10)]
    assert enc.labels == [0, 1] and enc.truncated == 1
    assert calls == ["hi", "x" * 100]  # each message encoded once


def test_an_empty_data_set_is_refused_before_training(byte_tok, tiny_gpt, tmp_path):
    # an empty spam file gives no messages: nothing to train on, no all-NaN report
    path = tmp_path / "empty.tsv"
    path.write_text("", encoding="utf-8")
    data = classify.encode_messages(byte_tok, read_spam_file(path), 16)
    assert len(data) == 0
    with pytest.raises(NoDataError, match="no training messages"):
        classify.fine_tune_classifier(tiny_gpt(), data, 1, ClassifierConfig(epochs=1))
    clf = GPTClassifier(tiny_gpt())
    with pytest.raises(NoDataError, match="no training messages"):
        classify.train_classifier(clf, data, ClassifierConfig(epochs=1))
    with pytest.raises(NoDataError, match="no messages to evaluate"):
        classify.evaluate_classifier(clf, data)


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("epochs", 0, "epochs must be a positive integer"),
        ("epochs", 1.5, "epochs must be a positive integer"),
        ("batch_size", 0, "batch_size must be a positive integer"),
        ("lr", 0.0, "lr must be a finite number"),
        ("lr", math.nan, "lr must be a finite number"),
        ("weight_decay", -0.1, "weight_decay"),
        ("warmup_steps", -1, "warmup_steps must be an integer >= 0"),
        ("grad_clip", math.inf, "grad_clip"),
        ("max_steps", 0, "max_steps must be a positive integer"),
    ],
)
def test_bad_classifier_configs_are_refused(field, value, words):
    with pytest.raises(ConfigError, match=words):
        ClassifierConfig(**{field: value})


# --------------------------------------------------------------------------- the head


def test_the_head_reads_the_last_real_token(tiny_gpt):
    gpt = tiny_gpt()
    clf = GPTClassifier(gpt)
    idx, lengths = pad_batch([[1, 2, 3, 4], [5, 6]])
    h = gpt.hidden_states(idx)
    want = clf.head(torch.stack([h[0, 3], h[1, 1]]))
    torch.testing.assert_close(clf(idx, lengths), want)


@pytest.mark.parametrize("pad_id", [0, 255, 17])
def test_padding_does_not_change_the_prediction(byte_tok, tiny_gpt, pad_id):
    clf = GPTClassifier(tiny_gpt(seed=3))
    texts = ["Free entry!", "ok see u later", "Call 0800 now to claim your prize of 500 pounds"]
    ids = [byte_tok.encode(t) for t in texts]
    alone = torch.cat([clf(torch.tensor([s]), torch.tensor([len(s)])) for s in ids])
    idx, lengths = pad_batch(ids, pad_id)
    assert idx.size(1) == len(ids[2]) and (idx[0, len(ids[0]) :] == pad_id).all()
    torch.testing.assert_close(clf(idx, lengths), alone, atol=1e-5, rtol=1e-5)
    # padding much further than needed changes nothing either: up to the context
    longer = torch.cat([idx, torch.full((3, 128 - idx.size(1)), pad_id)], dim=1)
    torch.testing.assert_close(clf(longer, lengths), alone, atol=1e-5, rtol=1e-5)
    # but reading the last position (a padding token) instead of the last real one would differ
    wrong = clf.head(clf.gpt.hidden_states(longer)[:, -1])
    assert not torch.allclose(wrong[:2], alone[:2], atol=1e-3)


def test_freeze_chooses_what_learns(tiny_gpt):
    clf = GPTClassifier(tiny_gpt(n_layer=3))
    total = sum(p.numel() for p in clf.parameters())
    assert classify.freeze(clf, None) == total
    probe = classify.freeze(clf, 0)
    assert probe == sum(p.numel() for p in clf.head.parameters()) + sum(
        p.numel() for p in clf.gpt.transformer.ln_f.parameters()
    )
    one = classify.freeze(clf, 1)
    assert one == probe + sum(p.numel() for p in clf.gpt.transformer.h[2].parameters())
    assert not any(p.requires_grad for p in clf.gpt.transformer.h[1].parameters())
    assert not clf.gpt.transformer.wte.weight.requires_grad
    with pytest.raises(ValueError, match="0..3"):
        classify.freeze(clf, 4)


# --------------------------------------------------------------------------- training


def test_training_updates_only_the_trainable_parts_and_learns_an_easy_rule(byte_tok, tiny_gpt):
    # spam = messages in capitals: a rule a tiny model learns in a few steps
    gen = torch.Generator().manual_seed(0)
    words = ["win", "cash", "now", "call", "free", "home", "later", "dinner", "ok", "love"]
    msgs = []
    for i in range(96):
        text = " ".join(words[j] for j in torch.randint(0, 10, (4,), generator=gen).tolist())
        msgs.append(Message("spam", text.upper()) if i % 2 else Message("ham", text))
    data = classify.encode_messages(byte_tok, msgs, 32)
    clf = GPTClassifier(tiny_gpt(seed=1))
    classify.freeze(clf, 1)
    frozen_before = clf.gpt.transformer.h[0].attn.c_attn.weight.clone()
    head_before = clf.head.weight.clone()
    cfg = ClassifierConfig(epochs=6, batch_size=16, lr=3e-3, warmup_steps=2)
    hist = classify.train_classifier(clf, data, cfg)
    assert len(hist) == 6 * 6
    assert torch.equal(clf.gpt.transformer.h[0].attn.c_attn.weight, frozen_before)
    assert not torch.equal(clf.head.weight, head_before)
    rep = classify.evaluate_classifier(clf, data)
    assert rep.accuracy >= 0.95
    assert sum(map(sum, rep.confusion)) == 96


def test_training_refuses_when_everything_is_frozen(byte_tok, tiny_gpt):
    clf = GPTClassifier(tiny_gpt())
    for p in clf.parameters():
        p.requires_grad = False
    data = classify.encode_messages(byte_tok, [Message("ham", "hi")], 8)
    with pytest.raises(ValueError, match="Nothing to train"):
        classify.train_classifier(clf, data, ClassifierConfig())


def test_precomputed_features_give_the_same_logits_and_training(byte_tok, tiny_gpt):
    msgs = [
        Message("spam" if i % 3 == 0 else "ham", f"message number {i} " * (1 + i % 4))
        for i in range(24)
    ]
    data = classify.encode_messages(byte_tok, msgs, 100)
    clf = GPTClassifier(tiny_gpt(seed=7, n_layer=3))
    assert classify.freeze(clf, None) and clf.frozen_blocks() == 0
    classify.freeze(clf, 1)
    assert clf.frozen_blocks() == 2
    feats = classify.precompute(clf, data)
    assert feats.start_block == 2 and [x.size(0) for x in feats.x] == [len(i) for i in data.ids]
    torch.testing.assert_close(
        classify.classifier_logits(clf, feats),
        classify.classifier_logits(clf, data),
        atol=1e-5,
        rtol=1e-5,
    )
    # training from the features equals training from the tokens, step by step
    twin = GPTClassifier(tiny_gpt(seed=7, n_layer=3))
    twin.load_state_dict(clf.state_dict())
    classify.freeze(twin, 1)
    cfg = ClassifierConfig(epochs=2, batch_size=8, lr=1e-3, warmup_steps=1)
    h1 = classify.train_classifier(clf, feats, cfg)
    h2 = classify.train_classifier(twin, data, cfg)
    assert h1 == pytest.approx(h2, rel=1e-4, abs=1e-5)
    # features made before unfreezing more blocks are refused
    classify.freeze(clf, 2)
    with pytest.raises(ValueError, match="call precompute"):
        classify.train_classifier(clf, feats, cfg)


def test_max_steps_stops_early(byte_tok, tiny_gpt):
    data = classify.encode_messages(byte_tok, [Message("ham", "hi there")] * 20, 16)
    clf = GPTClassifier(tiny_gpt())
    classify.freeze(clf, 0)
    cfg = ClassifierConfig(epochs=3, batch_size=4, max_steps=7)
    assert len(classify.train_classifier(clf, data, cfg)) == 7


def test_fine_tune_classifier_works_on_a_copy(byte_tok, tiny_gpt):
    gpt = tiny_gpt(seed=10)
    before = {k: v.clone() for k, v in gpt.state_dict().items()}
    data = classify.encode_messages(byte_tok, spam_and_ham(8), 16)
    recipe = ClassifierConfig(epochs=1, batch_size=4, lr=1e-3, warmup_steps=1)
    clf, losses, seconds = classify.fine_tune_classifier(gpt, data, 1, recipe)
    assert len(losses) == 4 and seconds > 0
    assert all(torch.equal(v, gpt.state_dict()[k]) for k, v in before.items())
    top, bottom = clf.gpt.transformer.h[1], clf.gpt.transformer.h[0]
    assert not torch.equal(top.mlp.c_fc.weight, gpt.transformer.h[1].mlp.c_fc.weight)
    assert torch.equal(bottom.mlp.c_fc.weight, gpt.transformer.h[0].mlp.c_fc.weight)
    again, losses2, _ = classify.fine_tune_classifier(gpt, data, 1, recipe)
    assert losses2 == losses  # seeded: the same run twice


def test_class_weights_may_be_integers_and_weigh_the_loss(byte_tok, tiny_gpt):
    data = classify.encode_messages(byte_tok, spam_and_ham(4), 16)
    losses = {}
    for weights in [None, (1, 3), (1.0, 3.0)]:
        clf = GPTClassifier(tiny_gpt())
        classify.freeze(clf, 0)
        cfg = ClassifierConfig(epochs=1, batch_size=8, class_weights=weights)
        losses[weights] = classify.train_classifier(clf, data, cfg)
    assert losses[(1, 3)] == losses[(1.0, 3.0)] != losses[None]


# --------------------------------------------------------------------------- evaluation


def test_report_and_confusion_matrix():
    rep = classify.report([0, 0, 0, 1, 1, 1, 1], [0, 1, 0, 1, 1, 0, 1])
    assert rep.confusion == [[2, 1], [1, 3]]
    assert rep.accuracy == pytest.approx(5 / 7)
    assert rep.spam_recall == pytest.approx(3 / 4)
    assert rep.spam_precision == pytest.approx(3 / 4)
    with pytest.raises(ValueError, match="pair up"):
        classify.confusion_matrix([0, 1], [0])


def test_predicting_restores_the_models_mode(byte_tok, tiny_gpt):
    data = classify.encode_messages(byte_tok, spam_and_ham(2), 16)
    for mode in (True, False):
        clf = GPTClassifier(tiny_gpt()).train(mode)
        classify.classify(clf, byte_tok, "hello")
        classify.classifier_logits(clf, data)
        classify.evaluate_classifier(clf, data)
        classify.precompute(clf, data)
        assert clf.training is mode and clf.gpt.training is mode
        classify.label_logprobs(clf.gpt.train(mode), byte_tok, ["hi"])
        assert clf.gpt.training is mode


# --------------------------------------------------------------------------- zero-shot scoring


def test_label_logprobs_match_a_hand_computation(byte_tok, tiny_gpt):
    gpt = tiny_gpt(seed=2)
    prompts = ["Message: hi\nAnswer:", "Message: WIN\nAnswer:"]
    got = classify.label_logprobs(gpt, byte_tok, prompts, labels=(" ham", " spam"))
    for i, p in enumerate(prompts):
        for j, lab in enumerate((" ham", " spam")):
            ids = byte_tok.encode(p) + byte_tok.encode(lab)
            logp = torch.log_softmax(gpt(torch.tensor([ids]))[0][0], -1)
            n = len(byte_tok.encode(p))
            want = sum(logp[n - 1 + k, t] for k, t in enumerate(byte_tok.encode(lab)))
            assert got[i, j].item() == pytest.approx(want.item(), abs=1e-4)


def test_label_logprobs_crop_long_prompts_from_the_start(byte_tok, tiny_gpt):
    gpt = tiny_gpt(seed=2, context=32)
    long = "x" * 100 + "Answer:"
    short = ("x" * 100 + "Answer:")[-(32 - len(" spam")) :]
    a = classify.label_logprobs(gpt, byte_tok, [long], labels=(" spam",))
    b = classify.label_logprobs(gpt, byte_tok, [short], labels=(" spam",))
    torch.testing.assert_close(a, b)


def test_label_logprobs_refuse_an_empty_prompt_or_label(byte_tok, tiny_gpt):
    # an empty prompt has no last token to predict the label from (index -1 would wrap around)
    gpt = tiny_gpt()
    with pytest.raises(classify.EmptyMessageError, match="prompt '' .* has no tokens"):
        classify.label_logprobs(gpt, byte_tok, ["hi", ""])
    with pytest.raises(classify.EmptyMessageError, match="label '' .* has no tokens"):
        classify.label_logprobs(gpt, byte_tok, ["hi"], labels=(" ham", ""))


def test_few_shot_prompt_lists_the_worked_examples_first():
    p = classify.few_shot_prompt([Message("spam", "WIN"), Message("ham", "hi")], "hello")
    assert p == (
        "Message: WIN\nIs this message spam or ham? Answer: spam\n\n"
        "Message: hi\nIs this message spam or ham? Answer: ham\n\n"
        "Message: hello\nIs this message spam or ham? Answer:"
    )


def test_few_shot_prefix_cache_gives_the_same_scores_as_the_whole_prompt(byte_tok, tiny_gpt):
    gpt = tiny_gpt(seed=8, context=128)
    shots = [Message("spam", "WIN cash"), Message("ham", "see you")]
    texts = ["free prize", "ok", "call me later please"]
    prompts = [classify.ZERO_SHOT_TEMPLATE.format(text=t) for t in texts]
    cached = classify.label_logprobs(gpt, byte_tok, prompts, prefix=classify.few_shot_prefix(shots))
    whole = classify.label_logprobs(
        gpt, byte_tok, [classify.few_shot_prompt(shots, t) for t in texts]
    )
    torch.testing.assert_close(cached, whole, atol=1e-4, rtol=1e-3)  # float32 rounding
    with pytest.raises(PromptTooLongError, match="fewer or shorter worked examples"):
        classify.label_logprobs(gpt, byte_tok, texts, prefix="x" * 127)


# --------------------------------------------------------------------------- measuring fairly


def test_report_f1_and_a_classifier_that_flags_nothing():
    rep = classify.report([0, 0, 1, 1, 1], [0, 1, 1, 1, 0])
    assert rep.f1 == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    nothing = classify.report([0, 0, 1], [0, 0, 0])
    assert nothing.spam_precision == 0.0 and nothing.f1 == 0.0 and nothing.spam_recall == 0.0


def test_roc_auc_matches_counting_pairs_and_handles_ties():
    gen = torch.Generator().manual_seed(0)
    y = (torch.rand(60, generator=gen) < 0.3).long().tolist()
    s = torch.randint(0, 8, (60,), generator=gen).double()  # many ties
    pos = [v for v, t in zip(s.tolist(), y) if t == 1]
    neg = [v for v, t in zip(s.tolist(), y) if t == 0]
    pairs = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))
    assert classify.roc_auc(y, s) == pytest.approx(pairs)
    assert classify.roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert classify.roc_auc([0, 0, 1, 1], [0.4, 0.3, 0.2, 0.1]) == 0.0
    assert classify.roc_auc([0, 1, 0, 1], [5.0] * 4) == 0.5
    with pytest.raises(ValueError, match="at least one spam and one ham"):
        classify.roc_auc([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="pair up"):
        classify.roc_auc([0, 1], [0.1])
    with pytest.raises(ValueError, match="finite"):
        classify.roc_auc([0, 1], [0.1, math.nan])


def test_choose_threshold_finds_the_best_f1_and_prefers_flagging_less():
    y = [0, 0, 0, 1, 0, 1, 1]
    s = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    t = classify.choose_threshold(y, s)
    best = max(classify.report_at(y, s, c).f1 for c in [-1, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 1])
    assert classify.report_at(y, s, t).f1 == pytest.approx(best)
    assert t == pytest.approx(0.35)  # flags 0.4 .. 0.7: F1 6/7
    # perfectly separated scores: the cut lies between the two groups
    assert classify.choose_threshold([0, 0, 1, 1], [1.0, 2.0, 5.0, 6.0]) == pytest.approx(3.5)
    # a constant score can only flag everything (F1 > 0) or nothing (F1 0): it flags everything
    t = classify.choose_threshold([0, 1, 0], [2.0, 2.0, 2.0])
    assert classify.report_at([0, 1, 0], [2.0] * 3, t).confusion == [[0, 2], [0, 1]]
    with pytest.raises(NoDataError):
        classify.choose_threshold([], [])


def test_measure_chooses_the_threshold_on_validation_only():
    val_y, val_s = [0, 0, 1, 1], [0.0, 1.0, 2.0, 3.0]
    test_y = [0, 1, 0, 1]
    m = classify.measure(val_y, val_s, test_y, [1.4, 1.6, 1.7, 0.0])
    assert m.threshold == pytest.approx(1.5) and m.val_f1 == 1.0
    assert m.confusion == [[1, 1], [1, 1]] and m.f1 == pytest.approx(0.5)
    assert m.auc == pytest.approx(0.25)
    # the test scores never move the threshold
    assert classify.measure(val_y, val_s, test_y, [9.0, 9.0, 9.0, 9.0]).threshold == m.threshold


# --------------------------------------------------------------------------- the linear probe


def _two_blobs(n: int, d: int, seed: int) -> tuple[torch.Tensor, list[int]]:
    gen = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, generator=gen) < 0.25).long()
    x = torch.randn(n, d, generator=gen) * 3 + 5
    x[:, 0] += 2.0 * y  # only the first feature carries the label, and noisily
    return x, y.tolist()


def test_the_probe_converges_to_the_same_optimum_from_any_start():
    x, y = _two_blobs(300, 6, seed=0)
    a = classify.train_probe(x, y, l2=1e-2, seed=0)
    b = classify.train_probe(x, y, l2=1e-2, seed=1)
    assert a.grad_norm < 1e-6 and b.grad_norm < 1e-6 and a.iterations > 0
    torch.testing.assert_close(a.weight, b.weight, atol=1e-5, rtol=0)
    # at the optimum the gradient of the penalised loss is zero: no step lowers it
    assert abs(a.weight[0]) > 5 * a.weight[1:].abs().max()
    assert classify.roc_auc(y, a.scores(x)) > 0.75
    # a stronger penalty gives smaller weights
    assert classify.train_probe(x, y, l2=1.0).weight.norm() < a.weight.norm()


def test_fit_probe_keeps_the_strength_with_the_lowest_validation_loss():
    x, y = _two_blobs(400, 6, seed=1)
    probe, losses = classify.fit_probe(x[:300], y[:300], x[300:], y[300:], l2s=(1e-3, 10.0))
    assert set(losses) == {1e-3, 10.0} and probe.l2 == min(losses, key=losses.get)
    with pytest.raises(ValueError, match="both spam and ham"):
        classify.train_probe(x[:5], [0] * 5)
    with pytest.raises(ValueError, match=r"\(N, d\)"):
        classify.train_probe(x[:5], [0, 1, 0, 1])


def test_message_features_read_the_last_token_or_the_mean(byte_tok, tiny_gpt):
    gpt = tiny_gpt(seed=4)
    data = classify.encode_messages(byte_tok, [Message("ham", "hi there"), Message("spam", "WIN")], 32)
    feats = classify.message_features(gpt, data)
    last, mean = feats["last"], feats["mean"]
    for i, ids in enumerate(data.ids):
        h = gpt.hidden_states(torch.tensor([ids]))[0]
        torch.testing.assert_close(last[i], h[-1], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(mean[i], h.mean(0), atol=1e-5, rtol=1e-5)
    with pytest.raises(NoDataError):
        classify.message_features(gpt, classify.EncodedMessages([], []))


# --------------------------------------------------------------------------- freezing, checked


def test_one_and_two_trainable_blocks_train_different_weights(byte_tok, tiny_gpt):
    # chapter 09 once showed identical confusion matrices for these two: they must differ inside
    gpt = tiny_gpt(seed=5, n_layer=3)
    msgs = [Message("spam" if i % 3 == 0 else "ham", f"msg {i} " * (1 + i % 3)) for i in range(24)]
    data = classify.encode_messages(byte_tok, msgs, 64)
    cfg = ClassifierConfig(epochs=2, batch_size=8, lr=1e-3, warmup_steps=1)
    runs = {k: classify.fine_tune_classifier(gpt, data, k, cfg)[0] for k in (1, 2)}
    changed = {
        k: [not torch.equal(a.mlp.c_fc.weight, b.mlp.c_fc.weight)
            for a, b in zip(c.gpt.transformer.h, gpt.transformer.h)]
        for k, c in runs.items()
    }  # fmt: skip
    assert changed == {1: [False, False, True], 2: [False, True, True]}
    assert not torch.allclose(classify.spam_scores(runs[1], data), classify.spam_scores(runs[2], data))


# --------------------------------------------------------------------------- prompting, scored


def test_choose_shots_draws_short_neutral_examples_of_each_label(byte_tok):
    msgs = [
        Message("spam", "WIN a prize now"),
        Message("spam", "Free entry, txt WIN"),
        Message("spam", "Hot sexy chat now"),  # adult: never shown in a prompt
        Message("spam", "WIN " * 20),  # too long
        Message("ham", "see you at 5"),
        Message("ham", "ok"),  # too short
        Message("ham", "call me later"),
    ]
    seen = set()
    for seed in range(20):
        shots = classify.choose_shots(msgs, byte_tok, per_class=1, seed=seed)
        assert sorted(m.label for m in shots) == ["ham", "spam"]
        assert shots == classify.choose_shots(msgs, byte_tok, per_class=1, seed=seed)
        seen.update(shots)
    assert seen == {msgs[0], msgs[1], msgs[4], msgs[6]}  # seeds change the examples
    two = classify.choose_shots(msgs, byte_tok, per_class=2, seed=0)
    assert sorted(m.label for m in two) == ["ham", "ham", "spam", "spam"]
    with pytest.raises(NoDataError, match="Only 2 ham messages"):
        classify.choose_shots(msgs, byte_tok, per_class=3)


def test_prompt_scores_are_the_label_logprob_difference(byte_tok, tiny_gpt):
    gpt = tiny_gpt(seed=6, context=256)
    msgs = [Message("ham", "see you soon"), Message("spam", "WIN a prize")]
    scores = classify.prompt_scores(gpt, byte_tok, msgs, max_message_tokens=40)
    prompts = [classify.ZERO_SHOT_TEMPLATE.format(text=m.text) for m in msgs]
    lp = classify.label_logprobs(gpt, byte_tok, prompts)
    torch.testing.assert_close(scores, lp[:, 1] - lp[:, 0])
    shots = [Message("spam", "WIN cash"), Message("ham", "ok")]
    few = classify.prompt_scores(gpt, byte_tok, msgs, shots, max_message_tokens=40)
    lp = classify.label_logprobs(gpt, byte_tok, prompts, prefix=classify.few_shot_prefix(shots))
    torch.testing.assert_close(few, lp[:, 1] - lp[:, 0])
    with pytest.raises(PromptTooLongError, match="leave no room"):
        classify.prompt_scores(gpt, byte_tok, msgs, [Message("ham", "x" * 100)] * 2)
