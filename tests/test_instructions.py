"""Tests of gptbook.instructions: the prompt template, the tasks, chance levels and the parts."""

from __future__ import annotations

import collections
import random
import re

import pytest

from gptbook import instructions as ins
from gptbook.data import Message


@pytest.fixture(scope="module")
def parts() -> ins.Parts:
    return ins.build_parts(seed=0)


def test_prompt_template_with_and_without_input():
    assert ins.format_prompt("Add these two numbers.", "3 + 4") == (
        "### Instruction:\nAdd these two numbers.\n\n### Input:\n3 + 4\n\n### Response:\n"
    )
    assert ins.format_prompt("What is AI?") == "### Instruction:\nWhat is AI?\n\n### Response:\n"
    # white space (newlines included) collapses, so a prompt never has a stray line
    assert ins.format_prompt("  What\nis   AI? ", " \n ") == ins.format_prompt("What is AI?")
    with pytest.raises(ValueError, match="instruction is empty"):
        ins.format_prompt("  \n")


def test_example_text_ends_the_response_with_the_stop_newline():
    ex = ins.Example("add", "Add these two numbers.", "2 + 3", "5")
    prompt, response = ins.example_text(ex)
    assert prompt.endswith("### Response:\n") and "2 + 3" in prompt
    assert response == "5\n" and ins.STOP == "\n"


PLAY = (
    "ACT I.\n\nSCENE I. A room.\n\n"
    "HELENA.\nO, were that all! I think not on my father;\nAnd these great tears grace his "
    "remembrance more\nThan those I shed for him.\n\n"
    "BERTRAM.\nMadam, I desire a holy wish.\n\n"
    "FIRST LORD.\n[Aside.] Hush.\n\n"
    "LAFEU.\nHow understand we that?\n\n"
    "ALL.\nAye.\n\n"
    "PAROLLES.\nSave you, fair queen!\n\n"
    "HELENA.\nAnd you, monarch!\n\n"
    "CLOWN.\nI will tell you, sir, it is a matter of small consequence and\n"
    "very little worth the telling, for the matter is but a jest that goes\n"
    "about the town.\n"
)


def test_speeches_are_parsed_with_their_lines_and_place_on_the_page():
    speeches = ins.parse_speeches(PLAY, "All's Well That Ends Well")
    assert [s.speaker for s in speeches] == ["HELENA", "BERTRAM", "LAFEU", "PAROLLES", "HELENA",
                                             "CLOWN"]
    assert speeches[0].lines == (
        "O, were that all! I think not on my father;",
        "And these great tears grace his remembrance more",
        "Than those I shed for him.",
    )
    # FIRST LORD's speech has a stage direction and ALL is a group: both left out, so LAFEU
    # does not follow BERTRAM on the page, but HELENA follows PAROLLES
    idx = [s.index for s in speeches]
    assert idx[2] != idx[1] + 1 and idx[4] == idx[3] + 1


def test_passages_name_speakers_that_follow_each_other_on_the_page():
    speeches = ins.parse_speeches(PLAY, "All's Well That Ends Well")
    first = ins.speaker_examples(speeches, 1, random.Random(0), "first")
    last = ins.speaker_examples(speeches, 1, random.Random(0), "last")
    # the only run of three adjacent speeches by three speakers: PAROLLES, HELENA, CLOWN
    assert first[0].input.startswith("PAROLLES: Save you, fair queen! | HELENA: And you")
    assert (first[0].response, last[0].response) == ("PAROLLES", "CLOWN")
    assert ins.passage_speakers(first[0].input) == ["PAROLLES", "HELENA", "CLOWN"]
    assert ins.chance(first[0]) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="only 1"):
        ins.speaker_examples(speeches, 2, random.Random(0))
    with pytest.raises(ValueError, match="which must be"):
        ins.speaker_examples(speeches, 1, random.Random(0), "middle")


@pytest.mark.parametrize(
    ("line", "word"),
    [
        ("'Sblood, but you will not hear me:--", "me"),
        ("Than those I shed for him.", "him"),
        ("Where is thy leather apron and thy rule", "rule"),
        ("Over the hills and far away o'er!", "o'er"),
        ("...", None),
    ],
)
def test_last_word_strips_the_punctuation_after_it(line, word):
    assert ins.last_word(line) == word


def test_ends_speech_puts_the_last_line_under_the_answer():
    speeches = ins.shakespeare_speeches()
    by_text = {(s.lines[-1], line) for s in speeches for line in s.lines[:-1]}
    exs = ins.ends_speech_examples(speeches, 200, random.Random(1))
    assert collections.Counter(e.response for e in exs).keys() == {"A", "B"}
    for e in exs:
        a, b = re.fullmatch(r"A: (.*) \| B: (.*)", e.input).groups()
        last, other = (a, b) if e.response == "A" else (b, a)
        assert (last, other) in by_text


def test_verse_and_prose_are_told_apart_by_the_layout():
    speeches = ins.parse_speeches(PLAY, "All's Well That Ends Well")
    assert ins.verse_or_prose(speeches[0]) == "verse"
    assert ins.verse_or_prose(speeches[-1]) == "prose"
    assert ins.verse_or_prose(speeches[1]) is None  # one line: neither
    exs = ins.verse_prose_examples(ins.shakespeare_speeches(), 100, random.Random(0))
    assert collections.Counter(e.response for e in exs) == {"verse": 50, "prose": 50}
    assert all(e.input.count(" / ") == 2 for e in exs)


def test_spam_examples_are_balanced_and_short():
    msgs = [Message("spam", f"WIN {i}") for i in range(10)] + [
        Message("ham", f"hi {i}") for i in range(10)
    ]
    msgs.append(Message("ham", "x" * 200))
    out = ins.spam_examples(msgs, 8, random.Random(0))
    assert collections.Counter(e.response for e in out) == {"spam": 4, "ham": 4}
    assert all(len(e.input) <= 160 for e in out)


def test_arithmetic_and_spelling_answers_are_right():
    rng = random.Random(0)
    for e in ins.addition_examples(ins.number_pairs(99), 50, rng):
        a, b = map(int, e.input.split(" + "))
        assert e.response == str(a + b) and 0 <= a <= 99 and 0 <= b <= 99
    for e in ins.larger_examples(ins.number_pairs(999), 50, rng):
        a, b = map(int, e.input.split(" or "))
        assert a != b and e.response == str(max(a, b))
    words = ins.shakespeare_words()
    assert "night" in words and all(3 <= len(w) <= 7 and w.islower() for w in words)
    for e in ins.spell_examples(words, 20, rng) + ins.first_letter_examples(words, 20, rng):
        assert e.response == (" ".join(e.input) if e.task == "spell" else e.input[0])
    assert len(ins.number_pairs(2)) == 6  # (0,0) (0,1) (0,2) (1,1) (1,2) (2,2)


@pytest.mark.parametrize(
    ("task", "input", "chance"),
    [
        ("first_speaker", "IAGO: Hm. | RODERIGO: Ha. | IAGO: Ho.", 1 / 2),
        ("last_word", "Than those I shed for him.", 1 / 6),
        ("ends_speech", "A: x | B: y", 1 / 2),
        ("spam", "hi", 1 / 2),
        ("add", "3 + 4", 1 / 199),
        ("first_letter", "night", 1 / 26),
        ("spell", "ear", 26.0**-3),
    ],
)
def test_chance_is_a_random_guess_of_the_right_form(task, input, chance):
    assert ins.chance(ins.Example(task, "x", input, "y")) == pytest.approx(chance)


@pytest.mark.parametrize(
    ("task", "input", "good", "bad"),
    [
        ("first_speaker", "IAGO: Hm. | CASSIO: Ha.", ["IAGO", "CASSIO"], ["Iago", "OTHELLO", ""]),
        ("last_word", "Than those I shed for him.", ["him", "shed"], ["him.", "her", ""]),
        ("ends_speech", "A: x | B: y", ["A", "B"], ["C", "a", "A or B"]),
        ("verse_or_prose", "x / y", ["verse", "prose"], ["Verse", "poem"]),
        ("spam", "WIN now", ["spam", "ham", " ham "], ["Spam", "spam!", "maybe", ""]),
        ("add", "3 + 4", ["7", "12", "0"], ["seven", "7.0", "-1", "7 8", ""]),
        ("larger", "12 or 30", ["12", "30"], ["42", "thirty", ""]),
        ("first_letter", "night", ["n", "x"], ["N", "ni", ""]),
        ("spell", "night", ["n i g h t", "a b"], ["night", "n  i", "N I G H T", ""]),
    ],
)
def test_well_formed_checks_the_form_of_an_answer_not_its_truth(task, input, good, bad):
    ex = ins.Example(task, "an instruction", input, "unused")
    assert all(ins.well_formed(ex, a) for a in good)
    assert not any(ins.well_formed(ex, a) for a in bad)


def test_free_text_has_no_form_or_chance_and_unknown_tasks_are_refused():
    qa = ins.Example("qa", "Hi?", "", "Hello.")
    assert ins.well_formed(qa, "anything at all") is None and ins.chance(qa) is None
    for f in (ins.well_formed, lambda e, _: ins.chance(e)):
        with pytest.raises(ValueError, match="Unknown task 'poem'"):
            f(ins.Example("poem", "Write.", "", "x"), "x")


def test_word_overlap_scores_free_text():
    assert ins.word_f1("Hello there.", ["hello there"]) == 1.0
    # "i am" in common: precision 2/3, recall 2/4; the best of the references counts
    assert ins.word_f1("I am fine", ["I am a robot", "Fine, thanks"]) == pytest.approx(4 / 7)
    assert ins.word_f1("", ["Hello"]) == 0.0 and ins.word_f1("cat", ["dog"]) == 0.0


def test_parts_have_the_asked_sizes_and_are_repeatable(parts):
    counts = collections.Counter(e.task for e in parts.train)
    assert counts == ins.DEFAULT_SIZES
    for held in (parts.val, parts.test):
        assert collections.Counter(e.task for e in held) == {t: 40 for t in ins.TASKS}
    assert parts == ins.build_parts(seed=0)
    assert parts.test != ins.build_parts(seed=1).test
    small = ins.build_parts(sizes={"spell": 5, "add": 0}, held_out=10)
    small_counts = collections.Counter(e.task for e in small.train)
    assert small_counts["spell"] == 5 and small_counts["add"] == 0 and len(small.test) == 110
    with pytest.raises(ValueError, match="Unknown task"):
        ins.build_parts(sizes={"poetry": 3})
    with pytest.raises(ValueError, match="held_out must be a positive integer"):
        ins.build_parts(held_out=0)


def test_every_response_is_well_formed_and_beats_no_guess(parts):
    for ex in parts.train + parts.val + parts.test:
        assert "\n" not in ex.response + ex.instruction + ex.input and ex.response
        assert ins.well_formed(ex, ex.response) in (True, None), ex
        if ex.task != "qa":
            assert 0 < ins.chance(ex) <= 0.5, ex


def _sources(examples):
    """What each held-out answer could be learned from: the play line, message, numbers, word."""
    out = collections.defaultdict(set)
    for e in examples:
        if e.task in ("first_speaker", "last_speaker", "verse_or_prose", "ends_speech"):
            out["lines"].update(re.split(r" \| | / |[AB]: ", e.input))
        elif e.task == "last_word":
            out["lines"].add(e.input)
        elif e.task in ("add", "larger"):
            out[e.task].add(frozenset(map(int, re.findall(r"\d+", e.input))))
        elif e.task in ("first_letter", "spell"):
            out["words"].add(e.input)
        else:
            out[e.task].add(e.input if e.task == "spam" else e.instruction)
    out["lines"].discard("")
    return out


def test_held_out_parts_share_no_source_with_training(parts):
    train = _sources(parts.train)
    for held in (parts.val, parts.test):
        got = _sources(held)
        for key in got:
            assert not got[key] & train[key], key
    val_plays_lines = _sources(parts.val)["lines"]
    assert not val_plays_lines & _sources(parts.test)["lines"]


def test_accepted_answers_and_references_hold_every_answer_of_a_question():
    exs = [ins.Example("qa", "Hi?", "", "Hello."), ins.Example("qa", "Hi?", "", "Hi."),
           ins.Example("qa", "Bye?", "", "Bye.")]
    acc = ins.accepted_answers(exs)
    assert acc[("qa", ins.example_prompt(exs[0]))] == {"Hello.", "Hi."}
    refs = ins.qa_references()
    assert len(refs) > 500 and all(refs.values())
