"""Result objects of :func:`scer_hf.rate`: :class:`Rating` holding two :class:`PhaseRating`.

``to_dict()`` follows the shared rating contract (cards, labels and the HTML report
read it); keys beyond the contract: ``comparable``, ``notes``, ``co2e``,
``alternatives`` (other figures of the same model: other sources or settings),
``star_bands`` and, on :class:`Rating`, ``hub``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ..core.fmt import num as _num
from ..core.fmt import quantity as _quantity
from ..core.fmt import unit_text as _unit_text
from .hubrecords import HubCard, LineageInfo
from .records import Category, Co2e, Indicative, JsonRecord, NearestPeer, PeerValue, Published, ReportBinding, StarBand

__all__ = ["PhaseRating", "Rating", "indicative_text", "not_comparable_reasons"]


def _fmt(x: float | None) -> str:
    if x is None:
        return "?"
    return _num(x)


#: the list fields of a phase rating dict; null reads as empty
_LIST_FIELDS = ("nearest_peers", "sources", "notes", "peer_values")


def _mappings(items: Any) -> list[Mapping[str, Any]]:
    """The mappings among ``items`` (None reads as none)."""
    return [a for a in items or [] if isinstance(a, Mapping)]


def _phase_kwargs(d: Mapping[str, Any], known: set[str]) -> dict[str, Any]:
    """The known fields of a phase rating dict, with null lists read as empty, null peers as 0, and a rating
    written before ``comparable`` existed read as comparable (the sub-records are typed by the PhaseRating)."""
    kw: dict[str, Any] = {k: d[k] for k in known if k in d}
    kw.update({k: list(kw.get(k) or []) for k in _LIST_FIELDS})
    kw["peers"] = kw.get("peers") or 0
    kw.setdefault("comparable", True)
    return kw


#: the sub-records of a phase rating and their types: one record each, then lists of them
_RECORDS: tuple[tuple[str, type[JsonRecord]], ...] = (("category", Category), ("co2e", Co2e),
                                                      ("indicative", Indicative), ("published", Published))
_RECORD_LISTS: tuple[tuple[str, type[JsonRecord]], ...] = (("nearest_peers", NearestPeer),
                                                            ("peer_values", PeerValue), ("star_bands", StarBand))


def _as_record(x: object, record: type[JsonRecord]) -> object:
    """*x* as a *record*: a record stays, a mapping (the sub-record's JSON) is read, anything else is None."""
    if isinstance(x, record):
        return x
    return record.from_dict(x) if isinstance(x, Mapping) else None


def _typed_records(pr: PhaseRating) -> None:
    """Read the sub-records a phase rating was given as dicts (its JSON) into their records."""
    for name, record in _RECORDS:
        setattr(pr, name, _as_record(getattr(pr, name), record))
    for name, record in _RECORD_LISTS:
        items = getattr(pr, name)
        setattr(pr, name, None if items is None else [_as_record(a, record) for a in _mappings(items)])


def _json_safe(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    return x


def _json_of(record: JsonRecord | None) -> dict[str, Any] | None:
    """A sub-record's JSON (None stays None)."""
    return record.to_dict() if record is not None else None


def indicative_text(pr: dict[str, Any]) -> str | None:
    """"indicative: C, percentile 12 of 16 references" of a rating dict that is not comparable (else None).

    Reads ``indicative`` (new ratings) or, for a rating written before it existed, the grade fields
    (:meth:`Indicative.text`).
    """
    if not pr or pr.get("comparable") is not False:
        return None
    ind = pr.get("indicative")
    return Indicative.from_dict(ind if ind else {**pr, "references": pr.get("peers")}).text()


def _reasons(notes: Iterable[object]) -> list[str]:
    return [str(n).split(": ", 1)[1] for n in notes if str(n).startswith("not comparable: ")]


def not_comparable_reasons(pr: dict[str, Any]) -> list[str]:
    """The "not comparable: ..." notes of a rating dict, without the prefix."""
    return _reasons((pr or {}).get("notes") or [])


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
    category: Category | None = None
    peers: int = 0
    nearest_peers: list[NearestPeer] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    estimated: bool = False
    method: str | None = None
    reason: str | None = None
    how_to_measure: str | None = None
    comparable: bool | None = None
    notes: list[str] = field(default_factory=list)
    co2e: Co2e | None = None
    star_bands: list[StarBand] | None = None
    alternatives: list[PhaseRating] = field(default_factory=list)
    basis: str | None = None  # None: the model's own figure; "inherited" (base model) or "twin" (architecture twin)
    via_model: str | None = None  # the model whose figure is used when basis is set
    basis_label: str | None = None
    modelled_low: float | None = None  # interval of a modelled value (same unit; see rating/modelled.py)
    modelled_high: float | None = None
    stars_range: list[int] | None = None  # [fewest, most] stars of a modelled interval
    indicative: Indicative | None = None  # grade/percentile of a rating that is not comparable
    published: Published | None = None  # the source's absolute figures (scer_hf.rating.published.footprint)
    peer_values: list[PeerValue] = field(default_factory=list)  # every peer counted: {model, value, ref_id}

    def __post_init__(self) -> None:
        _typed_records(self)  # a caller may give the sub-records as their JSON

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], phase: str | None = None) -> PhaseRating:
        """A phase rating from its dict (the shared rating contract, e.g. ``scer-hf rate --json``): unknown keys are
        ignored, missing ones take their defaults; a rating written before ``comparable`` existed is comparable."""
        known = {f.name for f in fields(cls)} - {"alternatives", "phase"}
        kw = _phase_kwargs(d, known)
        name = str(d.get("phase") or phase or "")
        kw["alternatives"] = [cls.from_dict(a, name) for a in _mappings(d.get("alternatives"))]
        return cls(phase=name, **kw)

    @property
    def rated(self) -> bool:
        """A figure that was graded: available, with a grade or stars."""
        return self.available and bool(self.grade or self.stars)

    def indicative_text(self) -> str | None:
        """"indicative: C, percentile 12 of 16 references" when not comparable (:func:`indicative_text`)."""
        if self.comparable is not False:
            return None
        return (self.indicative or Indicative(self.grade, self.stars, self.percentile, self.peers)).text()

    def not_comparable_reasons(self) -> list[str]:
        """Why the figure is not comparable with the reference (:func:`not_comparable_reasons`)."""
        return _reasons(self.notes)

    def stars_label(self) -> str | None:
        """"3-4 stars, modelled" (a modelled range) or None."""
        if not self.stars_range:
            return None
        a, b = self.stars_range
        return f"{a} stars, modelled" if a == b else f"{a}-{b} stars, modelled"

    def indicative_label(self) -> str | None:
        """"indicative: C, percentile 12 of 16 references" for a rating that is not comparable."""
        return self.indicative.text() if self.indicative and self.comparable is False else None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "phase": self.phase, "available": self.available, "grade": self.grade, "stars": self.stars,
            "percentile": self.percentile, "value": self.value, "unit": self.unit,
            "uncertainty": self.uncertainty, "category": _json_of(self.category), "peers": self.peers,
            "nearest_peers": [p.to_dict() for p in self.nearest_peers], "sources": list(self.sources),
            "estimated": self.estimated, "method": self.method, "reason": self.reason,
            "how_to_measure": self.how_to_measure, "comparable": self.comparable, "notes": list(self.notes),
            "co2e": _json_of(self.co2e),
            "star_bands": [b.to_dict() for b in self.star_bands] if self.star_bands is not None else None,
            "alternatives": [a.to_dict() for a in self.alternatives],
            "basis": self.basis, "via_model": self.via_model, "basis_label": self.basis_label,
            "modelled_low": self.modelled_low, "modelled_high": self.modelled_high,
            "stars_range": list(self.stars_range) if self.stars_range else None,
            "indicative": _json_of(self.indicative), "published": _json_of(self.published),
            "peer_values": [p.to_dict() for p in self.peer_values],
        }
        return _json_safe(d)

    def summary(self) -> str:
        """One line: grade, stars, percentile, value, peers - or why there is none (no nested parentheses)."""
        if self.stars_range is not None or self.modelled_low is not None:
            return self._modelled_summary()
        if self.comparable is False and self.available:
            return (f"not rated: not comparable | {_quantity(self.value, self.unit)}"
                    f" | {self.method_text()}")
        if not self.available:
            return self._missing_summary()
        return self._available_summary()

    def _missing_summary(self) -> str:
        """Why there is no figure, and how to measure it when known."""
        tail = f"; measure it: {self.how_to_measure}" if self.how_to_measure else ""
        return f"no figure: {self.reason}{tail}"

    def _available_summary(self) -> str:
        """The summary of an available, comparable figure; an ungraded one says why it is not rated."""
        s = " | ".join(self._summary_parts())
        if self.grade is None and self.stars is None and self.reason:
            s += f" - not rated: {self.reason}"
        return s

    def _modelled_summary(self) -> str:
        """The summary of a modelled value: the value, its range, the stars of the range."""
        return (f"{_fmt(self.value)} {_unit_text(self.unit)}, modelled range {_fmt(self.modelled_low)}-"
                f"{_fmt(self.modelled_high)} | {self.stars_label() or 'no stars'} | {self.method}")

    def method_text(self) -> str:
        """The method, flagged ", ESTIMATED" when the figure is estimated."""
        return f"{self.method}{', ESTIMATED' if self.estimated else ''}"

    def grade_parts(self) -> list[str]:
        """The grading facts that exist: SCER grade, stars, percentile among the references."""
        parts = [f"SCER {self.grade}" if self.grade else None,
                 f"{self.stars} of 5 stars" if self.stars is not None else None,
                 f"percentile {_num(self.percentile)} of {self.peers} references"
                 if self.percentile is not None else None]
        return [p for p in parts if p]

    def _summary_parts(self) -> list[str]:
        """The fields of an available, comparable figure's summary, in reading order."""
        unc = f" +/- {_fmt(self.uncertainty)}" if self.uncertainty else ""
        parts = [*self.grade_parts(), _quantity(self.value, self.unit) + unc, self.method_text()]
        return parts + ([self.basis_label] if self.basis_label else [])

    def __repr__(self) -> str:
        return f"<PhaseRating {self.phase}: {self.summary()}>"


@dataclass
class Rating:
    """Both phases of one model or report, against one reference version."""

    model: str | None
    reference_version: str
    training: PhaseRating
    inference: PhaseRating
    hub: HubCard | None = None  # what the Hub card says about emissions, when asked
    lineage: LineageInfo | None = None  # what the model is made from, when lineage was used or read
    #: the measured reports this rating was made from: [{model, boundary, report_digest}] (empty for a model id);
    #: label, card, HTML report and verify refuse the rating for any other report (resolve_rating)
    reports: list[ReportBinding] = field(default_factory=list)
    known: bool = True  # False: no table knows the model id (and the Hub did not find it); see suggestions
    suggestions: list[str] = field(default_factory=list)  # close matches among the known ids ("did you mean")

    def __post_init__(self) -> None:  # a caller may give the records as their JSON
        self.reports = [r if isinstance(r, ReportBinding) else ReportBinding.from_dict(r)
                        for r in _mappings(self.reports)]
        if self.hub is not None and not isinstance(self.hub, HubCard):
            self.hub = HubCard.from_dict(self.hub) if isinstance(self.hub, Mapping) else None
        if self.lineage is not None and not isinstance(self.lineage, LineageInfo):
            self.lineage = LineageInfo.from_dict(self.lineage) if isinstance(self.lineage, Mapping) else None

    def to_dict(self) -> dict[str, Any]:
        d = {
            "model": self.model,
            "reference_version": self.reference_version,
            "training": self.training.to_dict(),
            "inference": self.inference.to_dict(),
            "hub": _json_of(self.hub),
            "lineage": _json_safe(_json_of(self.lineage)),
            "reports": [r.to_dict() for r in self.reports],
            "known": self.known,
            "suggestions": list(self.suggestions),
        }
        json.dumps(d)  # JSON-safe by construction; fail loudly here rather than in a consumer
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Rating:
        """A rating from its dict (``Rating.to_dict()``, ``scer-hf rate --json``, a rating stored with a report);
        a phase the dict lacks reads as not available."""
        def phase(name: str) -> PhaseRating:
            pr = d.get(name)
            return PhaseRating.from_dict(pr, name) if isinstance(pr, Mapping) else PhaseRating(name)

        reports = [ReportBinding.from_dict(r) for r in d.get("reports") or [] if isinstance(r, Mapping)]
        return cls(model=d.get("model"), reference_version=d.get("reference_version") or "",
                   training=phase("training"), inference=phase("inference"), hub=d.get("hub"),
                   lineage=d.get("lineage"), reports=reports, known=bool(d.get("known", True)),
                   suggestions=list(d.get("suggestions") or []))

    def __getitem__(self, phase: str) -> PhaseRating:
        if phase not in ("training", "inference"):
            raise KeyError(f"phase must be 'training' or 'inference', got {phase!r}")
        return getattr(self, phase)

    def describe(self) -> str:
        """Readable lines, one fact each (the text ``scer-hf rate`` prints; :mod:`scer_hf.rating.describe`)."""
        from .describe import describe

        return describe(self)

    __str__ = describe

    def __repr__(self) -> str:
        return (f"<Rating {self.model or '?'} ({self.reference_version}) training: {self.training.summary()}; "
                f"inference: {self.inference.summary()}>")
