"""The per-output-token model (scer_hf.rating.pertoken): its data, its fit and how it compares (issue 24)."""

from __future__ import annotations

import math

import pytest

from scer_hf import reference
from scer_hf.rating import modelled as m
from scer_hf.rating import pertoken as t


def test_token_points_are_the_batch_one_rows_that_publish_tokens() -> None:
    pts = t.token_points()
    rows = {r["ref_id"]: r for r in reference.rows("inference")}
    assert len(pts) >= 20
    for p in pts:
        r = rows[p["ref_id"]]
        assert r["value_unit"] == "J per token" and r["batch_size"].strip() == "1" and p["value"] == r["value"]
    assert {rows[p["ref_id"]]["task_key"] for p in pts} == {"text-generation"}


def test_protocol_output_length_is_ten_tokens() -> None:
    assert t.OUTPUT_TOKENS == {"text_generation": 10, "summarization": 10}


def test_fixed_slope_fit_estimates_only_the_intercept() -> None:
    f = t.fit_fixed_slope(0.5)([1.0, 4.0, 16.0], [2.0, 4.0, 8.0])  # exactly y = 2 * x^0.5
    assert f.slope == 0.5 and f.intercept == pytest.approx(math.log10(2.0)) and f.s == pytest.approx(0.0)
    assert f.leverage(1000.0) == pytest.approx(1 / 3)  # the slope is given: no leverage from the size
    with pytest.raises(ValueError):
        t.fit_fixed_slope(0.5)([1.0, 2.0], [1.0, 2.0])


def test_transferred_model_is_j_per_token_times_output_length() -> None:
    f = t.token_fit()
    r = t.transfer_check("text_generation", m.SINGLE)
    assert r["n"] == r["folds"] == len(m.published_points("text_generation", m.SINGLE))
    mid = f.predict(7.0)[0] * 10 * 1000 / 3600
    assert 10 < mid < 30  # Wh per 1,000 queries at 7B: the order of the published 16-21 Wh
    assert t.transfer_check("summarization")["n"] == 0  # no row publishes tokens for it


def test_per_query_fit_validates_better_than_the_per_token_model() -> None:
    """The decision in README "Modelled inference ranges": keep the per-query fit. If the data change so that the
    per-token model wins, this fails and the choice must be made again."""
    q = m.leave_one_out("text_generation", m.SINGLE)
    tr = t.transfer_check("text_generation", m.SINGLE)
    cal = t.calibrated_leave_one_out("text_generation", m.SINGLE)
    assert m.COVERAGE_OK[0] <= q["coverage"] <= m.COVERAGE_OK[1]
    assert q["median_width_dex"] < cal["median_width_dex"] < tr["median_width_dex"]
    assert q["median_abs_log10_error"] < min(cal["median_abs_log10_error"], tr["median_abs_log10_error"])
    assert tr["median_star_classes"] > m.MAX_STAR_CLASSES  # wide enough to say nothing
    beyond = t.transfer_check("text_generation", m.BEYOND)
    assert beyond["coverage"] == 0.0  # rows of <= 13B on one GPU say nothing about 70B across several
    assert t.calibrated_leave_one_out("text_generation", m.BEYOND)["coverage"] < m.COVERAGE_OK[0]
