"""The book's interactive pieces, one module per widget.

Each widget is a thin ipywidgets layer over a plain function that returns what the widget shows; the
chapters call that function once in a checked cell, so nbval tests the logic and the browser tests in
``tests/browser`` test the widget itself.
"""
