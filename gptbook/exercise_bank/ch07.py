"""Chapter 07 (softmax, temperature, decoding): softmax with temperature, the top-p filter,
top-k with k = 1 against greedy decoding, and why the most likely text reads badly."""

from __future__ import annotations

import torch

from gptbook.exercises import Case, Idea, Implement, Measurement, Mistake, Open, Predict

# --- 07.1 ------------------------------------------------------------------------------------


def _softmax_t(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    from gptbook.sampling import apply_temperature

    return apply_temperature(logits.cpu().double(), temperature)


T = torch.tensor
SOFTMAX_T = Implement(
    id="07.1",
    title="softmax with temperature",
    statement="softmax_t(logits, T): probabilities from logits at temperature T > 0, along the "
    "last dimension (each row separately), safe for large logits.",
    name="softmax_t",
    reference=_softmax_t,
    cases=(
        Case((T([1.0, 2.0, 3.0]), 1.0), "exp of each logit, divided by the sum of the exps."),
        Case((T([1.0, 2.0, 3.0]), 0.5), "Divide the logits by T before the softmax: T < 1 makes "
             "the gaps bigger and the distribution sharper."),
        Case((T([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]), 2.0), "Softmax over the last dimension: each "
             "row is its own distribution and sums to 1."),
        Case((T([1000.0, 1001.0, 1002.0]), 1.0), "Subtract the largest logit first: exp(1000) "
             "overflows to inf and inf / inf is nan. The answer does not change, since softmax "
             "ignores a constant added to every logit."),
    ),
    solution_code='''
import torch

def softmax_t(logits, T):
    z = logits / T
    z = z - z.max(dim=-1, keepdim=True).values  # exp never overflows now
    e = torch.exp(z)
    return e / e.sum(dim=-1, keepdim=True)
''',
    mistakes=(
        Mistake(lambda z, t: torch.softmax(z * t, dim=-1), "Divide the logits by T"),
        Mistake(lambda z, t: torch.exp(z / t) / torch.exp(z / t).sum(), "each row"),
        Mistake(lambda z, t: torch.exp(z / t) / torch.exp(z / t).sum(dim=-1, keepdim=True),
                "Subtract the largest logit"),
    ),
)

# --- 07.2 ------------------------------------------------------------------------------------


def _top_p(probs: torch.Tensor, p: float) -> torch.Tensor:
    from gptbook.sampling import filter_logits

    return torch.softmax(filter_logits(probs.cpu().double().log(), top_p=p), dim=-1)


def _stops_before_p(probs, p):
    order = torch.argsort(probs, descending=True)
    keep = torch.cumsum(probs[order], 0) < p  # drops the token that crosses p
    out = torch.zeros_like(probs)
    out[order[keep]] = probs[order[keep]]
    return out / out.sum()


def _not_renormalised(probs, p):
    order = torch.argsort(probs, descending=True)
    before = torch.cumsum(probs[order], 0) - probs[order]
    out = torch.zeros_like(probs)
    out[order[before < p]] = probs[order[before < p]]
    return out


def _assumes_sorted(probs, p):
    before = torch.cumsum(probs, 0) - probs
    out = torch.where(before < p, probs, torch.zeros_like(probs))
    return out / out.sum()


def _top_p_hint(text: str):
    """The case's hint, or the renormalising hint when the returned values do not sum to 1."""

    def hint(got: object, expected: object, args: tuple) -> str:
        if isinstance(got, torch.Tensor) and abs(float(got.sum()) - 1.0) > 1e-3:
            return ("Renormalise: divide the kept probabilities by their sum so they add up to 1 "
                    f"(yours add up to {float(got.sum()):.3f}).")
        return text

    return hint


TOP_P = Implement(
    id="07.2",
    title="the top-p (nucleus) filter",
    statement="top_p_filter(probs, p): keep the most likely tokens, in order of probability, until "
    "their total reaches at least p (always at least one); zero the rest and renormalise so the "
    "kept ones sum to 1. probs is a 1-D tensor.",
    name="top_p_filter",
    reference=_top_p,
    cases=(
        Case((T([0.5, 0.3, 0.2]), 0.6), _top_p_hint("Keep the token that makes the total reach p: "
             "0.5 alone is below 0.6, so 0.3 is kept too, and 0.2 is dropped.")),
        Case((T([0.5, 0.3, 0.2]), 0.45), _top_p_hint("Stop as soon as the total reaches p: here "
             "the first token alone (0.5) is enough.")),
        Case((T([0.2, 0.5, 0.3]), 0.6), _top_p_hint("Rank by probability, not by position, and put "
             "the result back in the original order.")),
        Case((T([0.6, 0.25, 0.15]), 0.8), _top_p_hint("Keep the most likely tokens until their "
             "total reaches p, then renormalise.")),
    ),
    solution_code='''
import torch

def top_p_filter(probs, p):
    order = torch.argsort(probs, descending=True)
    sorted_probs = probs[order]
    before = torch.cumsum(sorted_probs, 0) - sorted_probs  # total of the tokens ranked above
    keep = before < p  # the total had not reached p yet: this token is still needed
    out = torch.zeros_like(probs)
    out[order[keep]] = sorted_probs[keep]
    return out / out.sum()
''',
    mistakes=(
        Mistake(_stops_before_p, "Keep the token that makes the total reach p"),
        Mistake(_assumes_sorted, "Rank by probability"),
        Mistake(_not_renormalised, "Renormalise"),
    ),
)

# --- 07.3 ------------------------------------------------------------------------------------


def _top1_experiment() -> Measurement:
    from gptbook.pretrained import load_base_model
    from gptbook.sampling import generate, greedy

    model, tokenizer = load_base_model("cpu")
    prompt = torch.tensor([tokenizer.encode("ROMEO:\n")])
    want = greedy(model, prompt, 24)
    same = 0
    for seed in range(3):
        g = torch.Generator().manual_seed(seed)
        got = generate(model, prompt, 24, temperature=1.0, top_k=1, generator=g)
        same += int(torch.equal(got, want))
    text = tokenizer.decode(want[0, prompt.size(1):].tolist())
    report = (
        f"the book's base model, prompt 'ROMEO:\\n', 24 new tokens: top-k with k = 1 gave greedy's "
        f"text for {same} of 3 seeds (greedy: {text!r})."
    )
    return Measurement("yes" if same == 3 else "no", report)


TOP_1 = Predict(
    id="07.3",
    title="top-k with k = 1",
    statement="Sample from the book's model with top_k=1 at temperature 1, with three different "
    "seeds. Is the text the same as greedy decoding's, every time?",
    options={"yes": "the same as greedy, whatever the seed", "no": "different texts"},
    experiment=_top1_experiment,
    expected="yes",
    why="top_k=1 keeps only the most likely token and sets every other logit to -inf, so the "
    "softmax gives it probability 1 and the 'random' draw has one possible outcome: the argmax, "
    "which is exactly greedy decoding. Temperature and seed no longer matter.",
    mistakes=(Mistake("no", "argmax"),),
)

# --- 07.4 ------------------------------------------------------------------------------------

LIKELY_TEXT = Open(
    id="07.4",
    title="why the most likely text reads badly",
    statement="Greedy decoding and beam search look for the most likely continuation, yet chat "
    "models sample (with a temperature and top-p). Why does the most likely text often read "
    "worse than a sample?",
    ideas=(
        Idea("it repeats itself", ("repeat", "repetit", "loop", "same words", "same phrase",
                                   "over and over", "again"),
             "Look at greedy's text in the chapter: what happens after a few dozen tokens?"),
        Idea("people do not write the most likely words", ("human", "people", "surpris", "variety",
                                                           "divers", "bland", "dull", "boring",
                                                           "generic", "creative", "interesting"),
             "Is a text a person writes made of the single most likely word at every step?"),
    ),
    answer_text="Maximising probability favours safe, generic words, and once a phrase has been "
    "written, repeating it becomes even more likely, so greedy and beam search fall into loops. "
    "Real text written by people is not the most likely sequence: it contains surprising, less "
    "probable words at many steps. Sampling with a moderate temperature and top-p keeps the "
    "variety of human text while cutting off the unlikely tail where nonsense lives.",
    mistakes=(Mistake("The most likely text is always the best text, so it does not read worse.",
                      "what happens after a few dozen tokens"),),
)

EXERCISES = (SOFTMAX_T, TOP_P, TOP_1, LIKELY_TEXT)
