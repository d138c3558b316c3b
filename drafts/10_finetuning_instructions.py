# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
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

from gptbook import finetune as ft
from gptbook import instructions as ins
from gptbook.device import device, seed_everything
from gptbook.pretrained import load_base_model
from gptbook.widgets.chat import chat_reply, chat_widget

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
    print(f"reads {tok.decode([inputs[pos]])!r:>12} -> target {('masked' if t == -100 else repr(tok.decode([t]))):>8}")

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
# in the same batch (`ft.length_batches`), so there is little padding to compute.

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
# Exact match: the model's greedy answer, up to the first newline, must equal the expected answer
# exactly (for a question with several answers in the corpus, any of them counts). Test examples
# that do not fit the context with room for the answer are left out.

# %%
MAX_NEW = 24
test_ok = [e for e in test_ex if len(tok.encode(ins.example_prompt(e))) + MAX_NEW <= cfg.context]
print(f"{len(test_ok)} of {len(test_ex)} test examples fit")
before = ft.exact_match_by_task(gpt, tok, test_ok, accepted, MAX_NEW)
for e in [next(x for x in test_ok if x.task == t) for t in ("add", "reverse")]:
    print(f"{e.input!r} -> base model says {ft.answer(gpt, tok, e, MAX_NEW)!r}")

# %% [markdown]
# ## Fine-tuning
#
# The package's recipe (`ft.INSTRUCTION_RECIPE`): every weight learns, for one pass over the
# training examples, with AdamW (warm-up, then cosine decay). Its time on this CPU is measured by
# `benchmarks/bench_finetune.py` (the target is at most 4 minutes).

# %%
print(ft.INSTRUCTION_RECIPE)
seed_everything(0)
t0 = time.perf_counter()
losses = ft.train_instructions(gpt, train_rows, ft.INSTRUCTION_RECIPE, progress=lambda s: tqdm(s, leave=False))
seconds = time.perf_counter() - t0

# %% tags=["nbval-ignore-output"]
print(f"fine-tuning took {seconds:.0f} s ({len(losses)} steps); loss {np.mean(losses[:20]):.2f} -> {np.mean(losses[-20:]):.2f}")

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
after = ft.exact_match_by_task(gpt, tok, test_ok, accepted, MAX_NEW)

# %% tags=["nbval-ignore-output"]
print(f"{'task':>10} {'before':>8} {'after':>8}   (exact match on held-out examples)")
for task in sorted(after):
    b, a = before[task], after[task]
    print(f"{task:>10} {b[0] / b[1]:>8.0%} {a[0] / a[1]:>8.0%}   of {a[1]}")
tot_b = sum(v[0] for v in before.values()) / sum(v[1] for v in before.values())
tot_a = sum(v[0] for v in after.values()) / sum(v[1] for v in after.values())
print(f"{'all':>10} {tot_b:>8.0%} {tot_a:>8.0%}")

# %% tags=["nbval-ignore-output"]
for task in sorted(after):
    for e in [x for x in test_ok if x.task == task][:2]:
        print(f"[{task}] {e.instruction} {e.input[:50]!r}\n    expected {e.response!r:<28} model {ft.answer(gpt, tok, e, MAX_NEW)!r}")

# %% [markdown]
# What to read from the table (your numbers may differ a little; the Checks hold on any run):
#
# * Before fine-tuning the base model scores close to nothing: it continues the text instead of
#   answering, and rarely ends its line where an answer should end.
# * After fine-tuning it answers in the right format for every task. It labels text messages well
#   and adds small numbers often. Speakers and plays it mostly guesses among a few names.
# * Reversing a word or writing it in capitals is hard for a model that sees *tokens*, not letters
#   (chapter 01): it must know how each token is spelled.
# * Held-out chat questions are new questions with free-form answers: exact match is almost
#   never reached, even when the answer is sensible.
#
# ## A chat box
#
# `chat_reply` puts your instruction in the template and lets the model answer. It refuses an empty
# instruction, and a prompt too long for the context, with a message that says what to change.

# %% tags=["nbval-ignore-output"]
r = chat_reply(gpt, tok, "Add these two numbers.", "3 + 4")
print(repr(r.answer))
for instruction, given in [("", ""), ("Reverse the letters of this word.", "very long input " * 80)]:
    print(chat_reply(gpt, tok, instruction, given).error)

# %% tags=["nbval-ignore-output"]
chat_widget(gpt, tok)

# %% [markdown]
# ## Checks

# %%
assert len(examples) >= 2000 and set(counts) == {"qa", "spam", "speaker", "play", "reverse", "add", "uppercase"}
assert all(n == 40 for n in collections.Counter(e.task for e in test_ex).values())
assert loss_a == loss_b and same_grads and unmasked_a != unmasked_b
assert abs(loss_a - by_hand) < 1e-4
assert len(train_rows) >= 0.95 * len(train_ex)
# fine-tuning helps: much better than before overall, and on the tasks a small model can learn
assert tot_a >= tot_b + 0.25, (before, after)
assert after["spam"][0] / after["spam"][1] >= 0.75, after
assert after["add"][0] / after["add"][1] > before["add"][0] / before["add"][1], after
assert np.mean(losses[-20:]) < np.mean(losses[:20]) / 2
assert r.ok and chat_reply(gpt, tok, "  ").error.startswith("The instruction is empty")
assert "tokens long" in chat_reply(gpt, tok, "Reverse the letters of this word.", "very long input " * 80).error
