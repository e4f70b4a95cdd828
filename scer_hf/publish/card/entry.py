"""What scer-hf writes into a card's metadata, typed: ``scer.<boundary>`` and the Hub's ``co2_eq_emissions``.

Each entry is a frozen dataclass made from a :class:`~scer_hf.core.report.Report` (``of``); ``to_dict()`` is the
YAML mapping written, its fields in order, a field that is None left out (the card keeps only what it knows),
numbers exactly as the report holds them (an int stays an int).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from ...core.carbon import CarbonIntensity
from ...core.report import Report
from ...core.report_views import ModelView, ReportView, SciView
from ...core.views import PhaseView, grid_place
from ..figures import FactDict, coverage_view, fact_dicts, hardware_text

__all__ = ["BoundaryEntry", "Co2Entry", "CoverageEntry", "GridEntry", "IdentityEntry", "PhaseEntry", "SciEntry",
           "SOURCE"]

SOURCE = "scer-hf"


@dataclass(frozen=True)
class _Entry:
    """A card entry: ``to_dict()`` writes its fields in order, leaving out those that are None."""

    def to_dict(self) -> dict[str, Any]:
        values = ((f.name, getattr(self, f.name)) for f in fields(self))
        return {name: _written(v) for name, v in values if v is not None}


def _written(v: object) -> object:
    """A field as YAML takes it: an entry as its mapping, a tuple as a list."""
    if isinstance(v, _Entry):
        return v.to_dict()
    if isinstance(v, tuple):
        return [_written(x) for x in v]
    return v


def location(carbon: CarbonIntensity) -> str | None:
    """Cloud region, region and country name of the grid figure (:func:`scer_hf.core.views.grid_place`)."""
    return grid_place(carbon, country_name=_country_name)


def _country_name(code: str) -> str:
    try:
        from ...core.carbon import countries

        return countries().get(code, code)
    except Exception:  # noqa: BLE001 - a missing data file only loses the country name
        return code


def hardware(r: Report | ReportView) -> str | None:
    """The hardware exactly as the label names it (one truth); None when not recorded."""
    h = hardware_text(r)
    return None if h == "not recorded" else h


@dataclass(frozen=True)
class SciEntry(_Entry):
    """``scer.<boundary>.sci``: the SCI as recorded, and as shown (its functional unit's fixed scale)."""

    value: float | None
    unit: str | None
    functional_unit: str | None
    version: str | None
    shown_value: float | None
    shown_unit: str | None

    @classmethod
    def of(cls, sci: SciView) -> SciEntry:
        from ...core import fmt as _fmt

        shown = _fmt.sci_display(sci.to_dict())
        return cls(sci.value, sci.unit, sci.functional_unit, sci.version, shown["value"] if shown else None,
                   shown["unit"] if shown else None)


@dataclass(frozen=True)
class GridEntry(_Entry):
    """``scer.<boundary>.grid``: the grid intensity, the PUE as recorded, and where the figure is from."""

    g_per_kwh: float
    pue: float | None
    location: str | None


@dataclass(frozen=True)
class CoverageEntry(_Entry):
    """``scer.<boundary>.coverage``: how much was measured (only when not everything was); below the threshold, why
    the card has no total and no ``co2_eq_emissions``."""

    measured_fraction: float
    filled_j: float | None
    threshold: float | None
    headline: bool
    text: str
    co2_eq_emissions: str | None

    @classmethod
    def of(cls, r: ReportView) -> CoverageEntry | None:
        tx = coverage_view(r)
        if tx.coverage_text is None:
            return None
        cov = r.coverage
        return cls(tx.coverage, (cov.filled_j or None) if cov else None, cov.threshold if cov else None,
                   tx.headline, tx.coverage_text,
                   None if tx.headline else f"omitted: {tx.no_headline_text}; the Hub field only takes a measured "
                   "figure")


@dataclass(frozen=True)
class PhaseEntry(_Entry):
    """One phase of ``scer.<boundary>.phases``: what was measured, and only what differs from the report."""

    name: str
    kind: str | None
    parent: str | None
    energy_j: float | None
    co2e_g: float | None
    duration_s: float
    measured: bool | None  # False for a phase not measured; left out otherwise
    coverage: float | None  # the measured share, when not all
    filled_j: float | None
    method: str | None  # when it differs from the report's

    @classmethod
    def of(cls, p: PhaseView, method: str | None) -> PhaseEntry:
        cov = p.measured_fraction
        return cls(p.name, p.kind, p.parent, p.total_j, p.co2e_g, p.duration_s, False if not p.measured else None,
                   cov if cov < 1 else None, p.filled_j, p.method if p.method != method else None)


@dataclass(frozen=True)
class BoundaryEntry(_Entry):
    """``scer.<boundary>``: the report's figures (exact numbers), what they cover, and where they come from."""

    report_digest: str
    model: str | None
    task: str | None
    status: str
    method: str | None
    estimated: bool
    energy_j: float | None
    co2e_g: float | None
    embodied_g: float | None
    sci: SciEntry | None
    grid: GridEntry
    hardware: str | None
    coverage: CoverageEntry | None
    phases: tuple[PhaseEntry, ...]
    facts: tuple[FactDict, ...]  # the facts every output shows beside the figures, as the section shows them
    sources: tuple[str, ...]

    @classmethod
    def of(cls, report: Report) -> BoundaryEntry:
        r = report.view
        method = r.provenance.method
        return cls(
            report_digest=report.digest(), model=r.model.id, task=r.model.task, status=report.status, method=method,
            estimated=report.estimated, energy_j=r.energy_j, co2e_g=r.co2e_g, embodied_g=report.embodied_g,
            sci=SciEntry.of(r.sci) if r.sci is not None else None,
            grid=GridEntry(report.carbon.g_per_kwh, r.carbon.pue, location(report.carbon)),
            hardware=hardware(r), coverage=CoverageEntry.of(r),
            phases=tuple(PhaseEntry.of(p, method) for p in r.phases), facts=tuple(fact_dicts(r)),
            sources=tuple(_sources(report, r)))


def _sources(report: Report, r: ReportView) -> list[str]:
    """Where each figure comes from: the grid figure, embodied data, each meter, the SCI formula."""
    carbon, emb = report.carbon, r.embodied
    out = [f"grid intensity: {carbon.source}" + (f" ({carbon.year})" if carbon.year else "")]
    if emb.included and emb.source:
        out.append(f"embodied: {emb.source}")
    out += [f"energy: {m.meter} meter ({m.method}): {m.source}" for m in r.provenance.meters]
    if r.sci is not None:
        out.append(f"{r.sci.version}: (E x I + M) / R, Green Software Foundation")
    return out


@dataclass(frozen=True)
class Co2Entry(_Entry):
    """``co2_eq_emissions`` (Hub spec, hub-docs ``model-cards-co2.md``) of a training report."""

    emissions: float
    source: str
    training_type: str | None
    geographical_location: str | None
    hardware_used: str | None

    @classmethod
    def of(cls, report: Report) -> Co2Entry | None:
        """The entry of a training report with a figure to publish; None for inference, or below the coverage
        threshold (``scer.training`` says why)."""
        co2e_g = report.co2e_g
        if report.boundary != "training" or co2e_g is None:
            return None
        model = report.model_view
        training_type = model.training_type or ("fine-tuning" if model.base_model or model.finetuned_from else None)
        return cls(co2e_g, SOURCE, training_type, location(report.carbon), hardware(report))


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


@dataclass(frozen=True)
class IdentityEntry(_Entry):
    """The Hub's lineage fields a report knows: ``base_model`` and ``library_name`` of a training report (a Hub
    id, never a folder of the training machine) and the ``pipeline_tag`` of its task."""

    base_model: str | None
    library_name: str | None
    pipeline_tag: str | None

    @classmethod
    def of(cls, report: Report) -> IdentityEntry:
        model = report.model_view
        training = report.boundary == "training"
        return cls(_hub_base_model(model) if training else None, model.library_name if training else None,
                   _pipeline_tag(model.task))


def _hub_base_model(model: ModelView) -> str | None:
    """The model's ``base_model`` when it is a Hub id (not a folder of the training machine), else None."""
    base = model.base_model
    ok = base is not None and not model.base_model_local and bool(_HUB_ID.fullmatch(base)) and ".." not in base
    return base if ok else None


def _pipeline_tag(task: str | None) -> str | None:
    """The Hub pipeline tag of a report's task (``text_generation`` -> ``text-generation``); None if unknown."""
    from ...errors import UnknownTaskError
    from ...rating.categories import normalize_task

    try:
        return normalize_task(task) if task is not None and task.strip() else None
    except UnknownTaskError:
        return None
