"""Renamed model ids: the Hub's former ids and the names they redirect to (``scer_hf/data/aliases.csv``).

The Hub renamed many models (the canonical ``gpt2`` became ``openai-community/gpt2`` in January 2024; Meta renamed
``Meta-Llama-3.1-8B`` to ``Llama-3.1-8B``). Both spellings are in use, and the reference data holds each model under
the name its source used. Every lookup goes through :func:`canonical` first, so both spellings find the same rows.
Each pair is sourced (``source`` column; SOURCES.md).
"""

from __future__ import annotations

import functools
from typing import Any

from . import reference as _ref

__all__ = ["ALIASES_FILE", "table", "canonical", "renamed", "former_ids", "alias_note", "alias_source"]

ALIASES_FILE = "aliases.csv"
_MAX_HOPS = 5


@functools.lru_cache(maxsize=1)
def table() -> dict[str, dict[str, Any]]:
    """Lower-case former id -> ``{"former", "current", "source", "ref"}``."""
    rows = _ref._read_csv(str(_ref.data_dir() / ALIASES_FILE))[1]
    entries = (_entry(r, i) for i, r in enumerate(rows, start=1))
    return {e["former"].lower(): e for e in entries if e is not None}


def _entry(r: dict[str, Any], i: int) -> dict[str, Any] | None:
    """Row *i* of the aliases file as an entry; None for a row that renames nothing."""
    former, current = (r.get("former_id") or "").strip(), (r.get("current_id") or "").strip()
    if not former or not current or former.lower() == current.lower():
        return None
    return {"former": former, "current": current, "source": (r.get("source") or "").strip(),
            "ref": f"{ALIASES_FILE}#{i}"}


def canonical(model_id: str) -> str:
    """The current id of *model_id* (itself when it was never renamed); follows chains of renames."""
    cur, seen = model_id.strip(), set()
    for _ in range(_MAX_HOPS):
        entry = table().get(cur.lower())
        if entry is None or cur.lower() in seen:
            break
        seen.add(cur.lower())
        cur = entry["current"]
    return cur


def renamed(model_id: str) -> dict[str, Any] | None:
    """The alias entry when *model_id* is a former id, else None."""
    return table().get(model_id.strip().lower())


def former_ids(model_id: str) -> list[str]:
    """The former ids that now resolve to *model_id*."""
    key = canonical(model_id).lower()
    return [e["former"] for k, e in table().items() if canonical(e["current"]).lower() == key]


def alias_note(model_id: str) -> str | None:
    """"'gpt2' is the former id of 'openai-community/gpt2': rated under its current name (aliases.csv#1)" or None."""
    entry = renamed(model_id)
    if entry is None:
        return None
    return f"{model_id!r} is the former id of {canonical(model_id)!r}: rated under its current name ({entry['ref']})"


def alias_source(model_id: str) -> str | None:
    """The source of a rename, for a rating's sources list."""
    entry = renamed(model_id)
    return f"renamed: {entry['ref']}: {entry['former']} -> {entry['current']} ({entry['source']})" if entry else None
