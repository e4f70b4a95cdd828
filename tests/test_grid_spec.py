"""GridSpec: one value for the grid arguments, accepted as grid= everywhere they were repeated (issue 25)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

import scer_hf
from scer_hf.core.grid import GRID_KEYWORDS, GridSpec
from scer_hf.core.meters import ReplayMeter
from scer_hf.errors import CarbonIntensityError, EstimateInputError, GridConflictError

def _meter() -> ReplayMeter:
    return ReplayMeter({"gpu:0": [(0.0, 100.0), (1e9, 100.0)]})


FRA = GridSpec(country_iso_code="FRA", pue=1.2)
FRA_KW: dict[str, Any] = {"country_iso_code": "FRA", "pue": 1.2}
EST = {"hardware": "NVIDIA A100 SXM4 80GB", "count": 2, "hours": 3}


@pytest.fixture(autouse=True)
def _no_cloud_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_REGION", "FUNCTION_REGION"):
        monkeypatch.delenv(var, raising=False)


def test_the_seven_grid_arguments_are_its_fields() -> None:
    assert GRID_KEYWORDS == ("country_iso_code", "region", "cloud_provider", "cloud_region",
                             "carbon_intensity_g_per_kwh", "pue", "live_intensity")
    assert scer_hf.GridSpec is GridSpec and "GridSpec" in scer_hf.__all__
    with pytest.raises(dataclasses.FrozenInstanceError):
        FRA.pue = 1.5  # type: ignore[misc]


def test_it_checks_pue_and_an_override_at_once() -> None:
    with pytest.raises(CarbonIntensityError, match="Power Usage Effectiveness"):
        GridSpec(pue=0.5)
    with pytest.raises(CarbonIntensityError, match="carbon_intensity_g_per_kwh"):
        GridSpec(carbon_intensity_g_per_kwh=-3)
    assert GridSpec(pue=1).pue == 1.0 and isinstance(GridSpec(pue=1).pue, float)


def test_of_merges_keywords_and_refuses_a_conflict() -> None:
    assert GridSpec.of(None, **FRA_KW) == FRA
    assert GridSpec.of(FRA) is FRA
    assert GridSpec.of(FRA, country_iso_code="FRA", region=None, pue=1.0) is FRA  # agreeing or left at default
    with pytest.raises(GridConflictError, match=r"pue=1.5 \(grid has 1.2\).*dataclasses.replace"):
        GridSpec.of(FRA, pue=1.5)
    with pytest.raises(GridConflictError, match="region"):
        GridSpec.of(FRA, region="California")
    with pytest.raises(CarbonIntensityError, match="takes a scer_hf.GridSpec"):
        GridSpec.of({"country_iso_code": "FRA"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="no field zone"):
        GridSpec.of(None, zone="FR")


def test_estimate_both_ways_and_the_conflict() -> None:
    by_spec = scer_hf.estimate(**EST, grid=FRA).to_dict()
    by_kw = scer_hf.estimate(**EST, **FRA_KW).to_dict()
    assert by_spec["carbon"] == by_kw["carbon"] and by_spec["co2e_g"] == by_kw["co2e_g"]
    assert by_spec["carbon"]["country_iso_code"] == "FRA" and by_spec["carbon"]["pue"] == 1.2
    with pytest.raises(GridConflictError):
        scer_hf.estimate(**EST, grid=FRA, country_iso_code="DEU")
    with pytest.raises(EstimateInputError, match="live_intensity"):
        scer_hf.estimate(**EST, grid=GridSpec(live_intensity="FR"))


class _Pipe:
    model = object()
    task = "text-generation"

    def __call__(self, *a: Any, **k: Any) -> list[Any]:
        return []


class _Model:
    def generate(self, *a: Any, **k: Any) -> list[Any]:
        return []


@pytest.mark.parametrize("track", ["track_pipeline", "track_model"])
def test_trackers_both_ways_and_the_conflict(track: str) -> None:
    pytest.importorskip("transformers")
    obj = _Pipe() if track == "track_pipeline" else _Model()
    fn = getattr(scer_hf, track)
    by_spec, by_kw = fn(obj, meters=[_meter()], grid=FRA), fn(obj, meters=[_meter()], **FRA_KW)
    assert by_spec.carbon == by_kw.carbon and by_spec.carbon.country_iso_code == "FRA"
    with pytest.raises(GridConflictError):
        fn(obj, meters=[_meter()], grid=FRA, pue=1.4)


def test_callback_and_track_training_both_ways_and_the_conflict() -> None:
    pytest.importorskip("transformers")
    from scer_hf.hf.callback import SCERCallback

    assert SCERCallback(grid=FRA).carbon == SCERCallback(**FRA_KW).carbon
    assert SCERCallback(grid=FRA).carbon.pue == 1.2
    with pytest.raises(GridConflictError):
        SCERCallback(grid=FRA, carbon_intensity_g_per_kwh=50)
    by_spec = scer_hf.track_training(grid=FRA, meters=[_meter()])
    by_kw = scer_hf.track_training(meters=[_meter()], **FRA_KW)
    assert by_spec._run.carbon == by_kw._run.carbon
    with pytest.raises(GridConflictError):
        scer_hf.track_training(grid=FRA, cloud_provider="gcp", cloud_region="europe-west4")


def test_benchmark_both_ways_and_the_conflict(gpt2: str) -> None:
    fast = {"queries": 3, "min_queries": 2, "warmup": 0, "progress": False}
    by_spec = scer_hf.benchmark(gpt2, meters=[_meter()], grid=FRA, **fast)
    assert by_spec.carbon.country_iso_code == "FRA" and by_spec.carbon.pue == 1.2
    with pytest.raises(GridConflictError):
        scer_hf.benchmark("no/such-model", grid=FRA, country_iso_code="DEU")  # before any model is loaded
    with pytest.raises(GridConflictError):
        scer_hf.benchmark(endpoint="http://127.0.0.1:9/v1", model="m", grid=FRA, pue=2.0)  # before any request
