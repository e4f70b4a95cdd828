"""Plausibility bounds: the one place that says which outside numbers scer-hf will use.

A number from outside (a Hub answer, card metadata, a live grid reading, a command-line or API argument) is used
only inside its bound. Outside it, an argument is refused with a typed error that names the bound; a Hub or live
answer (which must never fail a run or a rating) is dropped, and the reason is recorded where the figure would
have been (``rating.hub.error``, ``carbon.live.fallbacks``). NaN and infinities are outside every bound.

The bounds are sanity limits, not reference values: each is far beyond the largest real figure it guards, and
says why (``Bound.why``; the anchors are cited in ``scer_hf/data/SOURCES.md``, "Plausibility bounds").

>>> check(GRID_G_PER_KWH, 250.0)          # 250.0
>>> within(GRID_G_PER_KWH, 1e9)           # False
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import ImplausibleValueError

__all__ = ["Bound", "BOUNDS", "GRID_G_PER_KWH", "PUE", "EMISSIONS_G", "PARAMETERS", "TENSOR_NDIM", "DEVICES",
           "HOURS", "DEVICE_HOURS", "UNIT_COUNT", "WATTS", "MEMORY_GB", "SERVERS", "LIFETIME_YEARS",
           "within", "check", "number"]


@dataclass(frozen=True)
class Bound:
    """``low <= x <= high`` (``low < x`` when *low_open*), finite, a whole number when *integer*."""

    name: str
    low: float
    high: float
    unit: str
    why: str
    low_open: bool = False
    integer: bool = False

    def describe(self) -> str:
        lo = f"> {self.low:g}" if self.low_open else f">= {self.low:g}"
        return f"{'a whole number ' if self.integer else 'a finite number '}{lo} and <= {self.high:g} {self.unit}"


GRID_G_PER_KWH = Bound(
    "grid carbon intensity", 0.0, 2000.0, "g CO2e/kWh",
    "a grid averages its sources, and coal, the most carbon-intensive, emits about 820-1,100 g CO2e/kWh over its "
    "life cycle")
PUE = Bound("PUE", 1.0, 5.0, "", "1.0 is no overhead; 2.0 is a typical on-premise room; 5 allows any real site")
EMISSIONS_G = Bound(
    "emissions", 0.0, 1e12, "g CO2e",
    "1,000,000 t: over 100 times the largest published training figure in the reference data (8,930 t, "
    "Llama 3.1 405B)")
PARAMETERS = Bound(
    "parameter count", 1.0, 1e14, "parameters",
    "over 60 times the largest model in the reference data (1,500 billion, Switch Transformer)", integer=True)
TENSOR_NDIM = Bound("tensor dimensions", 0.0, 64.0, "dimensions",
                    "numpy and torch allow at most 64 dimensions", integer=True)
DEVICES = Bound("device count", 1.0, 1e6, "devices", "a million accelerators in one run", integer=True)
HOURS = Bound("hours", 0.0, 87_660.0, "h", "ten years of wall-clock time", low_open=True)
DEVICE_HOURS = Bound("device-hours", 0.0, 1e6 * 87_660.0, "device-hours",
                     "the device count bound times the hours bound (Llama 3.1 405B: 30.84 million GPU-hours)",
                     low_open=True)
UNIT_COUNT = Bound("functional-unit count", 0.0, 1e18, "units",
                   "tokens, samples or queries: over 10,000 times the largest training set in the reference data "
                   "(40 trillion tokens, Llama 4 Scout)")
WATTS = Bound("power", 0.0, 5000.0, "W per device", "above any accelerator's or CPU's rated board power",
              low_open=True)
MEMORY_GB = Bound("memory", 0.0, 1e6, "GB", "a petabyte of host memory")
SERVERS = Bound("servers", 0.0, 1e6, "servers", "the device count bound", low_open=True)
LIFETIME_YEARS = Bound("hardware lifetime", 0.0, 50.0, "years", "no accelerator is depreciated over 50 years",
                       low_open=True)

#: every bound by a short key (the README and ``scer-hf`` messages name them)
BOUNDS = {"grid_g_per_kwh": GRID_G_PER_KWH, "pue": PUE, "emissions_g": EMISSIONS_G, "parameters": PARAMETERS,
          "tensor_ndim": TENSOR_NDIM, "devices": DEVICES, "hours": HOURS, "device_hours": DEVICE_HOURS,
          "unit_count": UNIT_COUNT, "watts": WATTS, "memory_gb": MEMORY_GB, "servers": SERVERS,
          "lifetime_years": LIFETIME_YEARS}


def number(x: Any) -> float | None:
    """*x* as a finite float, or None (a bool, a string, NaN, an infinity, an int too big for a float)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    try:
        f = float(x)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def within(bound: Bound, x: Any) -> bool:
    """Whether *x* is a number inside *bound*."""
    f = number(x)
    if f is None or f > bound.high or (f <= bound.low if bound.low_open else f < bound.low):
        return False
    return not bound.integer or f.is_integer()


def check(bound: Bound, x: Any, *, name: str | None = None, error: type[Exception] = ImplausibleValueError,
          hint: str = "") -> float:
    """*x* as a float when it is inside *bound*; else raise *error* naming the value, the bound and why."""
    if within(bound, x):
        return float(x)
    shown = repr(x) if len(repr(x)) <= 40 else repr(x)[:37] + "..."
    raise error(f"{name or bound.name}={shown} is outside the plausible range: {bound.describe()} ({bound.why})"
                + hint)
