"""Modelled inference ranges: GPU Wh per 1,000 queries predicted from the parameter count.

For a model with a known parameter count but no published figure, per AI Energy Score v1
task: ordinary least squares of ``log10(GPU Wh per 1,000 queries)`` on
``log10(parameters)`` over the published rows whose parameter count is sourced
(``data/model_parameters.csv``; mixture-of-experts rows use their active parameters), and
the 95 % prediction interval of a new observation::

    y0 +- t(0.975, n - 2) * s * sqrt(1 + 1/n + (x0 - mean(x))**2 / Sxx)

Text generation is fitted on all three classes together (the class is a size bin on the
same axis); stars are then a range, the star rule (:mod:`.stars`) applied to both ends
of the interval within the model's own class group. A task is modelled only when it has
at least ``MIN_POINTS`` figures and its leave-one-out coverage of the 95 % interval lies
in ``COVERAGE_OK`` (else it says why not). A modelled figure is never shown as published
and never gets a grade: ``method`` is "modelled (regression on N published figures)".
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from . import reference as _ref
from .categories import aies_task, normalize_task, size_class
from .result import PhaseRating
from .stars import star_bands, stars

__all__ = [
    "MIN_POINTS", "COVERAGE_OK", "LEVEL", "Fit", "fit_loglog", "parameter_table", "parameters_of",
    "published_points", "fit_task", "leave_one_out", "modellable", "modelled_inference",
]

MIN_POINTS = 6
COVERAGE_OK = (0.85, 1.0)  # leave-one-out coverage of the 95 % interval accepted as calibrated
LEVEL = 0.95
PARAMS_FILE = "model_parameters.csv"


@dataclass(frozen=True)
class Fit:
    """A log10-log10 OLS fit and what its prediction interval needs."""

    n: int
    slope: float
    intercept: float
    s: float  # residual standard error (log10 units), n - 2 degrees of freedom
    x_mean: float
    sxx: float

    def predict(self, params_b: float, level: float = LEVEL) -> tuple[float, float, float]:
        """(predicted, low, high) GPU Wh per 1,000 queries at *params_b* billion parameters."""
        from scipy.special import stdtrit  # light import (scipy.stats is slow to import)

        x0 = math.log10(params_b)
        y0 = self.intercept + self.slope * x0
        t = float(stdtrit(self.n - 2, 0.5 + level / 2.0))
        half = t * self.s * math.sqrt(1.0 + 1.0 / self.n + (x0 - self.x_mean) ** 2 / self.sxx)
        return 10 ** y0, 10 ** (y0 - half), 10 ** (y0 + half)


def fit_loglog(params_b: list[float], values: list[float]) -> Fit:
    """OLS of log10(values) on log10(params_b) (needs >= 3 points and 2 distinct sizes)."""
    import numpy as np

    x = np.log10(np.asarray(params_b, dtype=float))
    y = np.log10(np.asarray(values, dtype=float))
    n = len(x)
    xm = float(x.mean())
    sxx = float(((x - xm) ** 2).sum())
    if n < 3 or sxx <= 0:
        raise ValueError("a log-log fit needs at least 3 points with at least 2 distinct sizes")
    slope = float(((x - xm) * (y - y.mean())).sum() / sxx)
    intercept = float(y.mean() - slope * xm)
    resid = y - (intercept + slope * x)
    s = math.sqrt(float((resid ** 2).sum()) / (n - 2))
    return Fit(n=n, slope=slope, intercept=intercept, s=s, x_mean=xm, sxx=sxx)


@lru_cache(maxsize=1)
def parameter_table() -> dict[str, dict[str, Any]]:
    """Lower-case model id -> ``{"params_b", "active_params_b", "source"}`` (sourced counts)."""
    out: dict[str, dict[str, Any]] = {}
    with open(_ref.data_dir() / PARAMS_FILE, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            out[r["model_id"].strip().lower()] = {
                "params_b": float(r["params_b"]),
                "active_params_b": float(r["active_params_b"]) if r.get("active_params_b") else None,
                "source": r["source"], "notes": r.get("notes", ""),
            }
    return out


def parameters_of(model_id: str) -> dict[str, Any] | None:
    """The sourced parameter entry of *model_id* (or None)."""
    return parameter_table().get(model_id.strip().lower())


def _effective(entry: dict[str, Any]) -> float:
    return entry["active_params_b"] or entry["params_b"]


def published_points(task_v1: str) -> list[dict[str, Any]]:
    """Published AI Energy Score rows of *task_v1* with a sourced parameter count (one per model)."""
    table = parameter_table()
    seen: set[str] = set()
    out = []
    for r in _ref.rows("inference"):
        if not r["group"].startswith(_ref.AIES_EDITION) or r.get("value") is None or r["value"] <= 0:
            continue
        if aies_task(r.get("task_key") or "") != task_v1:
            continue
        key = r["model_key"].lower()
        if key in seen or key not in table:
            continue
        seen.add(key)
        out.append({"model": r["model_key"], "params_b": _effective(table[key]), "value": float(r["value"]),
                    "group": r["group"], "ref_id": r.get("ref_id")})
    return out


@lru_cache(maxsize=None)
def fit_task(task_v1: str) -> Fit | None:
    pts = published_points(task_v1)
    if len(pts) < 3:
        return None
    try:
        return fit_loglog([p["params_b"] for p in pts], [p["value"] for p in pts])
    except ValueError:
        return None


def leave_one_out(task_v1: str, level: float = LEVEL) -> dict[str, Any]:
    """Leave-one-out over the task's points: coverage of the interval and median |log10 error|."""
    pts = published_points(task_v1)
    hits, errs = 0, []
    for i, p in enumerate(pts):
        rest = pts[:i] + pts[i + 1:]
        try:
            f = fit_loglog([q["params_b"] for q in rest], [q["value"] for q in rest])
        except ValueError:
            continue
        mid, lo, hi = f.predict(p["params_b"], level)
        hits += lo <= p["value"] <= hi
        errs.append(abs(math.log10(mid) - math.log10(p["value"])))
    errs.sort()
    m = len(errs)
    median = (errs[m // 2] if m % 2 else (errs[m // 2 - 1] + errs[m // 2]) / 2.0) if m else None
    return {"task": task_v1, "n": len(pts), "folds": m, "coverage": hits / m if m else None,
            "median_abs_log10_error": median}


@lru_cache(maxsize=None)
def modellable(task_v1: str) -> tuple[bool, str]:
    """(True, "") when *task_v1* can be modelled, else (False, why not)."""
    n = len(published_points(task_v1))
    if n < MIN_POINTS:
        return False, (f"AI Energy Score task {task_v1} has {n} published figures with a sourced parameter count; "
                       f"a modelled range needs at least {MIN_POINTS}")
    cov = leave_one_out(task_v1)["coverage"]
    if cov is None or not COVERAGE_OK[0] <= cov <= COVERAGE_OK[1]:
        return False, (f"the log-log model of {task_v1} is not calibrated (leave-one-out coverage of the 95 % "
                       f"interval {cov if cov is None else f'{cov:.0%}'}): not modelled")
    return True, ""


def modelled_inference(params_b: float, task: str, *, model: str | None = None,
                       total_params_b: float | None = None, params_source: str | None = None) -> PhaseRating:
    """A modelled inference rating at *params_b* (billions; active parameters for MoE).

    *total_params_b* (default *params_b*) sets the text-generation class. Returns an
    unavailable :class:`PhaseRating` with the reason when the task cannot be modelled.
    """
    tag = normalize_task(task)
    task_v1 = aies_task(tag)
    if not isinstance(params_b, (int, float)) or not math.isfinite(params_b) or params_b <= 0:
        return PhaseRating(phase="inference", reason=f"parameter count must be a positive number, got {params_b!r}")
    if task_v1 is None:
        return PhaseRating(phase="inference", reason=f"AI Energy Score v1 has no {tag!r} task: nothing to model from")
    ok, why = modellable(task_v1)
    fit = fit_task(task_v1)
    if not ok or fit is None:
        return PhaseRating(phase="inference", reason=why or f"{task_v1} cannot be modelled")
    total = float(total_params_b or params_b)
    cls = size_class(total) if tag == "text-generation" else None
    group = _ref.aies_group(task_v1, cls)
    mid, lo, hi = fit.predict(float(params_b))
    ref_vals = [float(r["value"]) for r in _ref.rows("inference") if r["group"] == group and r.get("value") is not None]
    n = fit.n
    pr = PhaseRating(
        phase="inference", available=True, value=mid, unit="Wh per 1,000 queries (GPU)", estimated=True,
        method=f"modelled (regression on {n} published figures)", modelled_low=lo, modelled_high=hi,
        category={"phase": "inference", "task": tag, "size_class": cls, "hardware_class": "NVIDIA H100",
                  "setting": _ref.AIES_SETTING, "group": group, "metric": "Wh per 1,000 queries (GPU)",
                  "reference": _ref.REFERENCE_VERSION, "edition": _ref.AIES_EDITION},
        reason="modelled, not measured: no grade (a modelled range is never ranked as a published figure)",
        sources=[f"log10-log10 OLS on {n} published {_ref.AIES_EDITION} figures of {task_v1} "
                 f"(slope {fit.slope:.3f}, residual s {fit.s:.3f} dex); parameters: "
                 + (params_source or "given")],
    )
    if ref_vals:
        s_hi, s_lo = stars(lo, ref_vals), stars(hi, ref_vals)  # low energy -> more stars
        pr.stars_range = [s_lo, s_hi]
        pr.star_bands = star_bands(ref_vals)
    pr.notes.append(f"modelled: {mid:.4g} Wh per 1,000 queries, 95 % prediction interval [{lo:.4g}, {hi:.4g}]"
                    + (f"; {pr.stars_label()}" if pr.stars_range else ""))
    pr.notes.append(f"parameters {params_b:g}B" + (f" active of {total:g}B total" if total != params_b else "")
                    + (f" ({model})" if model else ""))
    return pr
