"""What a report derives from its phases: totals, coverage, SCI and uncertainty.

:class:`Totals` sums, phase by phase, what the derivation needs (a finished phase is added once and its sums kept,
so a growing run's report costs what is new). :meth:`Totals.derive` then gives the report's derived keys:

- ``energy_j`` / ``co2e_g``: the top-level phases' measured plus filled energy, only when the coverage reaches the
  threshold and every gap could be filled (:mod:`scer_hf.core.coverage`); else null, with the reasons;
- ``sci`` and ``sci_alternatives`` (SCI 1.1, ``((E x I) + M) per R``): E x I per R of the phases that count R comes
  from their fully measured windows (the same windows for both), other top-level phases (evaluations) and M are
  overheads of the run, per R over all units;
- ``uncertainty``: the linear sum of per-component meter uncertainty, widened for filled energy;
- ``coverage``: the report's measured share, windows, filled energy, threshold and reasons.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

from . import fmt as _fmt
from .carbon import CarbonIntensity
from .coverage import COVERAGE_THRESHOLD, FILL_RULE, per_unit_j, tally
from .embodied import Embodied
from .phases import phase_coverage, phase_uncertainty
from .records import (
    CoverageRecord,
    DerivedRecord,
    EmbodiedRecord,
    PhaseRecord,
    ReportCoverageRecord,
    SciRecord,
    UncertaintyRecord,
)
from .report_views import MeterView
from .sci import FUNCTIONAL_UNITS, SCI_VERSION, FunctionalUnit, default_functional_units, sci_value
from .views import is_top

__all__ = ["Totals", "derive", "report_coverage"]


class Totals:
    """Running sums over a report's phases (see the module docstring). ``add`` each phase row once."""

    def __init__(self, boundary: str, rel_by_comp: Mapping[str, float]) -> None:
        self.boundary = boundary
        self.rel = dict(rel_by_comp)
        self.duration_s = self.measured_s = 0.0
        self.windows = self.windows_measured = 0
        self.energy_j = self.measured_j = self.filled_j = self.unc_j = self.rel_num = self.overhead_j = 0.0
        self.missing_total = False
        self.unfilled: set[str] = set()
        self.errors: dict[str, int] = {}
        self.partial = False  # some phase (nested ones too) is not fully measured
        self.counted: list[PhaseRecord] = []  # top-level phases of the boundary's kind: they count R

    def copy(self) -> Totals:
        t = Totals(self.boundary, self.rel)
        t.__dict__.update({k: (type(v)(v) if isinstance(v, (set, dict, list)) else v) for k, v in self.__dict__.items()
                           if k not in ("boundary", "rel")})
        return t

    def add(self, p: PhaseRecord) -> None:
        """Add one phase row (and set its ``energy_uncertainty_j``)."""
        unc = p["energy_uncertainty_j"] = phase_uncertainty(p, self.rel)
        cov = phase_coverage(p)
        self.partial = self.partial or float(cov.get("measured_fraction", 1.0)) < 1.0
        errs = p.get("error_counts") or dict.fromkeys(p.get("errors") or (), 1)
        if errs:
            self.errors = tally(self.errors, errs)
        if not is_top(p):
            return
        self._add_windows(cov)
        counted = p.get("kind") == self.boundary
        self._add_energy(p, unc, overhead=not counted)
        if counted:
            self.counted.append(p)

    def _add_windows(self, cov: CoverageRecord) -> None:
        """Sum a top-level phase's measured and total time and windows."""
        self.duration_s += float(cov.get("duration_s", 0.0))
        self.measured_s += float(cov.get("measured_s", 0.0))
        self.windows += int(cov.get("windows", 0))
        self.windows_measured += int(cov.get("windows_measured", 0))

    def _add_energy(self, p: PhaseRecord, unc_j: float, overhead: bool) -> None:
        """Sum a top-level phase's measured, filled and total energy (overheads: phases not of the boundary's kind)."""
        energy = p["energy_j"]
        measured = {c: float(v) for c, v in energy.items() if c != "total" and v is not None}
        self.measured_j += sum(measured.values())
        self.rel_num += sum(abs(v) * self.rel.get(c, 0.0) for c, v in measured.items())
        self.filled_j += float((p.get("energy_j_filled") or {}).get("total", 0.0))
        self.unfilled.update(p.get("unfilled", ()))
        self.unc_j += unc_j
        self._add_total(energy.get("total"), overhead=overhead)

    def _add_total(self, total: float | None, overhead: bool) -> None:
        """Sum a top-level phase's total (also as an overhead, for a phase not of the boundary's kind); a phase
        without a total (a gap that cannot be filled) leaves the run without one."""
        if total is None:
            self.missing_total = True
            return
        self.energy_j += float(total)
        if overhead:
            self.overhead_j += float(total)

    # -- the derived keys ------------------------------------------------------------------
    @property
    def measured_fraction(self) -> float:
        if self.duration_s > 0:
            frac = min(1.0, self.measured_s / self.duration_s)
            # unmeasured windows of zero length: never round up to full
            return 1.0 - 1e-12 if frac >= 1.0 and self.windows_measured < self.windows else frac
        if self.windows_measured == self.windows:
            return 1.0
        return self.windows_measured / self.windows if self.windows else 0.0

    def coverage(self) -> ReportCoverageRecord:
        frac = self.measured_fraction
        unfilled = sorted(self.unfilled)
        headline = frac >= COVERAGE_THRESHOLD and not unfilled and not self.missing_total
        reasons = [f"{msg} ({n} times)" if n > 1 else msg for msg, n in self.errors.items()]
        if unfilled:
            reasons.append(f"never measured, cannot be filled: {', '.join(unfilled)}")
        if not headline:
            reasons.append(f"coverage {_fmt.coverage(frac)} is below {_fmt.coverage(COVERAGE_THRESHOLD)} or a gap "
                           "cannot be filled: no headline figure (energy, CO2e, SCI) is given")
        return {
            "measured_fraction": frac, "windows_measured": self.windows_measured, "windows": self.windows,
            "measured_s": self.measured_s, "duration_s": self.duration_s, "measured_j": self.measured_j,
            "filled_j": self.filled_j, "threshold": COVERAGE_THRESHOLD, "headline": headline, "unfilled": unfilled,
            "reasons": reasons[:12], "rule": FILL_RULE,
        }

    def sci_alternatives(self, carbon: CarbonIntensity, emb_g: float | None,
                         units: Sequence[FunctionalUnit]) -> list[SciRecord]:
        """One SCI per functional unit that has units counted and a measured per-unit energy."""
        covs = [phase_coverage(p) for p in self.counted]
        rel = self.rel_num / self.measured_j if self.measured_j > 0 else 0.0
        alts = (self._sci_for(fu, covs, carbon, emb_g, rel) for fu in units)
        return [a for a in alts if a is not None]

    def _sci_for(self, fu: FunctionalUnit, covs: Sequence[CoverageRecord], carbon: CarbonIntensity,
                 emb_g: float | None, rel: float) -> SciRecord | None:
        """The SCI per ``fu``: None when no unit was counted or no window measured both energy and units."""
        r = sum(float(p["counts"].get(fu.count_key, 0)) for p in self.counted) / fu.scale
        j_per_count = per_unit_j(covs, fu.count_key)
        if r <= 0 or j_per_count is None:
            return None
        epu = j_per_count * fu.scale + self.overhead_j / r
        operational = sci_value(epu, carbon.g_per_kwh, carbon.pue, None, 1.0)
        r_measured = sum(float((c.get("counts") or {}).get(fu.count_key, 0)) for c in covs) / fu.scale
        return {
            "value": operational + (emb_g or 0.0) / r, "unit": f"gCO2eq per {fu.name}",
            "functional_unit": fu.name, "count_key": fu.count_key, "scale": fu.scale, "r": r,
            "r_measured": r_measured, "version": SCI_VERSION, "energy_j_per_unit": epu,
            "uncertainty": operational * rel,
        }


_SCI_BASIS = ("E x I per R from the fully measured windows of the phases that count R (energy and units of the same "
              "windows); other phases (evaluations) and M per R over all units")
_UNCERTAINTY_BASIS = ("linear sum of per-component meter uncertainty (worst case), plus for filled energy the "
                      "spread of the powers measured around the gap; grid intensity is an annual average and its own "
                      "uncertainty is not included")
_NO_EMBODIED: EmbodiedRecord = {"included": False, "embodied_g": None,
                                "reason": "hardware not given; embodied emissions not included"}


def _units(boundary: str, functional_units: Sequence[str | FunctionalUnit] | None) -> list[FunctionalUnit]:
    """The functional units asked for (names resolved), or the boundary's defaults."""
    return [FUNCTIONAL_UNITS[u] if isinstance(u, str) else u for u in
            (functional_units or default_functional_units(boundary))]


def _included_embodied_g(embodied: Embodied | None) -> float | None:
    """M in grams when embodied emissions are given and included, else None."""
    return embodied.embodied_g if embodied is not None and embodied.included else None


def _headline_sci(alts: Sequence[SciRecord], boundary: str, emb_g: float | None) -> SciRecord | None:
    """The first SCI alternative, labelled with its boundary, basis and shown unit; None when there is none."""
    if not alts:
        return None
    sci: SciRecord = {**alts[0], "boundary": ("Provider (training, SCI for AI)" if boundary == "training"
                                              else "Consumer (inference, SCI for AI)"),
                      "embodied_included": emb_g is not None, "basis": _SCI_BASIS}
    # the unit people are shown (functional unit scaled so the value reads 1 to 1,000; scer_hf.core.fmt)
    return {**sci, "shown_unit": (_fmt.sci_display(sci) or {}).get("unit")}


def _relative(energy_j: float | None, energy_unc: float | None) -> float:
    """The energy's relative uncertainty (0 when either figure is absent)."""
    return energy_unc / energy_j if energy_j and energy_unc is not None else 0.0


def _uncertainty(energy_unc: float | None, co2e_g: float | None, rel: float, sci: SciRecord | None,
                 meters: Sequence[MeterView]) -> UncertaintyRecord:
    """The report's uncertainty block: energy's, CO2e's (the same relative share) and the SCI's, with their basis."""
    return {
        "energy_j": energy_unc,
        "co2e_g": co2e_g * rel if co2e_g is not None else None,
        # only E x I is uncertain here: M (embodied) carries no meter uncertainty, so the SCI's +- is the
        # operational part's +- (meter uncertainty of the measured windows it comes from)
        "sci": sci["uncertainty"] if sci else None,
        "relative": rel if math.isfinite(rel) else 0.0,
        "basis": _UNCERTAINTY_BASIS,
        "per_meter": {m.label: m.uncertainty_basis for m in meters},
    }


def derive(totals: Totals, carbon: CarbonIntensity, embodied: Embodied | None, meters: Sequence[MeterView],
           functional_units: Sequence[str | FunctionalUnit] | None) -> DerivedRecord:
    """The report's derived keys from the summed phases (see the module docstring)."""
    cov = totals.coverage()
    head = cov["headline"]
    energy_j = totals.energy_j if head else None
    co2e_g = carbon.co2e_g(energy_j) if energy_j is not None else None
    energy_unc = totals.unc_j if head else None
    rel = _relative(energy_j, energy_unc)
    emb_g = _included_embodied_g(embodied)
    alts = totals.sci_alternatives(carbon, emb_g, _units(totals.boundary, functional_units)) if head else []
    sci = _headline_sci(alts, totals.boundary, emb_g)
    return {
        "energy_j": energy_j,
        "co2e_g": co2e_g,
        "embodied_g": emb_g,
        "embodied": embodied.to_dict() if embodied is not None else _NO_EMBODIED.copy(),
        "sci": sci,
        "sci_alternatives": alts,
        "coverage": cov,
        "uncertainty": _uncertainty(energy_unc, co2e_g, rel, sci, meters),
    }


def report_coverage(d: Mapping[str, Any]) -> ReportCoverageRecord:
    """The coverage block of a report dict (computed for reports written before coverage existed)."""
    t = Totals(str(d.get("boundary", "training")), {})
    for p in d.get("phases", []):
        t.add(copy.copy(p))  # a phase of a report read from outside (checked against the report's schema)
    return t.coverage()
