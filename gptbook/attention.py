"""Attention: how each token gathers information from the tokens before it.

Read this module from top to bottom, like the chapter (notebook 05):

1. :func:`causal_mask` says which key each query may look at: itself and everything earlier.
2. :func:`attend` is attention written out plainly: scores ``q @ k^T / sqrt(d)``, the causal
   mask, softmax, and the weighted sum of the values.
3. :class:`Head` is one causal self-attention head with its own query, key and value projections.
4. :class:`CausalSelfAttention` is several heads at once, the way GPT-2 does it: one fused
   projection ``c_attn`` makes the queries, keys and values of all heads, and ``c_proj`` mixes the
   heads' outputs. It can use either :func:`attend` or PyTorch's fused kernel
   :func:`torch.nn.functional.scaled_dot_product_attention` (same numbers, faster), can return the
   attention weights for pictures, and can use a :class:`KVCache` during generation.

The idea is from Vaswani et al. (2017), "Attention is all you need"; the decoder-only, causal form
is GPT's (Radford et al., 2018 and 2019).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def causal_mask(t_query: int, t_key: int, device: torch.device | str | None = None) -> Tensor:
    """Boolean mask of shape ``(t_query, t_key)``: ``True`` where a query may look at a key.

    The queries are the *last* ``t_query`` positions of the ``t_key`` keys. Without a cache the
    two are equal and the mask is the lower triangle. With a KV cache the keys also include
    ``t_key - t_query`` earlier positions, which every new query may see.
    """
    if t_query > t_key:
        raise ValueError(
            f"There are more queries ({t_query}) than keys ({t_key}); each query needs its own key."
        )
    ones = torch.ones(t_query, t_key, dtype=torch.bool, device=device)
    return torch.tril(ones, diagonal=t_key - t_query)


def attend(q: Tensor, k: Tensor, v: Tensor, causal: bool = True) -> tuple[Tensor, Tensor]:
    """Scaled dot-product attention, computed step by step.

    ``q`` has shape ``(..., T_q, d)``, ``k`` and ``v`` have shape ``(..., T_k, d)``. Returns the
    output ``(..., T_q, d)`` and the attention weights ``(..., T_q, T_k)``; each row of weights is
    a probability distribution over the keys.
    """
    d = q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # how well each query matches each key
    if causal:
        allowed = causal_mask(q.size(-2), k.size(-2), device=q.device)
        scores = scores.masked_fill(~allowed, float("-inf"))  # no peeking at the future
    weights = torch.softmax(scores, dim=-1)  # each row sums to 1
    return weights @ v, weights  # a weighted average of the values


class Head(nn.Module):
    """One causal self-attention head, written plainly.

    Each token makes a query ("what am I looking for?"), a key ("what do I contain?") and a value
    ("what do I pass on?") with three linear maps of its vector.
    """

    def __init__(self, d_model: int, head_size: int, bias: bool = True):
        super().__init__()
        self.query = nn.Linear(d_model, head_size, bias=bias)
        self.key = nn.Linear(d_model, head_size, bias=bias)
        self.value = nn.Linear(d_model, head_size, bias=bias)

    def forward(self, x: Tensor, return_weights: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """``x`` is ``(B, T, d_model)``; returns ``(B, T, head_size)`` (and the weights
        ``(B, T, T)``)."""
        out, weights = attend(self.query(x), self.key(x), self.value(x), causal=True)
        return (out, weights) if return_weights else out


class LayerCache:
    """The keys and values one attention layer has already computed: ``(B, heads, T, d_head)``."""

    def __init__(self) -> None:
        self.k: Tensor | None = None
        self.v: Tensor | None = None

    @property
    def length(self) -> int:
        """How many positions are stored."""
        return 0 if self.k is None else self.k.size(-2)

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Store the new positions' keys and values; return all keys and values so far."""
        if self.k is None:
            self.k, self.v = k, v
        else:
            self.k = torch.cat([self.k, k], dim=-2)
            self.v = torch.cat([self.v, v], dim=-2)
        return self.k, self.v


class KVCache:
    """Keys and values of every layer, kept between generation steps.

    When a GPT generates, the keys and values of the tokens it has already seen never change (the
    mask stops them from looking at later tokens). Keeping them means each new token costs one
    position of work instead of the whole sequence. The cache holds at most the model's context;
    :mod:`gptbook.sampling` starts a fresh cache on the cropped window when it is full.
    """

    def __init__(self, n_layer: int):
        self.layers = [LayerCache() for _ in range(n_layer)]

    @property
    def length(self) -> int:
        """Number of positions already stored (the position of the next token)."""
        return self.layers[0].length

    def reorder(self, index: Tensor) -> None:
        """Keep the batch rows ``index`` (in that order): beam search follows its beams so."""
        for layer in self.layers:
            if layer.k is not None:
                layer.k = layer.k.index_select(0, index)
                layer.v = layer.v.index_select(0, index)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with GPT-2's fused projections.

    ``c_attn`` maps each token's ``d_model`` numbers to ``3 * d_model``: its queries, keys and
    values for all heads at once. Each head works on its own slice of ``d_model // n_head`` numbers.
    ``c_proj`` mixes the heads' outputs back into ``d_model`` numbers.

    ``use_sdpa`` switches between the explicit :func:`attend` (clear, returns weights) and
    PyTorch's :func:`~torch.nn.functional.scaled_dot_product_attention` (fast); both give the same
    result to floating-point rounding.
    """

    def __init__(
        self,
        d_model: int,
        n_head: int,
        dropout: float = 0.0,
        bias: bool = True,
        use_sdpa: bool = True,
    ):
        super().__init__()
        if d_model % n_head != 0:
            raise ValueError(
                f"d_model={d_model} is not divisible by n_head={n_head}; "
                "each head needs an equal slice. "
                "Choose n_head so that d_model % n_head == 0."
            )
        self.n_head = n_head
        self.d_model = d_model
        self.dropout = dropout
        self.use_sdpa = use_sdpa
        self.c_attn = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.c_proj = nn.Linear(d_model, d_model, bias=bias)
        self.attn_dropout = nn.Dropout(dropout)
        self.resid_dropout = nn.Dropout(dropout)

    def _split_heads(self, x: Tensor) -> Tensor:
        """``(B, T, d_model)`` -> ``(B, n_head, T, d_head)``."""
        B, T, _ = x.shape
        return x.view(B, T, self.n_head, self.d_model // self.n_head).transpose(1, 2)

    def forward(
        self, x: Tensor, cache: LayerCache | None = None, return_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """Attend over ``x`` of shape ``(B, T, d_model)``.

        With ``cache``, ``x`` holds only the new positions; their keys and values are appended to
        the cache and the queries attend over everything stored. Returns the output ``(B, T,
        d_model)`` and, if ``return_weights``, the weights ``(B, n_head, T, T_keys)`` (else
        ``None``).
        """
        B, T, _ = x.shape
        q, k, v = self.c_attn(x).split(self.d_model, dim=2)
        q, k, v = self._split_heads(q), self._split_heads(k), self._split_heads(v)
        if cache is not None:
            k, v = cache.append(k, v)
        t_key = k.size(-2)

        weights = None
        if self.use_sdpa and not return_weights:
            p = self.dropout if self.training else 0.0
            if t_key == T:  # no cache, or the cache was empty: the plain lower triangle
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
            elif T == 1:  # one new token may look at every stored one
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
            else:
                mask = causal_mask(T, t_key, device=x.device)
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        else:
            y, weights = attend(q, k, v, causal=True)
            if self.training and self.dropout > 0:
                y = self.attn_dropout(weights) @ v

        y = y.transpose(1, 2).contiguous().view(B, T, self.d_model)  # glue the heads back together
        return self.resid_dropout(self.c_proj(y)), weights
