"""Modelled inference ranges (scer_hf.rating.modelled): the fit, its interval, calibration, wiring."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from scipy import stats

from scer_hf import rate, reference
from scer_hf.rating import modelled as m
from scer_hf.rating.stars import stars


def test_fit_matches_scipy_and_interval_formula() -> None:
    rng = np.random.default_rng(0)
    p = 10 ** rng.uniform(-1, 2, 30)
    v = 10 ** (0.5 + 0.8 * np.log10(p) + rng.normal(0, 0.2, 30))
    f = m.fit_loglog(list(p), list(v))
    lr = stats.linregress(np.log10(p), np.log10(v))
    assert f.slope == pytest.approx(lr.slope) and f.intercept == pytest.approx(lr.intercept)
    mid, lo, hi = f.predict(5.0)
    x0 = math.log10(5.0)
    x = np.log10(p)
    se = f.s * math.sqrt(1 + 1 / 30 + (x0 - x.mean()) ** 2 / ((x - x.mean()) ** 2).sum())
    t = stats.t.ppf(0.975, 28)
    assert math.log10(mid) == pytest.approx(lr.intercept + lr.slope * x0)
    assert math.log10(hi) - math.log10(mid) == pytest.approx(t * se)
    assert math.log10(mid) - math.log10(lo) == pytest.approx(t * se)
    # leverage: the interval widens away from the centre of the data
    assert math.log10(f.predict(1e4)[2] / f.predict(1e4)[1]) > math.log10(hi / lo)


def test_fit_needs_three_points_and_two_sizes() -> None:
    with pytest.raises(ValueError):
        m.fit_loglog([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError):
        m.fit_loglog([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])


def test_parameter_table_is_sourced_and_matches_aies_models() -> None:
    path = reference.data_dir() / m.PARAMS_FILE
    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    assert rows and all(r["source"].strip() and float(r["params_b"]) > 0 for r in rows)
    assert all(float(r["active_params_b"]) < float(r["params_b"]) for r in rows if r["active_params_b"])
    assert m.parameters_of("mistralai/Mixtral-8x7B-v0.1")["active_params_b"] == 13


def test_moe_point_uses_active_parameters() -> None:
    pts = {p["model"]: p for p in m.published_points("text_generation")}
    assert pts["mistralai/Mixtral-8x7B-v0.1"]["params_b"] == 13


def test_leave_one_out_text_generation_is_calibrated() -> None:
    r = m.leave_one_out("text_generation")
    assert r["n"] >= 30 and r["folds"] == r["n"]
    assert m.COVERAGE_OK[0] <= r["coverage"] <= m.COVERAGE_OK[1]
    assert 0 < r["median_abs_log10_error"] < 0.6


def test_task_without_parameter_counts_is_not_modelled() -> None:
    ok, why = m.modellable("semantic_sentence_similarity")
    assert not ok and "at least" in why
    pr = m.modelled_inference(0.1, "sentence-similarity")
    assert not pr.available and pr.reason


def test_uncalibrated_task_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    m.modellable.cache_clear()
    monkeypatch.setattr(m, "leave_one_out", lambda task, level=m.LEVEL: {"coverage": 0.5})
    try:
        ok, why = m.modellable("text_generation")
        assert not ok and "not calibrated" in why
    finally:
        m.modellable.cache_clear()


def test_modelled_rating_is_a_range_never_a_grade() -> None:
    pr = m.modelled_inference(7.0, "text-generation", model="x/seven")
    assert pr.available and pr.estimated and pr.grade is None and pr.stars is None and pr.percentile is None
    assert pr.method.startswith("modelled (regression on ") and "published figures)" in pr.method
    assert pr.modelled_low < pr.value < pr.modelled_high
    lo_s, hi_s = pr.stars_range
    group = [r["value"] for r in reference.rows("inference") if r["group"] == pr.category["group"]]
    assert (lo_s, hi_s) == (stars(pr.modelled_high, group), stars(pr.modelled_low, group))
    assert pr.stars_label().endswith("stars, modelled")
    d = pr.to_dict()
    assert d["modelled_low"] == pr.modelled_low and d["stars_range"] == [lo_s, hi_s]  # full precision
    assert "published" not in pr.summary().split("[")[-1].replace("published figures", "")


def test_class_follows_total_parameters() -> None:
    pr = m.modelled_inference(13.0, "text-generation", total_params_b=47.0)
    assert pr.category["size_class"] == "B"


def test_rate_wiring_modelled_and_off() -> None:
    r = rate("meta-llama/Llama-3.1-405B", hub=False)  # training row gives 405B, no inference figure
    assert r.inference.method.startswith("modelled") and r.inference.stars_range
    assert r.inference.how_to_measure
    off = rate("meta-llama/Llama-3.1-405B", hub=False, modelled=False)
    assert not off.inference.available
    given = rate("nobody/new-model", hub=False, parameters=3e9, task="text-generation")
    assert given.inference.method.startswith("modelled") and "parameters=" in given.inference.sources[0]
    assert not rate("nobody/new-model", hub=False).inference.available  # no count: nothing to model
    no_task = rate("nobody/new-model", hub=False, parameters=3e9)
    assert not no_task.inference.available and any("task=" in n for n in no_task.inference.notes)
    # a published figure is never replaced by a modelled one
    assert rate("meta-llama/Llama-2-7b-hf", hub=False).inference.method == "published"


def test_parameters_must_be_a_count() -> None:
    from scer_hf.errors import RatingError

    for bad in (7, -1.0, float("nan"), "7e9"):
        with pytest.raises(RatingError, match="parameter count"):
            rate("nobody/new-model", hub=False, parameters=bad, task="text-generation")
