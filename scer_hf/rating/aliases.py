"""Renamed model ids: the Hub's former ids and the names they redirect to (``scer_hf/data/aliases.csv``).

The Hub renamed many models (the canonical ``gpt2`` became ``openai-community/gpt2`` in January 2024; Meta renamed
``Meta-Llama-3.1-8B`` to ``Llama-3.1-8B``). Both spellings are in use, and the reference data holds each model under
the name its source used. Every lookup goes through :func:`canonical` first, so both spellings find the same rows.
Each pair is sourced (``source`` column; SOURCES.md).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from . import reference as _ref

__all__ = ["ALIASES_FILE", "Alias", "aliases", "table", "canonical", "renamed", "former_ids", "alias_note",
           "alias_source"]

ALIASES_FILE = "aliases.csv"
_MAX_HOPS = 5


@dataclass(frozen=True)
class Alias:
    """One rename: the former id, the current one, the source saying so and the row (``aliases.csv#3``)."""

    former: str
    current: str
    source: str
    ref: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@functools.lru_cache(maxsize=1)
def aliases() -> dict[str, Alias]:
    """Lower-case former id -> :class:`Alias`."""
    rows = _ref._read_csv(str(_ref.data_dir() / ALIASES_FILE))[1]
    entries = (_entry(r, i) for i, r in enumerate(rows, start=1))
    return {e.former.lower(): e for e in entries if e is not None}


def table() -> dict[str, dict[str, str]]:
    """Lower-case former id -> ``{"former", "current", "source", "ref"}`` (:func:`aliases` as dicts)."""
    return {k: a.to_dict() for k, a in aliases().items()}


def _entry(r: Mapping[str, str], i: int) -> Alias | None:
    """Row *i* of the aliases file as an entry; None for a row that renames nothing."""
    former, current = (r.get("former_id") or "").strip(), (r.get("current_id") or "").strip()
    if not former or not current or former.lower() == current.lower():
        return None
    return Alias(former=former, current=current, source=(r.get("source") or "").strip(), ref=f"{ALIASES_FILE}#{i}")


def canonical(model_id: str) -> str:
    """The current id of *model_id* (itself when it was never renamed); follows chains of renames."""
    cur, seen = model_id.strip(), set()
    for _ in range(_MAX_HOPS):
        entry = aliases().get(cur.lower())
        if entry is None or cur.lower() in seen:
            break
        seen.add(cur.lower())
        cur = entry.current
    return cur


def _renamed(model_id: str) -> Alias | None:
    return aliases().get(model_id.strip().lower())


def renamed(model_id: str) -> dict[str, str] | None:
    """The alias entry when *model_id* is a former id, else None."""
    entry = _renamed(model_id)
    return entry.to_dict() if entry is not None else None


def former_ids(model_id: str) -> list[str]:
    """The former ids that now resolve to *model_id*."""
    key = canonical(model_id).lower()
    return [e.former for e in aliases().values() if canonical(e.current).lower() == key]


def alias_note(model_id: str) -> str | None:
    """"'gpt2' is the former id of 'openai-community/gpt2': rated under its current name (aliases.csv#1)" or None."""
    entry = _renamed(model_id)
    if entry is None:
        return None
    return f"{model_id!r} is the former id of {canonical(model_id)!r}: rated under its current name ({entry.ref})"


def alias_source(model_id: str) -> str | None:
    """The source of a rename, for a rating's sources list."""
    entry = _renamed(model_id)
    return f"renamed: {entry.ref}: {entry.former} -> {entry.current} ({entry.source})" if entry else None
