"""A rating as the publishing layer needs it: given, read from JSON, or computed from the report."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

from .. import _read
from ..core.report import Report
from ..errors import ReportError, SCERError

__all__ = ["resolve_rating"]


def resolve_rating(report: Report, rating: Any = None, *, auto: bool = True) -> dict[str, Any] | None:
    """The rating as a dict (shared rating contract), or None.

    ``rating`` may be an object with ``to_dict()``, a dict, or a path to a JSON file.
    With ``rating=None`` and ``auto=True``, ``scer_hf.rate(report)`` is called when
    the rating module exists; a rating error leaves the label without a grade.
    """
    if rating is None:
        if not auto:
            return None
        try:
            from . import rate  # noqa: PLC0415 - rating/__init__ imports this module
        except ImportError:
            return None
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
    try:
        return json.loads(json.dumps(rating, default=str, allow_nan=False))
    except (ValueError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else "holds NaN or Infinity"
        raise ReportError(f"{src}the rating {why}; pass the JSON that `scer-hf rate REPORT --json` prints") from None
