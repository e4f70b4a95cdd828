"""A meter that replays a recorded or synthetic power trace (a test double for users too).

A trace is, per component, a list of ``(t_s, watts)`` points; power between points is
linear, before the first and after the last it is held. Energy is the exact integral
of that piecewise-linear power, so a window's energy can be checked against an
analytic value. Time comes from ``clock`` (seconds since the meter started); pass a
fake clock in tests, or leave it to replay a recording in real time.
"""

from __future__ import annotations

import bisect
import csv
import io
import os
from collections.abc import Callable, Mapping, Sequence

from ... import _read
from ...errors import MeterError
from .base import Meter, Method, Reading, now_s

__all__ = ["ReplayMeter", "PowerTrace"]


class PowerTrace:
    """Piecewise-linear power of one component with a cumulative-energy lookup."""

    def __init__(self, points: Sequence[tuple[float, float]]) -> None:
        pts = sorted((float(t), float(w)) for t, w in points)
        if not pts:
            raise ValueError("a power trace needs at least one (t_s, watts) point")
        if any(w < 0 for _, w in pts):
            raise ValueError("power must be >= 0 W")
        self.t = [p[0] for p in pts]
        self.w = [p[1] for p in pts]
        self.cum = [0.0]
        for i in range(1, len(pts)):
            self.cum.append(self.cum[-1] + 0.5 * (self.w[i] + self.w[i - 1]) * (self.t[i] - self.t[i - 1]))

    def power_at(self, t: float) -> float:
        if t <= self.t[0]:
            return self.w[0]
        if t >= self.t[-1]:
            return self.w[-1]
        i = bisect.bisect_right(self.t, t) - 1
        frac = (t - self.t[i]) / (self.t[i + 1] - self.t[i])
        return self.w[i] + frac * (self.w[i + 1] - self.w[i])

    def energy_to(self, t: float) -> float:
        """Joules from the trace's first point to *t* (held power outside the points)."""
        if t <= self.t[0]:
            return -(self.t[0] - t) * self.w[0]
        if t >= self.t[-1]:
            return self.cum[-1] + (t - self.t[-1]) * self.w[-1]
        i = bisect.bisect_right(self.t, t) - 1
        return self.cum[i] + 0.5 * (self.w[i] + self.power_at(t)) * (t - self.t[i])


class ReplayMeter(Meter):
    """Replays power traces; reports the method you say the trace came from."""

    blocking = False  # in-process arithmetic (process CPU time, a trace): read inline, no thread

    name = "replay"

    def __init__(
        self,
        traces: Mapping[str, Sequence[tuple[float, float]]],
        *,
        clock: Callable[[], float] | None = None,
        method: Method = "counter",
        source: str = "replayed power trace",
        relative_uncertainty: float = 0.0,
    ) -> None:
        super().__init__()
        if not traces:
            raise ValueError("ReplayMeter needs at least one component trace")
        self._traces = {c: PowerTrace(p) for c, p in traces.items()}
        if clock is None:
            t0 = now_s()
            clock = lambda: now_s() - t0  # noqa: E731
        self._clock = clock
        self.method = method
        self.source = source
        self.relative_uncertainty = relative_uncertainty
        self.uncertainty_basis = "as declared for the replayed trace"
        self._origin = {c: tr.energy_to(self._clock()) for c, tr in self._traces.items()}
        self.fail_next: Exception | None = None  # set to inject a read fault

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str], **kwargs: object) -> ReplayMeter:
        """Load ``t_s,<component>,<component>...`` (watts) from a CSV file."""
        text = _read.read_text(path, what="CSV")  # a regular file, size cap, UTF-8 (InputFileError)
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        if not rows or "t_s" not in rows[0]:
            raise ValueError(f"{path}: expected a header 't_s,<component>...' and rows of watts")
        comps = [k for k in rows[0] if k != "t_s"]
        traces = {c: [(float(r["t_s"]), float(r[c])) for r in rows] for c in comps}
        return cls(traces, **kwargs)  # type: ignore[arg-type]

    @property
    def components(self) -> tuple[str, ...]:
        return tuple(self._traces)

    def read(self) -> Reading:
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise MeterError(f"replay: injected fault: {exc}") from exc
        t = self._clock()
        return Reading(t, {c: tr.energy_to(t) - self._origin[c] for c, tr in self._traces.items()})
