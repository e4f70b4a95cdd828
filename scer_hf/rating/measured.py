"""Rate a measured :class:`scer_hf.Report` (from the callback, the pipeline wrapper or the benchmark).

Inference: GPU energy per 1,000 queries (``energy_j`` of the top-level inference
phases, GPU components only when measured, / 3600 / queries x 1000), rated within the
matching AI Energy Score v1 task (and class for text generation): stars (clipped to
the frozen reference range) and the SCER percentile with the report inserted among the
published peers. Training: ``energy_j x PUE / 3600`` Wh per 10^15 parameter x training
tokens, ranked among the published training rows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from ..core import fmt as _fmt
from ..core.fmt import num as _num
from ..core.report import Report
from ..core.report_views import BenchmarkView, ModelView, ReportView
from ..core.views import PhaseView
from . import reference as _ref
from .categories import aies_task, hardware_class, normalize_task, size_class
from .engine import inference_how_to, rate_value, training_how_to
from .levels import endpoint_phases
from .published import is_third_party
from .records import Category, Co2e, Indicative, ReportBinding
from .refrow import ReferenceRow
from .result import PhaseRating, Rating

__all__ = ["rate_report", "rate_reports", "as_report", "measured_hardware", "withhold", "binding"]

H100 = "NVIDIA H100"


def as_report(x: Any) -> tuple[Report, str | None]:
    """(Report, path or None) from a Report, a dict, or a path (``ReportSchemaError`` if malformed)."""
    if isinstance(x, Report):
        return x, None
    if isinstance(x, dict):
        return Report.from_dict(x), None
    p = Path(os.fspath(x))
    return Report.load(p), str(p)


def _top(r: ReportView, kind: str) -> list[PhaseView]:
    return [p for p in r.top_phases if (p.kind if p.kind is not None else r.boundary) == kind]


def _measured_devices(r: ReportView) -> list[str]:
    """GPU names the meters recorded (NVML ``devices``), in component order."""
    names: list[str] = []
    for m in r.provenance.meters:
        for name in m.devices.values():
            if name not in names:
                names.append(name)
    return names


def _gpu_measured(phases: Sequence[PhaseView]) -> bool:
    return any(c.startswith("gpu") and v is not None and float(v) > 0 for p in phases for c, v in p.energy_j.items())


def measured_hardware(d: Report | ReportView | Mapping[str, Any],
                      phases: Sequence[PhaseView | Mapping[str, Any]]) -> tuple[str | None, str]:
    """(hardware, how it is known) from what the run measured, never from the embodied row alone.

    GPU energy measured: the GPU names the meters recorded, else the hardware the run
    declared (benchmark/provenance/model, then the embodied entry naming that GPU); no GPU
    energy: "CPU", whatever the embodied row says.
    """
    r = d if isinstance(d, ReportView) else d.view if isinstance(d, Report) else ReportView.from_dict(d)
    if not _gpu_measured([p if isinstance(p, PhaseView) else PhaseView.from_dict(p) for p in phases]):
        return "CPU", "no GPU energy measured"
    devices = _measured_devices(r)
    if devices:
        return ", ".join(devices), "GPU name recorded by the meter"
    declared = _hardware(r)
    return declared, "declared by the run (the meter recorded no GPU name)" if declared else "not recorded"


def _hardware(r: ReportView) -> str | None:
    """The hardware the report declares, first found wins: benchmark, provenance, model, extra, embodied (the
    benchmark's hardware= lands in embodied.hardware)."""
    bench = r.benchmark.hardware if r.benchmark is not None else None
    return bench or r.provenance.hardware or r.model.hardware or r.extra.hardware or r.embodied.hardware


def withhold(pr: PhaseRating) -> PhaseRating:
    """A rating that is not comparable keeps its position only as ``indicative``: no grade, stars or percentile."""
    if pr.comparable is False and _graded(pr):
        pr.indicative = Indicative(grade=pr.grade, stars=pr.stars, percentile=pr.percentile, references=pr.peers)
        pr.grade, pr.stars, pr.percentile = None, None, None
        pr.nearest_peers = [p.withhold() for p in pr.nearest_peers]
        pr.reason = _not_comparable_reason(pr.notes)
    return pr


def _graded(pr: PhaseRating) -> bool:
    """Whether a rating has a grade, stars or a percentile."""
    return pr.grade is not None or pr.stars is not None or pr.percentile is not None


def _not_comparable_reason(notes: list[str]) -> str:
    """"not rated: not comparable: <why>", the reasons taken from the "not comparable" notes."""
    why = "; ".join(n.removeprefix("not comparable: ") for n in notes if n.startswith("not comparable"))
    return f"not rated: not comparable: {why}" if why else "not rated: not comparable"


def _size_class_of(row: ReferenceRow) -> str | None:
    """Size class of a training row, on active parameters for a mixture-of-experts model (where published)."""
    from .index import lookup

    entry = lookup(row.model_key)
    if entry and entry.active_params_b:
        return size_class(entry.active_params_b)
    return row.size_class


def _energy_uncertainty_j(r: ReportView, phases: Sequence[PhaseView], gpu_only: bool) -> float:
    """+- J of the energy rated: each component's share times its own meter's relative uncertainty."""
    rel_by_comp = r.provenance.relative_uncertainties
    return sum(abs(float(v)) * rel_by_comp.get(c, 0.0) for p in phases for c, v in p.energy_j.items()
               if v is not None and _rated_component(c, gpu_only))


def _rated_component(c: str, gpu_only: bool) -> bool:
    """Whether an energy component is part of the energy rated (GPU components only when GPU energy is rated)."""
    return c != "total" and (c.startswith("gpu") or not gpu_only)


def _coverage_note(report: Report) -> list[str]:
    frac = report.coverage_view.measured_fraction
    if frac >= 1.0:
        return []
    return [(f"coverage {_fmt.coverage(frac)}: the rest of the run's energy is filled by the documented rule "
            "(scer_hf.core.coverage), within the coverage threshold")]


def _basis(phases: Sequence[PhaseView], key: str, gpu: bool) -> tuple[float, float]:
    """(energy J, count of *key*) of the fully measured windows of *phases*: the same windows for both."""
    e = n = 0.0
    for p in phases:
        cov = p.measured_windows
        e += sum(float(v) for c, v in cov.energy_j.items() if _rated_component(c, gpu))
        n += float(cov.counts.get(key, 0))
    return e, n


class _Common(TypedDict):
    """What every rating of a report says of where it comes from (``PhaseRating`` fields)."""

    sources: list[str]
    estimated: bool
    method: str


@dataclass(frozen=True)
class _Run:
    """One report being rated: the Report, its view (read once), the path it came from."""

    report: Report
    path: str | None
    view: ReportView

    @classmethod
    def of(cls, report: Report, path: str | None) -> _Run:
        return cls(report, path, report.view)

    @property
    def model(self) -> ModelView:
        return self.view.model

    @property
    def bench(self) -> BenchmarkView:
        """The benchmark block (empty for a report that is not a benchmark)."""
        return self.view.benchmark or BenchmarkView()

    def common(self) -> _Common:
        """Sources, estimated and method of a rating of this report."""
        src = f"scer-hf report run {self.view.run_id or '?'}" + (f" ({self.path})" if self.path else "")
        estimated = self.report.estimated
        return _Common(sources=[src], estimated=estimated, method="estimate" if estimated else "measured")

    def unrated(self, phase: str, reason: str, how_to: str | None, **fields: Any) -> PhaseRating:
        return PhaseRating(phase=phase, reason=reason, how_to_measure=how_to, **fields, **self.common())

    def gate(self, phase: str) -> PhaseRating | None:
        """No rating from a report whose coverage is below the threshold: it has no figure to rate."""
        cov = self.report.coverage_view
        if cov.headline is not False:
            return None
        threshold = cov.threshold if cov.threshold is not None else 0.9
        return PhaseRating(
            phase=phase, available=False,
            reason=(f"not rated: only {_fmt.coverage(cov.measured_fraction)} of the run was measured; at least "
                    f"{_fmt.coverage(threshold)} is needed for a figure"),
            how_to_measure=None, **self.common())

    def endpoint_phases(self, phases: list[PhaseView]) -> tuple[list[PhaseView], list[str], str | None]:
        """:func:`~scer_hf.rating.levels.endpoint_phases` of these phases: a served curve rates like with like."""
        return endpoint_phases(self.bench, phases)


def _inference(report: Report, path: str | None, task: str | None, peers: list[ReferenceRow]) -> PhaseRating:
    """Energy per 1,000 queries among the AI Energy Score rows of its task and class; else why there is none."""
    run = _Run.of(report, path)
    phases = _top(run.view, "inference")
    raw_task = task or run.bench.task or run.model.task  # the one passed, else the benchmark's, else the model's
    if not raw_task:
        return run.unrated("inference", "the report names no task; pass task=", inference_how_to(run.model.id, None),
                           available=bool(phases))
    tag = normalize_task(raw_task)
    phases, level_notes, not_rated = run.endpoint_phases(phases)  # a served curve: like with like only
    if not_rated is not None:
        return run.unrated("inference", not_rated, inference_how_to(run.model.id, tag), notes=level_notes)
    gated = run.gate("inference")
    if gated is not None:
        return gated
    basis = _InferenceBasis.of(phases)
    if not phases or not basis.rateable:
        return run.unrated("inference", "the report has no measured inference phase with queries",
                           inference_how_to(run.model.id, tag))
    return _rated_inference(run, tag, phases, basis, level_notes, peers)


@dataclass(frozen=True)
class _InferenceBasis:
    """Energy and queries of the fully measured calls (the same windows); GPU energy when the GPU was measured."""

    energy_j: float
    queries: float
    gpu: bool  # the value is GPU energy (a GPU was metered)

    @classmethod
    def of(cls, phases: Sequence[PhaseView]) -> _InferenceBasis:
        has_gpu = any(c.startswith("gpu") for p in phases for c in p.energy_j)
        key = "queries" if any(p.counts.get("queries") for p in phases) else "samples"
        energy_j, queries = _basis(phases, key, gpu=has_gpu)
        return cls(energy_j, queries, has_gpu and energy_j > 0)

    @property
    def rateable(self) -> bool:
        """Whether queries were counted and energy measured in the same windows."""
        return bool(self.queries) and self.energy_j > 0  # report figures are finite (saved with allow_nan=False)

    @property
    def wh_per_1k(self) -> float:
        return self.energy_j / 3600.0 / float(self.queries) * 1000.0

    def co2e_per_1k(self, r: ReportView) -> Co2e:
        """Operational emissions per 1,000 queries at the report's grid intensity and PUE."""
        co2e_g = self.energy_j / 3.6e6 * r.carbon.pue_or_1 * float(r.carbon.g_per_kwh or 0.0)
        return Co2e(value=co2e_g / float(self.queries) * 1000.0, unit="gCO2eq per 1,000 queries",
                    sci=_sci_dict(r), measured=True)


def _sci_dict(r: ReportView) -> dict[str, Any] | None:
    """The report's SCI block as it holds it (a rating's ``co2e.sci``), or None."""
    return r.sci.to_dict() if r.sci is not None else None


def _inference_category(r: ReportView, tag: str, hw: str, gpu: bool) -> tuple[Category, str | None]:
    """(the category rated in, the AI Energy Score class A/B/C of a text-generation model or None)."""
    params = r.model.parameters
    size = size_class(params / 1e9) if params is not None else None
    cls = size if tag == "text-generation" else None
    task_v1 = aies_task(tag)
    category = Category(phase="inference", task=tag, size_class=size, hardware_class=hardware_class(hw),
                        setting=(r.benchmark.setting if r.benchmark is not None else None) or "scer-hf measurement",
                        group=_ref.aies_group(task_v1, cls) if task_v1 else None,
                        metric=f"Wh per 1,000 queries ({'GPU' if gpu else 'all measured components'})",
                        reference=_ref.REFERENCE_VERSION, edition=_ref.AIES_EDITION)
    return category, cls


def _peer_note(tag: str, cls: str | None) -> list[str]:
    if tag == "text-generation" and cls is None:
        return ["model parameters unknown: AI Energy Score class (A/B/C) undetermined, no peers"]
    if not aies_task(tag):
        return [f"AI Energy Score v1 has no {tag!r} task: no published peers"]
    return []


def _not_comparable(recorded: str | None, hw: str, gpu: bool, bench: BenchmarkView) -> list[str]:
    """Why a measured figure is not comparable with AI Energy Score's (H100, GPU energy, batch 1)."""
    notes = []
    if recorded is None and gpu:
        notes.append("not comparable: hardware not recorded (pass hardware='NVIDIA H100 80GB' or your GPU to the "
                     "benchmark); AI Energy Score v1 used NVIDIA H100 80GB")
    elif hardware_class(hw) != H100:
        notes.append(f"not comparable: hardware differs (measured on {hw}; AI Energy Score v1 used NVIDIA H100 80GB)")
    if not gpu:
        notes.append("not comparable: no GPU energy measured; the value counts CPU/RAM energy "
                     "(AI Energy Score counts GPU energy only)")
    if bench.batch_size not in (None, 1):
        notes.append(f"not comparable: batch size {bench.batch_size} (AI Energy Score uses 1)")
    return notes


def _group_peers(peers: list[ReferenceRow], group: str | None) -> list[ReferenceRow]:
    """The peers of a category's group that have a value (none without a group)."""
    return [r for r in peers if group and r.group == group and r.value is not None]


def _split_level_notes(level_notes: list[str]) -> tuple[list[str], list[str]]:
    """(the "not comparable" notes of the load levels, the others)."""
    blocking = [n for n in level_notes if n.startswith("not comparable")]
    return blocking, [n for n in level_notes if n not in blocking]


def _rated_inference(run: _Run, tag: str, phases: list[PhaseView], basis: _InferenceBasis,
                     level_notes: list[str], peers: list[ReferenceRow]) -> PhaseRating:
    r = run.view
    value = basis.wh_per_1k
    recorded, _how = measured_hardware(r, phases)
    hw = recorded or "a GPU (model not recorded)"
    category, cls = _inference_category(r, tag, hw, basis.gpu)
    # the uncertainty of the energy rated (GPU components only when GPU energy is the value), not the
    # whole report's relative uncertainty, which mixes in CPU/RAM estimates (+-40 %)
    rel = _energy_uncertainty_j(r, phases, gpu_only=basis.gpu) / basis.energy_j
    group_rows = _group_peers(peers, category.group)
    pr = rate_value("inference", value, "Wh per 1,000 queries", group_rows, with_stars=bool(group_rows),
                    category=category, uncertainty=value * rel if rel else None, **run.common())
    blocking, after = _split_level_notes(level_notes)
    notes = _peer_note(tag, cls) + _not_comparable(recorded, hw, basis.gpu, run.bench) + blocking
    pr.comparable = not notes
    pr.notes = notes + after + _coverage_note(run.report) + pr.notes
    withhold(pr)
    if not group_rows and pr.reason is None:
        pr.reason = "no published peers in this category"
    pr.co2e = basis.co2e_per_1k(r)
    return pr


@dataclass(frozen=True)
class _TrainingBasis:
    """What a training report gives the rating: energy with PUE, tokens, parameters, and what is missing."""

    energy_wh: float
    tokens: float
    params: float | None
    pue: float

    @classmethod
    def of(cls, r: ReportView, phases: Sequence[PhaseView]) -> _TrainingBasis:
        pue = r.carbon.pue_or_1
        energy_wh = sum(float(p.total_j or 0.0) for p in phases) * pue / 3600.0
        tokens = sum(float(p.counts.get("tokens", 0)) for p in phases)
        return cls(energy_wh, tokens, r.model.parameters, pue)

    @property
    def missing(self) -> list[str]:
        return [n for n, ok in (("model parameters", self.params is not None and self.params > 0),
                                ("training token counts", self.tokens > 0)) if not ok]

    @property
    def parameter_tokens(self) -> float:
        return float(self.params or 0.0) * self.tokens


def _training(report: Report, path: str | None, peers: list[ReferenceRow]) -> PhaseRating:
    """Energy per 10^15 parameter x training tokens among the published training rows; else why there is none."""
    run = _Run.of(report, path)
    gated = run.gate("training")
    if gated is not None:
        return gated
    phases = _top(run.view, "training") or run.view.top_phases
    basis = _TrainingBasis.of(run.view, phases)
    if basis.missing or basis.energy_wh <= 0:
        return _training_total(run, basis)
    return _rated_training(run, phases, basis, peers)


def _rated_training(run: _Run, phases: list[PhaseView], basis: _TrainingBasis,
                    peers: list[ReferenceRow]) -> PhaseRating:
    value = basis.energy_wh / basis.parameter_tokens * 1e15
    rel = _energy_uncertainty_j(run.view, phases, gpu_only=False) / (basis.energy_wh * 3600.0 / basis.pue)
    cls = _training_class(run.model)
    hw, _how = measured_hardware(run.view, phases)
    same, suffix, peer_note = _training_peers(peers, cls)
    category = Category(phase="training", task="training", size_class=cls,
                        hardware_class=hardware_class(hw) if hw else "unknown", setting="scer-hf measurement",
                        group="training | pre-training | energy per parameter-token" + suffix,
                        metric=_ref.TRAINING_UNIT, reference=_ref.REFERENCE_VERSION)
    pr = rate_value("training", value, _ref.TRAINING_UNIT, same,
                    category=category, uncertainty=value * rel if rel else None, **run.common())
    co2e_g = sum(float(p.co2e_g or 0.0) for p in phases)
    pr.co2e = Co2e(value=co2e_g / basis.parameter_tokens * 1e15, unit=_ref.TRAINING_CO2E_UNIT,
                   sci=_sci_dict(run.view), measured=True)
    reasons = _training_not_comparable(run, phases)
    pr.comparable = not reasons
    pr.notes = [*reasons, *pr.notes, *_coverage_note(run.report), peer_note,
                (f"energy x PUE {basis.pue} (published rows mostly include PUE); published rows are full "
                 "pre-training runs, so a fine-tune is compared with pre-training efficiency")]
    return withhold(pr)


def _training_total(run: _Run, basis: _TrainingBasis) -> PhaseRating:
    """No comparable figure: the training energy shown as a total (not graded), with what is missing."""
    missing = basis.missing
    why = (f"the report lacks {' and '.join(missing)}" if missing else "no training energy measured") + \
        ": energy per parameter x training token cannot be computed"
    measured = basis.energy_wh > 0
    return run.unrated("training", why, training_how_to(run.model.id), available=measured,
                       value=basis.energy_wh / 1e6 if measured else None,
                       unit=f"MWh (training energy with PUE {_num(basis.pue)}, not normalised)" if measured else None)


def _training_class(model: ModelView) -> str | None:
    """Size class on active parameters (a mixture of experts) where the report has them, else all parameters."""
    active = model.active_parameters
    n = float(active) if active is not None and active > 0 else float(model.parameters or 0.0)
    return size_class(n / 1e9)


def _training_peers(peers: list[ReferenceRow], cls: str | None) -> tuple[list[ReferenceRow], str, str]:
    """(peers, group suffix, note): the published rows of the size class when there are 3 or more, else all."""
    published = [r for r in peers if r.value is not None]
    same = [r for r in published if _size_class_of(r) == cls]
    if len(same) >= 3:
        return same, f" | size class {cls}", f"peers: the {len(same)} published training rows of size class {cls}"
    return published, "", (f"peers: all {len(published)} published training rows (size class {cls} has fewer "
                           f"than 3: {len(same)})")


def _training_not_comparable(run: _Run, phases: list[PhaseView]) -> list[str]:
    reasons = []
    if run.report.estimated:
        reasons.append("not comparable: energy is estimated, not measured (published rows are measured runs)")
    if not _gpu_measured(phases):
        reasons.append("not comparable: not measured on a GPU (no GPU energy; published rows are accelerator runs)")
    return reasons


def binding(report: Report) -> dict[str, Any]:
    """What ties a rating to the report it rates: model id, boundary and report digest."""
    return {"model": report.model_view.id, "boundary": report.boundary, "report_digest": report.digest()}


def _peers(phase: str, include_third_party: bool, **flags: Any) -> list[ReferenceRow]:
    """The reference rows a measured run is ranked against: third-party estimates only when asked for."""
    rows = _ref.reference_rows(phase, **flags)
    return rows if include_third_party else [r for r in rows if not is_third_party(r)]


def rate_report(
    x: Any, *, task: str | None = None, include_secondary: bool = False, include_modelled: bool = False,
    include_derived: bool = False, extra: Any = None, include_third_party: bool = False,
) -> Rating:
    """Rate a measured report within its category (see :func:`scer_hf.rate`).

    The rating is bound to the report (``Rating.reports``: model id, boundary, digest). Third-party
    estimates (``scer_hf.rating.published``) join the peers only with ``include_third_party=True``.
    """
    report, path = as_report(x)
    model = report.model_view
    flags = {"include_secondary": include_secondary, "include_modelled": include_modelled, "extra": extra}
    model_id = model.id
    if report.boundary == "inference":
        inference = _inference(report, path, task, _peers("inference", include_third_party, **flags))
        training = PhaseRating(phase="training", reason="this report measures inference only",
                               how_to_measure=training_how_to(model_id))
    else:
        training = _training(report, path, _peers("training", include_third_party, include_derived=include_derived,
                                                  **flags))
        inference = PhaseRating(phase="inference", reason="this report measures training only",
                                how_to_measure=inference_how_to(model_id, model.task))
    return Rating(model=model_id, reference_version=_ref.REFERENCE_VERSION, training=training, inference=inference,
                  reports=[ReportBinding.from_dict(binding(report))])


def _models_named(used: list[Rating], first: Rating) -> str | None:
    """The model of the ratings used: the one model, or "a + b" when they rate different models."""
    models = {r.model for r in used}
    return first.model if len(models) == 1 else " + ".join(str(m) for m in models)


def rate_reports(paths: list[Any], **flags: Any) -> Rating:
    """One rating of several reports of one model (a folder such as ``scer-hf demo``'s): each phase from the
    first report of that boundary, bound to every report it used."""
    by_phase: dict[str, Rating] = {}
    for r in (rate_report(p, **flags) for p in paths):
        by_phase.setdefault(r.reports[0].boundary or "", r)
    first = next(iter(by_phase.values()))
    used = [by_phase[b] for b in ("training", "inference") if b in by_phase]
    return Rating(model=_models_named(used, first),
                  reference_version=first.reference_version,
                  training=(by_phase.get("training") or first).training,
                  inference=(by_phase.get("inference") or first).inference,
                  reports=[r.reports[0] for r in used])
