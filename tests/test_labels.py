"""Scatter labels that do not overlap: close points get separated labels, and overlaps are counted."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from gptbook.labels import overlaps, place_labels  # noqa: E402


def crowded() -> np.ndarray:
    # italy and spain, china and japan: pairs of points almost on top of each other
    return np.array([[0.0, 0.0], [0.01, 0.0], [1.0, 1.0], [1.0, 1.01], [0.5, 0.5]])


def test_naive_labels_overlap_placed_labels_do_not():
    names = ["italy", "spain", "china", "japan", "egypt"]
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.scatter(*crowded().T)
    naive = [ax.annotate(n, p) for n, p in zip(names, crowded())]
    assert overlaps(naive) >= 1
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.scatter(*crowded().T)
    placed = place_labels(ax, crowded(), names, fontsize=9, colors=["r"] * 5)
    assert len(placed) == 5 and [t.get_text() for t in placed] == names
    assert overlaps(placed) == 0
    assert [t.get_color() for t in placed] == ["r"] * 5
    plt.close(fig)


def test_one_point_per_label_is_required():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="one \\(x, y\\) row per label"):
        place_labels(ax, np.zeros((3, 2)), ["a", "b"])
    plt.close(fig)
    assert overlaps([]) == 0
