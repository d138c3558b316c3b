"""The book's interactive pieces, one module per widget.

Each widget is a thin ipywidgets layer over a plain function that returns what the widget shows;
the chapters call that function once in a checked cell, so nbval tests the logic and the browser
tests in ``tests/browser`` test the widget itself. Every plain function refuses bad input the same
way, by raising a ``ValueError`` subclass with a full-sentence message, and every widget shows that
message with the shared helpers of :mod:`gptbook.widgets.html` (which also labels tokens).
"""

import io
from typing import Any


def figure_png(fig: Any, dpi: int = 80) -> bytes:
    """A matplotlib figure as PNG bytes (for an ``ipywidgets.Image``); the figure is closed."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()
