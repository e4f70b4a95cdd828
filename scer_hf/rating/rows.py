"""Rate one reference row, or a value among its peers: percentile, grade, stars, the nearest peers.

The figures every step of :func:`scer_hf.rating.engine.rate_model` rates (``rating/fallback.py``) go through
:func:`rate_training_row` / :func:`rate_inference_row`; :func:`pick` chooses the headline among several.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..core.fmt import num as _num
from . import reference as _ref
from .categories import suggest_task
from .percentile import grade, percentiles
from .published import provenance_kind, published_of
from .records import Category, Co2e, NearestPeer, PeerValue
from .refrow import ReferenceRow
from .result import PhaseRating
from .stars import band_records, stars

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
    peers: Sequence[ReferenceRow],
    *,
    self_row: ReferenceRow | None = None,
    on_co2e: bool = False,
    with_stars: bool = False,
    category: Category,
    method: str,
    sources: list[str],
    estimated: bool = False,
    uncertainty: float | None = None,
) -> PhaseRating:
    """Rate *value* among *peers* (rows; on their emissions with *on_co2e*). A reference row passes itself as
    *self_row*.

    N = peers other than *self_row*, plus the rated value. Stars use the range of the
    reference group (the rows themselves; a new value is clipped to it).
    """
    others, values = _counted_peers(peers, self_row, on_co2e)
    values.append(float(value))
    pcts = percentiles(values)
    pct = pcts[-1]
    pr = PhaseRating(
        phase=phase, available=True, grade=grade(pct), percentile=pct, value=float(value), unit=unit,
        uncertainty=uncertainty, category=category, peers=len(others), sources=list(sources),
        estimated=estimated, method=method,
    )
    ref_vals = values[:-1] + ([float(value)] if self_row is not None else [])  # a reference row is in its group
    if with_stars and ref_vals:
        _star(pr, float(value), ref_vals, unit)
    if pct is None:
        pr.reason = "no peers in this category (N = 1): a percentile needs at least 2 figures"
    pr.peer_values = _peer_values(others, values[:-1])
    pr.nearest_peers = _nearest(others, values, pcts, unit, ref_vals if pr.stars is not None else None)
    return pr


def _counted_peers(peers: Sequence[ReferenceRow], self_row: ReferenceRow | None,
                   on_co2e: bool) -> tuple[list[ReferenceRow], list[float]]:
    """(the peers a value is counted among, their figures): those with a figure, except the rated reference row
    itself."""
    own_id = self_row.ref_id if self_row is not None else None
    counted = [(p, v) for p in peers for v in [p.figure(on_co2e)] if v is not None and p.ref_id != own_id]
    return [p for p, _ in counted], [float(v) for _, v in counted]


def _peer_values(others: Sequence[ReferenceRow], values: Sequence[float]) -> list[PeerValue]:
    """Every peer counted, as {model, value, ref_id}."""
    return [PeerValue(model=p.model_key, value=v, ref_id=p.ref_id) for p, v in zip(others, values, strict=True)]


def _star(pr: PhaseRating, value: float, ref_vals: list[float], unit: str) -> None:
    """AI Energy Score stars on the reference group's range (a value outside it is clipped, and says so)."""
    pr.stars = stars(value, ref_vals)
    pr.star_bands = band_records(ref_vals)
    lo, hi = min(ref_vals), max(ref_vals)
    if not lo <= value <= hi:
        pr.notes.append(f"value outside the reference range [{_num(lo)}, {_num(hi)}] {unit}: stars clipped")


def _nearest(others: list[ReferenceRow], values: list[float], pcts: list[float | None], unit: str,
             ref_vals: list[float] | None) -> list[NearestPeer]:
    """The :data:`NEAREST` peers closest to the rated value (the last of *values*), by value."""
    near = sorted(range(len(others)), key=lambda i: _closeness(values[i], values[-1]))[:NEAREST]
    rows = [NearestPeer(model=others[i].model_key, value=values[i], unit=unit, percentile=pcts[i],
                        grade=grade(pcts[i]), ref_id=others[i].ref_id,
                        stars=stars(values[i], ref_vals) if ref_vals is not None else None) for i in near]
    return sorted(rows, key=lambda p: p.value or 0.0)


def _row_sources(row: ReferenceRow) -> list[str]:
    out = [f"{row.ref_id} ({_ref.REFERENCE_VERSION}): {row.columns.get('source', '')}".strip()]
    mirror = row.columns.get("source_mirror")
    return out + ([f"mirror: {mirror}"] if mirror else [])


def _category(row: ReferenceRow, group: str, metric: str | None) -> Category:
    return Category(phase=row.phase, task=row.task_key, size_class=row.size_class, hardware_class=row.hardware_class,
                    setting=row.setting, group=group, metric=metric, reference=_ref.REFERENCE_VERSION,
                    edition=_ref.AIES_EDITION if group.startswith(_ref.AIES_EDITION) else None)


@dataclass(frozen=True)
class _Basis:
    """How a reference row's figure was made: its method, sources, and whether it is an estimate."""

    method: str
    sources: list[str]
    estimated: bool

    @classmethod
    def of(cls, row: ReferenceRow) -> _Basis:
        derived = row.derived
        kind = provenance_kind(row)  # "published" (the authors' figure) or "third-party estimate"
        return cls("derived (calculator)" if derived else kind, _row_sources(row), derived or kind != "published")


def _on_energy(row: ReferenceRow, value: float, peers: list[ReferenceRow], how: _Basis) -> PhaseRating:
    """Rated on energy per parameter-token (the comparable training figure)."""
    return rate_value("training", value, row.value_unit or "", peers, self_row=row,
                      category=_category(row, row.group, row.value_unit), method=how.method, sources=how.sources,
                      estimated=how.estimated)


def _on_co2e(row: ReferenceRow, co2e: float, peers: list[ReferenceRow], how: _Basis) -> PhaseRating:
    """No energy published: rated on operational emissions per parameter-token."""
    pr = rate_value("training", co2e, row.co2e_unit or "", peers, self_row=row, on_co2e=True,
                    category=_category(row, TRAINING_CO2E_GROUP, row.co2e_unit), method=how.method,
                    sources=how.sources, estimated=how.estimated)
    pr.notes.append("rated on operational emissions per parameter-token: no energy figure was published")
    return pr


def _total_figure(row: ReferenceRow) -> tuple[float | None, str | None]:
    """A total that cannot be normalised: the training energy, else the operational emissions, else nothing."""
    if row.energy_wh is not None:
        return row.energy_wh / 1e6, "MWh (training energy, not normalised)"
    tco2e = _ref._num(row.columns.get("tco2e_operational"))
    return (tco2e, "tCO2eq (operational, not normalised)") if tco2e is not None else (None, None)


def _not_normalised(row: ReferenceRow, how: _Basis) -> PhaseRating:
    """No comparable figure: the total shown as such (not graded), with what is missing to normalise it."""
    missing = [n for n, v in (("parameters", row.params_b_value), ("training tokens", row.tokens_b_value)) if not v]
    why = (f"{' and '.join(missing)} not published for this row, so the comparable figure (per parameter x "
           "training token) cannot be computed" if missing else "no energy or emissions figure published")
    value, unit = _total_figure(row)
    return PhaseRating(phase="training", available=value is not None, value=value, unit=unit,
                       category=_category(row, row.group, None), reason=why,
                       how_to_measure=training_how_to(row.model_key), method=how.method,
                       sources=how.sources, estimated=how.estimated)


def _rate_training(row: ReferenceRow, peers: list[ReferenceRow], how: _Basis) -> PhaseRating:
    """On energy, else on emissions, else the total shown ungraded."""
    if row.value is not None:
        return _on_energy(row, row.value, peers, how)
    if row.co2e_value is not None:
        return _on_co2e(row, row.co2e_value, peers, how)
    return _not_normalised(row, how)


def rate_training_row(row: ReferenceRow, peers: list[ReferenceRow]) -> PhaseRating:
    """A training row among its peers: on energy, else on emissions, else its total shown ungraded."""
    pr = _rate_training(row, peers, _Basis.of(row))
    if row.derived and row.derivation:
        pr.notes.append(f"energy derived by scer_hf.core.calculator, not published: {row.derivation}")
    if row.co2e_value is not None and pr.co2e is None:
        pr.co2e = Co2e(value=row.co2e_value, unit=row.co2e_unit, basis="tco2e_operational (as published)")
    pr.notes.append(f"evidence: [{row.evidence}]")
    pr.published = published_of(row)
    _family_label(pr, row)
    return pr


def _family_label(pr: PhaseRating, row: ReferenceRow) -> None:
    """A family total (one published figure for several models) is shown as such, never as a model's own."""
    if not row.family_total:
        return
    who = " + ".join(row.model_key.split(" (")[0].split("|"))
    if pr.unit:
        pr.unit = f"{pr.unit.split(' (')[0]} (family total of {who}, not per model)"
    pr.reason = (f"a family total: the source publishes one figure for {who} together, with no per-model split, "
                 "so it is shown as the family's and not graded")


def rate_inference_row(row: ReferenceRow, peers: list[ReferenceRow]) -> PhaseRating:
    """An inference row among the rows of its group (with stars in an AI Energy Score group)."""
    group = [p for p in peers if p.group == row.group and p.value is not None]
    kind = provenance_kind(row)
    pr = rate_value("inference", row.value or 0.0, row.value_unit or "", group, self_row=row,
                    with_stars=row.is_aies, category=_category(row, row.group, row.value_unit), method=kind,
                    sources=_row_sources(row), estimated=kind != "published")
    pr.published = published_of(row)
    pr.comparable = True
    pr.notes += _stars_note(row.published_stars, pr.stars)
    if row.evidence:
        pr.notes.append(f"evidence: [{row.evidence}]")
    return pr


def _stars_note(published: int | None, recomputed: int | None) -> list[str]:
    """A note when the stars the source published differ from those recomputed on the shipped group."""
    if published is None or recomputed is None or recomputed == published:
        return []
    return [f"published stars {published} differ from recomputed {recomputed}"]


def pick(prs: list[PhaseRating]) -> PhaseRating:
    """Headline: AI Energy Score figures first, then rated ones with the most peers; others -> alternatives."""
    def key(p: PhaseRating) -> tuple[int, int, int, int]:
        return (p.stars is not None, p.grade is not None, not p.estimated, p.peers)
    ordered = sorted(prs, key=key, reverse=True)
    head = ordered[0]
    head.alternatives = ordered[1:]
    return head
