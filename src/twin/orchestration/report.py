"""Self-contained HTML reports: text, tables and PNG figures in one file.

Figures are written as PNG files next to the report and embedded in it
as data URIs, so the HTML opens anywhere without its folder.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path

from twin.orchestration.numbers import format_number, scale_of
from twin.orchestration.plots import plt

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{border-bottom:2px solid #2a6;padding-bottom:.2em} h2{margin-top:2em;color:#164}
table{border-collapse:collapse;margin:1em 0;font-size:.92em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right} th{background:#eef5ee}
td:first-child,th:first-child{text-align:left} figure{margin:1em 0}
figcaption{font-size:.9em;color:#555} img{max-width:100%} .meta{color:#666;font-size:.85em}
"""


class HtmlReport:
    """Builds one HTML page in a folder; figures are also kept there as PNG."""

    def __init__(self, title: str, folder: str | Path):
        self.title = title
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._parts: list[str] = []
        self.figures: list[Path] = []

    def heading(self, text: str, level: int = 2) -> None:
        """A section heading."""
        self._parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def paragraph(self, text: str) -> None:
        """A paragraph of plain text."""
        self._parts.append(f"<p>{html.escape(text)}</p>")

    def table(self, header: Sequence[str], rows: Sequence[Sequence[object]],
              caption: str = "", scales: Sequence[float | None] | None = None) -> None:
        """A table; numbers are formatted by :func:`~twin.orchestration.numbers.format_number`.

        A number prints as 0 when it is negligible against the scale of its
        column: ``scales[j]`` when given (e.g. the variable's range), else
        the largest magnitude in the column.
        """
        columns = list(zip(*rows)) if rows else []
        col_scales = [(scales[j] if scales is not None and j < len(scales)
                       and scales[j] is not None else scale_of(col))
                      for j, col in enumerate(columns)]

        def cell(j: int, v: object) -> str:
            if isinstance(v, numbers.Integral) and not isinstance(v, bool):
                return html.escape(format_number(int(v), col_scales[j]))
            if isinstance(v, numbers.Real):
                return html.escape(format_number(float(v), col_scales[j]))
            return html.escape(str(v))

        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{cell(j, v)}</td>" for j, v in enumerate(row))
                       + "</tr>" for row in rows)
        cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
        self._parts.append(f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def mapping_table(self, values: Mapping[str, object], caption: str = "",
                      header: Sequence[str] = ("quantity", "value")) -> None:
        """A two-column table from a mapping; each value is formatted on its own.

        The values are different quantities: none is rounded to 0 against another.
        """
        self.table(header, list(values.items()), caption, scales=[0.0, 0.0])

    def mark(self) -> int:
        """A position in the page, for :meth:`move`."""
        return len(self._parts)

    def move(self, since: int, to: int) -> None:
        """Move everything added since the mark ``since`` to the mark ``to`` (``to <= since``)."""
        moved = self._parts[since:]
        del self._parts[since:]
        self._parts[to:to] = moved

    def figure(self, fig: "plt.Figure", name: str, caption: str = "") -> Path:
        """Save ``fig`` as ``name.png`` in the folder and embed it."""
        path = self.folder / f"{name}.png"
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110)
        plt.close(fig)
        data = buffer.getvalue()
        path.write_bytes(data)
        self.figures.append(path)
        self.image(path, caption)
        return path

    def image(self, path: str | Path, caption: str = "") -> None:
        """Embed an existing PNG file."""
        data = Path(path).read_bytes()
        uri = "data:image/png;base64," + base64.b64encode(data).decode()
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self._parts.append(f'<figure><img src="{uri}" alt="{html.escape(Path(path).stem)}">{cap}'
                           f'</figure>')

    def link(self, text: str, target: str) -> None:
        """A paragraph with a link (relative to the report's folder)."""
        self._parts.append(f'<p><a href="{html.escape(target)}">{html.escape(text)}</a></p>')

    def write(self, filename: str = "report.html") -> Path:
        """Write the page and return its path."""
        stamp = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        page = (
            f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style></head><body>"
            f"<h1>{html.escape(self.title)}</h1><p class='meta'>Generated {stamp}</p>"
            + "\n".join(self._parts) + "</body></html>"
        )
        path = self.folder / filename
        path.write_text(page, encoding="utf-8")
        return path
