"""The GPT: a stack of decoder blocks between an embedding and an unembedding.

Read this module from top to bottom, like the chapter (notebook 06):

1. :class:`GPTConfig` holds the few numbers that define a GPT, with presets for GPT-2 small and
   GPT-3 175B, and :func:`count_params` counts a config's parameters by part without building it.
2. :class:`LayerNorm` (Ba et al., 2016), chosen for every block by :func:`make_norm`, and
   :class:`MLP` (a 4x wider feed-forward net with the GELU of Hendrycks and Gimpel, 2016).
3. :class:`Block`: pre-norm attention and MLP, each added back to its input (the residual
   connection of He et al., 2016): ``x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))``.
4. :class:`GPT`: token and position embeddings, the blocks, a final layer norm, and the
   unembedding ``lm_head`` that shares its weights with the token embedding (Radford et al., 2019).
   The forward pass is cut into public steps that everything else reuses (fine-tuning, feature
   extraction, attention pictures, a reward model):

   * :meth:`GPT.embed`: token ids ``(B, T)`` -> the residual stream ``(B, T, d_model)``; the
     one place where positions are added;
   * :meth:`GPT.run_blocks`: the residual stream through some or all of the blocks;
   * :meth:`GPT.finish`: the rest of the blocks and the final layer norm;
   * :meth:`GPT.hidden_states`: token ids -> final, normalised hidden states ``(B, T, d_model)``;
   * :meth:`GPT.forward`: hidden states -> logits ``(B, T, vocab_size)``, and the loss.

   :meth:`GPT.from_gpt2_state_dict` loads weights stored in GPT-2's published Hugging Face layout.

The module names (``transformer.wte``, ``h.0.attn.c_attn``, ``mlp.c_fc``, ...) follow GPT-2's, so
a GPT-2 checkpoint maps onto this model one tensor at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gptbook.attention import CausalSelfAttention, KVCache, LayerCache

# ---------------------------------------------------------------------------------------------
# 1. The configuration, and counting parameters without building anything
# ---------------------------------------------------------------------------------------------


@dataclass
class GPTConfig:
    """The numbers that define a GPT.

    ``vocab_size`` tokens, at most ``context`` tokens at once, ``n_layer`` blocks of ``n_head``
    attention heads, each token a vector of ``d_model`` numbers. ``bias`` adds biases to the
    linear layers and layer norms (GPT-2 has them).
    """

    vocab_size: int
    context: int
    n_layer: int
    n_head: int
    d_model: int
    dropout: float = 0.0
    bias: bool = True

    def __post_init__(self) -> None:
        for name in ("vocab_size", "context", "n_layer", "n_head", "d_model"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"GPTConfig.{name} must be a positive integer, got {value!r}.")
        if self.d_model % self.n_head != 0:
            raise ValueError(
                f"GPTConfig.d_model={self.d_model} is not divisible by n_head={self.n_head}; "
                "each head gets d_model // n_head numbers, so pick values that divide evenly."
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig.dropout must be in [0, 1), got {self.dropout!r}.")

    @classmethod
    def gpt2_small(cls) -> GPTConfig:
        """GPT-2 small (Radford et al., 2019): 12 layers, 12 heads, width 768, 124M parameters."""
        return cls(vocab_size=50257, context=1024, n_layer=12, n_head=12, d_model=768)

    @classmethod
    def gpt3_175b(cls) -> GPTConfig:
        """GPT-3 175B (Brown et al., 2020): 96 layers, 96 heads, width 12,288.

        Count it (:func:`count_params`), never build it.
        """
        return cls(vocab_size=50257, context=2048, n_layer=96, n_head=96, d_model=12288)


def count_params(config: GPTConfig) -> dict[str, int]:
    """Count a GPT's parameters by part, from its config alone (nothing is built).

    Returns a dict with the token embedding (shared with the unembedding, so counted once), the
    position embedding, the attention, MLP and layer-norm parameters summed over all blocks, the
    final layer norm, and ``"total"``. It agrees with ``GPT(config).num_params()``.
    """
    d, b = config.d_model, int(config.bias)
    layer_norm = d + b * d  # scale, and shift if biased
    attention = (d * 3 * d + b * 3 * d) + (d * d + b * d)  # c_attn, c_proj
    mlp = (d * 4 * d + b * 4 * d) + (4 * d * d + b * d)  # c_fc, c_proj
    parts = {
        "token_embedding": config.vocab_size * d,
        "position_embedding": config.context * d,
        "attention": config.n_layer * attention,
        "mlp": config.n_layer * mlp,
        "layer_norms": config.n_layer * 2 * layer_norm,
        "final_layer_norm": layer_norm,
    }
    parts["total"] = sum(parts.values())
    return parts


# ---------------------------------------------------------------------------------------------
# 2. Layer norm and the feed-forward network
# ---------------------------------------------------------------------------------------------


class LayerNorm(nn.Module):
    """Layer normalisation (Ba et al., 2016).

    Each token's vector is shifted to mean 0 and scaled to variance 1, then multiplied by a learned
    ``weight`` and shifted by a learned ``bias`` (left out when ``bias=False``).
    """

    def __init__(self, d_model: int, bias: bool = True, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)


def make_norm(config: GPTConfig) -> nn.Module:
    """The normalisation every block and the final layer use: swap it here, in one place."""
    return LayerNorm(config.d_model, bias=config.bias)


class MLP(nn.Module):
    """The feed-forward network: widen 4x, GELU, narrow back. It works on each token separately.

    GELU is GPT-2's tanh approximation of ``x * Phi(x)`` (Hendrycks and Gimpel, 2016).
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.d_model, 4 * config.d_model, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.d_model, config.d_model, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))


# ---------------------------------------------------------------------------------------------
# 3. The decoder block
# ---------------------------------------------------------------------------------------------


class Block(nn.Module):
    """One pre-norm decoder block: tokens talk (attention), then think (MLP), each as a residual."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = make_norm(config)
        self.attn = CausalSelfAttention(config.d_model, config.n_head, config.dropout, config.bias)
        self.ln_2 = make_norm(config)
        self.mlp = MLP(config)

    def forward(
        self, x: Tensor, cache: LayerCache | None = None, return_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """The new residual stream ``(B, T, d_model)`` and (if asked) the attention weights."""
        a, weights = self.attn(self.ln_1(x), cache=cache, return_weights=return_weights)
        x = x + a  # the residual connection: add, do not replace
        x = x + self.mlp(self.ln_2(x))
        return x, weights


# ---------------------------------------------------------------------------------------------
# 4. The GPT
# ---------------------------------------------------------------------------------------------


IGNORE = -100
"""The target of a position whose prediction is not scored (padding, a masked-out prompt)."""

REDUCTIONS = ("mean", "sum", "none")


def next_token_loss(logits: Tensor, targets: Tensor, reduction: str = "mean") -> Tensor:
    """Cross-entropy of ``logits`` ``(B, T, V)`` against ``targets`` ``(B, T)``.

    Positions whose target is :data:`IGNORE` are not scored. ``reduction="mean"`` averages over
    the scored positions (the training loss), ``"sum"`` adds them up, and ``"none"`` returns one
    loss per position ``(B, T)``, 0 where ignored: the log-likelihood of each token, which a
    preference loss (DPO) or a per-sequence score sums itself.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}.")
    loss = F.cross_entropy(
        logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE, reduction=reduction
    )
    return loss.view(targets.shape) if reduction == "none" else loss


class StateDictMismatchError(ValueError):
    """A state dict does not fit the model: keys are missing or unexpected, or shapes differ."""


class GPT(nn.Module):
    """A GPT language model: token ids in, next-token logits out."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.d_model),  # token embedding
                wpe=nn.Embedding(config.context, config.d_model),  # position embedding
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                ln_f=make_norm(config),
            )
        )
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied: unembedding = embedding
        self.apply(self._init_weights)
        # GPT-2 scales the layers that write into the residual stream by 1/sqrt(2 * n_layer),
        # so the stream's variance does not grow with depth.
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        """GPT-2's initialisation: normal(0, 0.02) weights, zero biases."""
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self, non_embedding: bool = False) -> int:
        """Number of parameters (the tied unembedding counted once).

        ``non_embedding=True`` leaves out the token and position embeddings, as scaling-law
        papers do.
        """
        n = sum(p.numel() for p in self.parameters())  # parameters() yields the tied tensor once
        if non_embedding:
            n -= self.transformer.wte.weight.numel() + self.transformer.wpe.weight.numel()
        return n

    def new_cache(self) -> KVCache:
        """An empty key/value cache for generation (see :mod:`gptbook.sampling`)."""
        return KVCache(self.config.n_layer)

    def _check_input(self, idx: Tensor, start: int) -> None:
        if idx.dim() != 2:
            raise ValueError(
                f"idx must have shape (batch, time), got shape {tuple(idx.shape)}; "
                "for a single sequence use idx[None] (or idx.unsqueeze(0))."
            )
        if idx.dtype not in (torch.long, torch.int, torch.int16, torch.uint8):
            raise ValueError(f"idx must hold integer token ids, got dtype {idx.dtype}.")
        T, C = idx.size(1), self.config.context
        if T == 0:
            raise ValueError("idx is empty (0 tokens); give the model at least one token.")
        if start + T > C:
            where = f" after {start} cached tokens" if start else ""
            raise ValueError(
                f"{T} tokens{where} are more than the model's context of {C}. "
                f"Crop the input to its last {C - start} tokens "
                "(gptbook.sampling.generate does this for you)."
            )
        if torch.compiler.is_compiling():
            return  # reading the ids back to Python would break the compiled graph
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= self.config.vocab_size:
            raise ValueError(
                f"token ids must be in [0, {self.config.vocab_size}), got ids from {lo} to {hi}; "
                "was the text encoded with this model's tokenizer?"
            )

    # The forward pass, one public step at a time. Each step is used by forward() and by the code
    # that needs the inside of the model: fine-tuning, features, attention pictures, reward models.

    def embed(self, idx: Tensor, start: int = 0) -> Tensor:
        """The residual stream ``(B, T, d_model)`` entering block 0, for token ids ``(B, T)``.

        Each token's vector is its token embedding plus the embedding of its position. Positions
        start at ``start`` (the number of tokens already in a KV cache). This is the only place
        where the model learns where a token is.
        """
        self._check_input(idx, start)
        pos = torch.arange(start, start + idx.size(1), device=idx.device)  # (T,)
        return self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))

    def run_blocks(
        self, x: Tensor, first: int = 0, last: int | None = None, cache: KVCache | None = None
    ) -> Tensor:
        """The residual stream ``x`` ``(B, T, d_model)`` through blocks ``first .. last - 1``.

        ``last=None`` runs to the top. With a ``cache``, each block appends its keys and values to
        its layer of the cache.
        """
        last = self.config.n_layer if last is None else last
        if not 0 <= first <= last <= self.config.n_layer:
            raise ValueError(
                f"Blocks {first} .. {last - 1} do not exist: the model has blocks 0 .. "
                f"{self.config.n_layer - 1}; pass 0 <= first <= last <= {self.config.n_layer}."
            )
        for i in range(first, last):
            x, _ = self.transformer.h[i](x, cache=None if cache is None else cache.layers[i])
        return x

    def hidden_states(self, idx: Tensor, cache: KVCache | None = None) -> Tensor:
        """The final hidden states ``(B, T, d_model)`` for ``idx`` ``(B, T)``: embeddings, every
        block and the final layer norm; everything but the unembedding ``lm_head``.

        A classifier or a reward model puts its own head on these vectors.
        """
        start = 0 if cache is None else cache.length
        return self.finish(self.embed(idx, start), cache=cache)

    def finish(self, x: Tensor, first: int = 0, cache: KVCache | None = None) -> Tensor:
        """The residual stream ``x`` entering block ``first`` through the remaining blocks and the
        final layer norm: the final hidden states ``(B, T, d_model)``.

        Fine-tuning with frozen bottom blocks computes their output once and starts here.
        """
        return self.transformer.ln_f(self.run_blocks(x, first, cache=cache))

    def forward(
        self,
        idx: Tensor,
        targets: Tensor | None = None,
        cache: KVCache | None = None,
        reduction: str = "mean",
    ) -> tuple[Tensor, Tensor | None]:
        """Logits ``(B, T, vocab_size)`` for token ids ``idx`` ``(B, T)``; the loss if ``targets``.

        The loss is the cross-entropy of predicting ``targets`` ``(B, T)`` (see
        :func:`next_token_loss` for ``reduction``; positions with -100 are not scored). With a
        ``cache`` (from :meth:`new_cache`), ``idx`` holds only the tokens after those already
        cached, whose positions come from the cache; the cache is updated in place. Inputs longer
        than the context raise a ``ValueError``: cropping is the caller's choice, not the model's.
        """
        logits = self.lm_head(self.hidden_states(idx, cache))  # (B, T, vocab_size)
        if targets is None:
            return logits, None
        if targets.shape != idx.shape:
            raise ValueError(
                f"targets have shape {tuple(targets.shape)} but idx has {tuple(idx.shape)}; "
                "they must match."
            )
        return logits, next_token_loss(logits, targets, reduction)

    @torch.no_grad()
    def attention_weights(self, idx: Tensor) -> Tensor:
        """Every layer's attention weights for ``idx`` ``(B, T)``: ``(n_layer, B, n_head, T, T)``.

        Row ``i`` of a head's ``T x T`` matrix: how much token ``i`` looks at each earlier token.
        """
        x = self.embed(idx)
        maps = []
        for block in self.transformer.h:
            x, w = block(x, return_weights=True)
            maps.append(w)
        return torch.stack(maps)

    # -----------------------------------------------------------------------------------------
    # Loading GPT-2's published weights layout
    # -----------------------------------------------------------------------------------------

    # GPT-2 was written in TensorFlow with "Conv1D" layers whose weight is (in, out); nn.Linear
    # stores (out, in). These weights must be transposed when loaded.
    _CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
    # Buffers some versions of transformers save next to the weights: the causal mask, not weights.
    _GPT2_BUFFERS = (".attn.bias", ".attn.masked_bias")

    @classmethod
    def from_gpt2_state_dict(cls, state_dict: dict[str, Tensor], config: GPTConfig) -> GPT:
        """Build a GPT for ``config`` and load weights stored in GPT-2's Hugging Face layout.

        Accepts the keys of ``GPT2LMHeadModel`` (``transformer.wte.weight``, ``lm_head.weight``,
        ...) or of ``GPT2Model`` (``wte.weight``, ``h.0.attn.c_attn.weight``, ...). Conv1D weights
        are transposed. ``lm_head.weight``, if present, must equal the token embedding (GPT-2 ties
        them).
        Raises :class:`StateDictMismatchError` listing every missing key, unexpected key and shape
        difference.
        """
        model = cls(config)
        own = model.state_dict()
        own.pop("lm_head.weight")  # tied to transformer.wte.weight
        converted: dict[str, Tensor] = {}
        unexpected: list[str] = []
        lm_head = None
        for key, value in state_dict.items():
            name = (
                key
                if key.startswith("transformer.") or key == "lm_head.weight"
                else "transformer." + key
            )
            if name == "lm_head.weight":
                lm_head = value
                continue
            if name.endswith(cls._GPT2_BUFFERS):
                continue
            if name not in own:
                unexpected.append(key)
                continue
            if name.endswith(cls._CONV1D) and value.dim() == 2:
                value = value.t()
            converted[name] = value

        missing = sorted(set(own) - set(converted))
        shapes = [
            f"{name}: checkpoint {tuple(value.shape)}, model {tuple(own[name].shape)}"
            + (" (Conv1D weight, compared after transposing)" if name.endswith(cls._CONV1D) else "")
            for name, value in converted.items()
            if value.shape != own[name].shape
        ]
        problems = []
        if missing:
            problems.append("missing keys: " + ", ".join(missing))
        if unexpected:
            problems.append("unexpected keys: " + ", ".join(sorted(unexpected)))
        if shapes:
            problems.append("shape mismatches: " + "; ".join(shapes))
        if problems:
            raise StateDictMismatchError(
                f"The state dict does not fit GPT({config}).\n  "
                + "\n  ".join(problems)
                + "\nCheck that the config (vocab_size, context, n_layer, n_head, d_model, bias) "
                "matches the checkpoint."
            )
        wte = converted["transformer.wte.weight"]
        if lm_head is not None and (
            lm_head.shape != wte.shape or not torch.equal(lm_head.to(wte.dtype), wte)
        ):
            raise StateDictMismatchError(
                "lm_head.weight differs from transformer.wte.weight, but this GPT ties the "
                "unembedding to the "
                "token embedding (as GPT-2 does); it cannot hold an untied checkpoint."
            )
        with torch.no_grad():
            for name, value in converted.items():
                own[name].copy_(value)
        return model
