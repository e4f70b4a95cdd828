"""The calculator's board-power table: ``scer_hf/data/hardware_power.csv`` (every row sourced), and the lookup of
a GPU by name in it (case, dashes and vendor words ignored; aliases accepted; ambiguous or unknown names raise
with suggestions). :mod:`scer_hf.core.calculator` re-exports :func:`power_table`, :func:`find_gpu` and
:class:`PowerRow`.
"""

from __future__ import annotations

import csv
import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from ..errors import HardwareNotFoundError

__all__ = ["PowerRow", "power_table", "find_gpu"]


@dataclass(frozen=True)
class PowerRow:
    """One sourced row of ``hardware_power.csv``."""

    hardware: str
    category: str
    tdp_w: float
    power_basis: str
    aliases: tuple[str, ...]
    embodied_row: str | None
    source: str
    notes: str


@lru_cache(maxsize=1)
def power_table() -> tuple[PowerRow, ...]:
    """Every row of the shipped board-power table."""
    text = resources.files("scer_hf.data").joinpath("hardware_power.csv").read_text(encoding="utf-8")
    return tuple(
        PowerRow(r["hardware"].strip(), r["category"], float(r["tdp_w"]), r["power_basis"],
                 tuple(a.strip() for a in r["aliases"].split("|") if a.strip()),
                 r["embodied_row"].strip() or None, r["source"], r["notes"])
        for r in csv.DictReader(text.splitlines())
    )


def _norm(name: str) -> str:
    s = re.sub(r"[-_/,()]", " ", name.lower())
    s = re.sub(r"\b(\d+)\s*gb\b", r"\1gb", s)
    return " ".join(t for t in s.split() if t not in ("nvidia", "tesla", "geforce", "gpu"))


def _names(rows: tuple[PowerRow, ...]) -> dict[str, list[str]]:
    """Each row's normalised names: its hardware name and aliases."""
    return {r.hardware: [_norm(r.hardware)] + [_norm(a) for a in r.aliases] for r in rows}


def _holds_words(words: set[str], names: Sequence[str]) -> bool:
    """Whether one of a row's *names* holds every one of *words*."""
    return any(words <= set(n.split()) for n in names)


def _by_words(q: str, name: str, rows: tuple[PowerRow, ...], names: dict[str, list[str]]) -> PowerRow | None:
    """The one row whose name holds every word of *q*; several raise with them as suggestions."""
    qt = set(q.split())
    subset = [r for r in rows if _holds_words(qt, names[r.hardware])] if qt else []
    if len(subset) > 1:
        sugg = [r.hardware for r in subset]
        raise HardwareNotFoundError(
            f"hardware {name!r} is ambiguous: it fits {', '.join(repr(s) for s in sugg)}. "
            "Name the form factor (SXM/PCIe) and memory, or pass watts=<board power W>.", suggestions=sugg)
    return subset[0] if subset else None


def _not_found(q: str, name: str, rows: tuple[PowerRow, ...], names: dict[str, list[str]]) -> HardwareNotFoundError:
    flat = {n: r.hardware for r in rows for n in names[r.hardware]}
    close = difflib.get_close_matches(q, list(flat), n=6, cutoff=0.5)
    sugg = list(dict.fromkeys(flat[c] for c in close))[:3]
    return HardwareNotFoundError(
        f"no sourced board power for hardware {name!r}"
        + (f"; did you mean {' or '.join(repr(s) for s in sugg)}?" if sugg else ".")
        + " Pass watts=<board power W> (e.g. from nvidia-smi --query-gpu=power.limit) to estimate anyway; "
        "see scer_hf.core.calculator.power_table() for every row.", suggestions=sugg)


def find_gpu(name: str) -> PowerRow:
    """The power row for *name* (case, dashes and vendor words ignored; aliases accepted).

    A name that fits several rows ("H100") or none raises :class:`HardwareNotFoundError`
    with suggestions; pass ``watts=`` to bypass the table.
    """
    rows, q = power_table(), _norm(name)
    names = _names(rows)
    exact = [r for r in rows if q in names[r.hardware]]
    found = exact[0] if len(exact) == 1 else _by_words(q, name, rows, names)
    if found is None:
        raise _not_found(q, name, rows, names)
    return found
