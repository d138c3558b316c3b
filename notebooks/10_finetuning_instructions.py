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
# A base model continues text. Ask it "Add these two numbers: 3 + 4" and it writes whatever
# usually follows such a line in its training text, which for our model is Shakespeare. An
# *assistant* answers instead. The step between the two is **instruction tuning**: fine-tune the
# base model on many tasks, each written as a plain-English instruction and its answer, always in
# the same format (Wei et al., 2021, *FLAN*; the supervised stage of Ouyang et al., 2022,
# *InstructGPT*).
#
# In this chapter we
#
# 1. write a **prompt template**;
# 2. build an **instruction set** of several thousand examples from packaged data (question -> answer
#    pairs from the ChatterBot corpus, text messages to label as spam or ham, facts about
#    Shakespeare's plays) and from generated tasks whose answers a program can check (reverse a word,
#    add two numbers, write a phrase in capitals);
# 3. **mask the prompt out of the loss**, so the model is only trained to write answers;
# 4. batch examples of different lengths with **padding**;
# 5. measure **exact-match accuracy** on held-out examples of each task, before and after
#    fine-tuning;
# 6. put the result behind a small **chat box**.

# %%
import collections
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from gptbook import instruct as ft
from gptbook import instructions as ins
from gptbook.device import device, seed_everything
from gptbook.pretrained import load_base_model
from gptbook.widgets.chat import chat_reply, chat_widget
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
example = ins.Example("add", "Add these two numbers.", "3 + 4", "7")
prompt, response = ins.example_text(example)
print(prompt + response, end="")
print("---")
print(ins.format_prompt("What is the capital of France?"), end="")

# %% [markdown]
# ## The instruction set
#
# Seven tasks. The answers of the generated tasks are computed by a program, so they are right by
# construction; the speaker and play facts are read off the plays' layout (a speaker's name in
# capitals, then the speech).

# %%
print(ins.DEFAULT_SIZES)
examples = ins.build_instruction_set(seed=0)
counts = collections.Counter(e.task for e in examples)
print(f"{len(examples)} examples")
for task, n in sorted(counts.items()):
    e = next(x for x in examples if x.task == task)
    print(f"{task:>9} {n:5d}   {e.instruction} | {e.input[:50]!r} -> {e.response[:40]!r}")

# %% [markdown]
# We hold out 40 examples of each task for testing. A question asked with several answers in the
# corpus stays on one side of the split, so no test prompt is ever trained on.

# %%
train_ex, test_ex = ins.split_instruction_set(examples, test_per_task=40, seed=0)
accepted = ft.accepted_answers(examples)
print(f"train {len(train_ex)}, test {len(test_ex)}")
assert not {ins.example_prompt(e) for e in test_ex} & {ins.example_prompt(e) for e in train_ex}

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
print(f"masked loss {loss_a:.4f}, response-only cross-entropy by hand {by_hand:.4f}")

# %% [markdown]
# ## Batching with padding
#
# Examples differ in length. A batch is padded on the right to its longest row; the padding's
# targets are -100 too, so padding adds nothing to the loss. We also put examples of similar length
# in the same batch (`gptbook.tuning.length_batches`), so there is little padding to compute.

# %%
rows_all = [ft.encode_instruction(tok, e, cfg.context) for e in train_ex]
train_rows = [r for r in rows_all if r is not None]
print(f"{len(train_rows)} of {len(train_ex)} training examples fit the context of {cfg.context} tokens")
batch_idx, batch_tgt = ft.collate_instructions(train_rows[:4])
print("inputs", tuple(batch_idx.shape), "| scored targets per row:", (batch_tgt != -100).sum(1).tolist())
lengths = np.array([len(r[0]) for r in train_rows])
print(f"tokens per example: median {int(np.median(lengths))}, longest {lengths.max()}")

# %% [markdown]
# ## Before fine-tuning
#
# We score each held-out answer two ways:
#
# * **exact match**: the model's greedy answer, up to the first newline, equals the expected answer
#   exactly (for a question with several answers in the corpus, any of them counts);
# * **well formed**: the answer has the *form* of a right answer, right or wrong: `spam` or `ham`,
#   a whole number for a sum, a name that speaks in the plays, a play's title, one lower-case word of
#   the right length for a reversal, capital letters for the upper-case task
#   (`ins.well_formed`). Free-text chat answers have no form to check.
#
# The second score separates two things fine-tuning can teach: *how* to answer, and *what*.
# Test examples that do not fit the context with room for the answer are left out.

# %%
MAX_NEW = 24
test_ok = [e for e in test_ex if len(tok.encode(ins.example_prompt(e))) + MAX_NEW <= cfg.context]
print(f"{len(test_ok)} of {len(test_ex)} test examples fit")
answers_before = [ft.answer(gpt, tok, e, MAX_NEW) for e in test_ok]
before = ft.score_answers(test_ok, answers_before, accepted)
for t in ("add", "spam", "reverse"):
    i = next(i for i, x in enumerate(test_ok) if x.task == t)
    print(f"{test_ok[i].input[:40]!r} -> base model says {answers_before[i]!r}")

# %% [markdown]
# ## Fine-tuning
#
# The package's recipe (`ft.INSTRUCTION_RECIPE`): every weight learns, for three passes over the
# training examples, with AdamW (warm-up, then cosine decay). Its time on this CPU is measured by
# `benchmarks/bench_finetune.py` (the target is at most 4 minutes).

# %%
print(ft.INSTRUCTION_RECIPE)
seed_everything(0)
t0 = time.perf_counter()
gpt, losses = ft.train_instructions(gpt, train_rows, ft.INSTRUCTION_RECIPE,
                                   progress=lambda s: tqdm(s, leave=False))
seconds = time.perf_counter() - t0

# %% tags=["nbval-ignore-output"]
print(f"fine-tuning took {seconds:.0f} s ({len(losses)} steps); "
      f"loss {np.mean(losses[:20]):.2f} -> {np.mean(losses[-20:]):.2f}")

# %%
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(losses, alpha=0.4, label="step")
ax.plot(np.convolve(losses, np.ones(20) / 20, mode="valid"), label="mean of 20 steps")
ax.set_xlabel("step")
ax.set_ylabel("loss on response tokens")
ax.legend()
plt.show()

# %% [markdown]
# ## After fine-tuning

# %%
answers_after = [ft.answer(gpt, tok, e, MAX_NEW) for e in test_ok]
after = ft.score_answers(test_ok, answers_after, accepted)


def share(scores, field):
    """The share over every task that has the field (well-formed leaves out free-text answers)."""
    kept = [s for s in scores.values() if getattr(s, field) is not None]
    return sum(getattr(s, field) for s in kept) / sum(s.total for s in kept)


tot_b, tot_a = share(before, "right"), share(after, "right")
form_b, form_a = share(before, "well_formed"), share(after, "well_formed")

# %% tags=["nbval-ignore-output"]
def pct(x):
    return "-" if x is None else f"{x:.0%}"


print(f"{'task':>10} {'exact match':>20} {'well formed':>20} {'examples':>9}")
print(f"{'':>10} {'before':>10}{'after':>10} {'before':>10}{'after':>10}")
for task in sorted(after):
    b, a = before[task], after[task]
    print(f"{task:>10} {pct(b.exact):>10}{pct(a.exact):>10} "
          f"{pct(b.formed):>10}{pct(a.formed):>10} {a.total:>9}")
print(f"{'all':>10} {pct(tot_b):>10}{pct(tot_a):>10} {pct(form_b):>10}{pct(form_a):>10} {len(test_ok):>9}")

# %% tags=["nbval-ignore-output"]
for task in sorted(after):
    for i in [i for i, x in enumerate(test_ok) if x.task == task][:2]:
        e = test_ok[i]
        print(f"[{task}] {e.instruction} {e.input[:50]!r}\n"
              f"    expected {e.response!r:<28} model {answers_after[i]!r}")

# %% [markdown]
# What to read from the table (your numbers may differ a little; the Checks hold on any run):
#
# * Before fine-tuning the base model scores nothing: it continues the text (usually with
#   Shakespeare) instead of answering, and almost none of its answers even has the right form.
# * After fine-tuning most answers have the right form: nearly every label, number, speaker's name
#   and play title, fewer of the letter tasks. That is most of what a 2.6-million-parameter model
#   learns here: *how* to answer.
# * *What* to answer it learns only where the input itself carries the answer: it labels text
#   messages well (spam uses words like "free", "claim", "txt"). It writes sums of the right size
#   but rarely the right one, and names characters of other plays: arithmetic and facts need far
#   more examples, or a far bigger model, than we have here.
# * Reversing a word or writing it in capitals is hard for a model that sees *tokens*, not letters
#   (chapter 01): it must know how each token is spelled, and nothing in its training taught that.
# * Held-out chat questions are new questions with free-form answers: exact match is almost
#   never reached, even when the answer is a sensible sentence.
#
# Real assistants start from models ten thousand times bigger, which already know facts and
# arithmetic from pretraining; instruction tuning then mostly teaches them the format, just as it
# does here.
#
# ## A chat box
#
# `chat_reply` puts your instruction in the template and lets the model answer. It refuses an empty
# instruction, and a prompt too long for the context, with a message that says what to change.

# %% tags=["nbval-ignore-output"]
r = chat_reply(gpt, tok, "Add these two numbers.", "3 + 4")
print(repr(r.answer))
for instruction, given in [("", ""), ("Reverse the letters of this word.", "very long input " * 80)]:
    print(refusal(chat_reply, gpt, tok, instruction, given))

# %% tags=["nbval-ignore-output"]
chat_widget(gpt, tok)

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
assert len(examples) >= 2000 and set(counts) == {"qa", "spam", "speaker", "play", "reverse", "add",
                                                 "uppercase"}
assert all(n == 40 for n in collections.Counter(e.task for e in test_ex).values())
assert loss_a == loss_b and same_grads and unmasked_a != unmasked_b
assert abs(loss_a - by_hand) < 1e-4
assert len(train_rows) >= 0.95 * len(train_ex)
# fine-tuning teaches the format: most answers well formed after, few before
assert form_b < 0.2 and form_a >= 0.8, (before, after)
# and some content: spam labels well, more exact matches overall than before
assert after["spam"].exact >= 0.7 and after["spam"].exact > before["spam"].exact + 0.3, (before, after)
assert tot_a >= tot_b + 0.05, (before, after)
assert np.mean(losses[-20:]) < np.mean(losses[:20]) / 2
assert refusal(chat_reply, gpt, tok, "  ").startswith("The instruction is empty")
assert "tokens long" in refusal(chat_reply, gpt, tok, "Reverse the letters of this word.",
                                "very long input " * 80)
