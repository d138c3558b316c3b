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
# # 02 One-hot and the neural net
#
# Chapter 01 turned text into token ids: whole numbers. A neural net cannot do much with "token 17"
# as a number, because 17 is not "more" than 16 in any useful way. In this chapter we:
#
# 1. write a token as a **one-hot vector** (the 33-letter Russian alphabet is our first example);
# 2. read a net's output as a **probability distribution** and **sample** from it;
# 3. build the **perceptron** (a weighted sum and an activation: sigmoid, tanh);
# 4. write a **multi-layer perceptron** (MLP) as matrix products;
# 5. see that **cross-entropy is the negative log-likelihood**, and measure it in nats, bits and
#    perplexity;
# 6. derive its gradient, `p − y`, and use the **chain rule** to get every gradient of the MLP
#    (**backpropagation**), by hand, checked against PyTorch and against finite differences;
# 7. write **gradient descent** by hand and train an MLP on XOR, which no perceptron can learn;
# 8. train a **bigram** next-character model on Shakespeare with the same hand-written loop, show
#    that it reaches the loss of simply counting, and see why counting stops working for longer
#    contexts.
#
# Sources: Rosenblatt (1958), "The perceptron: a probabilistic model for information storage and
# organization in the brain"; Rumelhart, Hinton and Williams (1986), "Learning representations by
# back-propagating errors". Text: Shakespeare's complete works from Project Gutenberg (public domain),
# through `gptbook.data`.

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from gptbook.bigram import (
    BigramLM,
    CountingBigram,
    context_coverage,
    count_bigrams,
    evaluate,
    random_windows,
    sample,
)
from gptbook.data import shakespeare_split
from gptbook.device import device, seed_everything
from gptbook.mlp import (
    MLPParams,
    cross_entropy,
    mlp_backward,
    mlp_forward,
    numerical_gradient,
    perceptron,
    softmax,
)
from gptbook.tokenizers import CharTokenizer

# These models are tiny: one CPU thread is as fast as two, and much faster when other programs share
# the CPU (threads then wait for each other). This setting only affects this notebook's kernel.
torch.set_num_threads(1)
seed_everything(0)
dev = device()
# %config InlineBackend.figure_format = "retina"

# %% [markdown]
# ## 1. A token as a one-hot vector
#
# The Russian alphabet has 33 letters. Give each letter an id (its place in sorted order), then write
# letter number `i` as a vector of 33 zeros with a single 1 at place `i`. That is a **one-hot** vector.
# All one-hot vectors have the same length, and no letter is "bigger" than another.

# %%
alphabet = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
ru = CharTokenizer(alphabet)
print(ru.vocab_size, "letters")
print("".join(ru.chars))

# %% [markdown]
# Notice `ё` at the end. Sorting uses the Unicode code points, and `ё` (U+0451) comes after `я`
# (U+044F), not after `е` as in a Russian dictionary. Any fixed order works for ids; it only has to
# stay the same.
#
# Now the word **мир** ("peace", "world") as three one-hot rows:

# %%
ids = ru.encode("мир")
one_hot = F.one_hot(torch.tensor(ids), num_classes=ru.vocab_size)
print("ids:", ids)
print(one_hot)
print("ones per row:", one_hot.sum(dim=1).tolist())

# %%
word = "привет"
fig, ax = plt.subplots(figsize=(9, 2.6))
im = ax.imshow(F.one_hot(torch.tensor(ru.encode(word)), ru.vocab_size), cmap="Greys", aspect="auto")
ax.set_yticks(range(len(word)), list(word))
ax.set_xticks(range(ru.vocab_size), ru.chars, fontsize=7)
ax.set_xlabel("letter of the alphabet (in id order)")
ax.set_ylabel("letter of the word")
fig.colorbar(im, ax=ax, ticks=[0, 1], fraction=0.03, pad=0.02, label="value")
ax.set_title("'привет' (hello) as one-hot rows: a single 1 (black) per row")
plt.show()

# %% [markdown]
# ## 2. A net's output is a probability distribution
#
# A language model ends with one number per token of the vocabulary, the **logits**. Softmax turns
# them into probabilities: take `exp` of each (all positive), divide by the sum (they add up to 1).
# Then we **sample**: draw a token, each with its probability. Here are made-up logits for 5 letters.

# %%
letters = ["а", "б", "в", "г", "д"]
logits = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0])
probs_by_hand = torch.exp(logits) / torch.exp(logits).sum()
print("probabilities:", [round(p, 3) for p in probs_by_hand.tolist()],
      "sum =", round(probs_by_hand.sum().item(), 6))
assert (torch.allclose(probs_by_hand, softmax(logits))
        and torch.allclose(probs_by_hand, torch.softmax(logits, 0)))

# %%
g = torch.Generator().manual_seed(0)
draws = torch.multinomial(probs_by_hand, 10_000, replacement=True, generator=g)
freq = torch.bincount(draws, minlength=5) / 10_000
for letter, p, f in zip(letters, probs_by_hand.tolist(), freq.tolist()):
    print(f"{letter}: probability {p:.3f}   drawn {f:.3f} of the time")
print("ten draws:", "".join(letters[i] for i in draws[:10].tolist()))

# %% [markdown]
# Sampling does not always pick the most likely letter: `а` is drawn about half the time, but `д`
# still appears now and then. That is why a language model can write a different text each time.
#
# ## 3. The perceptron
#
# A perceptron (Rosenblatt, 1958) multiplies each input by a weight, adds them up with a bias, and
# passes the sum `z` through an **activation**. The first perceptrons used a step (output 1 if
# `z > 0`, else 0). With weights (1, 1) and bias -1.5, a step perceptron computes logical AND:

# %%
inputs = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
w_and, b_and = torch.tensor([1.0, 1.0]), -1.5
print("z by hand:", [x1 * 1.0 + x2 * 1.0 - 1.5 for x1, x2 in inputs.tolist()])
print("AND      :", perceptron(inputs, w_and, b_and, "step").tolist())

# %% [markdown]
# A step has no slope, so we cannot learn its weights by following a gradient. Smooth activations fix
# that: the **sigmoid** `1 / (1 + e^-z)` goes from 0 to 1, and **tanh** goes from -1 to 1.

# %%
z = torch.linspace(-5, 5, 201)
fig, ax = plt.subplots(figsize=(6, 3))
for name in ["step", "sigmoid", "tanh"]:
    ax.plot(z, perceptron(z.unsqueeze(1), torch.ones(1), 0.0, name), label=name)
ax.axhline(0, color="grey", lw=0.5)
ax.set_xlabel("z = w·x + b")
ax.set_ylabel("activation(z)")
ax.legend()
ax.set_title("Three activations of a perceptron")
plt.show()
print("sigmoid(0) =", perceptron(torch.zeros(1, 1), torch.ones(1), 0.0, "sigmoid").item(),
      " tanh(0) =", perceptron(torch.zeros(1, 1), torch.ones(1), 0.0, "tanh").item())

# %% [markdown]
# ## 4. A multi-layer perceptron is matrix products
#
# Put several perceptrons side by side and they form a **layer**: each one has its own column of
# weights. Computing them one by one, or all at once as a matrix product, gives the same numbers.
# Stack two layers and you have an MLP: `h = tanh(x @ W1 + b1)`, `logits = h @ W2 + b2`.

# %%
g = torch.Generator().manual_seed(1)
params = MLPParams.random(d_in=4, d_hidden=3, d_out=5, generator=g)
x = torch.randn(2, 4, generator=g, dtype=torch.float64)

# one perceptron (one column of W1) at a time, one example at a time
h_loop = torch.tensor([[perceptron(x[n], params.W1[:, j], params.b1[j], "tanh").item() for j in range(3)]
                       for n in range(2)],
                      dtype=torch.float64)
logits, h = mlp_forward(x, params)  # the whole layer as one matrix product
print("hidden layer, loop  :", h_loop.cpu().numpy().round(4).tolist())
print("hidden layer, matmul:", h.cpu().numpy().round(4).tolist())
assert torch.allclose(h_loop, h)
print("logits shape:", tuple(logits.shape), "(2 examples, 5 scores each)")

# %% [markdown]
# ## 5. Cross-entropy is the negative log-likelihood
#
# To learn, a net needs a number that says how wrong it is: the **loss**. The model gives a
# probability to the right answer. The **likelihood** of a whole text is the product of those
# probabilities; its negative log, divided by the number of tokens, is the **negative
# log-likelihood** (NLL). Minimising it makes the right answers more probable. PyTorch calls exactly
# this `cross_entropy` (it takes logits and applies softmax inside). Same number, three ways:

# %%
logits3 = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
answers = torch.tensor([0, 2, 1])
p_right = torch.softmax(logits3, dim=1)[torch.arange(3), answers]
nll = -torch.log(p_right).mean()
print("probability of each right answer:", p_right.cpu().numpy().round(4).tolist())
print(f"NLL by hand            = {nll.item():.6f}")
print(f"gptbook.mlp.cross_entropy = {cross_entropy(logits3, answers).item():.6f}")
print(f"F.cross_entropy        = {F.cross_entropy(logits3, answers).item():.6f}")
print(f"-log(1/3) for the third row (all logits equal) = {-math.log(1 / 3):.6f}")
assert (torch.allclose(nll, F.cross_entropy(logits3, answers))
        and torch.allclose(nll, cross_entropy(logits3, answers)))

# %% [markdown]
# ### Nats, bits and perplexity
#
# The same loss has three common units. With the natural log (`ln`, as above) the loss is in
# **nats**. With `log₂` it is in **bits**: divide the nats by `ln 2 = 0.693`. A loss of `b` bits per
# token means the model, on average, needs `b` yes/no questions to pin down the next token. And
# **perplexity** is `e^loss` (the same as `2^bits`): the model is as unsure as if it were choosing
# uniformly among that many tokens. Guessing uniformly among `V` tokens has loss `ln V` and
# perplexity exactly `V`.

# %%
def units(nats: float) -> str:
    return f"{nats:.4f} nats = {nats / math.log(2):.4f} bits, perplexity {math.exp(nats):.3f}"


print("our three examples:      ", units(nll.item()))
print("uniform over 3 answers:  ", units(math.log(3)))
print("uniform over 84 letters: ", units(math.log(84)))

# %% [markdown]
# ## 6. Gradients: `p − y`, the chain rule, backpropagation
#
# ### The gradient of cross-entropy is `p − y`
#
# Take one example with three classes, logits `z = (z₀, z₁, z₂)` and right answer 0. With
# `S = e^z₀ + e^z₁ + e^z₂` and `p_i = e^z_i / S`, the loss is
#
# `L = −ln p₀ = −z₀ + ln S`.
#
# Differentiate by each logit. The first term gives −1 for `z₀` and 0 for the others; the second
# gives `(1/S) · e^z_i = p_i`. So `∂L/∂z_i = p_i − y_i`, where `y = (1, 0, 0)` is the one-hot
# answer: the predicted probabilities minus the truth. The right logit is pushed up by `1 − p₀`, every
# wrong logit is pushed down by its own probability, and the three add up to 0. On numbers, against
# autograd:

# %%
z3 = torch.tensor([2.0, 0.5, -1.0], dtype=torch.float64, requires_grad=True)
y_true = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
p = torch.softmax(z3, dim=0)
loss_z = -torch.log(p[0])
loss_z.backward()
p_minus_y = (p - y_true).detach()
print("p         =", p.detach().cpu().numpy().round(4).tolist())
print("p - y     =", p_minus_y.cpu().numpy().round(4).tolist(),
      "  sums to 0:", abs(p_minus_y.sum().item()) < 1e-12)
print("autograd  =", z3.grad.cpu().numpy().round(4).tolist())
assert torch.allclose(z3.grad, p_minus_y, atol=1e-12)
print("p - y equals autograd's gradient (gap below 1e-12)")

# %% [markdown]
# ### The chain rule on one neuron
#
# The chain rule says: if `y = f(u)` and `u = g(w)`, then `dy/dw = f'(u) · g'(w)`. For one tanh neuron
# `y = tanh(w·x + b)`, with `tanh'(u) = 1 - tanh(u)²`, that gives `dy/dw = (1 - y²) · x`.

# %%
w1 = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
x1, b1 = 2.0, -0.3
y = torch.tanh(w1 * x1 + b1)
y.backward()
by_hand = (1 - y.item() ** 2) * x1
print(f"by hand: {by_hand:.10f}   autograd: {w1.grad.item():.10f}")
assert math.isclose(by_hand, w1.grad.item(), rel_tol=1e-12)

# %% [markdown]
# ### Backpropagation through the MLP, by hand
#
# **Backpropagation** (Rumelhart, Hinton and Williams, 1986) applies the chain rule layer by layer,
# from the loss back to the first weights. For our MLP of section 4 (`N` examples, `Y` their
# one-hot answers), every step is one line:
#
# 1. loss → logits: `dlogits = (softmax(logits) − Y) / N` (the `p − y` above, averaged over examples);
# 2. `logits = h @ W2 + b2` → `dW2 = hᵀ @ dlogits`, `db2` = the column sums of `dlogits`, and the
#    gradient flowing back into the hidden layer `dh = dlogits @ W2ᵀ`;
# 3. `h = tanh(z)` → `dz = dh · (1 − h²)`;
# 4. `z = x @ W1 + b1` → `dW1 = xᵀ @ dz`, `db1` = the column sums of `dz`.

# %%
targets = torch.tensor([3, 0])
logits, h = mlp_forward(x, params)
Y = F.one_hot(targets, 5).cpu().double()
dlogits = (softmax(logits) - Y) / len(targets)  # step 1
dW2, db2, dh = h.T @ dlogits, dlogits.sum(0), dlogits @ params.W2.T  # step 2
dz = dh * (1 - h**2)  # step 3
dW1, db1 = x.T @ dz, dz.sum(0)  # step 4
hand = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
package_grads = mlp_backward(x, targets, params)
assert all(torch.allclose(hand[k], package_grads[k], atol=1e-15) for k in hand)
print({k: tuple(v.shape) for k, v in hand.items()}, "- same as gptbook.mlp.mlp_backward")

# %% [markdown]
# We check these gradients two more ways: against PyTorch's autograd, and against **finite
# differences** (nudge one weight by ±0.000001 and watch the loss).

# %%
auto_params = MLPParams(**{k: v.clone().requires_grad_() for k, v in params.tensors().items()})
loss = cross_entropy(mlp_forward(x, auto_params)[0], targets)
loss.backward()

numeric = {k: numerical_gradient(lambda: cross_entropy(mlp_forward(x, params)[0], targets), t)
           for k, t in params.tensors().items()}

for k in hand:
    auto_err = (hand[k] - getattr(auto_params, k).grad).abs().max().item()
    num_err = (hand[k] - numeric[k]).abs().max().item()
    # the exact gaps are rounding error and differ from CPU to CPU, so we check them against a bound
    assert auto_err < 1e-12 and num_err < 1e-8
    print(f"{k}: |hand - autograd| below 1e-12,  |hand - finite difference| below 1e-8")

# %% [markdown]
# The three agree: autograd to at least 12 decimal places, finite differences to at least 8 (they are
# the least exact: they divide a tiny difference by a tiny step). From now on we trust `loss.backward()`.
#
# ## 7. Gradient descent by hand: XOR
#
# A gradient says which way is uphill. **Gradient descent** takes a small step the other way, again
# and again:
#
# ```
# loss.backward()              # fill W.grad for every weight W
# W -= lr * W.grad             # a step downhill, of size lr (the learning rate)
# W.grad.zero_()               # PyTorch adds up gradients: clear them for the next step
# ```
#
# Our first task is **XOR**: output 1 when exactly one of two inputs is 1. A perceptron cannot do it.
# It answers 1 when `w₁x₁ + w₂x₂ + b > 0`, and XOR would need: `b ≤ 0` for (0, 0), `w₁ + w₂ + b ≤ 0`
# for (1, 1), but `w₂ + b > 0` for (0, 1) and `w₁ + b > 0` for (1, 0). Add the last two:
# `w₁ + w₂ + 2b > 0`; add the first two: `w₁ + w₂ + 2b ≤ 0`. Impossible: no straight line separates
# the 1s from the 0s. Gradient descent on a sigmoid perceptron finds that out by itself. The loss is
# the two-class cross-entropy, `−mean(t·ln p + (1 − t)·ln(1 − p))`.

# %%
xor_x = inputs.double()
xor_t = torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=torch.float64)


def xor_loss(p: torch.Tensor) -> torch.Tensor:
    return -(xor_t * torch.log(p) + (1 - xor_t) * torch.log(1 - p)).mean()


def gradient_descent(weights: list[torch.Tensor], forward, steps: int, lr: float) -> list[float]:
    """Plain gradient descent on the XOR loss; returns the loss of every step."""
    history = []
    for _ in range(steps):
        loss = xor_loss(forward(xor_x))
        loss.backward()
        with torch.no_grad():
            for W in weights:
                W -= lr * W.grad
                W.grad.zero_()
        history.append(loss.item())
    return history


w_p = torch.tensor([0.3, -0.2], dtype=torch.float64, requires_grad=True)
b_p = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)
perceptron_losses = gradient_descent([w_p, b_p], lambda v: torch.sigmoid(v @ w_p + b_p), 1000, lr=1.0)
p_perc = torch.sigmoid(xor_x @ w_p + b_p).detach()
perc_right = int(((p_perc > 0.5).float() == xor_t).sum())
print(f"perceptron after 1,000 steps: loss {perceptron_losses[-1]:.3f} (ln 2 = {math.log(2):.3f}), "
      f"outputs {p_perc.cpu().numpy().round(2).tolist()}")

# %% [markdown]
# It gives up in the best way a line can: 0.5 for every input, loss `ln 2`, no better than a coin.
#
# Now an MLP: 2 inputs, a hidden layer of 4 tanh units, one sigmoid output. The hidden layer bends
# the input space so that a line *can* separate the classes. Same loop, five different random
# starts, a second in all:

# %%
def xor_mlp(seed: int) -> tuple[list[torch.Tensor], list[float]]:
    g = torch.Generator().manual_seed(seed)
    weights = [torch.randn(2, 4, generator=g, dtype=torch.float64).requires_grad_(),
               torch.zeros(4, dtype=torch.float64, requires_grad=True),
               (0.5 * torch.randn(4, generator=g, dtype=torch.float64)).requires_grad_(),
               torch.zeros((), dtype=torch.float64, requires_grad=True)]
    W1_, b1_, W2_, b2_ = weights

    def forward(v: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(torch.tanh(v @ W1_ + b1_) @ W2_ + b2_)

    return weights, gradient_descent(weights, forward, 1000, lr=1.0)


def xor_predict(weights: list[torch.Tensor], v: torch.Tensor) -> torch.Tensor:
    W1_, b1_, W2_, b2_ = weights
    with torch.no_grad():
        return torch.sigmoid(torch.tanh(v @ W1_ + b1_) @ W2_ + b2_)


xor_runs = {seed: xor_mlp(seed) for seed in range(5)}
xor_right = {}
for seed, (weights, history) in xor_runs.items():
    out = xor_predict(weights, xor_x)
    xor_right[seed] = int(((out > 0.5).float() == xor_t).sum())
    print(f"seed {seed}: loss {history[0]:.2f} -> {history[-1]:.2f}, outputs "
          f"{out.cpu().numpy().round(2).tolist()}, right {xor_right[seed]} of 4")
print(f"XOR solved in {sum(r == 4 for r in xor_right.values())} of {len(xor_runs)} starts")

# %% [markdown]
# The picture shows the MLP's output over the whole square: the hidden layer has carved out a band
# across the diagonal, where the answer is 1.

# %%
grid = torch.linspace(-0.25, 1.25, 121, dtype=torch.float64)
gx, gy = torch.meshgrid(grid, grid, indexing="xy")
surface = xor_predict(xor_runs[0][0], torch.stack([gx.flatten(), gy.flatten()], 1)).view(121, 121)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [1, 1.15]})
ax1.plot(perceptron_losses, label="perceptron")
ax1.plot(xor_runs[0][1], label="MLP, 4 hidden units (seed 0)")
ax1.axhline(math.log(2), color="grey", ls="--", lw=0.8, label="ln 2: a coin flip")
ax1.set_xlabel("gradient descent step")
ax1.set_ylabel("cross-entropy (nats)")
ax1.set_title("Learning XOR: loss of every gradient descent step")
ax1.legend(fontsize=8)
im = ax2.imshow(surface.cpu().numpy(), origin="lower", extent=(-0.25, 1.25, -0.25, 1.25), cmap="coolwarm",
                vmin=0, vmax=1)
ax2.scatter(xor_x[:, 0], xor_x[:, 1], c=xor_t, cmap="coolwarm", edgecolors="black", s=80, vmin=0, vmax=1)
ax2.set_xlabel("input x₁")
ax2.set_ylabel("input x₂")
ax2.set_title("MLP output P(XOR = 1) over the input square")
fig.colorbar(im, ax=ax2, label="P(output = 1)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 8. A bigram model of Shakespeare
#
# Now a real language model, the simplest one: guess the next character from the current character
# only (a **bigram** model). We use the book's fixed split: the last 10% of every play is held out
# for validation.

# %%
train_text, val_text = shakespeare_split()
tok = CharTokenizer.from_text(train_text + val_text)
train_ids = torch.tensor(tok.encode(train_text))
val_ids = torch.tensor(tok.encode(val_text))
V = tok.vocab_size
print(f"{V} different characters; {len(train_ids):,} training and {len(val_ids):,} validation characters")

# %% [markdown]
# ### The counting answer
#
# Count how often each character follows each other one. First by hand on a short string, then with
# `count_bigrams` (one `bincount` over all 4.5 million pairs), and check they agree.

# %%
short = train_ids[:2000]
by_hand = torch.zeros(V, V, dtype=torch.long)
for a, b in zip(short[:-1].tolist(), short[1:].tolist()):
    by_hand[a, b] += 1
assert torch.equal(by_hand, count_bigrams(short, V))

counts = count_bigrams(train_ids, V)
row = counts[tok.encode("q")[0]]
top = row.argsort(descending=True)[:2].tolist()
print("after 'q':", [(tok.decode([j]), int(row[j])) for j in top], "of", int(row.sum()))

# %%
lower = [tok.encode(c)[0] for c in " abcdefghijklmnopqrstuvwxyz"]
sub = counts[lower][:, lower].float()
fig, ax = plt.subplots(figsize=(7, 6))
im = ax.imshow((sub / sub.sum(1, keepdim=True)).cpu().numpy(), cmap="Blues")
labels = ["␣"] + list("abcdefghijklmnopqrstuvwxyz")
ax.set_xticks(range(27), labels)
ax.set_yticks(range(27), labels)
ax.set_xlabel("next character")
ax.set_ylabel("current character")
fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03,
             label="P(next | current), among space and a-z")
ax.set_title("Which letter follows which: counted in Shakespeare (space and a-z)")
plt.show()

# %% [markdown]
# Dividing each row by its sum gives the probabilities. A pair never seen in training would get
# probability 0, and a single such pair in the validation text makes the loss infinite. **Smoothing**
# adds a small count `α` to every cell first. Here is the validation loss (NLL per character) for a
# few `α`:

# %%
for alpha in [0.0, 0.01, 1.0]:
    print(f"alpha = {alpha:<5} "
          f"validation loss = {evaluate(CountingBigram(counts, alpha), val_ids):.4f} nats/char")
counting = CountingBigram(counts, smoothing=0.01).to(dev)
counting_val = evaluate(counting, val_ids)
print(f"\nbaseline: counting bigram, alpha = 0.01: {units(counting_val)}")
print(f"uniform guessing:                      {units(math.log(V))}")

# %% [markdown]
# With `α = 0` the loss is infinite: some pairs in the validation text never occur in training.
# A tiny `α = 0.01` is almost pure counting (the maximum-likelihood answer) but stays finite.
#
# ### The learned answer
#
# Now the neural-net way. The net is one matrix `W` of `V × V` numbers. Input: the current character
# as a one-hot vector. Output: `one_hot @ W`, the logits for the next character. Multiplying a one-hot
# vector by `W` just picks one row of `W`, so `BigramLM` picks the row directly. Check that both give
# the same numbers:

# %%
torch.manual_seed(0)
model = BigramLM(V).to(dev)
with torch.no_grad():
    model.weight.normal_()
x = train_ids[:8].unsqueeze(1).to(dev)  # 8 windows of 1 character
assert torch.equal(F.one_hot(x[:, 0], V).float() @ model.weight, model(x))
print("one_hot @ W equals picking rows of W: True")

# %% [markdown]
# Train it with the same hand-written loop as XOR: start from all-zero logits (every next character
# equally likely), and take 1,000 steps of plain gradient descent on the cross-entropy of random
# batches of 4,096 character pairs. The learned model has no smoothing; like the counting model with
# a tiny `α`, it is a maximum-likelihood fit, so the two should land at about the same loss. The
# learning rate is large (100) because each row of `W` only gets a gradient from the pairs that start
# with its character, and most characters are rare.

# %%
seed_everything(0)
model = BigramLM(V).to(dev)
g = torch.Generator().manual_seed(0)
lr = 100.0
losses = []
for _ in range(1000):
    xb, yb = random_windows(train_ids, 1, 4096, generator=g)
    loss = F.cross_entropy(model(xb.to(dev)), yb.to(dev))
    loss.backward()
    with torch.no_grad():
        model.weight -= lr * model.weight.grad
    model.weight.grad.zero_()
    losses.append(loss.item())
learned_val = evaluate(model, val_ids)
print(f"first step loss {losses[0]:.3f} (= ln {V} = {math.log(V):.3f}: all equal), "
      f"last 100 steps mean {sum(losses[-100:]) / 100:.2f}")
print(f"validation loss: learned {learned_val:.2f}, counting {counting_val:.2f}")
print("gap within 0.03 nats:", abs(learned_val - counting_val) < 0.03)

# %% tags=["nbval-ignore-output"]
print(f"exact figures on this machine: learned {learned_val:.4f}, counting {counting_val:.4f}, "
      f"gap {learned_val - counting_val:+.4f} nats/char")

# %%
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(losses, lw=0.8, label="training batch loss")
ax.axhline(counting_val, color="red", ls="--", label="counting bigram, validation")
ax.set_xlabel("step")
ax.set_ylabel("cross-entropy (nats/char)")
ax.set_ylim(2.3, 4.6)
ax.legend()
ax.set_title("Bigram table by plain gradient descent: training loss of every batch")
plt.show()

# %% [markdown]
# The learned model comes within a few hundredths of a nat of the counting model: gradient descent
# finds, step by step, the answer that counting gives at once. The package's `train_next_token` runs
# this same loop for the next chapters, with two refinements we only name here: the AdamW update
# (a step size adapted to each weight, so rare rows need no huge learning rate; chapter 08 explains
# it) and a learning rate that shrinks along a cosine over training.
#
# ### Why not count longer contexts?
#
# Counting works for one character of context. Why not count what follows every 8 characters? Not
# because counting is slow, but because of **sparsity**: there are `84^n` possible contexts of `n`
# characters, the training text holds a tiny fraction of them, and a growing share of the contexts
# in new text never occurred in training at all. For those, a counting model has nothing to go on.

# %%
coverage = {n: context_coverage(train_ids, val_ids, n, V) for n in [1, 2, 4, 6, 8]}
print(f"{'n':>2} {'possible contexts':>20} {'seen in training':>17} {'validation contexts never seen':>31}")
for n, c in coverage.items():
    print(f"{n:>2} {c.possible:>20,} {c.seen:>17,} {c.unseen_share:>30.2%}")
print(f"share of the possible 8-character contexts that training contains: "
      f"{coverage[8].seen / coverage[8].possible:.1e}")

# %% [markdown]
# With 8 characters, almost a third of the contexts in the validation text never appear in 4.5
# million characters of training text, and the training text covers fewer than one in a billion of
# the possible contexts. A net does not need to have seen a context: it can answer for a new one from
# what it learned about similar ones. That is the job of chapter 03.
#
# ### Samples
#
# Start from a newline and draw 200 characters, one at a time, each from the model's probabilities.

# %%
g = torch.Generator().manual_seed(42)
print(tok.decode(sample(counting, tok.encode("\n"), 200, generator=g)))

# %% tags=["nbval-ignore-output"]
# The learned model's numbers differ from machine to machine in the last digits, so its sample may too.
g = torch.Generator().manual_seed(42)
print(tok.decode(sample(model, tok.encode("\n"), 200, generator=g)))

# %% [markdown]
# Word-like bits, real short words ("the", "of"), capital letters after a newline, but no meaning: one
# character of memory is not enough. Chapter 03 gives the model a window of several characters.

# %% [markdown]
# ## Exercises
#
# Four exercises, from easy to stretch. Each answer cell starts as a stub (`...`): replace it with
# your answer, then run the check cell under it. The checker runs your answer on test inputs and says
# which input failed, what was expected, what came back, and a hint. A *Predict* exercise runs its
# small experiment (a few seconds) once you have made your prediction. A *Think* question has no
# single right wording: the checker looks for the key ideas. `show_solution("02.1")` shows a solution;
# try first.

# %%
from gptbook.exercises import check, show_solution

# %% [markdown]
# **02.1 Implement: one-hot rows.** `one_hot_rows(ids, n)`: a float tensor of shape (len(ids), n), row
# i all zeros except a 1 at place ids[i].

# %%
def one_hot_rows(ids, n):
    ...  # your code here

# %%
check("02.1", one_hot_rows)

# %% [markdown]
# **02.2 Implement: the loss from logits.** `nll_from_logits(logits, targets)`: logits is (N, V),
# targets a list of N right answers; return the mean negative log-probability of the right answers (a
# float), safe for large logits.

# %%
def nll_from_logits(logits, targets):
    ...  # your code here

# %%
check("02.2", nll_from_logits)

# %% [markdown]
# **02.3 Predict: a bigram counted on 20,000 characters.** Count the bigram (alpha = 0.01) on only the
# first 20,000 characters of the training text. Compared with the bigram counted on all of it, what
# happens to its loss on the text it was counted on, and on the validation text?
#
# - `"a"`: its training loss is lower and its validation loss higher (it overfits)
# - `"b"`: both losses are lower
# - `"c"`: both losses are higher
# - `"d"`: its training loss is higher and its validation loss lower
#
# Write your prediction first; the check then runs the experiment and shows what happened.

# %%
prediction_02_3 = ...  # "a" or "b" or "c" or "d"

# %%
check("02.3", prediction_02_3)

# %% [markdown]
# **02.4 Think: why one-hot, not the id itself.** Why do we feed a letter to the net as a one-hot
# vector, rather than its id as one number (а = 0, б = 1, ...)? Write your answer as a string.

# %%
answer_02_4 = ...  # "your answer, in a few sentences"

# %%
check("02.4", answer_02_4)

# %% [markdown]
# ## Checks

# %%
assert ru.vocab_size == 33 and ru.chars[-1] == "ё" and ids == [12, 8, 16]  # м, и, р in sorted order
assert perceptron(inputs, w_and, b_and, "step").tolist() == [0.0, 0.0, 0.0, 1.0]
assert torch.allclose(z3.grad, p_minus_y, atol=1e-12) and abs(p_minus_y.sum().item()) < 1e-12
assert all(torch.allclose(hand[k], package_grads[k], atol=1e-15) for k in hand)
assert all((hand[k] - numeric[k]).abs().max() < 1e-8 for k in hand)
assert abs(perceptron_losses[-1] - math.log(2)) < 1e-3 and perc_right < 4  # a line cannot do XOR
assert all(r == 4 for r in xor_right.values())  # the MLP does, from every start
assert all(history[-1] < 0.05 for _, history in xor_runs.values())
assert math.isinf(evaluate(CountingBigram(counts, 0.0), val_ids))
assert 2.3 < counting_val < 2.7 < math.log(V)
assert abs(learned_val - counting_val) < 0.03, (learned_val, counting_val)
unseen = [c.unseen_share for c in coverage.values()]
assert unseen[0] == 0.0 and unseen == sorted(unseen) and coverage[8].unseen_share > 0.2
