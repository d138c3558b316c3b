"""Appendix A1 (scaling up): one process's share of the batch, the micro-batch size, a tiny
gradient in bfloat16, and why the global batch must not depend on the number of processes."""

from __future__ import annotations

import torch

from gptbook.exercises import Case, Idea, Implement, Measurement, Mistake, Open, Predict

# --- A1.1 ------------------------------------------------------------------------------------


def _shard(batch: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    from gptbook.distributed import shard

    return shard(batch, rank, world_size)


SHARD = Implement(
    id="A1.1",
    title="one process's share of the batch",
    statement="my_shard(batch, rank, world_size): the rows of the global batch that process `rank` "
    "(0 .. world_size - 1) works on: equal, consecutive slices, so that all ranks together cover "
    "every row once.",
    name="my_shard",
    reference=_shard,
    cases=(
        Case((torch.arange(8), 0, 2), "Rank r takes the consecutive rows r·n .. (r + 1)·n - 1, with "
             "n = len(batch) // world_size (not every world_size-th row): rank 0 of 2 gets the "
             "first half.", "batch = [0, ..., 7], rank 0 of 2"),
        Case((torch.arange(8), 1, 4), "Consecutive slices, not every world_size-th row: rank 1 of "
             "4 gets rows 2 and 3.", "batch = [0, ..., 7], rank 1 of 4"),
        Case((torch.arange(12).view(6, 2), 2, 3), "Slice the first dimension (the windows); each "
             "row keeps all its columns.", "a (6, 2) batch, rank 2 of 3"),
    ),
    solution_code='''
def my_shard(batch, rank, world_size):
    n = len(batch) // world_size
    return batch[rank * n : (rank + 1) * n]
''',
    mistakes=(
        Mistake(lambda b, r, w: b[r::w], "not every world_size-th row"),
        Mistake(lambda b, r, w: b[r * w : (r + 1) * w], "n = len(batch) // world_size"),
    ),
)

# --- A1.2 ------------------------------------------------------------------------------------


def _micro_batch(batch_size: int, processes: int, accum: int) -> int:
    from gptbook.distributed import check_split

    return check_split(batch_size, processes, accum)


MICRO_BATCH = Implement(
    id="A1.2",
    title="the micro-batch size",
    statement="micro_batch(batch_size, processes, accum): how many windows one process handles in "
    "one accumulation step, when the global batch is split over `processes` processes and `accum` "
    "accumulation steps each.",
    name="micro_batch",
    reference=_micro_batch,
    cases=(
        Case((16, 1, 1), "One process, no accumulation: the micro-batch is the whole batch."),
        Case((16, 2, 1), "Each of the processes gets an equal share of the global batch."),
        Case((16, 2, 4), "global batch = processes × accumulation steps × micro-batch: divide by "
             "both."),
        Case((64, 8, 2), "Divide by processes × accum (here 16)."),
    ),
    solution_code='''
def micro_batch(batch_size, processes, accum):
    return batch_size // (processes * accum)
''',
    mistakes=(
        Mistake(lambda b, p, a: b // p, "divide by both"),
        Mistake(lambda b, p, a: b * p // a, "equal share"),
    ),
)

# --- A1.3 ------------------------------------------------------------------------------------


def _bf16_experiment() -> Measurement:
    gradient = torch.tensor(1e-8)
    bf16, fp16 = gradient.bfloat16().item(), gradient.half().item()
    report = (
        f"1e-8 in bfloat16: {bf16:.3e}; in float16: {fp16:.3e} (float16's smallest normal number "
        f"is {torch.finfo(torch.float16).tiny:.1e}, its smallest at all about 6e-08)."
    )
    return Measurement("kept" if bf16 != 0 else "zero", report)


BF16 = Predict(
    id="A1.3",
    title="a tiny gradient in bfloat16",
    statement="In float16 a gradient of 1e-8 becomes 0 (it underflows). What happens to it in "
    "bfloat16?",
    options={"kept": "it survives, rounded to about 3 significant digits", "zero": "it is 0 too"},
    experiment=_bf16_experiment,
    expected="kept",
    why="bfloat16 keeps float32's 8 exponent bits, so it reaches down to about 1e-38, like float32; "
    "it only has fewer mantissa bits (less precision). float16 has 5 exponent bits and nothing "
    "much below 6e-8. This is why bfloat16 training needs no gradient scaler.",
    mistakes=(Mistake("zero", "exponent bits"),),
)

# --- A1.4 ------------------------------------------------------------------------------------

GLOBAL_BATCH = Open(
    id="A1.4",
    title="why the global batch stays fixed",
    statement="The trainer keeps the global batch the same whatever the number of processes, with "
    "gradient accumulation. Why not simply give each process the batch size it used alone?",
    ideas=(
        Idea("the batch is a hyperparameter", ("hyperparameter", "learning rate", "setting",
                                               "recipe", "tuned", "noise"),
             "What else in a training run was chosen for that batch size?"),
        Idea("the run must stay the same run", ("same run", "same result", "same loss", "same steps",
                                                "reproduc", "compar", "change the run", "different run",
                                                "identical"),
             "Should a run give a different model because it ran on 8 GPUs instead of 1?"),
    ),
    answer_text="The batch size is a hyperparameter: the learning rate, warm-up and schedule were "
    "tuned for it, and it sets how noisy each step is. If every process kept its own batch, eight "
    "processes would train with an eight times larger batch and so a different run, whose results "
    "could not be compared with the one-process run. Keeping the global batch fixed (and splitting "
    "it over processes and accumulation steps) makes the run the same run, step for step, on any "
    "hardware.",
    mistakes=(Mistake("It would use too much memory on each GPU.", "What else in a training run"),),
)

EXERCISES = (SHARD, MICRO_BATCH, BF16, GLOBAL_BATCH)
