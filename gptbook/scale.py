"""What changes at scale: parameters, training tokens and training compute, from GPT-2 to GPT-3.

Read from top to bottom, like the end of chapter 08:

1. :func:`training_flops` is the rule of thumb of Kaplan et al. (2020): training a model of ``N``
   parameters on ``D`` tokens costs about ``6 * N * D`` floating-point operations (2 per parameter
   per token for the forward pass, 4 for the backward pass).
2. :class:`TrainingRun` is one model and the number of tokens it was trained on. The parameters are
   never typed in: they come from the book's own counter, :func:`gptbook.model.count_params`.
3. :func:`published_runs` lists GPT-2 small, GPT-2 XL (Radford et al., 2019) and GPT-3 175B
   (Brown et al., 2020) with their token counts and where each number comes from.
4. :func:`scale_table` turns runs into rows (parameters, tokens, tokens per parameter next to the
   compute-optimal 20 of Hoffmann et al. (2022), compute, and, given a measured speed, how long
   this machine would take); :func:`format_table` prints them.
5. :data:`GPUS` lists the dense bf16 peaks of two data-centre GPUs from their datasheets, and
   :func:`gpu_days` says how long a run takes on a number of them at a given utilisation.

GPT-3's paper reports 3.14e23 FLOPs (3.64e3 petaflop/s-days) for its 175B model on 300B tokens;
``6 * N * D`` with the counted ``N`` gives the same number to within 1 %.
"""

from __future__ import annotations

from dataclasses import dataclass

from gptbook.model import GPTConfig, count_params

FLOPS_PER_PARAM_PER_TOKEN = 6  # forward 2, backward 4 (Kaplan et al., 2020)
SECONDS_PER_DAY = 86_400
SECONDS_PER_YEAR = 365.25 * SECONDS_PER_DAY
# Hoffmann et al. (2022, "Chinchilla"): for a fixed compute budget, the loss is lowest when a model
# sees about 20 training tokens per parameter.
CHINCHILLA_TOKENS_PER_PARAM = 20


def training_flops(n_params: float, n_tokens: float) -> float:
    """Training compute in floating-point operations: ``6 * n_params * n_tokens``."""
    if n_params <= 0 or n_tokens <= 0:
        raise ValueError(
            f"n_params and n_tokens must be positive, got n_params={n_params!r}, n_tokens={n_tokens!r}."
        )
    return FLOPS_PER_PARAM_PER_TOKEN * float(n_params) * float(n_tokens)


def petaflop_s_days(flops: float) -> float:
    """Compute in petaflop/s-days, the unit of GPT-3's paper: 1e15 operations a second for a day."""
    return flops / (1e15 * SECONDS_PER_DAY)


@dataclass(frozen=True)
class TrainingRun:
    """A model (its config) trained on ``tokens`` tokens; ``source`` says where the count comes from."""

    name: str
    config: GPTConfig
    tokens: float
    source: str

    @property
    def params(self) -> int:
        """Parameters, from the book's counter (tied embedding counted once)."""
        return count_params(self.config)["total"]

    @property
    def flops(self) -> float:
        """Training compute, ``6 * N * D``."""
        return training_flops(self.params, self.tokens)


def gpt2_xl() -> GPTConfig:
    """GPT-2's largest model (Radford et al., 2019): 48 layers, 25 heads, width 1,600; about 1.5B."""
    return GPTConfig(vocab_size=50257, context=1024, n_layer=48, n_head=25, d_model=1600)


def published_runs() -> list[TrainingRun]:
    """GPT-2 small, GPT-2 XL and GPT-3 175B with their training tokens.

    GPT-3's 300 billion tokens are in its paper (Brown et al., 2020, table 2.2). GPT-2's paper gives
    its data (WebText, about 40 GB of text) but not how many tokens it trained on; the entry uses
    one pass over WebText at about 4 bytes per token, about 10 billion tokens, and says so.
    """
    webtext = "estimate: one pass over WebText (40 GB at ~4 bytes/token); the paper gives no token count"
    return [
        TrainingRun("GPT-2 small", GPTConfig.gpt2_small(), 10e9, webtext),
        TrainingRun("GPT-2 XL", gpt2_xl(), 10e9, webtext),
        TrainingRun("GPT-3 175B", GPTConfig.gpt3_175b(), 300e9, "Brown et al. (2020), table 2.2"),
    ]


def _duration(seconds: float) -> str:
    """A rough, human duration: seconds, minutes, hours, days or years."""
    for unit, size in (
        ("years", SECONDS_PER_YEAR),
        ("days", SECONDS_PER_DAY),
        ("hours", 3600),
        ("minutes", 60),
    ):
        if seconds >= size:
            return f"{seconds / size:,.3g} {unit}"
    return f"{seconds:.3g} seconds"


def scale_table(runs: list[TrainingRun], flops_per_second: float | None = None) -> list[dict[str, object]]:
    """One row per run: parameters, tokens, tokens per parameter, FLOPs, petaflop/s-days.

    With ``flops_per_second`` (a speed measured on this machine, e.g. ``6 * N * tokens_per_second``
    from a training run), each row also says how long the run would take here.
    """
    if flops_per_second is not None and not flops_per_second > 0:
        raise ValueError(f"flops_per_second must be a positive measured speed, got {flops_per_second!r}.")
    rows = []
    for run in runs:
        row: dict[str, object] = {
            "model": run.name,
            "parameters": run.params,
            "tokens": run.tokens,
            "tokens/parameter": run.tokens / run.params,
            "Chinchilla 20N": float(CHINCHILLA_TOKENS_PER_PARAM * run.params),
            "FLOPs (6ND)": run.flops,
            "PF/s-days": petaflop_s_days(run.flops),
        }
        if flops_per_second is not None:
            row["time on this machine"] = _duration(run.flops / flops_per_second)
        rows.append(row)
    return rows


def _cell(value: object) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3g}" if value < 1e6 else f"{value:.2e}"
    return str(value)


def format_table(rows: list[dict[str, object]]) -> str:
    """Rows (from :func:`scale_table`) as an aligned plain-text table."""
    if not rows:
        raise ValueError("format_table got no rows; pass the list scale_table returns.")
    headers = list(rows[0])
    cells = [[_cell(row[h]) for h in headers] for row in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(headers, widths)))]
    for c in cells:
        lines.append("  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(c, widths))))
    return "\n".join(lines)


@dataclass(frozen=True)
class Accelerator:
    """A GPU and its dense bf16 matrix-multiply peak, with where the figure comes from."""

    name: str
    bf16_flops_per_s: float
    source: str


GPUS: tuple[Accelerator, ...] = (
    Accelerator("NVIDIA A100 SXM", 312e12,
                "NVIDIA A100 datasheet (2020): BF16 Tensor Core 312 TFLOPS dense, 624 with sparsity"),
    Accelerator("NVIDIA H100 SXM", 989e12,
                "NVIDIA H100 datasheet (2022): BF16 Tensor Core 1,979 TFLOPS with sparsity, about "
                "989 dense; the H200 has the same compute with more memory"),
)


def gpu_days(flops: float, gpu: Accelerator, n_gpus: int = 1, mfu: float = 0.4) -> float:
    """Days to do ``flops`` of training on ``n_gpus`` of ``gpu`` at model FLOPs utilisation ``mfu``.

    Well-tuned large runs reach roughly 0.3-0.5 of the peak; the default 0.4 is in that range.
    """
    if flops <= 0 or n_gpus < 1 or not 0 < mfu <= 1:
        raise ValueError(
            f"need flops > 0, n_gpus >= 1 and 0 < mfu <= 1, got flops={flops!r}, "
            f"n_gpus={n_gpus!r}, mfu={mfu!r}."
        )
    return flops / (gpu.bf16_flops_per_s * mfu * n_gpus) / SECONDS_PER_DAY
