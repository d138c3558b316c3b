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
# # 07 Softmax, temperature and decoding
#
# A GPT does not write text. It gives, for the next token, one number per token of its vocabulary:
# the **logits**. Everything between those numbers and the text you read is decided *outside* the
# network, by a few lines of code: softmax turns the logits into probabilities, the **temperature**
# makes them sharper or flatter, and a **decoding** rule (greedy, sampling, top-k, top-p, beam
# search) picks a token. Then the token is appended and everything runs again.
#
# This chapter uses the book's own base model: a small GPT trained on Shakespeare (chapter 08 tells
# how). It is tiny next to GPT-2, so its Shakespeare is shaky, but every knob behaves exactly as it
# does in a big model.

# %%
import math
import time

import matplotlib.pyplot as plt
import torch
from matplotlib_inline.backend_inline import set_matplotlib_formats

from gptbook.device import device, seed_everything
from gptbook.pretrained import load_base_model

dev = device()
seed_everything(0)
set_matplotlib_formats("retina")  # sharp figures on high-resolution screens (still PNG)
model, tok = load_base_model(device=dev)
V, C = model.config.vocab_size, model.config.context
print(f"{model.num_params():,} parameters, vocabulary of {V:,} tokens, context of {C} tokens")

# %% [markdown]
# Its loss on held-out Shakespeare, text it never trained on, is far below `ln(V)`, the loss of a
# uniform guess: the weights are trained.

# %%
from gptbook.data import shakespeare_split
from gptbook.train import evaluate

held_out_loss = evaluate(model, tok.encode(shakespeare_split()[1][:20_000])[: 4 * C + 1], C,
                         device=dev)["loss"]
print(f"held-out loss {held_out_loss:.1f} nats per token; uniform guess ln({V:,}) = {math.log(V):.1f}")

# %% [markdown]
# ## 1. From logits to probabilities
#
# We give the model a prompt and look at the logits of the **last** position: its guess for the
# token that comes next.

# %%
prompt = "Juliet.\nO Romeo, Romeo! wherefore art thou"
idx = torch.tensor([tok.encode(prompt)], device=dev)
with torch.no_grad():
    logits = model(idx)[0][0, -1].float().cpu()  # (V,): one number per token
print("logits:", tuple(logits.shape))

# %% [markdown]
# Logits can be any real numbers, negative too. **Softmax** makes them probabilities: exponentiate
# (everything becomes positive, bigger stays bigger) and divide by the sum (everything adds up to 1):
#
# $$p_i = \frac{e^{z_i}}{\sum_j e^{z_j}}$$

# %%
p_hand = logits.exp() / logits.exp().sum()
p_torch = torch.softmax(logits, dim=-1)
print(f"sum of all {V:,} probabilities: {p_hand.sum().item():.4f}")
print("same as torch.softmax:", torch.allclose(p_hand, p_torch, atol=1e-7))
print(f"the largest logit {logits.max():.1f} becomes the largest probability {p_hand.max():.3f}; "
      f"the smallest logit {logits.min():.1f} becomes {p_hand.min():.1e}")

# %% [markdown]
# The five most likely next tokens (a `·` is a space):

# %%
from gptbook.widgets.temperature import token_label

top5 = torch.topk(p_torch, 5)
for p, i in zip(top5.values, top5.indices):
    print(f"{token_label(tok, int(i)):>12}  logit {logits[i]:6.1f}  probability {p:.2f}")

# %% [markdown]
# ### The max-subtraction trick
#
# `exp` grows very fast. In 32-bit floats, `exp(89)` is already too big and becomes `inf`; then the
# division is `inf / inf`, which is `nan` ("not a number"). Big logits are normal, for example after
# dividing by a small temperature. Watch the naive formula fail:

# %%
z = torch.tensor([1000.0, 999.0, 998.0])
naive = z.exp() / z.exp().sum()
print("exp(z):", z.exp().tolist(), "-> naive softmax:", naive.tolist())

# %% [markdown]
# The fix: subtract the largest logit first. Multiplying the top and the bottom of the fraction by the
# same number $e^{-m}$ changes nothing, so $\mathrm{softmax}(z - m) = \mathrm{softmax}(z)$, and now the
# largest exponent is $e^0 = 1$: nothing can overflow.

# %%
def stable_softmax(z: torch.Tensor) -> torch.Tensor:
    e = (z - z.max()).exp()
    return e / e.sum()


print("stable softmax:", [round(v, 4) for v in stable_softmax(z).tolist()])
print("equals torch.softmax:", torch.allclose(stable_softmax(z), torch.softmax(z, -1)))
print("and on the model's logits:", torch.allclose(stable_softmax(logits), p_torch, atol=1e-7))

# %% [markdown]
# `torch.softmax` does this subtraction for you, and so does every serious implementation.

# %% [markdown]
# ## 2. Temperature
#
# Divide the logits by a number $T$ before the softmax: $p = \mathrm{softmax}(z / T)$.
#
# * $T = 1$: the model's own distribution.
# * $T < 1$: differences between logits grow; the likely tokens get even more likely. As $T \to 0$,
#   all the probability goes to the single most likely token (the argmax).
# * $T > 1$: differences shrink; the distribution gets flatter. As $T \to \infty$ every token gets
#   $1/V$.

# %%
from gptbook.widgets.temperature import next_token_view, view_figure

fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
for ax, t in zip(axes, (0.5, 1.0, 2.0)):
    view_figure(next_token_view(model, tok, prompt, t, top=8), ax=ax, title=f"T = {t}")
fig.suptitle(f"The 8 most likely next tokens after {prompt!r}, at three temperatures", fontsize=11)
fig.tight_layout()
plt.show()

# %% [markdown]
# Going to $T \to 0$ step by step: the top token's probability climbs to 1, and at $T = 0$ the book's
# code (`gptbook.sampling.apply_temperature`) puts probability 1 on the argmax.

# %%
from gptbook.sampling import apply_temperature, next_token_probs

top_prob = {}
for t in (2.0, 1.0, 0.5, 0.1, 0.01):
    top_prob[t] = torch.softmax(logits / t, -1).max().item()
    print(f"T = {t:<4}  probability of the top token {top_prob[t]:.3f}")
p_zero = next_token_probs(model, idx, temperature=0)[0].cpu()
print("T = 0: one-hot on the argmax:", int(p_zero.argmax()) == int(logits.argmax())
      and p_zero.sum().item() == 1.0 and p_zero.max().item() == 1.0)

# %% [markdown]
# How spread out a distribution is can be measured by its **entropy** in bits, $-\sum p \log_2 p$.
# $2^{\text{entropy}}$ is the number of equally likely tokens that would be as uncertain. It grows with
# $T$ toward the whole vocabulary; the values at $T = 0.1$ and $T = 1$ are printed under the plot.

# %%
from gptbook.widgets.temperature import entropy_curve

temps = [0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0]
entropies = entropy_curve(model, tok, prompt, temps)
plt.figure(figsize=(6, 3))
plt.semilogx(temps, entropies, "o-")
plt.axhline(math.log2(V), color="grey", ls=":", label=f"uniform over {V:,} tokens")
plt.xlabel("temperature T")
plt.ylabel("entropy (bits)")
plt.title(f"Entropy of the next-token distribution after {prompt[-20:]!r}")
plt.legend()
plt.show()
for t in (0.1, 1.0):
    h = entropies[temps.index(t)]
    print(f"T = {t}: entropy {h:.1f} bits, as uncertain as a choice among {2 ** h:.0f} equally likely tokens")

# %% [markdown]
# ### Why APIs cap the temperature
#
# Hosted models accept only a limited range (OpenAI's API 0 to 2, Anthropic's 0 to 1). Past about 1.5
# the flattened distribution gives real probability to thousands of tokens that make no sense there,
# and one bad token derails everything after it. Here are 30 tokens at four temperatures, with the
# share of words that are real words of the corpus. All four use the same random seed, so they draw
# the same random numbers: the texts start alike and drift apart as the temperature reshapes the
# distribution.

# %% tags=["nbval-ignore-output"]
from gptbook.data import shakespeare
from gptbook.pretrained import words, words_in_corpus
from gptbook.sampling import generate

corpus_words = set(words(shakespeare()))
start = torch.tensor([tok.encode("Romeo.\n")], device=dev)
real_words = {}
for t in (0.5, 1.0, 2.0, 5.0):
    out = generate(model, start, 30, temperature=t, generator=torch.Generator().manual_seed(1))
    text = tok.decode(out[0, start.size(1):].tolist())
    real_words[t] = words_in_corpus(text, corpus_words).fraction
    print(f"--- T = {t}: {real_words[t]:.0%} real words ---\nRomeo.\n{text}\n")

# %% [markdown]
# At $T = 5$ fewer of the words are real than at $T = 0.5$ (the shares are printed above each text):
# the flattened distribution lets nonsense pieces through.

# %% [markdown]
# ## 3. Try it: the temperature slider
#
# Type a prompt and move the slider. The bars are the 10 most likely next tokens; the line above them
# says how much of the probability they hold, checks that all probabilities still sum to 1, and gives the
# entropy. The function behind the widget is `gptbook.widgets.temperature.next_token_view`; here it is
# called once, with a good prompt and two it refuses:

# %%
from gptbook.widgets.temperature import PromptError, temperature_widget, training_alphabet

view = next_token_view(model, tok, prompt, 0.8, top=10, alphabet=training_alphabet())
print("top 3 tokens at T = 0.8:", view.labels[:3])
print(f"sum of all probabilities: {view.total:.4f}")
for bad in ("", "Привет, Джульетта"):
    try:
        next_token_view(model, tok, bad, 0.8, alphabet=training_alphabet())
    except PromptError as e:
        print("refused:", e)

# %% [markdown]
# Why refuse Russian? The book's tokenizer is byte-level BPE, so it *can* encode any text, as bytes. But
# the model learned from Shakespeare's plain ASCII text: it has never seen the bytes of a Cyrillic or
# Chinese letter and has learned nothing about what follows them. The widget calls a character
# "never seen" when it does not occur in the training text, and says so instead of drawing noise.

# %% tags=["nbval-ignore-output"]
temperature_widget(model, tok, prompt=prompt, temperature=1.0)

# %% [markdown]
# ## 4. Decoding: five ways to pick the next token
#
# * **Greedy**: always the most likely token ($T = 0$). Deterministic, and prone to loops (shown
#   below).
# * **Sampling**: draw from the distribution at $T = 1$. Varied, but now and then a very unlikely token
#   is drawn and the text derails.
# * **Top-k** (Fan et al., 2018): keep the $k$ most likely tokens, renormalise, sample.
# * **Top-p**, or nucleus sampling (Holtzman et al., 2019): keep the smallest set of most likely tokens
#   whose probabilities add up to $p$, renormalise, sample. The set is small when the model is sure and
#   large when it is not, which a fixed $k$ cannot do:

# %%
from gptbook.sampling import filter_logits

for text in (prompt, "Romeo.\n"):
    with torch.no_grad():
        z_last = model(torch.tensor([tok.encode(text)], device=dev))[0][0, -1].float()
    kept = torch.isfinite(filter_logits(z_last, top_p=0.9)).sum().item()
    print(f"top-p 0.9 keeps {kept:4d} of {V:,} tokens after {text!r}")

# %% [markdown]
# * **Beam search**: keep the `beam_width` most likely *sequences* so far; extend each by every token;
#   keep the best `beam_width` again. It looks for the most likely whole continuation, not the most
#   likely next token. We rank its candidates by **perplexity**, $e^{-\frac{1}{n}\sum \ln p}$ over the
#   $n$ new tokens: lower means the model finds the text more likely.
#
# All five from one prompt, 30 new tokens each. The prompt is the first line Romeo speaks in the
# held-out validation text, which the model never trained on; next to the five we put what Shakespeare
# actually wrote next.

# %% tags=["nbval-ignore-output"]
from gptbook.data import shakespeare_split
from gptbook.sampling import beam_search, greedy

val_text = shakespeare_split()[1]
at = val_text.index("Romeo.\n")
prompt2 = val_text[at : val_text.index("\n", at + 7) + 1]  # the speaker's name and first line
idx2 = torch.tensor([tok.encode(prompt2)], device=dev)
N = 30
passage = tok.encode(val_text[at : at + 2000])
assert passage[: idx2.size(1)] == idx2[0].tolist()  # the prompt's tokens start the passage's tokens
real_ids = passage[idx2.size(1) : idx2.size(1) + N]


def seeded() -> torch.Generator:
    return torch.Generator().manual_seed(7)


decoded = {
    "greedy": greedy(model, idx2, N),
    "sampling, T = 1": generate(model, idx2, N, temperature=1.0, generator=seeded()),
    "top-k, k = 20": generate(model, idx2, N, temperature=1.0, top_k=20, generator=seeded()),
    "top-p, p = 0.9": generate(model, idx2, N, temperature=1.0, top_p=0.9, generator=seeded()),
}
beams = beam_search(model, idx2, N, beam_width=4)
decoded["beam search, width 4"] = torch.cat([idx2, torch.tensor([beams[0].tokens], device=dev)], dim=1)
decoded["Shakespeare"] = torch.cat([idx2, torch.tensor([real_ids], device=dev)], dim=1)
for name, out in decoded.items():
    print(f"=== {name} ===\n{tok.decode(out[0].tolist())}\n")

# %% [markdown]
# **Greedy falls into loops.** Thirty tokens are too few to see it. Here are 200 tokens, greedy and
# sampled at $T = 1$, and a measure of repetition: of all the runs of 4 consecutive tokens, the share
# that are *distinct* (1 means no 4 tokens ever repeat; a text that loops has a low share). Once greedy
# revisits a state it has seen, it must repeat what followed it: nothing random can pull it out.

# %% tags=["nbval-ignore-output"]
def distinct_share(ids: list[int], n: int = 4) -> float:
    runs = [tuple(ids[i : i + n]) for i in range(len(ids) - n + 1)]
    return len(set(runs)) / len(runs)


n_long = min(200, C - idx2.size(1))
greedy_long = greedy(model, idx2, n_long)[0, idx2.size(1):].tolist()
sampled_long = generate(model, idx2, n_long, temperature=1.0, generator=seeded())[0, idx2.size(1):].tolist()
repetition = {"greedy": distinct_share(greedy_long), "sampling, T = 1": distinct_share(sampled_long)}
for name, share in repetition.items():
    print(f"{name}: {share:.0%} of its 4-token runs are distinct")
print("\nthe end of the greedy text:\n", tok.decode(greedy_long)[-300:])

# %% [markdown]
# The perplexity of a continuation can be computed by hand: run the model once on prompt + continuation
# and add up the log-probabilities it gave to each new token.

# %%
@torch.no_grad()
def perplexity(model, prompt_ids: torch.Tensor, new_ids: list[int]) -> float:
    """exp(-mean log p) of the tokens `new_ids` after `prompt_ids` (1, T)."""
    full = torch.cat([prompt_ids, torch.tensor([new_ids], device=prompt_ids.device)], dim=1)
    log_probs = torch.log_softmax(model(full)[0][0].float(), dim=-1)  # (T_full, V)
    n0 = prompt_ids.size(1)
    picked = log_probs[n0 - 1 : -1].gather(1, torch.tensor(new_ids, device=full.device)[:, None])
    return math.exp(-picked.mean().item())


hand_ppl = [perplexity(model, idx2, b.tokens) for b in beams]
print("beam candidates, best first (perplexity by beam_search / by hand):")
for b, h in zip(beams, hand_ppl):
    print(f"  {b.perplexity:7.2f} / {h:7.2f}   {tok.decode(b.tokens)[:60]!r}")

# %% [markdown]
# And all six, scored the same way. Greedy and beam search find text the model likes (low perplexity),
# and it is bland and repetitive. Shakespeare's own line has a much higher perplexity: Holtzman et al.
# (2019) observed that human writing is *not* the most likely text, which is why maximising likelihood
# produces dull loops and why sampling, with top-k or top-p to cut off the nonsense tail, reads more
# naturally.

# %% tags=["nbval-ignore-output"]
scores = {name: perplexity(model, idx2, out[0, idx2.size(1):].tolist()) for name, out in decoded.items()}
for name, ppl in sorted(scores.items(), key=lambda kv: kv[1]):
    print(f"{name:>22}: perplexity {ppl:6.2f}")

# %% [markdown]
# ## 5. The generation loop, and the context window
#
# Generation is a loop: crop the text to the last `context` tokens (all the model can see), run the
# model, take the last position's logits, divide by $T$, softmax, draw a token, append it, repeat.

# %%
@torch.no_grad()
def generate_by_hand(model, idx, max_new_tokens, temperature, generator):
    for _ in range(max_new_tokens):
        window = idx[:, -model.config.context :]  # the model sees at most `context` tokens
        logits = model(window)[0][:, -1, :].float() / temperature
        probs = torch.softmax(logits, dim=-1)
        # the generator lives on the CPU, so the draw happens there (the same on any device)
        next_token = torch.multinomial(probs.cpu(), 1, generator=generator).to(idx.device)
        idx = torch.cat([idx, next_token], dim=1)
    return idx


by_hand = generate_by_hand(model, idx2, 20, 0.8, torch.Generator().manual_seed(3))
by_package = generate(model, idx2, 20, temperature=0.8, use_cache=False,
                      generator=torch.Generator().manual_seed(3))
print("the package's generate gives the same tokens:", torch.equal(by_hand, by_package))

# %% [markdown]
# **What falls out of the window.** The model has a context of `C` tokens. When the text is longer,
# only its last `C` tokens are fed in; everything before is gone, as if it had never been written.
# We take a passage longer than the context, and compare the prediction after the whole passage with
# the prediction after its last `C` tokens only, and after a version whose dropped part is replaced
# by other text:

# %%
long_ids = tok.encode(val_text[:6000])[: C + 100]  # 100 tokens more than the model can see
dropped = long_ids[:100]
print(f"{len(long_ids)} tokens; the first {len(dropped)} fall out of the window. They were:")
print(repr(tok.decode(dropped)[:200]), "...")

other = tok.encode(val_text[-6000:])[:100]
with torch.no_grad():
    p_whole = next_token_probs(model, torch.tensor([long_ids], device=dev))
    p_window = next_token_probs(model, torch.tensor([long_ids[-C:]], device=dev))
    p_swapped = next_token_probs(model, torch.tensor([other + long_ids[100:]], device=dev))
print("whole text vs last C tokens:      identical =", torch.equal(p_whole, p_window))
print("dropped part replaced by other text: identical =", torch.equal(p_whole, p_swapped))

# %% [markdown]
# Whatever the dropped part said, a name, a question, a promise, cannot change the next token. That is
# the hard memory limit of a GPT: GPT-2 sees 1,024 tokens, GPT-3 2,048, and this model `C` (printed at
# the top of the chapter). The model itself refuses a longer input instead of silently cropping it;
# cropping is the caller's decision:

# %%
try:
    model(torch.tensor([long_ids], device=dev))
except ValueError as e:
    print("ValueError:", e)

# %% [markdown]
# ## 6. The KV cache
#
# In the loop above every step runs the model on the *whole* window again, although only one token is
# new. But the keys and values of the old tokens do not change (the causal mask stops them from seeing
# the new token). A **KV cache** keeps them: each step then feeds only the newest token, computes its
# query, key and value, and attends to the stored keys and values. Same numbers, less work.
#
# How much less? For a model of width `d`, step `t` without a cache runs all `t` tokens through every
# layer: the projections and the MLP cost about `12d²` multiply-adds per token, `t · 12d²` in all, and
# attention compares all `t` queries with all `t` keys and mixes the values, about `2t² · d`. With the
# cache only the new token goes through the projections and the MLP (`12d²`), but its attention still
# reads all `t` stored keys and values (`2t · d`). So a cached step is *not* constant work: its
# attention part grows linearly with `t`. What the cache removes is the recomputation of the old
# tokens, which makes every step about `t` times cheaper, not "one token of work". (Above the layers
# the unembedding costs `V · d` for each position it scores; `gptbook`'s model scores every position
# it is given, so without a cache that cost is paid `t` times too.) For this model at a full window:

# %%
d = model.config.d_model
per_layer = {"without cache": C * 12 * d * d + 2 * C * C * d, "with cache": 12 * d * d + 2 * C * d}
for name, ops in per_layer.items():
    print(f"step t = {C}, {name}: about {ops:,} multiply-adds per layer")
print(f"with the cache, attention is {2 * C * d / per_layer['with cache']:.0%} of a step's work at t = {C} "
      f"(and {2 * d / (12 * d * d + 2 * d):.1%} at t = 1)")

# %% [markdown]
# We time greedy generation both ways, filling the context window (the timing depends on the machine
# and on what else runs on it):

# %% tags=["nbval-ignore-output"]
short = torch.tensor([tok.encode("Romeo.\n")], device=dev)
n_new = C - short.size(1)  # fill the window exactly
timing = {}
outputs = {}
for use_cache in (False, True):
    t0 = time.perf_counter()
    outputs[use_cache] = greedy(model, short, n_new, use_cache=use_cache)
    timing[use_cache] = time.perf_counter() - t0
print(f"{n_new} tokens without cache {timing[False]:.2f} s, with cache {timing[True]:.2f} s: "
      f"{timing[False] / timing[True]:.1f} times faster")

# %%
print("same tokens with and without the cache:", torch.equal(outputs[False], outputs[True]))

# %% [markdown]
# **The price is memory.** Each layer keeps a key and a value, `d` numbers each, for every token of the
# text. For one sequence that fills the context, by hand from the loaded model's shape, and measured
# on a real cache the package fills:

# %%
from gptbook.model import GPTConfig

cfg = model.config
bytes_per_number = next(model.parameters()).element_size()  # 4 for float32
cache_bytes_by_hand = 2 * cfg.n_layer * C * cfg.d_model * bytes_per_number  # keys and values
cache = model.new_cache()
with torch.no_grad():
    model(torch.tensor([long_ids[-C:]], device=dev), cache=cache)  # a full window
cache_bytes = sum(t.numel() * t.element_size() for layer in cache.layers for t in (layer.k, layer.v))
print(f"2 (key, value) x {cfg.n_layer} layers x {C} tokens x {cfg.d_model} numbers x {bytes_per_number} "
      f"bytes = {cache_bytes_by_hand:,} bytes ({cache_bytes_by_hand / 2**20:.1f} MiB)")
print(f"the package's cache after {cache.length} tokens holds {cache_bytes:,} bytes")
for name, big in (("GPT-2 small", GPTConfig.gpt2_small()), ("GPT-3 175B", GPTConfig.gpt3_175b())):
    per_seq = 2 * big.n_layer * big.context * big.d_model * 2  # 16-bit numbers, as served
    print(f"{name}: 2 x {big.n_layer} x {big.context:,} x {big.d_model:,} x 2 bytes = "
          f"{per_seq / 2**30:.2f} GiB for one sequence at full context")

# %% [markdown]
# ## Exercises
#
# Four exercises, from easy to stretch. Each answer cell starts as a stub (`...`): replace it with
# your answer, then run the check cell under it. The checker runs your answer on test inputs and says
# which input failed, what was expected, what came back, and a hint. A *Predict* exercise runs its
# small experiment (a few seconds) once you have made your prediction. A *Think* question has no
# single right wording: the checker looks for the key ideas. `show_solution("07.1")` shows a solution;
# try first.

# %%
from gptbook.exercises import check, show_solution

# %% [markdown]
# **07.1 Implement: softmax with temperature.** `softmax_t(logits, T)`: probabilities from logits at
# temperature T > 0, along the last dimension (each row separately), safe for large logits.

# %%
def softmax_t(logits, T):
    ...  # your code here

# %%
check("07.1", softmax_t)

# %% [markdown]
# **07.2 Implement: the top-p (nucleus) filter.** `top_p_filter(probs, p)`: keep the most likely
# tokens, in order of probability, until their total reaches at least p (always at least one); zero
# the rest and renormalise so the kept ones sum to 1. probs is a 1-D tensor.

# %%
def top_p_filter(probs, p):
    ...  # your code here

# %%
check("07.2", top_p_filter)

# %% [markdown]
# **07.3 Predict: top-k with k = 1.** Sample from the book's model with top_k=1 at temperature 1, with
# three different seeds. Is the text the same as greedy decoding's, every time?
#
# - `"yes"`: the same as greedy, whatever the seed
# - `"no"`: different texts
#
# Write your prediction first; the check then runs the experiment and shows what happened.

# %%
prediction_07_3 = ...  # "yes" or "no"

# %%
check("07.3", prediction_07_3)

# %% [markdown]
# **07.4 Think: why the most likely text reads badly.** Greedy decoding and beam search look for the
# most likely continuation, yet chat models sample (with a temperature and top-p). Why does the most
# likely text often read worse than a sample? Write your answer as a string.

# %%
answer_07_4 = ...  # "your answer, in a few sentences"

# %%
check("07.4", answer_07_4)


# %% [markdown]
# GPT-3's cache for a single full-context sequence is several gigabytes, on top of its 350 GB of
# 16-bit weights, and a server keeps one per conversation. That is why long contexts are expensive to
# serve. (When the text outgrows the context, the window slides and every position shifts, so
# `gptbook.sampling` starts a fresh cache on the cropped window; the speed-up is for texts within the
# context.)
#
# ## References
#
# * Fan, Lewis and Dauphin (2018). *Hierarchical Neural Story Generation*, ACL (top-k sampling).
# * Holtzman, Buys, Du, Forbes and Choi (2019). *The Curious Case of Neural Text Degeneration*,
#   arXiv:1904.09751, ICLR 2020 (top-p, nucleus sampling).
# * Radford, Wu, Child, Luan, Amodei and Sutskever (2019). *Language Models are Unsupervised Multitask
#   Learners* (GPT-2, context 1,024).
# * Brown et al. (2020). *Language Models are Few-Shot Learners*, NeurIPS (GPT-3, context 2,048).
#
# ## Checks

# %%
assert held_out_loss < math.log(V) - 2  # trained weights: far below a uniform guess
assert torch.allclose(p_hand, p_torch, atol=1e-7)  # our formula is torch's softmax
assert torch.isnan(naive).all() and torch.allclose(stable_softmax(z), torch.softmax(z, -1))
assert top_prob[0.01] >= top_prob[0.1] >= top_prob[0.5] >= top_prob[1.0] >= top_prob[2.0]  # T -> 0 sharpens
assert int(p_zero.argmax()) == int(logits.argmax()) and p_zero.max().item() == 1.0  # T = 0 is the argmax
assert all(a < b for a, b in zip(entropies, entropies[1:])) and entropies[-1] < math.log2(V)  # T flattens
assert abs(view.total - 1) < 1e-4 and view.labels[0] == token_label(tok, int(logits.argmax()))
assert [b.perplexity for b in beams] == sorted(b.perplexity for b in beams)  # ranked by perplexity
assert all(abs(b.perplexity / h - 1) < 1e-3 for b, h in zip(beams, hand_ppl))  # and the hand count agrees
assert scores["Shakespeare"] > beams[0].perplexity  # real text is not the most likely text
assert torch.equal(by_hand, by_package)  # the loop by hand is the package's loop
assert torch.equal(p_whole, p_window) and torch.equal(p_whole, p_swapped)  # what falls out is gone
assert torch.equal(outputs[False], outputs[True])  # the cache changes the speed, not the tokens
assert real_words[0.5] > real_words[5.0]  # high temperature: fewer real words
assert repetition["greedy"] < repetition["sampling, T = 1"]  # greedy repeats itself more
assert cache_bytes == cache_bytes_by_hand and cache.length == C  # the memory formula is the cache's size
