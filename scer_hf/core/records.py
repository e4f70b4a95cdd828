"""The JSON records core writes into a report, each a :class:`~typing.TypedDict` naming its keys.

A report's phases, their coverage, and the blocks :mod:`scer_hf.core.derive` adds (coverage, SCI, uncertainty,
embodied) are built here as plain dicts, written to the file as they are; these types let mypy check every key
of them where they are built and read. The wire format is the same dict: ``Report.to_dict()`` does not change.
Keys a record may lack sit on a ``total=False`` base (``NotRequired`` needs Python 3.11).

Reports read from outside are checked against ``scer_hf/data/report.schema.json`` before their phases reach the
code typed with these records.
"""

from __future__ import annotations

from typing import TypedDict

__all__ = ["ComponentRecord", "CoverageRecord", "PhaseRecord", "ReportCoverageRecord", "SciRecord",
           "UncertaintyRecord", "EmbodiedRecord", "DerivedRecord", "SampleRecord", "FallbackRecord", "LiveBlock",
           "CarbonRecord"]


class ComponentRecord(TypedDict, total=False):
    """One meter component of a coverage block: seconds measured and not, and the range of its mean power."""

    measured_s: float
    gap_s: float
    power_w: list[float]


class CoverageRecord(TypedDict, total=False):
    """The ``coverage`` block of a phase, or of one rank of it (:meth:`scer_hf.core.coverage.Coverage.to_dict`).

    ``energy_j`` and ``counts`` are of the fully measured windows (``energy_j`` with its ``total``)."""

    measured_fraction: float
    windows_measured: int
    windows: int
    measured_s: float
    duration_s: float
    energy_j: dict[str, float]
    counts: dict[str, float]
    components: dict[str, ComponentRecord]
    ranks: dict[str, CoverageRecord]


class _PhaseOptional(TypedDict, total=False):
    coverage: CoverageRecord
    energy_j_filled: dict[str, float]  # per component, and "total"
    filled_uncertainty_j: float
    unfilled: list[str]
    error_counts: dict[str, int]
    energy_uncertainty_j: float  # set when the report sums its phases (scer_hf.core.derive.Totals.add)
    carbon_g_per_kwh: float  # a live grid reading recorded for this phase (scer_hf.core.live_intensity)


class PhaseRecord(_PhaseOptional):
    """One phase of a report (:func:`scer_hf.core.phases.phase_from_measurement`).

    ``energy_j``: measured energy per component and ``total`` (measured plus filled; null when a gap cannot be
    filled). Phases written before coverage existed (schema 1) have no ``coverage``."""

    name: str
    kind: str
    parent: str | None
    energy_j: dict[str, float | None]
    duration_s: float
    co2e_g: float | None
    counts: dict[str, float]
    measured: bool
    method: str | None
    windows: int
    errors: list[str]


class ReportCoverageRecord(TypedDict):
    """The report's ``coverage`` block (:meth:`scer_hf.core.derive.Totals.coverage`)."""

    measured_fraction: float
    windows_measured: int
    windows: int
    measured_s: float
    duration_s: float
    measured_j: float
    filled_j: float
    threshold: float
    headline: bool
    unfilled: list[str]
    reasons: list[str]
    rule: str


class _SciOptional(TypedDict, total=False):
    boundary: str
    embodied_included: bool
    basis: str
    shown_unit: str | None


class SciRecord(_SciOptional):
    """One SCI (``sci_alternatives`` items; the headline ``sci`` adds its boundary, basis and shown unit)."""

    value: float
    unit: str
    functional_unit: str
    count_key: str
    scale: float
    r: float
    r_measured: float
    version: str
    energy_j_per_unit: float
    uncertainty: float


class UncertaintyRecord(TypedDict):
    """The report's ``uncertainty`` block."""

    energy_j: float | None
    co2e_g: float | None
    sci: float | None
    relative: float
    basis: str
    per_meter: dict[str, str]


class _EmbodiedOptional(TypedDict, total=False):
    hardware: str | None
    te_kgco2e: float | None
    lifetime_years: float | None
    time_reserved_s: float | None
    resource_share: float | None
    scope: str | None
    source: str | None


class EmbodiedRecord(_EmbodiedOptional):
    """The report's ``embodied`` block (:meth:`scer_hf.core.embodied.Embodied.to_dict`; without hardware, only
    these three keys)."""

    included: bool
    embodied_g: float | None
    reason: str | None


class DerivedRecord(TypedDict):
    """The keys :func:`scer_hf.core.derive.derive` adds to a report."""

    energy_j: float | None
    co2e_g: float | None
    embodied_g: float | None
    embodied: EmbodiedRecord
    sci: SciRecord | None
    sci_alternatives: list[SciRecord]
    coverage: ReportCoverageRecord
    uncertainty: UncertaintyRecord


class SampleRecord(TypedDict):
    """One reading as the report lists it (``carbon.live.samples``)."""

    t_s: float
    read_at: str
    label: str
    g_per_kwh: float
    datetime: str | None
    zone: str
    emission_factor_type: str | None
    is_estimated: bool | None
    estimation_method: str | None
    signal: str


class FallbackRecord(TypedDict):
    """A reading that failed, as the report lists it (``carbon.live.fallbacks``): the annual figure used."""

    t_s: float
    read_at: str
    label: str
    reason: str
    g_per_kwh: float | None


class LiveBlock(TypedDict):
    """``carbon.live`` of a report: the readings over the run and how they were applied."""

    source: str
    zone: str
    samples: list[SampleRecord]
    fallbacks: list[FallbackRecord]
    phases: dict[str, float]
    annual_g_per_kwh: float
    annual_source: str
    signal: str | None
    emission_factor_type: str | None
    any_estimated: bool
    sample_count: int
    fallback_count: int
    not_requested: int
    rule: str


class CarbonRecord(TypedDict):
    """The report's ``carbon`` block (:meth:`scer_hf.core.carbon.CarbonIntensity.to_dict`)."""

    g_per_kwh: float
    source: str
    year: int | None
    country_iso_code: str | None
    region: str | None
    pue: float
    basis: str
    cloud_provider: str | None
    cloud_region: str | None
    location: str | None
    detected_from: str | None
    data_file: str | None
    data_sha256: str | None
    codecarbon_version: str | None
    live: LiveBlock | None
