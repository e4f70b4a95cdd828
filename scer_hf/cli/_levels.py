"""``scer-hf benchmark --endpoint``: the concurrency levels option and the curve as text (one fact per line)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from ..core import fmt
from ..core.report import Report
from ..core.report_views import BenchmarkView, IntervalView, LevelView, ReportView
from ..publish.figures import facts
from ..publish.inputs import report_view
from ._common import fact_lines

__all__ = ["parse_levels", "render_endpoint_text"]


def parse_levels(ctx: click.Context, param: click.Parameter, value: str | None) -> list[int] | None:
    """``--concurrency 1,8,32`` -> [1, 8, 32] (a usage error otherwise)."""
    if value is None:
        return None
    try:
        out = [int(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"{value!r}: whole numbers separated by commas, e.g. 1,8,32") from None
    if not out or any(c < 1 for c in out):
        raise click.BadParameter(f"{value!r}: at least one level, each 1 or more clients, e.g. 1,8,32")
    return out


def _n(x: float | None, unit: str = "") -> str:
    return "n/a" if x is None else f"{fmt.num(x)}{unit}"


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"{fmt.num(1000.0 * x)} ms"


def _level_lines(lv: LevelView) -> list[str]:
    ci = lv.ci or IntervalView()
    rel = ci.rel_half_width
    head = f"  concurrency {lv.concurrency}"
    meter_rel = lv.meter_uncertainty_rel
    out = [
        f"{head}: {lv.responses} responses, {lv.failed} failed, stopped by {lv.stopped_by}",
        f"    per response     : {_n(lv.j_per_response, ' J')} +/- {_n(ci.half_width_j, ' J')}"
        + ("" if rel is None else f", {fmt.num(100.0 * rel)} % of the mean"),
        f"    per 1,000 tokens : {_n(lv.j_per_1k_output_tokens, ' J')} per 1,000 output tokens",
        (f"    meters           : +/- {_n(None if meter_rel is None else 100.0 * meter_rel, ' %')}"
         " of the energy, the meters' own uncertainty"),
        (f"    throughput       : {_n(lv.throughput_output_tokens_per_s, ' tokens/s')}, "
         f"{_n(lv.responses_per_s, ' responses/s')}"),
        f"    latency          : median {_ms(lv.latency_s.p50)}, p90 {_ms(lv.latency_s.p90)}",
        f"    first token      : median {_ms(lv.ttft_s.p50)}, p90 {_ms(lv.ttft_s.p90)}",
    ]
    if lv.failures:
        out.append("    failures         : " + ", ".join(f"{k} x{v}" for k, v in sorted(lv.failures.items())))
    return out


def render_endpoint_text(d: Report | ReportView | Mapping[str, Any], saved: str | None = None) -> str:
    """A summary of an endpoint benchmark report: where, what, then one block per concurrency level."""
    r = report_view(d)
    b = r.benchmark or BenchmarkView()
    ep = b.endpoint
    lines = [
        f"scer-hf benchmark of {ep.model} at {ep.url}",
        f"  protocol      : {b.protocol}, endpoint, setting {b.setting}, api {ep.api}",
        f"  new tokens    : at most {b.max_new_tokens} per response, warm-up {b.warmup} per level",
        f"  energy        : {ep.energy}",
        f"  hardware      : {b.hardware or 'not recorded'} ({b.hardware_basis or 'detected'})",
    ]
    for lv in b.levels:
        lines += _level_lines(lv)
    if shown := fmt.sci_display(r.sci.to_dict() if r.sci is not None else None):
        lines.append(f"  SCI           : {shown['text']} (all levels together)")
    lines += fact_lines([f for f in facts(r) if f.key not in ("date", "hardware")])
    if saved:
        lines.append(f"report written to {saved}")
    return "\n".join(lines)
