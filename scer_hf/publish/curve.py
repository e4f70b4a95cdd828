"""The serving curve of an endpoint benchmark: energy per 1,000 output tokens and throughput at each concurrency.

One source for both outputs: :func:`curve_levels` reads ``benchmark.levels`` of a report; :func:`curve_svg` draws
it (the label embeds a small one, the HTML report a large one with :func:`curve_rows` as its table). Figures go
through :mod:`scer_hf.core.fmt`; a level with no figure (nothing answered, or energy not measured here) is drawn
as a gap with "n/a", never as zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from ..core import fmt as _fmt
from ..core.report import Report
from ..core.report_views import EndpointView, LatencyView, LevelView, ReportView
from .inputs import report_view

__all__ = ["curve_levels", "curve_level_views", "curve_svg", "curve_rows", "curve_caption", "curve_note",
           "label_block"]

_INK, _MUTED, _LINE, _RULE, _DOT = "#111827", "#374151", "#1d4ed8", "#9ca3af", "#1e3a8a"


def curve_levels(d: Report | ReportView | Mapping[str, Any]) -> list[dict[str, Any]]:
    """The levels of an endpoint benchmark report (empty for any other report), in concurrency order, as the
    report holds them (:func:`curve_level_views` gives them typed)."""
    return [lv.to_dict() for lv in curve_level_views(report_view(d))]


def curve_level_views(d: Report | ReportView) -> list[LevelView]:
    """The levels of an endpoint benchmark report as :class:`LevelView` (empty for any other report)."""
    bench = (d.view if isinstance(d, Report) else d).benchmark
    return bench.curve if bench is not None else []


def _endpoint(d: Report | ReportView) -> EndpointView:
    bench = (d.view if isinstance(d, Report) else d).benchmark
    return bench.endpoint if bench is not None else EndpointView()


def curve_note(d: Report | ReportView) -> str | None:
    """What the label says under the curve when its energy was not measured on this machine (else None)."""
    if _endpoint(d).measured_here:
        return None
    return "energy not measured here: a remote server"


def curve_caption(d: Report | ReportView) -> str:
    ep = _endpoint(d)
    where = "energy of this machine" if ep.measured_here else "energy not measured here"
    return (f"{ep.model or '?'} served at {ep.url or '?'}: J per 1,000 output tokens (line) and output "
            f"tokens per second (bars) at each concurrency level; {where}")


def _levels(levels: Sequence[LevelView | Mapping[str, Any]]) -> list[LevelView]:
    """Levels given as views or as the report's dicts, as views."""
    return [lv if isinstance(lv, LevelView) else LevelView.from_dict(lv) for lv in levels]


def _y(v: float, top: float, y0: float, h: float) -> float:
    return y0 + h - (v / top) * h if top > 0 else y0 + h


@dataclass(frozen=True)
class _Plot:
    """The curve's plot area: origin (*x0*, *y0*) top left, *w* x *h*, one column per level centred at ``xs``."""

    x0: float
    y0: float
    w: float
    h: float
    xs: tuple[float, ...]
    font: float

    @property
    def base(self) -> float:
        return self.y0 + self.h


def curve_svg(levels: Sequence[LevelView | Mapping[str, Any]], *, width: float = 560, height: float = 220, x: float = 0,
              y: float = 0, font: float = 12, standalone: bool = True,
              title: str = "Energy per 1,000 output tokens by concurrency") -> str:
    """The curve as SVG (a ``<g>`` at (*x*, *y*) when not *standalone*). No text smaller than *font*."""
    if not levels:
        return ""
    lvs = _levels(levels)
    left, right, top_pad, bottom = 8.0, 8.0, font * 2.2, font * 3.2
    w, h, n = width - left - right, height - top_pad - bottom, len(levels)
    plot = _Plot(x + left, y + top_pad, w, h, tuple(x + left + (w * (i + 0.5) / n) for i in range(n)), font)
    out = ['<g font-family="DejaVu Sans, Verdana, Arial, sans-serif">']
    out.append(f'<text x="{plot.x0:.1f}" y="{y + font * 1.1:.1f}" font-size="{font}" fill="{_INK}" '
               f'font-weight="bold">{escape(title)}</text>')
    out.append(f'<line x1="{plot.x0:.1f}" y1="{plot.base:.1f}" x2="{plot.x0 + w:.1f}" y2="{plot.base:.1f}" '
               f'stroke="{_RULE}"/>')
    out += _throughput_bars(plot, lvs)
    out += _energy_line(plot, [lv.j_per_1k_output_tokens for lv in lvs])
    out.append("</g>")
    body = "".join(out)
    if not standalone:
        return body
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:g} {height:g}" width="{width:g}" '
            f'height="{height:g}" role="img" aria-label="Energy per 1,000 output tokens and throughput by '
            f'concurrency">{body}</svg>')


def _throughput_bars(plot: _Plot, levels: Sequence[LevelView]) -> list[str]:
    """Throughput as light bars behind, with each level's concurrency and speed below the axis."""
    tp = [lv.throughput_output_tokens_per_s for lv in levels]
    t_top = max((v for v in tp if v is not None), default=0.0) * 1.25
    bar_w = min(plot.w / len(levels) * 0.45, 40.0)
    out = []
    for xi, lv, speed in zip(plot.xs, levels, tp, strict=True):
        if speed is not None and t_top > 0:
            by = _y(speed, t_top, plot.y0, plot.h)
            out.append(f'<rect x="{xi - bar_w / 2:.1f}" y="{by:.1f}" width="{bar_w:.1f}" '
                       f'height="{plot.base - by:.1f}" fill="#dbeafe"/>')
        out.append(f'<text x="{xi:.1f}" y="{plot.base + plot.font * 1.2:.1f}" font-size="{plot.font}" fill="{_INK}" '
                   f'text-anchor="middle">c={lv.concurrency}</text>')
        said = "n/a" if speed is None else f"{_fmt.num(speed)} tok/s"
        out.append(f'<text x="{xi:.1f}" y="{plot.base + plot.font * 2.4:.1f}" font-size="{plot.font}" '
                   f'fill="{_MUTED}" text-anchor="middle">{escape(said)}</text>')
    return out


def _energy_line(plot: _Plot, e: Sequence[float | None]) -> list[str]:
    """Energy per 1,000 output tokens as a line through one labelled dot per level ("n/a" where not measured)."""
    e_top = max((v for v in e if v is not None), default=0.0) * 1.25
    pts = [(xi, _y(v, e_top, plot.y0, plot.h)) for xi, v in zip(plot.xs, e, strict=True) if v is not None]
    out = []
    if len(pts) > 1:
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{_LINE}" stroke-width="2"/>')
    for xi, v in zip(plot.xs, e, strict=True):
        out += _energy_dot(plot, xi, v, e_top)
    return out


def _energy_dot(plot: _Plot, xi: float, v: float | None, e_top: float) -> list[str]:
    """One level's dot and its energy above it; "n/a" on the axis where it was not measured (never a zero)."""
    font = plot.font
    if v is None:
        return [(f'<text x="{xi:.1f}" y="{plot.base - font * 0.5:.1f}" font-size="{font}" fill="{_MUTED}" '
                 'text-anchor="middle">n/a</text>')]
    py = _y(v, e_top, plot.y0, plot.h)
    return [f'<circle cx="{xi:.1f}" cy="{py:.1f}" r="{max(3.0, font / 3):.1f}" fill="{_DOT}"/>',
            (f'<text x="{xi:.1f}" y="{py - font * 0.6:.1f}" font-size="{font}" fill="{_INK}" '
             f'text-anchor="middle">{escape(_fmt.num(v))} J</text>')]


def _ms(v: Any) -> str:
    return "n/a" if v is None or not math.isfinite(float(v)) else f"{_fmt.num(1000.0 * float(v))} ms"


def _n(v: Any, unit: str = "") -> str:
    return "n/a" if v is None else f"{_fmt.num(v)}{unit}"


def _p50_p90(stats: LatencyView) -> str:
    """A latency's median and 90th percentile in ms (``12.3 ms / 20.1 ms``), "n/a" for each one absent."""
    return f"{_ms(stats.p50)} / {_ms(stats.p90)}"


def _responses(lv: LevelView) -> str:
    """The level's responses, and how many failed when some did."""
    return f"{lv.responses}" + (f", {lv.failed} failed" if lv.failed else "")


def _curve_row(lv: LevelView) -> dict[str, str | None]:
    """One level as a row of text for the HTML table."""
    half = lv.ci.half_width_j if lv.ci is not None else None
    return {
        "concurrency": str(lv.concurrency),
        "responses": _responses(lv),
        "j_per_response": _n(lv.j_per_response, " J"),
        "j_per_response_ci": None if half is None else f"{_fmt.num(half)} J",
        "j_per_1k": _n(lv.j_per_1k_output_tokens, " J"),
        "throughput": _n(lv.throughput_output_tokens_per_s),
        "latency": _p50_p90(lv.latency_s),
        "ttft": _p50_p90(lv.ttft_s),
        "stopped_by": str(lv.stopped_by),
        "failures": ", ".join(f"{k} x{v}" for k, v in sorted(lv.failures.items())),
    }


def curve_rows(levels: Sequence[LevelView]) -> list[dict[str, str | None]]:
    """One row of text per level for the HTML table."""
    return [_curve_row(lv) for lv in levels]


def label_block(levels: Sequence[LevelView], y: float, width: float, pad: float,
                note: str | None = None) -> tuple[str, float]:
    """The curve as the label draws it, below *y* (11-unit text, the label's smallest), with *note* under it:
    (svg, the next y)."""
    if not levels:
        return "", y
    h = 150.0
    svg = curve_svg(levels, width=width - 2 * pad + 16, height=h, x=pad - 8, y=y - 10, font=11, standalone=False,
                    title="J per 1,000 output tokens, by concurrency")
    if note:
        svg += (f'<text x="{pad:.1f}" y="{y + h - 4:.1f}" font-size="11" fill="{_MUTED}" '
                f'font-family="DejaVu Sans, Verdana, Arial, sans-serif">{escape(note)}</text>')
        h += 14
    return svg, y + h
