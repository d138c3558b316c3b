"""Fine-tuning on instructions (chapter 10): teach the base model to answer in the template.

Read from top to bottom, like the chapter (Wei et al., 2021; Ouyang et al., 2022):

1. :func:`mask_prompt` and :func:`encode_instruction` make one training row: prompt and response
   tokens joined, with the targets of the prompt positions set to -100, so the loss only counts
   the response (the prompt is *masked out*); :func:`collate_instructions` pads a batch (padding
   targets are -100 too).
2. :func:`example_losses` averages the loss over each example's own response tokens, and the
   batch loss is the mean over examples: a 20-token answer weighs as much as a 1-token one.
3. :func:`train_instructions` fine-tunes a copy of the base model; ``on_step`` sees every
   example's loss, which :class:`TaskCurves` turns into one loss curve per task.
4. :func:`answer` generates greedily until the end of the response line (:data:`STOP`).
5. :func:`score_answers` scores answers to a held-out part per task: exact match next to the
   chance level of :func:`gptbook.instructions.chance`, well-formed answers, and word overlap
   for the free-text chat task; :func:`evaluate` generates and scores in one call.

The prompt template and the tasks live in :mod:`gptbook.instructions`; padding, batches of similar
length, freezing and the loop are shared with chapter 09 (:mod:`gptbook.tuning`).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from gptbook import tuning
from gptbook.instructions import (  # noqa: F401  (accepted_answers: re-exported)
    FREE_TEXT,
    STOP,
    Example,
    accepted_answers,
    chance,
    example_prompt,
    example_text,
    well_formed,
    word_f1,
)
from gptbook.model import GPT, IGNORE, next_token_loss
from gptbook.optim import check_int, evaluating
from gptbook.tuning import NoDataError, PromptTooLongError

Row = tuple[Sequence[int], Sequence[int]]
"""One training row: the input token ids and their targets (-100 where not scored)."""

# ---------------------------------------------------------------------------------------------
# 1. Masking the prompt out of the loss, and batching with padding
# ---------------------------------------------------------------------------------------------


def mask_prompt(ids: Sequence[int], prompt_len: int) -> tuple[list[int], list[int]]:
    """Inputs and targets for one prompt + response sequence ``ids``, prompt masked out.

    The model reads ``ids[:-1]`` and predicts ``ids[1:]``. A prediction whose target is still part
    of the prompt gets target :data:`~gptbook.model.IGNORE`, so the loss only scores the response.
    """
    if not 0 < prompt_len < len(ids):
        raise ValueError(
            f"prompt_len must be between 1 and len(ids) - 1 = {len(ids) - 1}, got {prompt_len}."
        )
    inputs, targets = list(ids[:-1]), list(ids[1:])
    for i in range(prompt_len - 1):  # targets[i] is ids[i + 1]: a prompt token while i + 1 < len
        targets[i] = IGNORE
    return inputs, targets


def encode_instruction(tokenizer, example: Example, context: int) -> Row | None:
    """Token inputs and masked targets of one example, or ``None`` when it does not fit ``context``.

    Prompt and response are encoded separately and joined, exactly as :func:`answer` sees them.
    """
    prompt, response = example_text(example)
    p, r = tokenizer.encode(prompt), tokenizer.encode(response)
    if len(p) + len(r) - 1 > context:
        return None
    return mask_prompt(p + r, len(p))


def collate_instructions(rows: Sequence[Row], pad_id: int = 0) -> tuple[Tensor, Tensor]:
    """Pad ``(inputs, targets)`` rows on the right into ``idx`` and ``targets``, both ``(B, T)``.

    Input padding is ``pad_id``; target padding is -100, so padding adds nothing to the loss.
    """
    idx, _ = tuning.pad_batch([r[0] for r in rows], pad_id)
    targets = torch.full_like(idx, IGNORE)
    for i, (_, t) in enumerate(rows):
        targets[i, : len(t)] = torch.as_tensor(list(t), dtype=torch.long)
    return idx, targets


# ---------------------------------------------------------------------------------------------
# 2. The loss, averaged per example
# ---------------------------------------------------------------------------------------------


def example_losses(logits: Tensor, targets: Tensor) -> Tensor:
    """One loss per row ``(B,)``: the mean cross-entropy over the row's scored targets.

    Averaging over all scored tokens of a batch at once (``next_token_loss``'s ``"mean"``) gives
    a row with a 30-token answer 30 times the say of a row with a one-token answer; averaging per
    row first gives every *example* the same weight. A row with nothing scored is refused.
    """
    per_token = next_token_loss(logits, targets, reduction="none")  # (B, T), 0 where ignored
    counts = (targets != IGNORE).sum(1)  # (B,)
    if bool((counts == 0).any()):
        raise ValueError("A row has no scored target: every example needs a response token.")
    return per_token.sum(1) / counts


# ---------------------------------------------------------------------------------------------
# 3. Fine-tuning
# ---------------------------------------------------------------------------------------------

AVERAGES = ("example", "token")


@dataclass
class InstructionConfig:
    """How :func:`train_instructions` trains. ``epochs`` may be fractional (1.5 = one pass and
    half of a second); ``trainable_blocks = k`` trains only the last ``k`` blocks and the final
    layer norm (``None``: every weight). ``average="example"`` averages the loss per example first
    (:func:`example_losses`); ``"token"`` over all response tokens of the batch at once."""

    epochs: float = 1.0
    batch_size: int = 16
    lr: float = 3e-4
    weight_decay: float = 0.01
    warmup_steps: int = 20
    grad_clip: float = 1.0
    trainable_blocks: int | None = None
    average: str = "example"
    seed: int = 0

    def __post_init__(self) -> None:
        tuning.check_config(self)
        if self.trainable_blocks is not None:
            check_int("InstructionConfig", "trainable_blocks", self.trainable_blocks, low=0)
        if self.average not in AVERAGES:
            raise ValueError(
                f"InstructionConfig.average must be one of {AVERAGES}, got {self.average!r}."
            )


INSTRUCTION_RECIPE = InstructionConfig(
    epochs=570 / 700, batch_size=8, lr=1e-3, warmup_steps=20, trainable_blocks=None, seed=0
)
"""Chapter 10's recipe: every weight learns, 570 steps of 8 examples (0.81 of a pass over the
5,600 training examples), the loss averaged per example. Chosen on the *validation* part only
(never on test) by ``python -m gptbook.instruct_runs --minutes 5 --recipes 1e-3:8 2e-3:8``: a
learning rate of 1e-3 gave 40.0 % validation exact match, 2e-3 gave 36.8 % (one run each, on
the base model of 6 blocks, width 256; ``gptbook/assets/instruction_runs.json``)."""


def train_instructions(
    gpt: GPT,
    rows: Sequence[Row],
    cfg: InstructionConfig = INSTRUCTION_RECIPE,
    pad_id: int = 0,
    progress: Callable | None = None,
    on_step: Callable[[list[int], list[float]], None] | None = None,
) -> tuple[GPT, list[float]]:
    """Fine-tune a *copy* of ``gpt`` (which stays unchanged) on encoded instruction rows.

    Returns ``(tuned model, the loss of every step)``; the tuned model is in eval mode with every
    parameter trainable again. Batches group rows of similar length, shuffled with ``cfg.seed``.
    ``on_step(batch, losses)`` is called after every step with the batch's row indices and each
    row's loss (for per-task curves, :class:`TaskCurves`). With ``cfg.trainable_blocks = k`` the
    frozen bottom runs once over every row (:func:`gptbook.tuning.residual_streams`).
    """
    if not rows:
        raise NoDataError(
            "There are no training rows; encode some examples with encode_instruction first "
            "(it gives None for an example too long for the context)."
        )
    bad = [i for i, r in enumerate(rows) if r is None]
    if bad:
        raise ValueError(
            f"Rows {bad[:5]} are None: encode_instruction gives None for an example too long for "
            "the context. Leave those examples out."
        )
    model = copy.deepcopy(gpt)
    tuning.freeze_gpt(model, cfg.trainable_blocks)
    start = tuning.frozen_blocks(model)
    feats = (
        tuning.residual_streams(model, [r[0] for r in rows], start, 32, pad_id) if start else None
    )
    params = [p for p in model.parameters() if p.requires_grad]
    dev = next(model.parameters()).device
    plan = tuning.plan_steps([len(r[0]) for r in rows], cfg.batch_size, cfg.epochs, cfg.seed)

    def loss_of(batch: list[int]) -> Tensor:
        idx, targets = collate_instructions([rows[i] for i in batch], pad_id)  # (B, T) each
        targets = targets.to(dev)
        if feats is None:
            logits, _ = model(idx.to(dev))
        else:  # (B, T, d_model) entering block `start`
            x, _ = tuning.pad_streams([feats[i] for i in batch])
            logits = model.lm_head(model.finish(x.to(dev), start))
        per_row = example_losses(logits, targets)
        if on_step is not None:
            on_step(list(batch), per_row.detach().cpu().tolist())
        if cfg.average == "token":
            return next_token_loss(logits, targets)
        return per_row.mean()

    model.train()
    history = tuning.fit(params, plan, loss_of, cfg, progress)
    tuning.freeze_gpt(model, None)
    return model.eval(), history


@dataclass
class TaskCurves:
    """Collects every example's training loss by task, for one loss curve per task.

    Pass ``curves.add`` as ``on_step`` to :func:`train_instructions`; ``tasks[i]`` is the task of
    row ``i``. :meth:`curve` gives a task's losses in the order they were seen, smoothed.
    """

    tasks: Sequence[str]
    seen: dict[str, list[tuple[int, float]]] = field(default_factory=lambda: defaultdict(list))
    steps: int = 0

    def add(self, batch: list[int], losses: list[float]) -> None:
        for i, loss in zip(batch, losses):
            self.seen[self.tasks[i]].append((self.steps, loss))
        self.steps += 1

    def curve(self, task: str, window: int = 50) -> tuple[list[float], list[float]]:
        """``(steps, losses)``: the mean of each ``window`` consecutive losses of ``task``, at
        the mean step they were seen."""
        pts = self.seen.get(task)
        if not pts:
            raise KeyError(f"No training loss of task {task!r} was recorded.")
        xs, ys = [], []
        for s in range(0, len(pts) - window + 1, window):
            chunk = pts[s : s + window]
            xs.append(sum(p[0] for p in chunk) / window)
            ys.append(sum(p[1] for p in chunk) / window)
        return xs, ys


# ---------------------------------------------------------------------------------------------
# 4. Answering
# ---------------------------------------------------------------------------------------------


@torch.no_grad()
def answer_ids(gpt: GPT, prompt_ids: Sequence[int], tokenizer, max_new_tokens: int = 24) -> str:
    """Greedy answer to already-encoded prompt ids: stops at the first newline (:data:`STOP`).

    Uses the model's key/value cache, so each new token costs one position of work. The model
    runs in eval mode and is left in the mode it had.
    """
    check_int("answer_ids", "max_new_tokens", max_new_tokens, low=1)
    if len(prompt_ids) == 0:
        raise ValueError(
            "The prompt has no tokens; encode a prompt first, for example with "
            "tokenizer.encode(format_prompt(instruction, input))."
        )
    if len(prompt_ids) + max_new_tokens > gpt.config.context:
        raise PromptTooLongError(
            f"The prompt is {len(prompt_ids)} tokens; with {max_new_tokens} tokens for the answer "
            f"it needs {len(prompt_ids) + max_new_tokens}, more than the context of "
            f"{gpt.config.context}. Shorten it."
        )
    dev = next(gpt.parameters()).device
    cache = gpt.new_cache()
    new: list[int] = []
    with evaluating(gpt):
        logits, _ = gpt(torch.tensor([list(prompt_ids)], dtype=torch.long, device=dev), cache=cache)
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


# ---------------------------------------------------------------------------------------------
# 5. Scoring held-out answers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskScore:
    """Held-out results of one task.

    ``right``: exact matches; ``chance``: the exact matches a random guesser of the right form
    expects (the sum of :func:`gptbook.instructions.chance`); ``well_formed``: answers of the
    right form; ``overlap``: the summed word overlap (:func:`gptbook.instructions.word_f1`) with
    the reference answers. Free text (``qa``) has ``chance`` and ``well_formed`` ``None``.
    """

    right: int
    total: int
    chance: float | None
    well_formed: int | None
    overlap: float

    @property
    def exact(self) -> float:
        """The share of answers that equal an accepted answer exactly."""
        return self.right / self.total

    @property
    def chance_level(self) -> float | None:
        """The share a random guesser of the right form gets, on average."""
        return None if self.chance is None else self.chance / self.total

    @property
    def formed(self) -> float | None:
        """The share of answers with the right form (:func:`gptbook.instructions.well_formed`)."""
        return None if self.well_formed is None else self.well_formed / self.total

    @property
    def f1(self) -> float:
        """The mean word overlap of the answers with the references."""
        return self.overlap / self.total


def score_answers(
    test: Sequence[Example],
    answers: Sequence[str],
    accepted: dict[tuple[str, str], set[str]] | None = None,
) -> dict[str, TaskScore]:
    """``{task: TaskScore}`` for given answers to ``test`` (same order), tasks sorted by name.

    An answer is right when it equals the example's response or, with ``accepted`` (from
    :func:`gptbook.instructions.accepted_answers`), any response the data gives for the prompt.
    """
    if len(answers) != len(test):
        raise ValueError(
            f"{len(answers)} answers for {len(test)} examples: give one answer per example."
        )
    right: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    odds: dict[str, float] = defaultdict(float)
    formed: dict[str, int] = defaultdict(int)
    overlap: dict[str, float] = defaultdict(float)
    for ex, ans in zip(test, answers):
        ok = {ex.response}
        if accepted:
            ok |= accepted.get((ex.task, example_prompt(ex)), set())
        right[ex.task] += ans in ok
        total[ex.task] += 1
        overlap[ex.task] += word_f1(ans, ok)
        if ex.task != FREE_TEXT:
            odds[ex.task] += chance(ex)
            formed[ex.task] += bool(well_formed(ex, ans))
    return {
        t: TaskScore(
            right[t],
            total[t],
            None if t == FREE_TEXT else odds[t],
            None if t == FREE_TEXT else formed[t],
            overlap[t],
        )
        for t in sorted(total)
    }


def overall_exact(scores: dict[str, TaskScore]) -> float:
    """The exact-match share over every checkable task's answers (free text left out)."""
    kept = [s for t, s in scores.items() if t != FREE_TEXT]
    if not kept:
        raise NoDataError("There is no checkable task to score.")
    return sum(s.right for s in kept) / sum(s.total for s in kept)


def answer_budget(tokenizer, example: Example, accepted: set[str], max_new_tokens: int,
                  slack: int | None) -> int:
    """How many tokens to let the model write for ``example``: ``max_new_tokens``, or with
    ``slack``, only ``slack`` more than the longest accepted answer and its newline need. An
    answer that runs longer cannot match exactly, so cutting it changes no exact match and saves
    the time of writing it (a base model rarely stops on its own)."""
    if slack is None:
        return max_new_tokens
    need = max(len(tokenizer.encode(a + STOP)) for a in accepted | {example.response})
    return max(1, min(max_new_tokens, need + slack))


def evaluate(
    gpt: GPT,
    tokenizer,
    examples: Sequence[Example],
    accepted: dict[tuple[str, str], set[str]] | None = None,
    max_new_tokens: int = 24,
    progress: Callable | None = None,
    slack: int | None = None,
) -> tuple[list[str], dict[str, TaskScore]]:
    """Greedy answers to ``examples`` and their scores: ``(answers, {task: TaskScore})``.

    With ``slack``, each answer may run only ``slack`` tokens past the length of its longest
    accepted answer (:func:`answer_budget`); free-text answers always get ``max_new_tokens``.
    """
    items = progress(examples) if progress else examples
    answers = []
    for ex in items:
        ok = (accepted or {}).get((ex.task, example_prompt(ex)), set())
        budget = answer_budget(tokenizer, ex, ok, max_new_tokens,
                               None if ex.task == FREE_TEXT else slack)
        answers.append(answer(gpt, tokenizer, ex, budget))
    return answers, score_answers(examples, answers, accepted)


def exact_match_by_task(
    gpt: GPT,
    tokenizer,
    test: Sequence[Example],
    accepted: dict[tuple[str, str], set[str]] | None = None,
    max_new_tokens: int = 24,
    progress: Callable | None = None,
) -> dict[str, tuple[int, int]]:
    """``{task: (right, total)}``: how many greedy answers equal the expected response exactly."""
    _, scores = evaluate(gpt, tokenizer, test, accepted, max_new_tokens, progress)
    return {t: (s.right, s.total) for t, s in scores.items()}
