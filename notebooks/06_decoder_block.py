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
# # 06 The decoder block
#
# Chapter 05 built attention: the step where tokens *talk* to each other. A GPT wraps attention in a
# **decoder block** and stacks many blocks. Each block has four parts:
#
# 1. **layer norm**: put each token's vector on a common scale;
# 2. **attention**: mix in information from earlier tokens (chapter 05);
# 3. a **feed-forward network** (MLP): let each token *think* about what it gathered, on its own;
# 4. **residual connections**: each part *adds* its result to its input, `x + f(x)`.
#
# Around the stack sit the token and position embeddings (chapter 03), one last layer norm, and the
# **unembedding** that turns each vector back into a score for every token of the vocabulary.
#
# Then we count parameters. The same formula gives GPT-2 small's 124 million and GPT-3's
# 175 billion. We load weights stored in GPT-2's own layout and check them against an
# independent implementation of GPT-2. Finally we look inside the book's trained model with the
# **logit lens**: what would it predict if it stopped after block 1, 2, …?
#
# Sources: Vaswani et al. (2017), "Attention Is All You Need" (the transformer); Ba, Kiros and Hinton
# (2016), "Layer Normalization"; Hendrycks and Gimpel (2016), "Gaussian Error Linear Units (GELUs)";
# He, Zhang, Ren and Sun (2016), "Deep Residual Learning for Image Recognition" (residual
# connections); Radford et al. (2019), "Language Models are Unsupervised Multitask Learners" (GPT-2);
# Brown et al. (2020), "Language Models are Few-Shot Learners" (GPT-3); Glorot and Bengio (2010),
# "Understanding the difficulty of training deep feedforward neural networks" (initialisation);
# nostalgebraist (2020), "interpreting GPT: the logit lens" (LessWrong blog post).

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib_inline.backend_inline import set_matplotlib_formats
from torch import nn

from gptbook.device import device, seed_everything
from gptbook.model import GPT, MLP, Block, GPTConfig, LayerNorm, count_params

seed_everything(0)
dev = device()  # CUDA, then Apple MPS, then the CPU
set_matplotlib_formats("retina")  # sharp figures on high-resolution screens (still PNG)

# %% [markdown]
# ## 1. Layer norm
#
# Inside a deep network the numbers in a vector can drift: some vectors grow large, others shrink.
# **Layer normalisation** fixes the scale of each token's vector separately:
#
# 1. subtract the mean of its `d` numbers, so the mean becomes 0;
# 2. divide by the standard deviation, so the variance becomes 1;
# 3. multiply by a learned **scale** `g` and add a learned **shift** `b` (one number per feature),
#    so the network can undo the normalisation where that helps.
#
# `y = (x - mean) / sqrt(variance + eps) * g + b`. The small `eps` (1e-5) avoids dividing by zero.

# %%
x = torch.randn(2, 4, 8) * 3 + 5  # 2 sequences, 4 tokens, 8 features, mean about 5, spread about 3
mean = x.mean(dim=-1, keepdim=True)
var = x.var(dim=-1, keepdim=True, unbiased=False)
x_hat = (x - mean) / torch.sqrt(var + 1e-5)
show = lambda t: "  ".join(f"{v:6.2f}" for v in t.tolist())
print("before: mean of each token    ", show(x.mean(-1)[0]))
print("before: variance of each token", show(x.var(-1, unbiased=False)[0]))
print("after:  mean of each token    ", show(x_hat.mean(-1)[0].abs()))
print("after:  variance of each token", show(x_hat.var(-1, unbiased=False)[0]))

# %% [markdown]
# The package's `LayerNorm` holds `g` (called `weight`, starting at 1) and `b` (`bias`, starting at
# 0). With random values for both, it gives the same numbers as our formula and as PyTorch's own
# `nn.LayerNorm`.

# %%
ln = LayerNorm(8)
with torch.no_grad():
    ln.weight.uniform_(0.5, 1.5)
    ln.bias.uniform_(-1, 1)
by_hand = x_hat * ln.weight + ln.bias
torch_ln = nn.LayerNorm(8)
torch_ln.load_state_dict(ln.state_dict())
diff_ln = max((ln(x) - by_hand).abs().max().item(), (torch_ln(x) - by_hand).abs().max().item())
assert diff_ln < 1e-5  # the gap is rounding error, different on every CPU: we check a bound
print("package LayerNorm and nn.LayerNorm equal the formula: largest gap below 1e-5")

# %% [markdown]
# ## 2. GELU
#
# The feed-forward network needs a non-linear function between its two layers (chapter 02 used
# sigmoid and tanh). GPT uses **GELU**, the Gaussian error linear unit: `GELU(x) = x * Phi(x)`, where
# `Phi` is the probability that a standard normal number is below `x`. It is like ReLU (0 for very
# negative `x`, `x` for large `x`) but smooth, and slightly negative just below 0. GPT-2 computes it
# with a tanh approximation:
#
# `GELU(x) ≈ 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.

# %%
z = torch.linspace(-4, 4, 401)
gelu_exact = z * 0.5 * (1 + torch.erf(z / math.sqrt(2)))  # x * Phi(x)
gelu_tanh = 0.5 * z * (1 + torch.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3)))
print(f"exact vs tanh approximation: largest gap {(gelu_exact - gelu_tanh).abs().max().item():.1e}")
assert (gelu_tanh - F.gelu(z, approximate="tanh")).abs().max() < 1e-6
print("tanh formula vs F.gelu(approximate='tanh'): equal, largest gap below 1e-6 (rounding)")
print(f"smallest GELU value: {gelu_exact.min().item():.3f} at x = {z[gelu_exact.argmin()].item():.2f}")

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(z, torch.relu(z), label="ReLU", linestyle="--", color="gray")
ax.plot(z, gelu_exact, label="GELU = x·Φ(x)", linewidth=2)
ax.axhline(0, color="black", linewidth=0.5)
ax.set_xlabel("x")
ax.set_title("GELU: a smooth ReLU that dips slightly below 0")
ax.legend()
plt.show()

# %% [markdown]
# ## 3. The feed-forward network
#
# The MLP works on **each token separately**: attention already moved information between tokens;
# now every token processes what it has. It widens the vector 4x (768 → 3,072 in GPT-2 small), applies
# GELU, and narrows it back. Its two matrices, `d × 4d` and `4d × d`, hold two thirds of each block's
# weights (`8d²` of about `12d²`); section 7 counts what share of a whole model that is.
#
# By hand with the package MLP's own weights, then the package's `MLP`:

# %%
cfg = GPTConfig(vocab_size=65, context=32, n_layer=4, n_head=4, d_model=64)
mlp = MLP(cfg)
x = torch.randn(2, 5, 64)
hidden = x @ mlp.c_fc.weight.T + mlp.c_fc.bias  # 64 -> 256
print("hidden width:", hidden.shape[-1], "=", hidden.shape[-1] // 64, "x the model width")
mlp_by_hand = F.gelu(hidden, approximate="tanh") @ mlp.c_proj.weight.T + mlp.c_proj.bias  # 256 -> 64
diff_mlp = (mlp(x) - mlp_by_hand).abs().max().item()
assert diff_mlp < 1e-5
print("package MLP vs by hand: equal, largest gap below 1e-5")
# each token on its own: changing token 4 does not change the output for token 0
x2 = x.clone()
x2[:, 4] += 1
print("token 0 unchanged when token 4 changes:", torch.equal(mlp(x)[:, 0], mlp(x2)[:, 0]))

# %% [markdown]
# ## 4. The residual connection
#
# A block does not *replace* its input; it *adds* to it: `x = x + f(x)` (He et al., 2016). Think of a
# **residual stream** running through the network: each attention and MLP reads from it and writes a
# small correction back. Two things follow:
#
# * a block whose `f` outputs zero is the identity, so a new block starts close to "do nothing";
# * during training the gradient flows back through the `+` unchanged, so even the first layers of a
#   deep stack get a useful signal.
#
# Let us measure the second point. We stack 32 layers `tanh(W h + b)` of width 64, with and without
# the residual `+`, send a batch through, and compare the gradient that reaches the input with the
# gradient that left the top: the ratio says how much of the learning signal gets to the bottom
# layer. How big the weights start matters a lot for a plain stack, so we try several starting
# scales: weights drawn with standard deviation `gain / √64`, and PyTorch's own default for
# `nn.Linear` (uniform, standard deviation `1 / √(3 · 64)`, the same as gain 0.58).

# %% tags=["nbval-ignore-output"]
def gradient_ratio(residual: bool, gain: float | None) -> float:
    """|gradient at the input| / |gradient at the top| of a 32-layer tanh stack (gain None:
    PyTorch's default initialisation)."""
    seed_everything(1)
    layers = [nn.Sequential(nn.Linear(64, 64), nn.Tanh()) for _ in range(32)]
    if gain is not None:
        for layer in layers:
            nn.init.normal_(layer[0].weight, std=gain / math.sqrt(64))
    h0 = torch.randn(16, 64, requires_grad=True)
    h = h0
    for layer in layers:
        h = h + layer(h) if residual else layer(h)
    h.retain_grad()
    h.pow(2).mean().backward()
    return (h0.grad.norm() / h.grad.norm()).item()


gains = [0.25, 0.5, 1.0, 5 / 3, 2.0, 3.0]
ratios = {res: [gradient_ratio(res, g) for g in gains] for res in (False, True)}
default_ratio = {res: gradient_ratio(res, None) for res in (False, True)}
for res in (False, True):
    print(f"{'residual' if res else 'plain':>8} stack, PyTorch's default init: "
          f"input/top gradient = {default_ratio[res]:.0e}")

# %%
fig, ax = plt.subplots(figsize=(7, 3.8))
for res, style in ((False, "o-"), (True, "s-")):
    ax.semilogy(gains, ratios[res], style, label="residual: h + f(h)" if res else "plain: f(h)")
    ax.plot([1 / math.sqrt(3)], [default_ratio[res]], "k*", markersize=10)
ax.axhline(1, color="grey", linewidth=0.8, linestyle=":")
ax.annotate("PyTorch's default init", (1 / math.sqrt(3), default_ratio[False]), xytext=(8, 0),
            textcoords="offset points", va="center", fontsize=8)
ax.set_xlabel("starting scale of the weights (gain: standard deviation × √64)")
ax.set_ylabel("gradient at input / at top")
ax.set_title("How much of the gradient reaches the bottom of a 32-layer stack")
ax.legend()
plt.show()

# %% [markdown]
# The plain stack works only in a narrow band of starting scales. Below it (PyTorch's default
# included) every layer multiplies the gradient by a factor below 1 and almost nothing reaches the
# bottom; above it the factors are above 1 and the gradient explodes. The band exists (gain 5/3 is
# the value Glorot and Bengio's analysis suggests for tanh), but it must be hit. The residual stack
# never loses the gradient, at any scale we tried: the `+ h` passes it down unchanged and each layer
# can only add to it. It can still grow with depth; GPT keeps that in check with layer norm and by
# starting the layers that write into the stream small (section 6).
#
# ## 5. The pre-norm decoder block
#
# GPT-2 puts the layer norm *before* each part (**pre-norm**), inside the residual branch:
#
# ```
# x = x + attention(ln_1(x))    # tokens talk
# x = x + mlp(ln_2(x))          # tokens think
# ```
#
# The original transformer (Vaswani et al., 2017) normalised *after* the addition; pre-norm keeps the
# residual stream itself untouched and trains more easily in deep stacks. The picture: the stream runs
# straight up; each part reads a normalised copy of it and adds its result back.

# %%
from gptbook.diagrams import block_figure

block_figure(n_layer=12)  # GPT-2 small stacks 12 blocks
plt.show()

# %% [markdown]
# We compute a block by hand from its parts and compare with the package's `Block`:

# %%
block = Block(cfg).eval()
x = torch.randn(2, 7, 64)
with torch.no_grad():
    talk, _ = block.attn(block.ln_1(x))
    h = x + talk
    block_by_hand = h + block.mlp(block.ln_2(h))
    block_out, _ = block(x)
diff_block = (block_out - block_by_hand).abs().max().item()
assert diff_block < 1e-5
print("package Block vs by hand: equal, largest gap below 1e-5")

# %% [markdown]
# ## 6. The whole GPT
#
# The complete model, from the bottom:
#
# 1. **token embedding** `wte` (vocabulary × width) plus **position embedding** `wpe` (context × width);
# 2. `n_layer` decoder blocks `h.0`, `h.1`, ...;
# 3. a **final layer norm** `ln_f`;
# 4. the **unembedding** `lm_head`: a score (logit) for every token of the vocabulary.
#
# GPT-2 **ties** the unembedding to the token embedding: the same matrix turns ids into vectors and
# vectors back into scores (a vector scores high for token `i` when it points like row `i`). That saves
# `vocabulary × width` parameters. Here are the names of a small GPT's parts; the names follow GPT-2's
# so that GPT-2's weights can be loaded later.

# %%
seed_everything(2)
model = GPT(cfg).to(dev).eval()
for name, p in list(model.named_parameters())[:14]:
    print(f"{name:32s} {tuple(p.shape)}")
print("...")
print("lm_head.weight is transformer.wte.weight:", model.lm_head.weight is model.transformer.wte.weight)

# %% [markdown]
# The forward pass by hand, block by block, must give the package's logits:

# %%
idx = torch.randint(0, cfg.vocab_size, (2, 10), device=dev)
with torch.no_grad():
    t = model.transformer
    h = t.wte(idx) + t.wpe(torch.arange(10, device=dev))  # token + position embeddings
    for blk in t.h:
        h, _ = blk(h)
    logits_by_hand = t.ln_f(h) @ t.wte.weight.T  # the unembedding is the embedding, transposed
    logits, _ = model(idx)
diff_gpt = (logits - logits_by_hand).abs().max().item()
assert diff_gpt < 1e-5
print("logits shape:", tuple(logits.shape), "  package vs by hand: equal, largest gap below 1e-5")

# %% [markdown]
# GPT-2's initialisation draws weights from a normal distribution with standard deviation 0.02, and
# scales the layers that write into the residual stream (`c_proj`) by `1/sqrt(2 · n_layer)`, so the
# stream does not grow with depth. A fresh model therefore predicts almost uniformly: its loss is
# close to `ln(vocabulary)`, the loss of a uniform guess.

# %%
targets = torch.randint(0, cfg.vocab_size, (2, 10), device=dev)
_, loss = model(idx, targets)
print(f"loss of the untrained model: {loss.item():.2f}   ln(65) = {math.log(65):.2f}")

# %% [markdown]
# ## 7. Counting parameters: GPT-2 small and GPT-3
#
# For width `d`, `L` layers, vocabulary `V` and context `C` (with biases, as in GPT-2):
#
# | part | parameters |
# |---|---|
# | token embedding (shared with the unembedding) | `V·d` |
# | position embedding | `C·d` |
# | attention per block: `c_attn` (d → 3d) and `c_proj` (d → d) | `4d² + 4d` |
# | MLP per block: `c_fc` (d → 4d) and `c_proj` (4d → d) | `8d² + 5d` |
# | two layer norms per block (scale and shift) | `4d` |
# | final layer norm | `2d` |
#
# So each block holds about `12·d²` parameters. First by hand for GPT-2 small:

# %%
V, C, d, L = 50257, 1024, 768, 12
gpt2_by_hand = V * d + C * d + L * ((4 * d * d + 4 * d) + (8 * d * d + 5 * d) + 4 * d) + 2 * d
print(f"GPT-2 small by hand: {gpt2_by_hand:,}")

# %% [markdown]
# The package's `count_params` does the same from a config, part by part, without building anything.
# GPT-3 175B is far too large to build here (700 GB in float32), so we only count it.

# %%
gpt2_parts = count_params(GPTConfig.gpt2_small())
gpt3_cfg = GPTConfig.gpt3_175b()
gpt3_parts = count_params(gpt3_cfg)
print(f"GPT-3: width {gpt3_cfg.d_model:,}, {gpt3_cfg.n_layer} layers, {gpt3_cfg.n_head} heads, "
      f"vocabulary {gpt3_cfg.vocab_size:,}, context {gpt3_cfg.context:,}\n")
print(f"{'part':20s} {'GPT-2 small':>16s} {'share':>7s} {'GPT-3 175B':>20s} {'share':>7s}")
for part in gpt2_parts:
    print(f"{part:20s} {gpt2_parts[part]:16,d} {gpt2_parts[part] / gpt2_parts['total']:7.1%} "
          f"{gpt3_parts[part]:20,d} {gpt3_parts[part] / gpt3_parts['total']:7.1%}")

# %% [markdown]
# GPT-2 small has **124,439,808** parameters, the figure usually rounded to "124M" (Radford et al.
# list it as 117M in their paper; the released model is this one). In GPT-2 small the MLPs hold less
# than half of them (45.5 %): its token embedding alone is 31 %. GPT-3's embedding matrix is larger,
# 50,257 × 12,288 = **617,558,016** weights, yet it is only 0.35 % of the model: at that width the
# blocks (`12·d²` each, 96 of them) dominate, and the MLPs hold two thirds of everything. The total,
# 174.6 billion, is what Brown et al. (2020) round to 175B.
#
# The counter is checked against a real model too. A module built on PyTorch's `meta` device has
# shapes but no memory, so we can "build" GPT-2 small for free and count its actual tensors:

# %%
with torch.device("meta"):
    gpt2_meta = GPT(GPTConfig.gpt2_small())
print(f"GPT-2 small, counted from the built module: {gpt2_meta.num_params():,}")
print(f"without the embeddings: {gpt2_meta.num_params(non_embedding=True):,}")

# %%
fig, ax = plt.subplots(figsize=(7, 2.6))
names = ["token_embedding", "position_embedding", "attention", "mlp"]
for row, parts in enumerate([gpt2_parts, gpt3_parts]):
    left = 0.0
    for name, color in zip(names, ["#4c72b0", "#8172b2", "#dd8452", "#55a868"]):
        share = parts[name] / parts["total"]
        ax.barh(row, share, left=left, color=color, label=name if row == 0 else None)
        left += share
ax.set_yticks([0, 1], ["GPT-2 small", "GPT-3 175B"])
ax.set_xlabel("share of all parameters (layer norms are too small to see)")
ax.set_title("Where the parameters are: each part's share of the whole model")
ax.legend(ncol=4, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.35))
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 8. GPT-2's weight layout
#
# GPT-2's published weights (as Hugging Face stores them) use the names we chose:
# `transformer.wte.weight`, `transformer.h.0.attn.c_attn.weight`, `transformer.h.0.mlp.c_fc.weight`,
# and so on. One detail differs. GPT-2 was written in TensorFlow with a layer called `Conv1D`, which
# stores a weight as **(inputs, outputs)**; PyTorch's `nn.Linear` stores **(outputs, inputs)**. So the
# four matrices `c_attn`, `c_proj` (attention), `c_fc` and `c_proj` (MLP) must be **transposed** on
# the way in. `GPT.from_gpt2_state_dict` does this and checks every name and shape.
#
# No package ships GPT-2's trained weights, and this machine is offline. So we build a GPT-2 with the
# `transformers` library from a small config, with random weights, take its state dict, load it into
# our model, and compare the logits. Two independent implementations, one set of weights.

# %%
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.utils import logging as hf_logging

hf_logging.set_verbosity_error()
seed_everything(3)
hf_config = GPT2Config(vocab_size=1000, n_positions=64, n_embd=128, n_layer=3, n_head=4,
                       resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0)
reference = GPT2LMHeadModel(hf_config).eval()
# transformers starts biases at 0 and norms at 1: randomise them so they are checked too
with torch.no_grad():
    for name, p in reference.named_parameters():
        if name.endswith("bias") or ".ln_" in name:
            p.add_(0.1 * torch.randn_like(p))
state = reference.state_dict()
for key in list(state)[:8]:
    print(f"{key:40s} {tuple(state[key].shape)}")

# %% [markdown]
# Note `c_attn.weight` is (128, 384): inputs first. Our `nn.Linear` holds (384, 128). Load and compare:

# %%
ours_cfg = GPTConfig(vocab_size=1000, context=64, n_layer=3, n_head=4, d_model=128)
ours = GPT.from_gpt2_state_dict(state, ours_cfg).eval()
print("our c_attn.weight:", tuple(ours.transformer.h[0].attn.c_attn.weight.shape))
tokens = torch.randint(0, 1000, (4, 64), generator=torch.Generator().manual_seed(4))
with torch.no_grad():
    ref_logits = reference(tokens).logits
    our_logits, _ = ours(tokens)
diff_hf = (our_logits - ref_logits).abs().max().item()
assert diff_hf < 1e-5
print(f"logits equal transformers' GPT-2: largest gap below 1e-5 (logits span about "
      f"{ref_logits.abs().max().item():.1f})")
print("same next-token choice everywhere:", torch.equal(our_logits.argmax(-1), ref_logits.argmax(-1)))

# %% [markdown]
# A checkpoint that does not fit fails loudly, naming what is wrong. Here the config has the wrong
# width:

# %%
from gptbook.model import StateDictMismatchError

wrong_cfg = GPTConfig(vocab_size=1000, context=64, n_layer=3, n_head=4, d_model=256)
try:
    GPT.from_gpt2_state_dict(state, wrong_cfg)
except StateDictMismatchError as err:
    mismatch_message = str(err)
print(mismatch_message[:400], "...")

# %% [markdown]
# ## 9. Inside the trained model: the logit lens
#
# The residual stream has the same shape after every block, and the model reads its answer from the
# last one with `ln_f` and the unembedding. Nothing stops us from reading the stream *earlier*: put
# the vector after block `i` through the same `ln_f` and `lm_head`, and see what the model would
# predict if it stopped there. This is the **logit lens** (nostalgebraist, 2020). We use the book's
# trained base model (chapter 08 tells how it was trained).

# %%
from gptbook.data import shakespeare_split
from gptbook.pretrained import load_base_model
from gptbook.widgets.html import token_label

base, tok = load_base_model(device=dev)
bcfg = base.config
print(f"the base model: {bcfg.n_layer} blocks, width {bcfg.d_model}, vocabulary {bcfg.vocab_size:,}")


@torch.no_grad()
def logit_lens(idx: torch.Tensor):
    """Yield the logits (B, T, V) read from the stream entering block 0, then after each block."""
    x = base.embed(idx)
    yield base.lm_head(base.transformer.ln_f(x))
    for i in range(bcfg.n_layer):
        x = base.run_blocks(x, i, i + 1)  # one more block
        yield base.lm_head(base.transformer.ln_f(x))


lens_prompt = "Juliet.\nO Romeo, Romeo! wherefore art thou"
lens_ids = tok.encode(lens_prompt)
lens = torch.stack([r[0].float().cpu() for r in logit_lens(torch.tensor([lens_ids], device=dev))])
with torch.no_grad():
    full_logits = base(torch.tensor([lens_ids], device=dev))[0][0].float().cpu()
diff_lens = (lens[-1] - full_logits).abs().max().item()
print("the last readout is the model's output: largest gap",
      "below 1e-4" if diff_lens < 1e-4 else diff_lens)

# %% [markdown]
# Each column is a position of the prompt; each row a depth. The text in a cell is the token that
# depth would predict next; the colour is the probability it gives to the token the *whole* model
# finally predicts there (the top row's answer).

# %%
stages = ["embedding"] + [f"after block {i}" for i in range(bcfg.n_layer)]
lens_probs = torch.softmax(lens, dim=-1)
answer = lens_probs[-1].argmax(-1)  # (T,): the full model's prediction at each position
p_answer = lens_probs[:, torch.arange(len(lens_ids)), answer]  # (stages, T)
fig, ax = plt.subplots(figsize=(1.05 * len(lens_ids) + 2.5, 0.55 * len(stages) + 1.8))
im = ax.imshow(p_answer.cpu().numpy()[::-1], cmap="viridis", vmin=0, vmax=1, aspect="auto")
for r, stage in enumerate(range(len(stages) - 1, -1, -1)):
    for c in range(len(lens_ids)):
        guess = token_label(tok, int(lens_probs[stage, c].argmax()))
        ax.text(c, r, guess, ha="center", va="center", fontsize=7, fontfamily="monospace",
                color="black" if p_answer[stage, c] > 0.6 else "white")
ax.set_xticks(range(len(lens_ids)), [token_label(tok, i) for i in lens_ids], rotation=45, ha="right",
              fontfamily="monospace")
ax.set_yticks(range(len(stages)), stages[::-1])
ax.set_xlabel("input token (the prediction is for the token after it)")
fig.colorbar(im, ax=ax, label="probability of the final answer")
ax.set_title("Logit lens: the next-token guess read from the stream after each block")
fig.tight_layout()
plt.show()
itself = int((lens_probs[0].argmax(-1) == torch.tensor(lens_ids)).sum())
print(f"read from the embedding alone, the guess is the input token itself at {itself} of "
      f"{len(lens_ids)} positions")

# %% [markdown]
# Read from the embedding alone, the stream tends to predict the token that is already there (the
# count is printed under the picture): the unembedding is the embedding (tied), and a vector points
# most like its own token's row. The blocks
# move the stream, step by step, toward the final guess. The same on held-out text, as a loss per
# depth (lower is better; a uniform guess costs `ln(vocabulary)`):

# %%
held_out = tok.encode(shakespeare_split()[1][:20_000])[: 4 * bcfg.context + 1]
windows = torch.tensor(held_out[:-1], device=dev).view(4, bcfg.context)
targets = torch.tensor(held_out[1:], device=dev).view(4, bcfg.context)
lens_loss = [F.cross_entropy(r.flatten(0, 1).float(), targets.flatten()).item()
             for r in logit_lens(windows)]
for stage, loss_there in zip(stages, lens_loss):
    print(f"{stage:>15}: held-out loss {loss_there:.1f} nats per token")
print(f"{'uniform guess':>15}: ln({bcfg.vocab_size:,}) = {math.log(bcfg.vocab_size):.1f}")

# %% [markdown]
# The loss falls as the stream goes up, and only the full stack reaches the model's real loss. That
# the intermediate readouts make sense at all is thanks to the residual stream: every block adds to
# one shared vector instead of replacing it, so each depth speaks the same "language" as the output.
#
# ## Summary
#
# * Layer norm gives every token's vector mean 0 and variance 1, then a learned scale and shift.
# * The MLP widens 4x, applies GELU, narrows back, for each token on its own.
# * Residual connections add each part's output to its input, so deep stacks still learn.
# * A pre-norm block is `x + attn(ln_1(x))` then `x + mlp(ln_2(x))`; a GPT is embeddings, a stack of
#   blocks, a final norm and an unembedding tied to the embedding.
# * The same count gives GPT-2 small's 124,439,808 parameters and GPT-3's 175 billion.
# * Our model reads GPT-2's weight layout and matches an independent GPT-2 implementation.
# * The logit lens reads the residual stream after each block of the trained model: the guess
#   sharpens block by block, and the held-out loss falls with depth.
#
# Chapter 07 turns the logits into text.

# %% [markdown]
# ## Exercises
#
# Four exercises, from easy to stretch. Each answer cell starts as a stub (`...`): replace it with
# your answer, then run the check cell under it. The checker runs your answer on test inputs and says
# which input failed, what was expected, what came back, and a hint. A *Predict* exercise runs its
# small experiment (a few seconds) once you have made your prediction. A *Think* question has no
# single right wording: the checker looks for the key ideas. `show_solution("06.1")` shows a solution;
# try first.

# %%
from gptbook.exercises import check, show_solution

# %% [markdown]
# **06.1 Implement: layer norm.** `layer_norm(x, g, b, eps=1e-5)`: normalise each vector along the
# last dimension of x to mean 0 and variance 1, then multiply by the scale g and add the shift b.

# %%
def layer_norm(x, g, b, eps=1e-05):
    ...  # your code here

# %%
check("06.1", layer_norm)

# %% [markdown]
# **06.2 Implement: counting a GPT's parameters.** `gpt_params(V, C, d, L)`: the number of parameters
# of the chapter's GPT (biases, layer norms with scale and shift, the unembedding tied to the
# embedding) with vocabulary V, context C, width d and L blocks.

# %%
def gpt_params(V, C, d, L):
    ...  # your code here

# %%
check("06.2", gpt_params)

# %% [markdown]
# **06.3 Predict: training without the residual.** Train a 6-block GPT of width 32 for 100 steps on
# Shakespeare's characters, once as built (x + f(x)) and once with every block replacing its input (x
# = f(x)). Without the residual connections, the loss after 100 steps is ...
#
# - `"higher"`: higher (by more than 0.1 nats/char): it learns more slowly
# - `"same"`: about the same
# - `"lower"`: lower: fewer additions, an easier model
#
# Write your prediction first; the check then runs the experiment and shows what happened.

# %%
prediction_06_3 = ...  # "higher" or "same" or "lower"

# %%
check("06.3", prediction_06_3)

# %% [markdown]
# **06.4 Think: why tie the unembedding to the embedding.** The GPT uses the token embedding matrix
# again to turn its final vectors into logits (lm_head.weight = wte.weight). Give two reasons this is
# a good idea. Write your answer as a string.

# %%
answer_06_4 = ...  # "your answer, in a few sentences"

# %%
check("06.4", answer_06_4)

# %% [markdown]
# ## Checks

# %%
assert diff_ln < 1e-5 and x_hat.mean(-1).abs().max() < 1e-5
assert (x_hat.var(-1, unbiased=False) - 1).abs().max() < 1e-3
assert (gelu_exact - gelu_tanh).abs().max() < 1e-3 and gelu_exact.min() < 0
assert diff_mlp < 1e-5 and diff_block < 1e-5 and diff_gpt < 1e-4
assert default_ratio[True] > 1 > 1e-4 > default_ratio[False]  # default init: plain loses the gradient
assert min(ratios[True]) > 1  # the residual stack never loses it, at any scale tried
assert min(ratios[False]) < 1e-4 and max(ratios[False]) > 1e2  # plain: vanishes or explodes
assert abs(loss.item() - math.log(65)) < 0.3
assert gpt2_by_hand == gpt2_parts["total"] == gpt2_meta.num_params() == 124_439_808
assert gpt3_parts["token_embedding"] == 617_558_016
assert 174.5e9 < gpt3_parts["total"] < 175.5e9
assert gpt2_parts["mlp"] < 0.5 * gpt2_parts["total"] < gpt2_parts["mlp"] + gpt2_parts["token_embedding"]
assert gpt3_parts["mlp"] > 0.65 * gpt3_parts["total"]  # "two thirds" at GPT-3's width
assert diff_hf < 1e-4
assert "transformer.wte.weight: checkpoint (1000, 128)" in mismatch_message
assert diff_lens < 1e-4  # the last readout of the lens is the model's own output
assert lens_loss[-1] == min(lens_loss) < lens_loss[0] - 1  # depth helps, the full stack most
assert lens_loss[-1] < math.log(bcfg.vocab_size) - 2  # the base model is trained
assert itself > len(lens_ids) / 2  # tied unembedding: the embedding alone points at its own token
print("all checks passed")
