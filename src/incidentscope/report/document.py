"""A small document model: headings, paragraphs, tables, lists, charts.

The postmortem (`report.md`, `report.html`) and the regulator report (`regulator.*`) are
built once as a list of blocks; `markdown.py`, `html.py` and the PDF writer in
`regulator.py` only lay them out, so every format says the same thing.

Text in the model is safe to lay out once it is in a block: every block normalizes its
text when it is made (`__post_init__`), so no renderer ever sees a control character.

- A heading, a table cell and a chart's text are one line: every control character
  (C0, DEL, C1), line and paragraph separator (U+2028, U+2029), bidirectional
  embedding, override, isolate or mark, invisible character (soft hyphen, zero-width
  space, word joiner, BOM) and lone surrogate is shown as a visible escape (`\\r`, `\\n`,
  `\\t`, `\\x00`, `\\u2028`), so a campaign name holding a bare CR stays one cell and
  shows that it holds one.
- A paragraph or a list item is prose (free text from the incident file): a line break
  or a tab is a space, any other such character a visible escape.

Each renderer still escapes its own syntax (Markdown metacharacters, HTML, rich markup).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Characters that could end a line, move the cursor, reorder text or break an encoder, and
# invisible ones that would make two different ids look the same (soft hyphen, zero-width
# space, directional marks, word joiner, invisible operators, BOM, annotation marks). The
# zero-width (non-)joiners stay: scripts and emoji need them.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\xad\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064"
                     "\u2066-\u2069\ufeff\ufff9-\ufffb\ud800-\udfff]")
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
# Line breaks (CRLF as one), vertical tab, form feed, NEL, LS, PS, and tabs: prose spacing.
_PROSE_BREAKS = re.compile("\r\n|[\r\n\t\x0b\x0c\x85\u2028\u2029]")


def _escape_char(match: re.Match[str]) -> str:
    char = match.group(0)
    code = ord(char)
    return _SHORT.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def printable(text: str) -> str:
    """One line of text with every control character shown as a visible escape."""
    return _UNSAFE.sub(_escape_char, text)


def prose(text: str) -> str:
    """Free text: line breaks and tabs become spaces, other control characters escapes."""
    return printable(_PROSE_BREAKS.sub(" ", text))


def _set(block: object, name: str, value: object) -> None:
    object.__setattr__(block, name, value)  # frozen dataclasses: normalized once, here


@dataclass(frozen=True)
class Heading:
    level: int
    text: str

    def __post_init__(self) -> None:
        _set(self, "text", printable(str(self.text)))


@dataclass(frozen=True)
class Para:
    text: str
    strong: bool = False

    def __post_init__(self) -> None:
        _set(self, "text", prose(str(self.text)))


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]

    def __post_init__(self) -> None:
        _set(self, "items", tuple(prose(str(item)) for item in self.items))


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...] = ()  # right-aligned columns; default: all but the first

    def __post_init__(self) -> None:
        _set(self, "header", tuple(printable(str(cell)) for cell in self.header))
        _set(self, "rows", tuple(tuple(printable(str(cell)) for cell in row)
                                 for row in self.rows))

    def right(self, column: int) -> bool:
        return self.numeric[column] if self.numeric else column > 0


@dataclass(frozen=True)
class Chart:
    name: str  # a key of charts.CHARTS
    alt: str

    def __post_init__(self) -> None:
        _set(self, "alt", printable(str(self.alt)))


Block = Heading | Para | Bullets | Table | Chart
