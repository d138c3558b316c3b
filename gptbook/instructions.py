"""Instructions for chapter 10: the prompt template, and an instruction set built offline.

Read from top to bottom, like the chapter:

1. :class:`Example` is one instruction: a task name, the instruction, an optional input, and the one
   right response. :func:`format_prompt` puts it in the book's prompt template; the model learns to
   write the response after ``### Response:`` and to end it with a newline (:data:`STOP`).
2. Tasks from the packaged data: question -> answer pairs (ChatterBot corpus), SMS messages to label
   as spam or ham (Almeida et al., 2011), and two kinds of facts read off Shakespeare's plays: who
   speaks a line, and in which play a character speaks.
3. Generated tasks with answers a program can check: reverse a word, add two small numbers, write a
   phrase in capital letters.
4. :func:`well_formed` tells whether an answer has the right form (a number, a play's title...),
   whether or not it is right.
5. :func:`build_instruction_set` mixes them (seeded, so the same set every time) and
   :func:`split_instruction_set` holds out a fixed number of examples per task for exact-match
   tests.

The template follows the idea of instruction tuning (Wei et al., 2021, FLAN; Ouyang et al., 2022,
InstructGPT): many tasks, each phrased as a plain-English instruction, in one fixed format.
"""

from __future__ import annotations

import functools
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gptbook import data

# ---------------------------------------------------------------------------------------------
# 1. One example, and the prompt template
# ---------------------------------------------------------------------------------------------

STOP = "\n"
"""A response is one line: the model ends it with a newline, and generation stops there."""

PROMPT_TEMPLATE = "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
PROMPT_TEMPLATE_NO_INPUT = "### Instruction:\n{instruction}\n\n### Response:\n"


@dataclass(frozen=True)
class Example:
    """One instruction example. ``response`` is the one answer counted as right (exact match)."""

    task: str
    instruction: str
    input: str
    response: str


def one_line(text: str) -> str:
    """Collapse every run of white space (newlines included) into one space, and strip the ends."""
    return " ".join(str(text).split())


def format_prompt(instruction: str, input: str = "") -> str:
    """The prompt the model sees: the instruction, the input (if any), then ``### Response:``.

    An empty instruction raises ``ValueError``: there would be nothing to answer.
    """
    instruction = one_line(instruction)
    if not instruction:
        raise ValueError(
            "The instruction is empty: write what the model should do, "
            "for example 'Reverse the word.'"
        )
    input = one_line(input)
    if input:
        return PROMPT_TEMPLATE.format(instruction=instruction, input=input)
    return PROMPT_TEMPLATE_NO_INPUT.format(instruction=instruction)


def example_prompt(example: Example) -> str:
    """The prompt of an :class:`Example` (its instruction and input in the template)."""
    return format_prompt(example.instruction, example.input)


def example_text(example: Example) -> tuple[str, str]:
    """``(prompt, response + STOP)``: the two parts a training example is made of."""
    return example_prompt(example), example.response + STOP


# ---------------------------------------------------------------------------------------------
# 2. Tasks from the packaged data
# ---------------------------------------------------------------------------------------------


def qa_examples(pairs: Iterable[tuple[str, str]], max_chars: int = 160) -> list[Example]:
    """Question -> answer pairs as instructions (the question is the instruction, no input).

    Pairs whose answer is longer than ``max_chars`` characters are left out (they would not fit a
    small model's context next to the prompt). A question with several answers in the corpus gives
    several examples; :func:`split_instruction_set` keeps them on the same side of the split.
    """
    out = []
    for q, a in pairs:
        q, a = one_line(q), one_line(a)
        if q and a and len(a) <= max_chars and len(q) <= max_chars:
            out.append(Example("qa", q, "", a))
    return out


def spam_examples(
    messages: Iterable[data.Message], n: int, rng: random.Random, max_chars: int = 160
) -> list[Example]:
    """``n`` SMS messages (half spam, half ham, each at most ``max_chars`` long) to label.

    The answer is the label, ``spam`` or ``ham``.
    """
    by_label: dict[str, list[data.Message]] = defaultdict(list)
    for m in messages:
        text = one_line(m.text)
        if text and len(text) <= max_chars:
            by_label[m.label].append(data.Message(m.label, text))
    out = []
    for label, k in (("spam", n // 2), ("ham", n - n // 2)):
        pool = sorted(by_label[label], key=lambda m: m.text)
        for m in rng.sample(pool, min(k, len(pool))):
            out.append(Example("spam", "Is this text message spam or ham?", m.text, m.label))
    return out


# Plays whose speeches are marked by the speaker's name in capitals on a line of its own
# ("HELENA."). Hamlet, King Lear, A Midsummer Night's Dream and Romeo and Juliet use another layout
# in this edition and are left out, as are the poems.
PLAY_TITLES = {
    "alls_well_that_ends_well": "All's Well That Ends Well",
    "antony_and_cleopatra": "Antony and Cleopatra",
    "as_you_like_it": "As You Like It",
    "comedy_of_errors": "The Comedy of Errors",
    "coriolanus": "Coriolanus",
    "cymbeline": "Cymbeline",
    "henry_iv_part_1": "Henry IV, Part 1",
    "henry_iv_part_2": "Henry IV, Part 2",
    "henry_v": "Henry V",
    "henry_vi_part_1": "Henry VI, Part 1",
    "henry_vi_part_2": "Henry VI, Part 2",
    "henry_vi_part_3": "Henry VI, Part 3",
    "henry_viii": "Henry VIII",
    "john": "King John",
    "julius_caesar": "Julius Caesar",
    "loves_labours_lost": "Love's Labour's Lost",
    "macbeth": "Macbeth",
    "measure_for_measure": "Measure for Measure",
    "merchant_of_venice": "The Merchant of Venice",
    "merry_wives_of_windsor": "The Merry Wives of Windsor",
    "much_ado_about_nothing": "Much Ado About Nothing",
    "othello": "Othello",
    "pericles": "Pericles",
    "richard_ii": "Richard II",
    "richard_iii": "Richard III",
    "taming_of_the_shrew": "The Taming of the Shrew",
    "tempest": "The Tempest",
    "timon_of_athens": "Timon of Athens",
    "tragedy_of_titus_andronicus": "Titus Andronicus",
    "troilus_and_cressida": "Troilus and Cressida",
    "twelfth_night": "Twelfth Night",
    "two_gentlemen_of_verona": "The Two Gentlemen of Verona",
    "winters_tale": "The Winter's Tale",
}

_SPEAKER = re.compile(r"^([A-Z][A-Z' -]*[A-Z])\.$")
_NOT_A_SPEAKER = (
    "ACT",
    "SCENE",
    "PROLOGUE",
    "EPILOGUE",
    "CHORUS",
    "ALL",
    "BOTH",
    "FINIS",
    "THE END",
)


@dataclass(frozen=True)
class Speech:
    """The first line of one speech in a play."""

    play: str  # a title from PLAY_TITLES
    speaker: str  # in title case, "First Lord"
    line: str


def parse_speeches(text: str, play: str) -> list[Speech]:
    """Every speech in a play's text: a speaker line ``NAME.`` followed by the speech's first line.

    Stage directions (lines in square brackets) are skipped, so are speaker-like headings such as
    ``ACT I.`` and group speakers such as ``ALL.``.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    out = []
    for i, raw in enumerate(lines[:-1]):
        m = _SPEAKER.match(raw)
        if not m or m.group(1).startswith(_NOT_A_SPEAKER):
            continue
        first = lines[i + 1].strip()
        if first and not first.startswith("["):
            out.append(Speech(play, m.group(1).title(), one_line(first)))
    return out


@functools.cache
def shakespeare_speeches() -> tuple[Speech, ...]:
    """All speeches of the plays in :data:`PLAY_TITLES`, in file order."""
    out: list[Speech] = []
    for path in data.shakespeare_files():
        stem = path.stem.removesuffix("_gut")
        if stem in PLAY_TITLES:
            out.extend(parse_speeches(path.read_text(encoding="ascii"), PLAY_TITLES[stem]))
    return tuple(out)


def speaker_examples(
    speeches: Sequence[Speech], n: int, rng: random.Random, speakers_per_play: int = 4
) -> list[Example]:
    """``n`` lines to attribute: "Name the speaker of this line from <play>." -> the speaker.

    Only the ``speakers_per_play`` characters with the most speeches in each play are used, so the
    answer is one of a few names; lines of 20 to 80 characters that one speaker alone says.
    """
    count = Counter((s.play, s.speaker) for s in speeches)
    top = {
        (play, who)
        for play in {s.play for s in speeches}
        for who, _ in Counter({w: c for (p, w), c in count.items() if p == play}).most_common(
            speakers_per_play
        )
    }
    said_by = defaultdict(set)
    for s in speeches:
        said_by[(s.play, s.line)].add(s.speaker)
    pool = sorted(
        {
            s
            for s in speeches
            if (s.play, s.speaker) in top
            and 20 <= len(s.line) <= 80
            and len(said_by[(s.play, s.line)]) == 1
        },
        key=lambda s: (s.play, s.speaker, s.line),
    )
    return [
        Example("speaker", f"Name the speaker of this line from {s.play}.", s.line, s.speaker)
        for s in rng.sample(pool, min(n, len(pool)))
    ]


def play_examples(
    speeches: Sequence[Speech], n: int, rng: random.Random, min_speeches: int = 15
) -> list[Example]:
    """A fact derived from the plays: "In which Shakespeare play does <character> speak?" -> title.

    Characters with at least ``min_speeches`` speeches whose name is used in one play only.
    """
    count = Counter((s.speaker, s.play) for s in speeches)
    plays_of = defaultdict(set)
    for who, play in count:
        plays_of[who].add(play)
    pool = sorted(
        (who, play)
        for (who, play), c in count.items()
        if c >= min_speeches and len(plays_of[who]) == 1
    )
    return [
        Example("play", "In which Shakespeare play does this character speak?", who, play)
        for who, play in rng.sample(pool, min(n, len(pool)))
    ]


# ---------------------------------------------------------------------------------------------
# 3. Generated tasks with checkable answers
# ---------------------------------------------------------------------------------------------


@functools.cache
def shakespeare_words(min_len: int = 3, max_len: int = 8, min_count: int = 5) -> tuple[str, ...]:
    """Lower-case words of ``min_len``..``max_len`` letters used at least ``min_count`` times."""
    counts = Counter(re.findall(r"[a-z]+", data.shakespeare().lower()))
    return tuple(
        sorted(w for w, c in counts.items() if min_len <= len(w) <= max_len and c >= min_count)
    )


def reverse_examples(words: Sequence[str], n: int, rng: random.Random) -> list[Example]:
    """ "Reverse the letters of this word." ``night`` -> ``thgin``."""
    return [
        Example("reverse", "Reverse the letters of this word.", w, w[::-1])
        for w in rng.sample(list(words), n)
    ]


def addition_examples(n: int, rng: random.Random, max_value: int = 20) -> list[Example]:
    """ "Add these two numbers." ``7 + 12`` -> ``19``, both numbers in 0..``max_value``
    (distinct pairs)."""
    pairs = [(a, b) for a in range(max_value + 1) for b in range(max_value + 1)]
    return [
        Example("add", "Add these two numbers.", f"{a} + {b}", str(a + b))
        for a, b in rng.sample(pairs, n)
    ]


def uppercase_examples(
    words: Sequence[str], n: int, rng: random.Random, n_words: int = 2
) -> list[Example]:
    """ "Write this phrase in capital letters." ``fair lady`` -> ``FAIR LADY`` (``n_words``
    words)."""
    words = list(words)
    out = []
    for _ in range(n):
        phrase = " ".join(rng.sample(words, n_words))
        out.append(
            Example("uppercase", "Write this phrase in capital letters.", phrase, phrase.upper())
        )
    return out


@functools.cache
def speaker_names() -> frozenset[str]:
    """Every speaker name of the plays in :data:`PLAY_TITLES` (title case, as the speaker task
    answers)."""
    return frozenset(s.speaker for s in shakespeare_speeches())


def well_formed(example: Example, answer: str) -> bool | None:
    """Does ``answer`` have the *form* a right answer to ``example`` has, right or wrong?

    A model that learned the format but not the task still gives well-formed answers: ``spam`` or
    ``ham``; a whole number for a sum; a name that speaks in the plays for a speaker; a play's
    title; one lower-case word as long as the input for a reversal; capital letters with as many
    words as the input for upper case. Free-text answers (``qa``) have no form to check: ``None``.
    """
    answer = answer.strip()
    task = example.task
    if task == "qa":
        return None
    if task == "spam":
        return answer in ("spam", "ham")
    if task == "add":
        return re.fullmatch(r"\d+", answer) is not None
    if task == "speaker":
        return answer in speaker_names()
    if task == "play":
        return answer in PLAY_TITLES.values()
    if task == "reverse":
        return re.fullmatch(r"[a-z]+", answer) is not None and len(answer) == len(example.input)
    if task == "uppercase":
        return re.fullmatch(r"[A-Z]+( [A-Z]+)*", answer) is not None and len(answer.split()) == len(
            example.input.split()
        )
    raise ValueError(f"Unknown task {task!r}; the tasks are {sorted(DEFAULT_SIZES)}.")


# ---------------------------------------------------------------------------------------------
# 4. The instruction set and its held-out part
# ---------------------------------------------------------------------------------------------

DEFAULT_SIZES = {
    "qa": 900,
    "spam": 400,
    "speaker": 400,
    "play": 150,
    "reverse": 400,
    "add": 400,
    "uppercase": 400,
}
"""How many examples each task gets (3,050 in all): chapter 10's set. ``None`` for ``qa`` takes
every short pair the corpus has (2,241)."""


def build_instruction_set(
    seed: int = 0, sizes: dict[str, int] | None = None, qa_max_chars: int = 160
) -> list[Example]:
    """The book's instruction set: packaged data and generated tasks, shuffled with ``seed``.

    ``sizes`` overrides :data:`DEFAULT_SIZES` per task (0 leaves a task out; for ``qa`` a number
    takes that many question -> answer pairs at random). Same seed, same set.
    """
    sizes = {**DEFAULT_SIZES, **(sizes or {})}
    unknown = set(sizes) - set(DEFAULT_SIZES)
    if unknown:
        raise ValueError(
            f"Unknown task(s) {sorted(unknown)}; the tasks are {sorted(DEFAULT_SIZES)}."
        )
    rng = random.Random(seed)
    words = shakespeare_words()
    speeches = shakespeare_speeches()
    examples = qa_examples(data.qa_pairs(), max_chars=qa_max_chars)
    if sizes["qa"] is not None:
        examples = rng.sample(examples, min(sizes["qa"], len(examples)))
    examples += spam_examples(data.sms_spam(), sizes["spam"], rng)
    examples += speaker_examples(speeches, sizes["speaker"], rng)
    examples += play_examples(speeches, sizes["play"], rng)
    examples += reverse_examples(words, sizes["reverse"], rng)
    examples += addition_examples(sizes["add"], rng)
    examples += uppercase_examples(words, sizes["uppercase"], rng)
    rng.shuffle(examples)
    return examples


def split_instruction_set(
    examples: Sequence[Example], test_per_task: int = 40, seed: int = 0
) -> tuple[list[Example], list[Example]]:
    """``(train, test)``: ``test_per_task`` examples of each task are held out.

    Examples with the same prompt (a question asked with several answers) stay together, so no test
    prompt is ever seen in training. For a held-out prompt with several answers only its first
    example is kept in the test set (exact match needs one right answer).
    """
    groups: dict[tuple[str, str], list[Example]] = defaultdict(list)
    for ex in examples:
        groups[(ex.task, example_prompt(ex))].append(ex)
    by_task: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key in groups:
        by_task[key[0]].append(key)
    rng = random.Random(seed)
    held = set()
    for task in sorted(by_task):
        keys = sorted(by_task[task])
        if len(keys) <= test_per_task:
            raise ValueError(
                f"Task {task!r} has only {len(keys)} distinct prompts, "
                f"not enough to hold out {test_per_task}; "
                "ask for fewer test examples per task or more examples of this task."
            )
        held.update(rng.sample(keys, test_per_task))
    train = [ex for ex in examples if (ex.task, example_prompt(ex)) not in held]
    test = [groups[key][0] for key in sorted(held)]
    return train, test
