"""Everything the label shows, as one frozen :class:`LabelFields` (what the HTML report's header shows too).

:func:`label_view` builds it from a report and its rating (converted at the door: :mod:`scer_hf.publish.inputs`);
:func:`scer_hf.publish.label.label_fields` is its ``to_dict()``, the data embedded in the label's ``<metadata>``
that ``scer-hf verify`` recomputes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, TypedDict

from ..core.report import Report, load_report
from ..core.report_views import LevelView, SciView
from ..core.views import PhaseView, grid_where
from ..errors import ReportError
from ..rating.result import PhaseRating, Rating
from . import figures as _figures
from .curve import curve_level_views, curve_note
from .figures import METHOD_TEXT, REMOTE_METHOD_TEXT, Fact, ScopeTexts, hardware_text, method_of, scope_view
from .inputs import phase_rating, rating_of

__all__ = ["LabelFields", "PhaseRow", "label_view", "qr_payload"]


def qr_payload(report: Report, manifest_url: str | None = None) -> str:
    """What the QR code holds: the manifest URL, or ``scer-hf:<report digest>``."""
    if manifest_url and not str(manifest_url).startswith(("https://", "http://")):
        raise ReportError(f"manifest URL {manifest_url!r} must start with https:// (a public URL of the report "
                          "JSON); omit it to put the report digest in the QR code")
    return manifest_url if manifest_url else "scer-hf:" + report.digest()


@dataclass(frozen=True)
class LabelFields:
    """What the label shows. ``phases``: each top-level phase followed by its children (prefill/decode inside
    generate, epochs inside train); ``texts``: the headline figures as shown; ``facts``: the lines beside them."""

    model: str
    task: str | None
    boundary: str
    sci_value: float | None
    sci_uncertainty: float | None
    functional_unit: str | None
    sci_text: str
    sci_unit_shown: str | None
    sci_version: str
    coverage: float
    energy_j: float | None
    co2e_g: float | None
    embodied_g: float | None
    phases: tuple[PhaseView, ...]
    hardware: str
    date: str
    method: str
    method_text: str
    estimated: bool
    grid_g_per_kwh: float
    grid_where: str
    facts: tuple[Fact, ...]
    grade: str | None
    stars: int | None
    percentile: float | None
    peers: int | None
    rating_reason: str | None
    comparable: bool | None
    indicative: str | None
    reference_version: str | None
    rated: bool
    digest: str
    qr: str
    manifest_url: str | None
    texts: ScopeTexts
    levels: tuple[LevelView, ...]
    curve_note: str | None

    def to_dict(self) -> dict[str, Any]:
        """The fields as data (``label_fields``): phases, facts and levels as dicts, the texts by name."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        return {**out, "phases": [_phase_row(p) for p in self.phases], "facts": [f.to_dict() for f in self.facts],
                "texts": self.texts.to_dict(), "levels": [lv.to_dict() for lv in self.levels]}


class PhaseRow(TypedDict):
    """One phase as the label's data holds it (``label_fields()["phases"]``)."""

    name: str
    kind: str | None
    parent: str | None
    energy_j: float | None
    co2e_g: float | None
    measured: bool
    coverage: float


def label_view(report: Report | Mapping[str, Any] | str | os.PathLike[str], rating: Any = None,
               manifest_url: str | None = None, *, auto_rate: bool = True) -> LabelFields:
    """Everything the label shows, typed (see :func:`scer_hf.publish.label.label_fields`): the report's side
    (model, headline, phases, hardware, method and the facts), then the rating's."""
    rep = load_report(report)
    r = rep.view
    st, sci, model, method = scope_view(r), r.sci or SciView(), r.model, method_of(r)
    return LabelFields(
        model=model.id or "unnamed model", task=model.task, boundary=rep.boundary,
        sci_value=sci.value, sci_uncertainty=r.uncertainty.sci,
        functional_unit=sci.functional_unit, sci_text=st.sci_text, sci_unit_shown=st.sci_unit_shown,
        sci_version=sci.version or "SCI 1.1", coverage=st.coverage, texts=st,
        energy_j=r.energy_j, co2e_g=r.co2e_g, embodied_g=r.embodied_g,
        phases=tuple(v for top in rep.top_phases() for v in (top, *rep.children(top.name))),
        hardware=hardware_text(r), date=(r.created_at or "")[:10], method=method,
        # a remote server: nothing failed, nothing here could read its energy
        method_text=REMOTE_METHOD_TEXT if curve_note(r) else METHOD_TEXT.get(method, method),
        estimated=rep.estimated, grid_g_per_kwh=rep.carbon.g_per_kwh, grid_where=grid_where(rep.carbon),
        facts=tuple(_figures.facts(r)),  # looked up at call time: the one list every output draws
        **_rating_fields(rating_of(rep, rating, auto=auto_rate), rep.boundary),
        digest=rep.digest(), qr=qr_payload(rep, manifest_url), manifest_url=manifest_url,
        levels=tuple(curve_level_views(r)),  # a served benchmark's curve (empty otherwise)
        curve_note=curve_note(r),
    )


def _phase_row(p: PhaseView) -> PhaseRow:
    return PhaseRow(name=p.name, kind=p.kind, parent=p.parent, energy_j=p.total_j, co2e_g=p.co2e_g,
                    measured=p.measured, coverage=p.measured_fraction)


def _rating_reason(r: Rating | None, pr: PhaseRating) -> str | None:
    """Why there is no grade, in a few words (None when graded)."""
    if r is None:
        return "no rating given"
    if pr.rated:
        return None
    return str(pr.reason or (pr.notes[0] if pr.notes else None) or "no reference peers to grade against")


def _not_comparable_reason(pr: PhaseRating) -> str:
    """Why a rating shows no grade: not comparable, and the reasons it gives."""
    reasons = pr.not_comparable_reasons()
    return "not comparable: " + "; ".join(reasons) if reasons else "not comparable"


def _rating_fields(r: Rating | None, boundary: str) -> dict[str, Any]:
    """The rating's side of the label (:class:`LabelFields` by name). A rating that is not comparable shows no
    headline grade or stars, only why (its indicative position stays in the data): grade, stars and percentile
    only when it is shown."""
    pr = phase_rating(r, boundary)
    comparable = bool(pr.comparable) if pr.available else None  # a rating that says null is not comparable
    available = pr.available
    shown = available and comparable is not False
    return {
        "grade": pr.grade if shown else None, "stars": pr.stars if shown else None,
        "percentile": pr.percentile if shown else None, "peers": pr.peers if available else None,
        "rating_reason": _rating_reason(r, pr) if comparable is not False else _not_comparable_reason(pr),
        "comparable": comparable, "indicative": pr.indicative_text() if available else None,
        "reference_version": r.reference_version if r else None, "rated": r is not None,
    }
