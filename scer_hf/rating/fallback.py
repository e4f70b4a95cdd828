"""How ``engine.rate_model`` finds a model id's figures: two ordered lists of small steps on an :class:`Ask`.

Each step gets the question and the phase's "no figure" answer (which it may annotate with why it found
nothing) and returns an answer, or None to pass on; the first answer wins (:func:`first_answer`).

- :data:`TRAINING_STEPS`: the model's own published figure; what the Hub says about its lineage; the pre-training
  figure of the nearest base model it inherits from. Then a training answer still without a figure takes the
  Hub card's emissions (:func:`card_emissions`: a total, never graded).
- :data:`INFERENCE_STEPS`: the model's own published figure; what the Hub says about its lineage; an architecture
  twin's figure; a quantized copy's base; a modelled range from the parameter count.

An unknown id then says so with its close matches (:func:`mark_unknown`).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import aliases as _ali
from . import index as _idx
from . import lineage as _lin
from . import reference as _ref
from .categories import normalize_task
from .hub import hub_card, model_info
from .hubrecords import HubCard, HubCheck
from .records import Indicative
from .result import PhaseRating, Rating
from .rows import inference_how_to, pick, rate_inference_row, rate_training_row, training_how_to

__all__ = ["Ask", "Step", "TRAINING_STEPS", "INFERENCE_STEPS", "first_answer", "no_training_figure",
           "no_inference_figure", "own_training", "own_inference", "hub_lineage", "inherited_training",
           "architecture_twin", "quantized_base", "modelled_range", "card_emissions", "known_ids", "mark_unknown"]


@dataclass
class Ask:
    """What one :func:`rate_model` call knows as it goes: the model, the reference rows, its lineage."""

    mid: str  # the model's current id (display name)
    key: str  # its lower-case current id: what every table is matched on
    tag: str | None
    train: list[_ref.ReferenceRow]
    infer: list[_ref.ReferenceRow]
    g: _lin.Lineage
    extra: Any = None
    hub: bool | None = None
    timeout: float = 3.0
    local: bool = False  # a local folder: the Hub is never asked about its display name
    notes: list[str] = field(default_factory=list)  # how the id was matched (renamed, legacy): on both phases
    hub_check: HubCheck | None = None  # what the Hub said of the model's lineage, once asked (the Rating's lineage)
    lookups: list[Any] = field(default_factory=list)
    include_derived: bool = False  # other models' training gaps filled by the calculator too
    parameters: float | None = None  # the caller's parameter count (parameters=)
    modelled: bool = True  # a modelled inference range may answer
    pretrained: bool = False  # the model has training figures of its own (a pre-trained model)
    learned: bool = False  # the Hub was asked about the lineage (once per rating)
    card: HubCard | None = None  # what the Hub card says about emissions, once asked

    def hub_lookup(self) -> Any:
        """The one Hub request of this rating (lineage and card emissions), made on first need."""
        if not self.lookups:
            self.lookups.append(model_info(self.mid, self.timeout))  # returns at once when offline
        return self.lookups[0]

    def own(self, rows: list[_ref.ReferenceRow]) -> list[_ref.ReferenceRow]:
        return [r for r in rows if r.matches(self.key)]

    def own_inference_rows(self) -> list[_ref.ReferenceRow]:
        """The model's own inference rows with a figure, for the task asked about (any task if none)."""
        return [r for r in self.own(self.infer) if r.value is not None and self.fits_task(r)]

    def fits_task(self, row: _ref.ReferenceRow) -> bool:
        return self.tag is None or row.task_key == self.tag


Step = Callable[[Ask, PhaseRating], "PhaseRating | None"]


def first_answer(a: Ask, steps: tuple[Step, ...], unanswered: PhaseRating) -> PhaseRating:
    """The first answer of *steps*, in order; else *unanswered* (which the steps may have annotated)."""
    for step in steps:
        answer = step(a, unanswered)
        if answer is not None:
            return answer
    return unanswered


def _derived_gaps(rows: list[_ref.ReferenceRow]) -> list[_ref.ReferenceRow]:
    """Rows with no figure filled by the calculator where it can (and saying so)."""
    return [(_ref.derive_training_row(r) or r) if r.value is None and r.co2e_value is None else r for r in rows]


#: (the option that includes them, the kind of rows excluded by default)
_INCLUDE_FLAGS = (("include_secondary=True", "[secondary]"), ("include_modelled=True", "modelled"))


def _excluded_reason(model: str, key: str, phase: str, everything: list[_ref.ReferenceRow]) -> str:
    hidden = [r for r in everything if r.matches(key)]
    if not hidden:
        return f"no published {phase} figure for {model} in {_ref.REFERENCE_VERSION}"
    kinds = sorted({"[secondary]" if r.secondary else "modelled" for r in hidden})
    flags = " and ".join(flag for flag, kind in _INCLUDE_FLAGS if kind in kinds)
    return (f"only {' and '.join(kinds)} {phase} figures exist for {model}; they are excluded by default "
            f"(pass {flags}, CLI --include-secondary/--include-modelled)")


def no_training_figure(a: Ask) -> PhaseRating:
    """The training answer when no step finds one: why (rows excluded by default, or none published)."""
    everything = _ref.reference_rows("training", include_secondary=True, include_modelled=True, extra=a.extra)
    return PhaseRating(phase="training", reason=_excluded_reason(a.mid, a.key, "training", everything),
                       how_to_measure=training_how_to(a.mid))


def no_inference_figure(a: Ask) -> PhaseRating:
    """The inference answer when no step finds one: why, for the task asked about."""
    everything = _ref.reference_rows("inference", include_secondary=True, include_modelled=True, extra=a.extra)
    reason = _excluded_reason(a.mid, a.key, "inference", [r for r in everything if a.fits_task(r)])
    return PhaseRating(phase="inference", reason=reason + (f" for task {a.tag}" if a.tag else ""),
                       how_to_measure=inference_how_to(a.mid, a.tag))


# -- the steps ------------------------------------------------------------------------------------------------------
def own_training(a: Ask, unanswered: PhaseRating) -> PhaseRating | None:
    """The model's own published training figures (its own gaps derived, and labelled so)."""
    own = a.own(a.train)
    if not a.include_derived:  # the rated model's own gaps may still be derived (and say so)
        own = _derived_gaps(own)
    return pick([rate_training_row(r, a.train) for r in own]) if own else None


def own_inference(a: Ask, unanswered: PhaseRating) -> PhaseRating | None:
    """The model's own published inference figures for the task."""
    own = a.own_inference_rows()
    return pick([rate_inference_row(r, a.infer) for r in own]) if own else None


def hub_lineage(a: Ask, unanswered: PhaseRating) -> None:
    """Never answers: learns the model's lineage from the Hub (once) for the steps after it."""
    learn_from_hub(a)


def known_ids(g: _lin.Lineage, extra: Any = None) -> dict[str, str]:
    """Lower-case current id -> display id of every model the data knows, excluded rows included (for matching
    and suggestions)."""
    out = {k: n.model_id for k, n in g.nodes.items()}
    rows = [r for phase in ("training", "inference")
            for r in _ref.reference_rows(phase, include_secondary=True, include_modelled=True, extra=extra)]
    for r in rows:
        if not r.family_total:
            out.setdefault(r.members[0], r.model_key)
    for e in _ali.aliases().values():
        out.setdefault(e.former.lower(), e.former)
    return out


def _curated_with_count(n: _lin.Node | None) -> bool:
    """Whether a node is a curated ``lineage.csv`` edge with a published parameter count (no Hub lookup needed)."""
    return n is not None and n.origin.startswith(_lin.LINEAGE_FILE) and n.params_b is not None


def learn_from_hub(a: Ask) -> None:
    """Online: what the Hub says about the model (card base_model and relation, safetensors count). Asked for a model
    the shipped lineage does not know, or knows only from the parameter index (the Hub's count is the newer one);
    a curated ``lineage.csv`` edge with a published count needs no lookup. Once per rating."""
    shipped = a.g.node(a.key)
    if a.learned or a.hub is False or a.local or _curated_with_count(shipped):
        return
    a.learned = True
    hub_n, checked = _lin.hub_node(a.mid, timeout_s=a.timeout, lookup=a.hub_lookup())
    a.hub_check = HubCheck.from_dict(checked)
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
        rows = _derived_gaps([r for r in a.train if r.matches(_ali.canonical(anc).lower())])
        if rows:
            pr = pick([rate_training_row(r, a.train) for r in rows])
            label = _lin.inherited_label(anc, chain[0].relation, chain)
            _mark(pr, "inherited", anc, label, chain, training_how_to(a.mid))
            return pr, tried
        tried.append(anc)
    return None, tried


def inherited_training(a: Ask, unanswered: PhaseRating) -> PhaseRating | None:
    """The pre-training figure of the nearest base model the model inherits from (fine-tune, adapter, quantized)."""
    inherited, tried = _inherit(a)
    if inherited is None and unanswered.reason:
        unanswered.reason += _no_inheritance_reason(a, tried)
    return inherited


def _bases_without_figure(tried: list[str]) -> str:
    """"; its base models a, b have no published training figure either" (one base: singular)."""
    many = len(tried) > 1
    return (f"; its base model{'s' if many else ''} {', '.join(tried)} "
            f"{'have' if many else 'has'} no published training figure either")


def _no_inheritance_reason(a: Ask, tried: list[str]) -> str:
    """Why nothing was inherited ("; ..."): the bases tried had no figure, or the model does not inherit (a merge,
    a model trained anew); "" when it has no base."""
    if tried:
        return _bases_without_figure(tried)
    me = a.g.node(a.key)
    if me is None or me.relation in _lin.INHERITS or not me.base_model:
        return ""
    why = "several parents" if me.relation == "merge" else "trained anew"
    return f"; it is {_lin.relation_phrase(me)} ({why}), so it inherits no pre-training rating"


def _params_of(m: str, rows: list[_ref.ReferenceRow]) -> float | None:
    """A model's parameter count: the index first, else a reference row's."""
    e = _idx.lookup(m)
    if e is not None:
        return e.params_b
    key = _ali.canonical(m).lower()
    return next((r.params_b_value for r in rows if r.matches(key) and r.params_b_value), None)


def _twin_edges(a: Ask, twin: str) -> list[_lin.Node]:
    """Both paths up to the common base of the model and its twin, each edge once."""
    edges: list[_lin.Node] = []
    for m in (a.key, twin):
        for _, chain in a.g.ancestors(m, _lin.TWIN_EDGES)[-1:]:
            edges += [n for n in chain if n not in edges]
    return edges


def _twin_rating(a: Ask, row: _ref.ReferenceRow, twin: str, how: str, edges: list[_lin.Node]) -> PhaseRating:
    me = a.g.node(a.key)
    pr = rate_inference_row(row, a.infer)
    _mark(pr, "twin", twin, _lin.twin_label(twin), edges, inference_how_to(a.mid, a.tag))
    pr.notes.insert(1, f"{twin} is {how}; same architecture ({me.architecture if me else '?'}) and "
                       f"parameter count within {_lin.PARAM_TOLERANCE:.0%}: its published figure, "
                       f"not a measurement of {a.mid}")
    return pr


def architecture_twin(a: Ask, unanswered: PhaseRating) -> PhaseRating | None:
    """The published inference figure of an architecture twin (same tree, architecture and parameters)."""
    prs = []
    for twin, how in a.g.twins(a.key, lambda m: _params_of(m, a.train + a.infer)):
        edges, tkey = _twin_edges(a, twin), _ali.canonical(twin).lower()
        prs += [_twin_rating(a, r, twin, how, edges) for r in a.infer
                if r.matches(tkey) and r.value is not None and a.fits_task(r)]
    return pick(prs) if prs else None


def _not_rated(pr: PhaseRating, why: str) -> None:
    """Keep a figure but take its grade and stars to ``indicative``: it is not this model's to be rated on."""
    for p in (pr, *pr.alternatives):
        p.comparable = False
        if p.grade is not None or p.stars is not None or p.percentile is not None:
            p.indicative = Indicative(grade=p.grade, stars=p.stars, percentile=p.percentile, references=p.peers)
            p.grade, p.stars, p.percentile = None, None, None
        p.notes.append(f"not comparable: {why}")
        p.reason = f"not rated: not comparable ({why})"


def _base_answer(a: Ask, base_model: str) -> PhaseRating:
    """The inference answer of the model a quantized copy was made from (its own steps; never the Hub)."""
    base = Ask(mid=base_model, key=_ali.canonical(base_model).lower(), tag=a.tag, train=a.train, infer=a.infer,
               g=a.g, extra=a.extra, hub=False, local=True, modelled=a.modelled)
    return first_answer(base, INFERENCE_STEPS, no_inference_figure(base))


def _relabel_chain(pr: PhaseRating, a: Ask, me: _lin.Node) -> PhaseRating:
    """The base is a quantized copy too: one label for the chain, not two."""
    label = f"quantized base: {me.base_model} (this repo is a quantized copy of it, itself one of {pr.via_model})"
    for p in (pr, *pr.alternatives):
        p.via_model, p.basis_label, p.how_to_measure = me.base_model, label, inference_how_to(a.mid, a.tag)
        p.sources.insert(0, _lin.edge_source(me))
        p.notes = [label] + [n for n in p.notes if not n.startswith("quantized base: ")]
    return pr


def _quantized_copy(a: Ask) -> tuple[_lin.Node, str] | None:
    """(the model's lineage node, its base) when it is a quantized copy of a known base and the caller gave no
    parameter count; else None."""
    me = a.g.node(a.key)
    if a.parameters is not None or me is None or me.relation != "quantized" or not me.base_model:
        return None
    return me, me.base_model


def _why_unanswered(pr: PhaseRating) -> str:
    """Why an answer is not available: its reason and its "no modelled range" notes."""
    return "; ".join([pr.reason or ""] + [n for n in pr.notes if n.startswith("no modelled range")])


def quantized_base(a: Ask, unanswered: PhaseRating) -> PhaseRating | None:
    """A quantized copy: the inference answer of the unquantized model it was made from, labelled and not rated.
    Not for a parameter count given by the caller (then the copy's own count is modelled); when the base has no
    answer either, *unanswered* says why and is the answer."""
    copy = _quantized_copy(a)
    if copy is None:
        return None
    me, base = copy
    pr = _base_answer(a, base)
    if not pr.available:
        unanswered.notes.append(f"a quantized copy of {base}, which has no inference answer either: "
                                f"{_why_unanswered(pr)}")
        return unanswered
    if pr.basis == "quantized":
        return _relabel_chain(pr, a, me)
    label = f"quantized base: {base} (this repo is a quantized copy of it)"
    _mark(pr, "quantized", base, label, [me], inference_how_to(a.mid, a.tag))
    _not_rated(pr, f"the figure is {base}'s, for its unquantized weights; quantization changes the "
                   "energy per query, so measure this repo to rate it")
    return pr


def _modelled_task(a: Ask, me: _lin.Node | None) -> tuple[str, str | None]:
    """(task, note) for a modelled range: the one asked for, else the model's pipeline tag, else the task its
    architecture implies (the commonest among indexed models of that architecture), else text generation."""
    if a.tag:
        return a.tag, None
    entry = _idx.lookup(a.key)
    if entry is not None and entry.pipeline_tag:
        return normalize_task(entry.pipeline_tag), None
    return _architecture_task(a, _architecture_of(me, entry))


def _architecture_of(me: _lin.Node | None, entry: _idx.Entry | None) -> str | None:
    """The model's architecture: its lineage node's, else its index entry's."""
    return (me.architecture if me is not None else None) or (entry.architecture if entry else None)


def _architecture_task(a: Ask, arch: str | None) -> tuple[str, str | None]:
    """(task, note): the commonest task among indexed models of *arch*, else text generation, assumed."""
    implied = _idx.architecture_task(arch)
    if implied is not None:
        task, n, of = implied
        return normalize_task(task), (f"task {task}: what its architecture ({arch}) implies ({n} of {of} indexed "
                                      f"{arch} models); pass task= for another")
    why = "a pre-trained language model" if a.pretrained else "its architecture is unknown"
    return "text-generation", f"task assumed text-generation ({why}); pass task= for another"


def _indexed_count(a: Ask, entry: _idx.Entry) -> tuple[float, float | None, str] | str:
    if entry.moe_without_active:
        return (f"{a.mid} is a mixture of experts ({entry.architecture}) and its active parameter count is not "
                "in the index")
    return entry.effective_b, entry.params_b, f"{entry.ref}: {entry.source} {entry.notes}".strip()


def _parameter_count(a: Ask) -> tuple[float, float | None, str] | str | None:
    """(parameters a token goes through, total, source) in billions; a string says why there is none usable.

    Order: given by the caller; what the Hub or a local folder counted; the parameter index (active parameters of
    a mixture of experts); a lineage row; a reference row.
    """
    me, entry = a.g.node(a.key), _idx.lookup(a.key)
    if a.parameters is not None:
        return float(a.parameters) / 1e9, None, "passed by the caller (parameters=)"
    counted = _counted_here(me, entry)
    if counted is not None:
        return counted
    if entry is not None:
        return _indexed_count(a, entry)
    return _lineage_count(me) or _reference_count(a)


def _counted_here(me: _lin.Node | None, entry: _idx.Entry | None) -> tuple[float, float | None, str] | None:
    """What the Hub or a local folder counted (the index's active count of a mixture of experts first)."""
    if me is None or not me.params_b or not me.origin.startswith(("Hub", "local")):
        return None
    active = entry.active_params_b if entry is not None else None
    return active or me.params_b, me.params_b, f"{me.origin}: {me.source}"


def _lineage_count(me: _lin.Node | None) -> tuple[float, float | None, str] | None:
    """The count a lineage row gives the model."""
    if me is None or not me.params_b:
        return None
    return me.params_b, None, f"{me.origin or 'lineage'}: {me.source}".strip(": ")


def _reference_count(a: Ask) -> tuple[float, float | None, str] | None:
    """The count a reference row of the model gives."""
    own = _params_of(a.key, a.train)
    return (own, None, "reference data (params_b)") if own else None


def _usable_count(a: Ask, unanswered: PhaseRating) -> tuple[float, float | None, str] | None:
    """The parameter count to model from (:func:`_parameter_count`); when none is usable, *unanswered* notes why."""
    count = _parameter_count(a)
    if isinstance(count, str):
        unanswered.notes.append(f"no modelled range: {count}")
        return None
    return count


def modelled_range(a: Ask, unanswered: PhaseRating) -> PhaseRating | None:
    """A modelled inference range when the parameter count is known (``modelled=True``); else *unanswered* says
    why there is none."""
    from . import modelled as _m

    if not a.modelled:
        return None
    count = _usable_count(a, unanswered)
    if count is None:
        return None
    params_b, total_b, src = count
    task, note = _modelled_task(a, a.g.node(a.key))
    pr = _m.modelled_inference(params_b, task, model=a.mid, total_params_b=total_b, params_source=src)
    if not pr.available:
        unanswered.notes.append(f"no modelled range: {pr.reason}")
        return None
    pr.notes += [n for n in (note, f"no published figure: {unanswered.reason}") if n]
    pr.how_to_measure = inference_how_to(a.mid, task)
    return pr


def card_emissions(a: Ask, training: PhaseRating) -> PhaseRating:
    """Online, a training answer with no figure: the Hub card's ``co2_eq_emissions`` (a total, never graded).
    What the card says is kept in ``a.card`` for the rating's ``hub`` block."""
    if training.available or a.hub is False or a.local:
        return training
    a.card = card = hub_card(a.mid, timeout_s=a.timeout, lookup=a.hub_lookup())
    if card.co2e_g is None:
        return training
    return PhaseRating(
        phase="training", available=True, value=card.co2e_g,
        unit="g CO2e (model card co2_eq_emissions, total, not normalised)", method="hub card",
        sources=[f"https://huggingface.co/{a.mid} (card metadata co2_eq_emissions)"],
        reason="the card gives total emissions only; rating needs energy per parameter x training token",
        how_to_measure=training_how_to(a.mid),
        notes=[f"{k}: {v}" for k, v in card.to_dict().items() if k not in ("checked", "co2e_g")],
    )


#: How a model's training figure is found: the first step with an answer wins (then :func:`card_emissions`).
TRAINING_STEPS: tuple[Step, ...] = (own_training, hub_lineage, inherited_training)
#: How a model's inference figure is found: the first step with an answer wins.
INFERENCE_STEPS: tuple[Step, ...] = (own_inference, hub_lineage, architecture_twin, quantized_base, modelled_range)


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


def _answered(a: Ask, rating: Rating, known: dict[str, str]) -> bool:
    """Whether anything knows the model: a table, the caller's count, a local folder, the Hub, or a figure."""
    return bool(a.key in known or a.parameters is not None or a.local or (a.hub_check and a.hub_check.checked)
                or rating.training.available or rating.inference.available)


def _where_looked(a: Ask) -> str:
    """Where the Hub stands on an unknown model: not asked (offline), not found, or no answer."""
    hub = a.hub_check
    err = str(hub.error or "") if hub else ""
    if a.hub is False or not hub or "HF_HUB_OFFLINE" in err:
        return "offline: the Hub was not asked"
    if "404" in err or "NotFound" in err:
        return "not on the Hub either"
    return f"the Hub did not answer: {err}"


def mark_unknown(a: Ask, rating: Rating) -> None:
    """A model no table knows (and the Hub did not find) says so, with the close matches."""
    known = known_ids(a.g, a.extra)
    if _answered(a, rating, known):
        return
    rating.known = False
    rating.suggestions = _suggestions(a.mid, known)
    where = _where_looked(a)
    for pr in (rating.training, rating.inference):
        pr.reason = (f"unknown model {a.mid!r}: not in the reference data, the lineage table, the parameter index "
                     f"or the renamed ids ({where}); see the close matches (suggestions)")
