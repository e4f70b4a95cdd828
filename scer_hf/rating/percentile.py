"""SCER v0.1 percentile rating (scer_spec.md §1.2.3, SCER spec §2.3.2-2.3.3).

Rank by score descending (the worst, highest score, is rank 1), then
``percentile = (rank - 1) / (N - 1) * 100``; A if percentile > 90, B if 60 <= p <= 90,
C otherwise. Decisions the spec leaves open, made here:

* ties: tied scores share the average of the ranks they occupy (fractional rank), so
  equal figures always get equal percentiles and grades;
* N = 1: no percentile (``None``) and no grade - one figure has nothing to compare with;
* lower is better; a rated new value is inserted among its peers (N includes it), so a
  value outside the reference range gets 0 (worse than all) or 100 (better than all).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["percentiles", "percentile_of", "grade", "GRADE_A_ABOVE", "GRADE_B_FROM"]

GRADE_A_ABOVE = 90.0  # "A: percentile position above the 90th percentile"
GRADE_B_FROM = 60.0  # "B: ... from the 60th to 90th percentile"


def percentiles(scores: Sequence[float]) -> list[float | None]:
    """Percentile position of every score (lower score = better = higher percentile)."""
    n = len(scores)
    if n < 2:
        return [None] * n
    first: dict[float, int] = {}
    last: dict[float, int] = {}
    for rank, s in enumerate(sorted(scores, reverse=True), start=1):
        first.setdefault(s, rank)
        last[s] = rank
    return [((first[s] + last[s]) / 2.0 - 1.0) / (n - 1) * 100.0 for s in scores]


def percentile_of(value: float, peers: Sequence[float]) -> float | None:
    """Percentile of a new *value* inserted among *peers* (N = len(peers) + 1)."""
    return percentiles([*peers, value])[-1]


def grade(percentile: float | None) -> str | None:
    """SCER default scale: A (> 90), B (60-90 inclusive), C (< 60); None without a percentile."""
    if percentile is None:
        return None
    if percentile > GRADE_A_ABOVE:
        return "A"
    if percentile >= GRADE_B_FROM:
        return "B"
    return "C"
