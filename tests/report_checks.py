"""Reading generated HTML reports back, and the verdict computed independently of the code.

The parser is the standard library's; the verdict is computed here from the
cycle table with plain pandas, by the rule the report documents (mean of the
plant's true value over the last quarter of the cycles while the final
setpoint held; within 2 % of the setpoint).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import numpy as np
import pandas as pd


@dataclass
class Table:
    caption: str = ""
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


class _Reader(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text: list[str] = []
        self.tables: list[Table] = []
        self.headings: list[str] = []
        self._cell: list[str] | None = None
        self._in: str = ""
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self._skip += 1
        elif tag == "table":
            self.tables.append(Table())
        elif tag == "tr" and self.tables:
            self.tables[-1].rows.append([])
        elif tag in ("td", "th", "caption", "h1", "h2", "h3"):
            self._cell, self._in = [], tag

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self._skip -= 1
        elif tag in ("td", "th", "caption", "h1", "h2", "h3") and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            if tag == "th":
                self.tables[-1].header.append(text)
            elif tag == "td":
                self.tables[-1].rows[-1].append(text)
            elif tag == "caption":
                self.tables[-1].caption = text
            else:
                self.headings.append(text)
            self._cell = None

    def handle_data(self, data):
        if self._skip:
            return
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def read_report(page: str) -> _Reader:
    """The visible text, tables and headings of a report (images are attributes: not text)."""
    reader = _Reader()
    reader.feed(page)
    for t in reader.tables:
        t.rows = [r for r in t.rows if r]
    return reader


def visible_text(page: str) -> str:
    return " ".join(read_report(page).text)


def table_with(page: str, caption_part: str) -> Table:
    found = [t for t in read_report(page).tables if caption_part in t.caption]
    assert len(found) == 1, [t.caption for t in read_report(page).tables]
    return found[0]


NUMBER = re.compile(r"^(-?[\d,]*\.?\d+(?:e[+-]\d+)?)(?: (.+))?$")


def number_and_unit(cell: str) -> tuple[float, str]:
    """``'1,234.5 mol/L'`` -> (1234.5, 'mol/L')."""
    m = NUMBER.match(cell)
    assert m, f"not a number with a unit: {cell!r}"
    return float(m.group(1).replace(",", "")), m.group(2) or ""


def verdict_by_hand(frame: pd.DataFrame, cv: str) -> tuple[float, float]:
    """(final setpoint, achieved mean) of one CV, from the cycle table."""
    sp = frame[f"{cv}.setpoint"].to_numpy(dtype=float)
    final = sp[~np.isnan(sp)][-1]
    n = len(frame)
    last = frame.iloc[n - round(0.25 * n):]
    last = last[last[f"{cv}.setpoint"] == final]
    return float(final), float(last[f"{cv}.plant"].mean())
