"""What scer-hf writes into a card: the YAML values and the markdown section.

``co2_eq_emissions`` (Hub spec, hub-docs ``model-cards-co2.md``): written only for a
*training* report. ``training_type`` ("fine-tuning" / "pre-training") comes from the report's
``model.training_type``, which SCERCallback records (its ``training_type=`` argument, else
"fine-tuning" for a model loaded with ``from_pretrained`` and "pre-training" for one built from a
config); it is left out when the report does not say. ``emissions`` is the report's operational ``co2e_g`` in grams
(energy x grid intensity x PUE, every top-level phase of the run, evaluation
included), i.e. the same quantity CodeCarbon and AutoTrain put there, so cards stay
comparable under the Hub's emissions filter. Embodied emissions are *not* added; they
are in ``scer.training.embodied_g`` and in the SCI value. Numbers are written exactly
(no rounding), so ``scer-hf verify`` can compare them with the report.

``scer`` (namespaced, not in the Hub spec, kept by ``ModelCardData(**kwargs)``)::

    scer:
      schema_version: 1
      training:   {report_digest, status, method, estimated, energy_j, co2e_g, embodied_g,
                   sci: {value, unit, functional_unit, version}, grid: {...}, phases: [...], sources: [...],
                   label: <this boundary's label image, if the card has it>,
                   manifest: <the report file beside the card, if it has it>}
      inference:  {... same ...}
      rating:
        training: {grade, stars, percentile, value, unit, category, peers, method, estimated, reference}
        inference: {...}

A report fills its own boundary (``training`` or ``inference``); the other one, if the
card already has it, is kept.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from functools import lru_cache
from importlib import resources
from typing import Any, TypedDict

from ...core import fmt as _fmt
from ...core.report import Report
from ...errors import CardConflictError, CardError
from ...rating.result import PhaseRating, Rating
from ..figures import rating_value_text
from ..label import fmt_energy, fmt_num
from .entry import SOURCE, BoundaryEntry, Co2Entry, IdentityEntry
from .escape import md_escape
from .meta import BOUNDARIES, CardBoundary, CardPhase, CardRating, ScerBlock

__all__ = [
    "SCER_SCHEMA_VERSION",
    "SOURCE",
    "TAG",
    "boundary_entry",
    "co2_entry",
    "identity_entries",
    "is_ours_co2",
    "merge_scer",
    "minimal_card",
    "rating_entry",
    "render_section",
]

SCER_SCHEMA_VERSION = 1
TAG = "scer"
_RATING_KEYS = ("grade", "stars", "percentile", "value", "unit", "category", "peers", "method", "estimated",
                "comparable")


def _clean(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def boundary_entry(report: Report) -> dict[str, Any]:
    """``scer.<boundary>``: the report's figures (exact numbers); :class:`~.entry.BoundaryEntry` as a mapping."""
    return BoundaryEntry.of(report).to_dict()


def _as_rating(rating: Rating | Mapping[str, Any], boundary: str) -> Rating:
    """The :class:`Rating` given, or read from its dict (a :class:`CardError` when it lacks *boundary*)."""
    if not isinstance(rating, Mapping):
        return rating
    if not isinstance(rating.get(boundary), Mapping):
        raise CardError(f"rating has no {boundary!r} entry; pass scer_hf.rate(report) or its to_dict()")
    return Rating.from_dict(rating)


def _rated_entry(pr: PhaseRating) -> dict[str, Any]:
    """An available rating's card keys; when not comparable, no grade, stars or percentile but why not."""
    category = pr.category.to_dict() if pr.category is not None else None
    out = _clean({k: getattr(pr, k) for k in _RATING_KEYS} | {"category": category})
    if pr.comparable is not False:
        return out
    for k in ("grade", "stars", "percentile"):  # the position stays in the data
        out.pop(k, None)
    return _clean({**out, "indicative": pr.indicative_text(), "not_comparable": pr.not_comparable_reasons() or None})


def _digest_key(rating: Rating, boundary: str) -> dict[str, Any]:
    """``report_digest``: the digest of the report this rating was made from (verify checks it is the card's
    report); nothing when the rating names no report of *boundary*."""
    bound = [r for r in rating.reports if r.boundary == boundary]
    return {"report_digest": bound[0].report_digest} if bound else {}


def rating_entry(rating: Rating | Mapping[str, Any] | None, boundary: str) -> dict[str, Any] | None:
    """``scer.rating.<boundary>`` from a :class:`~scer_hf.rating.result.Rating` (or its dict), or None."""
    if rating is None:
        return None
    rating = _as_rating(rating, boundary)
    pr = rating[boundary]
    if not pr.available:
        return _clean({"available": False, "reason": pr.reason, "how_to_measure": pr.how_to_measure})
    out = _rated_entry(pr)
    if rating.reference_version:
        out["reference"] = rating.reference_version
    out.update(_digest_key(rating, boundary))
    return json.loads(json.dumps(out))  # plain JSON types only (YAML-safe)


def co2_entry(report: Report) -> dict[str, Any] | None:
    """``co2_eq_emissions`` (Hub spec) for a training report; None for inference (:class:`~.entry.Co2Entry`)."""
    entry = Co2Entry.of(report)
    return None if entry is None else entry.to_dict()


def identity_entries(report: Report) -> dict[str, Any]:
    """The Hub's lineage fields a report knows (:class:`~.entry.IdentityEntry`): ``base_model`` (a Hub id, not a
    folder of the training machine), ``library_name`` and ``pipeline_tag``. The caller writes only those the card
    lacks (never the user's)."""
    return IdentityEntry.of(report).to_dict()


def is_ours_co2(v: Any) -> bool:
    """Whether a card's ``co2_eq_emissions`` was written by scer-hf."""
    return isinstance(v, Mapping) and v.get("source") == SOURCE


_ours_co2 = is_ours_co2


def merge_scer(existing: object, report: Report, rating: Rating | Mapping[str, Any] | None,
               overwrite: bool) -> dict[str, Any]:
    """The new ``scer`` block: this report's boundary replaced, the other one kept."""
    b = report.boundary
    kept = _our_block(existing, overwrite)
    out: dict[str, Any] = {"schema_version": SCER_SCHEMA_VERSION}
    for phase in BOUNDARIES:
        entry = kept.boundary(phase) if kept is not None else None
        if phase == b:
            out[phase] = boundary_entry(report)
        elif entry is not None:
            out[phase] = entry.written
    ratings = _merged_ratings(kept.rating_written if kept is not None else None, rating_entry(rating, b), b)
    if ratings:
        out.update(rating=ratings)
    return out


def _merged_ratings(kept: object, mine: dict[str, Any] | None, boundary: str) -> dict[str, Any]:
    """``scer.rating``: the card's rating of the other boundary kept, this boundary's replaced by *mine* (or
    dropped when there is none), training first."""
    ratings = {k: v for k, v in kept.items() if k != boundary} if isinstance(kept, Mapping) else {}
    if mine is not None:
        ratings[boundary] = mine
    return {k: ratings[k] for k in BOUNDARIES if k in ratings}


def _our_block(existing: object, overwrite: bool) -> ScerBlock | None:
    """The card's ``scer`` block to merge into: ours as it is; someone else's only with *overwrite* (then dropped)."""
    block = ScerBlock.from_yaml(existing)
    ours = block is not None and block.schema_version == SCER_SCHEMA_VERSION
    if existing is not None and not ours and not overwrite:
        raise CardConflictError(
            f"the card already has a 'scer' key that scer-hf {SCER_SCHEMA_VERSION} did not write "
            f"({json.dumps(existing, default=str)[:120]}); pass overwrite=True (CLI: --overwrite) to replace it")
    return block if ours else None


def check_co2(existing: object, new: Co2Entry, overwrite: bool) -> None:
    """Refuse to replace someone else's ``co2_eq_emissions`` unless ``overwrite``."""
    if existing is None or overwrite or _ours_co2(existing) or existing == new.to_dict():
        return
    raise CardConflictError(
        f"the card already has co2_eq_emissions = {json.dumps(existing, default=str)[:200]} (not written by "
        f"scer-hf); scer-hf would write emissions = {new.emissions} g. Pass overwrite=True "
        "(CLI: --overwrite) to replace it")


# ---------------------------------------------------------------------- markdown --------
@lru_cache(maxsize=4)
def _template(name: str) -> Any:
    import jinja2
    import markupsafe

    # every {{ value }} is data: escaped as Markdown + HTML by the one function (markupsafe.Markup = our own markup)
    env = jinja2.Environment(autoescape=False, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                             finalize=lambda v: v if isinstance(v, markupsafe.Markup) else md_escape(v))
    env.filters.update(_FILTERS)
    text = resources.files("scer_hf").joinpath("templates").joinpath(name).read_text(encoding="utf-8")
    return env.from_string(text)


# The section's filters. Numbers from a card's YAML may be anything: a non-number renders "n/a", never raises; the
# formatters' output is ours (digits, units), so it is markup, not data to escape.
def _ours(text: str) -> Any:
    import markupsafe

    return markupsafe.Markup(text)


def _energy_filter(j: Any, fam: str | None = None) -> Any:  # one family per boundary, see scer_hf.core.fmt
    return _ours(fmt_energy(j, fam) if _is_num(j) and j >= 0 else "n/a")


def _rating_value_filter(r: Any) -> str:  # a rating's unit comes from the card: escaped (finalize)
    return rating_value_text(r) if isinstance(r, Mapping) and _is_num(r.get("value")) else "n/a"


def _in_range(x: Any, lo: float, hi: float = math.inf) -> bool:
    return _is_num(x) and lo <= x <= hi


_FILTERS: dict[str, Callable[..., Any]] = {
    "energy": _energy_filter,
    "num": lambda x: _ours(fmt_num(x) if _is_num(x) else "n/a"),
    "rating_value": _rating_value_filter,
    "cell": lambda s: "" if s is None else s,
    "grams": lambda g: _ours(_fmt.co2e(g) if _in_range(g, 0) else "n/a"),
    "duration": lambda s: _ours(_fmt.duration(s) if _in_range(s, 0) else "n/a"),
    "stars": lambda n: int(n) if _in_range(n, 0, 5) else 0,
    "coverage": lambda f: _ours(_fmt.coverage(f) if _in_range(f, 0, 1) else "n/a"),
}


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _tree_rows(phases: list[CardPhase]) -> list[dict[str, object]]:
    """Phases in tree order (each parent followed by its children), with their depth: each row the phase's entry
    as the card holds it, for the template."""
    def key(v: object) -> object:  # names from a card's YAML may be lists or mappings
        return v if isinstance(v, (str, int, float, bool)) or v is None else repr(v)

    names = {key(p.name) for p in phases}
    kids: dict[object, list[CardPhase]] = {}
    for p in phases:
        parent = key(p.parent) if key(p.parent) in names else None
        kids.setdefault(parent, []).append(p)
    out: list[dict[str, object]] = []

    def walk(parent: object, depth: int) -> None:
        for p in kids.get(parent, []):
            if len(out) < len(phases) and depth < 8:
                out.append(p.row(depth=depth))
                walk(key(p.name), depth + 1)

    walk(None, 0)
    return out


def _url(label: str | None) -> Any:
    """The label's link target, percent-encoded so it cannot close the image link (markup of our own)."""
    from urllib.parse import quote

    import markupsafe

    return markupsafe.Markup(quote(label, safe="/:@?=&%~+,;")) if label else None


def render_section(scer: Mapping[str, Any], co2: Any, label: str | None = None) -> str:
    """The markdown section (LF line endings, markers included, no trailing newline).

    Each boundary's section shows the label recorded in ``scer.<boundary>.label`` (*label*, if given, is
    used for a boundary that records none) and links its ``manifest`` file when the card has one.
    """
    block = ScerBlock.from_yaml(scer)
    entries = block.entries if block is not None else []
    phases = [_section_phase(b, e, block.ratings.get(b) if block is not None else None, label) for b, e in entries]
    text = _template("scer_card_section.md.j2").render(
        phases=phases, co2=co2 if is_ours_co2(co2) else None,
        schema_version=block.schema_version if block is not None else None)
    return text.rstrip("\n")


class _SectionPhase(TypedDict):
    """One boundary of the section as the template reads it."""

    boundary: str
    entry: dict[str, object]  # the card's entry, each field the template reads of the type it expects
    rows: list[dict[str, object]]  # the phase entries in tree order, each with its depth
    label: Any  # the label's link (markup of our own), or None
    fam: str | None  # the energy unit family of the boundary
    rating: Mapping[str, object] | None  # the card's rating entry as written


def _section_phase(b: str, entry: CardBoundary, r: CardRating | None, label: str | None) -> _SectionPhase:
    """One boundary of the section: its entry made safe to render, its phase rows, label link and rating."""
    rows = _tree_rows([p for p in entry.phases if p.is_entry] if isinstance(entry.phases_written, list) else [])
    lab = entry.label or label
    return _SectionPhase(boundary=b, entry=_safe_entry(entry), rows=rows,
                         label=_url(lab) if isinstance(lab, str) else None,
                         fam=_fmt.energy_family(entry.energy_j) if _is_num(entry.energy_j) else None,
                         rating=r.written if r is not None else None)


def _list_of(v: Any, kind: type | tuple[type, ...]) -> list[Any]:
    return [x for x in v if isinstance(x, kind)] if isinstance(v, list) else []


def _safe_entry(entry: CardBoundary) -> dict[str, object]:
    """A card's ``scer.<boundary>`` with every field the template reads of the type it expects: a card may hold
    anything here (hand edits, older writers)."""
    url = {"manifest_url": _url(entry.manifest)} if isinstance(entry.manifest, str) else {}
    return dict(entry.written, sources=_list_of(entry.sources, str), facts=_list_of(entry.facts, Mapping),
                sci=entry.sci.written if entry.sci is not None else None,
                grid=entry.grid.written if entry.grid is not None else {}, **url)


def minimal_card(model_id: str | None) -> str:
    """A small card body for a folder or repo that has no README.md yet."""
    return _template("scer_card_minimal.md.j2").render(model_id=model_id or "Model")
