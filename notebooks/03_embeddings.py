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
# # 03 Embeddings
#
# In chapter 02 a character went into the net as a one-hot vector, and the bigram model remembered
# only one character. This chapter:
#
# 1. shows that **one-hot × matrix = picking a row**, so we can skip the one-hot vectors and keep a
#    table of **embeddings** (`torch.nn.Embedding`);
# 2. measures how aligned two vectors are with the **dot product** and **cosine similarity**;
# 3. builds the **fixed-window language model** of Bengio et al. (2003): several context characters,
#    one shared embedding table, the vectors concatenated, an MLP, softmax (and says why we do not
#    simply count longer contexts);
# 4. adds **positional embeddings** to token embeddings and sees what they do here (and why a
#    transformer needs them);
# 5. trains it on Shakespeare, compares its loss with chapter 02's bigram, and measures how the
#    window length matters;
# 6. shows that similar characters get similar vectors, and that this is what lets the model answer
#    for contexts it never saw.
#
# Source: Bengio, Ducharme, Vincent and Jauvin (2003), "A Neural Probabilistic Language Model",
# JMLR 3. Text: Shakespeare's complete works from Project Gutenberg (public domain).

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from gptbook.bigram import (
    CountingBigram,
    context_coverage,
    evaluate,
    sample,
    seen_context_mask,
    train_next_token,
)
from gptbook.data import shakespeare_split
from gptbook.device import device, seed_everything
from gptbook.tokenizers import CharTokenizer
from gptbook.window import FixedWindowLM, positional_shift, windows

# These models are tiny: one CPU thread is as fast as two, and much faster when other programs share
# the CPU. This setting only affects this notebook's kernel.
torch.set_num_threads(1)
seed_everything(0)
dev = device()
# %config InlineBackend.figure_format = "retina"

# %% [markdown]
# ## 1. One-hot × matrix = picking a row
#
# Take a matrix `E` with one row per letter of the vocabulary. Multiply the one-hot vector of letter
# `i` by `E`: every row is multiplied by 0 except row `i`, which is multiplied by 1. The result is
# exactly row `i`. Not "close": the same numbers, bit for bit. We use the Russian alphabet again.

# %%
ru = CharTokenizer("абвгдеёжзийклмнопрстуфхцчшщъыьэюя")
g = torch.Generator().manual_seed(0)
E = torch.randn(ru.vocab_size, 4, generator=g)  # 33 letters, 4 numbers each
ids = torch.tensor(ru.encode("слово"))  # "word"
by_matmul = F.one_hot(ids, ru.vocab_size).float() @ E
by_lookup = E[ids]
print(by_lookup)
print("torch.equal:", torch.equal(by_matmul, by_lookup))

# %% [markdown]
# So a table lookup *is* a linear layer on one-hot inputs, only much cheaper: no 33-long vectors, no
# multiplications by zero. The row of a token is its **embedding**. PyTorch's `nn.Embedding` is that
# table, with the rows as learnable weights:

# %%
emb = torch.nn.Embedding(ru.vocab_size, 4)
with torch.no_grad():
    emb.weight.copy_(E)
print("nn.Embedding gives the same rows:", torch.equal(emb(ids), by_lookup))
print("the two 'о' in 'слово' get the same vector:", torch.equal(emb(ids)[2], emb(ids)[4]))

# %% [markdown]
# ## 2. Dot product and cosine similarity
#
# The **dot product** `u · v` multiplies matching entries and adds them up. It is large when the two
# vectors point the same way, 0 when they are at right angles, negative when they point apart. It also
# grows with the vectors' lengths; dividing by both lengths gives the **cosine similarity**, which
# only measures direction: 1 same, 0 unrelated, -1 opposite.

# %%
def cosine(u: torch.Tensor, v: torch.Tensor) -> float:
    return (u @ v / (u.norm() * v.norm())).item()


u, v, w, o = (torch.tensor([1.0, 2.0]), torch.tensor([2.0, 4.0]), torch.tensor([-2.0, 1.0]),
              torch.tensor([-1.0, -2.0]))
for name, other in [("v = 2u", v), ("w at right angles", w), ("o = -u", o)]:
    print(f"u · {name:18} dot = {(u @ other).item():5.1f}   cosine = {cosine(u, other):5.2f}")
assert math.isclose(cosine(u, v), F.cosine_similarity(u, v, dim=0).item(), rel_tol=1e-6)

# %% [markdown]
# Random embeddings, like `E` above, are not aligned in any meaningful way: their cosines scatter
# around 0. Training will move the rows of letters that behave alike closer together (section 6).

# %%
unit = F.normalize(E, dim=1)
cos = unit @ unit.T
off = cos[~torch.eye(len(cos), dtype=torch.bool)]
print(f"random 4-d embeddings: cosine between different letters, mean {off.mean():.2f}, "
      f"from {off.min():.2f} to {off.max():.2f}")

# %% [markdown]
# ## 3. The fixed-window language model
#
# ### Why not just count longer contexts?
#
# Chapter 02's bigram counted which character follows each character. Counting what follows each
# *8* characters would be the same program with a bigger table, and it fails for a reason chapter 02
# measured: **sparsity**. With 84 characters there are `84^8` possible contexts, the training text
# holds a vanishing fraction of them, and many contexts of new text were never seen in training. For
# those, a table of counts has no row at all.

# %%
train_text, val_text = shakespeare_split()
tok = CharTokenizer.from_text(train_text + val_text)
train_ids = torch.tensor(tok.encode(train_text))
val_ids = torch.tensor(tok.encode(val_text))
V = tok.vocab_size
context = 8
cover8 = context_coverage(train_ids, val_ids, context, V)
print(f"possible contexts of {context} characters: {V}^{context} = {cover8.possible:,} "
      f"(about {cover8.possible:.1e})")
print(f"distinct contexts in the {len(train_ids):,} training characters: {cover8.seen:,} "
      f"(a share of {cover8.seen / cover8.possible:.0e} of those possible)")
print(f"validation characters whose 8-character context never occurs in training: "
      f"{cover8.unseen_share:.1%}")

# %% [markdown]
# A counting model would have to fall back to shorter contexts for almost a third of the text. A
# neural net instead gives each character a vector, and similar characters get similar vectors, so
# what it learns about one context carries over to contexts that look like it (section 6 measures
# this). Bengio et al. (2003) predicted the next word from the previous few this way. We do it with
# characters:
#
# 1. take the last `context` characters (a **window**);
# 2. look each one up in **one shared** embedding table (an `a` is the same vector wherever it sits);
# 3. **concatenate** the vectors into one long vector (`context × d_embed` numbers);
# 4. a hidden layer: matrix product, plus bias, then `tanh`;
# 5. an output layer: one logit per character of the vocabulary; softmax gives the probabilities.
#
# The training examples are every window of the text and the character after it:

# %%
x_small, y_small = windows(train_ids[:12], context)
for xs, ys in zip(x_small[:4], y_small[:4]):
    print(repr(tok.decode(xs.tolist())), "->", repr(tok.decode([ys.item()])))

# %% [markdown]
# A window cannot be longer than the text it comes from. The package says so clearly:

# %%
try:
    windows(torch.tensor(tok.encode("To be")), context)
except ValueError as e:
    print("ValueError:", e)

# %% [markdown]
# Now one forward pass by hand, step by step, for the first window, and the same with the package's
# `FixedWindowLM`, which does all windows of a batch at once.

# %%
seed_everything(0)
model = FixedWindowLM(V, context, d_embed=16, d_hidden=256).to(dev)
window = x_small[0].to(dev)

with torch.no_grad():
    vectors = [model.embed.weight[i] for i in window.tolist()]  # step 2: 8 rows of the shared table
    long = torch.cat(vectors)  # step 3: 8 x 16 = 128 numbers
    hidden = torch.tanh(model.hidden.weight @ long + model.hidden.bias)  # step 4
    logits = model.out.weight @ hidden + model.out.bias  # step 5
    probs = torch.softmax(logits, dim=0)
    package = model(window.unsqueeze(0))[0]

print("concatenated length:", long.numel(), "  hidden:", hidden.numel(), "  logits:", logits.numel())
print("by hand equals the package:", torch.allclose(logits, package, atol=1e-6))
print("probabilities sum to", round(probs.sum().item(), 6),
      "; untrained, so close to uniform 1/84 =", round(1 / V, 4))
print(f"parameters: {model.num_params():,}")

# %% [markdown]
# ## 4. Positional embeddings
#
# A transformer (chapter 05) does not concatenate. Its attention uses the same weights at every
# position and mixes the vectors it can see by a weighted sum, so on its own it cannot tell in which
# order they came. To know where a token sits, it **adds** a learned **position vector** to each
# token's embedding: `x[t] = token_embedding[token t] + position_embedding[t]`. After this, the same
# letter at two places gets two different vectors:

# %%
seed_everything(0)
with_pos = FixedWindowLM(V, context, d_embed=16, d_hidden=256, positional=True).to(dev)
phrase = torch.tensor([tok.encode("to be or")], device=dev)  # 'o' at places 1 and 6 (counting from 0)
with torch.no_grad():
    e = with_pos.embed_window(phrase)[0]
    same_token = torch.equal(with_pos.embed(phrase)[0, 1], with_pos.embed(phrase)[0, 6])
print("'o' at place 1 vs place 6, token embedding only:", same_token)
print("'o' at place 1 vs place 6, token + position    :", torch.equal(e[1], e[6]))

# %% [markdown]
# How blind to order is attention, exactly? A quick test with a bare attention step (random weights;
# chapter 05 builds it properly). In a GPT every position may only look at itself and the positions
# before it (the **causal mask**). We shuffle the first seven characters of "to be or" and watch the
# outputs:
#
# * the **last** position sees all eight characters either way: the same set, so without position
#   vectors its output does not change at all;
# * **earlier** positions see different characters after the shuffle (position 0 sees only the first
#   one), so their outputs do change: the mask itself leaks some order, which is why a GPT can learn
#   a little about positions even without position vectors (Haviv et al., 2022, "Transformer Language
#   Models without Positional Encodings Still Learn Positional Information");
# * with position vectors added, even the last position sees the difference.

# %%
g = torch.Generator().manual_seed(0)
d = 16
Wq, Wk, Wv = (torch.randn(d, d, generator=g) / d**0.5 for _ in range(3))


def causal_attention(x: torch.Tensor) -> torch.Tensor:
    """One bare attention step over x[T, d]: position t mixes the values of positions 0..t."""
    scores = (x @ Wq) @ (x @ Wk).T / d**0.5
    scores = scores.masked_fill(torch.ones(len(x), len(x)).tril() == 0, float("-inf"))
    return torch.softmax(scores, dim=-1) @ (x @ Wv)


order = torch.tensor([3, 0, 6, 1, 5, 2, 4, 7])  # the first seven shuffled, the last kept in place
with torch.no_grad():
    tokens_only = with_pos.embed(phrase)[0].cpu()
    with_positions = tokens_only + with_pos.pos.weight.cpu()
    shuffled_positions = tokens_only[order] + with_pos.pos.weight.cpu()
    plain, shuffled = causal_attention(tokens_only), causal_attention(tokens_only[order])
    last_gap = (plain[-1] - shuffled[-1]).abs().max().item()
    early_gap = (plain[2] - shuffled[2]).abs().max().item()
    pos_gap = (causal_attention(with_positions)[-1] - causal_attention(shuffled_positions)[-1]).abs().max()
print(f"last position, no position vectors:    gap below 1e-5: {last_gap < 1e-5}")
print(f"position 2, no position vectors:       gap {early_gap:.2f}")
print(f"last position, with position vectors:  gap {pos_gap.item():.2f}")

# %% [markdown]
# Our window model, though, already knows positions: slot 1 of the long vector always holds the
# oldest character. Adding position vectors before concatenating only adds a constant to the hidden
# layer's input (the position vectors times their weights, the same for every window), which the
# hidden bias could learn on its own. We check it: a model without position vectors, whose hidden bias
# is shifted by `positional_shift`, gives the same logits.

# %%
without = FixedWindowLM(V, context, d_embed=16, d_hidden=256).to(dev)
without.load_state_dict({k: v for k, v in with_pos.state_dict().items() if not k.startswith("pos.")})
with torch.no_grad():
    without.hidden.bias += positional_shift(with_pos)
xb = train_ids[1000:1000 + context * 32].view(32, context).to(dev)
print("same logits:", torch.allclose(with_pos(xb), without(xb), atol=1e-5))

# %% [markdown]
# So here position vectors add nothing new, and we train without them. In chapter 05 they matter,
# because attention mixes positions through products of vectors, not through fixed slots.
#
# ## 5. Training
#
# 1,500 steps on random batches of 256 windows with the package's `train_next_token`. It is
# chapter 02's hand-written loop (batch, loss, `backward`, step, zero the gradients) with two
# refinements: the AdamW update instead of the plain `W -= lr * W.grad` (chapter 08 explains it), and
# a learning rate of 0.01 that shrinks along a cosine to a twentieth of that by the last step. The
# baseline is chapter 02's counting bigram (one character of context).

# %%
bigram_val = evaluate(CountingBigram.fit(train_ids, V, smoothing=0.01), val_ids, first_target=context)
print(f"bigram validation loss: {bigram_val:.4f} nats/char")

# %%
seed_everything(0)
model = FixedWindowLM(V, context, d_embed=16, d_hidden=256).to(dev)
g = torch.Generator().manual_seed(0)
losses = train_next_token(model, train_ids, steps=1500, batch_size=256, lr=0.01, generator=g)
window_val = evaluate(model, val_ids)
print(f"training loss, mean of the last 100 steps: {np.mean(losses[-100:]):.1f}")
print(f"validation loss: window model {window_val:.1f}, bigram {bigram_val:.1f} nats/char")
print("better than the bigram by at least 0.3 nats/char:", window_val < bigram_val - 0.3)

# %% tags=["nbval-ignore-output"]
print(f"exact figures on this machine: window {window_val:.4f}, bigram {bigram_val:.4f}, "
      f"improvement {bigram_val - window_val:.4f} nats/char")

# %%
smooth = np.convolve(losses, np.ones(50) / 50, mode="valid")
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(losses, lw=0.4, alpha=0.5, label="batch loss")
ax.plot(range(49, len(losses)), smooth, label="mean of 50 steps")
ax.axhline(bigram_val, color="red", ls="--", label="bigram (validation)")
ax.axhline(window_val, color="green", ls="--", label="window model (validation)")
ax.set_ylim(1.5, 4.6)
ax.set_xlabel("step")
ax.set_ylabel("cross-entropy (nats/char)")
ax.legend(fontsize=8)
ax.set_title(f"Fixed-window model ({context} characters of context): training loss")
plt.show()

# %% [markdown]
# Eight characters of context instead of one lower the loss a lot.
#
# ### How long should the window be?
#
# Is longer always better? We train the same model with windows of 1, 2, 4 and 16 characters, with
# the same 1,500 steps each, and compare with the 8-character model above, on the first 100,000
# characters of the validation text. A longer window gives more information, but also a bigger
# hidden layer to train (its input is `context × 16` numbers) from the same number of steps.

# %%
val_part = val_ids[:100_000]
context_runs = {}
for n in [1, 2, 4, 16]:
    seed_everything(0)
    m = FixedWindowLM(V, n, d_embed=16, d_hidden=256).to(dev)
    train_next_token(m, train_ids, steps=1500, batch_size=256, lr=0.01,
                     generator=torch.Generator().manual_seed(0))
    context_runs[n] = (m, evaluate(m, val_part, first_target=16))
context_runs[context] = (model, evaluate(model, val_part, first_target=16))
context_loss = {n: context_runs[n][1] for n in sorted(context_runs)}
gain = {(a, b): context_loss[a] - context_loss[b] for a, b in [(1, 2), (2, 4), (4, 8), (8, 16)]}
print("parameters:", ", ".join(f"window {n}: {context_runs[n][0].num_params():,}" for n in context_loss))
print("1 -> 2 -> 4 characters: each step lowers the loss by more than 0.1 nats:",
      gain[1, 2] > 0.1 and gain[2, 4] > 0.1)
print("4 -> 8 -> 16 characters: together they change the loss less than 1 -> 4 does:",
      abs(gain[4, 8] + gain[8, 16]) < gain[1, 2] + gain[2, 4])

# %% tags=["nbval-ignore-output"]
# trained numbers: they differ from machine to machine in the last digits
for n, loss_n in context_loss.items():
    print(f"window {n:2}: validation loss {loss_n:.3f} nats/char")
print(f"best window with this training budget: {min(context_loss, key=context_loss.get)} characters")

# %% [markdown]
# The first extra characters help most: from 1 to 4 characters the loss falls steeply. After that
# the gains shrink, and with this small budget a longer window can even do worse, because the model
# cannot learn in 1,500 steps how to use what lies far back (the printed best window says where the
# turn lies in the run stored here). A model that could choose *which* earlier characters to look at,
# instead of giving each slot of the window its own fixed weights, would use a long context better:
# that is attention, chapter 05.
#
# Samples of the 8-character model (they vary from machine to machine in detail, because the
# trained numbers differ in the last digits):

# %% tags=["nbval-ignore-output"]
g = torch.Generator().manual_seed(42)
print(tok.decode(sample(model, tok.encode("\n" * (context - 6) + "ROMEO."), 300, generator=g)))

# %% [markdown]
# More real words, names in capitals followed by a full stop and a new line, as in the plays. Still
# no sense beyond a few words: the model sees 8 characters and nothing more.
#
# ## 6. Similar characters, similar vectors
#
# Each character now has 16 learned numbers. Which characters did training put close together? The
# picture shows the cosine similarity between the vectors of some characters, grouped: vowels, the
# other lower-case letters, some capitals, punctuation.

# %%
emb16 = model.embed.weight.detach().cpu().numpy()
unit = emb16 / np.linalg.norm(emb16, axis=1, keepdims=True)
groups = {
    "vowels a e i o u": set("aeiou"),
    "other lower-case": set("bcdfghjklmnpqrstvwxyz"),
    "upper-case": set("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    "digits": set("0123456789"),
    "punctuation, space, newline": set(" \n!\"&'(),-.:;?[]_{}*/@"),
}
shown_chars = list("aeiou") + list("bcdfghjklmnpqrstvwxyz") + list("AEIOTHMS") + list(".,;:!?")
idx = [tok.chars.index(c) for c in shown_chars]
fig, ax = plt.subplots(figsize=(8.5, 7.5))
im = ax.imshow(unit[idx] @ unit[idx].T, cmap="RdBu_r", vmin=-1, vmax=1)
ax.set_xticks(range(len(idx)), shown_chars, fontsize=7)
ax.set_yticks(range(len(idx)), shown_chars, fontsize=7)
for edge in np.cumsum([5, 21, 8])[:] - 0.5:
    ax.axhline(edge, color="black", lw=0.6)
    ax.axvline(edge, color="black", lw=0.6)
ax.set_xlabel("character (vowels | other lower-case | capitals | punctuation)")
ax.set_ylabel("character")
fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03, label="cosine similarity of the learned vectors")
ax.set_title("Learned character embeddings (16-d): cosine similarity, grouped")
plt.show()

# %% [markdown]
# The blocks on the diagonal are redder than the rest: characters of a group are more alike. The
# mean cosine inside each group, next to the mean between members of different groups (trained
# numbers: they vary a little from machine to machine, so this cell's output is not compared):

# %% tags=["nbval-ignore-output"]
label = np.array([next((k for k, (_, s) in enumerate(groups.items()) if c in s), -1) for c in tok.chars])
sims = unit @ unit.T
between = sims[(label[:, None] != label[None, :]) & (label[:, None] >= 0) & (label[None, :] >= 0)].mean()
within = {}
for k, name in enumerate(groups):
    members = np.where(label == k)[0]
    block = sims[np.ix_(members, members)]
    within[name] = block[~np.eye(len(members), dtype=bool)].mean()
    print(f"{name:30} mean cosine inside the group {within[name]:+.2f}")
print(f"{'between different groups':30} mean cosine {between:+.2f}")
print("groups closer inside than to the rest:", [name for name in groups if within[name] > between])

# %% [markdown]
# What to see, honestly. The groups are not cleanly separated clusters, and single pairs can be
# surprising. But in the run stored with this notebook every group is, on average, closer inside
# than to the other groups; the vowels clearly (vowels and consonants take turns in English words),
# the digits least (the text has few numbers, so their vectors learned little). Nobody told the
# model which characters are vowels or capitals: it found that they are used alike, from
# next-character prediction alone. (A 2-D principal-component picture of these 16-d vectors shows
# almost none of this: the two directions of largest spread are dominated by a few rare characters.)
#
# ### Sharing strength
#
# Why does this matter? Because similar vectors give similar predictions, what the model learns
# about one character helps with the characters like it. Bengio et al. called this fighting the
# "curse of dimensionality". Two measurements on 3,000 validation windows:
#
# 1. replace the last character of each window by its **nearest** character in embedding space, or
#    by a **random** other character, and measure how much the predicted distribution moves
#    (the KL divergence, in nats: 0 means unchanged);
# 2. split the validation text into characters whose 8-character context occurred somewhere in the
#    training text and those whose context never did, and compare the model's loss on the two.
#    A counting model has no answer at all for the second kind.

# %%
with torch.no_grad():
    x_val = val_ids[: 3000 + context].unfold(0, context, 1)[:3000].to(dev)
    log_p = torch.log_softmax(model(x_val), dim=-1)
    table_unit = F.normalize(model.embed.weight, dim=1)
    sim = table_unit @ table_unit.T
    sim.fill_diagonal_(-2.0)
    nearest_char = sim.argmax(dim=1)
    g = torch.Generator().manual_seed(1)
    other = torch.randint(0, V - 1, (len(x_val),), generator=g).to(dev)
    other = other + (other >= x_val[:, -1]).long()  # any character but the one already there

    def shift(new_last: torch.Tensor) -> float:
        x_new = x_val.clone()
        x_new[:, -1] = new_last
        return (log_p.exp() * (log_p - torch.log_softmax(model(x_new), dim=-1))).sum(1).mean().item()

    kl_nearest, kl_random = shift(nearest_char[x_val[:, -1]]), shift(other)

seen_mask = torch.from_numpy(seen_context_mask(train_ids, val_ids, context, V))
with torch.no_grad():
    targets = torch.arange(context, len(val_ids))
    nll = torch.cat([
        F.cross_entropy(model(val_ids[t.unsqueeze(1) - context + torch.arange(context)].to(dev)),
                        val_ids[t].to(dev), reduction="none").cpu()
        for t in targets.split(65536)])
loss_seen, loss_unseen = nll[seen_mask].mean().item(), nll[~seen_mask].mean().item()
print(f"validation characters whose 8-character context was seen in training: {seen_mask.float().mean():.1%}")
print("a nearest-character swap moves the predictions less than half as much as a random swap:",
      kl_nearest < kl_random / 2)
print(f"loss on unseen contexts: above the loss on seen ones, but below {math.log(V) - 1:.1f} nats "
      f"(uniform guessing: {math.log(V):.1f}):", loss_seen < loss_unseen < math.log(V) - 1)

# %% tags=["nbval-ignore-output"]
# trained numbers: they differ from machine to machine in the last digits
print(f"last character -> its nearest neighbour: predictions move by {kl_nearest:.2f} nats (KL)")
print(f"last character -> a random character:    predictions move by {kl_random:.2f} nats (KL)")
print(f"loss on contexts seen in training {loss_seen:.2f}, never seen {loss_unseen:.2f} nats/char; "
      f"uniform guessing {math.log(V):.2f}, the bigram on all characters {bigram_val:.2f}")

# %% [markdown]
# Swapping in a similar character moves the prediction much less than swapping in a random one. And
# on contexts it never saw, the window model is worse than on familiar ones, but still far better
# than guessing: where a table of counts has nothing, the embeddings let it generalise. Chapter 04
# does the same with whole words.

# %% [markdown]
# ## Exercises
#
# Four exercises, from easy to stretch. Each answer cell starts as a stub (`...`): replace it with
# your answer, then run the check cell under it. The checker runs your answer on test inputs and says
# which input failed, what was expected, what came back, and a hint. A *Predict* exercise runs its
# small experiment (a few seconds) once you have made your prediction. A *Think* question has no
# single right wording: the checker looks for the key ideas. `show_solution("03.1")` shows a solution;
# try first.

# %%
from gptbook.exercises import check, show_solution

# %% [markdown]
# **03.1 Implement: cosine similarity.** `cosine_sim(u, v)`: the cosine similarity of two 1-D tensors,
# as a float: 1 for the same direction, 0 at right angles, -1 for opposite directions.

# %%
def cosine_sim(u, v):
    ...  # your code here

# %%
check("03.1", cosine_sim)

# %% [markdown]
# **03.2 Implement: every training window.** `make_windows(ids, context)`: every window of `context`
# ids from a 1-D tensor and the id that follows it: x of shape (len(ids) - context, context) and y of
# shape (len(ids) - context,).

# %%
def make_windows(ids, context):
    ...  # your code here

# %%
check("03.2", make_windows)

# %% [markdown]
# **03.3 Predict: the window model with one character.** Train the chapter's window model (embedding,
# tanh hidden layer of 256, output) with context = 1 for 200 steps. Will it beat the counting bigram
# on the validation text?
#
# - `"better"`: clearly better than the counting bigram (by more than 0.05 nats/char)
# - `"same"`: about as good as the bigram, or a little worse
#
# Write your prediction first; the check then runs the experiment and shows what happened.

# %%
prediction_03_3 = ...  # "better" or "same"

# %%
check("03.3", prediction_03_3)

# %% [markdown]
# **03.4 Think: the limit of a fixed window.** Our window model sees 8 characters. What would it take
# for it to use a character 200 places back, and why is that a poor way to get a long memory? Write
# your answer as a string.

# %%
answer_03_4 = ...  # "your answer, in a few sentences"

# %%
check("03.4", answer_03_4)

# %% [markdown]
# ## Checks

# %%
assert torch.equal(by_matmul, by_lookup)
assert torch.allclose(logits, package, atol=1e-6)  # the hand-made forward pass is the package's
assert same_token and not torch.equal(e[1], e[6])
assert last_gap < 1e-5 and early_gap > 0.01 and pos_gap > 0.01  # attention and order
assert torch.allclose(with_pos(xb), without(xb), atol=1e-5)
assert cover8.possible == 84**8 and 0.2 < cover8.unseen_share < 0.4
assert 2.3 < bigram_val < 2.7
assert window_val < bigram_val - 0.3, (window_val, bigram_val)
assert context_loss[1] > context_loss[2] > context_loss[4] and context_loss[4] < bigram_val - 0.3
assert within["vowels a e i o u"] > between + 0.1 and within["upper-case"] > between
assert kl_nearest < kl_random / 2, (kl_nearest, kl_random)
assert loss_seen < loss_unseen < math.log(V) - 1, (loss_seen, loss_unseen)
