"""The typed lineage and Hub records of a :class:`~scer_hf.rating.result.Rating`: ``Rating.hub`` (what the Hub card
says about emissions, :class:`HubCard`) and ``Rating.lineage`` (:class:`LineageInfo`: the model's lineage node,
what the Hub said of its lineage, an adapter and its base's lineage).

Like :mod:`.records`, each ``to_dict()`` is the rating JSON key for key (the engine's layout, or the JSON a stored
rating was read from), and each reads as a mapping of it for callers that indexed the dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from .records import JsonRecord, _opt_float, _opt_int, _opt_str

__all__ = ["HubCard", "HubCheck", "NodeInfo", "NodeInfoJson", "AdapterInfo", "AdapterInfoJson", "LineageInfo",
           "CO2_TEXTS"]

#: the descriptive fields of a card's ``co2_eq_emissions`` kept beside the figure, in JSON order
CO2_TEXTS = ("source", "training_type", "geographical_location", "hardware_used")


def _texts(items: object) -> tuple[str, ...]:
    return tuple(str(x) for x in items) if isinstance(items, (list, tuple)) else ()


@dataclass(frozen=True, eq=False, repr=False)
class HubCard(JsonRecord):
    """What the model's Hub card says about emissions (``Rating.hub``): whether the Hub was asked, the card's
    ``co2_eq_emissions`` in grams and its descriptive fields, what was refused and why, or the error."""

    checked: bool
    co2e_g: float | None = None
    source: str | None = None
    training_type: str | None = None
    geographical_location: str | None = None
    hardware_used: str | None = None
    refused: tuple[str, ...] = ()
    error: str | None = None

    def texts(self) -> dict[str, str]:
        """The card's descriptive fields that are set, in :data:`CO2_TEXTS` order."""
        pairs = (("source", self.source), ("training_type", self.training_type),
                 ("geographical_location", self.geographical_location), ("hardware_used", self.hardware_used))
        return {k: v for k, v in pairs if v}

    def _json(self) -> dict[str, Any]:
        figure = {"co2e_g": self.co2e_g} if self.co2e_g is not None else {}
        tail = ({"refused": list(self.refused)} if self.refused else {}) | \
            ({"error": self.error} if self.error is not None else {})
        return {"checked": self.checked, **figure, **self.texts(), **tail}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> HubCard:
        texts = {k: _opt_str(d.get(k)) for k in CO2_TEXTS}
        return cls(checked=bool(d.get("checked")), co2e_g=_opt_float(d.get("co2e_g")), **texts,
                   refused=_texts(d.get("refused")), error=_opt_str(d.get("error")))._as_read(d)


@dataclass(frozen=True, eq=False, repr=False)
class HubCheck(JsonRecord):
    """What the Hub said of a model's lineage (``Rating.lineage.hub``): its base model, the relation to it, the
    safetensors parameter count and the model type; or that it was not asked or did not answer (``error``)."""

    checked: bool
    base_model: str | None = None
    relation: str | None = None
    parameters: int | None = None
    architecture: str | None = None
    error: str | None = None

    def _json(self) -> dict[str, Any]:
        if not self.checked:
            return {"checked": False, "error": self.error}
        return {"checked": True, "base_model": self.base_model, "relation": self.relation,
                "parameters": self.parameters, "architecture": self.architecture}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> HubCheck:
        return cls(checked=bool(d.get("checked")), base_model=_opt_str(d.get("base_model")),
                   relation=_opt_str(d.get("relation")), parameters=_opt_int(d.get("parameters")),
                   architecture=_opt_str(d.get("architecture")), error=_opt_str(d.get("error")))._as_read(d)


class NodeInfoJson(TypedDict):
    """The JSON of a :class:`NodeInfo` (``scer_hf.rating.lineage.Node.to_dict()``)."""

    model_id: str
    base_model: str | None
    relation: str
    architecture: str | None
    params_b: float | None
    source: str
    notes: str
    origin: str
    description: str


@dataclass(frozen=True, eq=False, repr=False)
class NodeInfo(JsonRecord):
    """A model's place in its lineage, as a rating carries it (``Rating.lineage.node``)."""

    model_id: str
    base_model: str | None
    relation: str
    architecture: str | None
    params_b: float | None
    source: str
    notes: str
    origin: str  # "lineage.csv#3", "Hub", "local folder"
    description: str  # the relation in words ("a fine-tune of ...")

    def _json(self) -> NodeInfoJson:
        return {"model_id": self.model_id, "base_model": self.base_model, "relation": self.relation,
                "architecture": self.architecture, "params_b": self.params_b, "source": self.source,
                "notes": self.notes, "origin": self.origin, "description": self.description}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NodeInfo:
        return cls(model_id=str(d.get("model_id") or ""), base_model=_opt_str(d.get("base_model")),
                   relation=str(d.get("relation") or ""), architecture=_opt_str(d.get("architecture")),
                   params_b=_opt_float(d.get("params_b")), source=str(d.get("source") or ""),
                   notes=str(d.get("notes") or ""), origin=str(d.get("origin") or ""),
                   description=str(d.get("description") or ""))._as_read(d)


class AdapterInfoJson(TypedDict):
    """The JSON of an :class:`AdapterInfo`."""

    model_id: str
    base_model: str
    method: str | None
    parameters: int | None
    source: str
    origin: str


@dataclass(frozen=True, eq=False, repr=False)
class AdapterInfo(JsonRecord):
    """A PEFT adapter a rating is of (``Rating.lineage.adapter``): its base model, method and own parameters."""

    model_id: str
    base_model: str
    method: str | None
    parameters: int | None
    source: str
    origin: str

    def _json(self) -> AdapterInfoJson:
        return {"model_id": self.model_id, "base_model": self.base_model, "method": self.method,
                "parameters": self.parameters, "source": self.source, "origin": self.origin}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AdapterInfo:
        return cls(model_id=str(d.get("model_id") or ""), base_model=str(d.get("base_model") or ""),
                   method=_opt_str(d.get("method")), parameters=_opt_int(d.get("parameters")),
                   source=str(d.get("source") or ""), origin=str(d.get("origin") or ""))._as_read(d)


@dataclass(frozen=True, eq=False, repr=False)
class LineageInfo(JsonRecord):
    """What a rating used of the model's lineage (``Rating.lineage``): what the Hub said (``hub``), the model's
    node (``node``); for an adapter, the adapter and its base model's own lineage (``base``, null when the base
    could not be rated)."""

    node: NodeInfo | None = None
    hub: HubCheck | None = None
    adapter: AdapterInfo | None = None
    base: LineageInfo | None = None

    def _json(self) -> dict[str, Any]:
        if self.adapter is not None:
            return {"node": _json_or_none(self.node), "adapter": self.adapter.to_dict(),
                    "base": _json_or_none(self.base)}
        return {k: v.to_dict() for k, v in (("hub", self.hub), ("node", self.node)) if v is not None}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LineageInfo:
        node, hub, adapter, base = d.get("node"), d.get("hub"), d.get("adapter"), d.get("base")
        return cls(node=NodeInfo.from_dict(node) if isinstance(node, Mapping) else None,
                   hub=HubCheck.from_dict(hub) if isinstance(hub, Mapping) else None,
                   adapter=AdapterInfo.from_dict(adapter) if isinstance(adapter, Mapping) else None,
                   base=LineageInfo.from_dict(base) if isinstance(base, Mapping) else None)._as_read(d)


def _json_or_none(record: JsonRecord | None) -> dict[str, Any] | None:
    return record.to_dict() if record is not None else None
