"""What the outputs are drawn from, converted at the door: a :class:`~scer_hf.core.report.Report` and a typed
:class:`~scer_hf.rating.result.Rating`.

The public functions of :mod:`scer_hf.publish` keep accepting what they always did (a Report, a report dict or
a path; a Rating, its dict or a JSON path); they convert here, once, and everything behind reads typed fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.report import Report
from ..core.report_views import ReportView
from ..rating import resolve_rating
from ..rating.result import PhaseRating, Rating

__all__ = ["rating_of", "phase_rating", "report_view"]


def rating_of(report: Report, rating: Any = None, *, auto: bool = True) -> Rating | None:
    """The rating of *report* as a :class:`Rating`: the one given (a Rating, its dict or a JSON path; bound to
    *report* or refused with :class:`~scer_hf.errors.RatingMismatchError`), else with *auto* the report rated here
    (None when it cannot be), else None. See :func:`scer_hf.rating.resolve_rating`."""
    d = resolve_rating(report, rating, auto=auto)
    return None if d is None else Rating.from_dict(d)


def phase_rating(rating: Rating | None, phase: str) -> PhaseRating:
    """*phase*'s rating, or a rating that is not available when there is none."""
    return rating[phase] if rating is not None else PhaseRating(phase)


def report_view(report: Report | ReportView | Mapping[str, Any]) -> ReportView:
    """What the outputs read of a report, made once at the door: a :class:`Report`'s view, a view as given, or
    the view of a report dict (read as it is, not validated: the figure functions also take hand-made parts)."""
    if isinstance(report, ReportView):
        return report
    if isinstance(report, Report):
        return report.view
    return ReportView.from_dict(report)
