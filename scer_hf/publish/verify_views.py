"""``verify`` of what people read: each output is rendered again from its report and compared line by line.

The label is re-drawn with :func:`~scer_hf.publish.label.make_label`, the card's section with
:func:`~scer_hf.publish.card.content.render_section` from the figures recomputed from the report, the HTML page
with :func:`~scer_hf.publish.html.render_html`; :mod:`scer_hf.publish.visible` turns both into lines and
:func:`~scer_hf.publish.checks.compare_lines` names every line that differs. So any line an output shows, now or
added later, is checked: a tampered headline, phase row, grade tile, star, grid or pointer fails.

A rating given with ``--rating`` must be the report's own (``RatingMismatchError`` names the field that differs);
without one, the report is rated again, as the outputs were made.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.report import Report
from ..rating.result import Rating
from .card.meta import CardBoundary, ScerBlock
from .checks import Check, check, compare_lines
from .inputs import rating_of
from .visible import html_lines, markdown_lines, svg_lines

__all__ = ["LabelMeta", "label_view_checks", "card_view_checks", "html_view_checks", "html_meta", "rating_for"]

_META = re.compile(r'<meta name="(scer-[a-z-]+|generator)" content="([^"]*)">')  # jinja escapes the values


def rating_for(rep: Report, rating: Any, rated: bool) -> Rating | None:
    """The rating an output was drawn with: the one given (bound to *rep*, or refused), else the report rated
    again when the output shows a rating, else none."""
    return rating_of(rep, rating, auto=rating is not None or rated)


@dataclass(frozen=True)
class LabelMeta:
    """What a label's ``<metadata>`` records (``label_fields`` when it was drawn), read without trusting it:
    ``fields`` as written (compared key by key with the recomputed ones), and the fields verify acts on."""

    fields: Mapping[str, Any]
    digest: object  # compared with the report's digest as written (any JSON value)
    boundary: object
    qr: object
    rated: bool  # it showed a rating: as it records it, else (older labels) whether it has a grade or stars
    layout: object  # ``scer_label``: the layout version it was drawn with (an int, or anything in a bad file)
    file_name: str | None

    @classmethod
    def of(cls, meta: Mapping[str, Any]) -> LabelMeta:
        name = meta.get("file_name")
        rated = meta.get("rated", meta.get("grade") is not None or meta.get("stars") is not None)
        return cls(fields=meta, digest=meta.get("digest"), boundary=meta.get("boundary"), qr=meta.get("qr"),
                   rated=bool(rated), layout=meta.get("scer_label"), file_name=name if isinstance(name, str) else None)

    @property
    def url(self) -> str | None:
        """The URL the label's QR code points to, when it is one (a local label has none)."""
        return self.qr if isinstance(self.qr, str) and self.qr.startswith(("http://", "https://")) else None


def label_view_checks(p: Path, svg: str, meta: LabelMeta, rep: Report, rating: Any) -> list[Check]:
    """The label's drawing against the one re-drawn from *rep* (texts, stars, boxes, QR), plus its pointer."""
    from .label import LABEL_LAYOUT, make_label  # label imports the rating layer

    layout = meta.layout
    if not isinstance(layout, int) or layout < LABEL_LAYOUT:
        return [Check("label: what a person reads", f"layout {LABEL_LAYOUT}", layout, False,
                      "drawn by an earlier scer-hf, so its text cannot be re-drawn and checked; make it again with "
                      "scer-hf label")]
    name = meta.file_name
    expected = make_label(rep, rating_for(rep, rating, meta.rated), meta.url, auto_rate=False, file_name=name)
    why = "" if rating is not None or not meta.rated else "rating recomputed; pass --rating if it was another"
    out = compare_lines("label", svg_lines(expected), svg_lines(svg), why)
    if name is not None:
        check(out, "label: its verify command names this file", p.name, name, "renamed? make the label again")
    return out


def html_meta(text: str) -> dict[str, str]:
    """The ``<meta>`` values an HTML report carries: generator, scer-report-digest, scer-rated."""
    return {k: html.unescape(v) for k, v in _META.findall(text)}


def html_view_checks(p: Path, text: str, rep: Report, rating: Any) -> list[Check]:
    """The page's visible text against the page rendered again from *rep*."""
    from .html import render_html

    meta = html_meta(text)
    rated = meta.get("scer-rated", "yes") != "no"
    r = rating_for(rep, rating, rated)
    url = meta.get("scer-manifest-url") or None
    expected = render_html(rep, r, auto_rate=False, file_name=p.name, manifest_url=url)
    note = (f"page made by {meta.get('generator', 'an unknown version')}; a page drawn with your own reference peers "
            "cannot be re-rendered")
    return compare_lines("page", html_lines(expected), html_lines(text), note)


def _section(text: str) -> str | None:
    from .card.splice import SECTION_END, SECTION_START

    a, b = text.find(SECTION_START), text.find(SECTION_END)
    return text[a:b + len(SECTION_END)] if 0 <= a < b else None


def card_view_checks(p: Path, text: str, block: ScerBlock, co2: object,
                     reports: Mapping[str, Report]) -> list[Check]:
    """The card's SCER section against the one rendered from the figures of *reports* (by boundary), and the
    files it links (label, report) present beside the card."""
    from .card import content as _c

    found = _section(text)
    if found is None:
        return [Check("card section", "a scer-hf section", None, None,
                      "the card shows no scer-hf section (its markers are gone): nothing visible to check")]
    training = reports.get("training")
    want_co2 = _c.co2_entry(training) if training is not None and isinstance(co2, Mapping) else co2
    expected = _c.render_section(_expected_scer(block, reports), want_co2)
    out = compare_lines("card section", markdown_lines(expected), markdown_lines(found),
                        "section rendered from the report by this scer-hf; written by another version? re-run "
                        "scer-hf card update")
    return out + [c for b in reports for c in _linked_files(p, b, block.boundary(b))]


def _expected_scer(block: ScerBlock, reports: Mapping[str, Report]) -> dict[str, Any]:
    """The card's ``scer`` block as this scer-hf writes it from *reports*: each boundary's figures recomputed (its
    label and manifest links kept), and its rating made again where the card shows one."""
    from .card import content as _c

    scer = dict(block.written)
    ratings = dict(block.rating_written) if isinstance(block.rating_written, Mapping) else {}
    for b, rep in reports.items():
        entry = block.boundary(b)
        scer[b] = {**_c.boundary_entry(rep), **(entry.links if entry is not None else {})}
        if _shows_rating(block, b):
            ratings[b] = _c.rating_entry(rating_of(rep, None), b)
    if ratings:
        scer.update(rating=ratings)
    return scer


def _shows_rating(block: ScerBlock, b: str) -> bool:
    """Whether the card shows a rating of boundary *b* (an entry that is not an unavailable one)."""
    shown = block.ratings.get(b)
    return b in block.rated and (shown is None or bool(shown.available))


def _linked_files(p: Path, b: str, entry: CardBoundary | None) -> list[Check]:
    """The label and report a boundary of the card links (not a URL) lie beside the card."""
    out = []
    for key, ref in (("label", entry.label), ("manifest", entry.manifest)) if entry is not None else ():
        if isinstance(ref, str) and not re.match(r"https?://", ref):
            ok = (p.parent / ref).is_file()
            out.append(Check(f"card.scer.{b}.{key}: the linked file is beside the card", ref,
                             ref if ok else None, ok, "" if ok else "the card links a file that is not there"))
    return out
