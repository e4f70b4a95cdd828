"""Rate one reference row, or a value among its peers: percentile, grade, stars, the nearest peers.

The figures every step of :func:`scer_hf.rating.engine.rate_model` rates (``rating/fallback.py``) go through
:func:`rate_training_row` / :func:`rate_inference_row`; :func:`pick` chooses the headline among several.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..core.fmt import num as _num
from . import reference as _ref
from .categories import suggest_task
from .percentile import grade, percentiles
from .published import footprint, provenance_kind
from .result import PhaseRating
from .stars import star_bands, stars

__all__ = ["rate_value", "rate_training_row", "rate_inference_row", "pick", "training_how_to", "inference_how_to",
           "TRAINING_CO2E_GROUP"]

TRAINING_CO2E_GROUP = "training | pre-training | CO2e per parameter-token"
NEAREST = 5


def training_how_to(model: str | None) -> str:
    return ("add scer_hf.SCERCallback() to your transformers Trainer(callbacks=[...]), train, then "
            "scer-hf rate scer_report.json" + (f"  (model: {model})" if model else ""))


def inference_how_to(model: str | None, task: str | None, *, pipeline_tag: str | None = None,
                     architectures: Sequence[str] | None = None) -> str:
    """The benchmark command, with a task the model can do (given, its pipeline tag, or its architecture)."""
    archs = list(architectures) if architectures is not None else None
    return f"scer-hf benchmark {model or 'MODEL'} --task {task or suggest_task(model, pipeline_tag, archs)}"


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
    pr.peer_values = [{"model": p.get("model_key"), "value": v, "ref_id": p.get("ref_id")}
                      for p, v in zip(others, values[:-1], strict=True)]
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


def rate_training_row(row: dict[str, Any], peers: list[dict[str, Any]]) -> PhaseRating:
    derived = bool(row.get("derived"))
    kind = provenance_kind(row)  # "published" (the authors' figure) or "third-party estimate"
    method = "derived (calculator)" if derived else kind
    common = {"sources": _row_sources(row), "estimated": derived or kind != "published", "method": method}
    if row.get("value") is not None:
        pr = rate_value("training", row["value"], row["value_unit"], [p for p in peers if p.get("value") is not None],
                        self_row=row, category=_category(row, row["group"], row["value_unit"]), **common)
    elif row.get("co2e_value") is not None:
        pr = rate_value("training", row["co2e_value"], row["co2e_unit"],
                        [p for p in peers if p.get("co2e_value") is not None], self_row=row, value_key="co2e_value",
                        category=_category(row, TRAINING_CO2E_GROUP, row["co2e_unit"]), **common)
        pr.notes.append("rated on operational emissions per parameter-token: no energy figure was published")
    else:
        missing = [n for n, k in (("parameters", "params_b_value"), ("training tokens", "tokens_b_value"))
                   if not row.get(k)]
        if row.get("energy_wh") is not None:
            value, unit = row["energy_wh"] / 1e6, "MWh (training energy, not normalised)"
        elif _ref._num(row.get("tco2e_operational")) is not None:
            value, unit = _ref._num(row.get("tco2e_operational")), "tCO2eq (operational, not normalised)"
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
    pr.published = footprint(row)
    _family_label(pr, row)
    return pr


def _family_label(pr: PhaseRating, row: Mapping[str, Any]) -> None:
    """A family total (one published figure for several models) is shown as such, never as a model's own."""
    if not row.get("family_total"):
        return
    who = " + ".join(row["model_key"].split(" (")[0].split("|"))
    if pr.unit:
        pr.unit = f"{pr.unit.split(' (')[0]} (family total of {who}, not per model)"
    pr.reason = (f"a family total: the source publishes one figure for {who} together, with no per-model split, "
                 "so it is shown as the family's and not graded")


def rate_inference_row(row: dict[str, Any], peers: list[dict[str, Any]]) -> PhaseRating:
    group = [p for p in peers if p.get("group") == row["group"] and p.get("value") is not None]
    is_aies = row["group"].startswith(_ref.AIES_EDITION)
    kind = provenance_kind(row)
    pr = rate_value("inference", row["value"], row["value_unit"], group, self_row=row, with_stars=is_aies,
                    category=_category(row, row["group"], row["value_unit"]), method=kind,
                    sources=_row_sources(row), estimated=kind != "published")
    pr.published = footprint(row)
    pr.comparable = True
    if row.get("published_stars") is not None and pr.stars is not None and pr.stars != row["published_stars"]:
        pr.notes.append(f"published stars {row['published_stars']} differ from recomputed {pr.stars}")
    if row.get("evidence"):
        pr.notes.append(f"evidence: [{row['evidence']}]")
    return pr


def pick(prs: list[PhaseRating]) -> PhaseRating:
    """Headline: AI Energy Score figures first, then rated ones with the most peers; others -> alternatives."""
    def key(p: PhaseRating) -> tuple[int, int, int, int]:
        return (p.stars is not None, p.grade is not None, not p.estimated, p.peers)
    ordered = sorted(prs, key=key, reverse=True)
    head = ordered[0]
    head.alternatives = ordered[1:]
    return head
