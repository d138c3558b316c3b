"""How much faster is generation with a KV cache? Prints the speed-up for 256 new tokens.

The model is the size of the book's base model (6 layers, width 384, 6 heads, context 256) with
random weights: speed does not depend on what the weights are. Both paths must produce the same
tokens; the script checks that before timing.

    .venv/bin/python benchmarks/bench_kv_cache.py [--new-tokens 256] [--repeats 3] [--threads N]

Two prompts are timed. With a 1-token prompt all 256 new tokens fit in the context, so every step
after the first uses the cache. With a 128-token prompt the text passes the context of 256 after
128 steps; from then on the window slides and each step recomputes it (see gptbook.sampling), so
the speed-up is smaller. Timings on a shared machine are noisy: the median of the repeats is shown.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from gptbook.model import GPT, GPTConfig
from gptbook.sampling import generate


def time_generation(
    model: GPT, prompt: torch.Tensor, new_tokens: int, use_cache: bool, repeats: int
) -> float:
    """Median wall-clock seconds of ``repeats`` greedy generations."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        generate(model, prompt, new_tokens, temperature=0.0, use_cache=use_cache)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads for this run")
    parser.add_argument("--vocab", type=int, default=4096)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    config = GPTConfig(vocab_size=args.vocab, context=256, n_layer=6, n_head=6, d_model=384)
    model = GPT(config).eval()
    print(f"model: {config}  ({model.num_params() / 1e6:.1f}M parameters)")
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")

    for prompt_len in (1, 128):
        prompt = torch.randint(
            0, config.vocab_size, (1, prompt_len), generator=torch.Generator().manual_seed(1)
        )
        cached = generate(model, prompt, args.new_tokens, temperature=0.0, use_cache=True)
        plain = generate(model, prompt, args.new_tokens, temperature=0.0, use_cache=False)
        same = torch.equal(cached, plain)
        g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
        same_sampled = torch.equal(
            generate(model, prompt, args.new_tokens, top_k=50, use_cache=True, generator=g1),
            generate(model, prompt, args.new_tokens, top_k=50, use_cache=False, generator=g2),
        )
        t_cache = time_generation(model, prompt, args.new_tokens, True, args.repeats)
        t_plain = time_generation(model, prompt, args.new_tokens, False, args.repeats)
        print(
            f"prompt {prompt_len:3d} + {args.new_tokens} new tokens: "
            f"without cache {t_plain:6.2f} s ({args.new_tokens / t_plain:6.1f} tok/s), "
            f"with cache {t_cache:6.2f} s ({args.new_tokens / t_cache:6.1f} tok/s), "
            f"speed-up {t_plain / t_cache:4.1f}x; same tokens: greedy {same}, sampled {same_sampled}"
        )


if __name__ == "__main__":
    main()
