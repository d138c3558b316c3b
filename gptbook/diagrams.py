"""Diagrams drawn with matplotlib: the shapes inside multi-head attention, and the decoder block.

A picture of shapes teaches what a paragraph of ``(B, T, d)`` cannot. Both functions draw boxes
and arrows only (no data), return the figure, and write the sizes they are given on the boxes, so
a chapter can draw them with its own numbers:

* :func:`attention_shapes_figure` follows one sequence of ``T`` tokens through GPT-2's multi-head
  attention (chapter 05): the fused projection ``c_attn``, the cut into queries, keys and values,
  the cut of each into ``n_head`` heads of ``d_model // n_head`` columns, one head's scores and
  weights, and the heads glued back together and mixed by ``c_proj``. Matrices are drawn to scale:
  one small square per number.
* :func:`block_figure` draws the residual stream running up through a stack of pre-norm decoder
  blocks (chapter 06): each attention and MLP reads a normalised copy of the stream and adds its
  result back.
"""

from __future__ import annotations

from typing import Any

HEAD_COLOURS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b2", "#937860", "#da8bc3", "#8c8c8c"]


def _check_shapes(T: int, d_model: int, n_head: int) -> None:
    for name, value in (("T", T), ("d_model", d_model), ("n_head", n_head)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if d_model % n_head:
        raise ValueError(
            f"d_model={d_model} is not divisible by n_head={n_head}: each head needs an equal "
            "slice of the columns. Choose n_head so that d_model % n_head == 0."
        )
    if n_head > len(HEAD_COLOURS) or T > 12 or d_model > 32:
        raise ValueError(
            "The diagram draws one square per number: use a small example "
            f"(T <= 12, d_model <= 32, n_head <= {len(HEAD_COLOURS)}), got T={T}, "
            f"d_model={d_model}, n_head={n_head}."
        )


def _matrix(ax: Any, x: float, y: float, rows: int, cols: int, s: float, colours: list[str],
            label: str, below: str, lower_triangle: bool = False) -> tuple[float, float, float, float]:
    """A ``rows x cols`` matrix with its top-left corner at (x, y), one ``s x s`` square per
    number; ``colours`` are equal groups of columns. Returns (left, right, top, bottom)."""
    from matplotlib.patches import Rectangle

    group = cols // len(colours)
    for r in range(rows):
        for c in range(cols):
            if lower_triangle and c > r:
                face, alpha = "white", 1.0
            else:
                face, alpha = colours[min(c // group, len(colours) - 1)], 0.75
            ax.add_patch(Rectangle((x + c * s, y - (r + 1) * s), s, s, facecolor=face, alpha=alpha,
                                   edgecolor="white", linewidth=0.4))
    ax.add_patch(Rectangle((x, y - rows * s), cols * s, rows * s, fill=False, edgecolor="black",
                           linewidth=0.8))
    ax.text(x + cols * s / 2, y + 0.25, label, ha="center", va="bottom", fontsize=9,
            fontweight="bold")
    ax.text(x + cols * s / 2, y - rows * s - 0.25, below, ha="center", va="top", fontsize=8)
    return x, x + cols * s, y, y - rows * s


def _arrow(ax: Any, start: tuple[float, float], end: tuple[float, float], text: str = "",
           offset: tuple[float, float] = (0.0, 0.3), **text_kw: Any) -> None:
    ax.annotate("", xy=end, xytext=start,
                arrowprops={"arrowstyle": "->", "color": "black", "linewidth": 1.0})
    if text:
        mid = ((start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1])
        ax.text(*mid, text, ha="center", va="bottom", fontsize=8, **text_kw)


def attention_shapes_figure(T: int = 6, d_model: int = 16, n_head: int = 4) -> Any:
    """The shapes of multi-head attention for one sequence, drawn to scale (see the module)."""
    import matplotlib.pyplot as plt

    _check_shapes(T, d_model, n_head)
    d, hs, s = d_model, d_model // n_head, 0.28
    heads = HEAD_COLOURS[:n_head]
    grey, q_col, k_col, v_col = "#9e9e9e", "#4c72b0", "#dd8452", "#55a868"  # Q, K, V: three colours
    fig, ax = plt.subplots(figsize=(13, 6.6))

    # row 1: x -> c_attn -> (T, 3d), cut into Q | K | V
    top = 11.0
    x0 = _matrix(ax, 0.5, top, T, d, s, [grey], "x: the tokens' vectors", f"({T}, {d}) = (T, d_model)")
    qkv_left = x0[1] + 3.2
    qkv = _matrix(ax, qkv_left, top, T, 3 * d, s, [q_col, k_col, v_col],
                  "c_attn(x): queries | keys | values of all heads", f"({T}, {3 * d}) = (T, 3·d_model)")
    _arrow(ax, (x0[1] + 0.2, top - T * s / 2), (qkv_left - 0.2, top - T * s / 2),
           f"c_attn\n({d} → {3 * d})")

    # row 2: Q, K, V, each cut into n_head heads of hs columns
    mid = top - T * s - 2.4
    parts = []
    for i, name in enumerate("QKV"):
        left = 0.5 + i * (d * s + 2.0)
        parts.append(_matrix(ax, left, mid, T, d, s, heads, f"{name}: split into {n_head} heads",
                             f"({T}, {d}); head h = columns {hs}h .. {hs}h+{hs - 1}"))
        src = (qkv_left + (i + 0.5) * d * s, qkv[3] - 0.75)  # below the shape label
        _arrow(ax, src, (left + d * s / 2, mid + 0.75))
    ax.text(parts[2][1] + 0.6, mid - T * s / 2,
            f"view(T, {n_head}, {hs}).transpose:\n{n_head} heads × ({T}, {hs})\neach head works on "
            f"its own {hs}\nof the {d} columns", fontsize=8, va="center")

    # row 3: one head (head 0) in detail, the heads glued back, c_proj
    low = mid - T * s - 2.6
    h = heads[0]
    qh = _matrix(ax, 0.5, low, T, hs, s, [h], "head 0:\nQ", f"({T}, {hs})")
    kt = _matrix(ax, qh[1] + 1.4, low, hs, T, s, [h], "head 0:\nKᵀ", f"({hs}, {T})")
    ax.text(qh[1] + 0.7, low - T * s / 2, "@", ha="center", va="center", fontsize=12)
    sc = _matrix(ax, kt[1] + 2.8, low, T, T, s, [h], "head 0:\nweights", f"({T}, {T}) = (T, T)",
                 lower_triangle=True)
    _arrow(ax, (kt[1] + 0.2, low - T * s / 2), (sc[0] - 0.2, low - T * s / 2),
           f"/ √{hs}, mask,\nsoftmax")
    vh = _matrix(ax, sc[1] + 1.4, low, T, hs, s, [h], "head 0:\nV", f"({T}, {hs})")
    ax.text(sc[1] + 0.7, low - T * s / 2, "@", ha="center", va="center", fontsize=12)
    out_h = _matrix(ax, vh[1] + 2.0, low, T, hs, s, [h], "head 0:\noutput", f"({T}, {hs})")
    _arrow(ax, (vh[1] + 0.2, low - T * s / 2), (out_h[0] - 0.2, low - T * s / 2), "=")
    glued = _matrix(ax, out_h[1] + 3.0, low, T, d, s, heads, f"{n_head} heads glued",
                    f"({T}, {d}): transpose, reshape")
    _arrow(ax, (out_h[1] + 0.2, low - T * s / 2), (glued[0] - 0.2, low - T * s / 2),
           f"all {n_head} heads,\nside by side")
    y_out = _matrix(ax, glued[1] + 2.4, low, T, d, s, [grey], "output", f"({T}, {d}) = (T, d_model)")
    _arrow(ax, (glued[1] + 0.2, low - T * s / 2), (y_out[0] - 0.2, low - T * s / 2),
           f"c_proj\n({d} → {d})")
    ax.text(0.5, low - T * s - 1.3,
            f"Every head does the same as head 0 with its own {hs} columns of Q, K and V, at the "
            f"same time: the {n_head} heads are one batched matrix product of shape "
            f"({n_head}, {T}, {T}).", fontsize=8.5)

    ax.set_xlim(0, max(y_out[1], qkv[1]) + 0.5)
    ax.set_ylim(low - T * s - 1.6, top + 0.8)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"Multi-head attention, shapes to scale: T = {T} tokens, d_model = {d}, "
                 f"{n_head} heads of {hs} (one square = one number)", fontsize=11)
    fig.tight_layout()
    return fig


def _box(ax: Any, x: float, y: float, w: float, h: float, text: str, colour: str) -> None:
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.05",
                                facecolor=colour, edgecolor="black", linewidth=0.8, alpha=0.9))
    ax.text(x, y, text, ha="center", va="center", fontsize=9)


def _plus(ax: Any, x: float, y: float) -> None:
    from matplotlib.patches import Circle

    ax.add_patch(Circle((x, y), 0.22, facecolor="white", edgecolor="black", linewidth=1.0, zorder=3))
    ax.text(x, y, "+", ha="center", va="center", fontsize=11, zorder=4)


def block_figure(n_layer: int = 12) -> Any:
    """A pre-norm decoder block on the residual stream, and the stack of ``n_layer`` of them."""
    import matplotlib.pyplot as plt

    if not isinstance(n_layer, int) or isinstance(n_layer, bool) or n_layer < 1:
        raise ValueError(f"n_layer must be a positive integer, got {n_layer!r}.")
    fig, ax = plt.subplots(figsize=(8.5, 9))
    stream_x, side_x = 2.0, 5.6
    arrow = {"arrowstyle": "->", "color": "black", "linewidth": 1.0}
    stream = {"arrowstyle": "->", "color": "#4c72b0", "linewidth": 3.0}

    _box(ax, stream_x, 0.5, 4.2, 0.7, "token embedding + position embedding\n(wte[id] + wpe[pos])",
         "#e8e8e8")
    _box(ax, stream_x, 11.3, 3.4, 0.7, "final layer norm ln_f,\nthen lm_head: logits", "#e8e8e8")
    plus_attn, plus_mlp = 4.1, 7.8
    ax.annotate("", xy=(stream_x, plus_attn - 0.25), xytext=(stream_x, 0.9), arrowprops=stream)
    ax.annotate("", xy=(stream_x, plus_mlp - 0.25), xytext=(stream_x, plus_attn + 0.25),
                arrowprops=stream)
    ax.annotate("", xy=(stream_x, 10.9), xytext=(stream_x, plus_mlp + 0.25), arrowprops=stream)
    _plus(ax, stream_x, plus_attn)
    _plus(ax, stream_x, plus_mlp)

    for plus_y, norm, part, colour, note in (
        (plus_attn, "ln_1", "attention\n(tokens talk)", "#f4c7a1", "reads earlier tokens"),
        (plus_mlp, "ln_2", "MLP\n(each token thinks)", "#b9dfc0", "each token on its own"),
    ):
        branch_y = plus_y - 2.2
        ax.annotate("", xy=(side_x - 1.0, branch_y), xytext=(stream_x, branch_y),
                    arrowprops=arrow)  # a copy of the stream leaves to the side
        _box(ax, side_x, branch_y, 1.8, 0.55, f"layer norm {norm}", "#dfe7f2")
        _box(ax, side_x, branch_y + 1.2, 1.8, 0.8, part, colour)
        ax.annotate("", xy=(side_x, branch_y + 0.75), xytext=(side_x, branch_y + 0.3),
                    arrowprops=arrow)
        ax.plot([side_x, side_x], [branch_y + 1.65, plus_y], color="black", linewidth=1.0)
        ax.annotate("", xy=(stream_x + 0.25, plus_y), xytext=(side_x, plus_y), arrowprops=arrow)
        ax.text((stream_x + side_x) / 2, plus_y + 0.08, "added back", fontsize=8, ha="center",
                va="bottom")
        ax.text(side_x + 1.05, branch_y + 1.2, note, fontsize=8, va="center", style="italic")

    ax.text(stream_x - 0.3, 6.0, "the residual\nstream\n(T, d_model):\nnever replaced,\nonly added to",
            ha="right", va="center", fontsize=9, color="#4c72b0")
    ax.plot([-0.6, -0.6], [1.5, 8.3], color="black", linewidth=1.0)
    for y in (1.5, 8.3):
        ax.plot([-0.6, -0.4], [y, y], color="black", linewidth=1.0)
    ax.text(-0.75, 4.9, f"one block,\nrepeated\n× {n_layer}", ha="right", va="center", fontsize=10,
            fontweight="bold")
    ax.text(side_x - 1.1, 9.6, "x = x + attention(ln_1(x))\nx = x + mlp(ln_2(x))",
            fontsize=9, family="monospace", va="top")
    ax.set_xlim(-2.6, 8.4)
    ax.set_ylim(0.0, 11.9)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"A GPT: {n_layer} pre-norm decoder blocks on one residual stream", fontsize=11)
    fig.tight_layout()
    return fig
