"""The book's exercises, one module per chapter, found by name.

A chapter's module is ``chNN`` (``ch05`` for chapter 05) or, for an appendix, its id in lower case
(``a1``). It defines ``EXERCISES``: a tuple of :class:`gptbook.exercises.Exercise`, easiest first,
with ids ``"NN.1"``, ``"NN.2"``, ... To add exercises to a new chapter (11, A1), add its module:
the checker, :func:`gptbook.exercises.show_solution` and ``tests/test_exercises.py`` pick it up.
Heavy imports (data, models) stay inside the functions that need them, so loading the bank is cheap.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from functools import cache

from gptbook.exercises import Exercise

MODULE = re.compile(r"^(ch(?P<num>\d\d)|(?P<app>a\d+))$")


def chapter_of(module_name: str) -> str | None:
    """The chapter id a bank module holds (``ch05`` -> ``"05"``, ``a1`` -> ``"A1"``), or None."""
    m = MODULE.match(module_name)
    if m is None:
        return None
    return m["num"] or m["app"].upper()


@cache
def all_exercises() -> dict[str, Exercise]:
    """Every exercise of the bank by id, in chapter order, each chapter easiest first."""
    import gptbook.exercise_bank as bank

    found: dict[str, Exercise] = {}
    for info in sorted(pkgutil.iter_modules(bank.__path__), key=lambda i: (i.name.startswith("a"), i.name)):
        chapter = chapter_of(info.name)
        if chapter is None:
            continue
        module = importlib.import_module(f"{bank.__name__}.{info.name}")
        for n, ex in enumerate(module.EXERCISES, start=1):
            want = f"{chapter}.{n}"
            if ex.id != want:
                raise ValueError(
                    f"{module.__name__}: exercise {n} has id {ex.id!r}; number them {want!r}, "
                    "in order, so the ids match the module."
                )
            found[ex.id] = ex
    return found
