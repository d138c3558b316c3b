"""Instructions for chapter 10: the prompt template, and tasks a small model can learn.

Read from top to bottom, like the chapter:

1. :class:`Example` is one instruction: a task name, the instruction, an optional input, and the one
   right response. :func:`format_prompt` puts it in the book's prompt template; the model learns to
   write the response after ``### Response:`` and to end it with a newline (:data:`STOP`).
2. Tasks whose answer is in the input, read off Shakespeare's plays and the SMS spam collection
   (Almeida et al., 2011): who speaks first (or last) in a passage, the last word of a line, which
   of two lines ends a speech, verse or prose, spam or ham.
3. Arithmetic and spelling, generated for free: add two numbers, the larger of two numbers, the
   first letter of a word, a word spelled out letter by letter. The book's tokenizer writes every
   digit as its own token and keeps single letters as tokens, so these answers are spelled in
   pieces the model can write.
4. Free-text chat: question -> answer pairs from the ChatterBot corpus. Their answers are scored
   apart (word overlap), never by exact match.
5. :func:`chance` is the exact-match share a random guesser of the right *form* gets on an example
   (one of the passage's speakers, one of the line's words, ``A`` or ``B`` ...);
   :func:`well_formed` tells whether an answer has the right form, right or wrong.
6. :func:`build_parts` makes the train, validation and test parts from *disjoint* sources (other
   plays, other messages, other words, other numbers), so no held-out answer can be learned by
   heart.

The template follows the idea of instruction tuning (Wei et al., 2021, FLAN; Ouyang et al., 2022,
InstructGPT): many tasks, each phrased as a plain-English instruction, in one fixed format.
"""

from __future__ import annotations

import functools
import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
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
            "for example 'Add these two numbers.'"
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


INSTRUCTIONS = {
    "first_speaker": "Who speaks first in this passage?",
    "last_speaker": "Who speaks last in this passage?",
    "last_word": "What is the last word of this line?",
    "ends_speech": "Which of these two lines ends the speech, A or B?",
    "verse_or_prose": "Is this passage verse or prose?",
    "spam": "Is this text message spam or ham?",
    "add": "Add these two numbers.",
    "larger": "Which number is larger?",
    "first_letter": "What is the first letter of this word?",
    "spell": "Spell this word with spaces between the letters.",
}
"""The instruction of every task with a checkable answer (the chat task ``qa`` has none: each
question is its own instruction)."""

CHECKABLE = tuple(INSTRUCTIONS)
"""The tasks scored by exact match, in the order the chapter lists them."""

FREE_TEXT = "qa"
"""The chat task: free-text answers, scored by word overlap, not by exact match."""

TASKS = (*CHECKABLE, FREE_TEXT)

# ---------------------------------------------------------------------------------------------
# 2. Tasks whose answer is in the input: the plays and the text messages
# ---------------------------------------------------------------------------------------------

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
WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")
"""A word: a run of letters, with inner apostrophes (``o'er``)."""


@dataclass(frozen=True)
class Speech:
    """One speech of a play: who speaks (in capitals, as printed) and its lines.

    ``index`` is the speech's paragraph number in the play's text, so two speeches follow each
    other on the page exactly when their indices differ by one.
    """

    play: str  # a title from PLAY_TITLES
    speaker: str  # as printed: "IAGO", "FIRST LORD"
    lines: tuple[str, ...]
    index: int


def parse_speeches(text: str, play: str) -> list[Speech]:
    """Every clean speech in a play's text: a paragraph whose first line is ``NAME.``.

    Headings such as ``ACT I.`` and group speakers such as ``ALL.`` are not speeches; a speech
    with a stage direction (square brackets) anywhere is left out, so every line kept is spoken.
    """
    paragraphs = re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n"))
    out = []
    for index, para in enumerate(paragraphs):
        lines = [line.strip() for line in para.strip("\n").split("\n")]
        m = _SPEAKER.match(lines[0]) if lines else None
        if not m or m.group(1).startswith(_NOT_A_SPEAKER) or len(lines) < 2:
            continue
        if any("[" in line or "]" in line or not line for line in lines[1:]):
            continue
        out.append(Speech(play, m.group(1), tuple(lines[1:]), index))
    return out


@functools.cache
def shakespeare_speeches() -> tuple[Speech, ...]:
    """All clean speeches of the plays in :data:`PLAY_TITLES`, in file order."""
    out: list[Speech] = []
    for path in data.shakespeare_files():
        stem = path.stem.removesuffix("_gut")
        if stem in PLAY_TITLES:
            out.extend(parse_speeches(path.read_text(encoding="ascii"), PLAY_TITLES[stem]))
    return tuple(out)


def _sample(pool: Sequence, n: int, rng: random.Random, what: str) -> list:
    if n > len(pool):
        raise ValueError(
            f"Asked for {n} {what} examples but the source has only {len(pool)}; ask for fewer."
        )
    return rng.sample(list(pool), n)


def passage_text(speeches: Sequence[Speech]) -> str:
    """Speeches as one line: ``IAGO: first line | RODERIGO: first line | ...``."""
    return " | ".join(f"{s.speaker}: {s.lines[0]}" for s in speeches)


def passage_speakers(text: str) -> list[str]:
    """The speakers of a :func:`passage_text` line, in order."""
    return re.findall(r"(?:^| \| )([A-Z][A-Z' -]*[A-Z]): ", text)


def speaker_examples(
    speeches: Sequence[Speech], n: int, rng: random.Random, which: str = "first", size: int = 3
) -> list[Example]:
    """``n`` passages of ``size`` speeches in a row by ``size`` different speakers: who speaks
    ``which`` ("first" or "last")? The answer is a name printed in the passage."""
    if which not in ("first", "last"):
        raise ValueError(f"which must be 'first' or 'last', got {which!r}.")
    pool = []
    for i in range(len(speeches) - size + 1):
        run = speeches[i : i + size]
        adjacent = all(
            b.play == a.play and b.index == a.index + 1 for a, b in zip(run, run[1:])
        )
        if adjacent and len({s.speaker for s in run}) == size:
            pool.append(run)
    task = f"{which}_speaker"
    return [
        Example(task, INSTRUCTIONS[task], passage_text(run), run[0 if which == "first" else -1].speaker)
        for run in _sample(pool, n, rng, task)
    ]


def last_word(line: str) -> str | None:
    """The last word of a line, or ``None`` when the line does not end in a word (punctuation
    after it is allowed: ``"me:--"`` ends in ``me``)."""
    m = re.search(r"([A-Za-z]+(?:'[A-Za-z]+)*)[^A-Za-z0-9']*$", line)
    return m.group(1) if m else None


def last_word_examples(
    speeches: Sequence[Speech], n: int, rng: random.Random, min_words: int = 4
) -> list[Example]:
    """``n`` spoken lines of at least ``min_words`` words: what is the last word?"""
    pool = sorted(
        {
            line
            for s in speeches
            for line in s.lines
            if len(WORD.findall(line)) >= min_words and last_word(line) is not None
        }
    )
    return [
        Example("last_word", INSTRUCTIONS["last_word"], line, last_word(line))
        for line in _sample(pool, n, rng, "last_word")
    ]


def ends_speech_examples(
    speeches: Sequence[Speech], n: int, rng: random.Random, min_lines: int = 3
) -> list[Example]:
    """``n`` pairs of lines from one speech: its last line and an earlier one, in random order.
    Which one ends the speech, ``A`` or ``B``?"""
    pool = sorted(
        (s for s in speeches if len(s.lines) >= min_lines and len(set(s.lines)) == len(s.lines)),
        key=lambda s: (s.play, s.index),
    )
    out = []
    for s in _sample(pool, n, rng, "ends_speech"):
        last, other = s.lines[-1], rng.choice(s.lines[:-1])
        answer = rng.choice("AB")
        a, b = (last, other) if answer == "A" else (other, last)
        out.append(Example("ends_speech", INSTRUCTIONS["ends_speech"], f"A: {a} | B: {b}", answer))
    return out


def verse_or_prose(speech: Speech, n_lines: int = 3) -> str | None:
    """``"verse"``, ``"prose"``, or ``None`` when a speech's first ``n_lines`` lines are not clearly
    either.

    In this edition verse keeps the poet's short lines, each starting with a capital letter; prose
    runs on in long printed lines that often start with a small letter. So: verse when every line
    starts with a capital and none is longer than 60 characters; prose when every line but the last
    is at least 60 characters long and a later line starts with a small letter.
    """
    lines = speech.lines[:n_lines]
    if len(lines) < n_lines:
        return None
    starts = [re.match(r"[^A-Za-z]*([A-Za-z])", line) for line in lines]
    if any(m is None for m in starts):
        return None
    upper = [m.group(1).isupper() for m in starts]
    if all(upper) and max(len(line) for line in lines) <= 60:
        return "verse"
    if min(len(line) for line in lines[:-1]) >= 60 and not all(upper[1:]):
        return "prose"
    return None


def verse_prose_examples(
    speeches: Sequence[Speech], n: int, rng: random.Random, n_lines: int = 3
) -> list[Example]:
    """``n`` passages (the first ``n_lines`` lines of a speech, joined by `` / ``), half verse,
    half prose: which is it?"""
    by_kind: dict[str, list[str]] = defaultdict(list)
    for s in speeches:
        kind = verse_or_prose(s, n_lines)
        if kind:
            by_kind[kind].append(" / ".join(s.lines[:n_lines]))
    out = []
    for kind, k in (("prose", n // 2), ("verse", n - n // 2)):
        pool = sorted(set(by_kind[kind]))
        out += [
            Example("verse_or_prose", INSTRUCTIONS["verse_or_prose"], text, kind)
            for text in _sample(pool, k, rng, f"verse_or_prose ({kind})")
        ]
    return out


def spam_examples(
    messages: Iterable[data.Message], n: int, rng: random.Random, max_chars: int = 160
) -> list[Example]:
    """``n`` SMS messages (half spam, half ham, each at most ``max_chars`` long) to label.

    The answer is the label, ``spam`` or ``ham``.
    """
    by_label: dict[str, set[str]] = defaultdict(set)
    for m in messages:
        text = one_line(m.text)
        if text and len(text) <= max_chars:
            by_label[m.label].add(text)
    out = []
    for label, k in (("spam", n // 2), ("ham", n - n // 2)):
        for text in _sample(sorted(by_label[label]), k, rng, f"spam ({label})"):
            out.append(Example("spam", INSTRUCTIONS["spam"], text, label))
    return out


# ---------------------------------------------------------------------------------------------
# 3. Arithmetic and spelling, generated
# ---------------------------------------------------------------------------------------------

ADD_MAX = 99
"""The addition task adds two whole numbers from 0 to ``ADD_MAX``."""

LARGER_MAX = 999
"""The larger-number task compares two different whole numbers from 0 to ``LARGER_MAX``."""


def number_pairs(max_value: int) -> list[tuple[int, int]]:
    """Every unordered pair ``a <= b`` of whole numbers up to ``max_value``: a pool to split, so
    that ``3 + 4`` and ``4 + 3`` always land in the same part."""
    return [(a, b) for a in range(max_value + 1) for b in range(a, max_value + 1)]


def addition_examples(
    pairs: Sequence[tuple[int, int]], n: int, rng: random.Random
) -> list[Example]:
    """``n`` sums ``a + b`` (either order) from a pool of pairs: ``7 + 12`` -> ``19``."""
    out = []
    for a, b in _sample(pairs, n, rng, "add"):
        if rng.random() < 0.5:
            a, b = b, a
        out.append(Example("add", INSTRUCTIONS["add"], f"{a} + {b}", str(a + b)))
    return out


def larger_examples(
    pairs: Sequence[tuple[int, int]], n: int, rng: random.Random
) -> list[Example]:
    """``n`` comparisons ``a or b`` (a different from b, random order): the larger number."""
    out = []
    for a, b in _sample([p for p in pairs if p[0] != p[1]], n, rng, "larger"):
        if rng.random() < 0.5:
            a, b = b, a
        out.append(Example("larger", INSTRUCTIONS["larger"], f"{a} or {b}", str(max(a, b))))
    return out


@functools.cache
def shakespeare_words(min_len: int = 3, max_len: int = 7, min_count: int = 5) -> tuple[str, ...]:
    """Lower-case words of ``min_len``..``max_len`` letters used at least ``min_count`` times."""
    counts: dict[str, int] = defaultdict(int)
    for w in re.findall(r"[a-z]+", data.shakespeare().lower()):
        counts[w] += 1
    return tuple(
        sorted(w for w, c in counts.items() if min_len <= len(w) <= max_len and c >= min_count)
    )


def first_letter_examples(words: Sequence[str], n: int, rng: random.Random) -> list[Example]:
    """``night`` -> ``n``."""
    return [
        Example("first_letter", INSTRUCTIONS["first_letter"], w, w[0])
        for w in _sample(words, n, rng, "first_letter")
    ]


def spell_examples(words: Sequence[str], n: int, rng: random.Random) -> list[Example]:
    """``night`` -> ``n i g h t``."""
    return [
        Example("spell", INSTRUCTIONS["spell"], w, " ".join(w))
        for w in _sample(words, n, rng, "spell")
    ]


# ---------------------------------------------------------------------------------------------
# 4. Free-text chat
# ---------------------------------------------------------------------------------------------


def qa_examples(pairs: Iterable[tuple[str, str]], max_chars: int = 160) -> list[Example]:
    """Question -> answer pairs as instructions (the question is the instruction, no input).

    Pairs whose question or answer is longer than ``max_chars`` characters are left out. A question
    with several answers in the corpus gives several examples.
    """
    out = []
    for q, a in pairs:
        q, a = one_line(q), one_line(a)
        if q and a and len(a) <= max_chars and len(q) <= max_chars:
            out.append(Example("qa", q, "", a))
    return out


_F1_WORD = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)*")


def word_f1(answer: str, references: Iterable[str]) -> float:
    """How much ``answer`` overlaps the best of ``references`` in words and numbers (F1 of the
    counts, lower case): 1 for the same words, 0 for none in common. A score for free text, where
    exact match is almost never reached even by a sensible answer."""
    got = [w.lower() for w in _F1_WORD.findall(answer)]
    best = 0.0
    for ref in references:
        want = [w.lower() for w in _F1_WORD.findall(ref)]
        pool = list(want)
        common = 0
        for w in got:
            if w in pool:
                pool.remove(w)
                common += 1
        if common:
            p, r = common / len(got), common / len(want)
            best = max(best, 2 * p * r / (p + r))
    return best


# ---------------------------------------------------------------------------------------------
# 5. Chance and form
# ---------------------------------------------------------------------------------------------


def chance(example: Example) -> float | None:
    """The probability that a random guess of the right form is exactly right.

    The guesser picks uniformly: one of the passage's speakers, one of the line's words, ``A`` or
    ``B``, ``verse`` or ``prose``, ``spam`` or ``ham``, one of the ``2 * ADD_MAX + 1`` possible sums,
    one of the two numbers, one of 26 letters (for every letter of a spelled word). Free text
    (``qa``) has no chance level: ``None``.
    """
    task, text = example.task, example.input
    if task in ("first_speaker", "last_speaker"):
        return 1 / len(set(passage_speakers(text)))
    if task == "last_word":
        return 1 / len(WORD.findall(text))
    if task in ("ends_speech", "verse_or_prose", "spam", "larger"):
        return 1 / 2
    if task == "add":
        return 1 / (2 * ADD_MAX + 1)
    if task == "first_letter":
        return 1 / 26
    if task == "spell":
        return 26.0 ** -len(text)
    if task == FREE_TEXT:
        return None
    raise ValueError(f"Unknown task {task!r}; the tasks are {list(TASKS)}.")


def well_formed(example: Example, answer: str) -> bool | None:
    """Does ``answer`` have the *form* a right answer to ``example`` has, right or wrong?

    A model that learned the format but not the task still gives well-formed answers: a name of the
    passage, a word of the line, ``A`` or ``B``, ``verse`` or ``prose``, ``spam`` or ``ham``, a whole
    number, one of the two numbers, one lower-case letter, lower-case letters separated by single
    spaces. Free-text answers (``qa``) have no form to check: ``None``.
    """
    answer, task, text = answer.strip(), example.task, example.input
    if task in ("first_speaker", "last_speaker"):
        return answer in passage_speakers(text)
    if task == "last_word":
        return answer in WORD.findall(text)
    if task == "ends_speech":
        return answer in ("A", "B")
    if task == "verse_or_prose":
        return answer in ("verse", "prose")
    if task == "spam":
        return answer in ("spam", "ham")
    if task == "add":
        return re.fullmatch(r"\d+", answer) is not None
    if task == "larger":
        return answer in text.split(" or ")
    if task == "first_letter":
        return re.fullmatch(r"[a-z]", answer) is not None
    if task == "spell":
        return re.fullmatch(r"[a-z]( [a-z])*", answer) is not None
    if task == FREE_TEXT:
        return None
    raise ValueError(f"Unknown task {task!r}; the tasks are {list(TASKS)}.")


# ---------------------------------------------------------------------------------------------
# 6. Train, validation and test parts from disjoint sources
# ---------------------------------------------------------------------------------------------

DEFAULT_SIZES = {
    "first_speaker": 500,
    "last_speaker": 500,
    "last_word": 500,
    "ends_speech": 500,
    "verse_or_prose": 500,
    "spam": 500,
    "add": 500,
    "larger": 500,
    "first_letter": 500,
    "spell": 500,
    "qa": 600,
}
"""How many *training* examples each task gets (5,600 in all); the validation and test parts
hold ``held_out`` examples of every task on top."""

HELD_OUT_PLAYS = 4
"""Plays per held-out part (validation, test): their speeches never reach training."""


@dataclass(frozen=True)
class Parts:
    """The three parts of the instruction set: train on ``train``, choose a recipe on ``val``,
    report ``test`` once."""

    train: list[Example]
    val: list[Example]
    test: list[Example]


def _three_ways(items: Sequence, rng: random.Random, held: int) -> tuple[list, list, list]:
    """Shuffle ``items`` (sorted first, so the order of the input does not matter) and cut off
    ``held`` for validation and ``held`` for test: ``(train, val, test)``."""
    pool = sorted(items)
    rng.shuffle(pool)
    if 2 * held >= len(pool):
        raise ValueError(f"Cannot hold out 2 x {held} of only {len(pool)} items.")
    return pool[2 * held :], pool[:held], pool[held : 2 * held]


def build_parts(
    seed: int = 0,
    sizes: dict[str, int] | None = None,
    held_out: int = 40,
) -> Parts:
    """The book's instruction set: train, validation and test parts, shuffled with ``seed``.

    Every source is split first, then each part's examples are drawn from its own share: the
    plays (:data:`HELD_OUT_PLAYS` for validation, as many for test), the messages, the number
    pairs, the words, the questions. So a held-out answer is never a training answer of another
    task (the spelling of a test word, a sum of the same two numbers). ``sizes`` overrides
    :data:`DEFAULT_SIZES` (0 leaves a task out of training); ``held_out`` examples of each task go
    to validation and as many to test. Same seed, same parts.
    """
    sizes = {**DEFAULT_SIZES, **(sizes or {})}
    unknown = set(sizes) - set(TASKS)
    if unknown:
        raise ValueError(f"Unknown task(s) {sorted(unknown)}; the tasks are {list(TASKS)}.")
    if not isinstance(held_out, int) or held_out < 1:
        raise ValueError(f"held_out must be a positive integer, got {held_out!r}.")
    rng = random.Random(seed)
    plays = sorted(PLAY_TITLES.values())
    rng.shuffle(plays)
    val_plays = set(plays[:HELD_OUT_PLAYS])
    test_plays = set(plays[HELD_OUT_PLAYS : 2 * HELD_OUT_PLAYS])
    speeches = shakespeare_speeches()
    by_part_speeches = {
        "val": [s for s in speeches if s.play in val_plays],
        "test": [s for s in speeches if s.play in test_plays],
        "train": [s for s in speeches if s.play not in val_plays | test_plays],
    }
    spam_parts: dict[str, list[data.Message]] = {"train": [], "val": [], "test": []}
    for label in ("spam", "ham"):
        msgs = sorted({(m.label, one_line(m.text)) for m in data.sms_spam() if m.label == label})
        tr, va, te = _three_ways(msgs, rng, held_out)
        for part, chunk in (("train", tr), ("val", va), ("test", te)):
            spam_parts[part] += [data.Message(lab, text) for lab, text in chunk]
    add_parts = dict(zip(("train", "val", "test"), _three_ways(number_pairs(ADD_MAX), rng, 200)))
    larger_parts = dict(
        zip(("train", "val", "test"), _three_ways(number_pairs(LARGER_MAX), rng, 400))
    )
    word_parts = dict(zip(("train", "val", "test"), _three_ways(shakespeare_words(), rng, 300)))
    qa_all = qa_examples(data.qa_pairs())
    questions = sorted({e.instruction for e in qa_all})
    q_parts = dict(zip(("train", "val", "test"), _three_ways(questions, rng, held_out)))

    makers: dict[str, Callable[[str, int], list[Example]]] = {
        "first_speaker": lambda p, n: speaker_examples(by_part_speeches[p], n, rng, "first"),
        "last_speaker": lambda p, n: speaker_examples(by_part_speeches[p], n, rng, "last"),
        "last_word": lambda p, n: last_word_examples(by_part_speeches[p], n, rng),
        "ends_speech": lambda p, n: ends_speech_examples(by_part_speeches[p], n, rng),
        "verse_or_prose": lambda p, n: verse_prose_examples(by_part_speeches[p], n, rng),
        "spam": lambda p, n: spam_examples(spam_parts[p], n, rng),
        "add": lambda p, n: addition_examples(add_parts[p], n, rng),
        "larger": lambda p, n: larger_examples(larger_parts[p], n, rng),
        "first_letter": lambda p, n: first_letter_examples(word_parts[p], n, rng),
        "spell": lambda p, n: spell_examples(word_parts[p], n, rng),
    }

    def qa_part(part: str, n: int | None) -> list[Example]:
        keep = set(q_parts[part])
        exs = [e for e in qa_all if e.instruction in keep]
        if part != "train":  # one example (its first answer) per held-out question
            first: dict[str, Example] = {}
            for e in exs:
                first.setdefault(e.instruction, e)
            exs = [first[q] for q in sorted(first)]
        return exs if n is None else _sample(exs, min(n, len(exs)), rng, "qa")

    out: dict[str, list[Example]] = {}
    for part in ("train", "val", "test"):
        exs: list[Example] = []
        for task in TASKS:
            n = sizes[task] if part == "train" else held_out
            if task == FREE_TEXT:
                exs += qa_part(part, n)
            elif n:
                exs += makers[task](part, n)
        if part == "train":
            rng.shuffle(exs)
        out[part] = exs
    return Parts(out["train"], out["val"], out["test"])


def accepted_answers(examples: Sequence[Example]) -> dict[tuple[str, str], set[str]]:
    """Every response given to each (task, prompt) in ``examples``: for a chat question with
    several answers in the corpus, any of them counts."""
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for ex in examples:
        out[(ex.task, example_prompt(ex))].add(ex.response)
    return out


def qa_references() -> dict[str, set[str]]:
    """Every answer the corpus gives to each (short) question: the references of :func:`word_f1`."""
    out: dict[str, set[str]] = defaultdict(set)
    for e in qa_examples(data.qa_pairs()):
        out[e.instruction].add(e.response)
    return out
