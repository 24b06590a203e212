"""A small document model: headings, paragraphs, tables, lists, charts.

The postmortem (`report.md`, `report.html`) and the regulator report (`regulator.*`) are
built once as a list of blocks; `markdown.py`, `html.py` and the PDF writer in
`regulator.py` only lay them out, so every format says the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    text: str
    strong: bool = False


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...] = ()  # right-aligned columns; default: all but the first

    def right(self, column: int) -> bool:
        return self.numeric[column] if self.numeric else column > 0


@dataclass(frozen=True)
class Chart:
    name: str  # a key of charts.CHARTS
    alt: str


Block = Heading | Para | Bullets | Table | Chart
