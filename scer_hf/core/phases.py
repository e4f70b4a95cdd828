"""Phases as reports write them: measured energy, the filled part apart, coverage; and a cache for growing runs.

:func:`phase_from_measurement` turns one :class:`~scer_hf.core.tracker.Measurement` into the report's phase
dict (the fill rule of :mod:`scer_hf.core.coverage` applied); :func:`refill` recomputes the same from a phase
dict alone (what ``scer-hf verify`` checks). :class:`~scer_hf.core.phase_rows.PhaseRows` keeps the rows of
finished phases of a run that is reported again and again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypedDict

from .carbon import J_PER_KWH, CarbonIntensity
from .coverage import Coverage, Fill, fill, run_power_w
from .records import CoverageRecord, PhaseRecord
from .tracker import Measurement
from .views import top_level

__all__ = ["phase_from_measurement", "phases_from_measurements", "refill", "phase_coverage", "self_contained",
           "ENCODER"]

#: one phase per line in report files (the C encoder; see ``Report.to_json``)
ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": "))


def _num(x: float) -> float:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else 0.0


_FILL_KEYS: tuple[Literal["energy_j_filled", "filled_uncertainty_j", "unfilled"], ...] = (
    "energy_j_filled", "filled_uncertainty_j", "unfilled")


class _FillKeys(TypedDict, total=False):
    """The phase keys the fill rule adds (see :class:`~scer_hf.core.records.PhaseRecord`)."""

    energy_j_filled: dict[str, float]
    filled_uncertainty_j: float
    unfilled: list[str]


class _ErrorCounts(TypedDict, total=False):
    error_counts: dict[str, int]


def _total_j(measured: Mapping[str, float], f: Fill) -> float | None:
    """Measured plus filled energy, or None when a gap cannot be filled (never a false zero)."""
    return None if f.unfilled else _num(sum(measured.values()) + f.total_j)


def _fill_keys(f: Fill) -> _FillKeys:
    """The phase keys the fill rule adds: the filled energy and its uncertainty, and what could not be filled."""
    filled: _FillKeys = {"energy_j_filled": {**{c: _num(v) for c, v in sorted(f.energy_j.items())},
                                             "total": _num(f.total_j)},
                         "filled_uncertainty_j": _num(f.uncertainty_j)} if f.energy_j else {}
    return {**filled, "unfilled": list(f.unfilled)} if f.unfilled else filled


def _error_counts(m: Measurement) -> _ErrorCounts:
    """``error_counts`` when some error happened more than once (the tally of :attr:`Measurement.error_counts`)."""
    return {"error_counts": dict(m.error_counts)} if any(n > 1 for n in m.error_counts.values()) else {}


def phase_from_measurement(m: Measurement, carbon: CarbonIntensity, kind: str,
                           run_power: Mapping[str, float] | None = None) -> PhaseRecord:
    """The JSON form of one phase: measured energy per component, the filled part apart, the coverage.

    ``energy_j.total`` is measured plus filled energy (:func:`scer_hf.core.coverage.fill`; *run_power* is the
    run's mean power per component, for components this phase never measured), or null when a gap cannot be
    filled: a false zero is never written."""
    cov = m.cov
    f = fill(cov, m.energy_j, run_power)
    measured = {k: _num(v) for k, v in sorted(m.energy_j.items())}
    total = _total_j(measured, f)
    energy: dict[str, float | None] = {**measured, "total": total}
    d: PhaseRecord = {
        "name": m.name,
        "kind": kind,
        "parent": m.parent,
        "energy_j": energy,
        "duration_s": _num(m.duration_s),
        "co2e_g": carbon.co2e_g(total) if total is not None else None,
        "counts": {k: (int(v) if float(v).is_integer() else float(v)) for k, v in sorted(m.counts.items())},
        "measured": bool(m.measured),
        "method": m.method,
        "windows": m.windows,
        "errors": list(m.errors),
        "coverage": cov.to_dict(),
        **_fill_keys(f),
        **_error_counts(m),
    }
    return d


def phases_from_measurements(ms: Sequence[Measurement], carbon: CarbonIntensity,
                             kind_of: Callable[[str], str]) -> list[PhaseRecord]:
    """:func:`phase_from_measurement` for a run's phases, with the run's mean power for gaps a phase cannot fill."""
    top = top_level(ms)
    power = run_power_w((m.cov for m in top), (m.energy_j for m in top)) \
        if not all(self_contained(m) for m in ms) else None
    return [phase_from_measurement(m, carbon, kind_of(m.name), power) for m in ms]


def _measured_of(p: PhaseRecord) -> dict[str, float]:
    return {c: float(v) for c, v in p["energy_j"].items() if c != "total" and v is not None}


def refill(phases: list[PhaseRecord], carbon: CarbonIntensity) -> None:
    """Recompute, in place, what the fill rule derives in phases given as JSON (a report rebuilt from its phases,
    as ``scer-hf verify`` does): each phase's total, filled energy, its uncertainty and what could not be filled.
    Phases written before coverage existed are left as they are."""
    covs = _coverages(phases)
    top = [p for p in top_level(phases) if id(p) in covs]
    power = run_power_w((covs[id(p)] for p in top), (_measured_of(p) for p in top))
    for p in phases:
        cov = covs.get(id(p))
        if cov is not None:
            _refill_phase(p, cov, power, carbon)


def _coverages(phases: Sequence[PhaseRecord]) -> dict[int, Coverage]:
    """The coverage of each phase that has one (by ``id``); phases written before coverage existed have none."""
    covs = ((id(p), p.get("coverage")) for p in phases)
    return {i: Coverage.from_dict(c) for i, c in covs if isinstance(c, Mapping) and "components" in c}


def _refill_phase(p: PhaseRecord, cov: Coverage, power: Mapping[str, float], carbon: CarbonIntensity) -> None:
    """One phase's total, fill keys and CO2e recomputed from its measured energy and coverage (in place)."""
    energy = _measured_of(p)
    f = fill(cov, energy, power)
    total = _total_j(energy, f)
    p["energy_j"] = {**{c: _num(v) for c, v in sorted(energy.items())}, "total": total}
    for k in _FILL_KEYS:
        p.pop(k, None)
    p.update(_fill_keys(f))
    g = p.get("carbon_g_per_kwh", carbon.g_per_kwh)
    p["co2e_g"] = None if total is None else total / J_PER_KWH * carbon.pue * g


def phase_coverage(p: Mapping[str, Any]) -> CoverageRecord:
    """A phase's coverage block; a phase written before coverage existed is all measured or all not."""
    return p["coverage"] if isinstance(p.get("coverage"), Mapping) else _legacy_coverage(p)


def _legacy_coverage(p: Mapping[str, Any]) -> CoverageRecord:
    """The coverage of a phase written before coverage existed: all measured, or nothing measured."""
    d = float(p.get("duration_s") or 0.0)
    windows = int(p.get("windows", 1))
    if not p.get("measured", True):
        return {"measured_fraction": 0.0, "windows_measured": 0, "windows": windows, "measured_s": 0.0,
                "duration_s": d, "energy_j": {"total": 0.0}, "counts": {}}
    return {"measured_fraction": 1.0, "windows_measured": windows, "windows": windows, "measured_s": d,
            "duration_s": d, "energy_j": dict(p["energy_j"]), "counts": dict(p.get("counts") or {})}


def _meter_uncertainty_j(energy_j: Mapping[str, float | None], rel_by_comp: Mapping[str, float]) -> float:
    """Each component's energy times its meter's relative uncertainty, summed (the total and absent figures out)."""
    return sum(abs(v) * rel_by_comp.get(c, 0.0) for c, v in energy_j.items() if c != "total" and v is not None)


def phase_uncertainty(phase: PhaseRecord, rel_by_comp: Mapping[str, float]) -> float:
    """A phase's energy uncertainty: the meters' on measured and filled energy, plus the fill's own spread."""
    return _meter_uncertainty_j(phase["energy_j"], rel_by_comp) + \
        _meter_uncertainty_j(phase.get("energy_j_filled") or {}, rel_by_comp) + \
        float(phase.get("filled_uncertainty_j") or 0.0)



def self_contained(m: Measurement) -> bool:
    """Whether the phase's row needs nothing from the rest of the run (every gap fillable from its own power)."""
    cov = m.cov
    return all(cov.component_s.get(c, 0.0) > 0 for c, gap in cov.gap_s.items() if gap > 0)
