"""HTML pieces of the report and the page that holds them, with its CSS and JS inlined."""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources

from genomekit.report.svg import esc


@dataclass
class Section:
    """One section of the page: ``key`` becomes its element id, for links and for tests."""

    key: str
    title: str
    body: str
    sources: list[str] = field(default_factory=list)


def legend(items: Sequence[tuple[str, str]], *, ring: str | None = None) -> str:
    """Coloured swatches with labels; ``ring`` adds the label of the red-outlined marker."""
    parts = [f'<span class="key"><i style="background:{color}"></i>{esc(label)}</span>'
             for label, color in items]
    if ring:
        parts.append(f'<span class="key"><i class="ring"></i>{esc(ring)}</span>')
    return f'<div class="legend">{"".join(parts)}</div>'


def figure(svg: str, caption: str = "", key_html: str = "") -> str:
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f'<figure class="plot">{svg}{key_html}{cap}</figure>'


def figures(items: Sequence[str]) -> str:
    return f'<div class="figures">{"".join(items)}</div>'


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, key: str,
          row_attrs: Sequence[str] | None = None, numeric: Sequence[bool] | None = None,
          sortable: bool = True) -> str:
    """A table of already-escaped cells; ``numeric`` columns align right and sort as numbers."""
    numeric = numeric or [False] * len(headers)
    head = "".join(f'<th{" class=num" if n else ""}>{esc(h)}</th>'
                   for h, n in zip(headers, numeric))
    body = []
    for i, row in enumerate(rows):
        attrs = f" {row_attrs[i]}" if row_attrs else ""
        cells = "".join(f'<td{" class=num" if n else ""}>{c}</td>' for c, n in zip(row, numeric))
        body.append(f"<tr{attrs}>{cells}</tr>")
    cls = "data sortable" if sortable else "data"
    return (f'<div class="table-wrap"><table class="{cls}" id="{esc(key)}"><thead><tr>{head}'
            f'</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def cards(items: Sequence[tuple[str, str, str]]) -> str:
    """Headline numbers: (value, label, detail) each."""
    parts = [f'<div class="card"><div class="value">{esc(v)}</div><div class="label">'
             f'{esc(label)}</div><div class="detail">{esc(detail)}</div></div>'
             for v, label, detail in items]
    return f'<div class="cards">{"".join(parts)}</div>'


def _asset(name: str) -> str:
    return resources.files("genomekit.report").joinpath(name).read_text(encoding="utf-8")


def page(title: str, sections: Sequence[Section], *, meta: str) -> str:
    """The whole document: every byte of CSS and JS inline, so it opens with no network."""
    body = []
    for s in sections:
        src = ""
        if s.sources:
            src = ('<p class="sources">From ' + ", ".join(f"<code>{esc(p)}</code>"
                                                           for p in s.sources) + "</p>")
        body.append(f'<section id="{esc(s.key)}" class="report-section"><h2>{esc(s.title)}</h2>'
                    f"{src}{s.body}</section>")
    script = _asset("static/report.js")
    # A literal "</script" inside the script would end the element early.
    if "</script" in script.lower():
        raise ValueError("report.js must not contain '</script'")
    return string.Template(_asset("templates/report.html")).substitute(
        title=esc(title), css=_asset("static/report.css"), js=script, meta=meta,
        sections="\n".join(body))
