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
# # 10 Fine-tuning on instructions
#
# A base model continues text. Ask it "Add these two numbers: 12 + 30" and it writes whatever
# usually follows such a line in its training text, which for our model is Shakespeare. An
# *assistant* answers instead. The step between the two is **instruction tuning**: fine-tune the
# base model on many tasks, each written as a plain-English instruction and its answer, always in
# the same format (Wei et al., 2021, *FLAN*; the supervised stage of Ouyang et al., 2022,
# *InstructGPT*).
#
# Our model is small and has read nothing but Shakespeare, so we must ask it things it *can* learn
# from a few thousand examples. It cannot learn facts it never saw (in which play does Banquo
# speak?), but it can learn to **find** an answer that is in the input, to follow a procedure on
# digits, and to spell. Every task comes with its **chance level**, the score of a guesser who
# knows the form of the answer but not the answer, so we can see what was really learned.
#
# In this chapter we
#
# 1. write a **prompt template**;
# 2. build ten tasks with checkable answers, and a free-text chat task, each from packaged data
#    or generated for free, and split them into **train, validation and test** parts that share no
#    source;
# 3. **mask the prompt out of the loss** and **average the loss per example**;
# 4. batch examples of different lengths with **padding**;
# 5. measure **exact match** on held-out examples of each task before fine-tuning;
# 6. choose the recipe on the **validation** part (a longer run, stored), run it here for a
#    short while, watching **one loss curve per task**;
# 7. score the stored run's model once on the **test** part;
# 8. put the result behind a small **chat box** that can show the template and the loss mask.

# %%
import collections
import math
import time
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from gptbook import instruct as ft
from gptbook import instruct_runs
from gptbook import instructions as ins
from gptbook.checkpoint import load_model
from gptbook.device import device, seed_everything
from gptbook.model import IGNORE, next_token_loss
from gptbook.pretrained import BASE_MODEL, load_base_model
from gptbook.widgets.chat import chat_html, chat_reply, chat_widget, template_tokens
from gptbook.widgets.html import refusal

dev = device()
seed_everything(0)
gpt, tok = load_base_model(dev)
cfg = gpt.config
print(f"base model: {cfg.n_layer} blocks, width {cfg.d_model}, context {cfg.context} tokens, "
      f"{gpt.num_params():,} parameters")

# %% [markdown]
# ## The prompt template
#
# Every example is shown to the model in one fixed layout. Headings mark the parts; the model
# learns that after `### Response:` comes the answer, on one line, and then a newline. When we
# generate, we stop at that newline.

# %%
example = ins.Example("add", ins.INSTRUCTIONS["add"], "12 + 30", "42")
prompt, response = ins.example_text(example)
print(prompt + response, end="")
print("---")
print(ins.format_prompt("What is the capital of France?"), end="")

# %% [markdown]
# ## Tasks a small model can learn
#
# Ten tasks have one right answer that a program can check:
#
# * **the answer is in the input**: who speaks first, or last, in a passage of a play; the last
#   word of a line; which of two lines ends a speech (the last line of a speech usually closes a
#   sentence); whether a passage is verse or prose (verse keeps short lines that start with a
#   capital, prose runs on); whether a text message is spam or ham (Almeida et al., 2011, the SMS
#   Spam Collection, CC BY 4.0);
# * **arithmetic**: add two numbers below 100; say which of two numbers below 1,000 is larger;
# * **spelling**: the first letter of a word; a word spelled out with spaces between the letters.
#
# The eleventh task is **chat**: question -> answer pairs from the ChatterBot corpus (BSD). Its
# answers are free text, so exact match would call a sensible answer wrong; we score it apart, by
# how many words it shares with a reference answer.
#
# The passages come from Shakespeare's plays in the layout of this edition (a speaker's name in
# capitals on its own line, then the speech), so every answer is right by construction, and
# thousands of examples cost nothing.

# %%
parts = ins.build_parts(seed=0)
for task in ins.TASKS:
    e = next(x for x in parts.train if x.task == task)
    shown = e.instruction if task == ins.FREE_TEXT else e.input
    print(f"{task:>15}: {shown[:64]!r} -> {e.response[:30]!r}")

# %% [markdown]
# ### What an answer costs in tokens
#
# A model can only write an answer out of its tokens. The book's tokenizer puts **every digit in
# its own token**, so a sum is written digit by digit, always with the same ten tokens; and a
# byte-level BPE keeps **single letters** as tokens, so a word can be spelled. A speaker's name in
# capitals is often one token: this tokenizer learned them from the plays.

# %%
for text in ["42", "198", "n i g h t", "night", "IAGO", "prose", "A"]:
    pieces = [tok.decode([i]) for i in tok.encode(text)]
    print(f"{text!r:>12} -> {len(pieces)} tokens {pieces}")

# %% [markdown]
# ### Chance levels
#
# What does a guesser who knows the *form* of the answer score? It picks one of the passage's three
# speakers (1 in 3), one of the line's words, A or B, verse or prose, spam or ham, one of the two
# numbers (1 in 2), one of the 199 possible sums, one of 26 letters, a letter for every letter of a
# spelled word (next to nothing). `ins.chance` computes it for each example; a task's chance level is
# the mean over its test examples.

# %%
chance_level = {t: np.mean([ins.chance(e) for e in parts.test if e.task == t]) for t in ins.CHECKABLE}
for t, c in chance_level.items():
    print(f"{t:>15}: {c:6.1%}")

# %% [markdown]
# ## Train, validation and test, from separate sources
#
# Each part draws from its own share of every source: four plays for validation and four others
# for test, and their own text messages, number pairs, words and chat questions. So no test
# answer can be learned by heart, not even through another task (the spelling of a test word, the
# sum `30 + 12` when `12 + 30` is tested). We train on the training part, choose the recipe on the
# validation part, and look at the test part once, at the end.

# %%
counts = {name: collections.Counter(e.task for e in getattr(parts, name))
          for name in ("train", "val", "test")}
for name, c in counts.items():
    print(f"{name:>5}: {sum(c.values()):5d} examples, {min(c.values())} to {max(c.values())} per task")
accepted = ins.accepted_answers(parts.train + parts.val + parts.test)
train_words = {e.input for e in parts.train if e.task in ("spell", "first_letter")}
test_words = {e.input for e in parts.test if e.task in ("spell", "first_letter")}
print("test words seen in training:", len(test_words & train_words))

# %% [markdown]
# ## Masking the prompt out of the loss
#
# A training example is the prompt's tokens followed by the response's tokens. The model reads
# tokens 0..n-2 and predicts tokens 1..n-1, as in pretraining. But we do not want to train it to
# write prompts: we only score the predictions of **response** tokens. The other targets are set to
# -100, the value PyTorch's cross-entropy ignores. By hand, for one short example:

# %%
p_ids, r_ids = tok.encode(prompt), tok.encode(response)
ids = p_ids + r_ids
inputs, targets = ids[:-1], ids[1:]
targets_by_hand = [-100] * (len(p_ids) - 1) + targets[len(p_ids) - 1:]
inputs_pkg, targets_pkg = ft.mask_prompt(ids, len(p_ids))
assert (inputs_pkg, targets_pkg) == (inputs, targets_by_hand)
print(f"{len(p_ids)} prompt tokens, {len(r_ids)} response tokens")
for pos in range(len(p_ids) - 3, len(inputs)):
    t = targets_by_hand[pos]
    print(f"reads {tok.decode([inputs[pos]])!r:>12} -> "
          f"target {('masked' if t == -100 else repr(tok.decode([t]))):>8}")

# %% [markdown]
# Does a masked position really contribute nothing? We change the targets at every prompt
# position to random tokens, mask again, and compare the loss and **every gradient**: they must be
# bit-for-bit the same. Without the mask, the same change moves the loss.

# %%
def loss_and_grads(idx, tgt):
    gpt.zero_grad()
    _, loss = gpt(idx, tgt)
    loss.backward()
    return loss.item(), [p.grad.clone() for p in gpt.parameters()]

gen = torch.Generator().manual_seed(0)
scrambled = torch.randint(0, cfg.vocab_size, (len(ids),), generator=gen).tolist()
scrambled[len(p_ids):] = r_ids  # same response, different prompt-position targets
_, targets_scrambled = ft.mask_prompt(scrambled, len(p_ids))
idx = torch.tensor([inputs], device=dev)
loss_a, grads_a = loss_and_grads(idx, torch.tensor([targets_by_hand], device=dev))
loss_b, grads_b = loss_and_grads(idx, torch.tensor([targets_scrambled], device=dev))
same_grads = all(torch.equal(a, b) for a, b in zip(grads_a, grads_b))
unmasked_a, _ = loss_and_grads(idx, torch.tensor([ids[1:]], device=dev))
unmasked_b, _ = loss_and_grads(idx, torch.tensor([scrambled[1:]], device=dev))
gpt.zero_grad(set_to_none=True)
print("masked:   same loss", loss_a == loss_b, "| same gradients", same_grads)
print("unmasked: same loss", unmasked_a == unmasked_b)

# %% [markdown]
# The masked loss is the mean cross-entropy over the response tokens alone:

# %%
with torch.no_grad():
    logits, _ = gpt(idx)
    by_hand = F.cross_entropy(logits[0, len(p_ids) - 1:], torch.tensor(r_ids, device=dev)).item()
assert abs(loss_a - by_hand) < 1e-4
print("masked loss = cross-entropy over the response tokens alone (gap below 1e-4)")

# %% [markdown]
# ## The loss, averaged per example
#
# A batch holds answers of very different lengths: `A` is one token plus the newline, a chat
# answer can be forty. If we average over **all response tokens of the batch**, an example counts
# as much as it has tokens, and the long chat answers drown the short answers of every other task.
# So we average each example's loss over its *own* tokens first, then take the mean over the
# examples: every example has the same say. Here is the difference on a batch of two, by hand and
# with `ft.example_losses`:

# %%
pair = [next(e for e in parts.train if e.task == "ends_speech"),
        max((e for e in parts.train if e.task == ins.FREE_TEXT), key=lambda e: len(e.response))]
rows2 = [ft.encode_instruction(tok, e, cfg.context) for e in pair]
idx2, tgt2 = ft.collate_instructions(rows2)
with torch.no_grad():
    logits2, _ = gpt(idx2.to(dev))
per_token = next_token_loss(logits2, tgt2.to(dev), reduction="none").cpu()  # (2, T), 0 if masked
n_scored = (tgt2 != IGNORE).sum(1)
own_mean = per_token.sum(1) / n_scored  # each example's mean over its own response tokens
per_example = own_mean.mean().item()
per_batch_token = (per_token.sum() / n_scored.sum()).item()
assert torch.allclose(own_mean, ft.example_losses(logits2, tgt2.to(dev)).cpu(), atol=1e-5)
weights = (n_scored / n_scored.sum()).tolist()
print(f"response tokens: {n_scored.tolist()}; share of the token mean: "
      f"{weights[0]:.0%} and {weights[1]:.0%}; share of the example mean: 50% and 50%")

# %% [markdown]
# ## Batching with padding
#
# Examples differ in length. A batch is padded on the right to its longest row; the padding's
# targets are -100 too, so padding adds nothing to the loss. We also put examples of similar length
# in the same batch (`gptbook.tuning.length_batches`), so there is little padding to compute.

# %%
train_rows, train_tasks = instruct_runs.train_rows(tok, parts.train, cfg.context)
batch_idx, batch_tgt = ft.collate_instructions(train_rows[:4])
print(f"{len(train_rows)} training rows, all within the context of {cfg.context} tokens")
print("inputs", tuple(batch_idx.shape), "| scored targets per row:", (batch_tgt != -100).sum(1).tolist())
lengths = np.array([len(r[0]) for r in train_rows])
print(f"tokens per example: median {int(np.median(lengths))}, longest {lengths.max()}")

# %% [markdown]
# ## Before fine-tuning
#
# We score each held-out answer (the model's greedy answer, up to the first newline) three ways:
#
# * **exact match**: it equals the expected answer exactly;
# * **well formed**: it has the *form* of a right answer, right or wrong (a name of the passage, a
#   word of the line, `A` or `B`, a whole number, one letter...; `ins.well_formed`);
# * for chat, **word overlap** (F1 of the shared words) with the corpus's answers to that question.
#
# An answer may run at most `SLACK` tokens past the length of the right answer: a longer one cannot
# match, and a base model rarely stops on its own (chat answers get the full `MAX_NEW` tokens).
# The base model has never seen the template:

# %%
MAX_NEW, SLACK = instruct_runs.MAX_NEW, instruct_runs.SLACK
t0 = time.perf_counter()
answers_before, before = ft.evaluate(gpt, tok, parts.test, accepted, MAX_NEW, slack=SLACK)
seconds_before = time.perf_counter() - t0
for t in ("add", "spam", "first_speaker"):
    i = next(i for i, x in enumerate(parts.test) if x.task == t)
    print(f"{parts.test[i].input[:40]!r} -> base model says {answers_before[i]!r}")

# %% tags=["nbval-ignore-output"]
def pct(x):
    return "-" if x is None else f"{x:.0%}"

print(f"{'task':>15} {'exact':>7} {'chance':>7} {'formed':>7}")
for t in ins.CHECKABLE:
    s = before[t]
    print(f"{t:>15} {pct(s.exact):>7} {pct(s.chance_level):>7} {pct(s.formed):>7}")
print(f"{'all':>15} {pct(ft.overall_exact(before)):>7}   (answered in {seconds_before:.0f} s)")

# %% [markdown]
# ## Fine-tuning: the recipe, chosen on validation
#
# Every weight learns, with AdamW (warm-up, then cosine decay) and the loss averaged per example.
# Which learning rate? We do not guess, and we never peek at the test part: the longer run of
# `python -m gptbook.instruct_runs` trained the model once with each candidate recipe, scored
# each on the **validation** part, kept the best, and scored only that one on the test part. That
# run takes several minutes, longer than this chapter may, so it was done once and its results
# and model stored (`gptbook/assets/instruction_runs.json`, `gptbook/assets/instruct_model.pt`),
# with the base model's fingerprint, so they belong to the model we loaded.

# %%
runs = instruct_runs.load_runs()
assert runs["base_model_sha256"] == instruct_runs.file_sha256(BASE_MODEL), "rerun instruct_runs"
for name, c in runs["candidates"].items():
    mark = "  <- chosen" if name == runs["chosen"] else ""
    print(f"{name:>20}: {c['steps']} steps, validation exact match {c['val_overall']:.1%}{mark}")
recipe = ft.InstructionConfig(**runs["candidates"][runs["chosen"]]["config"])

# %% tags=["nbval-ignore-output"]
print(f"command: {runs['run']['command']}")
print(f"{runs['run']['wall_seconds'] / 60:.0f} minutes on {runs['run']['cpu_count']} CPU cores, "
      f"{runs['run']['torch_threads']} thread, load average {runs['run']['load_average_before'][0]:.1f} "
      "at the start")

# %% [markdown]
# ### A short run, live
#
# Here we run the chosen recipe for only `LIVE_STEPS` steps, to see it work and to watch the loss
# of each task: `TaskCurves` collects every example's loss from `on_step`, grouped by task.

# %%
LIVE_STEPS = 200
live_cfg = replace(recipe, epochs=LIVE_STEPS / math.ceil(len(train_rows) / recipe.batch_size))
print(live_cfg)
curves = ft.TaskCurves(train_tasks)
seed_everything(0)
t0 = time.perf_counter()
live, losses = ft.train_instructions(gpt, train_rows, live_cfg, progress=lambda s: tqdm(s, leave=False),
                                     on_step=curves.add)
live_seconds = time.perf_counter() - t0

# %% tags=["nbval-ignore-output"]
print(f"{len(losses)} steps in {live_seconds:.0f} s; loss {np.mean(losses[:10]):.2f} -> "
      f"{np.mean(losses[-10:]):.2f}")

# %%
def plot_curves(curves_by_task, title, ax):
    for t, (xs, ys) in curves_by_task.items():
        ax.plot(xs, ys, label=t, lw=1.5, ls="--" if t == ins.FREE_TEXT else "-")
    ax.set_xlabel("step")
    ax.set_ylabel("loss per example")
    ax.set_title(title)

fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
plot_curves({t: curves.curve(t, 20) for t in ins.TASKS}, f"live run, {LIVE_STEPS} steps", axes[0])
plot_curves(runs["curves"], f"the stored run ({runs['chosen']})", axes[1])
axes[1].legend(fontsize=7, ncol=2)
plt.show()

# %% [markdown]
# The short run scored on the **validation** part (the test part stays untouched until the end),
# next to the base model:

# %%
_, live_val = ft.evaluate(live, tok, parts.val, accepted, MAX_NEW, slack=SLACK)
_, base_val = ft.evaluate(gpt, tok, parts.val, accepted, MAX_NEW, slack=SLACK)

# %% tags=["nbval-ignore-output"]
print(f"validation exact match: base model {ft.overall_exact(base_val):.0%}, "
      f"after {LIVE_STEPS} live steps {ft.overall_exact(live_val):.0%}, "
      f"after the stored run {runs['candidates'][runs['chosen']]['val_overall']:.0%}")

# %% [markdown]
# ## After fine-tuning: the test part, once

# %%
assert runs["model_sha256"] == instruct_runs.file_sha256(instruct_runs.MODEL_FILE)
tuned, _ = load_model(instruct_runs.MODEL_FILE, dev)
answers_after, after = ft.evaluate(tuned, tok, parts.test, accepted, MAX_NEW, slack=SLACK)
stored = runs["test"]["after"]
# the stored scores may come from another CPU: a greedy answer may differ where two tokens tie
assert all(abs(after[t].right - stored[t]["right"]) <= 2 for t in ins.TASKS), (after, stored)

# %% tags=["nbval-ignore-output"]
print(f"{'task':>15} {'chance':>7} {'before':>7} {'after':>7} {'formed':>7}")
for t in ins.CHECKABLE:
    b, a = before[t], after[t]
    print(f"{t:>15} {pct(a.chance_level):>7} {pct(b.exact):>7} {pct(a.exact):>7} {pct(a.formed):>7}")
print(f"{'all':>15} {'':>7} {pct(ft.overall_exact(before)):>7} {pct(ft.overall_exact(after)):>7}")
print(f"chat word overlap: {before['qa'].f1:.2f} before, {after['qa'].f1:.2f} after")

# %% tags=["nbval-ignore-output"]
for task in ins.TASKS:
    for i in [i for i, x in enumerate(parts.test) if x.task == task][:2]:
        e = parts.test[i]
        shown = e.instruction if task == ins.FREE_TEXT else e.input
        print(f"[{task}] {shown[:60]!r}\n    expected {e.response[:40]!r:<30} model {answers_after[i]!r}")

# %% [markdown]
# What to read from the table (the stored run: 570 steps of 8 examples, chosen on validation; the
# figures below are the test part's):
#
# * Before fine-tuning the base model scores 0 % on every task: it continues the text instead of
#   answering.
# * After, four tasks are far above chance: verse or prose (98 %, chance 50 %), which line ends a
#   speech (95 %, chance 50 %), spam or ham (90 %, chance 50 %) and the first letter of a word
#   (78 %, chance 4 %). Their answers come from the *form* of the input (line lengths and capitals,
#   the closing full stop, words like "free" and "txt") or from a token's first letter, a mapping
#   each training word teaches.
# * The tasks that need the model to **copy** a span of the input or to work digit by digit are
#   not learned in this run: who speaks first (35 %, chance 33 %) or last (12 %), the last word
#   (2 %), the larger number (8 %, below the 50 % of guessing: the model writes a number of its
#   own), a sum (2 %) and spelling (0 %, though every answer has the right form and shares 42 % of
#   its letters with the right one). A 6-block model pretrained on 1.5 million tokens of
#   Shakespeare has weak copying heads, and 570 steps do not build them.
# * Overall, exact match on the test part goes from 0 % to 42 %: the target of 60 % is **not**
#   reached. What limits it is the budget (the recipe choice and the stored run had 5 minutes of
#   one CPU core) and the copying skill of the base model, not the data: the generators give as
#   many examples as we like.
# * Chat answers stay far from the corpus's answers (word overlap 0.06): the model writes
#   chat-like sentences on other topics. Free-text answers need far more than a few hundred steps.

# %% [markdown]
# ## A chat box
#
# `chat_reply` puts your instruction in the template and lets the model answer; `chat_html` can
# also show the template token by token, grey where the loss ignores the target (the prompt) and
# green where it scores it (the answer and its closing newline). It refuses an empty instruction,
# and a prompt too long for the context, with a message that says what to change. The chapter's
# demo instructions come from the tasks the model learned; two it did not learn follow them:

# %%
DEMOS = [
    ("Is this text message spam or ham?", "WINNER! Claim your free prize now, txt WIN to 80086", "spam"),
    ("Is this text message spam or ham?", "Are you coming home for dinner tonight?", "ham"),
    ("What is the first letter of this word?", "rose", "r"),
    ("Is this passage verse or prose?", "Shall I compare thee to a summer's day? / Thou art more "
     "lovely and more temperate: / Rough winds do shake the darling buds of May,", "verse"),
]
NOT_LEARNED = [("Add these two numbers.", "12 + 30"), ("Which number is larger?", "307 or 299")]
demo_answers = [chat_reply(tuned, tok, i, x).answer for i, x, _ in DEMOS]
for (i, x, want), got in zip(DEMOS, demo_answers):
    print(f"{i} {x!r} -> {got!r}" + ("" if got == want else f"   (expected {want!r})"))
for i, x in NOT_LEARNED:
    print(f"not learned: {i} {x!r} -> {chat_reply(tuned, tok, i, x).answer!r}")

# %%
r = chat_reply(tuned, tok, "What is the first letter of this word?", "rose")
marks = "".join("+" if scored else "." for _, scored in template_tokens(tok, r))
print(f"{r.prompt_tokens} prompt tokens (.) masked, the answer's tokens (+) scored:\n{marks}")
too_long = "word " * cfg.context
for instruction, given in [("", ""), ("Spell this word with spaces between the letters.", too_long)]:
    print(refusal(chat_reply, tuned, tok, instruction, given))

# %% tags=["nbval-ignore-output"]
chat_widget(tuned, tok, DEMOS[0][0], DEMOS[0][1])

# %% [markdown]
# ## Exercises
#
# Four exercises, from easy to stretch. Each answer cell starts as a stub (`...`): replace it with
# your answer, then run the check cell under it. The checker runs your answer on test inputs and says
# which input failed, what was expected, what came back, and a hint. A *Predict* exercise runs its
# small experiment (a few seconds) once you have made your prediction. A *Think* question has no
# single right wording: the checker looks for the key ideas. `show_solution("10.1")` shows a solution;
# try first.

# %%
from gptbook.exercises import check, show_solution

# %% [markdown]
# **10.1 Implement: the prompt template.** `build_prompt(instruction, input)`: the chapter's template:
# '### Instruction:', the instruction, a blank line, '### Input:' and the input (only when the input
# is not empty), a blank line, then '### Response:' and a newline.

# %%
def build_prompt(instruction, input):
    ...  # your code here

# %%
check("10.1", build_prompt)

# %% [markdown]
# **10.2 Implement: masking the prompt out of the targets.** `mask_targets(ids, prompt_len)`: ids =
# prompt tokens + response tokens. Return (inputs, targets): inputs = ids[:-1], targets = ids[1:],
# with -100 for every target that is still a prompt token.

# %%
def mask_targets(ids, prompt_len):
    ...  # your code here

# %%
check("10.2", mask_targets)

# %% [markdown]
# **10.3 Predict: padding that is not ignored.** Suppose the padding positions keep a real target (the
# pad id) instead of -100. Does the loss of the same batch change when you pad it to a longer length?
#
# - `"yes"`: yes, the loss changes with the amount of padding
# - `"no"`: no
#
# Write your prediction first; the check then runs the experiment and shows what happened.

# %%
prediction_10_3 = ...  # "yes" or "no"

# %%
check("10.3", prediction_10_3)

# %% [markdown]
# **10.4 Think: the form before the content.** After fine-tuning, a small model often answers in the
# right form (a whole number for a sum, one word for a reversal) well before its answers are right.
# Why is the form so much easier to learn than the content? Write your answer as a string.

# %%
answer_10_4 = ...  # "your answer, in a few sentences"

# %%
check("10.4", answer_10_4)


# %% [markdown]
# ## Checks

# %%
MARGIN = 0.20  # points above chance a learned task must reach on the test part (the target)
LEARNED = ("ends_speech", "verse_or_prose", "spam", "first_letter")
assert counts["val"] == counts["test"] == {t: 40 for t in ins.TASKS}
assert not test_words & train_words
assert loss_a == loss_b and same_grads and unmasked_a != unmasked_b
assert per_example != per_batch_token and weights[1] > 0.8
# before: the base model does not answer in the template
assert ft.overall_exact(before) < 0.1, before
# the live run learns: its loss falls and it beats the base model on validation
assert np.mean(losses[-10:]) < 0.7 * np.mean(losses[:10])
assert ft.overall_exact(live_val) > ft.overall_exact(base_val) + 0.05
# after: the learned tasks well above chance; the others at least answer in the right form
for t in LEARNED:
    assert after[t].exact >= after[t].chance_level + MARGIN, (t, after[t])
for t in ("add", "spell", "ends_speech", "verse_or_prose", "spam", "first_letter"):
    assert after[t].formed >= 0.9, (t, after[t])
# overall: 42 % measured, below the 60 % target (see the text); a regression check, not the target
assert ft.overall_exact(after) >= 0.35, after
assert runs["chosen"] == max(runs["candidates"], key=lambda k: runs["candidates"][k]["val_overall"])
assert demo_answers == [want for _, _, want in DEMOS], demo_answers
assert refusal(chat_reply, tuned, tok, "  ").startswith("The instruction is empty")
assert "tokens long" in refusal(chat_reply, tuned, tok, "Say it.", too_long)
