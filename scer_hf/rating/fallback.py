"""The fallbacks of a model-id rating, in order: what the Hub says about the model, training inherited from a base
model, an architecture twin's inference figure, a quantized copy's base, a modelled range, the card's emissions, and
an unknown id's close matches. ``engine.rate_model`` calls them; each is one small step on an :class:`Ask`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from . import aliases as _ali
from . import engine as _eng  # the row rating (_pick, _rate_*_row): attributes read at call time
from . import index as _idx
from . import lineage as _lin
from . import reference as _ref
from .categories import normalize_task
from .hub import card_emissions, model_info
from .result import PhaseRating, Rating

__all__ = ["Ask", "known_ids", "learn_from_hub", "inherited_training", "inference_fallbacks", "card_training",
           "mark_unknown"]  # the steps of engine.rate_model

@dataclass
class Ask:
    """What one :func:`rate_model` call knows as it goes: the model, the reference rows, its lineage."""

    mid: str  # the model's current id (display name)
    key: str  # its lower-case current id: what every table is matched on
    tag: str | None
    train: list[dict[str, Any]]
    infer: list[dict[str, Any]]
    g: _lin.Lineage
    extra: Any = None
    hub: bool | None = None
    timeout: float = 3.0
    local: bool = False  # a local folder: the Hub is never asked about its display name
    notes: list[str] = field(default_factory=list)  # how the id was matched (renamed, legacy): on both phases
    info: dict[str, Any] = field(default_factory=dict)  # lineage info for the Rating
    lookups: list[Any] = field(default_factory=list)

    def hub_lookup(self) -> Any:
        """The one Hub request of this rating (lineage and card emissions), made on first need."""
        if not self.lookups:
            self.lookups.append(model_info(self.mid, self.timeout))  # returns at once when offline
        return self.lookups[0]

    def own(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in rows if _ref.matches(r, self.key)]


def known_ids(g: _lin.Lineage, extra: Any = None) -> dict[str, str]:
    """Lower-case current id -> display id of every model the data knows, excluded rows included (for matching
    and suggestions)."""
    out = {k: n.model_id for k, n in g.nodes.items()}
    rows = [r for phase in ("training", "inference")
            for r in _ref.rows(phase, include_secondary=True, include_modelled=True, extra=extra)]
    for r in rows:
        if not r.get("family_total"):
            out.setdefault(r["members"][0], r["model_key"])
    for e in _ali.table().values():
        out.setdefault(e["former"].lower(), e["former"])
    return out


def learn_from_hub(a: Ask) -> None:
    """Online: what the Hub says about the model (card base_model and relation, safetensors count). Asked for a model
    the shipped lineage does not know, or knows only from the parameter index (the Hub's count is the newer one);
    a curated ``lineage.csv`` edge with a published count needs no lookup."""
    shipped = a.g.node(a.key)
    if a.hub is False or a.local or (shipped is not None and shipped.origin.startswith(_lin.LINEAGE_FILE)
                                     and shipped.params_b is not None):
        return
    hub_n, a.info["hub"] = _lin.hub_node(a.mid, timeout_s=a.timeout, lookup=a.hub_lookup())
    if hub_n is not None:
        a.g = a.g.with_node(_lin.with_hub(shipped, hub_n))


def _mark(pr: PhaseRating, basis: str, via: str, label: str, edges: list[_lin.Node], how_to: str) -> None:
    """Label a rating that uses another model's figure (inherited, architecture twin, quantized base)."""
    word = {"inherited": "inherited", "twin": "architecture twin", "quantized": "quantized base"}[basis]
    for p in (pr, *pr.alternatives):
        p.basis, p.via_model, p.basis_label = basis, via, label
        p.method = f"{word}: {p.method}"
        p.sources = [_lin.edge_source(n) for n in edges] + list(p.sources)
        p.notes.insert(0, label)
        p.how_to_measure = how_to


def _inherit(a: Ask) -> tuple[PhaseRating | None, list[str]]:
    """The nearest ancestor's pre-training rating, or (None, the ancestors tried)."""
    tried: list[str] = []
    for anc, chain in a.g.ancestors(a.key):
        rows = [r for r in a.train if _ref.matches(r, _ali.canonical(anc).lower())]
        rows = [(_ref.derive_training_value(r) or r) if r.get("value") is None and r.get("co2e_value") is None
                else r for r in rows]
        if rows:
            pr = _eng._pick([_eng._rate_training_row(r, a.train) for r in rows])
            label = _lin.inherited_label(anc, chain[0].relation, chain)
            _mark(pr, "inherited", anc, label, chain, _eng.training_how_to(a.mid))
            return pr, tried
        tried.append(anc)
    return None, tried


def inherited_training(a: Ask, training: PhaseRating) -> PhaseRating:
    inherited, tried = _inherit(a)
    if inherited is not None:
        return inherited
    me = a.g.node(a.key)
    if tried and training.reason:
        training.reason += (f"; its base model{'s' if len(tried) > 1 else ''} {', '.join(tried)} "
                            f"{'have' if len(tried) > 1 else 'has'} no published training figure either")
    elif training.reason and me is not None and me.relation not in _lin.INHERITS and me.base_model:
        why = "several parents" if me.relation == "merge" else "trained anew"
        training.reason += f"; it is {_lin.relation_phrase(me)} ({why}), so it inherits no pre-training rating"
    return training


def _params_of(m: str, rows: list[dict[str, Any]]) -> float | None:
    """A model's parameter count: the index first, else a reference row's."""
    e = _idx.lookup(m)
    if e is not None:
        return e.params_b
    key = _ali.canonical(m).lower()
    return next((r["params_b_value"] for r in rows if _ref.matches(r, key) and r.get("params_b_value")), None)


def _twin(a: Ask) -> PhaseRating | None:
    """The published inference figure of an architecture twin (same tree, architecture and parameters)."""
    me, prs = a.g.node(a.key), []
    for twin, how in a.g.twins(a.key, lambda m: _params_of(m, a.train + a.infer)):
        edges: list[_lin.Node] = []
        for m in (a.key, twin):  # both paths up to the common base, each edge once
            for _, chain in a.g.ancestors(m, _lin.TWIN_EDGES)[-1:]:
                edges += [n for n in chain if n not in edges]
        tkey = _ali.canonical(twin).lower()
        for r in a.infer:
            if _ref.matches(r, tkey) and r.get("value") is not None and (a.tag is None or r.get("task_key") == a.tag):
                pr = _eng._rate_inference_row(r, a.infer)
                _mark(pr, "twin", twin, _lin.twin_label(twin), edges, _eng.inference_how_to(a.mid, a.tag))
                pr.notes.insert(1, f"{twin} is {how}; same architecture ({me.architecture if me else '?'}) and "
                                   f"parameter count within {_lin.PARAM_TOLERANCE:.0%}: its published figure, "
                                   f"not a measurement of {a.mid}")
                prs.append(pr)
    return _eng._pick(prs) if prs else None


def _not_rated(pr: PhaseRating, why: str) -> None:
    """Keep a figure but take its grade and stars to ``indicative``: it is not this model's to be rated on."""
    for p in (pr, *pr.alternatives):
        p.comparable = False
        if p.grade is not None or p.stars is not None or p.percentile is not None:
            p.indicative = {"grade": p.grade, "stars": p.stars, "percentile": p.percentile, "references": p.peers}
            p.grade, p.stars, p.percentile = None, None, None
        p.notes.append(f"not comparable: {why}")
        p.reason = f"not rated: not comparable ({why})"


def _quantized_base(a: Ask, inference: PhaseRating, modelled: bool) -> PhaseRating | None:
    """A quantized copy: the inference answer of the unquantized model it was made from, labelled and not rated.
    None when the model is no quantized copy; when the base has no answer either, *inference* says why."""
    me = a.g.node(a.key)
    if me is None or me.relation != "quantized" or not me.base_model:
        return None
    base = Ask(mid=me.base_model, key=_ali.canonical(me.base_model).lower(), tag=a.tag, train=a.train,
                infer=a.infer, g=a.g, extra=a.extra, hub=False, local=True)
    pr, own = _eng._own_inference(base)
    if not own:
        pr = inference_fallbacks(base, pr, None, modelled)
    if not pr.available:
        why = "; ".join([pr.reason or ""] + [n for n in pr.notes if n.startswith("no modelled range")])
        inference.notes.append(f"a quantized copy of {me.base_model}, which has no inference answer either: {why}")
        return inference
    if pr.basis == "quantized":  # its base is a quantized copy too: one label for the chain, not two
        label = f"quantized base: {me.base_model} (this repo is a quantized copy of it, itself one of {pr.via_model})"
        for p in (pr, *pr.alternatives):
            p.via_model, p.basis_label, p.how_to_measure = me.base_model, label, _eng.inference_how_to(a.mid, a.tag)
            p.sources.insert(0, _lin.edge_source(me))
            p.notes = [label] + [n for n in p.notes if not n.startswith("quantized base: ")]
        return pr
    label = f"quantized base: {me.base_model} (this repo is a quantized copy of it)"
    _mark(pr, "quantized", me.base_model, label, [me], _eng.inference_how_to(a.mid, a.tag))
    _not_rated(pr, f"the figure is {me.base_model}'s, for its unquantized weights; quantization changes the "
                   "energy per query, so measure this repo to rate it")
    return pr


def _modelled_task(a: Ask, me: _lin.Node | None, own_t: bool) -> tuple[str, str | None]:
    """(task, note) for a modelled range: the one asked for, else the model's pipeline tag, else the task its
    architecture implies (the commonest among indexed models of that architecture), else text generation."""
    if a.tag:
        return a.tag, None
    entry = _idx.lookup(a.key)
    if entry is not None and entry.pipeline_tag:
        return normalize_task(entry.pipeline_tag), None
    arch = (me.architecture if me is not None else None) or (entry.architecture if entry else None)
    implied = _idx.architecture_task(arch)
    if implied is not None:
        task, n, of = implied
        return normalize_task(task), (f"task {task}: what its architecture ({arch}) implies ({n} of {of} indexed "
                                      f"{arch} models); pass task= for another")
    why = "a pre-trained language model" if own_t else "its architecture is unknown"
    return "text-generation", f"task assumed text-generation ({why}); pass task= for another"


def _parameter_count(a: Ask, parameters: float | None) -> tuple[float, float | None, str] | str | None:
    """(parameters a token goes through, total, source) in billions; a string says why there is none usable.

    Order: given by the caller; what the Hub or a local folder counted; the parameter index (active parameters of
    a mixture of experts); a lineage row; a reference row.
    """
    me, entry = a.g.node(a.key), _idx.lookup(a.key)
    if parameters is not None:
        return float(parameters) / 1e9, None, "passed by the caller (parameters=)"
    active = entry.active_params_b if entry is not None else None
    if me is not None and me.params_b and me.origin.startswith(("Hub", "local")):
        return active or me.params_b, me.params_b, f"{me.origin}: {me.source}"
    if entry is not None:
        if entry.moe_without_active:
            return (f"{a.mid} is a mixture of experts ({entry.architecture}) and its active parameter count is not "
                    "in the index")
        return entry.effective_b, entry.params_b, f"{entry.ref}: {entry.source} {entry.notes}".strip()
    if me is not None and me.params_b:
        return me.params_b, None, f"{me.origin or 'lineage'}: {me.source}".strip(": ")
    own = _params_of(a.key, a.train)
    return (own, None, "reference data (params_b)") if own else None


def _modelled(a: Ask, fallback: PhaseRating, parameters: float | None, own_t: bool) -> PhaseRating:
    """A modelled inference range when the parameter count is known, shown only when it narrows the answer."""
    from . import modelled as _m

    count = _parameter_count(a, parameters)
    if count is None or isinstance(count, str):
        if count:
            fallback.notes.append(f"no modelled range: {count}")
        return fallback
    params_b, total_b, src = count
    task, note = _modelled_task(a, a.g.node(a.key), own_t)
    pr = _m.modelled_inference(params_b, task, model=a.mid, total_params_b=total_b, params_source=src)
    if not pr.available:
        fallback.notes.append(f"no modelled range: {pr.reason}")
        return fallback
    pr.notes += [n for n in (note, f"no published figure: {fallback.reason}") if n]
    pr.how_to_measure = _eng.inference_how_to(a.mid, task)
    return pr


def inference_fallbacks(a: Ask, inference: PhaseRating, parameters: float | None, modelled: bool,
                         own_t: bool = False) -> PhaseRating:
    """No own figure: an architecture twin's, else (a quantized copy) its base's, else a modelled range."""
    twin = _twin(a)
    if twin is not None:
        return twin
    base = _quantized_base(a, inference, modelled) if parameters is None else None
    if base is not None:
        return base
    return _modelled(a, inference, parameters, own_t) if modelled else inference


def card_training(a: Ask, training: PhaseRating) -> tuple[PhaseRating, dict[str, Any] | None]:
    """Online, with no training figure: the Hub card's ``co2_eq_emissions`` (a total, never graded)."""
    if training.available or a.hub is False or a.local:
        return training, None
    hub_info = card_emissions(a.mid, timeout_s=a.timeout, lookup=a.hub_lookup())
    if hub_info.get("co2e_g") is None:
        return training, hub_info
    return PhaseRating(
        phase="training", available=True, value=hub_info["co2e_g"],
        unit="g CO2e (model card co2_eq_emissions, total, not normalised)", method="hub card",
        sources=[f"https://huggingface.co/{a.mid} (card metadata co2_eq_emissions)"],
        reason="the card gives total emissions only; rating needs energy per parameter x training token",
        how_to_measure=_eng.training_how_to(a.mid),
        notes=[f"{k}: {v}" for k, v in hub_info.items() if k not in ("checked", "co2e_g")],
    ), hub_info


SUGGESTIONS = 5


def _suggestions(name: str, known: dict[str, str]) -> list[str]:
    """Close matches among the known ids, on the whole id and on the name after the namespace (difflib)."""
    name = name.lower()
    by_name: dict[str, list[str]] = {}
    for k, shown in known.items():
        by_name.setdefault(k.rsplit("/", 1)[-1], []).append(shown)
    hits = difflib.get_close_matches(name, list(known), n=SUGGESTIONS, cutoff=0.75)
    out = [known[k] for k in hits]
    for n in difflib.get_close_matches(name.rsplit("/", 1)[-1], list(by_name), n=SUGGESTIONS, cutoff=0.75):
        out += by_name[n]
    return [x for i, x in enumerate(out) if x not in out[:i] and "/" in x][:SUGGESTIONS]


def mark_unknown(a: Ask, rating: Rating, parameters: float | None) -> None:
    """A model no table knows (and the Hub did not find) says so, with the close matches."""
    known = known_ids(a.g, a.extra)
    if (a.key in known or parameters is not None or a.local or (a.info.get("hub") or {}).get("checked")
            or rating.training.available or rating.inference.available):
        return
    rating.known = False
    rating.suggestions = _suggestions(a.mid, known)
    hub = a.info.get("hub") or {}
    err = str(hub.get("error") or "")
    if a.hub is False or not hub or "HF_HUB_OFFLINE" in err:
        where = "offline: the Hub was not asked"
    elif "404" in err or "NotFound" in err:
        where = "not on the Hub either"
    else:
        where = f"the Hub did not answer: {err}"
    for pr in (rating.training, rating.inference):
        pr.reason = (f"unknown model {a.mid!r}: not in the reference data, the lineage table, the parameter index "
                     f"or the renamed ids ({where}); see the close matches (suggestions)")


