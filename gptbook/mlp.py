"""The smallest neural nets, written out by hand: the perceptron and a two-layer MLP with backprop.

* A **perceptron** (Rosenblatt, 1958) takes a weighted sum of its inputs plus a bias and passes it
  through an activation: a step, the sigmoid ``1 / (1 + e^-z)`` or ``tanh``.
* A **multi-layer perceptron** (MLP) is many of them side by side, layer after layer. A whole layer
  is one matrix product: ``h = tanh(x @ W1 + b1)``, then ``logits = h @ W2 + b2``.
* **Backpropagation** (Rumelhart, Hinton and Williams, 1986) is the chain rule applied from the loss
  back to every weight. :func:`mlp_backward` does it by hand for the two-layer MLP; the chapter
  checks it against PyTorch's autograd and against :func:`numerical_gradient` (finite
  differences).

Everything works on float64 tensors so hand-made and automatic gradients agree to many digits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "step": lambda z: (z > 0).to(z.dtype),
    "sigmoid": lambda z: 1.0 / (1.0 + torch.exp(-z)),
    "tanh": torch.tanh,
}


def perceptron(
    x: torch.Tensor, w: torch.Tensor, b: float | torch.Tensor, activation: str = "step"
) -> torch.Tensor:
    """``activation(x . w + b)`` for one input ``x[D]`` or a batch ``x[N, D]``."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"Unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}.")
    return ACTIVATIONS[activation](x @ w + b)


def softmax(logits: torch.Tensor) -> torch.Tensor:
    """Turn each row of logits into probabilities (positive, summing to 1). The row maximum is
    subtracted first: it does not change the answer and keeps ``exp`` from overflowing."""
    e = torch.exp(logits - logits.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of the right answers:
    ``-mean(log softmax(logits)[i, targets[i]])``."""
    probs = softmax(logits)
    return -torch.log(probs[torch.arange(len(targets)), targets]).mean()


@dataclass
class MLPParams:
    """Weights of ``x[N, D] -> tanh(x @ W1 + b1) -> @ W2 + b2 -> logits[N, C]``."""

    W1: torch.Tensor  # [D, H]
    b1: torch.Tensor  # [H]
    W2: torch.Tensor  # [H, C]
    b2: torch.Tensor  # [C]

    @classmethod
    def random(
        cls, d_in: int, d_hidden: int, d_out: int, generator: torch.Generator | None = None
    ) -> MLPParams:
        def r(*shape: int, scale: float) -> torch.Tensor:
            return torch.randn(*shape, generator=generator, dtype=torch.float64) * scale

        return cls(
            r(d_in, d_hidden, scale=d_in**-0.5),
            r(d_hidden, scale=0.1),
            r(d_hidden, d_out, scale=d_hidden**-0.5),
            r(d_out, scale=0.1),
        )

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"W1": self.W1, "b1": self.b1, "W2": self.W2, "b2": self.b2}


def mlp_forward(x: torch.Tensor, p: MLPParams) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(logits, h)``: the output and the hidden layer (kept for the backward pass)."""
    h = torch.tanh(x @ p.W1 + p.b1)
    return h @ p.W2 + p.b2, h


def mlp_backward(x: torch.Tensor, targets: torch.Tensor, p: MLPParams) -> dict[str, torch.Tensor]:
    """Gradients of the mean cross-entropy with respect to every weight, by the chain rule by hand.

    Going backwards, one step at a time (``N`` examples, ``Y`` the one-hot targets):

    * loss -> logits:  ``dlogits = (softmax(logits) - Y) / N``
    * logits -> W2, b2, h:  ``dW2 = h^T dlogits``, ``db2 = sum of dlogits over rows``,
      ``dh = dlogits W2^T``
    * h -> pre-activation z:  ``dz = dh * (1 - h^2)``  (the derivative of tanh)
    * z -> W1, b1:  ``dW1 = x^T dz``, ``db1 = sum of dz over rows``
    """
    logits, h = mlp_forward(x, p)
    n = len(targets)
    dlogits = softmax(logits)
    dlogits[torch.arange(n), targets] -= 1.0
    dlogits /= n
    dh = dlogits @ p.W2.T
    dz = dh * (1.0 - h**2)
    return {"W1": x.T @ dz, "b1": dz.sum(0), "W2": h.T @ dlogits, "b2": dlogits.sum(0)}


def numerical_gradient(
    f: Callable[[], torch.Tensor], t: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """Finite-difference gradient of the scalar ``f()`` with respect to tensor ``t`` (changed in
    place and restored): ``(f(t + eps) - f(t - eps)) / (2 eps)``, one entry at a time. Slow; for
    checking."""
    grad = torch.zeros_like(t)
    flat, gflat = t.view(-1), grad.view(-1)
    with torch.no_grad():
        for i in range(flat.numel()):
            old = flat[i].item()
            flat[i] = old + eps
            up = f().item()
            flat[i] = old - eps
            down = f().item()
            flat[i] = old
            gflat[i] = (up - down) / (2 * eps)
    return grad
