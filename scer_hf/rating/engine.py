"""Rate a model id from published figures: peers, percentile, stars, nearest peers."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from . import reference as _ref
from .categories import normalize_task, validate_model_id
from .hub import card_emissions
from .percentile import grade, percentiles
from .result import PhaseRating, Rating
from .stars import star_bands, stars

__all__ = ["rate_model", "rate_value", "training_how_to", "inference_how_to", "TRAINING_CO2E_GROUP"]

TRAINING_CO2E_GROUP = "training | pre-training | CO2e per parameter-token"
NEAREST = 5


def training_how_to(model: str | None) -> str:
    return ("add scer_hf.SCERCallback() to your transformers Trainer(callbacks=[...]), train, then "
            "scer-hf rate scer_report.json" + (f"  (model: {model})" if model else ""))


def inference_how_to(model: str | None, task: str | None) -> str:
    return f"scer-hf benchmark {model or 'MODEL'} --task {task or 'text-generation'}"


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
        uncertainty=uncertainty, category=dict(category), peers=len(values), sources=list(sources),
        estimated=estimated, method=method,
    )
    if with_stars and (others or self_row is not None):
        ref_vals = [float(p[value_key]) for p in others] + ([float(value)] if self_row is not None else [])
        pr.stars = stars(float(value), ref_vals)
        pr.star_bands = star_bands(ref_vals)
        lo, hi = min(ref_vals), max(ref_vals)
        if not lo <= value <= hi:
            pr.notes.append(f"value outside the reference range [{lo:.4g}, {hi:.4g}] {unit}: stars clipped")
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
) -> Rating:
    """Rate *model_id* from the reference data (see :func:`scer_hf.rate`)."""
    mid = validate_model_id(model_id)
    tag = normalize_task(task) if task else None
    flags = dict(include_secondary=include_secondary, include_modelled=include_modelled, extra=extra)
    train = _ref.rows("training", include_derived=include_derived, **flags)
    infer = _ref.rows("inference", **flags)
    key = _resolve(mid, train + infer)

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

    hub_info = None
    if not training.available and hub is not False:  # card_emissions returns at once when offline
        hub_info = card_emissions(mid, timeout_s=hub_timeout_s)
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
                  hub=hub_info)
