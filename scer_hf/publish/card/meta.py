"""A card's SCER metadata as read back from its YAML front matter, typed (the write side is :mod:`.entry`).

A card is outside input: hand-edited, written by an older scer-hf, or hostile. :meth:`CardMeta.from_yaml` reads the
parsed front matter once, at the door, into frozen views; a field that is missing reads as None, and a field of
the wrong type is kept as the card wrote it (``object``) for the reader to judge, exactly as the readers judged the
raw mapping before (``scer-hf card show`` prints it, ``verify`` reports it). ``keys`` says which fields the card
wrote (a field written as ``null`` is not a missing one), and ``written`` keeps the card's own mapping, which
``card update`` writes back unchanged and the section template renders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["BOUNDARIES", "CardBoundary", "CardMeta", "CardPhase", "CardRating", "CardSci", "ScerBlock"]

#: the boundaries a ``scer`` block carries, in the order the card shows them
BOUNDARIES = ("training", "inference")


def _keys(m: Mapping[Any, Any]) -> frozenset[str]:
    return frozenset(k for k in m if isinstance(k, str))


@dataclass(frozen=True)
class CardSci:
    """``scer.<boundary>.sci`` as the card holds it."""

    value: object
    unit: object
    version: object
    shown_value: object
    shown_unit: object
    keys: frozenset[str]
    written: Mapping[str, Any]  # as the card holds it (the section renders it)

    @classmethod
    def from_dict(cls, m: Mapping[str, Any]) -> CardSci:
        return cls(m.get("value"), m.get("unit"), m.get("version"), m.get("shown_value"), m.get("shown_unit"),
                   _keys(m), m)


@dataclass(frozen=True)
class CardGrid:
    """``scer.<boundary>.grid`` as the card holds it."""

    g_per_kwh: object
    pue: object
    keys: frozenset[str]
    written: Mapping[str, Any]

    @classmethod
    def from_dict(cls, m: Mapping[str, Any]) -> CardGrid:
        return cls(m.get("g_per_kwh"), m.get("pue"), _keys(m), m)


@dataclass(frozen=True)
class CardPhase:
    """One item of ``scer.<boundary>.phases``: a phase entry (``is_entry``), or anything else a card put there."""

    written: object  # the item as the card holds it
    is_entry: bool
    name: object
    parent: object
    energy_j: object
    co2e_g: object
    keys: frozenset[str]

    @classmethod
    def from_item(cls, item: object) -> CardPhase:
        if not isinstance(item, Mapping):
            return cls(item, False, None, None, None, None, frozenset())
        return cls(item, True, item.get("name"), item.get("parent"), item.get("energy_j"), item.get("co2e_g"),
                   _keys(item))

    def row(self, **extra: object) -> dict[str, object]:
        """The phase's entry as the card holds it, with *extra* keys (the section's row, with its depth)."""
        return {**self.written, **extra} if isinstance(self.written, Mapping) else dict(extra)


def _items(v: object) -> tuple[object, ...]:
    """The items a reader iterates over in ``v or []``: a list's, a mapping's keys, a string's characters."""
    items = v or ()
    return tuple(items) if isinstance(items, Iterable) else ()  # any YAML value: a non-iterable one has no items


@dataclass(frozen=True)
class CardBoundary:
    """``scer.<boundary>``: the figures a card carries for one boundary, and the files it links."""

    written: Mapping[str, Any]  # the entry as the card holds it (kept on update; rendered by the section)
    report_digest: object
    energy_j: object
    co2e_g: object
    embodied_g: object
    method: object
    estimated: object
    sci: CardSci | None  # None when missing or not a mapping
    sci_written: object  # ``sci`` as the card holds it (a scalar there is a figure verify reports)
    grid: CardGrid | None
    grid_written: object
    phases: tuple[CardPhase, ...]  # the items of ``phases`` (a reader of a hand-edited card sees what is there)
    phases_written: object
    facts: object  # compared as written with the facts recomputed (a list when scer-hf wrote it)
    sources: object
    label: object
    manifest: object
    keys: frozenset[str]

    @classmethod
    def from_dict(cls, m: Mapping[str, Any]) -> CardBoundary:
        sci, grid, phases = m.get("sci"), m.get("grid"), m.get("phases")
        return cls(
            written=m, report_digest=m.get("report_digest"), energy_j=m.get("energy_j"), co2e_g=m.get("co2e_g"),
            embodied_g=m.get("embodied_g"), method=m.get("method"), estimated=m.get("estimated"),
            sci=CardSci.from_dict(sci) if isinstance(sci, Mapping) else None, sci_written=sci,
            grid=CardGrid.from_dict(grid) if isinstance(grid, Mapping) else None, grid_written=grid,
            phases=tuple(CardPhase.from_item(x) for x in _items(phases)), phases_written=phases,
            facts=m.get("facts"), sources=m.get("sources"), label=m.get("label"), manifest=m.get("manifest"),
            keys=_keys(m))

    @property
    def links(self) -> dict[str, object]:
        """The label and manifest links the entry holds, as written (``card update`` keeps them)."""
        return {k: v for k, v in (("label", self.label), ("manifest", self.manifest)) if k in self.keys}


@dataclass(frozen=True)
class CardRating:
    """``scer.rating.<boundary>`` as the card holds it."""

    written: Mapping[str, Any]
    available: object  # True when the card does not say
    grade: object
    percentile: object
    peers: object
    comparable: object
    report_digest: object
    keys: frozenset[str]

    @classmethod
    def from_dict(cls, m: Mapping[str, Any]) -> CardRating:
        return cls(m, m.get("available", True), m.get("grade"), m.get("percentile"), m.get("peers"),
                   m.get("comparable"), m.get("report_digest"), _keys(m))


@dataclass(frozen=True)
class ScerBlock:
    """The card's ``scer`` block: its schema version, each boundary's entry and rating (None when missing or not a
    mapping), and the ``rating`` value as written."""

    written: Mapping[str, Any]
    schema_version: object
    training: CardBoundary | None
    inference: CardBoundary | None
    rating_written: object
    ratings: Mapping[str, CardRating]  # by boundary, only those that are mappings
    rated: frozenset[str]  # the boundaries ``rating`` has an entry for, of any type

    @classmethod
    def from_yaml(cls, v: object) -> ScerBlock | None:
        """The block of a card's ``scer`` value; None when it is not a mapping."""
        if not isinstance(v, Mapping):
            return None
        entries = {b: CardBoundary.from_dict(e) for b in BOUNDARIES if isinstance(e := v.get(b), Mapping)}
        rating = v.get("rating")
        ratings = ({b: CardRating.from_dict(r) for b, r in rating.items() if isinstance(r, Mapping)}
                   if isinstance(rating, Mapping) else {})
        return cls(v, v.get("schema_version"), entries.get("training"), entries.get("inference"), rating, ratings,
                   _keys(rating) if isinstance(rating, Mapping) else frozenset())

    def boundary(self, b: str) -> CardBoundary | None:
        """The entry of boundary *b* (``training`` or ``inference``), None when the card has none."""
        return self.training if b == "training" else self.inference if b == "inference" else None

    @property
    def entries(self) -> list[tuple[str, CardBoundary]]:
        """The boundaries the block carries with their entries, training first."""
        return [(b, e) for b in BOUNDARIES if (e := self.boundary(b)) is not None]


@dataclass(frozen=True)
class CardMeta:
    """What scer-hf reads of a card's metadata: ``co2_eq_emissions`` as written, the ``scer`` block, the tags."""

    co2: object  # ``co2_eq_emissions``: a mapping (Hub spec), a bare number (older cards) or anything
    scer: ScerBlock | None
    scer_written: object  # ``scer`` as the card holds it (None when missing)
    tags: object

    @classmethod
    def from_yaml(cls, data: object) -> CardMeta:
        """The metadata of a card's parsed front matter (anything YAML gives: a non-mapping reads as empty)."""
        m: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
        scer = m.get("scer")
        return cls(m.get("co2_eq_emissions"), ScerBlock.from_yaml(scer), scer, m.get("tags"))

    @property
    def co2_emissions(self) -> object:
        """The grams the card gives: ``co2_eq_emissions.emissions``, or the bare value of an older card."""
        return self.co2.get("emissions") if isinstance(self.co2, Mapping) else self.co2

    @property
    def co2_source(self) -> object:
        """``co2_eq_emissions.source`` (``scer-hf`` when scer-hf wrote it); None when not a mapping."""
        return self.co2.get("source") if isinstance(self.co2, Mapping) else None

    @property
    def tagged(self) -> bool:
        """Whether the card has the ``scer`` tag."""
        tags = self.tags
        return isinstance(tags, (list, tuple, str, Mapping)) and "scer" in tags
