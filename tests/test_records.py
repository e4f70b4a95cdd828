"""Core's typed records (issue 25): the TypedDicts name exactly the keys reports carry, and every typed view or
dataclass written back gives the same JSON (round trips over the builders' reports, an estimate and a live run)."""

from __future__ import annotations

import csv
import dataclasses
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from tests.builders import Clock, constant_training_report, gpu_inference_report, inference_report, training_report

sys.path.insert(0, str(Path(__file__).parent))
from emserver import TOKEN, FakeElectricityMaps  # noqa: E402

from scer_hf import Report  # noqa: E402
from scer_hf.core import records  # noqa: E402
from scer_hf.core.calculator import estimate  # noqa: E402
from scer_hf.core.calculator_records import (  # noqa: E402
    Assumptions,
    AssumptionsRecord,
    CalculatorRecord,
    CalculatorUncertainty,
    CalculatorView,
)
from scer_hf.core.carbon import CarbonIntensity, carbon_intensity  # noqa: E402
from scer_hf.core.coverage import Coverage  # noqa: E402
from scer_hf.core.embodied import Embodied  # noqa: E402
from scer_hf.core.equivalents import amounts, best_amount, best_equivalent, equivalents  # noqa: E402
from scer_hf.core.grid_data import GridFigure, country_figure  # noqa: E402
from scer_hf.core.grid_regions import available, cloud_figure, region_figure  # noqa: E402
from scer_hf.core.live_intensity import LiveIntensity, LiveReading, phase_dicts  # noqa: E402
from scer_hf.core.meters import ReplayMeter  # noqa: E402
from scer_hf.core.report_views import MeterView  # noqa: E402
from scer_hf.core.tracker import PhaseTracker  # noqa: E402


def _keys(td: Any) -> tuple[frozenset[str], frozenset[str]]:
    """(required, all) keys of a TypedDict."""
    return frozenset(td.__required_keys__), frozenset(td.__required_keys__ | td.__optional_keys__)


def _fits(d: dict[str, Any], td: Any) -> None:
    required, allowed = _keys(td)
    assert required <= set(d) <= allowed, (td.__name__, sorted(set(d) - allowed), sorted(required - set(d)))


def _estimate() -> Report:
    return estimate("H100 SXM", 8, 10, cpu="Intel Xeon Gold 6148", memory_gb=64, idle_w=500, infrastructure_w=0,
                    lifetime_usage=0.85, embodied_hardware="NVIDIA H100 SXM5 80GB (1 of 8 on HGX H100)",
                    tokens=1e9, country_iso_code="FRA")


def _live_report() -> Report:
    clock = Clock()
    with FakeElectricityMaps() as em:
        live = LiveIntensity("NL", token=TOKEN, base_url=em.url, min_interval_s=0, clock=clock)
        tr = PhaseTracker(ReplayMeter({"gpu:0": [(0.0, 100.0)]}, clock=clock), clock=clock, sync_cuda=False)
        tr.on_edge = live.observe
        tr.begin("a")
        clock.t = 10.0
        a = tr.end("a")
        ci, per = live.apply([a], carbon_intensity("NLD"))
    return Report.build(phase_dicts([a], ci, per, {}, "training"), boundary="training", carbon=ci)


REPORTS = {"training": training_report, "inference": inference_report, "gpu": gpu_inference_report,
           "embodied": lambda: constant_training_report({"gpu:0": 300.0}, embodied_hw="NVIDIA H100 SXM5 80GB"),
           "estimate": _estimate, "live": _live_report}


@pytest.fixture(scope="module", params=sorted(REPORTS))
def report(request: pytest.FixtureRequest) -> dict[str, Any]:
    d: dict[str, Any] = REPORTS[request.param]().to_dict()
    return d


def test_every_phase_and_coverage_block_has_exactly_the_keys_its_record_names(report: dict[str, Any]) -> None:
    for p in report["phases"]:
        _fits(p, records.PhaseRecord)
        _fits(p["coverage"], records.CoverageRecord)
        for comp in p["coverage"].get("components", {}).values():
            _fits(comp, records.ComponentRecord)


def test_the_derived_blocks_have_exactly_the_keys_their_records_name(report: dict[str, Any]) -> None:
    _fits({k: report[k] for k in records.DerivedRecord.__required_keys__}, records.DerivedRecord)
    _fits(report["coverage"], records.ReportCoverageRecord)
    _fits(report["uncertainty"], records.UncertaintyRecord)
    _fits(report["embodied"], records.EmbodiedRecord)
    _fits(report["carbon"], records.CarbonRecord)
    for sci in [report["sci"], *report["sci_alternatives"]] if report["sci"] else []:
        _fits(sci, records.SciRecord)


def test_coverage_embodied_and_carbon_round_trip_through_their_dataclasses(report: dict[str, Any]) -> None:
    for p in report["phases"]:
        assert Coverage.from_dict(p["coverage"]).to_dict() == p["coverage"]
    assert Embodied.from_dict(report["embodied"]).to_dict() == {**dataclasses.asdict(Embodied(False, None)),
                                                                **report["embodied"]}
    assert CarbonIntensity.from_dict(report["carbon"]).to_dict() == report["carbon"]


def test_an_embodied_block_with_hardware_round_trips_exactly() -> None:
    emb = estimate("H100 SXM", 8, 10, embodied_hardware="NVIDIA H100 SXM5 80GB (1 of 8 on HGX H100)")["embodied"]
    assert emb["included"] is True and Embodied.from_dict(emb).to_dict() == emb


def test_the_live_block_names_its_samples_and_what_was_read() -> None:
    live = _live_report().to_dict()["carbon"]["live"]
    _fits(live, records.LiveBlock)
    assert live["samples"] and all(set(s) == _keys(records.SampleRecord)[1] for s in live["samples"])
    assert {s["zone"] for s in live["samples"]} == {"NL"} and {s["signal"] for s in live["samples"]} == {"average"}


def test_a_checked_answer_keeps_only_typed_fields() -> None:
    live = LiveIntensity("NL", token=TOKEN)
    got = LiveReading.from_dict(live._checked({"carbonIntensity": 120, "zone": "NL", "datetime": "2026-01-01T00:00:00Z",
                         "emissionFactorType": "direct", "isEstimated": "yes", "estimationMethod": TOKEN,
                         "extra": {"deep": 1}}))
    assert got == LiveReading(120.0, "2026-01-01T00:00:00Z", "NL", "direct", None, None, "average")


def test_a_failed_reading_is_kept_as_a_fallback_record_with_the_annual_figure() -> None:
    live = LiveIntensity("NL", token=TOKEN, base_url="http://127.0.0.1:9", timeout_s=0.2, min_interval_s=0,
                         clock=Clock())
    with pytest.warns(UserWarning):
        live.observe(0.0)
        live.settle()
    annual = carbon_intensity("NLD")
    _, _ = live.apply([], annual)
    (fb,) = live.fallbacks
    _fits(dict(fb), records.FallbackRecord)
    assert fb["t_s"] == 0.0 and fb["label"] == "edge"


# -- grid figures --------------------------------------------------------------------------------------------------
def test_every_offline_location_resolves_to_a_grid_figure_the_resolver_uses() -> None:
    av = available()
    for p, regions in av["cloud"].items():
        for r in regions:
            fig = cloud_figure(p, r)
            assert isinstance(fig, GridFigure) and fig.cloud_provider == p and fig.cloud_region == r
            ci = carbon_intensity(cloud_provider=p, cloud_region=r, detect=False)
            assert ci == CarbonIntensity.of(fig, location="given")
            assert fig.data_file and fig.data_sha256 and fig.g_per_kwh > 0
    for c, regions in av["regions"].items():
        for r in regions:
            fig = region_figure(c, r)
            assert fig.country_iso_code == c and fig.region and fig.g_per_kwh > 0
    fra = country_figure("FRA")
    assert carbon_intensity("FRA", pue=1.2) == CarbonIntensity.of(fra, pue=1.2, location="given")


def test_an_aws_region_is_the_grid_of_its_cited_location() -> None:
    text = resources.files("scer_hf.data").joinpath("cloud_regions.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert rows
    for row in rows:
        fig = cloud_figure(row["provider"], row["region"])
        assert row["location"] in fig.source and row["source"] in fig.source
        under = region_figure(row["country_iso_code"], row["grid_region"]) if row["grid_region"] \
            else country_figure(row["country_iso_code"])
        assert fig.g_per_kwh == under.g_per_kwh and fig.country_iso_code == under.country_iso_code


# -- the calculator and equivalents ------------------------------------------------------------------------------------
def test_the_calculator_block_reads_back_as_written() -> None:
    rep = _estimate()
    calc = rep["provenance"]["calculator"]
    _fits(calc, CalculatorRecord)
    _fits(calc["assumptions"], AssumptionsRecord)
    view = CalculatorView.of(rep)
    a = calc["assumptions"]
    assert {k: v for k, v in dataclasses.asdict(view.assumptions).items() if v is not None} == a
    assert view.assumptions.cpu == a["cpu"] and view.assumptions.idle_w == 500 and view.assumptions.infrastructure_w == 0
    assert view.uncertainty == CalculatorUncertainty.from_dict(calc["uncertainty"])
    assert list(view.uncertainty.co2e_g_range) == calc["uncertainty"]["co2e_g_range"]


def test_unused_assumptions_read_back_as_none() -> None:
    a = Assumptions.from_dict(estimate("H100 SXM", 1, 1)["provenance"]["calculator"]["assumptions"])
    assert (a.cpu, a.cpu_power_w, a.memory_gb, a.idle_w, a.infrastructure_w, a.lifetime_usage) == (None,) * 6


def test_the_estimate_text_is_the_same_from_the_report_or_its_dict() -> None:
    from scer_hf.cli.estimate import render_text

    rep = _estimate()
    assert render_text(rep, ["~1 x"]) == render_text(rep.to_dict(), ["~1 x"])
    assert "cpu         : codecarbon" in render_text(rep, [])


@pytest.mark.parametrize("grams", [0.0, 0.5, 12.0, 3.4e5, 7e9])
def test_amounts_are_the_dicts_equivalents_return(grams: float) -> None:
    assert [a.to_dict() for a in amounts(grams, "all")] == equivalents(grams, "all")
    best = best_amount(grams, g_per_kwh=56.0)
    assert (best.to_dict() if best else None) == best_equivalent(grams, g_per_kwh=56.0)


def test_meter_views_read_what_the_report_uses_of_each_meter(report: dict[str, Any]) -> None:
    meters = report["provenance"].get("meters", [])
    assert meters or report["uncertainty"]["per_meter"] == {}  # a report built without meters (live run here)
    for m in meters:
        v = MeterView.from_dict(m)
        assert (v.meter, v.method, list(v.components)) == (m["meter"], m["method"], m["components"])
        assert v.relative_uncertainty == m.get("relative_uncertainty", 0.0)
        assert report["uncertainty"]["per_meter"][v.label] == v.uncertainty_basis
        assert all(report["provenance"]["components"][c]["meter"] == v.meter for c in v.components)


def test_a_meter_that_describes_nothing_reads_as_no_meter() -> None:
    v = MeterView.from_dict({})
    assert (v.meter, v.label, v.method, v.components, v.relative_uncertainty, v.uncertainty_basis) == \
        (None, "?", None, (), 0.0, "")
