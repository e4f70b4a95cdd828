"""Rate a model id from published figures: peers, percentile, stars, nearest peers.

:func:`rate_model` asks two ordered lists of small steps (``rating/fallback.py``), the first answer winning:

- training (:data:`TRAINING_STEPS`): ``own_training`` > ``hub_lineage`` > ``inherited_training``, then
  ``card_emissions`` for an answer still without a figure;
- inference (:data:`INFERENCE_STEPS`): ``own_inference`` > ``hub_lineage`` > ``architecture_twin`` >
  ``quantized_base`` > ``modelled_range``.

The id is first matched to its current name (:func:`_identify`); an unknown one ends with its close matches.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import RatingError
from . import aliases as _ali
from . import fallback as _fb
from . import lineage as _lin
from . import reference as _ref
from .categories import normalize_task, validate_model_id
from .fallback import INFERENCE_STEPS, TRAINING_STEPS
from .hubrecords import LineageInfo
from .result import PhaseRating, Rating
from .rows import TRAINING_CO2E_GROUP, inference_how_to, rate_value, training_how_to

__all__ = ["rate_model", "rate_value", "training_how_to", "inference_how_to", "TRAINING_CO2E_GROUP",
           "TRAINING_STEPS", "INFERENCE_STEPS"]


def _identify(model_id: str, node: _lin.Node | None, g: _lin.Lineage, extra: Any) -> tuple[str, str, list[str]]:
    """(display id, lower-case current id, notes): renamed ids resolve to their current name (aliases.csv); a
    legacy id without namespace ("distilgpt2") to the one known model of that name, as the Hub redirects it."""
    if node is not None:
        return node.model_id, node.model_id.lower(), []
    asked = validate_model_id(model_id)
    current = _ali.canonical(asked)
    notes = [n for n in (_ali.alias_note(asked),) if n]
    known = _fb.known_ids(g, extra)
    key = None if current.lower() in known or "/" in current else _legacy_match(current, known)
    if key is None:
        return current, current.lower(), notes
    why = f"{asked!r} matched the reference model {known[key]!r} (legacy id without namespace)"
    return known[key], key, [*notes, why]


def _legacy_match(name: str, known: dict[str, str]) -> str | None:
    """The one known id whose name, without namespace, is *name* (a legacy id, as the Hub redirects it); None
    when none or several are."""
    named = [k for k in known if "/" in k and k.rsplit("/", 1)[-1] == name.lower()]
    return named[0] if len(named) == 1 else None


def _check_parameters(parameters: float | None) -> None:
    if parameters is not None and (isinstance(parameters, bool) or not isinstance(parameters, (int, float))
                                   or not math.isfinite(parameters) or parameters < 1e3):
        raise RatingError(f"parameters is the model's parameter count, e.g. 7e9 for a 7B model; got {parameters!r}")


def rate_model(
    model_id: str,
    *,
    task: str | None = None,
    include_secondary: bool = False,
    include_modelled: bool = False,
    include_derived: bool = False,
    extra: Any = None,
    hub: bool | None = None,
    hub_timeout_s: float = 3.0,
    node: _lin.Node | None = None,
    modelled: bool = True,
    parameters: float | None = None,
    lookup: Any = None,
) -> Rating:
    """Rate *model_id* from the reference data (see :func:`scer_hf.rate`).

    The order: the id's current name (renamed ids, ``aliases.csv``); then :data:`TRAINING_STEPS` and
    :data:`INFERENCE_STEPS`: its own published figures; its lineage (training inherited from a base, an
    architecture twin's inference figure, a quantized copy's base); a modelled inference range from the parameter
    index; else an unknown id says so with the close matches.
    *node*: the lineage of a model that is not on the Hub (a local folder, ``rating/local.py``); *model_id* is then
    only its display name. *lookup*: the Hub's answer about the model, already
    asked for (one request per rating).
    """
    tag = normalize_task(task) if task else None
    _check_parameters(parameters)
    flags = {"include_secondary": include_secondary, "include_modelled": include_modelled, "extra": extra}
    train = _ref.reference_rows("training", include_derived=include_derived, **flags)
    infer = _ref.reference_rows("inference", **flags)
    g = _lin.graph([node] if node is not None else [])
    mid, key, notes = _identify(model_id, node, g, extra)
    a = _fb.Ask(mid=mid, key=key, tag=tag, train=train, infer=infer, g=g, extra=extra, hub=hub, timeout=hub_timeout_s,
                local=node is not None, notes=notes, lookups=[lookup] if lookup is not None else [],
                include_derived=include_derived, parameters=parameters, modelled=modelled)
    a.pretrained = bool(a.own(a.train))
    training = _fb.card_emissions(a, _fb.first_answer(a, TRAINING_STEPS, _fb.no_training_figure(a)))
    inference = _fb.first_answer(a, INFERENCE_STEPS, _fb.no_inference_figure(a))
    return _rating(a, model_id if node is None else None, training, inference)


def _rating(a: _fb.Ask, asked: str | None, training: PhaseRating, inference: PhaseRating) -> Rating:
    """The Rating: how the id was matched on both phases, the lineage, the Hub card; an unknown id says so."""
    own_node = a.g.node(a.key)
    node = own_node.info() if own_node is not None else None
    renamed = _ali.alias_source(asked) if asked is not None else None
    for pr in (training, inference):
        pr.notes[:0] = a.notes
        pr.sources += [renamed] if renamed else []
    rating = Rating(model=a.mid, reference_version=_ref.REFERENCE_VERSION, training=training, inference=inference,
                    hub=a.card, lineage=LineageInfo(node=node, hub=a.hub_check) if node or a.hub_check else None)
    _fb.mark_unknown(a, rating)
    return rating
