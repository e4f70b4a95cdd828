"""The typed sub-records of a :class:`~scer_hf.rating.result.PhaseRating` and a
:class:`~scer_hf.rating.result.Rating`: category, nearest peers, peer values, CO2e, star bands, indicative grading,
published figures and the reports a rating is bound to.

Each is a frozen dataclass made once (by the engine, or ``from_dict`` of a stored rating) whose ``to_dict()`` is the
JSON of the rating contract, key for key: the engine's layout for a record it made, and the very JSON it was read
from for a record of a stored rating (a rating read and written back is unchanged, whatever keys it had). Each
is also the read-only dict of that JSON (:class:`JsonRecord`), so callers that indexed or serialised the dicts before
they were typed (``pr.category["group"]``, ``json.dumps(rating.hub)``) read the same JSON; the package itself reads
the fields.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, NoReturn, TypedDict, TypeVar

__all__ = ["JsonRecord", "Category", "PeerValue", "NearestPeer", "Co2e", "StarBand", "Indicative", "Published",
           "ReportBinding", "PeerValueJson", "StarBandJson", "IndicativeJson", "ReportBindingJson"]


_R = TypeVar("_R", bound="JsonRecord")


@dataclass(frozen=True, eq=False, repr=False)
class JsonRecord(dict[str, Any]):
    """A typed record of rating JSON: named, typed fields, and read-only, the very dict of its JSON.

    The package reads the fields (``pr.category.group``). The record is also the JSON dict it stands for, filled
    once when it is made and never changed, so what read or serialised the dict before it was typed
    (``pr.category["group"]``, ``json.dumps(rating.hub)``, ``isinstance(x, dict)``) reads the same JSON.
    """

    #: the JSON a record of a stored rating was read from (``from_dict``); the record is that JSON, unchanged (a
    #: record made from it with ``dataclasses.replace`` is the engine's layout of its new fields)
    read_from: Mapping[str, Any] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        dict.update(self, self._json())

    def _as_read(self: _R, d: Mapping[str, Any]) -> _R:
        """This record as read from *d* (``from_dict``): its JSON is *d*, key for key."""
        object.__setattr__(self, "read_from", copy.deepcopy(dict(d)))  # a private copy: the record is immutable
        dict.clear(self)
        dict.update(self, copy.deepcopy(dict(d)))
        return self

    def _json(self) -> Mapping[str, object]:
        """The JSON of a record the engine made (each record's own layout)."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The record's JSON, a plain dict: as it was read (a stored rating), else the engine's layout."""
        return copy.deepcopy(dict(self))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> JsonRecord:
        raise NotImplementedError

    def __copy__(self) -> JsonRecord:
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, object]) -> JsonRecord:
        return self  # immutable

    def __reduce__(self) -> tuple[object, ...]:
        return _rebuild, (type(self), {f.name: getattr(self, f.name) for f in fields(self) if f.init}, self.read_from)

    def _read_only(self) -> NoReturn:
        raise TypeError(f"a {type(self).__name__} is read-only: make a new one (dataclasses.replace) or use to_dict()")

    def __setitem__(self, key: str, value: object) -> NoReturn:
        self._read_only()

    def __delitem__(self, key: str) -> NoReturn:
        self._read_only()

    def clear(self) -> NoReturn:
        self._read_only()

    def pop(self, *args: object) -> NoReturn:
        self._read_only()

    def popitem(self) -> NoReturn:
        self._read_only()

    def setdefault(self, *args: object) -> NoReturn:
        self._read_only()

    def update(self, *args: object, **kwargs: object) -> NoReturn:
        self._read_only()


def _rebuild(cls: type[JsonRecord], values: dict[str, Any], read_from: Mapping[str, Any] | None) -> JsonRecord:
    """A record again from its fields and the JSON it was read from (unpickling)."""
    record = cls(**values)
    return record._as_read(read_from) if read_from is not None else record


def _opt_float(x: object) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _opt_int(x: object) -> int | None:
    return int(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _opt_str(x: object) -> str | None:
    return None if x is None else str(x)


@dataclass(frozen=True, eq=False, repr=False)
class Category(JsonRecord):
    """The peer category a figure is rated in (``PhaseRating.category``); ``edition``, ``regime`` and
    ``aies_task`` appear in the JSON only where set (AI Energy Score groups; a modelled range)."""

    phase: str | None
    task: str | None
    size_class: str | None
    hardware_class: str | None
    setting: str | None
    group: str | None
    metric: str | None
    reference: str | None
    edition: str | None = None
    regime: str | None = None
    aies_task: str | None = None

    def _json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"phase": self.phase, "task": self.task, "size_class": self.size_class,
                               "hardware_class": self.hardware_class, "setting": self.setting, "group": self.group,
                               "metric": self.metric, "reference": self.reference}
        optional = {"edition": self.edition, "regime": self.regime, "aies_task": self.aies_task}
        return out | {k: v for k, v in optional.items() if v is not None}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Category:
        return cls(**{k: _opt_str(d.get(k)) for k in _CATEGORY_KEYS})._as_read(d)


_CATEGORY_KEYS = ("phase", "task", "size_class", "hardware_class", "setting", "group", "metric", "reference",
                  "edition", "regime", "aies_task")


class PeerValueJson(TypedDict):
    """The JSON of a :class:`PeerValue`."""

    model: str | None
    value: float | None
    ref_id: str | None


@dataclass(frozen=True, eq=False, repr=False)
class PeerValue(JsonRecord):
    """One peer counted in a rating: ``{model, value, ref_id}`` (``PhaseRating.peer_values``)."""

    model: str | None
    value: float | None
    ref_id: str | None

    def _json(self) -> PeerValueJson:
        return {"model": self.model, "value": self.value, "ref_id": self.ref_id}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PeerValue:
        return cls(model=_opt_str(d.get("model")), value=_opt_float(d.get("value")),
                   ref_id=_opt_str(d.get("ref_id")))._as_read(d)


@dataclass(frozen=True, eq=False, repr=False)
class NearestPeer(JsonRecord):
    """One of the peers nearest the rated value (``PhaseRating.nearest_peers``). ``stars`` appears where the group
    has stars; a withheld rating (not comparable) shows neither ``grade`` nor ``stars``."""

    model: str | None
    value: float | None
    unit: str | None
    percentile: float | None
    grade: str | None
    ref_id: str | None
    stars: int | None = None
    withheld: bool = False

    def _json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "value": self.value, "unit": self.unit,
                               "percentile": self.percentile}
        if not self.withheld:
            out["grade"] = self.grade
        out["ref_id"] = self.ref_id
        return out | ({"stars": self.stars} if self.stars is not None and not self.withheld else {})

    def withhold(self) -> NearestPeer:
        """This peer without its grade and stars (a rating that is not comparable)."""
        out = NearestPeer(self.model, self.value, self.unit, self.percentile, None, self.ref_id, None, True)
        if self.read_from is None:
            return out
        return out._as_read({k: v for k, v in self.read_from.items() if k not in ("grade", "stars")})

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NearestPeer:
        return cls(model=_opt_str(d.get("model")), value=_opt_float(d.get("value")), unit=_opt_str(d.get("unit")),
                   percentile=_opt_float(d.get("percentile")), grade=_opt_str(d.get("grade")),
                   ref_id=_opt_str(d.get("ref_id")), stars=_opt_int(d.get("stars")),
                   withheld="grade" not in d)._as_read(d)


@dataclass(frozen=True, eq=False, repr=False)
class Co2e(JsonRecord):
    """Emissions in the rated unit (``PhaseRating.co2e``): a published row's (``basis``) or a measured report's
    (``sci``: the report's SCI block, kept as the report wrote it)."""

    value: float | None
    unit: str | None
    basis: str | None = None
    sci: Mapping[str, Any] | None = None
    measured: bool = False  # from a measured report: the JSON carries its ``sci`` (null when it has none)

    def _json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value, "unit": self.unit}
        if self.basis is not None:
            out["basis"] = self.basis
        return out | ({"sci": self.sci} if self.measured else {})

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Co2e:
        sci = d.get("sci")
        return cls(value=_opt_float(d.get("value")), unit=_opt_str(d.get("unit")), basis=_opt_str(d.get("basis")),
                   sci=sci if isinstance(sci, Mapping) else None, measured="sci" in d)._as_read(d)


StarBandJson = TypedDict("StarBandJson", {"stars": int, "from": float, "to": float})


@dataclass(frozen=True, eq=False, repr=False)
class StarBand(JsonRecord):
    """One of the five AI Energy Score star bands: ``{stars, from, to}`` in the rated unit."""

    stars: int
    low: float  # "from" in the JSON
    high: float  # "to"

    def _json(self) -> StarBandJson:
        return {"stars": self.stars, "from": self.low, "to": self.high}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StarBand:
        return cls(stars=int(d.get("stars") or 0), low=float(d.get("from") or 0.0),
                   high=float(d.get("to") or 0.0))._as_read(d)


class IndicativeJson(TypedDict):
    """The JSON of an :class:`Indicative`."""

    grade: str | None
    stars: int | None
    percentile: float | None
    references: int | None


@dataclass(frozen=True, eq=False, repr=False)
class Indicative(JsonRecord):
    """The grading a rating that is not comparable keeps only as an indication (``PhaseRating.indicative``)."""

    grade: str | None
    stars: int | None
    percentile: float | None
    references: int | None

    def _json(self) -> IndicativeJson:
        return {"grade": self.grade, "stars": self.stars, "percentile": self.percentile,
                "references": self.references}

    def text(self) -> str | None:
        """"indicative: C, percentile 12 of 16 references, 2/5 stars": the facts that exist; None without a grade
        or stars."""
        if self.grade is None and self.stars is None:
            return None
        parts = [f"indicative: {self.grade}" if self.grade else "indicative:",
                 f"percentile {self.percentile:.0f} of {self.references} references"
                 if self.percentile is not None else None,
                 f"{self.stars}/5 stars" if self.stars is not None else None]
        return ", ".join(p for p in parts if p).replace(":,", ":")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Indicative:
        return cls(grade=_opt_str(d.get("grade")), stars=_opt_int(d.get("stars")),
                   percentile=_opt_float(d.get("percentile")),
                   references=_opt_int(d.get("references")))._as_read(d)


#: the figures of :class:`Published`, in JSON order (training, AI Energy Score and inference.csv rows each use some)
_FIGURES = ("energy_mwh", "tco2e_operational", "tco2e_total", "accelerator_hours", "accelerator_hours_unit",
            "setting", "hardware", "location", "grid_g_per_kwh", "params_b", "training_tokens_b", "batch_size",
            "value", "unit")
_TEXT_FIGURES = frozenset({"accelerator_hours_unit", "setting", "hardware", "location", "unit"})


@dataclass(frozen=True, eq=False, repr=False)
class Published(JsonRecord):
    """What a reference row's source printed, in absolute terms (``PhaseRating.published``;
    :func:`scer_hf.rating.published.footprint`). The figures the source did not publish are left out of the JSON."""

    provenance: str | None
    by: str | None
    ref_id: str | None
    source: str | None
    energy_mwh: float | None = None
    tco2e_operational: float | None = None
    tco2e_total: float | None = None
    accelerator_hours: float | None = None
    accelerator_hours_unit: str | None = None
    setting: str | None = None
    hardware: str | None = None
    location: str | None = None
    grid_g_per_kwh: float | None = None
    params_b: float | None = None
    training_tokens_b: float | None = None
    batch_size: float | None = None
    value: float | None = None
    unit: str | None = None

    def _json(self) -> dict[str, Any]:
        figures = {k: getattr(self, k) for k in _FIGURES}
        return {"provenance": self.provenance, "by": self.by, "ref_id": self.ref_id, "source": self.source,
                **{k: v for k, v in figures.items() if v not in (None, "")}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Published:
        figures: dict[str, Any] = {k: (_opt_str if k in _TEXT_FIGURES else _opt_float)(d.get(k)) for k in _FIGURES}
        return cls(provenance=_opt_str(d.get("provenance")), by=_opt_str(d.get("by")),
                   ref_id=_opt_str(d.get("ref_id")), source=_opt_str(d.get("source")), **figures)._as_read(d)


class ReportBindingJson(TypedDict):
    """The JSON of a :class:`ReportBinding`."""

    model: str | None
    boundary: str | None
    report_digest: str | None


@dataclass(frozen=True, eq=False, repr=False)
class ReportBinding(JsonRecord):
    """What ties a rating to a report it rates (``Rating.reports``): model id, boundary and report digest."""

    model: str | None
    boundary: str | None
    report_digest: str | None

    def _json(self) -> ReportBindingJson:
        return {"model": self.model, "boundary": self.boundary, "report_digest": self.report_digest}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReportBinding:
        return cls(model=_opt_str(d.get("model")), boundary=_opt_str(d.get("boundary")),
                   report_digest=_opt_str(d.get("report_digest")))._as_read(d)
