"""Embodied emissions per SCI: M = TE x (TiR / EL) x RS.

TE (kg CO2e) and EL (years) come from the sourced table shipped in
``scer_hf/data/hardware_embodied.csv`` (every row keeps its scope, source and notes;
see ``HARDWARE_EMBODIED.md`` beside it). TiR is the time the hardware was reserved,
RS the share of it reserved (e.g. 1 of 8 GPUs is 1/8 when TE is for the baseboard).
Unknown hardware or a row with no lifetime gives "not included" with the reason,
never a guess, unless the caller passes ``lifetime_years`` explicitly.
"""

from __future__ import annotations

import csv
import difflib
import warnings
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from ..errors import HardwareNotFoundError
from .records import EmbodiedRecord

__all__ = ["EmbodiedRow", "Embodied", "hardware_table", "find_hardware", "embodied_emissions"]

SECONDS_PER_YEAR = 365.25 * 24 * 3600
_WARNED: set[str] = set()


@dataclass(frozen=True)
class EmbodiedRow:
    hardware: str
    category: str
    embodied_kgco2e: float
    scope: str
    lifetime_years: float | None
    source: str
    notes: str


@dataclass(frozen=True)
class Embodied:
    """The M term of SCI for one piece of hardware over one reservation."""

    included: bool
    embodied_g: float | None
    hardware: str | None = None
    te_kgco2e: float | None = None
    lifetime_years: float | None = None
    time_reserved_s: float | None = None
    resource_share: float | None = None
    scope: str | None = None
    source: str | None = None
    reason: str | None = None

    @classmethod
    def from_dict(cls, d: EmbodiedRecord) -> Embodied:
        """The block :meth:`to_dict` wrote (without hardware, only ``included``, ``embodied_g`` and ``reason``)."""
        return cls(**d)

    def to_dict(self) -> EmbodiedRecord:
        return {"included": self.included, "embodied_g": self.embodied_g, "hardware": self.hardware,
                "te_kgco2e": self.te_kgco2e, "lifetime_years": self.lifetime_years,
                "time_reserved_s": self.time_reserved_s, "resource_share": self.resource_share, "scope": self.scope,
                "source": self.source, "reason": self.reason}


@lru_cache(maxsize=1)
def hardware_table() -> tuple[EmbodiedRow, ...]:
    """Every row of the shipped embodied-emissions table."""
    text = resources.files("scer_hf.data").joinpath("hardware_embodied.csv").read_text(encoding="utf-8")
    rows = []
    for r in csv.DictReader(text.splitlines()):
        rows.append(
            EmbodiedRow(
                hardware=r["hardware"].strip(),
                category=r["category"].strip(),
                embodied_kgco2e=float(r["embodied_kgco2e"]),
                scope=r["scope"],
                lifetime_years=float(r["lifetime_years"]) if r["lifetime_years"].strip() else None,
                source=r["source"],
                notes=r["notes"],
            )
        )
    return tuple(rows)


def _suggestions(name: str, names: list[str]) -> list[str]:
    """Rows to suggest for an unknown *name*: the closest spellings, then up to three rows that contain it."""
    sugg = difflib.get_close_matches(name, names, n=3, cutoff=0.3)
    return sugg + [n for n in names if name.lower() in n.lower() and n not in sugg][:3]


def find_hardware(name: str) -> EmbodiedRow:
    """The table row named *name* (case-insensitive exact match), or a typed error with suggestions."""
    rows = hardware_table()
    for row in rows:
        if row.hardware.lower() == name.strip().lower():
            return row
    sugg = _suggestions(name, [r.hardware for r in rows])
    raise HardwareNotFoundError(
        f"no embodied-emissions row for hardware {name!r}"
        + (f"; did you mean {' or '.join(repr(s) for s in sugg)}?" if sugg else ".")
        + " See scer_hf.core.embodied.hardware_table() for every row.",
        suggestions=sugg,
    )


def embodied_emissions(
    hardware: str | None,
    time_reserved_s: float,
    *,
    resource_share: float = 1.0,
    count: int = 1,
    lifetime_years: float | None = None,
) -> Embodied:
    """M for *count* units of *hardware* reserved for *time_reserved_s* seconds.

    Never guesses: unknown hardware, or a row without a lifetime when none is passed,
    returns ``Embodied(included=False, reason=...)``.
    """
    if hardware is None:
        return Embodied(False, None, reason="hardware not given; embodied emissions not included")
    try:
        row = find_hardware(hardware)
    except HardwareNotFoundError as exc:
        # a typo must not drop embodied emissions unnoticed: say so (once per name), then report "not included"
        if hardware not in _WARNED:
            _WARNED.add(hardware)
            warnings.warn(f"scer-hf: embodied emissions not included: {exc}", UserWarning, stacklevel=2)
        return Embodied(False, None, hardware=hardware, reason=str(exc))
    el = lifetime_years if lifetime_years is not None else row.lifetime_years
    if el is None:
        return Embodied(
            False, None, hardware=row.hardware, te_kgco2e=row.embodied_kgco2e, scope=row.scope,
            source=row.source,
            reason="the source gives no lifetime for this row; pass lifetime_years=... to include it",
        )
    m_g = row.embodied_kgco2e * 1000.0 * count * (time_reserved_s / (el * SECONDS_PER_YEAR)) * resource_share
    return Embodied(
        True, m_g, row.hardware, row.embodied_kgco2e * count, el, time_reserved_s, resource_share,
        row.scope, row.source,
    )
