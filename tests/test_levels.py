"""Which level of a served benchmark is rated (rating/levels.py), read through the typed benchmark view."""

from __future__ import annotations

from typing import Any

from scer_hf.core.report_views import BenchmarkView
from scer_hf.rating.levels import endpoint_phases


def _bench(**kw: Any) -> BenchmarkView:
    levels = [{"concurrency": 1, "phase": "inference@c1", "output_tokens_per_response": 10.0},
              {"concurrency": 8, "phase": "inference@c8", "output_tokens_per_response": 10.0}]
    return BenchmarkView.from_dict({"mode": "endpoint", "max_new_tokens": 10, "levels": levels,
                                    "endpoint": {"measured_here": True}, **kw})


def test_only_concurrency_one_is_rated_and_the_others_are_named() -> None:
    rated, notes, reason = endpoint_phases(_bench(), [])
    assert reason is None and rated == []
    assert notes[0].startswith("rated: the level at concurrency 1")
    assert "levels at concurrency 8: shown, not rated" in notes[1] and len(notes) == 2


def test_a_shorter_answer_than_the_token_budget_is_not_comparable() -> None:
    levels = [{"concurrency": 1, "phase": "inference@c1", "output_tokens_per_response": 7.5}]
    _, notes, _ = endpoint_phases(_bench(levels=levels), [])
    assert notes[-1] == ("not comparable: responses averaged 7.5 output tokens; AI Energy Score generates exactly 10 "
                         "(the server may stop early at an end-of-sequence token)")


def test_a_remote_server_and_a_curve_without_concurrency_one_are_not_rated() -> None:
    _, _, remote = endpoint_phases(_bench(endpoint={"measured_here": False, "energy": "the server's own meter"}), [])
    assert remote is not None and "not measured here (the server's own meter)" in remote
    _, notes, missing = endpoint_phases(_bench(levels=[{"concurrency": 4, "phase": "inference@c4"}]), [])
    assert missing is not None and "add concurrency 1" in missing and "concurrency 4: shown" in notes[0]


def test_a_benchmark_that_is_not_served_passes_its_phases_through() -> None:
    assert endpoint_phases(BenchmarkView.from_dict({"mode": "pipeline"}), []) == ([], [], None)
