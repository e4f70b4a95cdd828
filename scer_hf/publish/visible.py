"""What a person reads in each output, as lines of text, so ``verify`` can compare it with a re-rendering.

``verify`` does not check a list of chosen fields: it renders the output again from the report (the same
function that wrote it: :func:`scer_hf.publish.label.make_label`, :func:`scer_hf.publish.card.content
.render_section`, :func:`scer_hf.publish.html.render_html`) and compares the visible lines. A line added to
any output later is checked with no change here.

* :func:`svg_lines`: a label's drawing. Texts on one baseline make one line (left to right); the stars are
  drawn shapes, read as ``★``/``☆`` from their fill; every box's colour and the QR code (by a hash of its
  path) are lines too, so a recoloured grade tile or a swapped QR code is seen. ``<metadata>`` is machine data
  (checked field by field elsewhere), not a visible line.
* :func:`html_lines`: the text of an HTML page, one line per block (paragraph, list item, table row with its
  cells joined by ``|``, heading, caption, SVG text), whitespace collapsed; styles and scripts skipped.
* :func:`markdown_lines`: the lines of a card's SCER section.

Publish layer; standard library only.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

__all__ = ["svg_lines", "html_lines", "markdown_lines"]

_WS = re.compile(r"\s+")
STAR_FILL = "#92400e"  # scer_hf.publish.label.PALETTE["star"]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _f(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return 0.0


def _ten_points(points: str) -> list[list[str]] | None:
    """A polygon's ``x,y`` pairs when it has ten (a star's outline), else None."""
    pts = [p.split(",") for p in points.split()]
    return pts if len(pts) == 10 and all(len(p) == 2 for p in pts) else None


def _star(el: ET.Element) -> tuple[float, float, str] | None:
    """A 10-point polygon (a label star): (centre x, centre y, glyph)."""
    pts = _ten_points(el.get("points") or "")
    if pts is None:
        return None
    xs, ys = [_f(p[0]) for p in pts], [_f(p[1]) for p in pts]
    glyph = "\u2605" if (el.get("fill") or "").lower() == STAR_FILL else "\u2606"
    return sum(xs) / 10, sum(ys) / 10 + 4, glyph  # + 4: on the baseline of the text beside the stars


_Placed = str | tuple[float, float, str] | None


def _caption(el: ET.Element) -> str:
    """A title or description: a line of its own."""
    return f"{_local(el.tag)}: {_WS.sub(' ', el.text or '').strip()}"


def _text_at(el: ET.Element) -> tuple[float, float, str]:
    return _f(el.get("x")), _f(el.get("y")), "".join(el.itertext())


def _box(el: ET.Element) -> tuple[float, float, str] | None:
    """A coloured box (a grade band), left of the row's text; a white one is background, not seen."""
    if el.get("fill") in (None, "#ffffff", "#fff"):
        return None
    return _f(el.get("x")) - 1000, _f(el.get("y")), f"[box {el.get('fill')}]"


def _qr(el: ET.Element) -> str | None:
    """A path (the QR code) as a line naming its shape's hash; nothing when it draws nothing."""
    d = el.get("d")
    return f"[QR code {hashlib.sha256(d.encode()).hexdigest()[:12]}]" if d else None


#: what a person sees of each kind of SVG element (the others: nothing)
_PLACERS: dict[str, Callable[[ET.Element], _Placed]] = {
    "title": _caption, "desc": _caption, "text": _text_at, "polygon": _star, "rect": _box, "path": _qr}


def _placed(el: ET.Element) -> _Placed:
    """What a person sees of one SVG element: a line of its own, a text at (x, y, text), or nothing."""
    placer = _PLACERS.get(_local(el.tag))
    return placer(el) if placer is not None else None


def _row_line(items: list[tuple[float, str]]) -> str:
    """The texts drawn on one row, left to right (stars joined to the text after them)."""
    text = "  ".join(t for _, t in sorted(items) if t)
    return text.replace("\u2605  ", "\u2605").replace("\u2606  ", "\u2606")


def svg_lines(svg: str) -> list[str]:
    """A label's visible lines (see the module doc); an SVG that does not parse gives one line saying so."""
    try:
        root = ET.fromstring(svg)
    except ET.ParseError as exc:
        return [f"unreadable SVG: {exc}"]
    lines, rows = _seen(root)
    lines += [_row_line(rows[y]) for y in sorted(rows)]
    return [ln for ln in lines if ln.strip()]


def _seen(root: ET.Element) -> tuple[list[str], dict[float, list[tuple[float, str]]]]:
    """What a person sees of the drawing: the lines of their own (title, description, QR code), and the texts
    drawn at (x, y), by row (y)."""
    rows: dict[float, list[tuple[float, str]]] = {}
    lines: list[str] = []
    for el in root.iter():
        placed = _placed(el)
        if isinstance(placed, str):
            lines.append(placed)
        elif placed is not None:  # joined with the others on its row
            x, y, text = placed
            rows.setdefault(round(y, 1), []).append((x, text))
    return lines, rows


_BLOCK = {"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "header", "footer", "figcaption", "section",
          "table", "ul", "ol", "dl", "dt", "dd", "br", "text", "title", "figure", "main", "body", "thead", "tbody"}
_SKIP = {"style", "script", "metadata"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.cur: list[str] = []
        self.skip = 0

    def flush(self) -> None:
        line = _WS.sub(" ", "".join(self.cur)).strip(" |")
        if line:
            self.lines.append(line)
        self.cur = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag in _BLOCK:
            self.flush()
        elif tag in ("td", "th"):
            self.cur.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK:
            self.flush()

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.cur.append(data)


def html_lines(html: str) -> list[str]:
    """The visible text of an HTML page, one line per block (see the module doc)."""
    p = _Text()
    p.feed(html)
    p.close()
    p.flush()
    return p.lines


def markdown_lines(text: str) -> list[str]:
    """The non-blank lines of a markdown section, trailing spaces and line-ending style ignored."""
    return [ln.rstrip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n") if ln.strip()]
