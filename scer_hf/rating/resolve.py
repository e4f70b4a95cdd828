"""A rating as the publishing layer needs it: given, read from JSON, or computed from the report."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import _read
from ..core.report import Report
from ..errors import RatingMismatchError, ReportError, SCERError
from .records import ReportBinding

__all__ = ["resolve_rating", "check_binding", "BINDING_CHECKS"]


@dataclass(frozen=True)
class _Bound:
    """One binding check's view: the report's model, boundary and digest, and the reports the rating names."""

    model: Any
    boundary: str
    digest: str
    rated_model: Any
    bound: list[ReportBinding]
    where: str
    how: str = "rate this report: scer-hf rate REPORT --json > rating.json, or give no rating to rate it here"

    @property
    def same(self) -> list[ReportBinding]:
        return [b for b in self.bound if b.boundary == self.boundary]


def _same_model(b: _Bound) -> None:
    if b.rated_model != b.model:
        raise RatingMismatchError(f"{b.where}the rating is for model {b.rated_model!r}, this report is for "
                                  f"{b.model!r} (field: model); {b.how}", "model", b.model, b.rated_model)


def _names_a_report(b: _Bound) -> None:
    if not b.bound:
        raise RatingMismatchError(f"{b.where}the rating names no report (field: report_digest): it rates published "
                                  f"figures of {b.model!r}, not this measured {b.boundary} report; {b.how}",
                                  "report_digest", b.digest, None)


def _same_boundary(b: _Bound) -> None:
    if not b.same:
        other = b.bound[0].boundary
        raise RatingMismatchError(f"{b.where}the rating was made from a {other} report, this report "
                                  f"is {b.boundary} (field: boundary); {b.how}", "boundary", b.boundary, other)


def _same_report(b: _Bound) -> None:
    if not any(r.report_digest == b.digest for r in b.same):
        other = b.same[0].report_digest
        raise RatingMismatchError(f"{b.where}the rating was made from another {b.boundary} report "
                                  f"{str(other)[:19]}..., not this one {b.digest[:19]}... "
                                  f"(field: report_digest); {b.how}", "report_digest", b.digest, other)


def _report_of_this_model(b: _Bound) -> None:
    if any(r.model not in (None, b.model) for r in b.same):
        raise RatingMismatchError(f"{b.where}the rating's report is for another model (field: model); {b.how}",
                                  "model", b.model, b.same[0].model)


#: What a rating must share with the report it is shown with, checked in order (the first mismatch is named).
BINDING_CHECKS = (_same_model, _names_a_report, _same_boundary, _same_report, _report_of_this_model)


def check_binding(report: Report, rating: Mapping[str, Any], where: str = "") -> None:
    """Refuse a rating made for another model, boundary or report: :class:`RatingMismatchError` names the field.

    A rating of a measured report carries ``reports: [{model, boundary, report_digest}]``
    (``scer_hf.rate(report)``); a rating of a model id carries none: it rates published figures, not this report.
    """
    b = _Bound((report.model or {}).get("id"), report.boundary, report.digest(), rating.get("model"),
               [ReportBinding.from_dict(r) for r in rating.get("reports") or [] if isinstance(r, Mapping)], where)
    for check in BINDING_CHECKS:
        check(b)


def _auto_rating(report: Report) -> Any:
    """``scer_hf.rate(report)``, or None when rating is not available or fails."""
    from . import rate  # here: rating/__init__ imports this module

    try:
        return rate(report)
    except SCERError:
        return None


def _as_mapping(rating: Any) -> tuple[Mapping[str, Any], str]:
    """(the rating as a mapping, the file it came from as a message prefix): a Rating, a dict or a JSON path."""
    src = ""
    if isinstance(rating, (str, os.PathLike)):
        p = Path(rating)
        src = f"{p}: "
        try:  # a regular file, size and nesting caps, finite numbers (scer_hf._read)
            rating = _read.load_json(p, what="rating", error=ReportError)
        except ReportError as exc:
            raise ReportError(f"cannot read rating JSON: {exc}; write one with `scer-hf rate --json`") from None
    if hasattr(rating, "to_dict"):
        rating = rating.to_dict()
    if not isinstance(rating, Mapping):
        raise ReportError(f"rating must be a Rating, a dict or a JSON path, got {type(rating).__name__}")
    if not any(isinstance(rating.get(k), Mapping) for k in ("training", "inference")):
        raise ReportError(f"{src}not a rating (no 'training' or 'inference' block); pass the JSON that "
                          "`scer-hf rate REPORT --json` prints, or omit the rating to rate the report here")
    return rating, src


def resolve_rating(report: Report, rating: Any = None, *, auto: bool = True) -> dict[str, Any] | None:
    """The rating as a dict (shared rating contract), or None.

    ``rating`` may be an object with ``to_dict()``, a dict, or a path to a JSON file. A rating made for
    another model, boundary or report is refused (:func:`check_binding`, :class:`RatingMismatchError`).
    With ``rating=None`` and ``auto=True``, ``scer_hf.rate(report)`` is called when
    the rating module exists; a rating error leaves the label without a grade.
    """
    if rating is None:
        rating = _auto_rating(report) if auto else None
        if rating is None:
            return None
    found, src = _as_mapping(rating)
    check_binding(report, found, src)
    try:
        out: dict[str, Any] = json.loads(json.dumps(found, default=str, allow_nan=False))
    except (ValueError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else "holds NaN or Infinity"
        raise ReportError(f"{src}the rating {why}; pass the JSON that `scer-hf rate REPORT --json` prints") from None
    return out
