"""The selection's steps and the C++ text they hold (a leaf: imports nothing of the package)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_IDENTIFIER = re.compile(r"(?<![\w:.])([A-Za-z_]\w*)\b(?!\s*::)")
_STRING = re.compile(r'"(?:\\.|[^"\\])*"')


def identifiers(expression: str) -> list[str]:
    """The free identifiers of a C++ expression in order of appearance (not after ``::`` or ``.``, not a
    namespace, not inside a string literal)."""
    found: list[str] = []
    for name in _IDENTIFIER.findall(_STRING.sub('""', expression)):
        if name not in found:
            found.append(name)
    return found


def rename(expression: str, names: dict[str, str]) -> str:
    """The expression with the free identifiers of ``names`` replaced (columns renamed)."""
    if not names:
        return expression
    return _IDENTIFIER.sub(lambda m: names.get(m.group(1), m.group(1)), expression)


@dataclass(frozen=True)
class Define:
    """A column computed from others: ``name = expression``."""

    name: str
    expression: str


@dataclass(frozen=True)
class Filter:
    """An event filter: ``expression`` is true for the events kept; ``name`` is what RDataFrame reports."""

    name: str
    expression: str
