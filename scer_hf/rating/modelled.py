"""Modelled inference ranges: GPU Wh per 1,000 queries predicted from the parameter count, shown only when useful.

For a model with a known parameter count but no published figure, per AI Energy Score v1 task:

1. **Regimes.** What physics ties to size differs with where the weights live. At batch size 1 decoding is
   memory-bound: every new token reads the weights the token goes through (active parameters for a mixture of
   experts). AI Energy Score runs on one NVIDIA H100 80GB; a model whose 16-bit weights (2 bytes per *total*
   parameter) do not fit in its 80 GB runs differently (offloaded or sharded) and its figures jump ~30x (34B: 56 Wh,
   70B: 1,720 Wh). Text generation is therefore fitted separately for the two regimes; other tasks have one.
2. **Fit.** Ordinary least squares of ``log10(Wh per 1,000 queries)`` on ``log10(parameters)`` over the regime's
   published figures whose parameter count is indexed (``model_parameters.csv``).
3. **Interval.** A local conformal interval: the leave-one-out errors of the fit, each divided by
   ``sqrt(1 + leverage)``; at the rated size the half-width is the largest such error among the
   :data:`NEIGHBOURS` figures nearest in size, times ``sqrt(1 + leverage)`` there (so it widens when extrapolating).
   Small models scatter more (fixed per-layer overhead dominates) than 7-14B ones, and the interval follows.
   With 8 neighbours its nominal coverage is 8/9 (89 %); :func:`leave_one_out` measures the real one.
4. **A task with no v1 task of its own.** A text2text-generation model is modelled under summarization
   (:data:`TASK_TAKEN_AS`): AI Energy Score v1 has no text2text task, but it measured its text2text models there (T5
   ran the summarization protocol through the text2text-generation pipeline with the prefix "summarize: ",
   optimum-benchmark ``energy_star/t5_summarization.yaml`` @a2700a8), and every v1 summarization model is an
   encoder-decoder text2text model. The range is what the model would draw on that protocol, and says so.
5. **Useful or not.** A range is shown only when it narrows the answer: its ends may span at most
   :data:`MAX_STAR_CLASSES` star classes of the model's AI Energy Score group. Otherwise the answer says it cannot
   be modelled usefully, with the interval. Sizes outside the fitted range are flagged as extrapolated.

The per-output-token model the issue suggests (J per token on the rows that publish tokens, times the protocol's
10 output tokens) is built in :mod:`.pertoken` and validates worse (README, "Modelled inference ranges").

A task (regime) is modelled only with at least :data:`MIN_POINTS` figures and a leave-one-out coverage inside
:data:`COVERAGE_OK`. A modelled figure is never shown as published and never graded.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, TypeGuard

from . import index as _idx
from . import reference as _ref
from .categories import aies_task, normalize_task, size_class
from .records import Category
from .refrow import ReferenceRow
from .result import PhaseRating
from .stars import band_records, stars

__all__ = [
    "MIN_POINTS", "COVERAGE_OK", "LEVEL", "NEIGHBOURS", "MAX_STAR_CLASSES", "GPU_MEMORY_GB", "BYTES_PER_PARAMETER",
    "PARAMS_FILE", "TASK_TAKEN_AS", "SINGLE", "BEYOND", "ALL", "Fit", "Fitter", "Model", "fit_loglog",
    "parameter_table", "parameters_of", "regime_of", "Point", "points", "published_points", "Tally", "fit_task",
    "model_for", "leave_one_out", "new_tally", "score_fold", "loo_summary", "modellable", "modelled_inference",
]

MIN_POINTS = 6
COVERAGE_OK = (0.85, 1.0)  # leave-one-out coverage accepted as calibrated
LEVEL = 0.95  # level of the classic t prediction interval of Fit.predict
NEIGHBOURS = 8  # figures nearest in size whose leave-one-out errors set the local interval
MAX_STAR_CLASSES = 2  # a modelled range spanning more star classes than this says nothing
GPU_MEMORY_GB = 80.0  # AI Energy Score v1 hardware: one NVIDIA H100 80GB (aienergyscore_v1.csv, column hardware)
BYTES_PER_PARAMETER = 2.0  # 16-bit weights
PARAMS_FILE = _idx.PARAMS_FILE
SINGLE, BEYOND, ALL = "weights fit one 80 GB GPU", "weights exceed one 80 GB GPU", "all sizes"
# Hub task with no AI Energy Score v1 task -> the v1 task that measured such models (module docstring, point 4)
TASK_TAKEN_AS = {"text2text-generation": "summarization"}


@dataclass(frozen=True)
class Fit:
    """A log10-log10 OLS fit and what its prediction interval needs."""

    n: int
    slope: float
    intercept: float
    s: float  # residual standard error (log10 units), n - 2 degrees of freedom
    x_mean: float
    sxx: float

    def leverage(self, params_b: float) -> float:
        return 1.0 / self.n + (math.log10(params_b) - self.x_mean) ** 2 / self.sxx

    def centre(self, params_b: float) -> float:
        return self.intercept + self.slope * math.log10(params_b)

    def predict(self, params_b: float, level: float = LEVEL) -> tuple[float, float, float]:
        """(predicted, low, high) of the classic t prediction interval at *params_b* billion parameters."""
        from scipy.special import stdtrit  # light import (scipy.stats is slow to import)

        y0 = self.centre(params_b)
        half = float(stdtrit(self.n - 2, 0.5 + level / 2.0)) * self.s * math.sqrt(1.0 + self.leverage(params_b))
        return 10 ** y0, 10 ** (y0 - half), 10 ** (y0 + half)


def fit_loglog(params_b: list[float], values: list[float]) -> Fit:
    """OLS of log10(values) on log10(params_b) (needs >= 3 points and 2 distinct sizes)."""
    x, y = _log10s(params_b), _log10s(values)
    n = len(x)
    if n < 3:
        raise ValueError(_FIT_NEEDS)
    xm, ym = sum(x) / n, sum(y) / n
    sxx = sum((a - xm) ** 2 for a in x)
    if sxx <= 1e-12:
        raise ValueError(_FIT_NEEDS)
    slope = sum((a - xm) * (b - ym) for a, b in zip(x, y, strict=True)) / sxx
    intercept = ym - slope * xm
    return Fit(n=n, slope=slope, intercept=intercept, s=_residual_sd(x, y, slope, intercept), x_mean=xm, sxx=sxx)


_FIT_NEEDS = "a log-log fit needs at least 3 points with at least 2 distinct sizes"


def _log10s(values: list[float]) -> list[float]:
    return [math.log10(v) for v in values]


def _residual_sd(x: list[float], y: list[float], slope: float, intercept: float) -> float:
    """The residual standard deviation of a line fitted to at least 3 points (n - 2 degrees of freedom)."""
    return math.sqrt(sum((b - intercept - slope * a) ** 2 for a, b in zip(x, y, strict=True)) / (len(x) - 2))


@dataclass(frozen=True)
class Model:
    """A regime's fit and the studentized leave-one-out errors that set its local interval."""

    task: str
    regime: str
    fit: Fit
    sizes_b: tuple[float, ...]
    errors: tuple[float, ...]  # |leave-one-out error| / sqrt(1 + leverage), log10 units

    def interval(self, params_b: float) -> tuple[float, float, float]:
        """(predicted, low, high) Wh per 1,000 queries at *params_b* billion (active) parameters."""
        x0 = math.log10(params_b)
        near = sorted(range(len(self.sizes_b)), key=lambda j: abs(math.log10(self.sizes_b[j]) - x0))[:NEIGHBOURS]
        half = max(self.errors[j] for j in near) * math.sqrt(1.0 + self.fit.leverage(params_b))
        y0 = self.fit.centre(params_b)
        return 10 ** y0, 10 ** (y0 - half), 10 ** (y0 + half)

    def extrapolated(self, params_b: float) -> bool:
        return not min(self.sizes_b) <= params_b <= max(self.sizes_b)


Fitter = Callable[[list[float], list[float]], Fit]


def _build(task: str, regime: str, pts: list[Point], fitter: Fitter = fit_loglog) -> Model:
    """The regime's :class:`Model`: *fitter* on all points, and each point's studentized leave-one-out error."""
    sizes, values = [p.params_b for p in pts], [p.value for p in pts]
    fit = fitter(sizes, values)
    errors = []
    for j in range(len(pts)):
        rest = fitter(sizes[:j] + sizes[j + 1:], values[:j] + values[j + 1:])
        errors.append(abs(math.log10(values[j]) - rest.centre(sizes[j])) / math.sqrt(1.0 + rest.leverage(sizes[j])))
    return Model(task=task, regime=regime, fit=fit, sizes_b=tuple(sizes), errors=tuple(errors))


# -- the data -------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def parameter_table() -> dict[str, dict[str, Any]]:
    """Lower-case model id -> ``{"params_b", "active_params_b", "source", "notes", ...}`` (the parameter index)."""
    return {k: e.to_dict() for k, e in _idx.table().items()}


def parameters_of(model_id: str) -> dict[str, Any] | None:
    """The indexed parameter entry of *model_id* (any of its names), or None."""
    e = _idx.lookup(model_id)
    return e.to_dict() if e is not None else None


def regime_of(task_v1: str, total_params_b: float) -> str:
    """Which fit a model belongs to: text generation splits where 16-bit weights outgrow one 80 GB GPU."""
    if task_v1 != "text_generation":
        return ALL
    return SINGLE if total_params_b * BYTES_PER_PARAMETER <= GPU_MEMORY_GB else BEYOND


@dataclass(frozen=True)
class Point:
    """A point of a task's fit: a published AI Energy Score figure of a model with an indexed parameter count."""

    model: str
    params_b: float  # what a token goes through (active parameters of a mixture of experts)
    total_b: float  # all parameters
    value: float  # Wh per 1,000 queries (GPU)
    group: str  # the AI Energy Score group of the figure (its star scale)
    ref_id: str
    params_ref: str  # the index row of the parameter count
    nominal: bool  # the count is the model's nominal size (the index says so)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def points(task_v1: str, regime: str | None = None) -> list[Point]:
    """Published AI Energy Score rows of *task_v1* with an indexed parameter count (one per model), as
    :class:`Point`. A mixture of experts without a published active count is left out."""
    seen: set[str] = set()
    out = []
    for r in _ref.reference_rows("inference"):
        e = _point_entry(r, task_v1)
        if e is None or r.value is None or e.model_id.lower() in seen or not _in_regime(task_v1, e, regime):
            continue
        seen.add(e.model_id.lower())
        out.append(Point(model=r.model_key, params_b=e.effective_b, total_b=e.params_b, value=float(r.value),
                         group=r.group, ref_id=r.ref_id, params_ref=e.ref, nominal=e.nominal))
    return out


def published_points(task_v1: str, regime: str | None = None) -> list[dict[str, Any]]:
    """:func:`points` as dicts (``model``, ``params_b``, ``total_b``, ``value``, ``group``, ``ref_id``,
    ``params_ref``, ``nominal``)."""
    return [p.to_dict() for p in points(task_v1, regime)]


def _point_entry(r: ReferenceRow, task_v1: str) -> _idx.Entry | None:
    """The index entry of a reference row that can be a point of *task_v1*'s fit: a positive published AI Energy
    Score figure of that task, of a model with a usable parameter count (not a mixture of experts without its
    active count)."""
    if not _positive_aies(r) or aies_task(r.task_key or "") != task_v1:
        return None
    e = _idx.lookup(r.model_key)
    return None if e is None or e.moe_without_active else e


def _positive_aies(r: ReferenceRow) -> bool:
    """Whether a reference row is a positive published AI Energy Score figure."""
    return r.is_aies and r.value is not None and r.value > 0


def _in_regime(task_v1: str, e: _idx.Entry, regime: str | None) -> bool:
    """Whether an indexed model belongs to *regime* (any, when None)."""
    return regime is None or regime_of(task_v1, e.params_b) == regime


@cache
def fit_task(task_v1: str, regime: str | None = None) -> Fit | None:
    """The log-log fit of a task (of one regime when given; text generation's single-GPU regime by default)."""
    reg = _default_regime(task_v1, regime)
    pts = points(task_v1, reg)
    try:
        return fit_loglog([p.params_b for p in pts], [p.value for p in pts])
    except ValueError:
        return None


@cache
def model_for(task_v1: str, regime: str) -> Model | None:
    pts = points(task_v1, regime)
    try:
        return _build(task_v1, regime, pts) if len(pts) >= 3 else None
    except ValueError:
        return None


def _group_values(group: str) -> list[float]:
    return [float(r.value) for r in _ref.reference_rows("inference") if r.group == group and r.value is not None]


def _star_classes(lo: float, hi: float, group: str) -> int | None:
    vals = _group_values(group)
    return stars(lo, vals) - stars(hi, vals) + 1 if vals else None


def _median(v: Sequence[float]) -> float | None:
    return statistics.median(v) if v else None


def leave_one_out(task_v1: str, regime: str | None = None, fitter: Fitter = fit_loglog) -> dict[str, Any]:
    """Leave-one-out over the task's points (each regime fitted on its own): coverage of the interval, median
    |log10 error|, median interval width (decades and star classes) and how many would be shown. *fitter*: the
    fit tried (``rating.pertoken`` passes its per-token one)."""
    regimes = [regime] if regime else ([SINGLE, BEYOND] if task_v1 == "text_generation" else [ALL])
    tally, folds, n = new_tally(), 0, 0
    for reg in regimes:
        pts = points(task_v1, reg)
        n += len(pts)
        for i, p in enumerate(pts):
            try:
                m = _build(task_v1, reg, pts[:i] + pts[i + 1:], fitter)
            except ValueError:
                continue
            folds += 1
            score_fold(m.interval(p.params_b), p, tally)
    return loo_summary(task_v1, regime, n, folds, tally)


@dataclass
class Tally:
    """The outcomes of left-out figures: inside the interval (1/0), |log10 error|, width (dex), star classes."""

    hits: list[float] = dataclasses.field(default_factory=list)
    errs: list[float] = dataclasses.field(default_factory=list)
    widths: list[float] = dataclasses.field(default_factory=list)
    classes: list[int] = dataclasses.field(default_factory=list)


def score_fold(pred: tuple[float, float, float], p: Point, tally: Tally) -> None:
    """Add one left-out figure's outcome: inside the interval, |log10 error|, width, star classes."""
    mid, lo, hi = pred
    tally.hits.append(float(lo <= p.value <= hi))
    tally.errs.append(abs(math.log10(mid / p.value)))
    tally.widths.append(math.log10(hi / lo))
    c = _star_classes(lo, hi, p.group)
    if c is not None:
        tally.classes.append(c)


def new_tally() -> Tally:
    return Tally()


def loo_summary(task_v1: str, regime: str | None, n: int, folds: int, t: Tally) -> dict[str, Any]:
    """The leave-one-out figures of :func:`leave_one_out` (a dict: ``benchmarks/bench_modelled.py`` prints it)."""
    return {"task": task_v1, "regime": regime, "n": n, "folds": folds,
            "coverage": sum(t.hits) / folds if folds else None,
            "median_abs_log10_error": _median(t.errs), "median_width_dex": _median(t.widths),
            "median_star_classes": _median(t.classes),
            "useful": sum(1 for c in t.classes if c <= MAX_STAR_CLASSES), "of": len(t.classes)}


def _default_regime(task_v1: str, regime: str | None) -> str:
    """*regime*, else the task's first: text generation's single-GPU regime, or the one fit of any other task."""
    return regime or (SINGLE if task_v1 == "text_generation" else ALL)


def _calibrated(coverage: float | None) -> bool:
    """Whether a leave-one-out coverage of the interval is within :data:`COVERAGE_OK`."""
    return coverage is not None and COVERAGE_OK[0] <= coverage <= COVERAGE_OK[1]


@cache
def modellable(task_v1: str, regime: str | None = None) -> tuple[bool, str]:
    """(True, "") when *task_v1* (in *regime*) can be modelled, else (False, why not)."""
    reg = _default_regime(task_v1, regime)
    n = len(points(task_v1, reg))
    where = f"AI Energy Score task {task_v1}" + (f" ({reg})" if reg != ALL else "")
    if n < MIN_POINTS:
        return False, (f"{where} has {n} published figures with an indexed parameter count; a modelled range "
                       f"needs at least {MIN_POINTS}")
    cov = leave_one_out(task_v1, reg)["coverage"]
    if not _calibrated(cov):
        return False, (f"the log-log model of {where} is not calibrated (leave-one-out coverage of its interval "
                       f"{cov if cov is None else f'{cov:.0%}'}): not modelled")
    return True, ""


def _unavailable(reason: str) -> PhaseRating:
    return PhaseRating(phase="inference", reason=reason)


def _fitted(tag: str, params_b: float, total: float) -> tuple[str, str | None, str, Any] | str:
    """(AI Energy Score task, the task it is taken as or None, regime, the fitted model), or why there is none."""
    taken_as = TASK_TAKEN_AS.get(tag) if aies_task(tag) is None else None
    task_v1 = aies_task(taken_as or tag)
    if not _positive_number(params_b):
        return f"parameter count must be a positive number, got {params_b!r}"
    if task_v1 is None:
        return f"AI Energy Score v1 has no {tag!r} task: nothing to model from"
    regime = regime_of(task_v1, total)
    m = _calibrated_model(task_v1, regime)
    return m if isinstance(m, str) else (task_v1, taken_as, regime, m)


def _positive_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def _calibrated_model(task_v1: str, regime: str) -> Model | str:
    """The fitted model of a regime when it is calibrated (:func:`modellable`), else why there is none."""
    ok, why = modellable(task_v1, regime)
    m = model_for(task_v1, regime)
    if not ok or m is None:
        return why or f"{task_v1} cannot be modelled"
    return m


def _too_wide(span: str, params_b: float, s_lo: int, s_hi: int, as_note: str) -> str:
    return (f"cannot be modelled usefully: the interval {span} at {params_b:g}B parameters spans "
            f"{s_hi - s_lo + 1} star classes ({s_lo}-{s_hi} stars); a modelled range is shown only "
            f"when it spans at most {MAX_STAR_CLASSES}" + (f" ({as_note})" if as_note else ""))


def modelled_inference(params_b: float, task: str, *, model: str | None = None,
                       total_params_b: float | None = None, params_source: str | None = None) -> PhaseRating:
    """A modelled inference rating at *params_b* (billions; active parameters for MoE).

    *total_params_b* (default *params_b*) sets the regime and the text-generation class. Returns an unavailable
    :class:`PhaseRating` with the reason when the task cannot be modelled, or not usefully.
    """
    tag = normalize_task(task)
    total = _total_b(params_b, total_params_b)
    fitted = _fitted(tag, params_b, total)
    if isinstance(fitted, str):
        return _unavailable(fitted)
    task_v1, taken_as, regime, m = fitted
    cls = size_class(total) if tag == "text-generation" else None
    group = _ref.aies_group(task_v1, cls)
    mid, lo, hi = m.interval(float(params_b))
    ref_vals = _group_values(group)
    star_range = _star_range(lo, hi, ref_vals)
    span = f"[{lo:.4g}, {hi:.4g}] Wh per 1,000 queries"
    as_note = _taken_as_note(tag, taken_as)
    if _too_many_classes(star_range):
        return _unavailable(_too_wide(span, params_b, *star_range, as_note))
    pr = PhaseRating(
        phase="inference", available=True, value=mid, unit="Wh per 1,000 queries (GPU)", estimated=True,
        method=f"modelled (regression on {m.fit.n} published figures)", modelled_low=lo, modelled_high=hi,
        category=Category(phase="inference", task=tag, size_class=cls, hardware_class="NVIDIA H100",
                          setting=_ref.AIES_SETTING, group=group, metric="Wh per 1,000 queries (GPU)",
                          reference=_ref.REFERENCE_VERSION, edition=_ref.AIES_EDITION, regime=regime,
                          aies_task=task_v1),
        reason="modelled, not measured: no grade (a modelled range is never ranked as a published figure)",
        sources=[_modelled_source(m, task_v1, regime, params_source)],
    )
    if star_range is not None:
        pr.stars_range, pr.star_bands = list(star_range), band_records(ref_vals)
    pr.notes += [as_note] if as_note else []
    pr.notes += _modelled_notes(pr, m, float(params_b), total, span, model)
    return pr


def _total_b(params_b: Any, total_params_b: float | None) -> float:
    """The total parameter count (default: *params_b*); 0 for a count that is not a number (:func:`_fitted` says
    why)."""
    return float(total_params_b or params_b) if isinstance(params_b, (int, float)) else 0.0


def _too_many_classes(star_range: tuple[int, int] | None) -> TypeGuard[tuple[int, int]]:
    """Whether a modelled interval spans more star classes than a modelled range may show."""
    return star_range is not None and star_range[1] - star_range[0] + 1 > MAX_STAR_CLASSES


def _star_range(lo: float, hi: float, ref_vals: list[float]) -> tuple[int, int] | None:
    """(fewest, most) stars of an interval among the reference group (low energy: more stars); None without one."""
    return (stars(hi, ref_vals), stars(lo, ref_vals)) if ref_vals else None


def _taken_as_note(tag: str, taken_as: str | None) -> str:
    """The note on a task modelled as another (T5's text2text generation as summarization), or ""."""
    return (f"task taken as {taken_as}: AI Energy Score v1 has no {tag} task and measured T5 in {taken_as}"
            if taken_as else "")


def _modelled_source(m: Model, task_v1: str, regime: str, params_source: str | None) -> str:
    """The source line of a modelled range: the regression, its interval, where the parameter count came from."""
    return (f"log10-log10 OLS on {m.fit.n} published {_ref.AIES_EDITION} figures of {task_v1} ({regime}; "
            f"slope {m.fit.slope:.3f}), local leave-one-out interval of the {min(NEIGHBOURS, m.fit.n)} "
            f"figures nearest in size; parameters: {params_source or 'given'}")


def _modelled_notes(pr: PhaseRating, m: Any, params_b: float, total: float, span: str, model: str | None) -> list[str]:
    """The modelled value and interval, the parameters it was modelled at, and whether that is extrapolated."""
    notes = [f"modelled: {pr.value:.4g} Wh per 1,000 queries, interval {span}"
             + (f"; {pr.stars_label()}" if pr.stars_range else ""),
             f"parameters {params_b:g}B" + (f" active of {total:g}B total" if total != params_b else "")
             + (f" ({model})" if model else "")]
    if m.extrapolated(params_b):
        notes.append(f"extrapolated: {params_b:g}B is outside the fitted range "
                     f"[{min(m.sizes_b):g}, {max(m.sizes_b):g}]B of this regime; the interval is widened for it")
    return notes
