"""The SCER label: an SVG (and PNG) a person can read and a machine can verify.

Content follows the SCER label draft (GSF ``scer`` SPEC.md v0.0.1, §"Presentation
Guidelines") and the AI Energy Score label (model, task, energy, hardware, date,
stars):

* the SCI value written ``<value> gCO2eq per <functional unit>`` (never ``/``),
* the SCI version (``SCI 1.1``) visible in the header,
* the SCER grade and the AI Energy Score stars when a rating is available,
* energy per phase, hardware, date and how the energy was obtained,
* a QR code (ISO/IEC 18004, made by ``segno``) holding the manifest URL, or with no
  URL ``scer-hf:sha256:<digest>`` of the report so the label can be checked
  against a manifest with ``scer-hf verify``.

Every text colour meets WCAG 2.x AA (contrast >= 4.5:1) against the colour it is
drawn on; :data:`CONTRAST_PAIRS` lists the pairs and the tests compute them. The
drawing uses a 300-unit-wide viewBox and no text under 11 units, so it stays
readable at 300 px wide. The label's fields are embedded as JSON in ``<metadata>``
so ``scer-hf verify`` can recompute them from the report.
"""

from __future__ import annotations

import json
import math
import os
import re
import textwrap
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import segno

from .._io import atomic_write_bytes, atomic_write_text, refuse_overwrite, require_folder
from ..core import fmt as _fmt
from ..core.coverage import COVERAGE_THRESHOLD
from ..core.report import Report
from ..core.report_files import input_paths
from ..core.views import PhaseView
from ..errors import ReportError, SCERError
from .curve import label_block
from .fields import LabelFields, label_view, qr_payload
from .figures import METHOD_TEXT, hardware_text, method_of
from .figures import scope_texts as scope_texts  # earlier home, kept for modules that import it here

__all__ = [
    "make_label",
    "save_label",
    "label_fields",
    "markdown_badge",
    "qr_payload",
    "PALETTE",
    "COLOURS",
    "Palette",
    "CONTRAST_PAIRS",
    "LABEL_WIDTH",
    "LABEL_LAYOUT",
]

LABEL_WIDTH = 300  # viewBox units; at 300 px wide one unit is one pixel

@dataclass(frozen=True)
class Palette:
    """The label's colours (hex). Foreground/background pairs actually used are in CONTRAST_PAIRS."""

    ink: str = "#111827"  # main text
    muted: str = "#374151"  # secondary text
    paper: str = "#ffffff"
    band: str = "#14532d"  # header band (dark green)
    on_band: str = "#ffffff"
    panel: str = "#f3f4f6"  # light grey panels
    grade_A: str = "#166534"
    grade_B: str = "#92400e"
    grade_C: str = "#b91c1c"
    grade_none: str = "#4b5563"
    on_grade: str = "#ffffff"
    star: str = "#92400e"  # filled star (graphic, contrast >= 3:1 required)
    star_empty: str = "#6b7280"
    warn_bg: str = "#fef3c7"
    warn_ink: str = "#78350f"
    rule: str = "#9ca3af"


COLOURS = Palette()
#: the colours by name (what CONTRAST_PAIRS and GRAPHIC_PAIRS name)
PALETTE: dict[str, str] = asdict(COLOURS)

#: (foreground, background) for every text colour on the background it is drawn on.
CONTRAST_PAIRS = [
    ("ink", "paper"), ("muted", "paper"), ("ink", "panel"), ("muted", "panel"),
    ("on_band", "band"), ("on_grade", "grade_A"), ("on_grade", "grade_B"),
    ("on_grade", "grade_C"), ("on_grade", "grade_none"), ("warn_ink", "warn_bg"),
]
#: non-text graphics (stars) need 3:1 (WCAG 2.1 SC 1.4.11)
GRAPHIC_PAIRS = [("star", "paper"), ("star_empty", "paper")]

_METHOD_TEXT = METHOD_TEXT  # earlier name


# ------------------------------------------------------------------ fields ------------
# every human-facing number goes through scer_hf.core.fmt; these names stay for modules that import them
fmt_num = _fmt.num
fmt_energy = _fmt.energy


_hardware = hardware_text  # earlier names, kept for modules that import them
_method = method_of


def label_fields(report: Report | Mapping[str, Any] | str | os.PathLike[str], rating: Any = None,
                 manifest_url: str | None = None, *, auto_rate: bool = True) -> dict[str, Any]:
    """Everything the label shows, as data (also embedded in the SVG for ``verify``): :func:`label_view` as a
    dict."""
    return label_view(report, rating, manifest_url, auto_rate=auto_rate).to_dict()


# ------------------------------------------------------------------ drawing -----------
def _clip(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1] + "\u2026"


def _t(x: float, y: float, text: str, size: float = 11, color: str = "ink", weight: str = "normal",
       anchor: str = "start") -> str:
    size = max(size, 11.0)  # readable at 300 px wide: never under 11 px
    return (f'<text x="{x:g}" y="{y:g}" font-size="{size:g}" font-weight="{weight}" fill="{PALETTE[color]}" '
            f'text-anchor="{anchor}">{escape(text)}</text>')


def _star(cx: float, cy: float, r: float, filled: bool) -> str:
    pts = []
    for i in range(10):
        rad = r if i % 2 == 0 else r * 0.45
        a = -math.pi / 2 + i * math.pi / 5
        pts.append(f"{cx + rad * math.cos(a):.2f},{cy + rad * math.sin(a):.2f}")
    if filled:
        return f'<polygon points="{" ".join(pts)}" fill="{COLOURS.star}"/>'
    return (f'<polygon points="{" ".join(pts)}" fill="{COLOURS.paper}" stroke="{COLOURS.star_empty}" '
            f'stroke-width="1.3"/>')


def _qr_group(payload: str, x: float, y: float, size: float) -> str:
    """The QR code as one SVG path (segno makes the matrix; 4-module quiet zone kept white)."""
    qr = segno.make(payload, error="m", micro=False)
    matrix = [list(row) for row in qr.matrix]
    n = len(matrix)
    border = 4
    mod = size / (n + 2 * border)
    parts = []
    for r, row in enumerate(matrix):
        c = 0
        while c < n:
            if row[c]:
                start = c
                while c < n and row[c]:
                    c += 1
                parts.append(f"M{start + border},{r + border}h{c - start}v1h{start - c}z")
            else:
                c += 1
    return (f'<g transform="translate({x:g},{y:g}) scale({mod:.5f})">'
            f'<rect width="{n + 2 * border}" height="{n + 2 * border}" fill="#ffffff"/>'
            f'<path d="{"".join(parts)}" fill="#000000"/></g>')


def _task_line(f: LabelFields) -> str:
    task = (f.task or "").replace("_", " ").replace("-", " ")
    return f"{f.boundary.capitalize()}" + (f" \u00b7 {task}" if task else "")


def _equivalent(co2e_g: float, energy_j: float | None = None, with_embodied: bool = False,
                g_per_kwh: float | None = None) -> str | None:
    """The one human equivalent that reads best (``scer_hf.core.equivalents.best_equivalent``), or None."""
    from ..core.equivalents import best_equivalent, equivalent_text

    try:
        e = best_equivalent(co2e_g, g_per_kwh=g_per_kwh)
    except (SCERError, ValueError, TypeError, KeyError):
        return None
    return equivalent_text(e, with_embodied) if e else None


def _grade_area(f: LabelFields, gy: float, pad: float) -> list[str]:
    """The grade tile and what stands beside it: stars or the rank, or why there is no grade.

    A rating that is not comparable draws no letter, no stars and no indicative position (that lives in the
    HTML report's rating section only): a grey "Not rated" tile and the words "not comparable".
    """
    grade, stars = f.grade, f.stars
    gcol = f"grade_{grade}" if grade in ("A", "B", "C") else "grade_none"
    out = [f'<rect x="{pad}" y="{gy}" width="64" height="64" rx="8" fill="{PALETTE[gcol]}"/>']
    if grade:
        out.append(_t(pad + 32, gy + 47, grade, 44, "on_grade", "bold", "middle"))
    else:
        top, bottom = ("No", "grade") if stars else ("Not", "rated")
        out.append(_t(pad + 32, gy + 30, top, 13, "on_grade", "bold", "middle"))
        out.append(_t(pad + 32, gy + 46, bottom, 13, "on_grade", "bold", "middle"))
    sx = pad + 78
    out.append(_t(sx, gy + 14, "SCER grade" if grade else ("Energy stars" if stars else "No SCER grade"), 11, "muted"))
    return out + _beside_grade(f, sx, gy)


def _beside_grade(f: LabelFields, sx: float, gy: float) -> list[str]:
    """Beside the tile: the stars and the rank, the rank alone, "not comparable", or why there is no grade."""
    if f.stars:
        return _stars_and_rank(f, sx, gy)
    if f.grade:
        return [_t(sx, gy + 36, _clip(_rank(f), 31), 11, "muted")]
    if f.comparable is False:
        return [_t(sx, gy + 34, "not comparable with the", 11, "warn_ink", "bold"),
                _t(sx, gy + 50, "reference: see the report", 11, "warn_ink", "bold")]
    return [_t(sx, gy + 34 + 16 * i, _clip(line, 31), 11, "muted")
            for i, line in enumerate(textwrap.wrap(_short_reason(f), 30, max_lines=2, placeholder="\u2026"))]


def _rank(f: LabelFields) -> str:
    """Where the model ranks among its peers, when the rating says."""
    if f.percentile is None:
        return "graded against reference peers"
    return f"better than {fmt_num(f.percentile, 2)}% of {f.peers} peers"


def _stars_and_rank(f: LabelFields, sx: float, gy: float) -> list[str]:
    """Five stars, so many filled, "n of 5", and the rank (or what the stars are) under them."""
    stars = int(f.stars or 0)
    out = [_star(sx + 10 + i * 22, gy + 31, 9.5, i < stars) for i in range(5)]
    out.append(_t(sx + 118, gy + 35, f"{stars} of 5", 11, "ink", "bold"))
    under = _rank(f) if f.percentile is not None else "AI Energy Score stars"
    out.append(_t(sx, gy + 56, _clip(under, 31), 11, "muted"))
    return out


def _short_reason(f: LabelFields) -> str:
    """Why there is no grade, its first clause when long (the HTML report has the whole reason)."""
    reason = f.rating_reason or "no rating given"
    return re.split(r"[:;(]", reason)[0].strip() if len(reason) > 60 else reason


def _headline(f: LabelFields, y: float, pad: float, W: float) -> list[str]:
    tx = f.texts
    out = [f'<rect x="{pad - 4}" y="{y}" width="{W - 2 * pad + 8}" height="66" rx="6" fill="{COLOURS.panel}"/>']
    if f.sci_value is not None:
        out.append(_t(pad + 4, y + 28, str(tx.sci_value_text), 24, "ink", "bold"))
        out.append(_t(W - pad - 4, y + 28, f"\u00b1 {tx.sci_unc_text}" if f.sci_uncertainty else "", 12, "muted",
                      anchor="end"))
        out.append(_t(pad + 4, y + 46, _clip(str(tx.sci_unit_shown), 40), 13, "ink", "bold"))
        out.append(_t(pad + 4, y + 60, f"{f.sci_version} score, {f.boundary} boundary", 11, "muted"))
    elif not tx.headline:  # below the coverage threshold: no figure, and why
        out.append(_t(pad + 4, y + 28, f"No figure: coverage {tx.coverage_pct}", 14, "ink", "bold"))
        need = _fmt.coverage(float(tx.threshold or COVERAGE_THRESHOLD))
        out.append(_t(pad + 4, y + 48, _clip(f"at least {need} of the run must be measured", 44), 11, "muted"))
    else:
        out.append(_t(pad + 4, y + 38, _clip(f.sci_text, 44), 12, "ink", "bold"))
    return out


def _phase_rows(f: LabelFields, y: float, pad: float, W: float) -> tuple[list[str], float]:
    """The energy and emissions of each phase (at most five; a phase mostly filled shows its coverage instead),
    then the totals."""
    tx, fam = f.texts, f.texts.energy_family
    out = [_t(pad, y, "Energy per phase", 12, "ink", "bold"),
           _t(W - pad - 94, y, "IT energy" if tx.energy_pue_text else "energy", 11, "muted", anchor="end"),
           _t(W - pad, y, "emissions", 11, "muted", anchor="end")]
    shown = f.phases[:5]
    for p in shown:
        y += 16
        out += _phase_line(p, y, pad, W, fam)
    if len(f.phases) > len(shown):
        y += 16
        more = len(f.phases) - len(shown)
        out.append(_t(pad, y, f"+ {more} more phase{'' if more == 1 else 's'}: see the report", 11, "muted"))
    y += 5
    out.append(f'<line x1="{pad}" y1="{y}" x2="{W - pad}" y2="{y}" stroke="{COLOURS.rule}" stroke-width="1"/>')
    rows, y = _total_rows(f, y + 14, pad, W)
    return out + rows, y


def _phase_energy(p: PhaseView, fam: str) -> tuple[str, bool]:
    """(the phase's energy as the label shows it, whether it is missing): a label shows no mostly-filled figure,
    only how much was measured."""
    cov, e = p.measured_fraction, p.total_j
    if e is None:
        return "not measured", True
    if cov < COVERAGE_THRESHOLD:
        return f"{_fmt.coverage(cov)} measured", True
    return _fmt.energy(e, fam), False


def _phase_line(p: PhaseView, y: float, pad: float, W: float, fam: str) -> list[str]:
    """One phase's row: its name (a nested phase indented), energy and emissions."""
    child = not p.is_top
    energy, missing = _phase_energy(p, fam)
    return [_t(pad + (10 if child else 0), y, _clip(p.name, 15 if child else 17), 11, "muted" if child else "ink"),
            _t(W - pad - 94, y, energy, 11, "muted" if missing else "ink", anchor="end"),
            _t(W - pad, y, "" if missing else _fmt.co2e(p.co2e_g), 11, "ink", anchor="end")]


def _total_rows(f: LabelFields, y: float, pad: float, W: float) -> tuple[list[str], float]:
    """Total energy and CO2eq; with the PUE, embodied emissions and the human equivalent where they apply."""
    tx = f.texts
    out = [_t(pad, y, "Total", 11, "ink", "bold"), _t(W - pad - 94, y, tx.energy_text, 11, "ink", "bold", "end"),
           _t(W - pad, y, tx.co2e_text, 11, "ink", "bold", "end")]
    if tx.energy_pue_text:
        y += 16
        out.append(_t(pad, y, f"with PUE {fmt_num(tx.pue)}", 11, "muted"))
        out.append(_t(W - pad - 94, y, tx.energy_pue_text, 11, "muted", anchor="end"))
    if tx.embodied_text:
        y += 16
        out.append(_t(pad, y, "+ embodied (hardware)", 11, "muted"))
        out.append(_t(W - pad, y, tx.embodied_text, 11, "muted", anchor="end"))
    eq = _equivalent(tx.total_co2e_g, f.energy_j, tx.embodied_text is not None, f.grid_g_per_kwh) \
        if tx.total_co2e_g is not None else None
    if eq:  # wrapped, never clipped: the scope in brackets is part of the figure
        for line in textwrap.wrap(eq, 46, max_lines=2, placeholder="\u2026"):
            y += 16
            out.append(_t(pad, y, line, 11, "muted"))
    return out, y


def _fact_rows(f: LabelFields, y: float, pad: float, W: float) -> tuple[list[str], float]:
    """The facts of :func:`scer_hf.publish.figures.facts`, one per row, wrapped (never cut); warnings on amber."""
    out: list[str] = []
    for fact in f.facts:
        lines = textwrap.wrap(fact.text, 33) or [""]
        if fact.warn:
            out.append(f'<rect x="{pad - 4}" y="{y - 12}" width="{W - 2 * pad + 8}" height="{16 * len(lines) + 2}" '
                       f'rx="3" fill="{COLOURS.warn_bg}"/>')
        color = "warn_ink" if fact.warn else "ink"
        out.append(_t(pad, y, fact.label, 11, "warn_ink" if fact.warn else "muted", "bold"))
        for i, line in enumerate(lines):
            out.append(_t(pad + 70, y + 16 * i, line, 11, color, "bold" if fact.warn else "normal"))
        y += 16 * len(lines)
    return out, y


def _verify_rows(f: LabelFields, y: float, pad: float, W: float,
                 file_name: str | None) -> tuple[list[str], float]:
    """The QR code, and the command that checks this label where it lies (its own file name); and the bottom."""
    qr_size = 96
    out = [_qr_group(f.qr, W - pad - qr_size + 4, y, qr_size)]
    ty = y + 18
    out.append(_t(pad, ty, "Verify this label", 12, "ink", "bold"))
    if f.manifest_url:
        lines = ["Scan for the manifest,", "then run:", "scer-hf verify MANIFEST"]
    else:
        lines = ["QR holds the report digest", f"{f.digest[:19]}\u2026", "With its report beside it:"]
        lines += textwrap.wrap(f"scer-hf verify {file_name or 'REPORT.json'}", 27)
    for line in lines:
        ty += 16
        out.append(_t(pad, ty, line, 11, "muted"))
    return out, max(y + qr_size + 4, ty + 8)


def make_label(report: Report | Mapping[str, Any] | str | os.PathLike[str], rating: Any = None,
               manifest_url: str | None = None, *, auto_rate: bool = True, file_name: str | None = None) -> str:
    """The SCER label as SVG text (300 units wide; scale it freely).

    *file_name*: the label's own file name, so the verify command it prints works in its folder
    (:func:`save_label` passes it). ``scer-hf verify`` re-draws the label and compares every drawn line.
    """
    f = label_view(report, rating, manifest_url, auto_rate=auto_rate)
    W, pad = LABEL_WIDTH, 14
    out: list[str] = [f'<rect x="0" y="0" width="{W}" height="44" fill="{COLOURS.band}"/>',
                      _t(pad, 19, "SCER carbon efficiency", 14, "on_band", "bold"),
                      _t(pad, 36, _clip(_task_line(f), 30), 11, "on_band"),
                      _t(W - pad, 19, f.sci_version, 14, "on_band", "bold", "end"),
                      _t(W - pad, 36, "GSF SCER draft", 11, "on_band", anchor="end"),
                      _t(pad, 66, _clip(f.model, 34), 15, "ink", "bold")]
    out += _grade_area(f, 78, pad)
    y: float = 78 + 64 + 12
    out += _headline(f, y, pad, W)
    rows, y = _phase_rows(f, y + 66 + 20, pad, W)
    out += rows
    curve, y = label_block(f.levels, y + 22, W, pad, f.curve_note)  # a served benchmark: energy, speed per level
    if curve:
        out.append(curve)
    rows, y = _fact_rows(f, y, pad, W)
    out += rows
    rows, bottom = _verify_rows(f, y, pad, W, file_name)
    out += rows
    H = math.ceil(bottom)
    meta = json.dumps({"scer_label": LABEL_LAYOUT, "file_name": file_name, "rated": f.rated,
                       **{k: getattr(f, k) for k in _META_KEYS}}, sort_keys=True)
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
            f'role="img" aria-labelledby="scer-title scer-desc" font-family="DejaVu Sans, Verdana, Arial, sans-serif">'
            f'<title id="scer-title">{escape(f"SCER label for {f.model}")}</title>'
            f'<desc id="scer-desc">{escape(_description(f))}</desc>'
            f'<metadata id="scer-label-data">{escape(meta)}</metadata>'
            f'<rect width="{W}" height="{H}" fill="{COLOURS.paper}" stroke="{COLOURS.rule}" stroke-width="1"/>')
    return head + "".join(out) + "</svg>\n"


def _description(f: LabelFields) -> str:
    """The label in one paragraph, for screen readers (``<desc>``)."""
    grade, stars = f.grade, f.stars
    rated = (f"SCER grade {grade}" + (f", {stars} of 5 stars. " if stars else ". ") if grade
             else (f"{stars} of 5 stars. " if stars else "Not rated. "))
    return (f"{f.sci_text}, {f.sci_version}. " + rated
            + f"{f.method_text}. Hardware {f.hardware}. Date {f.date}.")


#: the label's layout version, in its metadata: 2 draws the facts of scer_hf.publish.figures and is re-drawn by verify
LABEL_LAYOUT = 2


#: label fields embedded in the SVG and recomputed by ``scer-hf verify``
_META_KEYS = ("model", "boundary", "sci_value", "functional_unit", "sci_unit_shown", "sci_version", "energy_j",
              "co2e_g", "grade", "stars", "method", "digest", "qr", "coverage")


def svg_to_png(svg: str, width: int = 900) -> bytes:
    """Render SVG to PNG with resvg (``pip install resvg-py``; no system libraries needed)."""
    try:
        import resvg_py  # optional dependency
    except ImportError as exc:
        raise ReportError("PNG export needs resvg: pip install 'scer-hf[png]' (or resvg-py); "
                          "the SVG label needs nothing extra") from exc
    return bytes(resvg_py.svg_to_bytes(svg_string=svg, width=int(width), background="#ffffff"))


def save_label(path: str | os.PathLike[str], report: Report | Mapping[str, Any] | str | os.PathLike[str],
               rating: Any = None, manifest_url: str | None = None, *, width_px: int = 900,
               auto_rate: bool = True, overwrite: bool = False, parents: bool = False) -> Path:
    """Write the label to ``path``: ``.svg`` text or ``.png`` (``width_px`` wide).

    Like ``scer-hf label``: an existing *path* is replaced only with ``overwrite=True``, never when it is one of the
    inputs (the report or rating file) or a pipe/device; a missing folder is created only with ``parents=True``;
    a symbolic link is written through to its target. Raises :class:`~scer_hf.errors.OutputExistsError` or
    :class:`~scer_hf.errors.OutputWriteError` (naming *path*).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".svg", ".png"):
        raise ReportError(f"label path must end in .svg or .png, got {p.name!r}")
    refuse_overwrite(p, overwrite=overwrite, inputs=input_paths(report, rating), flag="overwrite=True")
    require_folder(p, parents=parents)
    # the label names itself in its verify command; a PNG cannot be verified, so it names the report instead
    svg = make_label(report, rating, manifest_url, auto_rate=auto_rate,
                     file_name=p.name if suffix == ".svg" else None)
    if suffix == ".svg":
        return atomic_write_text(p, svg, parents=parents)
    return atomic_write_bytes(p, svg_to_png(svg, width_px), parents=parents)


def markdown_badge(report: Report | Mapping[str, Any] | str | os.PathLike[str], rating: Any = None,
                   image_path: str = "scer_label.svg", manifest_url: str | None = None,
                   *, auto_rate: bool = True) -> str:
    """Markdown that shows the label image (linked to the manifest when given), for a model card."""
    f = label_view(report, rating, manifest_url, auto_rate=auto_rate)
    grade = f"SCER grade {f.grade}, " if f.grade else ""
    alt = f"SCER label: {grade}{f.sci_text} ({f.sci_version}, {f.method})"
    alt = alt.replace("[", "(").replace("]", ")")
    img = f"![{alt}]({image_path})"
    return f"[{img}]({manifest_url})" if manifest_url else img
