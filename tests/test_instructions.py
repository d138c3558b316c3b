"""Tests of gptbook.instructions: the prompt template and the instruction set."""

from __future__ import annotations

import collections
import random
import re

import pytest

from gptbook import instructions as ins
from gptbook.data import Message


@pytest.fixture(scope="module")
def full_set() -> list[ins.Example]:
    return ins.build_instruction_set(seed=0)


def test_prompt_template_with_and_without_input():
    assert ins.format_prompt("Reverse the letters of this word.", "night") == (
        "### Instruction:\nReverse the letters of this word.\n\n"
        "### Input:\nnight\n\n### Response:\n"
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


def test_instruction_set_is_big_varied_repeatable_and_correct(full_set):
    assert len(full_set) >= 2000
    assert full_set == ins.build_instruction_set(seed=0)
    assert full_set != ins.build_instruction_set(seed=1)
    counts = collections.Counter(e.task for e in full_set)
    assert set(counts) == {"qa", "spam", "speaker", "play", "reverse", "add", "uppercase"}
    assert counts["qa"] == 900 and min(counts.values()) >= 100
    assert len([e for e in ins.build_instruction_set(sizes={"qa": None}) if e.task == "qa"]) == 2241
    for e in full_set:
        assert e.response and "\n" not in e.response and "\n" not in e.instruction + e.input
        if e.task == "reverse":
            assert e.response == e.input[::-1]
        elif e.task == "add":
            a, b = map(int, e.input.split(" + "))
            assert e.response == str(a + b) and 0 <= a <= 20 and 0 <= b <= 20
        elif e.task == "uppercase":
            assert e.response == e.input.upper() and e.input == e.input.lower()
        elif e.task == "spam":
            assert e.response in ("spam", "ham")
        elif e.task == "play":
            assert e.response in ins.PLAY_TITLES.values()
    spam = collections.Counter(e.response for e in full_set if e.task == "spam")
    assert spam["spam"] == spam["ham"] == 200


def test_sizes_can_be_changed_and_unknown_tasks_are_refused():
    small = ins.build_instruction_set(sizes={"reverse": 5, "add": 0, "qa": 50})
    counts = collections.Counter(e.task for e in small)
    assert counts["reverse"] == 5 and counts["add"] == 0 and counts["qa"] == 50
    with pytest.raises(ValueError, match="Unknown task"):
        ins.build_instruction_set(sizes={"poetry": 3})


def test_speeches_are_parsed_from_the_play_layout():
    text = (
        "ACT I.\n\nHELENA.\nO, were that all!--I think not on my father;\n\n"
        "FIRST LORD.\n[Aside.] Hush.\n\nALL.\nAye.\n"
    )
    speeches = ins.parse_speeches(text, "All's Well That Ends Well")
    assert speeches == [
        ins.Speech(
            "All's Well That Ends Well", "Helena", "O, were that all!--I think not on my father;"
        )
    ]


def test_speaker_answers_are_true_to_the_plays():
    speeches = ins.shakespeare_speeches()
    assert len(speeches) > 20000
    said = {(s.play, s.line, s.speaker) for s in speeches}
    for e in ins.speaker_examples(speeches, 50, random.Random(0)):
        play = re.fullmatch(r"Name the speaker of this line from (.+)\.", e.instruction).group(1)
        assert (play, e.input, e.response) in said
    othello = collections.Counter(s.speaker for s in speeches if s.play == "Othello")
    assert {"Iago", "Othello", "Desdemona"} <= {w for w, _ in othello.most_common(4)}


def test_play_facts_are_true_and_unambiguous():
    speeches = ins.shakespeare_speeches()
    plays_of = collections.defaultdict(set)
    for s in speeches:
        plays_of[s.speaker].add(s.play)
    facts = ins.play_examples(speeches, 100, random.Random(0))
    assert len(facts) == 100
    for e in facts:
        assert plays_of[e.input] == {e.response}
    assert ins.Example(
        "play", "In which Shakespeare play does this character speak?", "Iago", "Othello"
    ) in (ins.play_examples(speeches, 10_000, random.Random(0)))


def test_spam_examples_are_balanced_and_short():
    msgs = [Message("spam", f"WIN {i}") for i in range(10)] + [
        Message("ham", f"hi {i}") for i in range(10)
    ]
    msgs.append(Message("ham", "x" * 200))
    out = ins.spam_examples(msgs, 8, random.Random(0))
    assert collections.Counter(e.response for e in out) == {"spam": 4, "ham": 4}
    assert all(len(e.input) <= 160 for e in out)


def test_split_holds_out_each_task_and_never_leaks_a_prompt(full_set):
    train, test = ins.split_instruction_set(full_set, test_per_task=30)
    assert collections.Counter(e.task for e in test) == {t: 30 for t in ins.DEFAULT_SIZES}
    train_prompts = {ins.example_prompt(e) for e in train}
    assert not any(ins.example_prompt(e) in train_prompts for e in test)
    # every example is used: the held-out prompts' extra answers are the only ones dropped
    assert len(train) + len(test) <= len(full_set)
    assert (train, test) == ins.split_instruction_set(full_set, test_per_task=30)
    with pytest.raises(ValueError, match="not enough to hold out"):
        ins.split_instruction_set(full_set[:50], test_per_task=40)


@pytest.mark.parametrize(
    ("task", "input", "good", "bad"),
    [
        ("spam", "WIN now", ["spam", "ham", " ham "], ["Spam", "spam!", "maybe", ""]),
        ("add", "3 + 4", ["7", "12", "0"], ["seven", "7.0", "-1", "7 8", ""]),
        (
            "speaker",
            "To be, or not",
            ["Falstaff", "First Lord", "Cleopatra"],
            ["Bob", "falstaff", ""],
        ),
        (
            "play",
            "Banquo",
            ["Macbeth", "The Tempest", "Henry IV, Part 1"],
            ["Hamlet?", "macbeth", "The Tempest."],
        ),
        ("reverse", "night", ["thgin", "abcde"], ["thg", "THGIN", "thg in", "thgins"]),
        (
            "uppercase",
            "fair lady",
            ["FAIR LADY", "SOME WORD"],
            ["FAIR", "Fair Lady", "FAIR  LADY X", "fair lady"],
        ),
    ],
)
def test_well_formed_checks_the_form_of_an_answer_not_its_truth(task, input, good, bad):
    ex = ins.Example(task, "an instruction", input, "unused")
    assert all(ins.well_formed(ex, a) for a in good)
    assert not any(ins.well_formed(ex, a) for a in bad)


def test_well_formed_has_no_rule_for_free_text_and_refuses_unknown_tasks():
    assert ins.well_formed(ins.Example("qa", "Hi?", "", "Hello."), "anything at all") is None
    with pytest.raises(ValueError, match="Unknown task 'poem'"):
        ins.well_formed(ins.Example("poem", "Write.", "", "x"), "x")


def test_every_response_in_the_instruction_set_is_well_formed(full_set):
    for ex in full_set:
        assert ins.well_formed(ex, ex.response) in (True, None), ex
