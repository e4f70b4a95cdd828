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


def test_moe_point_uses_active_parameters_and_its_total_picks_the_regime() -> None:
    pts = {p["model"]: p for p in m.published_points("text_generation")}
    mix = pts["mistralai/Mixtral-8x7B-v0.1"]
    assert mix["params_b"] == 13 and mix["total_b"] == 47
    assert m.regime_of("text_generation", 47) == m.BEYOND  # 94 GB of 16-bit weights: more than one 80 GB GPU
    assert m.regime_of("text_generation", 34) == m.SINGLE and m.regime_of("summarization", 500) == m.ALL
    beyond = {p["model"] for p in m.published_points("text_generation", m.BEYOND)}
    assert "mistralai/Mixtral-8x7B-v0.1" in beyond and "meta-llama/Llama-2-70b-hf" in beyond
    assert not beyond & {p["model"] for p in m.published_points("text_generation", m.SINGLE)}


def test_leave_one_out_text_generation_is_calibrated_and_narrow() -> None:
    r = m.leave_one_out("text_generation", m.SINGLE)
    assert r["n"] >= 30 and r["folds"] == r["n"]
    assert m.COVERAGE_OK[0] <= r["coverage"] <= m.COVERAGE_OK[1]
    assert 0 < r["median_abs_log10_error"] < 0.15
    assert r["median_width_dex"] < 0.5 and r["median_star_classes"] <= m.MAX_STAR_CLASSES  # 1.88 dex, 5 before
    assert r["useful"] >= r["of"] / 2


def test_beyond_one_gpu_is_not_calibrated_so_not_modelled() -> None:
    ok, why = m.modellable("text_generation", m.BEYOND)
    assert not ok and "not calibrated" in why
    pr = m.modelled_inference(70.0, "text-generation")
    assert not pr.available and "exceed one 80 GB GPU" in pr.reason


def test_local_interval_is_the_largest_neighbour_error_times_leverage() -> None:
    model = m.model_for("text_generation", m.SINGLE)
    mid, lo, hi = model.interval(7.0)
    x0 = math.log10(7.0)
    near = sorted(range(len(model.sizes_b)), key=lambda j: abs(math.log10(model.sizes_b[j]) - x0))[:m.NEIGHBOURS]
    half = max(model.errors[j] for j in near) * math.sqrt(1 + model.fit.leverage(7.0))
    assert math.log10(hi / mid) == pytest.approx(half) and math.log10(mid / lo) == pytest.approx(half)
    assert math.log10(mid) == pytest.approx(model.fit.intercept + model.fit.slope * x0)
    # far outside the data the leverage widens it
    assert math.log10(model.interval(0.001)[2] / model.interval(0.001)[1]) > 2 * half


def test_task_without_parameter_counts_is_not_modelled() -> None:
    ok, why = m.modellable("object_detection")
    assert not ok and "at least" in why
    pr = m.modelled_inference(0.1, "object-detection")
    assert not pr.available and pr.reason


def test_uncalibrated_task_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    m.modellable.cache_clear()
    monkeypatch.setattr(m, "leave_one_out", lambda task, regime=None: {"coverage": 0.5})
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
    assert hi_s - lo_s + 1 <= m.MAX_STAR_CLASSES
    assert pr.stars_label().endswith("stars, modelled")
    d = pr.to_dict()
    assert d["modelled_low"] == pr.modelled_low and d["stars_range"] == [lo_s, hi_s]  # full precision
    assert "published" not in pr.summary().split("[")[-1].replace("published figures", "")
    assert "95 %" not in pr.summary() and "modelled range" in pr.summary()


def test_a_range_that_says_nothing_is_not_shown() -> None:
    wide = m.modelled_inference(2.5, "text-generation")  # 2-3B: published figures from 8 to 19 Wh
    assert not wide.available and "cannot be modelled usefully" in wide.reason and "star classes" in wide.reason
    asr = m.modelled_inference(0.5, "automatic-speech-recognition")
    assert not asr.available and "cannot be modelled usefully" in asr.reason


def test_extrapolation_is_flagged() -> None:
    pr = m.modelled_inference(0.03, "text-generation")
    assert pr.available and any(n.startswith("extrapolated: 0.03B is outside the fitted range") for n in pr.notes)
    assert not any(n.startswith("extrapolated") for n in m.modelled_inference(7.0, "text-generation").notes)


def test_class_follows_total_parameters() -> None:
    pr = m.modelled_inference(13.0, "text-generation", total_params_b=30.0)
    assert pr.category["size_class"] == "B" and pr.category["regime"] == m.SINGLE


def test_rate_wiring_modelled_and_off() -> None:
    r = rate("allenai/OLMo-7B", hub=False)  # a training row gives 7B, no inference figure
    assert r.inference.method.startswith("modelled") and r.inference.stars_range
    assert r.inference.how_to_measure
    assert not rate("allenai/OLMo-7B", hub=False, modelled=False).inference.available
    big = rate("meta-llama/Llama-3.1-405B", hub=False)  # 810 GB of weights: the fit beyond one GPU is not calibrated
    assert not big.inference.available and any("not calibrated" in n for n in big.inference.notes)
    given = rate("nobody/new-model", hub=False, parameters=7e9, task="text-generation")
    assert given.inference.method.startswith("modelled") and "parameters=" in given.inference.sources[0]
    assert not rate("nobody/new-model", hub=False).inference.available  # no count: nothing to model
    # a parameter count alone: the task is assumed (text generation) and said so
    no_task = rate("nobody/new-model", hub=False, parameters=7e9)
    assert no_task.inference.available and any("task assumed text-generation" in n for n in no_task.inference.notes)
    # a published figure is never replaced by a modelled one
    assert rate("meta-llama/Llama-2-7b-hf", hub=False).inference.method == "published"


def test_parameter_count_alone_gets_the_task_its_architecture_implies() -> None:
    r = rate("bigscience/bloom-1b1", hub=False)  # lineage: bloom, 1,065M parameters; no figure, no pipeline tag
    assert r.inference.method.startswith("modelled") and r.inference.category["task"] == "text-generation"
    assert any("what its architecture (bloom) implies" in n for n in r.inference.notes)
    from scer_hf.rating import index

    task, n, of = index.architecture_task("bloom")
    assert task == "text-generation" and 0 < n <= of
    assert index.architecture_task("llama")[0] == "text-generation"
    assert index.architecture_task("nonexistent") is None


def test_parameters_must_be_a_count() -> None:
    from scer_hf.errors import RatingError

    for bad in (7, -1.0, float("nan"), "7e9"):
        with pytest.raises(RatingError, match="parameter count"):
            rate("nobody/new-model", hub=False, parameters=bad, task="text-generation")


def test_text2text_is_modelled_as_summarization_and_says_so() -> None:
    """AI Energy Score v1 measured its text2text models (T5) in summarization: a text2text model is modelled there."""
    t2t, summ = m.modelled_inference(0.077, "text2text-generation"), m.modelled_inference(0.077, "summarization")
    assert t2t.available and (t2t.value, t2t.modelled_low, t2t.modelled_high) == (
        summ.value, summ.modelled_low, summ.modelled_high)
    assert t2t.category["task"] == "text2text-generation" and t2t.category["aies_task"] == "summarization"
    assert t2t.category["group"] == summ.category["group"] and t2t.grade is None and t2t.stars is None
    assert any(n.startswith("task taken as summarization: ") for n in t2t.notes)
    assert not any(n.startswith("task taken as") for n in summ.notes)
    assert m.TASK_TAKEN_AS == {"text2text-generation": "summarization"}
    assert not m.modelled_inference(0.4, "translation").available  # no v1 task and no mapping: nothing to model
    wide = m.modelled_inference(11.0, "text2text-generation")  # 4 star classes at 11B: refused, and it says why
    assert not wide.available and "cannot be modelled usefully" in wide.reason and "task taken as" in wide.reason


@pytest.mark.parametrize("model", ["google/flan-t5-small", "facebook/m2m100_418M",
                                   "csebuetnlp/banglat5_banglaparaphrase"])
def test_popular_text2text_models_get_a_summarization_range(model: str) -> None:
    i = rate(model, hub=False).inference
    assert i.available and i.method.startswith("modelled") and i.category["aies_task"] == "summarization"
    assert any(n.startswith("task taken as summarization") for n in i.notes)
    assert not any(n.startswith("extrapolated") for n in i.notes)  # 0.08-0.42B: inside the fitted 0.06-11B


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "7"])
def test_a_parameter_count_that_is_not_a_positive_number_is_refused(bad: object) -> None:
    pr = m.modelled_inference(bad, "text-generation")  # type: ignore[arg-type]
    assert not pr.available and "parameter count must be a positive number" in (pr.reason or "")
