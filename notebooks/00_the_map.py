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
# # 00 The map
#
# "GPT predicts the next token." This chapter shows the whole machine doing it, on one screen, with
# the finished code of the book. Every later chapter opens one box of this picture and builds it from
# nothing.
#
# ```
#  text ──► tokens ──► vectors ──► [ attention + MLP ] × N ──► logits ──► softmax ──► sample ──► append ─┐
#   ▲                                                                                                     │
#   └─────────────────────────────────────────── repeat ◄────────────────────────────────────────────────┘
# ```
#
# The model is the book's own: a small GPT trained on Shakespeare's works on a laptop CPU.

# %%
import torch

from gptbook.device import device, seed_everything
from gptbook.pretrained import load_base_model

dev = device()
seed_everything(0)
model, tok = load_base_model(device=dev)
cfg = model.config
print(f"a GPT with {model.num_params():,} parameters: {cfg.n_layer} blocks, width {cfg.d_model}, "
      f"{cfg.n_head} heads, context {cfg.context}, vocabulary {cfg.vocab_size:,}")

# %% [markdown]
# Are its weights really trained? Its loss on held-out Shakespeare (text it never trained on) against
# the loss of a uniform guess over the vocabulary, `ln(vocabulary)`; lower is better (*chapter 08*):

# %%
import math

from gptbook.data import shakespeare_split
from gptbook.train import evaluate

held_out = tok.encode(shakespeare_split()[1][:20_000])[: 4 * cfg.context + 1]
held_out_loss = evaluate(model, held_out, cfg.context, device=dev)["loss"]
print(f"held-out loss {held_out_loss:.1f} nats per token; uniform guess ln({cfg.vocab_size:,}) = "
      f"{math.log(cfg.vocab_size):.1f}")

# %% [markdown]
# ## 1. Text → tokens
#
# The tokenizer cuts the text into pieces it knows (often whole words with their leading space) and
# gives each piece a number. *Chapter 01.*

# %%
from gptbook.widgets.temperature import token_label

prompt = "Juliet.\nO Romeo, Romeo! wherefore art thou"
ids = tok.encode(prompt)
print(" | ".join(token_label(tok, i) for i in ids))
print("ids:", ids)
idx = torch.tensor([ids], device=dev)  # a batch of one text
print("shape:", tuple(idx.shape), "= (batch, tokens)")

# %% [markdown]
# ## 2. Tokens → vectors
#
# Each id picks a row of the token-embedding table (a vector of `d_model` numbers that the model
# learned), and each position adds a position vector, so the model knows the order. *Chapters 02–04.*

# %%
with torch.no_grad():
    positions = torch.arange(idx.size(1), device=dev)
    x = model.transformer.wte(idx) + model.transformer.wpe(positions)
print("vectors:", tuple(x.shape), "= (batch, tokens, d_model)")

# %% [markdown]
# ## 3. (Attention + MLP) × N
#
# Each block lets every token look back at the earlier tokens and pull in what it needs (attention,
# *chapter 05*), then processes each token on its own (the MLP), and adds the result to its input
# (*chapter 06*). The shape never changes: the same vectors, refined `N` times.

# %%
with torch.no_grad():
    for i, block in enumerate(model.transformer.h):
        x, _ = block(x)
        print(f"after block {i}: {tuple(x.shape)}")

# %% [markdown]
# ## 4. Vectors → logits
#
# A last layer norm, then every vector is compared (a dot product) with every token's embedding: one
# score, a **logit**, per token of the vocabulary. *Chapter 06.* Our step-by-step pass gives the same
# numbers as calling the model:

# %%
with torch.no_grad():
    logits = model.lm_head(model.transformer.ln_f(x))
    same = torch.allclose(logits, model(idx)[0], atol=1e-5)
print("logits:", tuple(logits.shape), "= (batch, tokens, vocabulary)")
print("same as model(idx):", same)

# %% [markdown]
# ## 5. Softmax → probabilities
#
# Only the last position matters for what comes next. Softmax turns its logits into probabilities
# that add up to 1; a **temperature** `T` divides the logits first and makes them sharper (`T < 1`) or
# flatter (`T > 1`). *Chapter 07.* The five likeliest next tokens at `T = 1` (the model's own
# probabilities) and at `T = 0.8`, the temperature the loop below samples at:

# %%
probs = torch.softmax(logits[0, -1].float(), dim=-1)  # T = 1
probs_08 = torch.softmax(logits[0, -1].float() / 0.8, dim=-1)  # T = 0.8
top = torch.topk(probs, 5)
print(f"{'token':>12}  {'T = 1':>6}  {'T = 0.8':>7}")
for p, i in zip(top.values.tolist(), top.indices.tolist()):
    print(f"{token_label(tok, i):>12}  {p:6.2f}  {probs_08[i].item():7.2f}")
print(f"these five hold {top.values.sum():.0%} of the probability at T = 1, "
      f"{probs_08[top.indices].sum():.0%} at T = 0.8")

# %% [markdown]
# ## 6. Sample → append → repeat
#
# Draw one token from the probabilities, append it to the text, and run everything again: that is
# all "writing" is. Eight turns of the loop at `T = 0.8`, each one the whole pipeline above. Each line
# shows the token drawn, its probability, its rank (1 = the model's favourite) and how much
# probability all the unlikely tokens (each under 1 %) hold together at that turn:

# %% tags=["nbval-ignore-output"]
generator = torch.Generator().manual_seed(0)
loop_idx = idx
with torch.no_grad():
    for step in range(8):
        window = loop_idx[:, -cfg.context :]  # the model sees at most `context` tokens
        p = torch.softmax(model(window)[0][:, -1, :].float() / 0.8, dim=-1)  # temperature 0.8
        nxt = torch.multinomial(p.cpu(), 1, generator=generator).to(p.device)  # draw on the CPU
        p_drawn = p[0, nxt.item()].item()
        rank = int((p[0] > p_drawn).sum()) + 1
        tail = p[0][p[0] < 0.01].sum().item()
        print(f"turn {step}: sees {window.size(1)} tokens, draws {token_label(tok, nxt.item())!r:>12} "
              f"(probability {p_drawn:.3f}, rank {rank:4d}; tokens under 1 % hold {tail:.0%})")
        loop_idx = torch.cat([loop_idx, nxt], dim=1)
print()
print(tok.decode(loop_idx[0].tolist()))

# %% [markdown]
# The draw is not always the favourite (look at the ranks): now and then it is a token the model gave
# about 1 % or less, which at two decimals prints as 0.01 or even "0.00". That is not a bug: sampling
# draws each token
# *with* its probability, and although every unlikely token is rare on its own, there are thousands of
# them, and together they often hold a real share of the probability (the last number on each line).
# A temperature below 1 shrinks that share, and top-k and top-p sampling (*chapter 07*) cut it off.

# %% [markdown]
# The package's `gptbook.sampling.generate` is this loop (plus a KV cache that makes it faster, plus
# top-k and top-p, *chapter 07*). With the same random seed it draws the same tokens:

# %%
from gptbook.sampling import generate

package_idx = generate(model, idx, 8, temperature=0.8, generator=torch.Generator().manual_seed(0))
print("same tokens as our loop:", torch.equal(package_idx, loop_idx))

# %% [markdown]
# Where did the model's knowledge come from? From **pretraining** (*chapter 08*): it played this
# next-token game on Shakespeare's text, millions of times, and every wrong guess nudged its weights.
# GPT-2 and GPT-3 are the same machine, bigger, trained on far more text.
#
# ## 7. Try it
#
# Type a prompt, move the temperature: near 0 the model always takes its favourite token (and soon
# repeats itself); around 0.8 it reads most like Shakespeare; above 1.5 it falls apart. Change the seed
# for another draw. The function behind the widget, `gptbook.widgets.generate.generate_text`:

# %%
from gptbook.widgets.generate import generate_text, generate_widget
from gptbook.widgets.temperature import PromptError, training_alphabet

g = generate_text(model, tok, "Romeo.\n", temperature=0.8, max_new_tokens=40, seed=0,
                  alphabet=training_alphabet())
print(f"{g.new_tokens} new tokens after {g.prompt!r}")
for bad in ("", "你好"):
    try:
        generate_text(model, tok, bad, alphabet=training_alphabet())
    except PromptError as e:
        print("refused:", e)

# %% tags=["nbval-ignore-output"]
from gptbook.pretrained import words_in_corpus

print(g.text)
real = words_in_corpus(g.continuation, shakespeare_split()[0]).fraction
print(f"\n({real:.0%} of the words it wrote occur in the training text)")

# %% tags=["nbval-ignore-output"]
generate_widget(model, tok, prompt="Romeo.\n", temperature=0.8, max_new_tokens=60)

# %% [markdown]
# ## The map of the book
#
# | Step | What happens | Code in `gptbook/` | Chapter |
# |---|---|---|---|
# | text → tokens | cut text into known pieces, number them | `tokenizers` | 01 |
# | tokens → vectors | one-hot, a learned table, positions | `bigram`, `window`, `word2vec` | 02, 03, 04 |
# | attention | each token gathers from earlier tokens | `attention` | 05 |
# | MLP, residual, layer norm, × N | the decoder block, stacked | `model` | 06 |
# | logits → softmax → sample | temperature, top-k, top-p, beam search, KV cache | `sampling` | 07 |
# | learning the weights | next-token loss, AdamW, checkpoints | `train`, `optim`, `checkpoint` | 08 |
# | text predictor → tool | a classifier head; instruction following | `classify`, `instruct` | 09, 10 |
# | from base model to assistant | rewards, preferences, retrieval | — | 11 (to come) |
#
# The design is GPT-2's (Radford et al., 2019, *Language Models are Unsupervised Multitask Learners*),
# built on the transformer decoder (Vaswani et al., 2017, *Attention Is All You Need*); GPT-3 (Brown et
# al., 2020, *Language Models are Few-Shot Learners*) is the same design, about 100 times bigger than
# GPT-2.
#
# ## Checks

# %%
assert tok.decode(ids) == prompt  # tokens round-trip
assert held_out_loss < math.log(cfg.vocab_size) - 2  # trained: far below a uniform guess
assert same  # our step-by-step pass is the model's pass
assert probs_08.max() > probs.max()  # T < 1 sharpens: the favourite gains
assert torch.equal(package_idx, loop_idx)  # the package's generate is our loop
assert real > 0.8  # it writes real words
