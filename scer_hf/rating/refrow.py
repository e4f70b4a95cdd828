"""One normalised reference row, typed: :class:`ReferenceRow` (what the whole rating engine reads).

:func:`scer_hf.rating.reference.reference_rows` gives them; :func:`scer_hf.rating.reference.rows` gives the same
rows as plain dicts (``ReferenceRow.to_dict()``), the public form. The derived columns (module docstring of
:mod:`scer_hf.rating.reference`) are typed fields; the source columns stay the file's own, a read-only mapping of
strings (:attr:`ReferenceRow.columns`), with typed properties for the few the engine reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, TypedDict

__all__ = ["ReferenceRow", "Normalised"]


class Normalised(TypedDict):
    """The derived columns a file's normaliser makes of one source row (``reference._training`` and the others)."""

    model_key: str
    phase: str
    evidence: str
    secondary: bool
    modelled: bool
    derived: bool
    task_key: str
    setting: str
    size_class: str | None
    hardware_class: str | None
    params_b_value: float | None
    tokens_b_value: float | None
    energy_wh: float | None
    value: float | None
    value_unit: str | None
    co2e_value: float | None
    co2e_unit: str | None
    group: str
    published_stars: int | None
    derivation: str | None


def _frozen_columns(columns: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(columns))


@dataclass(frozen=True)
class ReferenceRow:
    """A reference row: its derived columns as fields, its source columns (strings) in :attr:`columns`.

    The fields follow the order of the row dict (``to_dict``): the source columns first, then these.
    """

    model_key: str
    phase: str  # "training" or "inference"
    evidence: str  # the note's [label]
    secondary: bool
    modelled: bool
    derived: bool  # energy derived by the calculator, not published
    task_key: str  # pipeline tag ("pre-training" for training rows)
    setting: str
    size_class: str | None
    hardware_class: str | None
    params_b_value: float | None
    tokens_b_value: float | None
    energy_wh: float | None
    value: float | None  # the normalised figure that is rated
    value_unit: str | None
    co2e_value: float | None
    co2e_unit: str | None
    group: str  # the peer category
    published_stars: int | None
    derivation: str | None
    source_file: str
    ref_id: str  # "training.csv#21"
    members: tuple[str, ...]  # the lower-case current ids the row is about
    family_total: bool
    columns: Mapping[str, str] = field(default_factory=dict, compare=False)  # the source columns, as shipped

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", _frozen_columns(self.columns))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReferenceRow:
        """A row from its dict (``reference.rows()``): the derived columns by name, every other key a source
        column (as text)."""
        names = [f.name for f in fields(cls) if f.name != "columns"]
        derived: dict[str, Any] = {n: d.get(n) for n in names}  # read as the row dict has them
        derived["members"] = tuple(derived["members"] or ())
        columns = {k: "" if v is None else str(v) for k, v in d.items() if k not in derived}
        return cls(**derived, columns=columns)

    @classmethod
    def of(cls, row: ReferenceRow | Mapping[str, Any]) -> ReferenceRow:
        """*row* itself, or the typed row of a row dict (what the public functions taking a dict accept)."""
        return row if isinstance(row, ReferenceRow) else cls.from_dict(row)

    def to_dict(self) -> dict[str, Any]:
        """The row dict of :func:`scer_hf.rating.reference.rows`: source columns, then the derived columns."""
        out: dict[str, Any] = dict(self.columns)
        out.update({f.name: getattr(self, f.name) for f in fields(self) if f.name != "columns"})
        return out

    @property
    def source(self) -> str:
        """The ``source`` column: where the figure comes from ("" where the file has none)."""
        return (self.columns.get("source") or "").strip()

    @property
    def hardware(self) -> str:
        """The ``hardware`` column, as published ("" where the file has none)."""
        return (self.columns.get("hardware") or "").strip()

    def figure(self, co2e: bool = False) -> float | None:
        """The rated figure: the normalised energy, or with *co2e* the normalised emissions."""
        return self.co2e_value if co2e else self.value

    def matches(self, key: str) -> bool:
        """Whether the row is about the model whose current lower-case id is *key*."""
        return key in self.members

    @property
    def is_aies(self) -> bool:
        """Whether the row is an AI Energy Score figure (its group is one of that leaderboard's)."""
        from .reference import AIES_EDITION

        return self.group.startswith(AIES_EDITION)
