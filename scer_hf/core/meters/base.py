"""The meter interface: cumulative energy per component plus a monotonic timestamp.

A *component* is a string such as ``"gpu:0"``, ``"cpu:0"`` (CPU package 0),
``"dram:0"`` (RAPL DRAM domain of package 0) or ``"ram"`` (estimated memory power).
A meter's :meth:`Meter.read` returns the energy each component has used since the
meter was created, in joules. Windows take differences of two reads, so a meter
never needs to know about windows.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Method", "Reading", "Meter", "CEILING_W", "POWER_MARGIN", "COUNTER_SLACK_S"]

Method = Literal["counter", "estimate"]

# Plausibility bound of a counter step: energy <= max power x POWER_MARGIN x (seconds elapsed + COUNTER_SLACK_S).
# CEILING_W is the maximum power assumed for a component whose device states none. It is a guard, not a figure
# of any report: ten times the largest single-device ratings on sale (NVIDIA B200 board, 1,000 W, DGX B200
# datasheet; AMD EPYC 9965 / Intel Xeon 6980P packages, 500 W TDP), so no real reading is refused by it.
CEILING_W = 10_000.0
# Power limits are averages: boards and packages exceed them briefly (PL2, GPU excursions); 2x covers that.
POWER_MARGIN = 2.0
# Counters update in steps (RAPL ~1 ms, NVML tens of ms): a step may land just after a read; 1 s of slack.
COUNTER_SLACK_S = 1.0


@dataclass(frozen=True)
class Reading:
    """One read of a meter: cumulative joules per component at ``timestamp_s``."""

    timestamp_s: float
    energy_j: Mapping[str, float]


class Meter(ABC):
    """Base class of every meter.

    Subclasses set :attr:`name`, :attr:`method` (``"counter"`` or ``"estimate"``),
    :attr:`source` (where the numbers come from, in words) and implement :meth:`read`.
    :attr:`relative_uncertainty` is the ± share of a reading this method is known
    to be off by (documented per backend); :attr:`assumptions` lists what an
    estimate assumes.
    """

    name: str = "meter"
    method: Method = "counter"
    source: str = ""
    relative_uncertainty: float = 0.0
    uncertainty_basis: str = ""
    #: whether :meth:`read` can block (a driver call, a file read): the guard then reads it in a thread of its own
    #: and waits at most :data:`~scer_hf.core.meters.guard.READ_DEADLINE_S`. False only for in-process arithmetic.
    blocking: bool = True
    #: whether the meter reads node-wide counters (RAPL, a system-on-chip): in a distributed run only local rank 0
    #: keeps it, so a node is counted once
    node_wide: bool = False

    #: raw counter values the meter itself refused (reset, NaN, impossible power); the guard
    #: (:mod:`scer_hf.core.meters.guard`) marks the windows around each one unmeasured, with :attr:`fault_reason`
    faults: int = 0
    fault_reason: str = ""

    def __init__(self) -> None:
        self.assumptions: dict[str, object] = {}

    @property
    def max_power_w(self) -> Mapping[str, float]:
        """The most each component can draw (W), as the device states it; absent: :data:`CEILING_W`."""
        return {}

    @property
    @abstractmethod
    def components(self) -> tuple[str, ...]:
        """The components this meter reports, e.g. ``("gpu:0", "gpu:1")``."""

    @abstractmethod
    def read(self) -> Reading:
        """Cumulative energy per component since the meter was created (J)."""

    @property
    def share_key(self) -> object:
        """What device this meter reads, for sharing one reader per device per process
        (:mod:`scer_hf.core.attribution`): meters with equal keys read the same counters. ``None`` (the default):
        shared only as the same object. Built-in meters say which GPU, RAPL domain or process they read."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release handles or threads. Safe to call twice."""

    def describe(self) -> dict[str, object]:
        """Provenance of this meter, as written into reports."""
        out: dict[str, object] = {
            "meter": self.name,
            "method": self.method,
            "source": self.source,
            "components": list(self.components),
            "relative_uncertainty": self.relative_uncertainty,
            "uncertainty_basis": self.uncertainty_basis,
        }
        if self.assumptions:
            out["assumptions"] = dict(self.assumptions)
        if self.method == "estimate":
            out["note"] = "ESTIMATE: not measured by a hardware energy counter"
        return out

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.method} {list(self.components)}>"

    def __enter__(self) -> Meter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def now_s() -> float:
    """The monotonic clock every meter uses."""
    return time.monotonic()


@dataclass
class _Wrap:
    """One raw energy counter (joules) made cumulative: unwraps wraps, refuses resets and impossible values.

    A step that went down is a wrap (counter passed ``max_range`` and restarted at 0) only when the wrapped
    step is possible: at most ``max_power_w`` x :data:`POWER_MARGIN` x (elapsed + slack). Otherwise -- or with
    no ``max_range`` -- it is a reset (driver reload, firmware): nothing is added and the fault is counted. A
    raw value that is not finite, negative, above ``max_range``, or a step above the bound is refused too.
    """

    max_range: float | None
    last_raw: float
    max_power_w: float = CEILING_W
    last_t: float = field(default_factory=time.monotonic)
    total: float = 0.0
    wraps: int = field(default=0)
    faults: int = field(default=0)
    reason: str = ""

    def _bound(self, t: float) -> float:
        return self.max_power_w * POWER_MARGIN * (max(t - self.last_t, 0.0) + COUNTER_SLACK_S)

    def update(self, raw: float, t: float | None = None) -> float:
        t = time.monotonic() if t is None else t
        delta = raw - self.last_raw
        if 0.0 <= delta <= self._bound(t) and (raw <= self.max_range if self.max_range else True):
            self.total += delta  # the usual step (NaN fails the first test)
            self.last_raw = raw
            self.last_t = t
            return self.total
        cap = self.max_range if self.max_range else self.max_power_w * POWER_MARGIN * (abs(t) + COUNTER_SLACK_S)
        if not (math.isfinite(raw) and 0 <= raw <= cap):
            self.faults += 1
            self.reason = f"impossible raw counter value {raw!r}"
            return self.total  # keep last_raw: the next good value continues from it
        delta = raw - self.last_raw
        bound = self._bound(t)
        if delta < 0:
            wrapped = delta + self.max_range if self.max_range else math.inf
            if wrapped <= bound:
                delta = wrapped
                self.wraps += 1
            else:
                self.faults += 1
                self.reason = (f"counter reset ({self.last_raw:.6g} -> {raw:.6g} J; a wrap would mean "
                               f"{wrapped:.6g} J in {t - self.last_t:.3g} s)")
                delta = 0.0
        elif delta > bound:
            self.faults += 1
            self.reason = (f"impossible step of {delta:.6g} J in {t - self.last_t:.3g} s "
                           f"(bound {self.max_power_w:.6g} W x {POWER_MARGIN:g})")
            delta = 0.0
        self.total += delta
        self.last_raw = raw
        self.last_t = t
        return self.total
