"""publish/ reads typed views and the Rating object (issue 25): the Rating round trip, the conversion at the door,
and the frozen label / scope / chart views behind the dict functions that stay."""

from __future__ import annotations

import dataclasses
import json

import pytest

from scer_hf import rate
from scer_hf.core.carbon import carbon_intensity
from scer_hf.core.meters import ReplayMeter
from scer_hf.core.report import Report
from scer_hf.core.tracker import PhaseTracker
from scer_hf.publish.fields import LabelFields, label_view
from scer_hf.publish.figures import CoverageTexts, ScopeTexts, coverage_texts, coverage_view, scope_texts, scope_view
from scer_hf.publish.html import Point, pareto_front
from scer_hf.publish.inputs import phase_rating, rating_of
from scer_hf.publish.label import label_fields, make_label
from scer_hf.rating.result import PhaseRating, Rating


class _Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def report() -> Report:
    clock = _Clock()
    meter = ReplayMeter({"gpu:0": [(0, 200), (100, 300)]}, clock=clock, relative_uncertainty=0.05)
    tr = PhaseTracker([meter], clock=clock)
    with tr.phase("generate") as g:
        with tr.phase("prefill", parent="generate") as w:
            clock.t += 2
            w.add(tokens=512, queries=8)
        with tr.phase("decode", parent="generate") as w:
            clock.t += 5
            w.add(output_tokens=256)
        g.add(queries=8, output_tokens=256)
    return Report.build(tr.measurements, boundary="inference", carbon=carbon_intensity("FRA"),
                        model={"id": "org/tiny-gpt2", "task": "text_generation", "hardware": "NVIDIA H100 80GB"},
                        provenance=tr.provenance())


@pytest.fixture(scope="module")
def rating(report: Report) -> Rating:
    return rate(report)


def test_rating_round_trips_through_its_dict(rating: Rating) -> None:
    d = rating.to_dict()
    again = Rating.from_dict(json.loads(json.dumps(d)))
    assert again.to_dict() == d
    assert again.inference == rating.inference and again.training == rating.training
    assert again.reports == rating.reports and again.reference_version == rating.reference_version


def test_rating_from_a_partial_or_older_dict() -> None:
    r = Rating.from_dict({"model": "m", "reference_version": "v", "inference": {"available": True, "grade": "B",
                                                                               "peers": None, "notes": None}})
    assert r.training == PhaseRating("training")  # a phase the dict lacks is not available
    assert r.inference.phase == "inference" and r.inference.grade == "B" and r.inference.peers == 0
    assert r.inference.notes == [] and r.inference.comparable is True  # written before `comparable` existed
    assert Rating.from_dict({"inference": {"comparable": None}}).inference.comparable is None  # as written
    alt = PhaseRating.from_dict({"phase": "inference", "alternatives": [{"value": 2.0}, "junk"]})
    assert [a.value for a in alt.alternatives] == [2.0] and alt.alternatives[0].phase == "inference"


def test_phase_rating_helpers() -> None:
    pr = PhaseRating.from_dict({"phase": "inference", "available": True, "comparable": False,
                                "notes": ["not comparable: batch size 8", "other"],
                                "indicative": {"grade": "C", "percentile": 12.0, "references": 16}})
    assert pr.not_comparable_reasons() == ["batch size 8"]
    assert pr.indicative_text() == "indicative: C, percentile 12 of 16 references"
    assert not pr.rated and PhaseRating("training", available=True, stars=3).rated


def test_the_rating_is_converted_at_the_door(report: Report, rating: Rating, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "rating.json"
    path.write_text(json.dumps(rating.to_dict()))
    for given in (rating, rating.to_dict(), str(path)):
        typed = rating_of(report, given)
        assert isinstance(typed, Rating) and typed.to_dict() == rating.to_dict()
    assert rating_of(report, None, auto=False) is None
    assert phase_rating(None, "training") == PhaseRating("training")
    # every public function takes the Rating, its dict or its path, and shows the same
    svgs = {make_label(report, given) for given in (rating, rating.to_dict(), str(path))}
    assert len(svgs) == 1


def test_label_view_is_frozen_and_is_label_fields(report: Report, rating: Rating) -> None:
    view = label_view(report, rating)
    assert isinstance(view, LabelFields)
    assert view.to_dict() == label_fields(report, rating)
    assert [p.name for p in view.phases] == ["generate", "prefill", "decode"]  # each top phase, then its children
    assert view.grade == rating.inference.grade and view.rated and view.boundary == "inference"
    assert view.grid_where == "FRA" and view.facts[0].key == "grid"
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.grade = "A"  # type: ignore[misc]


def test_a_not_comparable_rating_shows_no_grade(report: Report, rating: Rating) -> None:
    d = rating.to_dict()
    d["inference"].update(comparable=False, notes=["not comparable: batch size 8"])
    view = label_view(report, d)
    assert view.grade is None and view.stars is None and view.comparable is False
    assert view.rating_reason == "not comparable: batch size 8"
    d["inference"]["comparable"] = None  # a rating that says null is treated as not comparable, as before
    assert label_view(report, d).comparable is False


def test_scope_and_coverage_views(report: Report) -> None:
    d = report.to_dict()
    tx = scope_view(d)
    assert isinstance(tx, ScopeTexts) and isinstance(tx, CoverageTexts)
    assert tx.to_dict() == scope_texts(d) and coverage_view(d).to_dict() == coverage_texts(d)
    assert tx.headline and tx.coverage == 1.0 and tx.coverage_text is None and tx.energy_text != "not measured"
    with pytest.raises(dataclasses.FrozenInstanceError):
        tx.energy_text = "x"  # type: ignore[misc]
    partial = dict(d, energy_j=None, co2e_g=None, sci=None,
                   coverage={**d["coverage"], "measured_fraction": 0.5, "headline": False})
    cov = coverage_view(partial)
    assert not cov.headline and cov.coverage_pct == "50%" and "needed" in (cov.no_headline_text or "")
    assert scope_view(partial).sci_text.startswith("no SCI")


def test_chart_points() -> None:
    pts = [Point("a", 1.0, 0.5), Point("b", 2.0, 0.4), Point("c", 0.5, 0.1)]
    assert [p.model for p in pareto_front(pts, higher_is_better=True)] == ["c", "a"]
    assert Point.of({"model": "m", "value": 3.0, "quality": 0.7}) == Point("m", 3.0, 0.7)
    assert Point.of({"model": "m", "x": 3.0, "y": 0.7, "self": True}).me


def test_the_page_lists_each_peer_with_its_value(report: Report, rating: Rating) -> None:
    from scer_hf.publish.html import render_html

    d = rating.to_dict()
    d["inference"].update(peer_values=[], category=None,
                          nearest_peers=[{"model": "org/peer-a", "value": 0.35}, {"model": "org/peer-b", "value": 8.2}])
    page = render_html(report, d)
    assert '<td>org/peer-a</td><td class="n">0.35</td>' in page
    assert '<td>org/peer-b</td><td class="n">8.2</td>' in page
