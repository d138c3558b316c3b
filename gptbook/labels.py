"""Text labels on a scatter plot that do not overlap each other or the points.

Matplotlib puts a label exactly where it is told, so two points close together (italy and spain in
a PCA picture) get labels printed on top of each other. :func:`place_labels` tries a few offsets
around each point, in display pixels, and keeps the first one whose box touches no label placed
before it and no marker; :func:`overlaps` counts the pairs of labels that still overlap, so a
chapter can print (and assert) that the picture is readable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

# offsets in points (1/72 inch) from the point to the label's anchor, tried in this order
_OFFSETS = [(4, 4), (4, -10), (-4, 4), (-4, -10), (6, -3), (-6, -3), (0, 9), (0, -15)]
_RINGS = (1.0, 2.0, 3.0, 4.5)


def _box(text: Any, renderer: Any) -> Any:
    return text.get_window_extent(renderer=renderer).expanded(1.02, 1.05)


def place_labels(
    ax: Any, xy: np.ndarray, labels: Sequence[str], marker_px: float = 4.0, **text_kw: Any
) -> list[Any]:
    """Write ``labels[i]`` next to point ``xy[i]`` on ``ax`` so that no two labels overlap and no
    label covers a point, when some tried offset allows it (else the first offset is kept).

    ``text_kw`` goes to :meth:`matplotlib.axes.Axes.annotate` (``fontsize``, ``color``; a list of
    colours, one per label, is accepted as ``colors``). Returns the text objects."""
    xy = np.asarray(xy, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) != len(labels):
        raise ValueError(
            f"place_labels needs one (x, y) row per label: got {xy.shape} points and "
            f"{len(labels)} labels."
        )
    colors = text_kw.pop("colors", None)
    fig = ax.figure
    fig.canvas.draw()  # settle the axis limits first: autoscaling is lazy, and labels sit on data points
    renderer = fig.canvas.get_renderer()
    points_px = ax.transData.transform(xy)
    placed: list[Any] = []
    boxes: list[Any] = []
    for i, label in enumerate(labels):
        kw = dict(text_kw)
        if colors is not None:
            kw["color"] = colors[i]
        best = None
        for ring in _RINGS:
            for dx, dy in _OFFSETS:
                text = ax.annotate(label, xy[i], xytext=(dx * ring, dy * ring),
                                   textcoords="offset points", **kw)
                box = _box(text, renderer)
                hits_label = any(box.overlaps(b) for b in boxes)
                hits_point = any(
                    box.x0 - marker_px < px < box.x1 + marker_px
                    and box.y0 - marker_px < py < box.y1 + marker_px
                    for px, py in points_px
                )
                if not hits_label and not hits_point:
                    best = (text, box)
                    break
                text.remove()
            if best is not None:
                break
        if best is None:  # crowded everywhere: keep the first offset
            text = ax.annotate(label, xy[i], xytext=_OFFSETS[0], textcoords="offset points", **kw)
            best = (text, _box(text, renderer))
        placed.append(best[0])
        boxes.append(best[1])
    return placed


def overlaps(texts: Sequence[Any]) -> int:
    """How many pairs of the given text objects overlap on the drawn figure (call it before
    ``plt.show()``, which closes the figure)."""
    if not texts:
        return 0
    canvas = texts[0].figure.canvas
    if not hasattr(canvas, "get_renderer"):
        raise ValueError("This figure was already shown and closed: count overlaps before plt.show().")
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = [t.get_window_extent(renderer=renderer) for t in texts]
    return sum(int(boxes[i].overlaps(boxes[j])) for i in range(len(boxes)) for j in range(i + 1, len(boxes)))
