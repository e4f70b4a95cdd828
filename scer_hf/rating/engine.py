"""Rate a model id from published figures: peers, percentile, stars, nearest peers."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from . import reference as _ref
from ..core.fmt import num as _num
from ..errors import RatingError
from . import lineage as _lin
from .categories import normalize_task, suggest_task, validate_model_id
from .hub import card_emissions, model_info
from .percentile import grade, percentiles
from .result import PhaseRating, Rating
from .stars import star_bands, stars

__all__ = ["rate_model", "rate_value", "training_how_to", "inference_how_to", "TRAINING_CO2E_GROUP"]

TRAINING_CO2E_GROUP = "training | pre-training | CO2e per parameter-token"
NEAREST = 5


def training_how_to(model: str | None) -> str:
    return ("add scer_hf.SCERCallback() to your transformers Trainer(callbacks=[...]), train, then "
            "scer-hf rate scer_report.json" + (f"  (model: {model})" if model else ""))


def inference_how_to(model: str | None, task: str | None, *, pipeline_tag: str | None = None,
                     architectures: Sequence[str] | None = None) -> str:
    """The benchmark command, with a task the model can do (given, its pipeline tag, or its architecture)."""
    return f"scer-hf benchmark {model or 'MODEL'} --task {task or suggest_task(model, pipeline_tag, architectures)}"


def _closeness(a: float, b: float) -> float:
    if a > 0 and b > 0:
        return abs(math.log(a / b))
    return abs(a - b) + 1e6  # zero values: rank after every positive pair


def rate_value(
    phase: str,
    value: float,
    unit: str,
    peers: Sequence[Mapping[str, Any]],
    *,
    self_row: Mapping[str, Any] | None = None,
    value_key: str = "value",
    with_stars: bool = False,
    category: dict[str, Any],
    method: str,
    sources: list[str],
    estimated: bool = False,
    uncertainty: float | None = None,
) -> PhaseRating:
    """Rate *value* among *peers* (rows). A reference row passes itself as *self_row*.

    N = peers other than *self_row*, plus the rated value. Stars use the range of the
    reference group (the rows themselves; a new value is clipped to it).
    """
    own_id = self_row.get("ref_id") if self_row is not None else None
    others = [p for p in peers if p.get(value_key) is not None and p.get("ref_id") != own_id]
    values = [float(p[value_key]) for p in others] + [float(value)]
    pcts = percentiles(values)
    pct = pcts[-1]
    pr = PhaseRating(
        phase=phase, available=True, grade=grade(pct), percentile=pct, value=float(value), unit=unit,
        uncertainty=uncertainty, category=dict(category), peers=len(others), sources=list(sources),
        estimated=estimated, method=method,
    )
    if with_stars and (others or self_row is not None):
        ref_vals = [float(p[value_key]) for p in others] + ([float(value)] if self_row is not None else [])
        pr.stars = stars(float(value), ref_vals)
        pr.star_bands = star_bands(ref_vals)
        lo, hi = min(ref_vals), max(ref_vals)
        if not lo <= value <= hi:
            pr.notes.append(f"value outside the reference range [{_num(lo)}, {_num(hi)}] {unit}: stars clipped")
    if pct is None:
        pr.reason = "no peers in this category (N = 1): a percentile needs at least 2 figures"
    near = sorted(range(len(others)), key=lambda i: _closeness(values[i], float(value)))[:NEAREST]
    pr.nearest_peers = sorted(
        ({"model": others[i].get("model_key"), "value": values[i], "unit": unit, "percentile": pcts[i],
          "grade": grade(pcts[i]), "ref_id": others[i].get("ref_id"),
          **({"stars": stars(values[i], ref_vals)} if pr.stars is not None else {})} for i in near),
        key=lambda d: d["value"],
    )
    return pr


def _row_sources(row: Mapping[str, Any]) -> list[str]:
    out = [f"{row['ref_id']} ({_ref.REFERENCE_VERSION}): {row.get('source', '')}".strip()]
    if row.get("source_mirror"):
        out.append(f"mirror: {row['source_mirror']}")
    return out


def _category(row: Mapping[str, Any], group: str, metric: str | None) -> dict[str, Any]:
    c = {"phase": row["phase"], "task": row.get("task_key"), "size_class": row.get("size_class"),
         "hardware_class": row.get("hardware_class"), "setting": row.get("setting"), "group": group,
         "metric": metric, "reference": _ref.REFERENCE_VERSION}
    if group.startswith(_ref.AIES_EDITION):
        c["edition"] = _ref.AIES_EDITION
    return c


def _rate_training_row(row: dict[str, Any], peers: list[dict[str, Any]]) -> PhaseRating:
    derived = bool(row.get("derived"))
    method = "derived (calculator)" if derived else "published"
    common = dict(sources=_row_sources(row), estimated=derived, method=method)
    if row.get("value") is not None:
        pr = rate_value("training", row["value"], row["value_unit"], [p for p in peers if p.get("value") is not None],
                        self_row=row, category=_category(row, row["group"], row["value_unit"]), **common)
    elif row.get("co2e_value") is not None:
        pr = rate_value("training", row["co2e_value"], row["co2e_unit"],
                        [p for p in peers if p.get("co2e_value") is not None], self_row=row, value_key="co2e_value",
                        category=_category(row, TRAINING_CO2E_GROUP, row["co2e_unit"]), **common)
        pr.notes.append("rated on operational emissions per parameter-token: no energy figure was published")
    else:
        missing = [n for n, k in (("parameters", "params_b_value"), ("training tokens", "tokens_b_value")) if not row.get(k)]
        if row.get("energy_wh") is not None:
            value, unit = row["energy_wh"] / 1e6, "MWh (training energy, not normalised)"
        elif _ref._num(row.get("tco2e_operational")) is not None:
            value, unit = _ref._num(row.get("tco2e_operational")), "t CO2e (operational, not normalised)"
        else:
            value, unit = None, None
        why = (f"{' and '.join(missing)} not published for this row, so the comparable figure (per parameter x "
               "training token) cannot be computed" if missing else "no energy or emissions figure published")
        pr = PhaseRating(phase="training", available=value is not None, value=value, unit=unit,
                         category=_category(row, row["group"], None), reason=why,
                         how_to_measure=training_how_to(row.get("model_key")), **common)
    if derived and row.get("derivation"):
        pr.notes.append(f"energy derived by scer_hf.core.calculator, not published: {row['derivation']}")
    if row.get("co2e_value") is not None and pr.co2e is None:
        pr.co2e = {"value": row["co2e_value"], "unit": row["co2e_unit"], "basis": "tco2e_operational (as published)"}
    pr.notes.append(f"evidence: [{row.get('evidence', '')}]")
    return pr


def _rate_inference_row(row: dict[str, Any], peers: list[dict[str, Any]]) -> PhaseRating:
    group = [p for p in peers if p.get("group") == row["group"] and p.get("value") is not None]
    is_aies = row["group"].startswith(_ref.AIES_EDITION)
    pr = rate_value("inference", row["value"], row["value_unit"], group, self_row=row, with_stars=is_aies,
                    category=_category(row, row["group"], row["value_unit"]), method="published",
                    sources=_row_sources(row))
    pr.comparable = True
    if row.get("published_stars") is not None and pr.stars is not None and pr.stars != row["published_stars"]:
        pr.notes.append(f"published stars {row['published_stars']} differ from recomputed {pr.stars}")
    if row.get("evidence"):
        pr.notes.append(f"evidence: [{row['evidence']}]")
    return pr


def _pick(prs: list[PhaseRating]) -> PhaseRating:
    """Headline: AI Energy Score figures first, then rated ones with the most peers; others -> alternatives."""
    def key(p: PhaseRating) -> tuple[int, int, int, int]:
        return (p.stars is not None, p.grade is not None, not p.estimated, p.peers)
    ordered = sorted(prs, key=key, reverse=True)
    head = ordered[0]
    head.alternatives = ordered[1:]
    return head


def _excluded_reason(model: str, phase: str, everything: list[dict[str, Any]]) -> str:
    hidden = [r for r in everything if r["model_key"].lower() == model.lower()]
    if hidden:
        kinds = sorted({"[secondary]" if r["secondary"] else "modelled" for r in hidden})
        flags = " and ".join(f for f, k in (("include_secondary=True", "[secondary]"), ("include_modelled=True", "modelled"))
                             if k in kinds)
        return (f"only {' and '.join(kinds)} {phase} figures exist for {model}; they are excluded by default "
                f"(pass {flags}, CLI --include-secondary/--include-modelled)")
    return f"no published {phase} figure for {model} in {_ref.REFERENCE_VERSION}"


def _resolve(mid: str, rows: list[dict[str, Any]]) -> str:
    """Lower-case key of *mid*; a legacy id without namespace ("gpt2") maps to the one reference
    model of that name ("openai-community/gpt2"), as the Hub redirects it; ambiguous names don't."""
    key = mid.lower()
    keys = {r["model_key"].lower() for r in rows}
    if key in keys or "/" in key:
        return key
    named = {k for k in keys if k.rsplit("/", 1)[-1] == key}
    return named.pop() if len(named) == 1 else key


def _mark(pr: PhaseRating, basis: str, via: str, label: str, edges: list[_lin.Node], how_to: str) -> None:
    """Label a rating that uses another model's figure (inherited or architecture twin), with the edges' sources."""
    for p in (pr, *pr.alternatives):
        p.basis, p.via_model, p.basis_label = basis, via, label
        p.method = f"{'inherited' if basis == 'inherited' else 'architecture twin'}: {p.method}"
        p.sources = [_lin.edge_source(n) for n in edges] + list(p.sources)
        p.notes.insert(0, label)
        p.how_to_measure = how_to


def _inherit(mid: str, key: str, g: _lin.Lineage, train: list[dict[str, Any]]) -> tuple[PhaseRating | None, list[str]]:
    """The nearest ancestor's pre-training rating, or (None, the ancestors tried)."""
    tried = []
    for anc, chain in g.ancestors(key):
        rows = [r for r in train if r["model_key"].lower() == anc.lower()]
        rows = [(_ref.derive_training_value(r) or r) if r.get("value") is None and r.get("co2e_value") is None
                else r for r in rows]
        if rows:
            pr = _pick([_rate_training_row(r, train) for r in rows])
            _mark(pr, "inherited", anc, _lin.inherited_label(anc), chain, training_how_to(mid))
            return pr, tried
        tried.append(anc)
    return None, tried


def _twin(mid: str, key: str, g: _lin.Lineage, rows: list[dict[str, Any]], infer: list[dict[str, Any]],
          tag: str | None) -> PhaseRating | None:
    """The published inference figure of an architecture twin (same tree, architecture and parameters)."""
    def params_of(m: str) -> float | None:
        return next((r["params_b_value"] for r in rows if r["model_key"].lower() == m.lower()
                     and r.get("params_b_value")), None)

    me = g.node(key)
    prs = []
    for twin, how in g.twins(key, params_of):
        edges: list[_lin.Node] = []
        for m in (key, twin):  # both paths up to the common base, each edge once
            for _, chain in g.ancestors(m, _lin.TWIN_EDGES)[-1:]:
                edges += [n for n in chain if n not in edges]
        for r in infer:
            if r["model_key"].lower() == twin.lower() and r.get("value") is not None and (tag is None or r.get("task_key") == tag):
                pr = _rate_inference_row(r, infer)
                _mark(pr, "twin", twin, _lin.twin_label(twin), edges, inference_how_to(mid, tag))
                pr.notes.insert(1, f"{twin} is {how}; same architecture ({me.architecture if me else '?'}) and "
                                   f"parameter count within {_lin.PARAM_TOLERANCE:.0%}: its published figure, "
                                   f"not a measurement of {mid}")
                prs.append(pr)
    if not prs:
        return None
    head = _pick(prs)
    return head


def _modelled(mid: str, key: str, tag: str | None, parameters: float | None, own_t: list[dict[str, Any]],
              fallback: PhaseRating, source: str = "passed by the caller (parameters=)") -> PhaseRating:
    """A modelled inference range when the parameter count is known (explicit, sourced table, or reference rows)."""
    from . import modelled as _m

    entry = _m.parameters_of(key)
    if parameters is not None:
        params_b, total_b, src = float(parameters) / 1e9, None, source
    elif entry is not None:
        params_b = entry["active_params_b"] or entry["params_b"]
        total_b, src = entry["params_b"], f"{_m.PARAMS_FILE}: {entry['source']}"
    elif own_t and own_t[0].get("params_b_value"):
        params_b, total_b, src = float(own_t[0]["params_b_value"]), None, f"{own_t[0]['ref_id']} (params_b)"
    else:
        return fallback
    if tag is None and not own_t:
        fallback.notes.append("parameter count known, but no task: pass task= to get a modelled range")
        return fallback
    pr = _m.modelled_inference(params_b, tag or "text-generation", model=mid, total_params_b=total_b,
                               params_source=src)
    if not pr.available:
        fallback.notes.append(f"no modelled range: {pr.reason}")
        return fallback
    if tag is None:
        pr.notes.append("task assumed text-generation (a pre-trained language model); pass task= for another")
    pr.notes.append(f"no published figure: {fallback.reason}")
    pr.how_to_measure = fallback.how_to_measure
    return pr


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

    *node*: the lineage of a model that is not on the Hub (a local folder, ``rating/local.py``);
    *model_id* is then only its display name. *lookup*: the Hub's answer about the model, already asked for.
    """
    mid = node.model_id if node is not None else validate_model_id(model_id)
    tag = normalize_task(task) if task else None
    if parameters is not None and (isinstance(parameters, bool) or not isinstance(parameters, (int, float))
                                   or not math.isfinite(parameters) or parameters < 1e3):
        raise RatingError(f"parameters is the model's parameter count, e.g. 7e9 for a 7B model; got {parameters!r}")
    flags = dict(include_secondary=include_secondary, include_modelled=include_modelled, extra=extra)
    train = _ref.rows("training", include_derived=include_derived, **flags)
    infer = _ref.rows("inference", **flags)
    g = _lin.graph([node] if node is not None else [])
    key = mid.lower() if node is not None else _resolve(mid, train + infer + [{"model_key": n.model_id}
                                                                              for n in g.nodes.values()])

    own_t = [r for r in train if r["model_key"].lower() == key]
    if not include_derived:  # the rated model's own gaps may still be derived (and say so)
        own_t = [(_ref.derive_training_value(r) or r) if r.get("value") is None and r.get("co2e_value") is None
                 else r for r in own_t]
    if own_t:
        training = _pick([_rate_training_row(r, train) for r in own_t])
    else:
        everything = _ref.rows("training", include_secondary=True, include_modelled=True, extra=extra)
        training = PhaseRating(phase="training", reason=_excluded_reason(mid, "training", everything),
                               how_to_measure=training_how_to(mid))

    own_i = [r for r in infer if r["model_key"].lower() == key and r.get("value") is not None
             and (tag is None or r.get("task_key") == tag)]
    if own_i:
        inference = _pick([_rate_inference_row(r, infer) for r in own_i])
    else:
        everything = _ref.rows("inference", include_secondary=True, include_modelled=True, extra=extra)
        everything = [r for r in everything if tag is None or r.get("task_key") == tag]
        reason = _excluded_reason(mid, "inference", everything)
        if tag:
            reason += f" for task {tag}"
        inference = PhaseRating(phase="inference", reason=reason, how_to_measure=inference_how_to(mid, tag))

    lookups: list[Any] = [lookup] if lookup is not None else []  # the one Hub request of this rating, on first need

    def hub_lookup() -> Any:
        if not lookups:
            lookups.append(model_info(mid, hub_timeout_s))  # returns at once when offline
        return lookups[0]

    lineage_info: dict[str, Any] = {}
    if (not own_t or not own_i) and g.node(key) is None and hub is not False:
        hub_n, lineage_info["hub"] = _lin.hub_node(mid, timeout_s=hub_timeout_s, lookup=hub_lookup())
        if hub_n is not None:
            g = g.with_node(hub_n)
    if not own_t:
        inherited, tried = _inherit(mid, key, g, train)
        if inherited is not None:
            training = inherited
        elif tried and training.reason:
            training.reason += (f"; its base model{'s' if len(tried) > 1 else ''} {', '.join(tried)} "
                                f"{'have' if len(tried) > 1 else 'has'} no published training figure either")
        elif training.reason and (me := g.node(key)) is not None and me.relation not in _lin.INHERITS and me.base_model:
            training.reason += (f"; it is {me.relation} from {me.base_model} (trained anew), so it inherits no "
                                "pre-training rating")
    if not own_i:
        twin = _twin(mid, key, g, train + infer, infer, tag)
        if twin is not None:
            inference = twin  # a twin's published figure comes before any modelled range
        elif modelled:
            me = g.node(key)
            if parameters is None and me is not None and me.params_b:  # lineage table, Hub or local folder
                inference = _modelled(mid, key, tag, me.params_b * 1e9, own_t, inference,
                                      source=f"{me.origin or 'lineage'}: {me.source}".strip(": "))
            else:
                inference = _modelled(mid, key, tag, parameters, own_t, inference)
    if g.node(key) is not None:
        lineage_info["node"] = g.node(key).to_dict()

    hub_info = None
    if not training.available and hub is not False and node is None:
        hub_info = card_emissions(mid, timeout_s=hub_timeout_s, lookup=hub_lookup())
        if hub_info.get("co2e_g") is not None:
            training = PhaseRating(
                phase="training", available=True, value=hub_info["co2e_g"],
                unit="g CO2e (model card co2_eq_emissions, total, not normalised)", method="hub card",
                sources=[f"https://huggingface.co/{mid} (card metadata co2_eq_emissions)"],
                reason="the card gives total emissions only; rating needs energy per parameter x training token",
                how_to_measure=training_how_to(mid),
                notes=[f"{k}: {v}" for k, v in hub_info.items() if k not in ("checked", "co2e_g")],
            )
    if key != mid.lower():
        for pr in (training, inference):
            pr.notes.insert(0, f"{mid!r} matched the reference model {key!r} (legacy id without namespace)")
    return Rating(model=mid, reference_version=_ref.REFERENCE_VERSION, training=training, inference=inference,
                  hub=hub_info, lineage=lineage_info or None)
