"""The HTML report's charts as inline SVG: the reference distribution, the energy-quality Pareto view and the
grid intensity over the run. Points are typed (:class:`Point`); dicts of the usual spellings are accepted."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from xml.sax.saxutils import escape

from ..core import fmt as _fmt
from .label import COLOURS, fmt_num

__all__ = ["Point", "distribution_svg", "pareto_front", "pareto_svg", "band_legend", "intensity_svg"]


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
                         f'fill="{COLOURS.ink}">{int(b["stars"])}\u2605</text>')
    return parts


def _value_axis(axis: _Axis, unit: str) -> list[str]:
    """The axis line, a tick and label per decade, and the unit."""
    W, L, R = axis.W, axis.L, axis.R
    parts = [f'<line x1="{L}" y1="120" x2="{W - R}" y2="120" stroke="{COLOURS.muted}" stroke-width="1.5"/>']
    for e in range(axis.lo, axis.hi + 1):
        xx = axis.x(10.0 ** e)
        parts.append(f'<line x1="{xx:.1f}" y1="115" x2="{xx:.1f}" y2="125" stroke="{COLOURS.muted}"/>')
        parts.append(f'<text x="{xx:.1f}" y="142" text-anchor="middle" font-size="13" fill="{COLOURS.ink}">'
                     f'{escape(fmt_num(10.0 ** e))}</text>')
    parts.append(f'<text x="{W / 2}" y="172" text-anchor="middle" font-size="13" fill="{COLOURS.muted}">'
                 f'{escape(_fmt.unit_text(unit))} (log scale; lower is better)</text>')
    return parts


def _marker(axis: _Axis, value: float, uncertainty: float | None, model: str) -> list[str]:
    """The rated model: a diamond with its error bar, a dashed drop line and its name above."""
    xv, ink = axis.x(value), COLOURS.grade_C
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


@dataclass(frozen=True)
class _Frame:
    """The Pareto view's plot: carbon on a log axis (decades *lo* to *hi*), quality from *ylo* to *yhi*."""

    lo: int
    hi: int
    ylo: float
    yhi: float
    W: int = 760
    H: int = 320
    L: int = 70
    R: int = 30
    T: int = 20
    B: int = 60

    @classmethod
    def of(cls, pts: Sequence[Point]) -> _Frame:
        lo, hi = _log_axis([p.x for p in pts])
        ys = [_y(p) for p in pts]
        ylo, yhi = min(ys), max(ys)
        if ylo == yhi:  # one quality: a range around it
            ylo, yhi = ylo - abs(ylo) * 0.1 - 1, yhi + abs(yhi) * 0.1 + 1
        return cls(lo, hi, ylo, yhi)

    def px(self, v: float) -> float:
        return self.L + (math.log10(v) - self.lo) / (self.hi - self.lo) * (self.W - self.L - self.R)

    def py(self, v: float) -> float:
        return self.T + (self.yhi - v) / (self.yhi - self.ylo) * (self.H - self.T - self.B)


def _pareto_axes(f: _Frame, x_unit: str, metric: str, higher_is_better: bool) -> list[str]:
    """The panel, the decade ticks, three quality ticks and both axis titles (which way is better)."""
    W, H, L, R, T, B = f.W, f.H, f.L, f.R, f.T, f.B
    parts = [f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="{COLOURS.panel}"/>']
    for e in range(f.lo, f.hi + 1):
        xx = f.px(10.0 ** e)
        parts.append(f'<text x="{xx:.1f}" y="{H - B + 18}" text-anchor="middle" font-size="13" '
                     f'fill="{COLOURS.ink}">{escape(fmt_num(10.0 ** e))}</text>')
    for v in (f.ylo, (f.ylo + f.yhi) / 2, f.yhi):
        parts.append(f'<text x="{L - 6}" y="{f.py(v) + 4:.1f}" text-anchor="end" font-size="13" '
                     f'fill="{COLOURS.ink}">{escape(fmt_num(v))}</text>')
    parts.append(f'<text x="{(W + L) / 2}" y="{H - 14}" text-anchor="middle" font-size="13" '
                 f'fill="{COLOURS.muted}">{escape(_fmt.unit_text(x_unit))} (log scale; left is better)</text>')
    better = "higher" if higher_is_better else "lower"
    parts.append(f'<text x="14" y="{(H - B + T) / 2}" font-size="13" fill="{COLOURS.muted}" '
                 f'transform="rotate(-90 14 {(H - B + T) / 2})" text-anchor="middle">'
                 f'{escape(metric)} ({better} is better)</text>')
    return parts


def _front_line(f: _Frame, front: Sequence[Point]) -> list[str]:
    """The Pareto front as a dashed line (nothing for a front of one point)."""
    if len(front) <= 1:
        return []
    d = " ".join(f"{f.px(p.x):.1f},{f.py(_y(p)):.1f}" for p in front)
    return [(f'<polyline points="{d}" fill="none" stroke="{COLOURS.band}" stroke-width="2" '
             f'stroke-dasharray="6 4"/>')]


def _pareto_dot(f: _Frame, p: Point) -> list[str]:
    """One model's dot and name (the model rated larger, in its own colour)."""
    color = COLOURS.grade_C if p.me else "#1d4ed8"
    dot = (f'<circle cx="{f.px(p.x):.1f}" cy="{f.py(_y(p)):.1f}" r="{8 if p.me else 6}" fill="{color}">'
           f'<title>{escape(p.model)}</title></circle>')
    name = (f'<text x="{f.px(p.x) + 11:.1f}" y="{f.py(_y(p)) + 4:.1f}" font-size="13" '
            f'fill="{COLOURS.ink}">{escape(p.model)}</text>')
    return [dot, name]


def pareto_svg(points: Sequence[Point | Mapping[str, Any]], x_unit: str, metric: str, higher_is_better: bool) -> str:
    """Scatter of carbon (x, log) against quality (y) with the Pareto front drawn."""
    pts = [Point.of(p) for p in points]
    if not pts:
        return ""
    f = _Frame.of(pts)
    parts = _pareto_axes(f, x_unit, metric, higher_is_better)
    parts += _front_line(f, pareto_front(pts, higher_is_better))
    for p in pts:
        parts += _pareto_dot(f, p)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {f.W} {f.H}" width="100%" role="img" '
            f'aria-label="Energy-quality Pareto view">{"".join(parts)}</svg>')


def _intensity_points(live: Mapping[str, Any]) -> list[tuple[float, float, bool]]:
    """(t_s, g_per_kwh, is_fallback) of the live readings and the fallbacks that have a figure, in time order."""
    return sorted([(float(s["t_s"]), float(s["g_per_kwh"]), False) for s in live.get("samples", [])]
                  + [(float(f["t_s"]), float(f["g_per_kwh"]), True) for f in live.get("fallbacks", [])
                     if f.get("g_per_kwh") is not None])


def _step_path(pts: Sequence[tuple[float, float, bool]], x: Callable[[float], float],
               y: Callable[[float], float]) -> str:
    """An SVG path holding each reading until the next one (a step line)."""
    steps = []
    for i, (t, g, _) in enumerate(pts):
        step = f"{'M' if i == 0 else 'L'}{x(t):.1f},{y(g):.1f}"
        if i + 1 < len(pts):
            step += f" H{x(pts[i + 1][0]):.1f}"
        steps.append(step)
    return " ".join(steps)


def _intensity_dot(x: float, y: float, g: float, fallback: bool) -> str:
    """One reading's dot; a fallback (the annual figure) in amber and said so."""
    return (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{"#b45309" if fallback else "#1d4ed8"}">'
            f"<title>{fmt_num(g)} gCO2eq per kWh{', fallback: annual figure' if fallback else ''}</title></circle>")


def intensity_svg(live: Mapping[str, Any] | None, width: int = 560, height: int = 150) -> str:
    """Grid intensity over the run (live readings, fallbacks at the annual figure), as inline SVG; '' if none."""
    pts = _intensity_points(live) if live else []
    if not pts:
        return ""
    t0, t1 = pts[0][0], max(pts[-1][0], pts[0][0] + 1e-9)
    gmax = max(g for _, g, _ in pts) * 1.15 or 1.0
    left, right, top, bottom = 48, 12, 12, 30

    def x(t: float) -> float:
        return left + (t - t0) / (t1 - t0) * (width - left - right)

    def y(g: float) -> float:
        return top + (1 - g / gmax) * (height - top - bottom)

    path = _step_path(pts, x, y)
    dots = "".join(_intensity_dot(x(t), y(g), g, fb) for t, g, fb in pts)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="intensity" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="grid intensity over the run">'
            f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#999"/>'
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#999"/>'
            f'<text x="{left - 4}" y="{top + 8}" font-size="10" text-anchor="end">{fmt_num(gmax)}</text>'
            f'<text x="{left - 4}" y="{height - bottom}" font-size="10" text-anchor="end">0</text>'
            f'<text x="{width / 2}" y="{height - 8}" font-size="10" text-anchor="middle">run time, '
            f'{fmt_num(t1 - t0)} s, gCO2eq per kWh</text><path d="{path}" fill="none" stroke="#1d4ed8"/>{dots}</svg>')
