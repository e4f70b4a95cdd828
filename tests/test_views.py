"""The typed read views (scer_hf.core.views) and the Report methods that return them (issue 25)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from scer_hf.core.carbon import CarbonIntensity, carbon_intensity
from scer_hf.core.meters import ReplayMeter
from scer_hf.core.report import Report
from scer_hf.core.tracker import PhaseTracker
from scer_hf.core.views import CoverageView, PhaseView, grid_place, grid_where, is_top, top_level


class _Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


def _report(carbon: CarbonIntensity | None = None) -> Report:
    """generate (prefill 2 s + decode 5 s nested in it) and a second top-level phase, on a replayed trace."""
    clock = _Clock()
    meter = ReplayMeter({"cpu:0": [(0, 50), (100, 50)], "gpu:0": [(0, 200), (100, 300)]}, clock=clock,
                        relative_uncertainty=0.05)
    tr = PhaseTracker([meter], clock=clock)
    with tr.phase("generate") as g:
        with tr.phase("prefill", parent="generate") as w:
            clock.t += 2
            w.add(tokens=512, queries=8)
        with tr.phase("decode", parent="generate") as w:
            clock.t += 5
            w.add(output_tokens=256)
        g.add(queries=8)
    with tr.phase("warmup") as w:
        clock.t += 1
    return Report.build(tr.measurements, boundary="inference", carbon=carbon or carbon_intensity("FRA"),
                        model={"id": "org/tiny"}, provenance=tr.provenance())


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Report]:
    rep = _report()
    path = rep.save(tmp_path_factory.mktemp("views") / "r.json")
    return rep, Report.load(Path(path))


def test_phase_views_round_trip_from_a_saved_report(saved: tuple[Report, Report]) -> None:
    rep, loaded = saved
    views = loaded.phase_views()
    assert views == rep.phase_views()
    assert [v.name for v in views] == [p["name"] for p in loaded.phases]
    for v, p in zip(views, loaded.phases, strict=True):
        assert v.parent == p["parent"] and v.kind == p["kind"] and v.method == p["method"]
        assert v.total_j == p["energy_j"]["total"]
        assert dict(v.energy_j) == p["energy_j"]
        assert v.components == {k: x for k, x in p["energy_j"].items() if k != "total"}
        assert dict(v.counts) == p["counts"] and v.duration_s == p["duration_s"] and v.co2e_g == p["co2e_g"]
        assert v.measured is p["measured"]
        assert v.coverage == CoverageView.from_dict(p["coverage"])
        assert v.measured_fraction == p["coverage"]["measured_fraction"]


def test_top_phases_and_children(saved: tuple[Report, Report]) -> None:
    _, rep = saved
    assert [p.name for p in rep.top_phases()] == ["generate", "warmup"]
    assert all(p.is_top for p in rep.top_phases())
    assert [p.name for p in rep.children("generate")] == ["prefill", "decode"]
    assert rep.children("warmup") == []
    # the one definition works on dicts, views and anything with a parent attribute
    assert [p["name"] for p in top_level(rep.phases)] == ["generate", "warmup"]
    assert not is_top(rep.phase_views()[1]) and is_top({"parent": None})
    # totals count exactly the top-level phases
    assert rep.energy_j == pytest.approx(sum(p.total_j or 0.0 for p in rep.top_phases()))


def test_coverage_view(saved: tuple[Report, Report]) -> None:
    _, rep = saved
    cov = rep.coverage_view
    assert cov == CoverageView.from_dict(rep["coverage"])
    assert cov.measured_fraction == 1.0 and cov.complete and cov.headline is True
    assert cov.windows == rep["coverage"]["windows"] and cov.threshold == rep["coverage"]["threshold"]
    partial = CoverageView.from_dict({"measured_fraction": 0.5, "windows_measured": 1, "windows": 2,
                                      "unfilled": ["gpu:0"], "reasons": ["x"], "headline": False})
    assert not partial.complete and partial.unfilled == ("gpu:0",) and partial.headline is False


def test_a_phase_without_a_coverage_block_reads_as_measured() -> None:
    v = PhaseView.from_dict({"name": "train", "kind": "training", "parent": None, "energy_j": {"total": None},
                             "duration_s": 3, "co2e_g": None, "counts": {}, "measured": False, "method": None})
    assert v.coverage is None and v.measured_fraction == 1.0 and v.total_j is None and v.is_top


def test_views_are_frozen(saved: tuple[Report, Report]) -> None:
    _, rep = saved
    v = rep.top_phases()[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        v.energy_j["total"] = 0.0  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        rep.coverage_view.measured_fraction = 0.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        rep.carbon.g_per_kwh = 0.0  # type: ignore[misc]


def test_report_carbon_is_the_typed_carbon_view(saved: tuple[Report, Report]) -> None:
    _, rep = saved
    c = rep.carbon
    assert isinstance(c, CarbonIntensity)
    assert c.g_per_kwh == rep["carbon"]["g_per_kwh"] and c.country_iso_code == "FRA" and c.pue == 1.0
    assert c.to_dict() == rep["carbon"]


@pytest.mark.parametrize(("carbon", "where", "place"), [
    ({"g_per_kwh": 300.0, "source": "s", "cloud_provider": "aws", "cloud_region": "us-east-1", "region": "virginia",
      "country_iso_code": "USA"}, "aws us-east-1", "aws us-east-1, virginia, USA"),
    ({"g_per_kwh": 300.0, "source": "s", "region": "california", "country_iso_code": "USA"},
     "california, USA", "california, USA"),
    ({"g_per_kwh": 300.0, "source": "s", "country_iso_code": "FRA", "location": "detected",
      "detected_from": "AWS_REGION"}, "FRA, detected from AWS_REGION", "FRA"),
    ({"g_per_kwh": 300.0, "source": "s", "location": "override"}, "a figure given by the user", None),
    ({"g_per_kwh": 475.0, "source": "s", "location": "unknown"}, "world average: no location given", None),
])
def test_grid_where_one_answer(carbon: dict, where: str, place: str | None) -> None:
    assert grid_where(carbon) == where == grid_where(CarbonIntensity.from_dict(carbon))
    assert grid_place(carbon) == place
    named = grid_place(carbon, country_name={"USA": "United States", "FRA": "France"}.get)
    assert named == (place.replace("USA", "United States").replace("FRA", "France") if place else None)


def test_grid_where_of_a_report(saved: tuple[Report, Report]) -> None:
    _, rep = saved
    assert grid_where(rep.carbon) == grid_where(rep["carbon"]) == "FRA"


def test_the_views_import_without_torch() -> None:
    import subprocess
    import sys

    code = ("import sys, scer_hf.core.views, scer_hf.core.report; "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
