"""A rating as the publishing layer needs it: given, read from JSON, or computed from the report."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import _read
from ..core.report import Report
from ..errors import RatingMismatchError, ReportError, SCERError

__all__ = ["resolve_rating", "check_binding"]


def check_binding(report: Report, rating: Mapping[str, Any], where: str = "") -> None:
    """Refuse a rating made for another model, boundary or report: :class:`RatingMismatchError` names the field.

    A rating of a measured report carries ``reports: [{model, boundary, report_digest}]``
    (``scer_hf.rate(report)``); a rating of a model id carries none: it rates published figures, not this report.
    """
    model, boundary, digest = (report.model or {}).get("id"), report.boundary, report.digest()
    how = "rate this report: scer-hf rate REPORT --json > rating.json, or give no rating to rate it here"
    if rating.get("model") != model:
        raise RatingMismatchError(f"{where}the rating is for model {rating.get('model')!r}, this report is for "
                                  f"{model!r} (field: model); {how}", "model", model, rating.get("model"))
    bound = [b for b in rating.get("reports") or [] if isinstance(b, Mapping)]
    if not bound:
        raise RatingMismatchError(f"{where}the rating names no report (field: report_digest): it rates published "
                                  f"figures of {model!r}, not this measured {boundary} report; {how}",
                                  "report_digest", digest, None)
    same = [b for b in bound if b.get("boundary") == boundary]
    if not same:
        raise RatingMismatchError(f"{where}the rating was made from a {bound[0].get('boundary')} report, this report "
                                  f"is {boundary} (field: boundary); {how}", "boundary", boundary,
                                  bound[0].get("boundary"))
    if not any(b.get("report_digest") == digest for b in same):
        raise RatingMismatchError(f"{where}the rating was made from another {boundary} report "
                                  f"{str(same[0].get('report_digest'))[:19]}..., not this one {digest[:19]}... "
                                  f"(field: report_digest); {how}", "report_digest", digest,
                                  same[0].get("report_digest"))
    if any(b.get("model") not in (None, model) for b in same):
        raise RatingMismatchError(f"{where}the rating's report is for another model (field: model); {how}", "model",
                                  model, same[0].get("model"))


def resolve_rating(report: Report, rating: Any = None, *, auto: bool = True) -> dict[str, Any] | None:
    """The rating as a dict (shared rating contract), or None.

    ``rating`` may be an object with ``to_dict()``, a dict, or a path to a JSON file. A rating made for
    another model, boundary or report is refused (:func:`check_binding`, :class:`RatingMismatchError`).
    With ``rating=None`` and ``auto=True``, ``scer_hf.rate(report)`` is called;
    a rating error leaves the label without a grade.
    """
    if rating is None:
        if not auto:
            return None
        from . import rate  # here: rating/__init__ imports this module

        try:
            rating = rate(report)
        except SCERError:
            return None
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
    check_binding(report, rating, src)
    try:
        return json.loads(json.dumps(rating, default=str, allow_nan=False))
    except (ValueError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else "holds NaN or Infinity"
        raise ReportError(f"{src}the rating {why}; pass the JSON that `scer-hf rate REPORT --json` prints") from None
