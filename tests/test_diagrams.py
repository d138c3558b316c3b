"""The diagrams of chapters 05 and 06: they carry the sizes they are given, and refuse bad ones."""

from __future__ import annotations

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from gptbook.diagrams import attention_shapes_figure, block_figure  # noqa: E402


def texts(fig) -> str:
    return "\n".join(t.get_text() for ax in fig.axes for t in ax.texts) + fig.axes[0].get_title()


def test_attention_shapes_are_written_with_the_given_sizes():
    fig = attention_shapes_figure(T=5, d_model=12, n_head=3)
    shown = texts(fig)
    assert "(5, 12) = (T, d_model)" in shown and "(5, 36) = (T, 3·d_model)" in shown
    assert "head h = columns 4h .. 4h+3" in shown  # 12 columns cut into 3 heads of 4
    assert "(5, 5) = (T, T)" in shown and "3 heads of 4" in shown
    assert "one batched matrix product of shape (3, 5, 5)" in shown
    plt.close(fig)


def test_attention_shapes_refuse_sizes_it_cannot_draw():
    with pytest.raises(ValueError, match="not divisible"):
        attention_shapes_figure(T=4, d_model=10, n_head=4)
    with pytest.raises(ValueError, match="small example"):
        attention_shapes_figure(T=64, d_model=16, n_head=4)
    with pytest.raises(ValueError, match="positive integer"):
        attention_shapes_figure(T=0)


def test_block_figure_names_its_parts_and_the_depth():
    fig = block_figure(n_layer=7)
    shown = texts(fig)
    for part in ("layer norm ln_1", "layer norm ln_2", "attention", "MLP", "× 7", "residual"):
        assert part in shown, part
    assert "7 pre-norm decoder blocks" in fig.axes[0].get_title()
    plt.close(fig)
    with pytest.raises(ValueError, match="positive integer"):
        block_figure(0)
