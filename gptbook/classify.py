"""Fine-tuning for classification: spam or not spam (chapter 09).

Read from top to bottom, like the chapter (Radford et al., 2018; Howard and Ruder, 2018, ULMFiT):

1. :func:`stratified_split` cuts the SMS Spam Collection (Almeida et al., 2011) into fixed train,
   validation and test parts with the same share of spam in each, each message once.
2. :func:`encode_message` turns a message into token ids, refusing an empty message and cutting (or
   refusing) one longer than the model's context.
3. :class:`GPTClassifier` puts a small linear *head* on the GPT's hidden state of the **last real
   token** of each message: with a causal mask, that token has seen the whole message and no
   padding, so padding never changes the prediction.
4. :func:`freeze` chooses which layers learn, and :func:`precompute` runs the frozen bottom once.
5. :func:`train_classifier` is the loop and :func:`fine_tune_classifier` the chapter's whole run
   (:data:`SPAM_RECIPE`); :func:`evaluate_classifier` reports accuracy, spam recall and precision,
   and :func:`classify` labels one message.
6. The baseline to beat: :func:`label_logprobs` scores zero-shot and few-shot prompts of the base
   model, with no training at all.

Padding, batches of similar length and freezing are shared with chapter 10 (:mod:`gptbook.tuning`).
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gptbook.attention import KVCache
from gptbook.data import Message
from gptbook.model import GPT
from gptbook.optim import check_int, evaluating
from gptbook.tuning import (
    NoDataError,
    PromptTooLongError,
    check_config,
    fit,
    freeze_gpt,
    frozen_blocks,
    last_real,
    pad_batch,
    pad_streams,
    plan_steps,
    residual_streams,
)

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
    messages: Sequence[Message],
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> SpamSplit:
    """Shuffle the spam and the ham messages separately (with ``seed``) and cut each the same way.

    A message that occurs more than once (the SMS collection repeats 328, mostly spam sent many
    times) is kept once, at its first place: a repeat on both sides would let a model pass the test
    from memory. The split depends on nothing but the messages and the seed: same input, same split,
    on every machine. Within each part, messages keep their order in the collection.
    """
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(
            f"val_fraction={val_fraction} and test_fraction={test_fraction} must be in (0, 1) "
            "and add up to less than 1."
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
    return SpamSplit(
        *(tuple(messages[i] for i in sorted(parts[k])) for k in ("train", "val", "test"))
    )


# ---------------------------------------------------------------------------------------------
# 2. Tokens and truncation
# ---------------------------------------------------------------------------------------------


def _check_text(text: object) -> None:
    if not isinstance(text, str) or not text.strip():
        raise EmptyMessageError(
            f"The message is empty ({text!r}); type the text of a message to classify it."
        )


def encode_message(tokenizer, text: str, max_tokens: int, truncate: bool = True) -> list[int]:
    """Token ids of ``text``, at most ``max_tokens`` of them.

    The rule for long messages: with ``truncate=True`` only the first ``max_tokens`` tokens are
    kept (the start of a message is where spam says what it wants: "FREE entry", "You have won");
    with ``truncate=False`` a longer message raises :class:`MessageTooLongError`. An empty (or
    all-white-space) message raises :class:`EmptyMessageError`.
    """
    _check_text(text)
    check_int("encode_message", "max_tokens", max_tokens, low=1)
    ids = tokenizer.encode(text)
    if len(ids) > max_tokens:
        if not truncate:
            raise MessageTooLongError(
                f"The message is {len(ids)} tokens long but the model reads at most {max_tokens}; "
                f"shorten it, or pass truncate=True to keep its first {max_tokens} tokens."
            )
        ids = ids[:max_tokens]
    return ids


@dataclass
class EncodedMessages:
    """Messages as token ids and their labels (0 ham, 1 spam); ``truncated`` counts cut ones."""

    ids: list[list[int]]
    labels: list[int]
    truncated: int = 0

    def __len__(self) -> int:
        return len(self.ids)


def encode_messages(tokenizer, messages: Sequence[Message], max_tokens: int) -> EncodedMessages:
    """Encode messages for :func:`train_classifier`, keeping the first ``max_tokens`` of each.

    A label other than ``"spam"`` or ``"ham"`` and an empty message raise ``ValueError``s.
    """
    check_int("encode_messages", "max_tokens", max_tokens, low=1)
    ids, labels, cut = [], [], 0
    for m in messages:
        if m.label not in LABELS:
            raise ValueError(
                f"Label {m.label!r} is neither 'spam' nor 'ham' (message {m.text[:40]!r})."
            )
        _check_text(m.text)
        full = tokenizer.encode(m.text)
        cut += len(full) > max_tokens
        ids.append(full[:max_tokens])
        labels.append(LABELS.index(m.label))
    return EncodedMessages(ids, labels, cut)


# ---------------------------------------------------------------------------------------------
# 3. The classifier: a head on the last real token
# ---------------------------------------------------------------------------------------------


class GPTClassifier(nn.Module):
    """A GPT body with a classification head in place of the next-token head.

    ``logits = head(h[last real token])`` where ``h`` are the GPT's final hidden states
    (:meth:`gptbook.model.GPT.hidden_states`) and the head is ``nn.Linear(d_model, num_classes)``.
    """

    def __init__(self, gpt: GPT, num_classes: int = 2):
        super().__init__()
        self.gpt = gpt
        self.head = nn.Linear(gpt.config.d_model, num_classes)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, idx: Tensor, lengths: Tensor) -> Tensor:
        """Class logits ``(B, num_classes)`` for the right-padded batch ``idx`` ``(B, T)`` whose
        rows hold ``lengths`` ``(B,)`` real tokens."""
        return self.head(last_real(self.gpt.hidden_states(idx), lengths))

    def forward_from(self, x: Tensor, lengths: Tensor, start_block: int) -> Tensor:
        """Class logits from the residual stream ``x`` ``(B, T, d_model)`` entering block
        ``start_block`` (see :func:`precompute`)."""
        return self.head(last_real(self.gpt.finish(x, start_block), lengths))

    def frozen_blocks(self) -> int:
        """How many bottom blocks (with the embeddings) have no trainable parameter."""
        return frozen_blocks(self.gpt)


# ---------------------------------------------------------------------------------------------
# 4. What learns, and computing the frozen part once
# ---------------------------------------------------------------------------------------------


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


@dataclass
class Features:
    """The residual stream of each message as it enters block ``start_block`` (one ``(T_i, d)``
    tensor per message), with the labels. Made by :func:`precompute`."""

    x: list[Tensor]
    labels: list[int]
    start_block: int

    def __len__(self) -> int:
        return len(self.x)


def precompute(
    clf: GPTClassifier, data: EncodedMessages, batch_size: int = 64, pad_id: int = 0
) -> Features:
    """Run the frozen bottom of ``clf`` (embeddings and :meth:`GPTClassifier.frozen_blocks`
    blocks) once over every message.

    Training the top then starts from these tensors instead of the token ids: the same numbers, but
    the frozen blocks run once instead of once per epoch.
    """
    start = clf.frozen_blocks()
    x = residual_streams(clf.gpt, data.ids, start, batch_size, pad_id)
    return Features(x, list(data.labels), start)


def _length(data: EncodedMessages | Features, i: int) -> int:
    return data.x[i].size(0) if isinstance(data, Features) else len(data.ids[i])


def _batch_logits(
    clf: GPTClassifier, data: EncodedMessages | Features, rows: Sequence[int], pad_id: int
) -> Tensor:
    """Class logits ``(len(rows), num_classes)`` of the messages ``rows`` of ``data``."""
    dev = next(clf.parameters()).device
    if isinstance(data, Features):
        x, lengths = pad_streams([data.x[i] for i in rows])
        return clf.forward_from(x.to(dev), lengths.to(dev), data.start_block)
    idx, lengths = pad_batch([data.ids[i] for i in rows], pad_id)
    return clf(idx.to(dev), lengths.to(dev))


# ---------------------------------------------------------------------------------------------
# 5. Training, evaluation, and labelling one message
# ---------------------------------------------------------------------------------------------


@dataclass
class ClassifierConfig:
    """How :func:`train_classifier` trains. ``class_weights`` weighs the loss of ham and spam;
    ``max_steps`` stops the run early."""

    epochs: int = 2
    batch_size: int = 16
    lr: float = 3e-4
    weight_decay: float = 0.01
    warmup_steps: int = 20
    grad_clip: float = 1.0
    class_weights: tuple[float, float] | None = None
    max_steps: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        check_int("ClassifierConfig", "epochs", self.epochs, low=1)
        check_config(self)
        if self.max_steps is not None:
            check_int("ClassifierConfig", "max_steps", self.max_steps, low=1)


SPAM_TRAINABLE_BLOCKS: int | None = None
"""Chapter 09's choice: every weight learns (embeddings, all blocks, the head)."""

# How the recipe was chosen: on the validation part, never the test part (quiet CPU, one run
# each; validation accuracy / spam recall): the last two blocks for 2 epochs at 1e-3, 97.6 % /
# 85.7 % (30 s); 4 epochs, 98.2 % / 87.5 %; all four blocks for 3 epochs at 5e-4, 97.4 % /
# 85.7 %; every weight for 3 epochs at 3e-4, 98.0 % / 91.1 %; the same at 5e-4, 98.9 % /
# 92.9 % (79 s): the recipe below.
SPAM_RECIPE = ClassifierConfig(
    epochs=3, batch_size=16, lr=5e-4, warmup_steps=20, class_weights=(1.0, 2.0), seed=0
)
"""Chapter 09's recipe: every weight learns for three epochs with a small learning rate, so the
pretrained weights move only a little. Spam is rare (12 %), so its loss counts twice: fewer spam
messages slip through."""


def train_classifier(
    clf: GPTClassifier,
    train: EncodedMessages | Features,
    cfg: ClassifierConfig,
    pad_id: int = 0,
    progress: Callable | None = None,
) -> list[float]:
    """Train the trainable parameters of ``clf`` in place; return the loss of every step.

    ``train`` holds token ids, or features from :func:`precompute` (then only the blocks above the
    frozen ones run). Batches group messages of similar length, shuffled with ``cfg.seed``;
    ``cfg.max_steps`` stops early. ``progress`` may wrap the step iterator (``tqdm``). The
    classifier is left in eval mode, ready to predict.
    """
    params = [p for p in clf.parameters() if p.requires_grad]
    if not params:
        raise ValueError(
            "Nothing to train: every parameter is frozen. Call freeze(clf, k) with k >= 0 first."
        )
    if not len(train):
        raise NoDataError(
            "There are no training messages (is the data file empty?); "
            "give train_classifier at least one labelled message."
        )
    if isinstance(train, Features) and train.start_block > clf.frozen_blocks():
        raise ValueError(
            f"The features start at block {train.start_block} but block {clf.frozen_blocks()} "
            "is trainable; call precompute(clf, data) after freeze(clf, k)."
        )
    dev = next(clf.parameters()).device
    weight = None
    if cfg.class_weights is not None:
        weight = torch.tensor(cfg.class_weights, dtype=torch.float32, device=dev)
    lengths = [_length(train, i) for i in range(len(train))]
    plan = plan_steps(lengths, cfg.batch_size, cfg.epochs, cfg.seed, cfg.max_steps)
    labels = torch.tensor(train.labels)

    def loss_of(batch: list[int]) -> Tensor:
        logits = _batch_logits(clf, train, batch, pad_id)  # (B, num_classes)
        return F.cross_entropy(logits, labels[batch].to(dev), weight=weight)

    clf.train()
    history = fit(params, plan, loss_of, cfg, progress)
    clf.eval()
    return history


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
    if not len(train):
        raise NoDataError(
            "There are no training messages (is the data file empty?); "
            "fine-tuning needs at least one labelled message."
        )
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
    """Class logits ``(N, num_classes)`` of every message, in order (batches sorted by length)."""
    order = sorted(range(len(data)), key=lambda i: _length(data, i))
    out = torch.empty(len(data), clf.head.out_features)
    with evaluating(clf):
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


def confusion_matrix(
    true: Sequence[int], predicted: Sequence[int], num_classes: int = 2
) -> list[list[int]]:
    """``m[t][p]`` counts the items of true class ``t`` predicted as ``p``."""
    if len(true) != len(predicted):
        raise ValueError(
            f"{len(true)} true labels but {len(predicted)} predictions; they must pair up."
        )
    m = [[0] * num_classes for _ in range(num_classes)]
    for t, p in zip(true, predicted):
        m[int(t)][int(p)] += 1
    return m


def report(true: Sequence[int], predicted: Sequence[int]) -> Report:
    """A :class:`Report` for binary labels (1 = spam)."""
    return Report(confusion_matrix(true, predicted))


def evaluate_classifier(
    clf: GPTClassifier, data: EncodedMessages | Features, pad_id: int = 0
) -> Report:
    """Predict every message (the class with the larger logit) and compare with the labels."""
    if not len(data):
        raise NoDataError("There are no messages to evaluate on; give at least one.")
    return report(data.labels, classifier_logits(clf, data, pad_id=pad_id).argmax(-1).tolist())


@torch.no_grad()
def classify(clf: GPTClassifier, tokenizer, text: str, truncate: bool = False) -> tuple[str, float]:
    """Label one message: ``("spam" | "ham", probability of spam)``.

    An empty message raises :class:`EmptyMessageError`; one longer than the context raises
    :class:`MessageTooLongError` unless ``truncate=True`` (then its first tokens are used).
    """
    ids = encode_message(tokenizer, text, clf.gpt.config.context, truncate=truncate)
    dev = next(clf.parameters()).device
    with evaluating(clf):
        logits = clf(torch.tensor([ids], device=dev), torch.tensor([len(ids)], device=dev))
    p = torch.softmax(logits.float(), -1)[0]
    return LABELS[int(p.argmax())], float(p[1])


# ---------------------------------------------------------------------------------------------
# 6. Prompting the base model: zero-shot and few-shot
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
    """Log-probability ``(N, len(labels))`` the base model gives each label's tokens after each
    prompt: zero-shot classification with no prefix, few-shot with worked examples in the prefix
    (Radford et al., 2019; Brown et al., 2020).

    The model reads ``prefix + prompt``; the prefix is the same for every prompt, so it is run once
    and kept in a key/value cache. A label may be several tokens; their log-probabilities are
    added. A prompt too long for the context loses tokens from its *start* (the question at its
    end is what the model must see). An empty prompt or label raises :class:`EmptyMessageError`.
    """
    check_int("label_logprobs", "batch_size", batch_size, low=1)
    dev = next(gpt.parameters()).device
    prefix_ids = tokenizer.encode(prefix) if prefix else []
    label_ids = [tokenizer.encode(lab) for lab in labels]
    prompt_ids = [tokenizer.encode(p) for p in prompts]
    for kind, texts, encoded in (("prompt", prompts, prompt_ids), ("label", labels, label_ids)):
        for i, ids in enumerate(encoded):
            if not ids:
                raise EmptyMessageError(
                    f"The {kind} {texts[i]!r} (number {i}) has no tokens; "
                    f"give every {kind} some text."
                )
    out = torch.empty(len(prompts), len(labels))
    with evaluating(gpt):
        for j, lab in enumerate(label_ids):
            room = gpt.config.context - len(prefix_ids) - len(lab)
            if room < 2:
                raise PromptTooLongError(
                    f"The prefix ({len(prefix_ids)} tokens) and the label {labels[j]!r} leave no "
                    f"room for a message in the context of {gpt.config.context}; "
                    "use fewer or shorter worked examples."
                )
            seqs = [ids[-room:] + lab for ids in prompt_ids]
            starts = [len(ids[-room:]) for ids in prompt_ids]  # where each label begins
            order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
            for s in range(0, len(order), batch_size):
                rows = order[s : s + batch_size]
                idx, _ = pad_batch([seqs[i] for i in rows])
                cache = _prefix_cache(gpt, prefix_ids, len(rows)) if prefix_ids else None
                logits, _ = gpt(idx.to(dev), cache=cache)  # (B, T, vocab_size)
                logp = torch.log_softmax(logits.float(), -1).cpu()
                for r, i in enumerate(rows):
                    pos = torch.arange(starts[i] - 1, starts[i] - 1 + len(lab))
                    out[i, j] = logp[r, pos, torch.tensor(lab)].sum()
    return out
