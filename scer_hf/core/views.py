"""Frozen, typed read views over a report: what the outputs read, by name instead of by string key.

JSON stays the wire format (``Report.to_dict()`` is unchanged and validated at the door); these views are made
from a validated report and hold no state of their own:

- :class:`PhaseView`: one phase (name, kind, parent, energy by component, duration, CO2e, counts, coverage);
- :class:`CoverageView`: how much of a phase or report was measured (``coverage`` block);
- :func:`top_level`: the top-level phases (``parent`` is null), the one definition every total and output uses;
- :func:`grid_where` / :func:`grid_place`: where the grid figure of a :class:`~scer_hf.core.carbon.CarbonIntensity`
  is from, the one answer the label, card, HTML report and CLI give.

``Report.carbon`` is the typed carbon view (:class:`~scer_hf.core.carbon.CarbonIntensity`); ``Report.phase_views()``,
``Report.top_phases()``, ``Report.children()`` and ``Report.coverage_view`` return the views of this module; the
other blocks (model, provenance, SCI, benchmark...) have theirs in :mod:`scer_hf.core.report_views` (``Report.view``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

__all__ = ["CoverageView", "PhaseView", "top_level", "is_top", "grid_where", "grid_place"]


def _frozen_map(m: Any) -> Mapping[str, Any]:
    return MappingProxyType(dict(m)) if isinstance(m, Mapping) else MappingProxyType({})


def _texts(xs: Any) -> tuple[str, ...]:
    """A recorded list as a tuple of strings (none when absent)."""
    return tuple(str(x) for x in xs or ())


def _opt_float(x: Any) -> float | None:
    """A number as the report holds it (an int stays an int: JSON and YAML keep writing it the same), else None."""
    return x if isinstance(x, (int, float)) and not isinstance(x, bool) else None


@dataclass(frozen=True)
class CoverageView:
    """A ``coverage`` block: the measured share, windows and seconds, and (on a report) filled energy and the
    headline decision. Fields a block does not carry are None (``headline``, ``threshold``, ``filled_j``...)."""

    measured_fraction: float
    windows_measured: int = 0
    windows: int = 0
    measured_s: float | None = None
    duration_s: float | None = None
    measured_j: float | None = None
    filled_j: float | None = None
    threshold: float | None = None
    headline: bool | None = None
    unfilled: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    energy_j: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    counts: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CoverageView:
        frac = _opt_float(d.get("measured_fraction"))
        headline = d.get("headline")
        return cls(
            measured_fraction=1.0 if frac is None else frac,
            windows_measured=int(d.get("windows_measured") or 0), windows=int(d.get("windows") or 0),
            measured_s=_opt_float(d.get("measured_s")), duration_s=_opt_float(d.get("duration_s")),
            measured_j=_opt_float(d.get("measured_j")), filled_j=_opt_float(d.get("filled_j")),
            threshold=_opt_float(d.get("threshold")), headline=headline if isinstance(headline, bool) else None,
            unfilled=_texts(d.get("unfilled")), reasons=_texts(d.get("reasons")),
            energy_j=_frozen_map(d.get("energy_j")), counts=_frozen_map(d.get("counts")),
        )

    @property
    def complete(self) -> bool:
        """Everything was measured."""
        return self.measured_fraction >= 1.0


@dataclass(frozen=True)
class PhaseView:
    """One phase of a report. ``energy_j`` maps each component (``gpu:0``, ``cpu``...) and ``total`` to joules
    (``total`` None when a gap could not be filled); ``coverage`` is None for a phase written before coverage
    existed (all measured or all not: see ``measured``)."""

    name: str
    kind: str | None
    parent: str | None
    energy_j: Mapping[str, float | None]
    duration_s: float
    co2e_g: float | None
    counts: Mapping[str, float]
    measured: bool
    method: str | None
    coverage: CoverageView | None = None
    energy_uncertainty_j: float | None = None
    filled_j: float | None = None
    carbon_g_per_kwh: float | None = None  # a live grid reading recorded for this phase
    errors: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, p: Mapping[str, Any]) -> PhaseView:
        cov, duration = p.get("coverage"), _opt_float(p.get("duration_s"))
        return cls(
            name=str(p["name"]), kind=p.get("kind"), parent=p.get("parent"),
            energy_j=_frozen_map(p.get("energy_j")), duration_s=0.0 if duration is None else duration,
            co2e_g=_opt_float(p.get("co2e_g")), counts=_frozen_map(p.get("counts")),
            measured=bool(p.get("measured", True)), method=p.get("method"),
            coverage=CoverageView.from_dict(cov) if isinstance(cov, Mapping) else None,
            energy_uncertainty_j=_opt_float(p.get("energy_uncertainty_j")),
            filled_j=_opt_float((p.get("energy_j_filled") or {}).get("total")),
            carbon_g_per_kwh=_opt_float(p.get("carbon_g_per_kwh")),
            errors=tuple(str(e) for e in p.get("errors") or ()),
        )

    @property
    def total_j(self) -> float | None:
        """The phase's energy (measured plus filled), or None."""
        return _opt_float(self.energy_j.get("total"))

    @property
    def components(self) -> dict[str, float]:
        """Energy per component, without the total."""
        return {k: float(v) for k, v in self.energy_j.items() if k != "total" and v is not None}

    @property
    def is_top(self) -> bool:
        """A top-level phase (no parent): the ones totals count."""
        return self.parent is None

    @property
    def measured_fraction(self) -> float:
        """The measured share as the outputs show it: a phase without a coverage block counts as measured."""
        return self.coverage.measured_fraction if self.coverage is not None else 1.0

    @property
    def measured_windows(self) -> CoverageView:
        """The phase's coverage: its block, or for a phase written before coverage existed, all of it measured
        (its energy and counts) or nothing measured."""
        if self.coverage is not None:
            return self.coverage
        if not self.measured:
            return CoverageView(measured_fraction=0.0, energy_j=MappingProxyType({"total": 0.0}))
        return CoverageView(measured_fraction=1.0, energy_j=MappingProxyType(
            {k: float(v) for k, v in self.energy_j.items() if v is not None}), counts=self.counts)


class _HasParent(Protocol):
    @property
    def parent(self) -> str | None: ...


P = TypeVar("P", bound="Mapping[str, Any] | _HasParent")


def is_top(phase: Mapping[str, Any] | _HasParent) -> bool:
    """Whether *phase* (a phase dict, a :class:`PhaseView` or a measurement) is top-level: ``parent`` is null.
    Totals count top-level phases only; nested phases detail their parent and are never added twice."""
    parent = phase.get("parent") if isinstance(phase, Mapping) else phase.parent
    return parent is None


def top_level(phases: Iterable[P]) -> list[P]:
    """The top-level phases of *phases*, in order (see :func:`is_top`)."""
    return [p for p in phases if is_top(p)]


class _Located(Protocol):
    """Where a grid figure is from: a :class:`~scer_hf.core.carbon.CarbonIntensity` or a
    :class:`~scer_hf.core.report_views.CarbonView` (a carbon block or region figure dict reads too)."""

    @property
    def cloud_provider(self) -> str | None: ...
    @property
    def cloud_region(self) -> str | None: ...
    @property
    def region(self) -> str | None: ...
    @property
    def country_iso_code(self) -> str | None: ...
    @property
    def location(self) -> str | None: ...
    @property
    def detected_from(self) -> str | None: ...


@dataclass(frozen=True)
class _Place:
    """The location fields of a grid figure (a :class:`CarbonIntensity` or a carbon block / region figure dict)."""

    cloud_provider: str | None
    cloud_region: str | None
    region: str | None
    country_iso_code: str | None
    location: str | None
    detected_from: str | None

    @classmethod
    def of(cls, carbon: _Located | Mapping[str, Any]) -> _Place:
        get = carbon.get if isinstance(carbon, Mapping) else lambda k: getattr(carbon, k, None)
        return cls(*(get(f.name) for f in fields(cls)))

    @property
    def cloud(self) -> str | None:
        return f"{self.cloud_provider} {self.cloud_region}" if self.cloud_region else None


def grid_where(carbon: _Located | Mapping[str, Any]) -> str:
    """Where the grid figure is from: ``aws us-east-1``, ``California, USA``, ``a figure given by the user``, or
    the world average with the default said."""
    c = _Place.of(carbon)
    if c.cloud:
        return c.cloud
    place = grid_place(carbon, cloud=False)
    if place:
        return place + (f", detected from {c.detected_from}" if c.location == "detected" else "")
    if c.location == "override":
        return "a figure given by the user"
    return "world average: no location given"


def grid_place(carbon: _Located | Mapping[str, Any], *, cloud: bool = True,
               country_name: Callable[[str], str] | None = None) -> str | None:
    """The place of the grid figure, most specific first: cloud region (with *cloud*), region, country (its code,
    or ``country_name(code)``); None when none is known."""
    c = _Place.of(carbon)
    country = c.country_iso_code
    if country and country_name is not None:
        country = country_name(country)
    parts = [p for p in ((c.cloud if cloud else None), c.region, country) if p]
    return ", ".join(str(p) for p in parts) if parts else None
