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
from typing import Any, TypedDict

import jinja2
from markupsafe import Markup

from .._io import atomic_write_text, refuse_overwrite, require_folder
from .._version import __version__
from ..core import fmt as _fmt
from ..core.report import Report, load_report
from ..core.report_files import input_paths
from ..core.report_views import ReportView, SciView
from ..core.views import PhaseView
from ..errors import SCERError
from ..rating.result import PhaseRating, Rating
from .charts import Point, band_legend, distribution_svg, intensity_svg, pareto_front, pareto_svg
from .curve import curve_caption, curve_level_views, curve_rows, curve_svg
from .fields import LabelFields, label_view
from .figures import ScopeTexts, rating_value_text
from .inputs import phase_rating, rating_of, report_view
from .label import fmt_num, make_label

# the charts live in scer_hf.publish.charts; their names stay importable here
__all__ = ["write_html_report", "render_html", "distribution_svg", "pareto_svg", "pareto_front", "band_legend",
           "intensity_svg", "Point"]

_NAME_KEYS = ("model", "model_id", "id", "name")
_VALUE_KEYS = ("value", "sci_value", "sci", "energy", "energy_value")


def _positive(v: Any) -> bool:
    """Whether *v* is a finite number above zero (a value a log axis can show)."""
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def _quality(p: Mapping[str, Any]) -> float | None:
    """A peer's quality: a number, or ``{"value": number}``; None when not a finite number."""
    q = p.get("quality")
    if isinstance(q, Mapping):
        q = q.get("value")
    return float(q) if isinstance(q, (int, float)) and math.isfinite(q) else None


def _peer(p: Any) -> Point | None:
    """A peer from a dict of any of the usual key spellings (``model``/``id``/``name``, ``value``/``sci``...)."""
    if not isinstance(p, Mapping):
        return None
    name = next((str(p[k]) for k in _NAME_KEYS if p.get(k)), "?")
    value: Any = next((p[k] for k in _VALUE_KEYS if isinstance(p.get(k), (int, float))), None)
    if not _positive(value):
        return None
    return Point(name, float(value), _quality(p), p.get("ref_id"))


def _reference_rows(phase: str) -> list[dict[str, Any]]:
    """The reference rows of *phase* (``scer_hf.rating.reference``); none when its data cannot be read."""
    from ..rating import reference

    try:
        return list(reference.rows(phase))
    except SCERError:
        return []


def _in_group(r: Mapping[str, Any], group: Any, unit: str) -> bool:
    """Whether a reference row is a peer: in *group*, with a value in the rating's *unit*."""
    return r.get("group") == group and r.get("value") is not None and str(r.get("value_unit") or unit).startswith(unit)


def _group_rows(pr: PhaseRating) -> list[dict[str, Any]]:
    """Every reference row of the rating's peer group (``scer_hf.rating.reference``), in the rating's unit."""
    group = pr.category.group if pr.category else None
    if not group:
        return []
    unit = pr.unit or ""
    return [{"model": r.get("model_key"), "value": r.get("value")} for r in _reference_rows(pr.phase or "inference")
            if _in_group(r, group, unit)]


def _peers(pr: PhaseRating, reference: Iterable[Any] | None) -> list[Point]:
    """The peers to plot: *reference* when given, else exactly the peers the rating counted (``peer_values``),
    so the chart shows what the text counts; ratings written before ``peer_values`` fall back to the group."""
    rows: list[Any] = list(reference or [])
    if not rows:
        rows = [p.to_dict() for p in pr.peer_values] or _group_rows(pr) or [p.to_dict() for p in pr.nearest_peers]
    return _distinct(q for q in map(_peer, rows) if q)


def _distinct(points: Iterable[Point]) -> list[Point]:
    """*points* without repeats: one point per (reference row or model, value), the first kept."""
    seen: set[tuple[Any, float]] = set()
    out = []
    for q in points:
        if (q.ref_id or q.model, q.x) not in seen:
            seen.add((q.ref_id or q.model, q.x))
            out.append(q)
    return out


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


def _phase_rows(rep: Report | ReportView | Mapping[str, Any], fam: str = "J") -> list[PhaseTableRow]:
    return [_phase_row(p, fam) for p in _in_tree_order(report_view(rep).phases)]


class PhaseTableRow(TypedDict):
    """One row of the page's phase table, as text (what the template draws)."""

    name: str
    kind: str
    parent: str
    duration: str
    energy: str
    coverage: str
    energy_unc: str
    co2e_unc: str
    co2e: str
    counts: str
    method: str | None
    measured: bool
    components: str
    errors: str


def _phase_row(p: PhaseView, fam: str) -> PhaseTableRow:
    """One row of the phase table, as the page shows it."""
    e = p.total_j
    energy_unc, co2e_unc = _uncertainty_cells(p, fam)
    return PhaseTableRow(
        name=p.name, kind=p.kind or "", parent=p.parent or "",
        duration=_fmt.duration(p.duration_s),
        energy=_fmt.energy(e, fam) if e is not None else "not measured",
        coverage=_coverage_cell(p, fam), energy_unc=energy_unc, co2e_unc=co2e_unc, co2e=_fmt.co2e(p.co2e_g),
        counts=", ".join(f"{k} {fmt_num(v)}" for k, v in p.counts.items()),
        method=p.method, measured=p.measured,  # null shows as the report has it
        components=", ".join(f"{k} {fmt_num(v)} J" for k, v in p.energy_j.items() if k != "total"),
        errors="; ".join(p.errors),
    )


def _coverage_cell(p: PhaseView, fam: str) -> str:
    """"measured 80%, 1.2 kJ filled" for a phase not measured in full; empty otherwise."""
    if p.measured_fraction >= 1:
        return ""
    filled = f", {_fmt.energy(p.filled_j, fam)} filled" if p.filled_j else ""
    return f"measured {_fmt.coverage(p.measured_fraction)}{filled}"


def _uncertainty_cells(p: PhaseView, fam: str) -> tuple[str, str]:
    """± of the phase's energy, and of its CO2e at the same relative uncertainty."""
    e, unc = p.total_j, p.energy_uncertainty_j or 0.0
    rel = unc / e if e else 0.0
    return (_fmt.energy(unc, fam) if unc else "", _fmt.co2e((p.co2e_g or 0.0) * rel) if rel else "")


_ONLY_THIS_MODEL = ("No reference model publishes this quality metric on the same prompts, so only this model is "
                    "plotted; pass reference=[{model, value, quality}] to compare.")


def _self_x(sci: SciView | None, peer_pts: Sequence[Point], pr: PhaseRating) -> tuple[float | None, str]:
    """(x, unit) of this model on the Pareto view: the rating's value when peers with a quality are plotted in its
    unit, else the report's SCI."""
    sci_unit = (sci.unit if sci is not None and sci.unit is not None else None) or "gCO2eq per functional unit"
    if pr.available and peer_pts and pr.value:
        return pr.value, pr.unit or sci_unit
    return (sci.value if sci is not None else None), sci_unit


def _quality_view(r: ReportView, peers: Sequence[Point], pr: PhaseRating) -> dict[str, object] | None:
    """The energy-quality section (the Pareto view); None when the report has no quality figure."""
    q = r.quality
    if q is None or q.value is None:
        return None
    peer_pts = [p for p in peers if p.y is not None]
    x_self, x_unit = _self_x(r.sci, peer_pts, pr)
    pts = [Point("this model", float(x_self), q.value, me=True)] if x_self else []
    svg = pareto_svg(pts + peer_pts, x_unit, q.metric, q.higher_is_better)
    per_unit = dict(r.co2e_g_per_quality_unit) if r.co2e_g_per_quality_unit is not None else None
    return {"q": q.to_dict(), "per_unit": per_unit, "svg": Markup(svg), "note": "" if peer_pts else _ONLY_THIS_MODEL}


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
        **_curve_view(rep.view),
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
    dist = _distribution(pr, peers, rep.model_view.id or "this model")
    return {
        "rating": r, "pr": pr, "other": other, "peers": peers, "dist_svg": Markup(dist),
        "reasons": pr.not_comparable_reasons(), "indicative": pr.indicative_text(),
        "notes": _notes(pr, stars_shown=fields.stars is not None),
        "band_legend": band_legend(pr.star_bands, pr.unit or ""),
        "rating_sentence": rating_sentence(pr, b, fam) if pr.available else "",
        "other_value": rating_value_text(other, fam) if other.available else "",
        "quality": _quality_view(rep.view, peers, pr),
    }


def _distribution(pr: PhaseRating, peers: Sequence[Point], model: str) -> str:
    """The reference distribution with this model on it; '' when not rated or nothing to plot."""
    if not (pr.available and (peers or pr.value)):
        return ""
    return distribution_svg(peers, pr.value, pr.unit or "", pr.uncertainty, model, pr.star_bands)


def _notes(pr: PhaseRating, *, stars_shown: bool) -> list[str]:
    """The rating's notes the page lists: not the not-comparable reasons (shown apart), nor a note on stars
    that are not shown."""
    return [n for n in pr.notes if not str(n).startswith("not comparable: ")
            and (stars_shown or "stars clipped" not in str(n))]


def _figures_view(rep: Report, tx: ScopeTexts) -> dict[str, Any]:
    """The figures: SCI and its alternatives, energy and CO2e with their uncertainty, phases, grid over the run,
    embodied emissions and the human equivalent."""
    r = rep.view
    unc, fam = r.uncertainty, tx.energy_family
    return {
        "phases": _phase_rows(r, fam),
        "intensity_svg": Markup(intensity_svg(rep.carbon.live)),
        "sci_value": tx.sci_value_text, "sci_unc": tx.sci_unc_text,
        "alts": [_alternative(a) for a in r.sci_alternatives],
        "energy": tx.energy_text, "energy_unc": _fmt.energy(unc.energy_j, fam) if unc.energy_j else "",
        "co2e": tx.co2e_text, "co2e_unc": _fmt.co2e(unc.co2e_g) if unc.co2e_g else "",
        "rel_unc": _fmt.percent(unc.relative if unc.relative is not None else 0),
        "embodied": r.embodied.to_dict(),
        "equivalents": _equivalents(tx.total_co2e_g, rep.carbon.g_per_kwh),
    }


class AlternativeRow(TypedDict):
    """One SCI alternative as the page's table shows it."""

    value: str
    unit: str | None
    r: str
    count_key: str


def _alternative(a: SciView) -> AlternativeRow:
    """One SCI alternative (per another functional unit) as the page shows it."""
    shown = _fmt.sci_display(a.to_dict()) or {}
    scale = a.scale if a.scale is not None else 1.0
    return AlternativeRow(value=fmt_num(shown.get("value")), unit=shown.get("unit"),
                          r=fmt_num(a.r * scale if a.r is not None else None), count_key=a.count_key or "")


def _curve_view(r: ReportView) -> dict[str, object]:
    """A served benchmark's curve for the template: the chart, a row per level, the caption."""
    levels = curve_level_views(r)
    return {"curve_svg": Markup(curve_svg(levels)) if levels else "", "curve_rows": curve_rows(levels),
            "curve_caption": curve_caption(r) if levels else ""}


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
