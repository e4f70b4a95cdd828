"""``verify`` of a report: every derived figure recomputed from its phases and carbon block (see
:mod:`scer_hf.publish.verify`, which also checks the label, card and HTML page made from it)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core.carbon import J_PER_KWH
from ..core.embodied import Embodied
from ..core.report import Report
from ..core.report_files import find_report
from ..core.report_views import ReportView, SciView
from ..core.sci import FunctionalUnit
from ..core.views import CoverageView, PhaseView
from ..errors import ReportError, ReportSchemaError, SCERError, VerificationError
from .checks import REL_TOL, Check, VerificationResult, check

__all__ = ["verify_report"]


def _recorded_embodied(r: ReportView) -> Embodied | None:
    """The embodied emissions as the report records them, when included."""
    return r.embodied if r.embodied.included else None


def _recorded_units(r: ReportView) -> list[FunctionalUnit] | None:
    """The functional units of the report's SCI alternatives (None: the boundary's defaults)."""
    return [FunctionalUnit(str(a.functional_unit), str(a.count_key), float(a.scale if a.scale is not None else 1.0))
            for a in r.sci_alternatives] or None


_DERIVED_PROVENANCE = ("method", "estimated", "note")  # provenance keys a build derives (not inputs)


def _rebuild(report: Report | Mapping[str, Any]) -> Report:
    """The report built again from its phases and recorded inputs (what it derives is recomputed)."""
    rep = report if isinstance(report, Report) else Report.from_dict(report)
    r = rep.view
    prov = {k: v for k, v in r.provenance.to_dict().items() if k not in _DERIVED_PROVENANCE}
    return Report.build(
        rep.phases, boundary=rep.boundary, carbon=rep.carbon, model=rep.model, provenance=prov,
        embodied=_recorded_embodied(r), functional_units=_recorded_units(r),
        benchmark=r.benchmark.to_dict() if r.benchmark is not None else None, status=r.status, run_id=r.run_id,
        extra=r.extra.to_dict(),
    )


def _check_coverage(checks: list[Check], where: str, p: PhaseView) -> None:
    """A phase's coverage agrees with itself: the measured share, and per-unit counts that are the counts of the
    measured windows (at most the phase's counts; all of them when every window was measured)."""
    cov = p.coverage
    if cov is None:
        return
    dur, meas = float(cov.duration_s or 0.0), float(cov.measured_s or 0.0)
    if dur > 0:
        check(checks, f"{where}.coverage.measured_fraction", min(1.0, meas / dur), cov.measured_fraction)
    _check_counts(checks, where, cov.counts, p.counts, full=cov.windows_measured == cov.windows)


def _check_counts(checks: list[Check], where: str, measured: Mapping[str, float], counts: Mapping[str, float],
                  full: bool) -> None:
    """The counts of the measured windows: all the phase's *counts* when every window was measured (*full*), else
    at most them (a check is listed only when they exceed them)."""
    for k, v in measured.items():
        have = float(counts.get(k, 0))
        if full or float(v) > have * (1 + REL_TOL):
            check(checks, f"{where}.coverage.counts.{k}", have if full else f"<= {have}", v,
                  "counts of the measured windows")


def _stored_rating(d: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for holder in (d, d.get("extra") or {}):
        r = holder.get("rating") if isinstance(holder, Mapping) else None
        if isinstance(r, Mapping):
            return r
    return None


def _check_rating(checks: list[Check], report: Report, stored: Mapping[str, Any] | None, where: str) -> None:
    """A rating stored with a report (or in a card) against the report rated again: each figure it records."""
    if not stored:
        return
    from ..rating import rate  # lazily: rating loads the shipped reference data

    try:
        fresh = rate(report)
    except SCERError as exc:
        checks.append(Check(f"{where}", None, None, False, f"rating could not be recomputed: {exc}"))
        return
    for phase in ("training", "inference"):
        _check_phase_rating(checks, stored.get(phase) or {}, fresh[phase].to_dict(), f"{where}.{phase}")


def _check_phase_rating(checks: list[Check], stored: Mapping[str, Any], fresh: Mapping[str, Any], where: str) -> None:
    """One boundary's stored rating against the fresh one (as JSON holds it, no NaN): only what it records."""
    for key in ("grade", "stars", "percentile", "value"):
        if key in stored:
            check(checks, f"{where}.{key}", fresh.get(key), stored.get(key))


def verify_report(report: Report | Mapping[str, Any] | str | os.PathLike[str],
                  expected_digest: str | None = None) -> VerificationResult:
    """Recompute every derived figure of a report from its phases and carbon block."""
    target = str(report) if isinstance(report, (str, os.PathLike)) else "report"
    rep = _report_to_verify(report, target)
    res = VerificationResult(target, "report")
    res.digest = rep.digest()
    _check_phases(res.checks, rep)
    try:
        rebuilt = _rebuild(rep)
    except SCERError as exc:
        res.checks.append(Check("rebuild", None, None, False, f"the report cannot be rebuilt from its phases: {exc}"))
        return res
    _check_fill(res.checks, rebuilt, rep)
    fresh, r = rebuilt.view, rep.view
    _check_totals(res.checks, fresh, r)
    _check_sci(res.checks, fresh, r)
    _check_uncertainty(res.checks, fresh, r)
    if expected_digest:
        check(res.checks, "digest", res.digest, expected_digest)
    _check_rating(res.checks, rep, _stored_rating(rep.to_dict()), "rating")
    return res


def _report_to_verify(report: Report | Mapping[str, Any] | str | os.PathLike[str], target: str) -> Report:
    """The report to verify, through the one door: a Report, a dict (validated) or a path."""
    if isinstance(report, Report):
        return report
    if isinstance(report, Mapping):
        try:
            return Report.from_dict(report)
        except ReportSchemaError as exc:
            raise VerificationError(f"{target} is not a valid scer-hf report: {exc}") from exc
    return _read_report(Path(report))


def _check_phases(checks: list[Check], rep: Report) -> None:
    """Each phase by itself: its total is its components plus the filled energy, its CO2e follows from its energy
    and the carbon block (or the live reading it recorded), its coverage agrees with itself."""
    carbon = rep.carbon
    for i, p in enumerate(rep.phase_views()):
        where = f"phases[{i}:{p.name}]"
        total = p.total_j
        expected = sum(p.components.values()) + (p.filled_j or 0.0) if total is not None else None
        check(checks, f"{where}.energy_j.total", expected, total, "measured + filled")
        if total is not None:
            g = p.carbon_g_per_kwh if p.carbon_g_per_kwh is not None else carbon.g_per_kwh
            check(checks, f"{where}.co2e_g", total / J_PER_KWH * carbon.pue * g, p.co2e_g)
        _check_coverage(checks, where, p)


def _check_fill(checks: list[Check], fresh: Report, rep: Report) -> None:
    """Each phase's uncertainty and fill, recomputed from its coverage by the documented rule."""
    for i, (fp, dp) in enumerate(zip(fresh.phase_views(), rep.phase_views(), strict=False)):
        where = f"phases[{i}:{dp.name}]"
        check(checks, f"{where}.energy_uncertainty_j", fp.energy_uncertainty_j, dp.energy_uncertainty_j)
        if dp.coverage is not None:
            check(checks, f"{where}.energy_j.total", fp.total_j, dp.total_j, "fill rule")
            check(checks, f"{where}.energy_j_filled.total", fp.filled_j, dp.filled_j, "fill rule")


def _check_totals(checks: list[Check], fresh: ReportView, r: ReportView) -> None:
    """The report's coverage and totals, as a fresh build gives them."""
    cov, fresh_cov = r.coverage, fresh.coverage or CoverageView(measured_fraction=1.0)
    if cov is not None:
        check(checks, "coverage.measured_fraction", fresh_cov.measured_fraction, cov.measured_fraction)
        check(checks, "coverage.headline", fresh_cov.headline, cov.headline)
        check(checks, "coverage.filled_j", fresh_cov.filled_j, cov.filled_j)
        check(checks, "coverage.windows_measured", fresh_cov.windows_measured, cov.windows_measured)
        check(checks, "coverage.windows", fresh_cov.windows, cov.windows)
    check(checks, "energy_j", fresh.energy_j, r.energy_j)
    check(checks, "co2e_g", fresh.co2e_g, r.co2e_g)
    check(checks, "embodied_g", fresh.embodied_g, r.embodied_g)


def _check_uncertainty(checks: list[Check], fresh: ReportView, r: ReportView) -> None:
    """The uncertainty and the method, as a fresh build gives them."""
    fu, u = fresh.uncertainty, r.uncertainty
    check(checks, "uncertainty.energy_j", fu.energy_j, u.energy_j)
    check(checks, "uncertainty.co2e_g", fu.co2e_g, u.co2e_g)
    check(checks, "uncertainty.sci", fu.sci, u.sci)
    check(checks, "provenance.method", fresh.provenance.method, r.provenance.method)
    check(checks, "provenance.estimated", fresh.provenance.estimated, r.provenance.estimated)


def _check_sci(checks: list[Check], fresh: ReportView, r: ReportView) -> None:
    """The SCI headline (value, unit, R, the unit people read) and its alternatives."""
    fs, ds = fresh.sci or SciView(), r.sci or SciView()
    check(checks, "sci.value", fs.value, ds.value)
    check(checks, "sci.unit", fs.unit, ds.unit)
    check(checks, "sci.r", fs.r, ds.r)
    if ds.shown_unit is not None:  # reports from before scer-hf 0.x did not record the unit shown
        check(checks, "sci.shown_unit", fs.shown_unit, ds.shown_unit, "unit people read")
    fresh_alts, alts = fresh.sci_alternatives, r.sci_alternatives
    for i, (fa, da) in enumerate(zip(fresh_alts, alts, strict=False)):
        check(checks, f"sci_alternatives[{i}].value", fa.value, da.value, fa.unit or "")
    check(checks, "sci_alternatives.count", len(fresh_alts), len(alts))


def _read_report(p: Path) -> Report:
    """The report at *p* (a folder: the report in it), read through the one door (:meth:`Report.load`)."""
    p = find_report(p)
    try:
        return Report.load(p)
    except ReportSchemaError as exc:
        raise VerificationError(f"{p} is not a valid scer-hf report: {exc}") from exc
    except ReportError as exc:
        raise VerificationError(f"{p} is not a JSON report: {exc}") from exc
