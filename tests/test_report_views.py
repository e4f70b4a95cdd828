"""The typed views of a report's blocks (scer_hf.core.report_views): what each reads, round trips, partial input."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from scer_hf.core.report import Report
from scer_hf.core.report_views import (
    BenchmarkView,
    CarbonView,
    ExtraView,
    LevelView,
    MeterView,
    ModelView,
    PerUnitView,
    ProvenanceView,
    QualityView,
    ReportView,
    SciView,
    UncertaintyView,
    embodied_of,
)
from scer_hf.core.views import PhaseView
from tests.builders import constant_training_report, gpu_inference_report, inference_report, training_report

_LEVEL = {"concurrency": 4, "phase": "serve c=4", "responses": 30, "failed": 2, "failures": {"timeout": 2},
          "stopped_by": "cap", "j_per_response": 1.5, "j_per_1k_output_tokens": 150.0,
          "throughput_output_tokens_per_s": 80.5, "responses_per_s": 2.5, "responses_measured": 28,
          "meter_uncertainty_rel": 0.05, "latency_s": {"p50": 0.4, "p90": 0.9}, "ttft_s": {"p50": 0.05, "p90": None},
          "ci": {"half_width_j": 0.2, "rel_half_width": 0.13, "confidence": 0.95, "target_rel_half_width": 0.05}}
_SERVED = {"mode": "endpoint", "protocol": "scer-hf-serve/1", "setting": "aienergyscore", "max_new_tokens": 10,
           "warmup": 2, "queries_cap": 30, "hardware": "NVIDIA H100 80GB", "hardware_basis": "given",
           "endpoint": {"model": "gpt2", "url": "http://127.0.0.1:8000/v1", "api": "completions",
                        "energy": "this machine", "measured_here": True},
           "levels": [_LEVEL, {**_LEVEL, "concurrency": 1, "phase": "serve c=1", "ci": None}]}
_CAPPED = {"protocol": "scer-hf-bench/2", "setting": "aienergyscore", "task": "text-generation", "batch_size": 1,
           "max_new_tokens": 10, "warmup": 10, "queries_cap": 40, "queries_run": 40, "queries_measured": 40,
           "stopped_by": "cap", "ci": {"mean_j_per_query": 0.254, "half_width_j": 0.134, "rel_half_width": 0.527,
                                       "confidence": 0.95, "target_rel_half_width": 0.05},
           "hardware": "NVIDIA H100 80GB"}


def _with(rep: Report, **blocks: Any) -> Report:
    return Report.from_dict({**rep.to_dict(), **blocks})


def _reports() -> list[Report]:
    """Every kind of report the builders make, and benchmark ones (a capped interval, a served curve)."""
    inf = inference_report()
    return [inf, training_report(), gpu_inference_report(), constant_training_report({"gpu:0": 100.0}),
            _with(inf, benchmark=_CAPPED, extra={"per_unit": {"wh_per_1k_queries": 0.07}}),
            _with(inf, benchmark=_SERVED)]


@pytest.mark.parametrize("rep", _reports(), ids=lambda r: f"{r.boundary}-{r.view.run_id}")
def test_the_kept_blocks_round_trip_exactly(rep: Report) -> None:
    d, r = rep.to_dict(), rep.view
    assert r.provenance.to_dict() == d["provenance"] and r.carbon.to_dict() == d["carbon"]
    assert r.extra.to_dict() == d.get("extra", {})
    emb = r.embodied.to_dict()  # the core Embodied the build wrote the block from: every key it holds, others None
    assert {k: v for k, v in emb.items() if k in d["embodied"]} == d["embodied"]
    assert all(v is None for k, v in emb.items() if k not in d["embodied"])
    assert (r.sci.to_dict() if r.sci else None) == d["sci"]
    assert [a.to_dict() for a in r.sci_alternatives] == d["sci_alternatives"]
    assert [m.to_dict() for m in r.provenance.meters] == d["provenance"]["meters"]
    if "benchmark" in d:
        assert r.benchmark is not None and r.benchmark.to_dict() == d["benchmark"]
        assert [lv.to_dict() for lv in r.benchmark.levels] == d["benchmark"].get("levels", [])
    else:
        assert r.benchmark is None and rep.benchmark_view is None
    assert rep.to_dict() == d  # reading never changes the report


@pytest.mark.parametrize("rep", _reports(), ids=lambda r: f"{r.boundary}-{r.view.run_id}")
def test_the_report_view_reads_every_headline_field(rep: Report) -> None:
    d, r = rep.to_dict(), rep.view
    assert (r.boundary, r.status, r.run_id, r.created_at) == (d["boundary"], d["status"], d["run_id"],
                                                               d["created_at"])
    assert (r.energy_j, r.co2e_g, r.embodied_g) == (d["energy_j"], d["co2e_g"], d["embodied_g"])
    assert r.estimated is rep.estimated and r.coverage == rep.coverage_view
    assert r.phases == tuple(rep.phase_views()) and r.top_phases == rep.top_phases()
    assert r.model == rep.model_view and r.provenance == rep.provenance_view and r.sci == rep.sci_view
    assert r.embodied == rep.embodied_view and r.uncertainty == rep.uncertainty_view and r.extra == rep.extra_view
    assert r.uncertainty.energy_j == d["uncertainty"]["energy_j"] and r.uncertainty.sci == d["uncertainty"]["sci"]
    assert r.carbon.g_per_kwh == d["carbon"]["g_per_kwh"] and r.carbon.pue == d["carbon"]["pue"]
    assert rep.run_id == d["run_id"]


def test_model_and_provenance_views_read_what_the_outputs_need() -> None:
    rep = gpu_inference_report(hardware="NVIDIA H100 80GB HBM3")
    m = rep.model_view
    assert m.id == rep.model["id"] and m.task == rep.model["task"] and m.parameters == rep.model["parameters"]
    meters = rep.provenance_view.meters
    assert meters and all(isinstance(x, MeterView) for x in meters)
    assert rep.provenance_view.relative_uncertainties == {c: float(x["relative_uncertainty"])
                                                           for x in rep["provenance"]["meters"]
                                                           for c in x["components"]}
    lineage = ModelView.from_dict({"id": "me/ft", "base_model": "org/base", "base_model_local": True,
                                   "training_type": "fine-tuning", "library_name": "transformers",
                                   "active_parameters": 17e9, "parameters": 400e9, "hardware": ""})
    assert lineage.base_model == "org/base" and lineage.base_model_local and lineage.training_type == "fine-tuning"
    assert lineage.active_parameters == 17e9 and lineage.hardware is None  # an empty name is no hardware
    devices = MeterView.from_dict({"meter": "nvml", "device_names": {"gpu:0": "T4"}})  # before "devices"
    assert devices.devices == {"gpu:0": "T4"}


def test_benchmark_view_reads_the_interval_and_where_it_stopped() -> None:
    b = BenchmarkView.from_dict(_CAPPED)
    assert (b.stopped_by, b.queries_cap, b.queries_run, b.queries_measured) == ("cap", 40, 40, 40)
    assert b.ci is not None and b.ci.rel_half_width == 0.527 and b.ci.target_rel_half_width == 0.05
    assert (b.task, b.batch_size, b.max_new_tokens, b.hardware) == ("text-generation", 1, 10, "NVIDIA H100 80GB")
    assert not b.served and b.curve == [] and b.endpoint.measured_here


def test_a_served_benchmark_reads_its_levels_in_concurrency_order() -> None:
    b = BenchmarkView.from_dict(_SERVED)
    assert b.served and [lv.concurrency for lv in b.levels] == [4, 1] and [lv.concurrency for lv in b.curve] == [1, 4]
    lv = b.levels[0]
    assert (lv.responses, lv.failed, dict(lv.failures), lv.responses_measured) == (30, 2, {"timeout": 2}, 28)
    assert lv.latency_s.p50 == 0.4 and lv.ttft_s.p90 is None and lv.ci is not None and lv.ci.half_width_j == 0.2
    assert b.levels[1].ci is None
    assert (b.endpoint.model, b.endpoint.api, b.endpoint.measured_here) == ("gpt2", "completions", True)
    assert LevelView.from_dict(_LEVEL).to_dict() == _LEVEL
    remote = BenchmarkView.from_dict({**_SERVED, "endpoint": {**_SERVED["endpoint"], "measured_here": False}})
    assert not remote.endpoint.measured_here


def test_sci_embodied_uncertainty_extra_and_quality_views() -> None:
    rep = inference_report()
    sci = rep.sci_view
    assert sci is not None and sci.value == rep.sci["value"] and sci.functional_unit == rep.sci["functional_unit"]
    assert sci.count_key == "output_tokens" and sci.shown_unit == rep.sci["shown_unit"]
    assert SciView.of(None) is None and SciView.of({}) is None
    emb = embodied_of({"included": True, "embodied_g": 12, "hardware": "NVIDIA H100", "scope": "card",
                                  "lifetime_years": 4, "source": "Boavizta"})
    assert emb.included and emb.embodied_g == 12 and emb.lifetime_years == 4 and emb.scope == "card"
    assert UncertaintyView.from_dict({"energy_j": 1.5, "relative": 0.05}).relative == 0.05
    pu = ExtraView.from_dict({"per_unit": {"wh_per_1k_queries": 0.07, "j_per_1k_output_tokens": None}}).per_unit
    assert pu == PerUnitView(wh_per_1k_queries=0.07)
    q = QualityView.of({"value": 0.8, "metric": "rougeL", "higher_is_better": True})
    assert q is not None and q.value == 0.8 and q.metric == "rougeL" and QualityView.of({"value": "x"}) is None
    assert CarbonView.from_dict({"g_per_kwh": 56, "pue": None}).pue_or_1 == 1.0


def test_a_partial_or_malformed_report_reads_as_missing_never_raises() -> None:
    r = ReportView.from_dict({"benchmark": {"batch_size": 1}, "model": "not a block", "phases": [{"x": 1}],
                              "sci": {"value": "high"}, "provenance": {"meters": "none", "estimated": "yes"}})
    assert r.model == ModelView() and r.phases == () and r.sci is not None and r.sci.value is None
    assert r.provenance == ProvenanceView() and r.estimated is False and r.carbon.pue_or_1 == 1.0
    assert r.benchmark is not None and r.benchmark.batch_size == 1 and r.benchmark.levels == ()
    assert r.coverage is None and r.energy_j is None and r.status == "complete"


def test_views_are_frozen() -> None:
    r = inference_report().view
    for view in (r, r.model, r.provenance, r.carbon, r.embodied, r.uncertainty, r.extra):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(view, dataclasses.fields(view)[-1].name, None)


def test_a_phase_written_before_coverage_is_all_measured_or_nothing() -> None:
    p = {"name": "train", "kind": "training", "parent": None, "energy_j": {"gpu:0": 10.0, "total": 10.0},
         "duration_s": 2.0, "counts": {"tokens": 100}, "measured": True}
    cov = PhaseView.from_dict(p).measured_windows
    assert cov.measured_fraction == 1.0 and dict(cov.energy_j) == p["energy_j"] and dict(cov.counts) == p["counts"]
    none = PhaseView.from_dict({**p, "measured": False}).measured_windows
    assert none.measured_fraction == 0.0 and dict(none.energy_j) == {"total": 0.0} and not none.counts
    measured = PhaseView.from_dict(inference_report().to_dict()["phases"][0])
    assert measured.measured_windows is measured.coverage


def test_the_outputs_read_the_views_not_the_dict() -> None:
    """The label fields and the rating are the same from a Report, its view and its dict (one door)."""
    from scer_hf.publish.figures import fact_dicts, facts, hardware_text, scope_view

    rep = _with(inference_report(), benchmark=_CAPPED)
    assert fact_dicts(rep) == fact_dicts(rep.to_dict()) == fact_dicts(rep.view) == [f.to_dict() for f in facts(rep)]
    assert scope_view(rep) == scope_view(rep.to_dict()) and hardware_text(rep) == "NVIDIA H100 80GB"
    from scer_hf.rating.measured import binding, measured_hardware, rate_report

    assert binding(rep) == {"model": "org/tiny-gpt2", "boundary": "inference", "report_digest": rep.digest()}
    assert rate_report(rep).to_dict() == rate_report(rep.to_dict()).to_dict()
    d = rep.to_dict()
    assert measured_hardware(rep, rep.top_phases()) == measured_hardware(d, d["phases"])
