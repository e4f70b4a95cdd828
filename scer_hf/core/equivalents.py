"""Human equivalents of a CO2e figure ("about 1,200 km driven by an average car").

Every factor ships as data in ``scer_hf/data/equivalents.csv`` with its source and
year (US EPA Greenhouse Gas Equivalencies Calculator; Green Algorithms). A value is
``co2e_g / g_co2e_per_unit``: an order of magnitude for readers, not an offset.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from ..errors import EstimateInputError, ReferenceDataError
from .fmt import num as _fmtnum

__all__ = ["Equivalent", "Amount", "equivalence_factors", "equivalents", "amounts", "format_equivalents",
           "best_equivalent", "best_amount", "equivalent_text", "led_minute", "DEFAULT_KEYS", "BEST_KEYS", "MIN_SHOWN"]

# shown when no keys are asked for: the three the issue names (car km, phone charges, tree-months)
DEFAULT_KEYS = ("km_car_us", "smartphone_charges", "tree_months")


@dataclass(frozen=True)
class Equivalent:
    """One factor: *g_co2e_per_unit* grams of CO2e per *unit* of *label*."""

    key: str
    label: str
    unit: str
    g_co2e_per_unit: float
    source: str
    year: int
    notes: str


@lru_cache(maxsize=1)
def equivalence_factors() -> dict[str, Equivalent]:
    """Every shipped factor, keyed by ``key``."""
    text = resources.files("scer_hf.data").joinpath("equivalents.csv").read_text(encoding="utf-8")
    out: dict[str, Equivalent] = {}
    for i, r in enumerate(csv.DictReader(text.splitlines()), start=2):
        try:
            factor = float(r["g_co2e_per_unit"])
            year = int(r["year"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ReferenceDataError(f"equivalents.csv line {i} is malformed ({exc}); reinstall scer-hf") from exc
        if not (math.isfinite(factor) and factor > 0) or not r["source"].strip():
            raise ReferenceDataError(f"equivalents.csv line {i}: factor must be > 0 and sourced")
        out[r["key"]] = Equivalent(r["key"], r["label"], r["unit"], factor, r["source"], year, r["notes"])
    return out


def _check_grams(co2e_g: Any) -> None:
    if isinstance(co2e_g, bool) or not isinstance(co2e_g, (int, float)) or not math.isfinite(co2e_g) or co2e_g < 0:
        raise EstimateInputError(f"co2e_g={co2e_g!r} must be a finite number of grams >= 0")


def _chosen_keys(keys: Sequence[str] | None, table: Mapping[str, Equivalent]) -> list[str]:
    """The factors asked for: :data:`DEFAULT_KEYS` when None, every one for ``"all"``; unknown keys refused."""
    chosen = list(table) if keys == "all" else list(DEFAULT_KEYS if keys is None else keys)
    unknown = [k for k in chosen if k not in table]
    if unknown:
        raise EstimateInputError(f"unknown equivalent(s) {unknown}; available: {', '.join(table)}")
    return chosen


@dataclass(frozen=True)
class Amount:
    """A CO2e figure in units of one :class:`Equivalent`: *value* units."""

    factor: Equivalent
    value: float

    @classmethod
    def of(cls, e: Equivalent, co2e_g: float) -> Amount:
        return cls(e, co2e_g / e.g_co2e_per_unit)

    def to_dict(self) -> dict[str, Any]:
        """``{key, label, unit, g_co2e_per_unit, source, year, value}`` (the factor's notes left out)."""
        e = self.factor
        return {"key": e.key, "label": e.label, "unit": e.unit, "g_co2e_per_unit": e.g_co2e_per_unit,
                "source": e.source, "year": e.year, "value": self.value}

    @property
    def short_source(self) -> str:
        """The source's name, without its details: ``"US EPA Greenhouse Gas Equivalencies Calculator"``."""
        return self.factor.source.split(",")[0].split(" (")[0]


def amounts(co2e_g: float, keys: Sequence[str] | None = None) -> list[Amount]:
    """*co2e_g* grams of CO2e in units of each factor of *keys* (default :data:`DEFAULT_KEYS`; ``"all"``)."""
    _check_grams(co2e_g)
    table = equivalence_factors()
    return [Amount.of(table[k], co2e_g) for k in _chosen_keys(keys, table)]


def equivalents(co2e_g: float, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """``[{key, label, value, unit, g_co2e_per_unit, source, year}]`` for *co2e_g* grams of CO2e
    (:func:`amounts` as dicts).

    *keys* picks factors (default :data:`DEFAULT_KEYS`; ``"all"`` for every one).
    """
    return [a.to_dict() for a in amounts(co2e_g, keys)]


# the candidates a label or page picks its one equivalent from (the LED bulb is added per grid)
BEST_KEYS = ("smartphone_charges", "km_car_us", "tree_months")
MIN_SHOWN = 0.1  # below about a tenth of the unit an equivalent says nothing to a reader


def led_minute(g_per_kwh: float) -> Equivalent:
    """Minutes of a 10 W LED bulb on a grid of *g_per_kwh*: an energy equivalent, derived, not a shipped factor.

    10 W x 1 min = 600 J = 1/6 Wh (definition of the watt, SI); times the grid intensity gives
    ``g_per_kwh / 6000`` g CO2e per minute.
    """
    if not (isinstance(g_per_kwh, (int, float)) and math.isfinite(g_per_kwh) and g_per_kwh > 0):
        raise EstimateInputError(f"g_per_kwh={g_per_kwh!r} must be a finite intensity > 0")
    return Equivalent("led_10w_minutes", "minutes of a 10 W LED bulb (same grid)", "minute", g_per_kwh / 6000.0,
                      "derived: 10 W x 1 min = 1/6 Wh (SI definition of the watt) x this report's grid intensity",
                      0, "an energy equivalent expressed on the report's grid")


def best_amount(co2e_g: float, g_per_kwh: float | None = None, keys: Sequence[str] = BEST_KEYS) -> Amount | None:
    """The one equivalent that reads best for *co2e_g*, or None when every one is under :data:`MIN_SHOWN`.

    "Reads best": a value from 1 to 1,000 units, else the one nearest that range (in decades);
    ties go to the order of *keys*, then the 10 W LED bulb (when *g_per_kwh* is given).
    """
    cands = amounts(co2e_g, list(keys))
    if g_per_kwh:
        cands.append(Amount.of(led_minute(g_per_kwh), co2e_g))
    cands = [c for c in cands if c.value >= MIN_SHOWN]
    if not cands:
        return None

    def distance(v: float) -> float:
        lv = math.log10(v)
        return 0.0 if 0 <= lv < 3 else (-lv if lv < 0 else lv - 3)

    return min(enumerate(cands), key=lambda ic: (round(distance(ic[1].value), 6), ic[0]))[1]


def best_equivalent(co2e_g: float, g_per_kwh: float | None = None,
                    keys: Sequence[str] = BEST_KEYS) -> dict[str, Any] | None:
    """:func:`best_amount` as a dict (``{key, label, unit, g_co2e_per_unit, source, year, value}``), or None."""
    best = best_amount(co2e_g, g_per_kwh, keys)
    return best.to_dict() if best is not None else None


def equivalent_text(e: Mapping[str, Any], with_embodied: bool = False) -> str:
    """``"≈ 4.6 smartphone charges"`` (and the scope, when embodied emissions are counted in)."""
    return f"\u2248 {_fmtnum(e['value'])} {e['label']}" + (" (incl. embodied)" if with_embodied else "")


def format_equivalents(co2e_g: float, keys: Sequence[str] | None = None) -> list[str]:
    """One readable line per equivalent of at least :data:`MIN_SHOWN` units, e.g. ``"~1,230 km driven by ..."``."""
    return [f"~{_fmtnum(a.value)} {a.factor.label} ({a.short_source}, {a.factor.year})"
            for a in amounts(co2e_g, keys) if a.value >= MIN_SHOWN]
