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
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import jinja2
from markupsafe import Markup

from .._io import atomic_write_text, refuse_overwrite, require_folder
from .._version import __version__
from ..core import fmt as _fmt
from ..core.report import Report, load_report
from ..core.report_files import input_paths
from ..errors import SCERError
from ..rating import resolve_rating
from ..rating.result import indicative_text, not_comparable_reasons
from .curve import curve_caption, curve_levels, curve_rows, curve_svg
from .figures import rating_value_text
from .label import PALETTE, fmt_num, label_fields, make_label

__all__ = ["write_html_report", "render_html", "distribution_svg", "pareto_svg", "pareto_front", "band_legend"]

_NAME_KEYS = ("model", "model_id", "id", "name")
_VALUE_KEYS = ("value", "sci_value", "sci", "energy", "energy_value")


def _peer(p: Any) -> dict[str, Any] | None:
    """A peer as {model, value, quality?} from a dict of any of the usual key spellings."""
    if not isinstance(p, Mapping):
        return None
    name = next((str(p[k]) for k in _NAME_KEYS if p.get(k)), "?")
    value = next((p[k] for k in _VALUE_KEYS if isinstance(p.get(k), (int, float))), None)
    if value is None or not math.isfinite(value) or value <= 0:
        return None
    out = {"model": name, "value": float(value), "ref_id": p.get("ref_id")}
    q = p.get("quality")
    if isinstance(q, Mapping):
        q = q.get("value")
    if isinstance(q, (int, float)) and math.isfinite(q):
        out["quality"] = float(q)
    return out


def _group_rows(pr: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every reference row of the rating's peer group (``scer_hf.rating.reference``), in the rating's unit."""
    group = (pr.get("category") or {}).get("group")
    if not group:
        return []
    from ..rating import reference

    try:
        rows = reference.rows(pr.get("phase") or "inference")
    except SCERError:
        return []
    unit = pr.get("unit") or ""
    return [{"model": r.get("model_key"), "value": r.get("value")} for r in rows
            if r.get("group") == group and r.get("value") is not None
            and str(r.get("value_unit") or unit).startswith(unit)]


def _peers(pr: Mapping[str, Any], reference: Iterable[Any] | None) -> list[dict[str, Any]]:
    """The peers to plot: *reference* when given, else exactly the peers the rating counted (``peer_values``),
    so the chart shows what the text counts; ratings written before ``peer_values`` fall back to the group."""
    rows: list[Any] = list(reference or [])
    if not rows:
        rows = list(pr.get("peer_values") or []) or _group_rows(pr) or list(pr.get("nearest_peers") or [])
    seen: set[tuple[Any, float]] = set()
    out = []
    for p in rows:
        q = _peer(p)
        if q and (q["ref_id"] or q["model"], q["value"]) not in seen:
            seen.add((q["ref_id"] or q["model"], q["value"]))
            out.append(q)
    return out


# ------------------------------------------------------------------ plots -------------
def _log_axis(values: Sequence[float]) -> tuple[float, float]:
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


def distribution_svg(peers: Sequence[Mapping[str, Any]], value: float | None, unit: str,
                     uncertainty: float | None = None, model: str = "this model",
                     star_bands: Sequence[Mapping[str, Any]] | None = None) -> str:
    """Peers' values as dots on a log axis, the model as a marked diamond with its error bar.

    ``star_bands`` (``[{stars, from, to}]``, the AI Energy Score bands) are shaded behind.
    """
    vals = [p["value"] for p in peers] + ([value] if value else [])
    if not vals:
        return ""
    W, H, L, R = 760, 190, 30, 30
    lo, hi = _log_axis(vals)

    def x(v: float) -> float:
        return L + (math.log10(v) - lo) / (hi - lo) * (W - L - R)

    parts = []
    for b in star_bands or []:
        a, z = max(float(b["from"]), 10.0 ** lo), min(float(b["to"]), 10.0 ** hi)
        if z <= a or z <= 0:
            continue
        xa, xz = x(a), x(z)
        parts.append(f'<rect x="{xa:.1f}" y="66" width="{xz - xa:.1f}" height="54" '
                     f'fill="{_BAND_FILL.get(int(b["stars"]), "#f3f4f6")}"/>')
        if xz - xa > 34:
            parts.append(f'<text x="{(xa + xz) / 2:.1f}" y="80" text-anchor="middle" font-size="12" '
                         f'fill="{PALETTE["ink"]}">{int(b["stars"])}\u2605</text>')
    parts.append(f'<line x1="{L}" y1="120" x2="{W - R}" y2="120" stroke="{PALETTE["muted"]}" stroke-width="1.5"/>')
    for e in range(lo, hi + 1):
        xx = x(10.0 ** e)
        parts.append(f'<line x1="{xx:.1f}" y1="115" x2="{xx:.1f}" y2="125" stroke="{PALETTE["muted"]}"/>')
        parts.append(f'<text x="{xx:.1f}" y="142" text-anchor="middle" font-size="13" fill="{PALETTE["ink"]}">'
                     f'{escape(fmt_num(10.0 ** e))}</text>')
    parts.append(f'<text x="{W / 2}" y="172" text-anchor="middle" font-size="13" fill="{PALETTE["muted"]}">'
                 f'{escape(_fmt.unit_text(unit))} (log scale; lower is better)</text>')
    for i, p in enumerate(sorted(peers, key=lambda p: p["value"])):
        xx = x(p["value"])
        yy = 112 - (i % 3) * 9
        parts.append(f'<circle cx="{xx:.1f}" cy="{yy}" r="6" fill="#1d4ed8" fill-opacity="0.55" stroke="#1e3a8a">'
                     f'<title>{escape(p["model"])}: {escape(fmt_num(p["value"]))} '
                     f'{escape(_fmt.unit_text(unit))}</title></circle>')
    if value:
        xv = x(value)
        if uncertainty:
            a, b = x(max(value - uncertainty, 10.0 ** lo)), x(value + uncertainty)
            parts.append(f'<line x1="{a:.1f}" y1="40" x2="{b:.1f}" y2="40" stroke="{PALETTE["grade_C"]}" '
                         f'stroke-width="2"/>')
        parts.append(f'<polygon points="{xv:.1f},28 {xv + 9:.1f},40 {xv:.1f},52 {xv - 9:.1f},40" '
                     f'fill="{PALETTE["grade_C"]}"><title>{escape(model)}</title></polygon>')
        parts.append(f'<line x1="{xv:.1f}" y1="52" x2="{xv:.1f}" y2="120" stroke="{PALETTE["grade_C"]}" '
                     f'stroke-dasharray="3 3"/>')
        # the name sits above the diamond and its error bar (y 28-52), never across them
        anchor = "start" if xv < W / 2 else "end"
        dx = -6 if anchor == "start" else 6
        parts.append(f'<text x="{xv + dx:.1f}" y="20" text-anchor="{anchor}" font-size="14" font-weight="bold" '
                     f'fill="{PALETTE["grade_C"]}">{escape(model)}: {escape(fmt_num(value))}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="100%" role="img" '
            f'aria-label="Reference distribution: {len(peers)} peers and this model">{"".join(parts)}</svg>')


def pareto_front(points: Sequence[Mapping[str, Any]], higher_is_better: bool) -> list[Mapping[str, Any]]:
    """Points not dominated in (lower carbon, better quality), sorted by carbon."""
    def better_or_equal(a: float, b: float) -> bool:
        return a >= b if higher_is_better else a <= b

    front = []
    for p in points:
        dominated = any(
            q is not p and q["x"] <= p["x"] and better_or_equal(q["y"], p["y"])
            and (q["x"] < p["x"] or q["y"] != p["y"]) for q in points)
        if not dominated:
            front.append(p)
    return sorted(front, key=lambda p: p["x"])


def pareto_svg(points: Sequence[Mapping[str, Any]], x_unit: str, metric: str, higher_is_better: bool) -> str:
    """Scatter of carbon (x, log) against quality (y) with the Pareto front drawn."""
    if not points:
        return ""
    W, H, L, R, T, B = 760, 320, 70, 30, 20, 60
    lo, hi = _log_axis([p["x"] for p in points])
    ys = [p["y"] for p in points]
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
    front = pareto_front(points, higher_is_better)
    if len(front) > 1:
        d = " ".join(f"{px(p['x']):.1f},{py(p['y']):.1f}" for p in front)
        parts.append(f'<polyline points="{d}" fill="none" stroke="{PALETTE["band"]}" stroke-width="2" '
                     f'stroke-dasharray="6 4"/>')
    for p in points:
        me = p.get("self")
        color = PALETTE["grade_C"] if me else "#1d4ed8"
        parts.append(f'<circle cx="{px(p["x"]):.1f}" cy="{py(p["y"]):.1f}" r="{8 if me else 6}" fill="{color}">'
                     f'<title>{escape(p["model"])}</title></circle>')
        parts.append(f'<text x="{px(p["x"]) + 11:.1f}" y="{py(p["y"]) + 4:.1f}" font-size="13" '
                     f'fill="{PALETTE["ink"]}">{escape(p["model"])}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="100%" role="img" '
            f'aria-label="Energy-quality Pareto view">{"".join(parts)}</svg>')


# ------------------------------------------------------------------ report ------------
def _in_tree_order(phases: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Top-level phases in report order, each followed by its children (epochs under train)."""
    names = {p["name"] for p in phases}
    out: list[Mapping[str, Any]] = []

    def add(p: Mapping[str, Any]) -> None:
        out.append(p)
        for c in phases:
            if c.get("parent") == p["name"] and c is not p:
                add(c)

    for p in phases:
        if p.get("parent") is None or p.get("parent") not in names:
            add(p)
    return out


def _phase_rows(d: Mapping[str, Any], fam: str = "J") -> list[dict[str, Any]]:
    rows = []
    for p in _in_tree_order(d["phases"]):
        e = p["energy_j"]["total"]
        unc = p.get("energy_uncertainty_j") or 0.0
        rel = unc / e if e else 0.0
        cov = (p.get("coverage") or {}).get("measured_fraction", 1.0)
        filled = (p.get("energy_j_filled") or {}).get("total")
        rows.append({
            "name": p["name"], "kind": p.get("kind") or "", "parent": p.get("parent") or "",
            "duration": _fmt.duration(p["duration_s"]),
            "energy": _fmt.energy(e, fam) if e is not None else "not measured",
            "coverage": (f"measured {_fmt.coverage(cov)}" + (f", {_fmt.energy(filled, fam)} filled" if filled else ""))
            if isinstance(cov, (int, float)) and cov < 1 else "",
            "energy_unc": _fmt.energy(unc, fam) if unc else "", "co2e": _fmt.co2e(p.get("co2e_g")),
            "co2e_unc": _fmt.co2e((p.get("co2e_g") or 0.0) * rel) if rel else "",
            "counts": ", ".join(f"{k} {fmt_num(v)}" for k, v in p.get("counts", {}).items()),
            "method": p.get("method", ""), "measured": p.get("measured", True),
            "components": ", ".join(f"{k} {fmt_num(v)} J" for k, v in p["energy_j"].items() if k != "total"),
            "errors": "; ".join(p.get("errors") or []),
        })
    return rows


def _quality_view(d: Mapping[str, Any], peers: Sequence[Mapping[str, Any]], pr: Mapping[str, Any]) -> dict | None:
    q = d.get("quality")
    if not isinstance(q, Mapping) or not isinstance(q.get("value"), (int, float)):
        return None
    sci = d.get("sci") or {}
    view = {"q": dict(q), "per_unit": d.get("co2e_g_per_quality_unit"), "svg": "", "note": ""}
    x_self, x_unit = sci.get("value"), sci.get("unit", "gCO2eq per functional unit")
    peer_pts = [p for p in peers if "quality" in p]
    if pr.get("available") and peer_pts and pr.get("value"):
        x_self, x_unit = pr["value"], pr.get("unit") or x_unit
    pts = [{"model": "this model", "x": x_self, "y": float(q["value"]), "self": True}] if x_self else []
    pts += [{"model": p["model"], "x": p["value"], "y": p["quality"]} for p in peer_pts]
    if not peer_pts:
        view["note"] = ("No reference model publishes this quality metric on the same prompts, so only this model "
                        "is plotted; pass reference=[{model, value, quality}] to compare.")
    view["svg"] = Markup(pareto_svg(pts, x_unit, str(q.get("metric", "quality")),
                                    bool(q.get("higher_is_better", True))))
    return view


def _equivalents(co2e_g: float, g_per_kwh: float | None = None) -> list[dict[str, Any]]:
    """The one human equivalent the label shows too (``best_equivalent``), with its source; [] when none reads."""
    from ..core.equivalents import best_equivalent

    try:
        e = best_equivalent(co2e_g, g_per_kwh=g_per_kwh)
    except (SCERError, ValueError, TypeError, KeyError):
        return []
    return [e] if e else []


def rating_sentence(pr: Mapping[str, Any], boundary: str, fam: str = "Wh") -> str:
    """The rating in one sentence, each clause only when it has something to say."""
    s = f"The model's {boundary} value is {rating_value_text(pr, fam)}"
    if pr.get("uncertainty"):
        s += f" (\u00b1 {_fmt.num(pr['uncertainty'])})"
    if pr.get("percentile") is not None:
        s += f"; it is better than {_fmt.num(pr['percentile'], 2)}% of {pr.get('peers')} reference models"
    cat = pr.get("category")
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
    d = rep.to_dict()
    r = resolve_rating(rep, rating, auto=auto_rate)
    fields = label_fields(rep, r, manifest_url, auto_rate=False)
    pr = (r or {}).get(d["boundary"]) or {}
    other = (r or {}).get("training" if d["boundary"] == "inference" else "inference") or {}
    peers = _peers(pr, reference)
    dist = ""
    if pr.get("available") and (peers or pr.get("value")):
        dist = distribution_svg(peers, pr.get("value"), pr.get("unit") or "", pr.get("uncertainty"),
                                d["model"].get("id") or "this model", pr.get("star_bands"))
    unc = d.get("uncertainty") or {}
    tx = fields["texts"]
    fam = tx["energy_family"]
    ctx = {
        "d": d, "f": fields, "rating": r, "pr": pr, "other": other, "peers": peers,
        "label_svg": Markup(make_label(rep, r, manifest_url, auto_rate=False, file_name=file_name)),
        "verify_cmd": f"scer-hf verify {file_name}" if file_name else "scer-hf verify REPORT.json",
        "manifest_url": manifest_url,
        "reasons": not_comparable_reasons(dict(pr)), "indicative": indicative_text(dict(pr)),
        "notes": [n for n in pr.get("notes") or [] if not str(n).startswith("not comparable: ")
                  and not (fields["stars"] is None and "stars clipped" in str(n))],  # stars not shown: no note
        "band_legend": band_legend(pr.get("star_bands"), pr.get("unit") or ""),
        "dist_svg": Markup(dist), "phases": _phase_rows(d, fam), "tx": tx,
        "intensity_svg": Markup(intensity_svg(d["carbon"].get("live"))),
        "sci_value": tx["sci_value_text"], "sci_unc": tx["sci_unc_text"],
        "alts": [{"value": fmt_num(_fmt.sci_display(a)["value"]), "unit": _fmt.sci_display(a)["unit"],
                  "r": fmt_num(a["r"] * a.get("scale", 1.0)), "count_key": a.get("count_key", "")}
                 for a in d.get("sci_alternatives", [])],
        "energy": tx["energy_text"], "energy_unc": _fmt.energy(unc["energy_j"], fam) if unc.get("energy_j") else "",
        "co2e": tx["co2e_text"], "co2e_unc": _fmt.co2e(unc["co2e_g"]) if unc.get("co2e_g") else "",
        "rel_unc": _fmt.percent(unc.get("relative", 0)), "quality": _quality_view(d, peers, pr),
        "fmt": fmt_num, "mass": _fmt.co2e, "unit_text": _fmt.unit_text, "version": __version__, "digest": rep.digest(),
        "rating_sentence": rating_sentence(pr, d["boundary"], fam) if pr.get("available") else "",
        "other_value": rating_value_text(other, fam) if other.get("available") else "",
        "embodied": d.get("embodied") or {},
        "equivalents": _equivalents(tx["total_co2e_g"], d["carbon"].get("g_per_kwh")),
        **_curve_view(d),
    }
    return _ENV.get_template("report.html.j2").render(**ctx)


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
