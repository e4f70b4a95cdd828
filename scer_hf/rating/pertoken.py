"""The per-output-token model of issue 24, validated beside the per-query fit of :mod:`.modelled`.

At batch size 1, decoding is memory-bound: each new token reads the weights it goes through, so the energy per
output token should follow the (active) parameter count. The issue suggests fitting that on the rows that publish
tokens and scaling it by the protocol's output length. Two ways of doing so are built here and scored with the same
leave-one-out as :func:`.modelled.leave_one_out` (``python benchmarks/bench_modelled.py`` prints both):

* **transferred** (:func:`transfer_check`): ``log10(J per token)`` on ``log10(parameters)`` over the rows that
  publish J per token at batch size 1 (:func:`token_points`), times the protocol's :data:`OUTPUT_TOKENS`, with the
  fit's 95 % t prediction interval. It uses no AI Energy Score figure, so every AI Energy Score figure is a held-out
  test of it.
* **calibrated** (:func:`calibrated_leave_one_out`): the slope of that per-token fit, and the intercept (the
  hardware, serving stack and prefill factor between those rows and the protocol) from the AI Energy Score figures,
  with :mod:`.modelled`'s local interval and leave-one-out.

The rows that publish tokens are text generation only (chat); no other v1 task can be modelled this way. Neither
variant validates better than the per-query fit (README, "Modelled inference ranges"), so ratings use
:mod:`.modelled`; this module is the comparison.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from . import index as _idx
from . import modelled as _m
from . import reference as _ref
from .refrow import ReferenceRow

__all__ = ["OUTPUT_TOKENS", "TOKEN_UNIT", "token_points", "token_fit", "fit_fixed_slope", "transfer_check",
           "calibrated_leave_one_out"]

# New tokens per query in the AI Energy Score v1 protocol: max_new_tokens = min_new_tokens = 10 for text
# generation (optimum-benchmark energy_star/text_generation.yaml @a2700a8; the same 10 in
# examples/energy_star/text_generation.yaml @008c759); summarization generates 10 too (summarization.yaml,
# t5_summarization.yaml @a2700a8).
OUTPUT_TOKENS = {"text_generation": 10, "summarization": 10}
TOKEN_UNIT = "J per token"
_WH_PER_J = 1.0 / 3600.0


@lru_cache(maxsize=1)
def token_points() -> tuple[dict[str, Any], ...]:
    """Published J-per-token figures of text generation at batch size 1, one per row, with a parameter count
    (the index's, else the row's own)."""
    out = []
    for r in filter(_token_figure, _ref.reference_rows("inference")):
        params = _params_b(r)
        if params and r.value:
            out.append({"model": r.model_key, "params_b": float(params), "value": float(r.value),
                        "ref_id": r.ref_id, "hardware": r.columns.get("hardware")})
    return tuple(out)


def _token_figure(r: ReferenceRow) -> bool:
    """Whether a reference row is a J-per-token figure of text generation at batch size 1."""
    return (r.value_unit == TOKEN_UNIT and (r.columns.get("batch_size") or "").strip() == "1"
            and r.task_key == "text-generation" and bool(r.value))


def _params_b(r: ReferenceRow) -> float | None:
    """A row's parameter count in billions: the index's (active parameters of a mixture of experts), else its own."""
    e = _idx.lookup(r.model_key)
    return e.effective_b if e is not None else r.params_b_value


@lru_cache(maxsize=1)
def token_fit() -> _m.Fit | None:
    """The log-log fit of J per output token on parameters, or None with fewer than 3 points or 2 sizes."""
    pts = token_points()
    try:
        return _m.fit_loglog([p["params_b"] for p in pts], [p["value"] for p in pts])
    except ValueError:
        return None


def fit_fixed_slope(slope: float) -> _m.Fitter:
    """A fitter with the given slope: only the intercept is estimated (the mean of ``y - slope * x``), so the
    leverage of a prediction is ``1/n`` (an infinite ``sxx``)."""
    def fit(params_b: list[float], values: list[float]) -> _m.Fit:
        if len(params_b) < 3:
            raise ValueError("a fixed-slope fit needs at least 3 points")
        x = [math.log10(p) for p in params_b]
        y = [math.log10(v) for v in values]
        n = len(x)
        intercept = sum(b - slope * a for a, b in zip(x, y, strict=True)) / n
        s = math.sqrt(sum((b - intercept - slope * a) ** 2 for a, b in zip(x, y, strict=True)) / (n - 1))
        return _m.Fit(n=n, slope=slope, intercept=intercept, s=s, x_mean=sum(x) / n, sxx=math.inf)
    return fit


def _regimes(task_v1: str, regime: str | None) -> list[str]:
    return [regime] if regime else ([_m.SINGLE, _m.BEYOND] if task_v1 == "text_generation" else [_m.ALL])


def transfer_check(task_v1: str, regime: str | None = None) -> dict[str, Any]:
    """How the transferred per-token model predicts every published figure of *task_v1*: the same keys as
    :func:`.modelled.leave_one_out` (``n`` 0 and ``coverage`` None when no row publishes tokens for it)."""
    f = token_fit()
    tally, n = _m.new_tally(), 0
    if f is None or task_v1 != "text_generation":  # the rows that publish tokens are chat only
        return _m.loo_summary(task_v1, regime, 0, 0, tally)
    scale = OUTPUT_TOKENS[task_v1] * 1000.0 * _WH_PER_J  # J per token -> Wh per 1,000 queries
    for reg in _regimes(task_v1, regime):
        for p in _m.points(task_v1, reg):
            n += 1
            mid, lo, hi = f.predict(p.params_b)
            _m.score_fold((mid * scale, lo * scale, hi * scale), p, tally)
    return _m.loo_summary(task_v1, regime, n, n, tally)


def calibrated_leave_one_out(task_v1: str, regime: str | None = None) -> dict[str, Any]:
    """Leave-one-out of the calibrated per-token model: the per-token slope, the intercept and the local interval
    from the AI Energy Score figures left in (:func:`.modelled.leave_one_out` with a fixed-slope fitter)."""
    f = token_fit()
    if f is None or task_v1 != "text_generation":
        return _m.loo_summary(task_v1, regime, 0, 0, _m.new_tally())
    return _m.leave_one_out(task_v1, regime, fitter=fit_fixed_slope(f.slope))
