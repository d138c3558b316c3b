"""Shakespeare as character ids, for the exercises' small experiments (computed once, cached)."""

from __future__ import annotations

from functools import cache

import torch

from gptbook.tokenizers import CharTokenizer


@cache
def char_data() -> tuple[CharTokenizer, torch.Tensor, torch.Tensor]:
    """The book's character tokenizer and the training and validation text as id tensors
    (the fixed split of :func:`gptbook.data.shakespeare_split`)."""
    from gptbook.data import shakespeare_split

    train_text, val_text = shakespeare_split()
    tok = CharTokenizer.from_text(train_text + val_text)
    return tok, torch.tensor(tok.encode(train_text)), torch.tensor(tok.encode(val_text))
