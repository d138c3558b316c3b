"""Fine-tuning a pretrained GPT: a spam classifier (chapter 09) and an instruction follower (chapter 10).

Read from top to bottom, like the two chapters:

Part A, classification (Radford et al., 2018; Howard and Ruder, 2018, ULMFiT):

1. :func:`stratified_split` cuts the SMS Spam Collection (Almeida et al., 2011) into fixed train,
   validation and test parts with the same share of spam in each, each message once.
2. :func:`encode_message` turns a message into token ids, refusing an empty message and cutting (or
   refusing) one longer than the model's context; :func:`pad_batch` pads a batch on the right.
3. :class:`GPTClassifier` runs the GPT's body and puts a small linear *head* on the hidden state of
   the **last real token** of each message: with a causal mask, that token has seen the whole
   message and no padding, so padding never changes the prediction.
4. :func:`freeze` chooses which layers learn; :func:`train_classifier` and :func:`evaluate_classifier`
   are the loops; :func:`label_logprobs` scores zero-shot and few-shot prompts of the base model.

Part B, instructions (Wei et al., 2021; Ouyang et al., 2022):

5. :func:`encode_instruction` concatenates prompt and response tokens and sets the targets of the
   prompt positions to -100, so the loss only counts the response (the prompt is *masked out*);
   :func:`collate_instructions` pads a batch (padding targets are -100 too).
6. :func:`train_instructions` is the loop; :func:`answer` generates greedily until the end of the
   response line; :func:`score_answers` scores answers to a held-out set per task (exact match and
   well-formed answers), :func:`exact_match_by_task` generates and scores in one call.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gptbook.attention import KVCache
from gptbook.data import Message
from gptbook.instructions import STOP, Example, example_prompt, example_text, well_formed
from gptbook.model import GPT

IGNORE = -100
"""The target value ``cross_entropy`` skips: positions whose prediction is not scored."""

# =============================================================================================
# Part A. Classification
# =============================================================================================

LABELS = ("ham", "spam")
"""Class 0 is ham (a normal message), class 1 is spam."""


class EmptyMessageError(ValueError):
    """A message with no text in it: there is nothing to classify."""


class MessageTooLongError(ValueError):
    """A message needs more tokens than the model's context holds."""


# ---------------------------------------------------------------------------------------------
# 1. A fixed, stratified split
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpamSplit:
    """Train, validation and test messages; each has the collection's share of spam."""

    train: tuple[Message, ...]
    val: tuple[Message, ...]
    test: tuple[Message, ...]


def stratified_split(
    messages: Sequence[Message], val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0
) -> SpamSplit:
    """Shuffle the spam and the ham messages separately (with ``seed``) and cut each the same way.

    A message that occurs more than once (the SMS collection repeats 328, mostly spam sent many
    times) is kept once, at its first place: a repeat on both sides would let a model pass the test
    from memory. The split depends on nothing but the messages and the seed: same input, same split,
    on every machine. Within each part, messages keep their order in the collection.
    """
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(
            f"val_fraction={val_fraction} and test_fraction={test_fraction} must be in (0, 1) and add up to less than 1."
        )
    messages = list(dict.fromkeys(messages))  # each message once, in its first place
    rng = random.Random(seed)
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for label in LABELS:
        idx = [i for i, m in enumerate(messages) if m.label == label]
        rng.shuffle(idx)
        n_test, n_val = round(len(idx) * test_fraction), round(len(idx) * val_fraction)
        parts["test"] += idx[:n_test]
        parts["val"] += idx[n_test : n_test + n_val]
        parts["train"] += idx[n_test + n_val :]
    return SpamSplit(*(tuple(messages[i] for i in sorted(parts[k])) for k in ("train", "val", "test")))


# ---------------------------------------------------------------------------------------------
# 2. Tokens, truncation and padding
# ---------------------------------------------------------------------------------------------


def encode_message(tokenizer, text: str, max_tokens: int, truncate: bool = True) -> list[int]:
    """Token ids of ``text``, at most ``max_tokens`` of them.

    The rule for long messages: with ``truncate=True`` only the first ``max_tokens`` tokens are
    kept (the start of a message is where spam says what it wants: "FREE entry", "You have won");
    with ``truncate=False`` a longer message raises :class:`MessageTooLongError`. An empty (or
    all-white-space) message raises :class:`EmptyMessageError`.
    """
    if not isinstance(text, str) or not text.strip():
        raise EmptyMessageError(f"The message is empty ({text!r}); type the text of a message to classify it.")
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError(f"max_tokens must be a positive integer, got {max_tokens!r}.")
    ids = tokenizer.encode(text)
    if len(ids) > max_tokens:
        if not truncate:
            raise MessageTooLongError(
                f"The message is {len(ids)} tokens long but the model reads at most {max_tokens}; "
                f"shorten it, or pass truncate=True to keep its first {max_tokens} tokens."
            )
        ids = ids[:max_tokens]
    return ids


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[Tensor, Tensor]:
    """Pad token sequences on the right to the longest one.

    Returns ``idx`` ``(B, T)`` and ``lengths`` ``(B,)`` (how many tokens of each row are real).
    Right padding keeps every real token at the position it has alone, and the causal mask stops
    real tokens from looking at the padding after them.
    """
    if not seqs or any(len(s) == 0 for s in seqs):
        raise ValueError("pad_batch needs at least one sequence, and every sequence needs at least one token.")
    T = max(len(s) for s in seqs)
    idx = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        idx[i, : len(s)] = torch.as_tensor(list(s), dtype=torch.long)
    return idx, torch.tensor([len(s) for s in seqs], dtype=torch.long)


# ---------------------------------------------------------------------------------------------
# 3. The classifier: a head on the last real token
# ---------------------------------------------------------------------------------------------


def embed(gpt: GPT, idx: Tensor) -> Tensor:
    """Token plus position embeddings of ``idx`` ``(B, T)``: the residual stream before block 0."""
    if idx.dim() != 2 or not 0 < idx.size(1) <= gpt.config.context:
        raise ValueError(
            f"idx must have shape (batch, time) with 1 <= time <= context = {gpt.config.context}, "
            f"got {tuple(idx.shape)}; encode messages with encode_message(..., max_tokens=context)."
        )
    t = gpt.transformer
    return t.drop(t.wte(idx) + t.wpe(torch.arange(idx.size(1), device=idx.device)))


def run_blocks(gpt: GPT, x: Tensor, start: int = 0, stop: int | None = None) -> Tensor:
    """Run the residual stream ``x`` ``(B, T, d_model)`` through blocks ``start .. stop - 1``."""
    for block in list(gpt.transformer.h)[start:stop]:
        x, _ = block(x)
    return x


def hidden_states(gpt: GPT, idx: Tensor) -> Tensor:
    """The GPT's final hidden states ``(B, T, d_model)``: everything but the unembedding ``lm_head``.

    Built from the model's public parts (embeddings, blocks, final layer norm); the same numbers
    ``gpt.forward`` feeds to ``lm_head``.
    """
    return gpt.transformer.ln_f(run_blocks(gpt, embed(gpt, idx)))


def last_real(x: Tensor, lengths: Tensor) -> Tensor:
    """Row ``b`` of ``x`` ``(B, T, d)`` at position ``lengths[b] - 1``: shape ``(B, d)``."""
    return x[torch.arange(x.size(0), device=x.device), lengths.to(x.device) - 1]


class GPTClassifier(nn.Module):
    """A GPT body with a classification head in place of the next-token head.

    ``logits = head(h[last real token])``: the head is ``nn.Linear(d_model, num_classes)``.
    """

    def __init__(self, gpt: GPT, num_classes: int = 2):
        super().__init__()
        self.gpt = gpt
        self.head = nn.Linear(gpt.config.d_model, num_classes)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, idx: Tensor, lengths: Tensor) -> Tensor:
        """Class logits ``(B, num_classes)`` for the right-padded batch ``idx`` with ``lengths``."""
        return self.forward_from(embed(self.gpt, idx), lengths, 0)

    def forward_from(self, x: Tensor, lengths: Tensor, start_block: int) -> Tensor:
        """Class logits from the residual stream ``x`` as it enters block ``start_block``."""
        h = self.gpt.transformer.ln_f(run_blocks(self.gpt, x, start_block))
        return self.head(last_real(h, lengths))

    def frozen_blocks(self) -> int:
        """How many bottom blocks (with the embeddings) have no trainable parameter (:func:`frozen_blocks`)."""
        return frozen_blocks(self.gpt)


def frozen_blocks(gpt: GPT) -> int:
    """How many blocks at the bottom of ``gpt`` (with the embeddings) have no trainable parameter.

    Their output never changes during training, so it can be computed once (:func:`precompute`).
    """
    t = gpt.transformer
    if any(p.requires_grad for p in [*t.wte.parameters(), *t.wpe.parameters()]):
        return 0
    n = 0
    for block in t.h:
        if any(p.requires_grad for p in block.parameters()):
            break
        n += 1
    return n


def freeze_gpt(gpt: GPT, trainable_blocks: int | None) -> int:
    """Let only the final layer norm and the last ``trainable_blocks`` blocks of ``gpt`` learn
    (``None``: everything). Returns the number of trainable parameters.

    The embeddings stay frozen when ``trainable_blocks`` is a number; so does the unembedding
    ``lm_head``, which shares its weights with the token embedding.
    """
    n_layer = gpt.config.n_layer
    if trainable_blocks is not None and not (
        isinstance(trainable_blocks, int) and not isinstance(trainable_blocks, bool) and 0 <= trainable_blocks <= n_layer
    ):
        raise ValueError(f"trainable_blocks must be None (all) or an integer in 0..{n_layer}, got {trainable_blocks!r}.")
    for p in gpt.parameters():
        p.requires_grad = trainable_blocks is None
    if trainable_blocks is not None:
        for module in [gpt.transformer.ln_f, *list(gpt.transformer.h)[n_layer - trainable_blocks :]]:
            for p in module.parameters():
                p.requires_grad = True
    return sum(p.numel() for p in gpt.parameters() if p.requires_grad)


def freeze(clf: GPTClassifier, trainable_blocks: int | None) -> int:
    """Choose what learns; return the number of trainable parameters.

    ``None``: everything (full fine-tuning). ``k >= 0``: only the head, the final layer norm and the
    last ``k`` blocks; the embeddings and the other blocks keep their pretrained values. ``k == 0``
    trains the head alone on frozen features (a *linear probe*).
    """
    freeze_gpt(clf.gpt, trainable_blocks)
    for p in clf.head.parameters():
        p.requires_grad = True
    return sum(p.numel() for p in clf.parameters() if p.requires_grad)


# ---------------------------------------------------------------------------------------------
# 4. Training and evaluation loops
# ---------------------------------------------------------------------------------------------


@dataclass
class EncodedMessages:
    """Messages as token ids, and their labels (0 ham, 1 spam). ``truncated`` counts cut messages."""

    ids: list[list[int]]
    labels: list[int]
    truncated: int = 0

    def __len__(self) -> int:
        return len(self.ids)


def encode_messages(tokenizer, messages: Sequence[Message], max_tokens: int) -> EncodedMessages:
    """Encode messages for :func:`train_classifier`, keeping the first ``max_tokens`` tokens of each."""
    ids, labels, cut = [], [], 0
    for m in messages:
        if m.label not in LABELS:
            raise ValueError(f"Label {m.label!r} is neither 'spam' nor 'ham' (message {m.text[:40]!r}).")
        full = tokenizer.encode(m.text) if m.text.strip() else []
        cut += len(full) > max_tokens
        ids.append(encode_message(tokenizer, m.text, max_tokens, truncate=True))
        labels.append(LABELS.index(m.label))
    return EncodedMessages(ids, labels, cut)


@dataclass
class Features:
    """The residual stream of each message as it enters block ``start_block`` (one ``(T_i, d)``
    tensor per message), with the labels. Made by :func:`precompute`."""

    x: list[Tensor]
    labels: list[int]
    start_block: int

    def __len__(self) -> int:
        return len(self.x)


@torch.no_grad()
def precompute(clf: GPTClassifier, data: EncodedMessages, batch_size: int = 64, pad_id: int = 0) -> Features:
    """Run the frozen bottom of ``clf`` (embeddings and :meth:`GPTClassifier.frozen_blocks` blocks)
    once over every message.

    Training the top then starts from these tensors instead of the token ids: the same numbers, but
    the frozen blocks run once instead of once per epoch.
    """
    was = clf.training
    clf.eval()
    start = clf.frozen_blocks()
    dev = next(clf.parameters()).device
    out: list[Tensor | None] = [None] * len(data)
    order = sorted(range(len(data)), key=lambda i: len(data.ids[i]))
    for s in range(0, len(order), batch_size):
        rows = order[s : s + batch_size]
        idx, lengths = pad_batch([data.ids[i] for i in rows], pad_id)
        x = run_blocks(clf.gpt, embed(clf.gpt, idx.to(dev)), 0, start).cpu()
        for r, i in enumerate(rows):
            out[i] = x[r, : lengths[r]].clone()
    clf.train(was)
    return Features(out, list(data.labels), start)


def pad_features(xs: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """Pad ``(T_i, d)`` tensors on the right with zeros: ``(B, T, d)`` and ``lengths`` ``(B,)``."""
    lengths = torch.tensor([x.size(0) for x in xs], dtype=torch.long)
    out = xs[0].new_zeros(len(xs), int(lengths.max()), xs[0].size(1))
    for i, x in enumerate(xs):
        out[i, : x.size(0)] = x
    return out, lengths


def _batch_logits(clf: GPTClassifier, data: EncodedMessages | Features, rows: Sequence[int], pad_id: int) -> Tensor:
    """Class logits of the messages ``rows`` of ``data`` (token ids or precomputed features)."""
    dev = next(clf.parameters()).device
    if isinstance(data, Features):
        x, lengths = pad_features([data.x[i] for i in rows])
        return clf.forward_from(x.to(dev), lengths.to(dev), data.start_block)
    idx, lengths = pad_batch([data.ids[i] for i in rows], pad_id)
    return clf(idx.to(dev), lengths.to(dev))


def _length(data: EncodedMessages | Features, i: int) -> int:
    return data.x[i].size(0) if isinstance(data, Features) else len(data.ids[i])


def length_batches(lengths: Sequence[int], batch_size: int, generator: torch.Generator, pool: int = 8) -> list[list[int]]:
    """Shuffled batches of similar lengths (less padding, so faster steps).

    The indices are shuffled, cut into pools of ``pool`` batches, each pool sorted by length and
    cut into batches, and the batches shuffled again.
    """
    order = torch.randperm(len(lengths), generator=generator).tolist()
    out = []
    for s in range(0, len(order), batch_size * pool):
        chunk = sorted(order[s : s + batch_size * pool], key=lambda i: lengths[i])
        out += [chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size)]
    return [out[i] for i in torch.randperm(len(out), generator=generator).tolist()]


@dataclass
class ClassifierConfig:
    """How :func:`train_classifier` trains. ``class_weights`` weighs the loss of ham and spam."""

    epochs: int = 2
    batch_size: int = 16
    lr: float = 3e-4
    weight_decay: float = 0.01
    warmup_steps: int = 20
    grad_clip: float = 1.0
    class_weights: tuple[float, float] | None = None
    max_steps: int | None = None
    seed: int = 0


def _lr_at(step: int, total: int, base: float, warmup: int) -> float:
    """Linear warm-up for ``warmup`` steps, then cosine decay to zero at ``total``."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def train_classifier(
    clf: GPTClassifier,
    train: EncodedMessages | Features,
    cfg: ClassifierConfig,
    pad_id: int = 0,
    progress: Callable | None = None,
) -> list[float]:
    """Train the trainable parameters of ``clf`` with AdamW; return the loss of every step.

    ``train`` holds token ids, or features from :func:`precompute` (then only the blocks above the
    frozen ones run). Batches group messages of similar length, shuffled with ``cfg.seed``;
    ``cfg.max_steps`` stops early. ``progress`` may wrap the step iterator (``tqdm``).
    """
    params = [p for p in clf.parameters() if p.requires_grad]
    if not params:
        raise ValueError("Nothing to train: every parameter is frozen. Call freeze(clf, k) with k >= 0 first.")
    if isinstance(train, Features) and train.start_block > clf.frozen_blocks():
        raise ValueError(
            f"The features start at block {train.start_block} but block {clf.frozen_blocks()} is trainable; "
            "call precompute(clf, data) after freeze(clf, k)."
        )
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    dev = next(clf.parameters()).device
    weight = None if cfg.class_weights is None else torch.tensor(cfg.class_weights, dtype=torch.float32, device=dev)
    lengths = [_length(train, i) for i in range(len(train))]
    plan = [b for _ in range(cfg.epochs) for b in length_batches(lengths, cfg.batch_size, gen)]
    plan = plan[: cfg.max_steps] if cfg.max_steps else plan
    steps = progress(plan) if progress else plan
    labels = torch.tensor(train.labels)
    clf.train()
    history = []
    for step, b in enumerate(steps):
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, len(plan), cfg.lr, cfg.warmup_steps)
        loss = F.cross_entropy(_batch_logits(clf, train, b, pad_id), labels[b].to(dev), weight=weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        history.append(loss.item())
    clf.eval()
    return history


SPAM_TRAINABLE_BLOCKS: int | None = None
"""Chapter 09's choice: every weight learns (embeddings, all blocks, the head)."""

SPAM_RECIPE = ClassifierConfig(epochs=3, batch_size=16, lr=5e-4, warmup_steps=20, class_weights=(1.0, 2.0), seed=0)
"""Chapter 09's recipe. Spam is rare (12 %), so its loss counts twice: fewer spam messages slip through.

Chosen on the validation part (quiet CPU, one run each; validation accuracy / spam recall): the last
two blocks for 2 epochs at 1e-3, 97.6 % / 85.7 % (30 s); 4 epochs, 98.2 % / 87.5 %; all four blocks
for 3 epochs at 5e-4, 97.4 % / 85.7 %; every weight for 3 epochs at 3e-4, 98.0 % / 91.1 %; the same
at 5e-4, 98.9 % / 92.9 % (79 s): this recipe."""


def fine_tune_classifier(
    gpt: GPT,
    train: EncodedMessages,
    trainable_blocks: int | None = SPAM_TRAINABLE_BLOCKS,
    recipe: ClassifierConfig = SPAM_RECIPE,
    progress: Callable | None = None,
) -> tuple[GPTClassifier, list[float], float]:
    """Chapter 09's whole fine-tuning run on a *copy* of ``gpt`` (which stays unchanged).

    Builds the classifier (head seeded with ``recipe.seed``), freezes all but ``trainable_blocks``,
    runs the frozen bottom once (:func:`precompute`) and trains. Returns ``(classifier, losses,
    seconds)``; the clock covers the precomputation and the training.
    """
    torch.manual_seed(recipe.seed)
    clf = GPTClassifier(copy.deepcopy(gpt)).to(next(gpt.parameters()).device)
    freeze(clf, trainable_blocks)
    t0 = time.perf_counter()
    data = precompute(clf, train) if clf.frozen_blocks() else train
    losses = train_classifier(clf, data, recipe, progress=progress)
    return clf, losses, time.perf_counter() - t0


@torch.no_grad()
def classifier_logits(
    clf: GPTClassifier, data: EncodedMessages | Features, batch_size: int = 64, pad_id: int = 0
) -> Tensor:
    """Class logits ``(N, 2)`` of every message, in order (batches sorted by length for speed)."""
    clf.eval()
    order = sorted(range(len(data)), key=lambda i: _length(data, i))
    out = torch.empty(len(data), clf.head.out_features)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        out[rows] = _batch_logits(clf, data, rows, pad_id).float().cpu()
    return out


@dataclass
class Report:
    """Accuracy, spam recall and precision, and the confusion matrix ``[true][predicted]``."""

    confusion: list[list[int]]
    accuracy: float = field(init=False)
    spam_recall: float = field(init=False)
    spam_precision: float = field(init=False)

    def __post_init__(self) -> None:
        (tn, fp), (fn, tp) = self.confusion
        total = tn + fp + fn + tp
        self.accuracy = (tn + tp) / total if total else float("nan")
        self.spam_recall = tp / (tp + fn) if tp + fn else float("nan")
        self.spam_precision = tp / (tp + fp) if tp + fp else float("nan")


def confusion_matrix(true: Sequence[int], predicted: Sequence[int], num_classes: int = 2) -> list[list[int]]:
    """``m[t][p]`` counts the items of true class ``t`` predicted as ``p``."""
    if len(true) != len(predicted):
        raise ValueError(f"{len(true)} true labels but {len(predicted)} predictions; they must pair up.")
    m = [[0] * num_classes for _ in range(num_classes)]
    for t, p in zip(true, predicted):
        m[int(t)][int(p)] += 1
    return m


def report(true: Sequence[int], predicted: Sequence[int]) -> Report:
    """A :class:`Report` for binary labels (1 = spam)."""
    return Report(confusion_matrix(true, predicted))


def evaluate_classifier(clf: GPTClassifier, data: EncodedMessages | Features, pad_id: int = 0) -> Report:
    """Predict every message (the class with the larger logit) and compare with the labels."""
    return report(data.labels, classifier_logits(clf, data, pad_id=pad_id).argmax(-1).tolist())


def classify(clf: GPTClassifier, tokenizer, text: str, truncate: bool = False) -> tuple[str, float]:
    """Label one message: ``("spam" | "ham", probability of spam)``.

    An empty message raises :class:`EmptyMessageError`; one longer than the context raises
    :class:`MessageTooLongError` unless ``truncate=True`` (then its first tokens are used).
    """
    ids = encode_message(tokenizer, text, clf.gpt.config.context, truncate=truncate)
    dev = next(clf.parameters()).device
    clf.eval()
    with torch.no_grad():
        p = torch.softmax(clf(torch.tensor([ids], device=dev), torch.tensor([len(ids)], device=dev)).float(), -1)[0]
    return LABELS[int(p.argmax())], float(p[1])


# ---------------------------------------------------------------------------------------------
# Prompting the base model: zero-shot and few-shot
# ---------------------------------------------------------------------------------------------

ZERO_SHOT_TEMPLATE = "Message: {text}\nIs this message spam or ham? Answer:"


def few_shot_prefix(shots: Sequence[Message]) -> str:
    """Worked examples, each message with its label, to put before the message to label."""
    return "".join(ZERO_SHOT_TEMPLATE.format(text=m.text) + " " + m.label + "\n\n" for m in shots)


def few_shot_prompt(shots: Sequence[Message], text: str) -> str:
    """The whole few-shot prompt: :func:`few_shot_prefix`, then the message to label."""
    return few_shot_prefix(shots) + ZERO_SHOT_TEMPLATE.format(text=text)


def _prefix_cache(gpt: GPT, prefix_ids: Sequence[int], batch: int) -> KVCache:
    """A key/value cache holding ``prefix_ids``, repeated for ``batch`` rows (computed once)."""
    cache = gpt.new_cache()
    gpt(torch.tensor([list(prefix_ids)], device=next(gpt.parameters()).device), cache=cache)
    for layer in cache.layers:
        layer.k, layer.v = layer.k.expand(batch, -1, -1, -1), layer.v.expand(batch, -1, -1, -1)
    return cache


@torch.no_grad()
def label_logprobs(
    gpt: GPT,
    tokenizer,
    prompts: Sequence[str],
    labels: Sequence[str] = (" ham", " spam"),
    prefix: str = "",
    batch_size: int = 32,
) -> Tensor:
    """Log-probability ``(N, len(labels))`` the base model gives each label's tokens after each prompt.

    The model reads ``prefix + prompt`` (the prefix, for example worked examples, is the same for
    every prompt: it is run once and kept in a key/value cache). A label may be several tokens;
    their log-probabilities are added. A prompt too long for the context loses tokens from its
    *start* (the question at its end is what the model must see). This is zero-shot
    classification with no prefix, few-shot with worked examples in the prefix (Radford et al.,
    2019; Brown et al., 2020).
    """
    gpt.eval()
    dev = next(gpt.parameters()).device
    prefix_ids = tokenizer.encode(prefix) if prefix else []
    label_ids = [tokenizer.encode(lab) for lab in labels]
    out = torch.empty(len(prompts), len(labels))
    for j, lab in enumerate(label_ids):
        room = gpt.config.context - len(prefix_ids) - len(lab)
        if room < 2:
            raise PromptTooLongError(
                f"The prefix ({len(prefix_ids)} tokens) and the label {labels[j]!r} leave no room for a message "
                f"in the context of {gpt.config.context}; use fewer or shorter worked examples."
            )
        seqs, starts = [], []
        for p in prompts:
            ids = tokenizer.encode(p)[-room:]
            seqs.append(ids + lab)
            starts.append(len(ids))
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        for s in range(0, len(order), batch_size):
            rows = order[s : s + batch_size]
            idx, _ = pad_batch([seqs[i] for i in rows])
            cache = _prefix_cache(gpt, prefix_ids, len(rows)) if prefix_ids else None
            logp = torch.log_softmax(gpt(idx.to(dev), cache=cache)[0].float(), -1).cpu()
            for r, i in enumerate(rows):
                pos = torch.arange(starts[i] - 1, starts[i] - 1 + len(lab))
                out[i, j] = logp[r, pos, torch.tensor(lab)].sum()
    return out


class PromptTooLongError(ValueError):
    """A prompt (with room for the answer) does not fit the model's context."""


# =============================================================================================
# Part B. Instructions
# =============================================================================================


def mask_prompt(ids: Sequence[int], prompt_len: int) -> tuple[list[int], list[int]]:
    """Inputs and targets for one prompt + response sequence ``ids``, prompt masked out.

    The model reads ``ids[:-1]`` and predicts ``ids[1:]``. A prediction whose target is still part
    of the prompt gets target :data:`IGNORE`, so the loss only scores the response tokens.
    """
    if not 0 < prompt_len < len(ids):
        raise ValueError(f"prompt_len must be between 1 and len(ids) - 1 = {len(ids) - 1}, got {prompt_len}.")
    inputs, targets = list(ids[:-1]), list(ids[1:])
    for i in range(prompt_len - 1):  # targets[i] is ids[i + 1], a prompt token while i + 1 < prompt_len
        targets[i] = IGNORE
    return inputs, targets


def encode_instruction(tokenizer, example: Example, context: int) -> tuple[list[int], list[int]] | None:
    """Token inputs and masked targets of one example, or ``None`` when it does not fit ``context``.

    Prompt and response are encoded separately and joined, exactly as :func:`answer` sees them.
    """
    prompt, response = example_text(example)
    p, r = tokenizer.encode(prompt), tokenizer.encode(response)
    if len(p) + len(r) - 1 > context:
        return None
    return mask_prompt(p + r, len(p))


def collate_instructions(
    rows: Sequence[tuple[Sequence[int], Sequence[int]]], pad_id: int = 0
) -> tuple[Tensor, Tensor]:
    """Pad ``(inputs, targets)`` pairs on the right: input padding is ``pad_id``, target padding -100."""
    idx, lengths = pad_batch([r[0] for r in rows], pad_id)
    targets = torch.full_like(idx, IGNORE)
    for i, (_, t) in enumerate(rows):
        targets[i, : len(t)] = torch.as_tensor(list(t), dtype=torch.long)
    return idx, targets


@dataclass
class InstructionConfig:
    """How :func:`train_instructions` trains."""

    epochs: float = 1.0
    batch_size: int = 16
    lr: float = 3e-4
    weight_decay: float = 0.01
    warmup_steps: int = 20
    grad_clip: float = 1.0
    trainable_blocks: int | None = None
    seed: int = 0


INSTRUCTION_RECIPE = InstructionConfig(epochs=3.0, batch_size=16, lr=2e-3, warmup_steps=20, trainable_blocks=None, seed=0)
"""Chapter 10's recipe: every weight learns, three passes over the training examples (about 500 steps).

Chosen by held-out exact match over chapter 10's test set (quiet CPU, one run each): one pass at 1e-3
scored 7.6 %, three passes at 2e-3 10.3 %, five passes at 2e-3 9.9 % (and took 196 s instead of 123 s)."""


@torch.no_grad()
def precompute_rows(gpt: GPT, rows: Sequence[tuple[Sequence[int], Sequence[int]]], start: int, batch_size: int = 32,
                    pad_id: int = 0) -> list[Tensor]:
    """The residual stream of each row's inputs as it enters block ``start`` (one ``(T_i, d)`` each)."""
    was = gpt.training
    gpt.eval()
    dev = next(gpt.parameters()).device
    out: list[Tensor | None] = [None] * len(rows)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i][0]))
    for s in range(0, len(order), batch_size):
        b = order[s : s + batch_size]
        idx, lengths = pad_batch([rows[i][0] for i in b], pad_id)
        x = run_blocks(gpt, embed(gpt, idx.to(dev)), 0, start).cpu()
        for r, i in enumerate(b):
            out[i] = x[r, : lengths[r]].clone()
    gpt.train(was)
    return out


def train_instructions(
    gpt: GPT,
    rows: Sequence[tuple[Sequence[int], Sequence[int]]],
    cfg: InstructionConfig,
    pad_id: int = 0,
    progress: Callable | None = None,
) -> list[float]:
    """Fine-tune every parameter of ``gpt`` on encoded instruction rows; return each step's loss.

    ``cfg.epochs`` may be fractional (1.5 = one pass and half of a second). Batches group rows of
    similar length (:func:`length_batches`), shuffled with ``cfg.seed``.

    ``cfg.trainable_blocks = k`` trains only the last ``k`` blocks and the final layer norm
    (:func:`freeze_gpt`); the frozen bottom then runs once over every row (:func:`precompute_rows`)
    instead of once per step. Afterwards every parameter is trainable again.
    """
    if not rows:
        raise ValueError("No training rows: encode some examples with encode_instruction first.")
    freeze_gpt(gpt, cfg.trainable_blocks)
    start = frozen_blocks(gpt)
    feats = precompute_rows(gpt, rows, start, pad_id=pad_id) if start else None
    params = [p for p in gpt.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    dev = next(gpt.parameters()).device
    n_steps = max(1, round(cfg.epochs * math.ceil(len(rows) / cfg.batch_size)))
    lengths = [len(r[0]) for r in rows]
    plan: list[list[int]] = []
    while len(plan) < n_steps:
        plan += length_batches(lengths, cfg.batch_size, gen)
    plan = plan[:n_steps]
    steps = progress(plan) if progress else plan
    gpt.train()
    history = []
    for step, b in enumerate(steps):
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, n_steps, cfg.lr, cfg.warmup_steps)
        idx, targets = collate_instructions([rows[i] for i in b], pad_id)
        if feats is None:
            _, loss = gpt(idx.to(dev), targets.to(dev))
        else:
            x, _ = pad_features([feats[i] for i in b])
            logits = gpt.lm_head(gpt.transformer.ln_f(run_blocks(gpt, x.to(dev), start)))
            loss = F.cross_entropy(logits.flatten(0, 1), targets.to(dev).flatten(), ignore_index=IGNORE)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        history.append(loss.item())
    freeze_gpt(gpt, None)
    gpt.eval()
    return history


@torch.no_grad()
def answer_ids(gpt: GPT, prompt_ids: Sequence[int], tokenizer, max_new_tokens: int = 24) -> str:
    """Greedy answer to already-encoded prompt ids: stops at the first newline (:data:`STOP`).

    Uses the model's key/value cache, so each new token costs one position of work.
    """
    if len(prompt_ids) + max_new_tokens > gpt.config.context:
        raise PromptTooLongError(
            f"The prompt is {len(prompt_ids)} tokens; with {max_new_tokens} tokens for the answer it needs "
            f"{len(prompt_ids) + max_new_tokens}, more than the context of {gpt.config.context}. Shorten it."
        )
    gpt.eval()
    dev = next(gpt.parameters()).device
    cache = gpt.new_cache()
    logits, _ = gpt(torch.tensor([list(prompt_ids)], device=dev), cache=cache)
    new: list[int] = []
    for _ in range(max_new_tokens):
        token = int(logits[0, -1].argmax())
        new.append(token)
        text = tokenizer.decode(new)
        if STOP in text:
            return text.split(STOP, 1)[0].strip()
        logits, _ = gpt(torch.tensor([[token]], device=dev), cache=cache)
    return tokenizer.decode(new).strip()


def answer(gpt: GPT, tokenizer, example: Example, max_new_tokens: int = 24) -> str:
    """The model's greedy response to an example's prompt (its ``response`` is not shown)."""
    return answer_ids(gpt, tokenizer.encode(example_prompt(example)), tokenizer, max_new_tokens)


def accepted_answers(examples: Sequence[Example]) -> dict[tuple[str, str], set[str]]:
    """Every response given to each (task, prompt) in ``examples``: any of them counts as right."""
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for ex in examples:
        out[(ex.task, example_prompt(ex))].add(ex.response)
    return out


@dataclass(frozen=True)
class TaskScore:
    """Held-out results of one task: exact matches, well-formed answers (``None`` for free text), total."""

    right: int
    well_formed: int | None
    total: int

    @property
    def exact(self) -> float:
        """The share of answers that equal an accepted answer exactly."""
        return self.right / self.total

    @property
    def formed(self) -> float | None:
        """The share of answers with the right form (:func:`gptbook.instructions.well_formed`)."""
        return None if self.well_formed is None else self.well_formed / self.total


def score_answers(
    test: Sequence[Example], answers: Sequence[str], accepted: dict[tuple[str, str], set[str]] | None = None
) -> dict[str, TaskScore]:
    """``{task: TaskScore}`` for given answers to ``test`` (same order), tasks sorted by name.

    An answer is right when it equals the example's response or, with ``accepted`` (from
    :func:`accepted_answers` over the whole set), any response the data gives for the same prompt.
    """
    if len(answers) != len(test):
        raise ValueError(f"{len(answers)} answers for {len(test)} examples: give one answer per example.")
    right: dict[str, int] = defaultdict(int)
    formed: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    free_text: set[str] = set()  # tasks whose answers have no form to check
    for ex, ans in zip(test, answers):
        ok = {ex.response} | (accepted.get((ex.task, example_prompt(ex)), set()) if accepted else set())
        right[ex.task] += ans in ok
        total[ex.task] += 1
        form = well_formed(ex, ans)
        if form is None:
            free_text.add(ex.task)
        else:
            formed[ex.task] += form
    return {t: TaskScore(right[t], None if t in free_text else formed[t], total[t]) for t in sorted(total)}


def exact_match_by_task(
    gpt: GPT,
    tokenizer,
    test: Sequence[Example],
    accepted: dict[tuple[str, str], set[str]] | None = None,
    max_new_tokens: int = 24,
    progress: Callable | None = None,
) -> dict[str, tuple[int, int]]:
    """``{task: (right, total)}``: how many greedy answers equal the expected response exactly.

    ``accepted`` (from :func:`accepted_answers` over the whole set) allows every answer the data
    gives for a prompt; without it, only the example's own response counts.
    """
    items = progress(test) if progress else test
    answers = [answer(gpt, tokenizer, ex, max_new_tokens) for ex in items]
    return {t: (s.right, s.total) for t, s in score_answers(test, answers, accepted).items()}


def timed(fn: Callable, *args, **kwargs) -> tuple[object, float]:
    """``(fn(*args, **kwargs), seconds it took)``: for the chapters' time budgets."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0
