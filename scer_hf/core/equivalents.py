"""Human equivalents of a CO2e figure ("about 1,200 km driven by an average car").

Every factor ships as data in ``scer_hf/data/equivalents.csv`` with its source and
year (US EPA Greenhouse Gas Equivalencies Calculator; Green Algorithms). A value is
``co2e_g / g_co2e_per_unit``: an order of magnitude for readers, not an offset.
"""

from __future__ import annotations

import csv
import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Sequence

from ..errors import EstimateInputError, ReferenceDataError

__all__ = ["Equivalent", "equivalence_factors", "equivalents", "format_equivalents", "DEFAULT_KEYS"]

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


def equivalents(co2e_g: float, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """``[{key, label, value, unit, g_co2e_per_unit, source, year}]`` for *co2e_g* grams of CO2e.

    *keys* picks factors (default :data:`DEFAULT_KEYS`; ``"all"`` for every one).
    """
    if isinstance(co2e_g, bool) or not isinstance(co2e_g, (int, float)) or not math.isfinite(co2e_g) or co2e_g < 0:
        raise EstimateInputError(f"co2e_g={co2e_g!r} must be a finite number of grams >= 0")
    table = equivalence_factors()
    if keys == "all":
        keys = list(table)
    chosen = list(DEFAULT_KEYS if keys is None else keys)
    unknown = [k for k in chosen if k not in table]
    if unknown:
        raise EstimateInputError(f"unknown equivalent(s) {unknown}; available: {', '.join(table)}")
    out = []
    for k in chosen:
        e = table[k]
        d = {k2: v for k2, v in asdict(e).items() if k2 != "notes"}
        d["value"] = co2e_g / e.g_co2e_per_unit
        out.append(d)
    return out


def _fmt(v: float) -> str:
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 1:
        return f"{v:,.1f}"
    return f"{v:.2g}"


def format_equivalents(co2e_g: float, keys: Sequence[str] | None = None) -> list[str]:
    """One readable line per equivalent, e.g. ``"~1,234 km driven by ... (US EPA ..., 2024)"``."""
    lines = []
    for e in equivalents(co2e_g, keys):
        src = e["source"].split(",")[0].split(" (")[0]
        lines.append(f"~{_fmt(e['value'])} {e['label']} ({src}, {e['year']})")
    return lines
