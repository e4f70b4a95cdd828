"""AI Energy Score star rule (hf_ecosystem.md §1.4, verified on all 166 v1 ratings).

Within one task (and, for text generation, one class A/B/C) the GPU energy range
[lo, hi] is cut into five equal-width bands::

    band  = min(floor(5 * (E - lo) / (hi - lo)), 4)
    stars = 5 - band            # lo -> 5 stars, hi -> 1 star

A value outside [lo, hi] of the frozen reference group is clipped (below lo: 5 stars,
above hi: 1 star); a group with hi == lo gives 5 stars. Quantiles are NOT used: a
rank-quintile rule reproduces only 67 of the 166 published ratings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..errors import RatingError
from .records import StarBand

__all__ = ["stars", "star_bands", "band_records", "BANDS"]

BANDS = 5


def stars(energy: float, reference: Sequence[float]) -> int:
    """Stars (1-5) of *energy* against the reference energies of its group."""
    if not reference:
        raise RatingError("no reference energies to compute stars against")
    if not math.isfinite(energy) or energy < 0:
        raise RatingError(f"energy must be a finite number >= 0, got {energy!r}")
    lo, hi = min(reference), max(reference)
    if hi == lo:
        return BANDS
    band = math.floor(BANDS * (energy - lo) / (hi - lo))
    return BANDS - max(0, min(band, BANDS - 1))


def band_records(reference: Sequence[float]) -> list[StarBand]:
    """The five bands, 5 stars first (same units as *reference*)."""
    lo, hi = min(reference), max(reference)
    width = (hi - lo) / BANDS
    return [StarBand(stars=BANDS - i, low=lo + i * width, high=lo + (i + 1) * width) for i in range(BANDS)]


def star_bands(reference: Sequence[float]) -> list[dict[str, float | int]]:
    """The five bands as ``{"stars", "from", "to"}`` (:func:`band_records`' JSON)."""
    return [{"stars": b.stars, "from": b.low, "to": b.high} for b in band_records(reference)]
