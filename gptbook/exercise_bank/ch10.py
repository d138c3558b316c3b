"""Chapter 10 (fine-tuning on instructions): the prompt template, masking the prompt out of the
targets, padding that is not ignored, and why the form of an answer is learned before its content."""

from __future__ import annotations

import torch

from gptbook.exercises import Case, Idea, Implement, Measurement, Mistake, Open, Predict

# --- 10.1 ------------------------------------------------------------------------------------


def _build_prompt(instruction: str, input: str) -> str:
    from gptbook.instructions import format_prompt

    return format_prompt(instruction, input)


BUILD_PROMPT = Implement(
    id="10.1",
    title="the prompt template",
    statement="build_prompt(instruction, input): the chapter's template: '### Instruction:', the "
    "instruction, a blank line, '### Input:' and the input (only when the input is not empty), a "
    "blank line, then '### Response:' and a newline.",
    name="build_prompt",
    reference=_build_prompt,
    cases=(
        Case(("Add these two numbers.", "3 + 4"), "Each heading is on its own line, a blank line "
             "separates the parts, and the prompt ends with '### Response:' and a newline, where "
             "the answer will start."),
        Case(("What is the capital of France?", ""), "With an empty input, leave out the whole "
             "'### Input:' part (heading and blank line), not only the input text."),
        Case(("Reverse the word.", "rose"), "Same template for every task."),
    ),
    solution_code='''
def build_prompt(instruction, input):
    prompt = f"### Instruction:\\n{instruction}\\n\\n"
    if input:
        prompt += f"### Input:\\n{input}\\n\\n"
    return prompt + "### Response:\\n"
''',
    mistakes=(
        Mistake(lambda i, x: f"### Instruction:\n{i}\n\n### Input:\n{x}\n\n### Response:\n",
                "leave out the whole"),
        Mistake(lambda i, x: f"### Instruction:\n{i}\n### Input:\n{x}\n### Response:\n",
                "blank line separates"),
        Mistake(lambda i, x: f"### Instruction:\n{i}\n\n### Input:\n{x}\n\n### Response:",
                "and a newline"),
    ),
)

# --- 10.2 ------------------------------------------------------------------------------------


def _mask_targets(ids: list[int], prompt_len: int) -> tuple[list[int], list[int]]:
    from gptbook.instruct import mask_prompt

    return mask_prompt(ids, prompt_len)


def _lists(got: object) -> tuple[list[int], list[int]]:
    inputs, targets = got  # type: ignore[misc]
    return [int(i) for i in inputs], [int(t) for t in targets]


MASK_TARGETS = Implement(
    id="10.2",
    title="masking the prompt out of the targets",
    statement="mask_targets(ids, prompt_len): ids = prompt tokens + response tokens. Return "
    "(inputs, targets): inputs = ids[:-1], targets = ids[1:], with -100 for every target that is "
    "still a prompt token.",
    name="mask_targets",
    reference=_mask_targets,
    prepare=_lists,
    cases=(
        Case(([1, 2, 3, 4, 5], 3), "The model reads ids[:-1] and predicts ids[1:]: position i's "
             "target is ids[i + 1]. Targets 0 .. prompt_len - 2 are prompt tokens (-100); the target "
             "at position prompt_len - 1 is the first response token: keep it.",
             "ids = [1, 2, 3, 4, 5], prompt_len = 3 (prompt 1 2 3, response 4 5)"),
        Case(([7, 8, 9], 1), "A one-token prompt masks nothing: the first target is already the "
             "response.", "ids = [7, 8, 9], prompt_len = 1"),
        Case(([10, 11, 12, 13, 14, 15], 5), "Only the response's tokens are scored: here the last "
             "target alone.", "ids = [10, ..., 15], prompt_len = 5"),
    ),
    solution_code='''
def mask_targets(ids, prompt_len):
    inputs, targets = list(ids[:-1]), list(ids[1:])
    for i in range(prompt_len - 1):  # targets[i] = ids[i + 1], a prompt token while i + 1 < prompt_len
        targets[i] = -100
    return inputs, targets
''',
    mistakes=(
        Mistake(lambda ids, n: (ids[:-1], [-100] * n + ids[n + 1 :]), "first response token"),
        Mistake(lambda ids, n: (ids, [-100] * n + ids[n:]), "ids[:-1]"),
    ),
)

# --- 10.3 ------------------------------------------------------------------------------------


def _padding_experiment() -> Measurement:
    from gptbook.device import seed_everything
    from gptbook.model import GPT, IGNORE, GPTConfig

    seed_everything(0)
    model = GPT(GPTConfig(vocab_size=50, context=32, n_layer=1, n_head=2, d_model=16)).eval()
    rows = [[5, 6, 7, 8, 9, 10], [11, 12, 13]]  # inputs; their targets are the next ids

    def loss(width: int, pad_target: int) -> float:
        idx = torch.zeros(len(rows), width, dtype=torch.long)  # pad id 0
        tgt = torch.full((len(rows), width), pad_target, dtype=torch.long)
        for r, ids in enumerate(rows):
            idx[r, : len(ids)] = torch.tensor(ids)
            tgt[r, : len(ids) - 1] = torch.tensor(ids[1:])
        with torch.no_grad():
            return model(idx, tgt)[1].item()

    pad_6, pad_12 = loss(6, 0), loss(12, 0)
    ignored_6, ignored_12 = loss(6, IGNORE), loss(12, IGNORE)
    report = (
        f"an untrained GPT, two rows of 6 and 3 tokens: with the pad id as the padding's target the "
        f"loss is {pad_6:.3f} padded to 6 and {pad_12:.3f} padded to 12; with -100 it is "
        f"{ignored_6:.3f} and {ignored_12:.3f}."
    )
    changes = abs(pad_6 - pad_12) > 1e-3
    return Measurement("yes" if changes else "no", report)


PADDING = Predict(
    id="10.3",
    title="padding that is not ignored",
    statement="Suppose the padding positions keep a real target (the pad id) instead of -100. "
    "Does the loss of the same batch change when you pad it to a longer length?",
    options={"yes": "yes, the loss changes with the amount of padding", "no": "no"},
    experiment=_padding_experiment,
    expected="yes",
    why="Every scored position counts in the mean: pad positions with a real target add "
    "'predict the pad id' terms, and padding to a longer length adds more of them. The loss (and "
    "the gradient) then depends on how the batch happened to be padded, and the model learns to "
    "predict padding. With -100 those positions are skipped and the loss is the same however long "
    "the padding.",
    mistakes=(Mistake("no", "Every scored position counts"),),
)

# --- 10.4 ------------------------------------------------------------------------------------

FORM_FIRST = Open(
    id="10.4",
    title="the form before the content",
    statement="After fine-tuning, a small model often answers in the right form (a whole number "
    "for a sum, one word for a reversal) well before its answers are right. Why is the form so "
    "much easier to learn than the content?",
    ideas=(
        Idea("the form is one shared pattern", ("form", "format", "pattern", "template", "shape",
                                                "layout", "same for", "every example", "all examples"),
             "How many examples show what a sum's answer looks like, and how many show the answer "
             "to one particular sum?"),
        Idea("the content needs a skill the model lacks", ("skill", "knowledge", "know", "pretrain",
                                                           "base model", "never learned", "small",
                                                           "capacity", "compute", "arithmetic",
                                                           "carry"),
             "Where would the ability to add numbers or spell words backwards come from, and was "
             "it in the base model?"),
    ),
    answer_text="The form is the same across thousands of examples (after '### Response:' comes a "
    "short line with digits for a sum), so every example teaches it and a few hundred steps are "
    "enough. The content needs a skill: adding numbers digit by digit with carries, or knowing "
    "which character speaks in a play. A small base model trained on Shakespeare has little of "
    "that skill, and a few thousand examples cannot build it, so the answers look right before "
    "they are right. This is why the chapter reports 'well formed' next to exact match.",
    mistakes=(Mistake("Because fine-tuning is not long enough.", "How many examples"),),
)

EXERCISES = (BUILD_PROMPT, MASK_TARGETS, PADDING, FORM_FIRST)
