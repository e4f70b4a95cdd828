"""A self-contained HTML report: one file, inline CSS and SVG, no network, no scripts.

It shows the per-phase energy and CO2e with uncertainty, the SCI headline and its
alternatives, the rating with the reference distribution plotted (the model's
position marked), quality-normalised efficiency with an energy-quality Pareto view
when the report carries a quality block, and the method and every source used.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from xml.sax.saxutils import escape

import jinja2
from markupsafe import Markup

from .._io import atomic_write_text, refuse_overwrite, require_folder
from .._version import __version__
from ..core import fmt as _fmt
from ..core.report import Report, load_report
from ..core.report_files import input_paths
from ..core.views import PhaseView
from ..errors import SCERError
from ..rating.result import PhaseRating, Rating
from .curve import curve_caption, curve_levels, curve_rows, curve_svg
from .fields import LabelFields, label_view
from .figures import ScopeTexts, rating_value_text
from .inputs import phase_rating, rating_of
from .label import PALETTE, fmt_num, make_label

__all__ = ["write_html_report", "render_html", "distribution_svg", "pareto_svg", "pareto_front", "band_legend"]

_NAME_KEYS = ("model", "model_id", "id", "name")
_VALUE_KEYS = ("value", "sci_value", "sci", "energy", "energy_value")


@dataclass(frozen=True)
class Point:
    """One model on a chart: ``x`` its value (carbon, in the rating's unit), ``y`` its quality where known;
    ``me``: the model rated."""

    model: str
    x: float
    y: float | None = None
    ref_id: Any = None
    me: bool = False

    @property
    def value(self) -> float:
        """The peer's value in the rating's unit (``x``), as the page's peer table names it."""
        return self.x

    @property
    def quality(self) -> float | None:
        return self.y

    @classmethod
    def of(cls, p: Point | Mapping[str, Any]) -> Point:
        """A chart point from a point or a dict (``{model, value, quality?}`` or ``{model, x, y, self?}``)."""
        if isinstance(p, Point):
            return p
        x = p["x"] if "x" in p else p["value"]
        return cls(str(p.get("model", "?")), float(x), p.get("y", p.get("quality")), p.get("ref_id"),
                   bool(p.get("self")))


P = TypeVar("P", bound="Point | Mapping[str, Any]")


def _peer(p: Any) -> Point | None:
    """A peer from a dict of any of the usual key spellings (``model``/``id``/``name``, ``value``/``sci``...)."""
    if not isinstance(p, Mapping):
        return None
    name = next((str(p[k]) for k in _NAME_KEYS if p.get(k)), "?")
    value = next((p[k] for k in _VALUE_KEYS if isinstance(p.get(k), (int, float))), None)
    if value is None or not math.isfinite(value) or value <= 0:
        return None
    q = p.get("quality")
    if isinstance(q, Mapping):
        q = q.get("value")
    quality = float(q) if isinstance(q, (int, float)) and math.isfinite(q) else None
    return Point(name, float(value), quality, p.get("ref_id"))


def _group_rows(pr: PhaseRating) -> list[dict[str, Any]]:
    """Every reference row of the rating's peer group (``scer_hf.rating.reference``), in the rating's unit."""
    group = (pr.category or {}).get("group")
    if not group:
        return []
    try:
        from ..rating import reference  # optional sibling module
    except ImportError:
        return []
    try:
        rows = reference.rows(pr.phase or "inference")
    except SCERError:
        return []
    unit = pr.unit or ""
    return [{"model": r.get("model_key"), "value": r.get("value")} for r in rows
            if r.get("group") == group and r.get("value") is not None
            and str(r.get("value_unit") or unit).startswith(unit)]


def _peers(pr: PhaseRating, reference: Iterable[Any] | None) -> list[Point]:
    """The peers to plot: *reference* when given, else exactly the peers the rating counted (``peer_values``),
    so the chart shows what the text counts; ratings written before ``peer_values`` fall back to the group."""
    rows: list[Any] = list(reference or [])
    if not rows:
        rows = list(pr.peer_values) or _group_rows(pr) or list(pr.nearest_peers)
    seen: set[tuple[Any, float]] = set()
    out = []
    for p in rows:
        q = _peer(p)
        if q and (q.ref_id or q.model, q.x) not in seen:
            seen.add((q.ref_id or q.model, q.x))
            out.append(q)
    return out


# ------------------------------------------------------------------ plots -------------
def _log_axis(values: Sequence[float]) -> tuple[int, int]:
    lo = math.floor(math.log10(min(values)))
    hi = math.ceil(math.log10(max(values)))
    return (lo, hi if hi > lo else lo + 1)


_BAND_FILL = {5: "#dcfce7", 4: "#ecfccb", 3: "#fef9c3", 2: "#ffedd5", 1: "#fee2e2"}


def band_legend(star_bands: Sequence[Mapping[str, Any]] | None, unit: str) -> list[str]:
    """Every AI Energy Score band in words (the chart labels only the bands wide enough to hold a label)."""
    out = []
    for b in sorted(star_bands or [], key=lambda b: -int(b["stars"])):
        lo, hi = float(b["from"]), float(b["to"])
        out.append(f"{int(b['stars'])}\u2605 from {fmt_num(lo)} to {fmt_num(hi)}")
    return [", ".join(out) + f" {_fmt.unit_text(unit)}"] if out else []


def distribution_svg(peers: Sequence[Point | Mapping[str, Any]], value: float | None, unit: str,
                     uncertainty: float | None = None, model: str = "this model",
                     star_bands: Sequence[Mapping[str, Any]] | None = None) -> str:
    """Peers' values as dots on a log axis, the model as a marked diamond with its error bar.

    ``peers``: :class:`Point` or ``{model, value}``; ``star_bands`` (``[{stars, from, to}]``, the AI Energy Score
    bands) are shaded behind.
    """
    pts = [Point.of(p) for p in peers]
    vals = [p.x for p in pts] + ([value] if value else [])
    if not vals:
        return ""
    axis = _Axis(*_log_axis(vals))
    parts = _bands(axis, star_bands) + _value_axis(axis, unit)
    for i, p in enumerate(sorted(pts, key=lambda p: p.x)):
        parts.append(f'<circle cx="{axis.x(p.x):.1f}" cy="{112 - (i % 3) * 9}" r="6" fill="#1d4ed8" '
                     f'fill-opacity="0.55" stroke="#1e3a8a"><title>{escape(p.model)}: {escape(fmt_num(p.x))} '
                     f'{escape(_fmt.unit_text(unit))}</title></circle>')
    if value:
        parts += _marker(axis, value, uncertainty, model)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {axis.W} 190" width="100%" role="img" '
            f'aria-label="Reference distribution: {len(pts)} peers and this model">{"".join(parts)}</svg>')


@dataclass(frozen=True)
class _Axis:
    """The distribution's log axis: decades *lo* to *hi* across the chart's width."""

    lo: int
    hi: int
    W: int = 760
    L: int = 30
    R: int = 30

    def x(self, v: float) -> float:
        return self.L + (math.log10(v) - self.lo) / (self.hi - self.lo) * (self.W - self.L - self.R)


def _bands(axis: _Axis, star_bands: Sequence[Mapping[str, Any]] | None) -> list[str]:
    """The AI Energy Score star bands shaded behind the dots, each labelled where it is wide enough."""
    parts = []
    for b in star_bands or []:
        a, z = max(float(b["from"]), 10.0 ** axis.lo), min(float(b["to"]), 10.0 ** axis.hi)
        if z <= a or z <= 0:
            continue
        xa, xz = axis.x(a), axis.x(z)
        parts.append(f'<rect x="{xa:.1f}" y="66" width="{xz - xa:.1f}" height="54" '
                     f'fill="{_BAND_FILL.get(int(b["stars"]), "#f3f4f6")}"/>')
        if xz - xa > 34:
            parts.append(f'<text x="{(xa + xz) / 2:.1f}" y="80" text-anchor="middle" font-size="12" '
                         f'fill="{PALETTE["ink"]}">{int(b["stars"])}\u2605</text>')
    return parts


def _value_axis(axis: _Axis, unit: str) -> list[str]:
    """The axis line, a tick and label per decade, and the unit."""
    W, L, R = axis.W, axis.L, axis.R
    parts = [f'<line x1="{L}" y1="120" x2="{W - R}" y2="120" stroke="{PALETTE["muted"]}" stroke-width="1.5"/>']
    for e in range(axis.lo, axis.hi + 1):
        xx = axis.x(10.0 ** e)
        parts.append(f'<line x1="{xx:.1f}" y1="115" x2="{xx:.1f}" y2="125" stroke="{PALETTE["muted"]}"/>')
        parts.append(f'<text x="{xx:.1f}" y="142" text-anchor="middle" font-size="13" fill="{PALETTE["ink"]}">'
                     f'{escape(fmt_num(10.0 ** e))}</text>')
    parts.append(f'<text x="{W / 2}" y="172" text-anchor="middle" font-size="13" fill="{PALETTE["muted"]}">'
                 f'{escape(_fmt.unit_text(unit))} (log scale; lower is better)</text>')
    return parts


def _marker(axis: _Axis, value: float, uncertainty: float | None, model: str) -> list[str]:
    """The rated model: a diamond with its error bar, a dashed drop line and its name above."""
    xv, ink = axis.x(value), PALETTE["grade_C"]
    parts = []
    if uncertainty:
        x_lo, x_hi = axis.x(max(value - uncertainty, 10.0 ** axis.lo)), axis.x(value + uncertainty)
        parts.append(f'<line x1="{x_lo:.1f}" y1="40" x2="{x_hi:.1f}" y2="40" stroke="{ink}" stroke-width="2"/>')
    parts.append(f'<polygon points="{xv:.1f},28 {xv + 9:.1f},40 {xv:.1f},52 {xv - 9:.1f},40" '
                 f'fill="{ink}"><title>{escape(model)}</title></polygon>')
    parts.append(f'<line x1="{xv:.1f}" y1="52" x2="{xv:.1f}" y2="120" stroke="{ink}" stroke-dasharray="3 3"/>')
    # the name sits above the diamond and its error bar (y 28-52), never across them
    anchor = "start" if xv < axis.W / 2 else "end"
    dx = -6 if anchor == "start" else 6
    parts.append(f'<text x="{xv + dx:.1f}" y="20" text-anchor="{anchor}" font-size="14" font-weight="bold" '
                 f'fill="{ink}">{escape(model)}: {escape(fmt_num(value))}</text>')
    return parts


def pareto_front(points: Sequence[P], higher_is_better: bool) -> list[P]:
    """Points not dominated in (lower carbon, better quality), sorted by carbon; *points* are :class:`Point` or
    ``{model, x, y}`` dicts, returned as given."""
    pts = [(p, Point.of(p)) for p in points]

    def better_or_equal(a: float, b: float) -> bool:
        return a >= b if higher_is_better else a <= b

    def dominated(p: Point) -> bool:
        return any(q is not p and q.x <= p.x and better_or_equal(_y(q), _y(p)) and (q.x < p.x or q.y != p.y)
                   for _, q in pts)

    return [orig for orig, p in sorted(((o, p) for o, p in pts if not dominated(p)), key=lambda op: op[1].x)]


def _y(p: Point) -> float:
    return float(p.y if p.y is not None else math.nan)


def pareto_svg(points: Sequence[Point | Mapping[str, Any]], x_unit: str, metric: str, higher_is_better: bool) -> str:
    """Scatter of carbon (x, log) against quality (y) with the Pareto front drawn."""
    pts = [Point.of(p) for p in points]
    if not pts:
        return ""
    W, H, L, R, T, B = 760, 320, 70, 30, 20, 60
    lo, hi = _log_axis([p.x for p in pts])
    ys = [_y(p) for p in pts]
    ylo, yhi = min(ys), max(ys)
    if ylo == yhi:
        ylo, yhi = ylo - abs(ylo) * 0.1 - 1, yhi + abs(yhi) * 0.1 + 1

    def px(v: float) -> float:
        return L + (math.log10(v) - lo) / (hi - lo) * (W - L - R)

    def py(v: float) -> float:
        return T + (yhi - v) / (yhi - ylo) * (H - T - B)

    parts = [f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="{PALETTE["panel"]}"/>']
    for e in range(lo, hi + 1):
        xx = px(10.0 ** e)
        parts.append(f'<text x="{xx:.1f}" y="{H - B + 18}" text-anchor="middle" font-size="13" '
                     f'fill="{PALETTE["ink"]}">{escape(fmt_num(10.0 ** e))}</text>')
    for v in (ylo, (ylo + yhi) / 2, yhi):
        parts.append(f'<text x="{L - 6}" y="{py(v) + 4:.1f}" text-anchor="end" font-size="13" '
                     f'fill="{PALETTE["ink"]}">{escape(fmt_num(v))}</text>')
    parts.append(f'<text x="{(W + L) / 2}" y="{H - 14}" text-anchor="middle" font-size="13" '
                 f'fill="{PALETTE["muted"]}">{escape(_fmt.unit_text(x_unit))} (log scale; left is better)</text>')
    better = "higher" if higher_is_better else "lower"
    parts.append(f'<text x="14" y="{(H - B + T) / 2}" font-size="13" fill="{PALETTE["muted"]}" '
                 f'transform="rotate(-90 14 {(H - B + T) / 2})" text-anchor="middle">'
                 f'{escape(metric)} ({better} is better)</text>')
    front = pareto_front(pts, higher_is_better)
    if len(front) > 1:
        d = " ".join(f"{px(p.x):.1f},{py(_y(p)):.1f}" for p in front)
        parts.append(f'<polyline points="{d}" fill="none" stroke="{PALETTE["band"]}" stroke-width="2" '
                     f'stroke-dasharray="6 4"/>')
    for p in pts:
        color = PALETTE["grade_C"] if p.me else "#1d4ed8"
        parts.append(f'<circle cx="{px(p.x):.1f}" cy="{py(_y(p)):.1f}" r="{8 if p.me else 6}" fill="{color}">'
                     f'<title>{escape(p.model)}</title></circle>')
        parts.append(f'<text x="{px(p.x) + 11:.1f}" y="{py(_y(p)) + 4:.1f}" font-size="13" '
                     f'fill="{PALETTE["ink"]}">{escape(p.model)}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="100%" role="img" '
            f'aria-label="Energy-quality Pareto view">{"".join(parts)}</svg>')


# ------------------------------------------------------------------ report ------------
def _in_tree_order(phases: Sequence[PhaseView]) -> list[PhaseView]:
    """Top-level phases in report order, each followed by its children (epochs under train); a phase whose parent
    is not in the report counts as top-level."""
    names = {p.name for p in phases}
    out: list[PhaseView] = []

    def add(p: PhaseView) -> None:
        out.append(p)
        for c in phases:
            if c.parent == p.name and c is not p:
                add(c)

    for p in phases:
        if p.is_top or p.parent not in names:
            add(p)
    return out


def _phase_rows(rep: Report | Mapping[str, Any], fam: str = "J") -> list[dict[str, Any]]:
    views = rep.phase_views() if isinstance(rep, Report) else [PhaseView.from_dict(p) for p in rep["phases"]]
    return [_phase_row(p, fam) for p in _in_tree_order(views)]


def _phase_row(p: PhaseView, fam: str) -> dict[str, Any]:
    """One row of the phase table, as the page shows it."""
    e = p.total_j
    return {
        "name": p.name, "kind": p.kind or "", "parent": p.parent or "",
        "duration": _fmt.duration(p.duration_s),
        "energy": _fmt.energy(e, fam) if e is not None else "not measured",
        "coverage": _coverage_cell(p, fam), **_uncertainty_cells(p, fam), "co2e": _fmt.co2e(p.co2e_g),
        "counts": ", ".join(f"{k} {fmt_num(v)}" for k, v in p.counts.items()),
        "method": p.method, "measured": p.measured,  # null shows as the report has it
        "components": ", ".join(f"{k} {fmt_num(v)} J" for k, v in p.energy_j.items() if k != "total"),
        "errors": "; ".join(p.errors),
    }


def _coverage_cell(p: PhaseView, fam: str) -> str:
    """"measured 80%, 1.2 kJ filled" for a phase not measured in full; empty otherwise."""
    if p.measured_fraction >= 1:
        return ""
    filled = f", {_fmt.energy(p.filled_j, fam)} filled" if p.filled_j else ""
    return f"measured {_fmt.coverage(p.measured_fraction)}{filled}"


def _uncertainty_cells(p: PhaseView, fam: str) -> dict[str, str]:
    """± of the phase's energy, and of its CO2e at the same relative uncertainty."""
    e, unc = p.total_j, p.energy_uncertainty_j or 0.0
    rel = unc / e if e else 0.0
    return {"energy_unc": _fmt.energy(unc, fam) if unc else "",
            "co2e_unc": _fmt.co2e((p.co2e_g or 0.0) * rel) if rel else ""}


def _quality_view(d: Mapping[str, Any], peers: Sequence[Point], pr: PhaseRating) -> dict | None:
    q = d.get("quality")
    if not isinstance(q, Mapping) or not isinstance(q.get("value"), (int, float)):
        return None
    sci = d.get("sci") or {}
    view = {"q": dict(q), "per_unit": d.get("co2e_g_per_quality_unit"), "svg": "", "note": ""}
    x_self, x_unit = sci.get("value"), sci.get("unit", "gCO2eq per functional unit")
    peer_pts = [p for p in peers if p.y is not None]
    if pr.available and peer_pts and pr.value:
        x_self, x_unit = pr.value, pr.unit or x_unit
    pts = [Point("this model", float(x_self), float(q["value"]), me=True)] if x_self else []
    pts += peer_pts
    if not peer_pts:
        view["note"] = ("No reference model publishes this quality metric on the same prompts, so only this model "
                        "is plotted; pass reference=[{model, value, quality}] to compare.")
    view["svg"] = Markup(pareto_svg(pts, x_unit, str(q.get("metric", "quality")),
                                    bool(q.get("higher_is_better", True))))
    return view


def _equivalents(co2e_g: float | None, g_per_kwh: float | None = None) -> list[dict[str, Any]]:
    """The one human equivalent the label shows too (``best_equivalent``), with its source; [] when none reads."""
    from ..core.equivalents import best_equivalent

    if co2e_g is None:
        return []
    try:
        e = best_equivalent(co2e_g, g_per_kwh=g_per_kwh)
    except (SCERError, ValueError, TypeError, KeyError):
        return []
    return [e] if e else []


def rating_sentence(pr: PhaseRating, boundary: str, fam: str = "Wh") -> str:
    """The rating in one sentence, each clause only when it has something to say."""
    s = f"The model's {boundary} value is {rating_value_text(pr, fam)}"
    if pr.uncertainty:
        s += f" (\u00b1 {_fmt.num(pr.uncertainty)})"
    if pr.percentile is not None:
        s += f"; it is better than {_fmt.num(pr.percentile, 2)}% of {pr.peers} reference models"
    cat = pr.category
    if cat:
        s += f" in peer group {cat.get('group') if isinstance(cat, Mapping) and cat.get('group') else cat}"
    return s + "."


_ENV = jinja2.Environment(loader=jinja2.PackageLoader("scer_hf", "templates"),
                          autoescape=jinja2.select_autoescape(["html", "j2"]))


def intensity_svg(live: Mapping[str, Any] | None, width: int = 560, height: int = 150) -> str:
    """Grid intensity over the run (live readings, fallbacks at the annual figure), as inline SVG; '' if none."""
    if not live:
        return ""
    pts = sorted([(float(s["t_s"]), float(s["g_per_kwh"]), False) for s in live.get("samples", [])]
                 + [(float(f["t_s"]), float(f["g_per_kwh"]), True) for f in live.get("fallbacks", [])
                    if f.get("g_per_kwh") is not None])
    if not pts:
        return ""
    t0, t1 = pts[0][0], max(pts[-1][0], pts[0][0] + 1e-9)
    gmax = max(g for _, g, _ in pts) * 1.15 or 1.0
    left, right, top, bottom = 48, 12, 12, 30
    x = lambda t: left + (t - t0) / (t1 - t0) * (width - left - right)  # noqa: E731
    y = lambda g: top + (1 - g / gmax) * (height - top - bottom)  # noqa: E731
    path = " ".join(f"{'M' if i == 0 else 'L'}{x(t):.1f},{y(g):.1f}" + (f" H{x(pts[i + 1][0]):.1f}"
                    if i + 1 < len(pts) else "") for i, (t, g, _) in enumerate(pts))
    dots = "".join(f'<circle cx="{x(t):.1f}" cy="{y(g):.1f}" r="3" fill="{"#b45309" if fb else "#1d4ed8"}">'
                   f"<title>{fmt_num(g)} gCO2eq per kWh{', fallback: annual figure' if fb else ''}</title></circle>"
                   for t, g, fb in pts)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="intensity" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="grid intensity over the run">'
            f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#999"/>'
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#999"/>'
            f'<text x="{left - 4}" y="{top + 8}" font-size="10" text-anchor="end">{fmt_num(gmax)}</text>'
            f'<text x="{left - 4}" y="{height - bottom}" font-size="10" text-anchor="end">0</text>'
            f'<text x="{width / 2}" y="{height - 8}" font-size="10" text-anchor="middle">run time, '
            f'{fmt_num(t1 - t0)} s, gCO2eq per kWh</text><path d="{path}" fill="none" stroke="#1d4ed8"/>{dots}</svg>')


def render_html(report: Report | Mapping[str, Any] | str | os.PathLike[str], rating: Any = None,
                reference: Iterable[Any] | None = None, *, manifest_url: str | None = None,
                auto_rate: bool = True, file_name: str | None = None) -> str:
    """The HTML report as text (see :func:`write_html_report`); *file_name*: the page's own file name, for the
    verify command it prints (``scer-hf verify`` re-renders the page and compares its text)."""
    rep = load_report(report)
    r = rating_of(rep, rating, auto=auto_rate)
    fields = label_view(rep, r, manifest_url, auto_rate=False)
    d = rep.to_dict()
    ctx = {
        "d": d, "f": fields, "tx": fields.texts, "manifest_url": manifest_url, "digest": rep.digest(),
        "label_svg": Markup(make_label(rep, r, manifest_url, auto_rate=False, file_name=file_name)),
        "verify_cmd": f"scer-hf verify {file_name}" if file_name else "scer-hf verify REPORT.json",
        "fmt": fmt_num, "mass": _fmt.co2e, "unit_text": _fmt.unit_text, "version": __version__,
        **_rating_view(rep, r, fields, reference),
        **_figures_view(rep, fields.texts),
        **_curve_view(d),
    }
    return _ENV.get_template("report.html.j2").render(**ctx)


def _rating_view(rep: Report, r: Rating | None, fields: LabelFields,
                 reference: Iterable[Any] | None) -> dict[str, Any]:
    """The rating section: this boundary's rating and the other's, the peers and their chart, the notes."""
    b = rep.boundary
    pr = phase_rating(r, b)
    other = phase_rating(r, "training" if b == "inference" else "inference")
    fam = fields.texts.energy_family
    peers = _peers(pr, reference)
    dist = distribution_svg(peers, pr.value, pr.unit or "", pr.uncertainty, rep.model.get("id") or "this model",
                            pr.star_bands) if pr.available and (peers or pr.value) else ""
    return {
        "rating": r, "pr": pr, "other": other, "peers": peers, "dist_svg": Markup(dist),
        "reasons": pr.not_comparable_reasons(), "indicative": pr.indicative_text(),
        "notes": _notes(pr, stars_shown=fields.stars is not None),
        "band_legend": band_legend(pr.star_bands, pr.unit or ""),
        "rating_sentence": rating_sentence(pr, b, fam) if pr.available else "",
        "other_value": rating_value_text(other, fam) if other.available else "",
        "quality": _quality_view(rep.to_dict(), peers, pr),
    }


def _notes(pr: PhaseRating, *, stars_shown: bool) -> list[str]:
    """The rating's notes the page lists: not the not-comparable reasons (shown apart), nor a note on stars
    that are not shown."""
    return [n for n in pr.notes if not str(n).startswith("not comparable: ")
            and (stars_shown or "stars clipped" not in str(n))]


def _figures_view(rep: Report, tx: ScopeTexts) -> dict[str, Any]:
    """The figures: SCI and its alternatives, energy and CO2e with their uncertainty, phases, grid over the run,
    embodied emissions and the human equivalent."""
    d = rep.to_dict()
    unc, fam = d.get("uncertainty") or {}, tx.energy_family
    return {
        "phases": _phase_rows(rep, fam),
        "intensity_svg": Markup(intensity_svg(rep.carbon.live)),
        "sci_value": tx.sci_value_text, "sci_unc": tx.sci_unc_text,
        "alts": [_alternative(a) for a in d.get("sci_alternatives", [])],
        "energy": tx.energy_text, "energy_unc": _fmt.energy(unc["energy_j"], fam) if unc.get("energy_j") else "",
        "co2e": tx.co2e_text, "co2e_unc": _fmt.co2e(unc["co2e_g"]) if unc.get("co2e_g") else "",
        "rel_unc": _fmt.percent(unc.get("relative", 0)),
        "embodied": d.get("embodied") or {},
        "equivalents": _equivalents(tx.total_co2e_g, rep.carbon.g_per_kwh),
    }


def _alternative(a: Mapping[str, Any]) -> dict[str, Any]:
    """One SCI alternative (per another functional unit) as the page shows it."""
    shown = _fmt.sci_display(a) or {}
    return {"value": fmt_num(shown.get("value")), "unit": shown.get("unit"),
            "r": fmt_num(a["r"] * a.get("scale", 1.0)), "count_key": a.get("count_key", "")}


def _curve_view(d: Mapping[str, Any]) -> dict[str, Any]:
    """A served benchmark's curve for the template: the chart, a row per level, the caption."""
    levels = curve_levels(d)
    return {"curve_svg": Markup(curve_svg(levels)) if levels else "", "curve_rows": curve_rows(levels),
            "curve_caption": curve_caption(d) if levels else ""}


def write_html_report(report: Report | Mapping[str, Any] | str | os.PathLike[str],
                      path: str | os.PathLike[str] = "scer_report.html", rating: Any = None,
                      reference: Iterable[Any] | None = None, *, manifest_url: str | None = None,
                      auto_rate: bool = True, overwrite: bool = False, parents: bool = False) -> Path:
    """Write the one-file HTML report to *path* and return it.

    ``rating``: a Rating, its dict or a JSON path (computed with ``scer_hf.rate`` when
    omitted and available). ``reference``: peers to plot, ``[{model, value, quality?}]``
    in the rating's unit; by default the rating's ``nearest_peers``.

    Like ``scer-hf report``: an existing *path* is replaced only with ``overwrite=True``, never when it is one of
    the inputs (the report or rating file) or a pipe/device; a missing folder is created only with
    ``parents=True``; a symbolic link is written through to its target. Raises
    :class:`~scer_hf.errors.OutputExistsError` or :class:`~scer_hf.errors.OutputWriteError` (naming *path*).
    """
    p = refuse_overwrite(path, overwrite=overwrite, inputs=input_paths(report, rating), flag="overwrite=True")
    require_folder(p, parents=parents)
    html = render_html(report, rating, reference, manifest_url=manifest_url, auto_rate=auto_rate, file_name=p.name)
    return atomic_write_text(p, html, parents=parents)
