"""Result objects of :func:`scer_hf.rate`: :class:`Rating` holding two :class:`PhaseRating`.

``to_dict()`` follows the shared rating contract (cards, labels and the HTML report
read it); keys beyond the contract: ``comparable``, ``notes``, ``co2e``,
``alternatives`` (other figures of the same model: other sources or settings),
``star_bands`` and, on :class:`Rating`, ``hub``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from ..core.fmt import num as _num
from ..core.fmt import quantity as _quantity
from ..core.fmt import unit_text as _unit_text

__all__ = ["PhaseRating", "Rating"]


def _fmt(x: float | None) -> str:
    if x is None:
        return "?"
    return _num(x)


def _json_safe(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    return x


@dataclass
class PhaseRating:
    """The rating of one phase (training or inference). ``available`` means a figure exists."""

    phase: str
    available: bool = False
    grade: str | None = None
    stars: int | None = None
    percentile: float | None = None
    value: float | None = None
    unit: str | None = None
    uncertainty: float | None = None
    category: dict[str, Any] | None = None
    peers: int = 0
    nearest_peers: list[dict[str, Any]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    estimated: bool = False
    method: str | None = None
    reason: str | None = None
    how_to_measure: str | None = None
    comparable: bool | None = None
    notes: list[str] = field(default_factory=list)
    co2e: dict[str, Any] | None = None
    star_bands: list[dict[str, Any]] | None = None
    alternatives: list["PhaseRating"] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "phase": self.phase, "available": self.available, "grade": self.grade, "stars": self.stars,
            "percentile": self.percentile, "value": self.value, "unit": self.unit,
            "uncertainty": self.uncertainty, "category": self.category, "peers": self.peers,
            "nearest_peers": list(self.nearest_peers), "sources": list(self.sources),
            "estimated": self.estimated, "method": self.method, "reason": self.reason,
            "how_to_measure": self.how_to_measure, "comparable": self.comparable, "notes": list(self.notes),
            "co2e": self.co2e, "star_bands": self.star_bands,
            "alternatives": [a.to_dict() for a in self.alternatives],
        }
        return _json_safe(d)

    def summary(self) -> str:
        """One line: grade, stars, percentile, value, peers - or why there is none."""
        if not self.available:
            tail = f"; measure it: {self.how_to_measure}" if self.how_to_measure else ""
            return f"no figure ({self.reason}){tail}"
        parts = []
        if self.grade:
            parts.append(f"SCER {self.grade}")
        if self.stars is not None:
            parts.append(f"{'*' * self.stars}{'.' * (5 - self.stars)} ({self.stars}/5 stars)")
        if self.percentile is not None:
            parts.append(f"percentile {_num(self.percentile)} of {self.peers}")
        unc = f" +/- {_fmt(self.uncertainty)}" if self.uncertainty else ""
        scaled = str(self.unit or "").startswith(("MWh", "t CO2e"))  # shown as 12.6 GWh, 4,660 tCO2e
        parts.append(_quantity(self.value, self.unit) + unc if scaled else
                     f"{_fmt(self.value)}{unc} {_unit_text(self.unit)}".strip())
        parts.append(f"[{self.method}{', ESTIMATED' if self.estimated else ''}]")
        if self.comparable is False:
            parts.append("(not comparable)")
        s = " | ".join(parts)
        if self.grade is None and self.stars is None and self.reason:
            s += f" - not rated: {self.reason}"
        return s

    def __repr__(self) -> str:
        return f"<PhaseRating {self.phase}: {self.summary()}>"


@dataclass
class Rating:
    """Both phases of one model or report, against one reference version."""

    model: str | None
    reference_version: str
    training: PhaseRating
    inference: PhaseRating
    hub: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {
            "model": self.model,
            "reference_version": self.reference_version,
            "training": self.training.to_dict(),
            "inference": self.inference.to_dict(),
            "hub": self.hub,
        }
        json.dumps(d)  # JSON-safe by construction; fail loudly here rather than in a consumer
        return d

    def __getitem__(self, phase: str) -> PhaseRating:
        if phase not in ("training", "inference"):
            raise KeyError(f"phase must be 'training' or 'inference', got {phase!r}")
        return getattr(self, phase)

    def describe(self) -> str:
        """Several readable lines (the text ``scer-hf rate`` prints)."""
        lines = [f"{self.model or '(unnamed model)'}  - rated against {self.reference_version}"]
        for pr in (self.training, self.inference):
            lines.append(f"  {pr.phase:<9}: {pr.summary()}")
            if pr.category and pr.available and pr.peers:
                c = pr.category
                lines.append(f"             category: {c.get('group')}; peers {pr.peers}")
            for n in pr.notes:
                lines.append(f"             note: {n}")
            for p in pr.nearest_peers[:5]:
                lines.append(f"             peer: {p.get('model')}  {_fmt(p.get('value'))} {_unit_text(p.get('unit'))}"
                             + (f"  {p['grade']}" if p.get("grade") else ""))
            if pr.sources:
                lines.append(f"             source: {pr.sources[0]}")
            if pr.alternatives:
                lines.append(f"             + {len(pr.alternatives)} other published figure(s) for this model "
                             "(see --json 'alternatives')")
        return "\n".join(lines)

    __str__ = describe

    def __repr__(self) -> str:
        return (f"<Rating {self.model or '?'} ({self.reference_version}) training: {self.training.summary()}; "
                f"inference: {self.inference.summary()}>")
