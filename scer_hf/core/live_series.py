"""The bounded state of live grid intensity while a run or a server goes on (``core.live_intensity``).

Readings arrive at every window edge for as long as a model is served, so nothing here grows with their number:

* :class:`Series`: the intensity over time as a step function (a reading holds until the next). Past
  :data:`SERIES_CAP` points, neighbouring stretches are merged into one holding their time-weighted mean, so the
  integral of intensity over time, and so every phase's time-weighted mean, is kept exactly wherever a phase
  starts and ends on a kept point, and to within one merged stretch elsewhere. A failed reading's stretch holds
  the annual figure, known only when the report is built, so each stretch keeps its fallback share apart.
* :class:`Kept`: the reading records a report shows (``carbon.live.samples`` / ``fallbacks``): at most
  :data:`RECORDS_CAP`, an even spread over the run (every k-th, k doubling as needed), plus the total count.
"""

from __future__ import annotations

import bisect
from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["Series", "Kept", "SERIES_CAP", "RECORDS_CAP"]

SERIES_CAP = 1024
RECORDS_CAP = 256


class Series:
    """Time-sorted points ``(t, g, fb)``: from ``t`` until the next point the intensity is ``g`` for a share
    ``1 - fb`` of the time and the annual figure for the share ``fb`` (``g`` is None when ``fb == 1``)."""

    def __init__(self, cap: int = SERIES_CAP) -> None:
        self.cap = cap
        self.t: list[float] = []
        self.g: list[float | None] = []
        self.fb: list[float] = []

    def __len__(self) -> int:
        return len(self.t)

    def add(self, t: float, g: float | None) -> None:
        """A reading at *t*: *g* g/kWh, or None for a failed one (the annual figure holds)."""
        i = bisect.bisect_right(self.t, t)
        self.t.insert(i, t)
        self.g.insert(i, g)
        self.fb.insert(i, 0.0 if g is not None else 1.0)
        if len(self.t) > self.cap:
            self._halve()

    def _halve(self) -> None:
        """Merge pairs of neighbouring stretches (the last, open-ended point is kept as it is)."""
        t, g, fb = [], [], []
        n = len(self.t)
        i = 0
        while i < n - 1:
            j = i + 1
            if j < n - 1:  # stretch i is [t_i, t_j), stretch j is [t_j, t_{j+1})
                mt, mg, mf = _merge(self.t[i], self.t[j], self.t[j + 1], (self.g[i], self.fb[i]),
                                    (self.g[j], self.fb[j]))
                t.append(mt)
                g.append(mg)
                fb.append(mf)
                i += 2
            else:
                t.append(self.t[i])
                g.append(self.g[i])
                fb.append(self.fb[i])
                i += 1
        t.append(self.t[-1])
        g.append(self.g[-1])
        fb.append(self.fb[-1])
        self.t, self.g, self.fb = t, g, fb

    def levels(self, annual: float | None) -> list[tuple[float, float]]:
        """``(t, g/kWh)`` points, the fallback share of each stretch at *annual* (skipped when it is unknown)."""
        out = []
        for t, g, fb in zip(self.t, self.g, self.fb, strict=True):
            v = _level(g, fb, annual)
            if v is not None:
                out.append((t, float(v)))
        return out


def _merge(t0: float, t1: float, t2: float, a: tuple[float | None, float], b: tuple[float | None, float],
           ) -> tuple[float, float | None, float]:
    """One stretch ``[t0, t2)`` for ``a`` on ``[t0, t1)`` and ``b`` on ``[t1, t2)``, with the same integral."""
    da, db = t1 - t0, t2 - t1
    if da + db <= 0:  # two readings at one instant: the later one holds
        return t0, b[0], b[1]
    fb = (a[1] * da + b[1] * db) / (da + db)
    sample_t = (1 - a[1]) * da + (1 - b[1]) * db
    g_int = (1 - a[1]) * da * (a[0] or 0.0) + (1 - b[1]) * db * (b[0] or 0.0)
    g = g_int / sample_t if sample_t > 0 else (a[0] if a[0] is not None else b[0])
    return t0, g, fb


class Kept(Generic[T]):
    """At most *cap* records, an even spread over those offered (every ``stride``-th), and how many there were."""

    def __init__(self, cap: int = RECORDS_CAP) -> None:
        self.cap, self.stride, self.count = cap, 1, 0
        self.items: list[T] = []

    def add(self, record: T) -> None:
        if self.count % self.stride == 0:
            self.items.append(record)
            if len(self.items) > self.cap:
                self.items = self.items[::2]
                self.stride *= 2
        self.count += 1

    def __len__(self) -> int:
        return self.count


def _level(g: float | None, fb: float, annual: float | None) -> float | None:
    """A stretch's g/kWh: its readings, with its fallback share at *annual*; None when neither is known."""
    if annual is None or fb == 0.0:
        return g
    if g is None:
        return annual
    return (1 - fb) * g + fb * annual
