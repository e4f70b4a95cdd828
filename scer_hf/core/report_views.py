"""Frozen, typed views of a report's blocks: the model, the meters and provenance, the SCI, embodied emissions,
the uncertainty, a benchmark (its interval, stopping and served levels) and the ``extra`` block.

Each view is made once at the door by ``from_dict`` from the report's (validated) JSON block; a missing or
malformed field reads as None (or empty), never raises, so the outputs can also read a hand-made partial report.
:class:`ReportView` holds them all and is what the publish layer reads; ``Report.view`` and the ``Report`` block
properties (``model_view``, ``sci_view``, ...) return them. ``to_dict()`` (where a view has one) gives the block
back exactly as the report holds it, for the functions that take the JSON record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .embodied import Embodied
from .views import CoverageView, PhaseView, _frozen_map, _opt_float, _texts

__all__ = ["ModelView", "MeterView", "ProvenanceView", "SciView", "embodied_of", "UncertaintyView",
           "IntervalView", "LatencyView", "LevelView", "EndpointView", "BenchmarkView", "ExtraView", "PerUnitView",
           "QualityView", "CarbonView", "ReportView"]


def _block(x: object) -> Mapping[str, Any]:
    """A JSON object, or an empty one (a block absent, null or of another type)."""
    return x if isinstance(x, Mapping) else MappingProxyType({})


def _opt_str(x: object) -> str | None:
    return x if isinstance(x, str) else None


def _text(x: object) -> str | None:
    """A non-empty string, else None."""
    return x if isinstance(x, str) and x else None


def _copy(d: Mapping[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(dict(d)))


@dataclass(frozen=True)
class _Kept:
    """A view that can give its block back as the report holds it (``to_dict``)."""

    block: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The block exactly as the report holds it (a copy)."""
        return _copy(self.block)


@dataclass(frozen=True)
class ModelView:
    """The ``model`` block: what was measured (id, size, task) and its lineage."""

    id: str | None = None
    parameters: float | None = None
    active_parameters: float | None = None
    task: str | None = None
    hardware: str | None = None
    gpu: str | None = None
    training_type: str | None = None
    base_model: str | None = None
    base_model_local: bool = False
    finetuned_from: str | None = None
    library_name: str | None = None

    @classmethod
    def from_dict(cls, d: object) -> ModelView:
        m = _block(d)
        return cls(id=_opt_str(m.get("id")), parameters=_opt_float(m.get("parameters")),
                   active_parameters=_opt_float(m.get("active_parameters")), task=_opt_str(m.get("task")),
                   hardware=_text(m.get("hardware")), gpu=_text(m.get("gpu")),
                   training_type=_text(m.get("training_type")), base_model=_opt_str(m.get("base_model")),
                   base_model_local=bool(m.get("base_model_local")), finetuned_from=_text(m.get("finetuned_from")),
                   library_name=_opt_str(m.get("library_name")))


@dataclass(frozen=True)
class MeterView(_Kept):
    """One meter of ``provenance.meters``: what it read, how, and the devices it named."""

    meter: str | None = None
    method: str | None = None
    source: str | None = None
    components: tuple[str, ...] = ()
    relative_uncertainty: float = 0.0
    uncertainty_basis: str = ""
    devices: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_dict(cls, d: object) -> MeterView:
        m = _block(d)
        devices = _block(m.get("devices") or m.get("device_names"))  # device_names: reports before 2026.12
        return cls(block=m, meter=_opt_str(m.get("meter")), method=_opt_str(m.get("method")),
                   source=_opt_str(m.get("source")), components=_texts(m.get("components")),
                   relative_uncertainty=_opt_float(m.get("relative_uncertainty")) or 0.0,
                   uncertainty_basis=_opt_str(m.get("uncertainty_basis")) or "",
                   devices=MappingProxyType({str(k): str(v) for k, v in devices.items() if v}))

    @property
    def label(self) -> str:
        """The name the ``uncertainty.per_meter`` block keys this meter by ("?" for a meter that gave none)."""
        return self.meter if self.meter is not None else "?"


@dataclass(frozen=True)
class ProvenanceView(_Kept):
    """The ``provenance`` block: the meters, the report's method, whether it is an estimate, declared hardware."""

    meters: tuple[MeterView, ...] = ()
    method: str | None = None
    estimated: bool | None = None  # None: not recorded
    hardware: str | None = None
    gpu: str | None = None

    @classmethod
    def from_dict(cls, d: object) -> ProvenanceView:
        p = _block(d)
        meters = p.get("meters")
        estimated = p.get("estimated")
        return cls(block=p, meters=tuple(MeterView.from_dict(m) for m in meters if isinstance(m, Mapping))
                   if isinstance(meters, list) else (), method=_opt_str(p.get("method")),
                   estimated=estimated if isinstance(estimated, bool) else None, hardware=_text(p.get("hardware")),
                   gpu=_text(p.get("gpu")))

    def meter_dicts(self) -> list[dict[str, Any]]:
        """The meters as the report holds them (for :func:`scer_hf.core.hardware.measured_hardware`)."""
        return [m.to_dict() for m in self.meters]

    @property
    def relative_uncertainties(self) -> dict[str, float]:
        """Each energy component's relative uncertainty, that of the meter that read it."""
        return {c: m.relative_uncertainty for m in self.meters for c in m.components}


@dataclass(frozen=True)
class SciView(_Kept):
    """The ``sci`` block (or one of ``sci_alternatives``): the SCI value per functional unit."""

    value: float | None = None
    unit: str | None = None
    functional_unit: str | None = None
    count_key: str | None = None
    scale: float | None = None
    r: float | None = None
    version: str | None = None
    shown_unit: str | None = None

    @classmethod
    def from_dict(cls, d: object) -> SciView:
        s = _block(d)
        return cls(block=s, value=_opt_float(s.get("value")), unit=_opt_str(s.get("unit")),
                   functional_unit=_opt_str(s.get("functional_unit")), count_key=_opt_str(s.get("count_key")),
                   scale=_opt_float(s.get("scale")), r=_opt_float(s.get("r")), version=_opt_str(s.get("version")),
                   shown_unit=_opt_str(s.get("shown_unit")))

    @classmethod
    def of(cls, d: object) -> SciView | None:
        """The view of an SCI block, or None for a report without one (``sci`` null)."""
        return cls.from_dict(d) if isinstance(d, Mapping) and d else None


def embodied_of(d: object) -> Embodied:
    """The ``embodied`` block as :class:`~scer_hf.core.embodied.Embodied` (what the build wrote it from); a field
    absent or of another type reads as None, and a block absent as not included."""
    e = _block(d)
    hw = e.get("hardware")
    return Embodied(included=bool(e.get("included")), embodied_g=_opt_float(e.get("embodied_g")),
                    hardware=str(hw) if hw else None, te_kgco2e=_opt_float(e.get("te_kgco2e")),
                    lifetime_years=_opt_float(e.get("lifetime_years")),
                    time_reserved_s=_opt_float(e.get("time_reserved_s")),
                    resource_share=_opt_float(e.get("resource_share")), scope=_opt_str(e.get("scope")),
                    source=_opt_str(e.get("source")), reason=_opt_str(e.get("reason")))


@dataclass(frozen=True)
class UncertaintyView:
    """The ``uncertainty`` block: +- energy, CO2e and SCI, and the relative uncertainty."""

    energy_j: float | None = None
    co2e_g: float | None = None
    sci: float | None = None
    relative: float | None = None

    @classmethod
    def from_dict(cls, d: object) -> UncertaintyView:
        u = _block(d)
        return cls(energy_j=_opt_float(u.get("energy_j")), co2e_g=_opt_float(u.get("co2e_g")),
                   sci=_opt_float(u.get("sci")), relative=_opt_float(u.get("relative")))


@dataclass(frozen=True)
class IntervalView:
    """A benchmark's confidence interval (``ci``): of the energy per query, or of one served level."""

    mean_j_per_query: float | None = None
    half_width_j: float | None = None
    rel_half_width: float | None = None
    confidence: float | None = None
    target_rel_half_width: float | None = None

    @classmethod
    def of(cls, d: object) -> IntervalView | None:
        """The view of a ``ci`` block, or None when there is none."""
        if not isinstance(d, Mapping):
            return None
        return cls(mean_j_per_query=_opt_float(d.get("mean_j_per_query")),
                   half_width_j=_opt_float(d.get("half_width_j")), rel_half_width=_opt_float(d.get("rel_half_width")),
                   confidence=_opt_float(d.get("confidence")),
                   target_rel_half_width=_opt_float(d.get("target_rel_half_width")))


@dataclass(frozen=True)
class LatencyView:
    """A latency's median and 90th percentile in seconds (``latency_s``, ``ttft_s`` of a served level)."""

    p50: float | None = None
    p90: float | None = None

    @classmethod
    def from_dict(cls, d: object) -> LatencyView:
        s = _block(d)
        return cls(p50=_opt_float(s.get("p50")), p90=_opt_float(s.get("p90")))


@dataclass(frozen=True)
class LevelView(_Kept):
    """One concurrency level of a served (endpoint) benchmark: the serving curve's point."""

    concurrency: int = 0
    phase: str | None = None
    responses: int = 0
    failed: int = 0
    failures: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    stopped_by: str | None = None
    ci: IntervalView | None = None
    j_per_response: float | None = None
    j_per_1k_output_tokens: float | None = None
    throughput_output_tokens_per_s: float | None = None
    responses_per_s: float | None = None
    responses_measured: int | None = None
    meter_uncertainty_rel: float | None = None
    output_tokens_per_response: float | None = None
    latency_s: LatencyView = field(default_factory=LatencyView)
    ttft_s: LatencyView = field(default_factory=LatencyView)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LevelView:
        measured = d.get("responses_measured")
        # responses_measured: the responses whose energy was measured (older reports: all responses)
        return cls(block=d, concurrency=int(d.get("concurrency") or 0), phase=_opt_str(d.get("phase")),
                   responses=int(d.get("responses") or 0), failed=int(d.get("failed") or 0),
                   failures=MappingProxyType({str(k): int(v) for k, v in _block(d.get("failures")).items()}),
                   stopped_by=_opt_str(d.get("stopped_by")), ci=IntervalView.of(d.get("ci")),
                   j_per_response=_opt_float(d.get("j_per_response")),
                   j_per_1k_output_tokens=_opt_float(d.get("j_per_1k_output_tokens")),
                   throughput_output_tokens_per_s=_opt_float(d.get("throughput_output_tokens_per_s")),
                   responses_per_s=_opt_float(d.get("responses_per_s")),
                   responses_measured=int(measured) if isinstance(measured, int) else None,
                   meter_uncertainty_rel=_opt_float(d.get("meter_uncertainty_rel")),
                   output_tokens_per_response=_opt_float(d.get("output_tokens_per_response")),
                   latency_s=LatencyView.from_dict(d.get("latency_s")),
                   ttft_s=LatencyView.from_dict(d.get("ttft_s")))


@dataclass(frozen=True)
class EndpointView:
    """A served benchmark's ``endpoint``: the model and URL served, its API and where its energy was read."""

    model: str | None = None
    url: str | None = None
    api: str | None = None
    energy: str | None = None
    measured_here: bool = True

    @classmethod
    def from_dict(cls, d: object) -> EndpointView:
        e = _block(d)
        return cls(model=_opt_str(e.get("model")), url=_opt_str(e.get("url")), api=_opt_str(e.get("api")),
                   energy=_opt_str(e.get("energy")), measured_here=e.get("measured_here", True) is not False)


@dataclass(frozen=True)
class BenchmarkView(_Kept):
    """The ``benchmark`` block: how the queries ran, where the interval stopped, and a served curve's levels."""

    mode: str | None = None
    task: str | None = None
    protocol: str | None = None
    setting: str | None = None
    batch_size: int | None = None
    max_new_tokens: int | None = None
    warmup: int | None = None
    hardware: str | None = None
    hardware_basis: str | None = None
    gpu: str | None = None
    stopped_by: str | None = None
    queries_cap: float | None = None
    queries_run: float | None = None
    queries_measured: float | None = None
    ci: IntervalView | None = None
    levels: tuple[LevelView, ...] = ()
    endpoint: EndpointView = field(default_factory=EndpointView)

    @classmethod
    def from_dict(cls, d: object) -> BenchmarkView:
        b = _block(d)
        levels = b.get("levels")
        return cls(
            block=b, mode=_opt_str(b.get("mode")), task=_opt_str(b.get("task")),
            protocol=_opt_str(b.get("protocol")), setting=_opt_str(b.get("setting")),
            batch_size=_opt_int(b.get("batch_size")), max_new_tokens=_opt_int(b.get("max_new_tokens")),
            warmup=_opt_int(b.get("warmup")), hardware=_text(b.get("hardware")),
            hardware_basis=_opt_str(b.get("hardware_basis")), gpu=_text(b.get("gpu")),
            stopped_by=_opt_str(b.get("stopped_by")), queries_cap=_opt_float(b.get("queries_cap")),
            queries_run=_opt_float(b.get("queries_run")), queries_measured=_opt_float(b.get("queries_measured")),
            ci=IntervalView.of(b.get("ci")),
            levels=tuple(LevelView.from_dict(lv) for lv in levels if isinstance(lv, Mapping))
            if isinstance(levels, list) else (),
            endpoint=EndpointView.from_dict(b.get("endpoint")))

    @property
    def served(self) -> bool:
        """A benchmark of a served endpoint (a curve of concurrency levels)."""
        return self.mode == "endpoint"

    @property
    def curve(self) -> list[LevelView]:
        """A served benchmark's levels in concurrency order (none for any other benchmark)."""
        return sorted(self.levels, key=lambda lv: lv.concurrency) if self.served else []


def _opt_int(x: object) -> int | None:
    return x if isinstance(x, int) and not isinstance(x, bool) else None


@dataclass(frozen=True)
class PerUnitView:
    """``extra.per_unit`` (the pipeline wrapper and benchmark): energy and CO2e per query and per output token,
    from the fully measured calls; None where the count is 0."""

    queries: float | None = None
    output_tokens: float | None = None
    j_per_query: float | None = None
    g_per_query: float | None = None
    wh_per_1k_queries: float | None = None
    gpu_wh_per_1k_queries: float | None = None
    j_per_1k_output_tokens: float | None = None
    g_per_1k_output_tokens: float | None = None

    @classmethod
    def from_dict(cls, d: object) -> PerUnitView:
        u = _block(d)
        return cls(queries=_opt_float(u.get("queries")), output_tokens=_opt_float(u.get("output_tokens")),
                   j_per_query=_opt_float(u.get("j_per_query")), g_per_query=_opt_float(u.get("g_per_query")),
                   wh_per_1k_queries=_opt_float(u.get("wh_per_1k_queries")),
                   gpu_wh_per_1k_queries=_opt_float(u.get("gpu_wh_per_1k_queries")),
                   j_per_1k_output_tokens=_opt_float(u.get("j_per_1k_output_tokens")),
                   g_per_1k_output_tokens=_opt_float(u.get("g_per_1k_output_tokens")))


@dataclass(frozen=True)
class ExtraView(_Kept):
    """The ``extra`` block: declared hardware and the per-unit figures a benchmark records."""

    hardware: str | None = None
    gpu: str | None = None
    per_unit: PerUnitView = field(default_factory=PerUnitView)

    @classmethod
    def from_dict(cls, d: object) -> ExtraView:
        e = _block(d)
        return cls(block=e, hardware=_text(e.get("hardware")), gpu=_text(e.get("gpu")),
                   per_unit=PerUnitView.from_dict(e.get("per_unit")))


@dataclass(frozen=True)
class QualityView(_Kept):
    """A ``quality`` block (``scer_hf.hf.quality``): the task metric's value, its name and direction."""

    value: float | None = None
    metric: str = "quality"
    higher_is_better: bool = True

    @classmethod
    def of(cls, d: object) -> QualityView | None:
        """The view of a quality block with a numeric value, else None (no quality figure)."""
        if not isinstance(d, Mapping) or _opt_float(d.get("value")) is None:
            return None
        return cls(block=d, value=_opt_float(d.get("value")), metric=str(d.get("metric", "quality")),
                   higher_is_better=bool(d.get("higher_is_better", True)))


@dataclass(frozen=True)
class CarbonView(_Kept):
    """The ``carbon`` block as the outputs read it (a partial block reads too; see ``Report.carbon`` for the
    full :class:`~scer_hf.core.carbon.CarbonIntensity`)."""

    g_per_kwh: float | None = None
    pue: float | None = None  # as recorded (None when absent); see ``pue_or_1``
    source: str | None = None
    year: int | None = None
    location: str | None = None
    country_iso_code: str | None = None
    region: str | None = None
    cloud_provider: str | None = None
    cloud_region: str | None = None
    detected_from: str | None = None

    @classmethod
    def from_dict(cls, d: object) -> CarbonView:
        c = _block(d)
        return cls(block=c, g_per_kwh=_opt_float(c.get("g_per_kwh")), pue=_opt_float(c.get("pue")),
                   source=_opt_str(c.get("source")), year=_opt_int(c.get("year")),
                   location=_opt_str(c.get("location")), country_iso_code=_opt_str(c.get("country_iso_code")),
                   region=_opt_str(c.get("region")), cloud_provider=_opt_str(c.get("cloud_provider")),
                   cloud_region=_opt_str(c.get("cloud_region")), detected_from=_opt_str(c.get("detected_from")))

    @property
    def pue_or_1(self) -> float:
        """The PUE applied: the recorded one, 1 when none (or 0) is recorded."""
        return float(self.pue or 1.0)


@dataclass(frozen=True)
class ReportView:
    """A whole report as the outputs read it: every block as its view, made once from the report's JSON."""

    boundary: str | None = None
    status: str = "complete"
    run_id: str | None = None
    created_at: str | None = None
    energy_j: float | None = None
    co2e_g: float | None = None
    embodied_g: float | None = None
    model: ModelView = field(default_factory=ModelView)
    carbon: CarbonView = field(default_factory=CarbonView)
    provenance: ProvenanceView = field(default_factory=ProvenanceView)
    sci: SciView | None = None
    sci_alternatives: tuple[SciView, ...] = ()
    uncertainty: UncertaintyView = field(default_factory=UncertaintyView)
    embodied: Embodied = field(default_factory=lambda: Embodied(False, None))
    benchmark: BenchmarkView | None = None
    extra: ExtraView = field(default_factory=ExtraView)
    coverage: CoverageView | None = None
    phases: tuple[PhaseView, ...] = ()
    quality: QualityView | None = None
    co2e_g_per_quality_unit: Mapping[str, Any] | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReportView:
        cov, bench, alts, phases = d.get("coverage"), d.get("benchmark"), d.get("sci_alternatives"), d.get("phases")
        per_q = d.get("co2e_g_per_quality_unit")
        return cls(
            boundary=_opt_str(d.get("boundary")), status=_opt_str(d.get("status")) or "complete",
            run_id=_opt_str(d.get("run_id")), created_at=_opt_str(d.get("created_at")),
            energy_j=_opt_float(d.get("energy_j")), co2e_g=_opt_float(d.get("co2e_g")),
            embodied_g=_opt_float(d.get("embodied_g")), model=ModelView.from_dict(d.get("model")),
            carbon=CarbonView.from_dict(d.get("carbon")), provenance=ProvenanceView.from_dict(d.get("provenance")),
            sci=SciView.of(d.get("sci")),
            sci_alternatives=tuple(SciView.from_dict(s) for s in alts if isinstance(s, Mapping))
            if isinstance(alts, list) else (),
            uncertainty=UncertaintyView.from_dict(d.get("uncertainty")),
            embodied=embodied_of(d.get("embodied")),
            benchmark=BenchmarkView.from_dict(bench) if isinstance(bench, Mapping) else None,
            extra=ExtraView.from_dict(d.get("extra")),
            coverage=CoverageView.from_dict(cov) if isinstance(cov, Mapping) else None,
            phases=tuple(PhaseView.from_dict(p) for p in phases if isinstance(p, Mapping) and "name" in p)
            if isinstance(phases, list) else (),
            quality=QualityView.of(d.get("quality")),
            co2e_g_per_quality_unit=_frozen_map(per_q) if isinstance(per_q, Mapping) else None)

    @property
    def estimated(self) -> bool:
        return bool(self.provenance.estimated)

    @property
    def top_phases(self) -> list[PhaseView]:
        """The top-level phases, in report order."""
        return [p for p in self.phases if p.is_top]
