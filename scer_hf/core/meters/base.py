"""The meter interface: cumulative energy per component plus a monotonic timestamp.

A *component* is a string such as ``"gpu:0"``, ``"cpu:0"`` (CPU package 0),
``"dram:0"`` (RAPL DRAM domain of package 0) or ``"ram"`` (estimated memory power).
A meter's :meth:`Meter.read` returns the energy each component has used since the
meter was created, in joules. Windows take differences of two reads, so a meter
never needs to know about windows.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Literal, Mapping

__all__ = ["Method", "Reading", "Meter"]

Method = Literal["counter", "estimate"]


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

    def __init__(self) -> None:
        self.assumptions: dict[str, object] = {}

    @property
    @abstractmethod
    def components(self) -> tuple[str, ...]:
        """The components this meter reports, e.g. ``("gpu:0", "gpu:1")``."""

    @abstractmethod
    def read(self) -> Reading:
        """Cumulative energy per component since the meter was created (J)."""

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

    def __enter__(self) -> "Meter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def now_s() -> float:
    """The monotonic clock every meter uses."""
    return time.monotonic()


@dataclass
class _Wrap:
    """Unwraps one wrapping counter (RAPL ``energy_uj``, or any bounded counter)."""

    max_range: float
    last_raw: float
    total: float = 0.0
    wraps: int = field(default=0)

    def update(self, raw: float) -> float:
        delta = raw - self.last_raw
        if delta < 0:  # the counter passed max_range and started again from 0
            delta += self.max_range
            self.wraps += 1
        self.total += delta
        self.last_raw = raw
        return self.total
