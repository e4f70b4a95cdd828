"""The one door every meter read goes through: a read that fails, or is not believable, never counts.

:class:`MeterGuard` wraps one :class:`~scer_hf.core.meters.base.Meter`. Its :meth:`MeterGuard.read` returns a
checked :class:`Reading` or ``None``, and never raises (except ``KeyboardInterrupt``/``SystemExit``, which are
the user's). A read is refused when

- ``meter.read()`` raises anything;
- it returns something that is not a :class:`Reading`, or components other than the meter's own;
- a value is not a real number, not finite, negative, or goes backwards (a reset);
- a component's step since the last read is impossible: above ``max power x POWER_MARGIN x (elapsed + slack)``
  (the meter's :attr:`~Meter.max_power_w`, else :data:`~scer_hf.core.meters.base.CEILING_W`), or its cumulative value
  is above what that power could reach since the machine started;
- the meter counted a fault of its own (:attr:`Meter.faults`: a RAPL reset, an NVML NaN counter...);
- the read does not return within :data:`READ_DEADLINE_S` (a hung driver, a blocked file).

**Deadline.** A meter that may block (:attr:`Meter.blocking`, the default; the estimate and replay meters compute
in-process and are read inline) is read in one daemon thread of its own, and the caller waits at most
:data:`READ_DEADLINE_S` seconds. A read past the deadline is refused; while it is still in flight the meter is
refused at once, without waiting (so a signal handler or an exit hook never waits on a stuck meter); a read still
in flight :data:`ABANDON_AFTER_S` seconds later disables the meter for good. Nothing in the user's run waits longer.

A refused *value* (a reset, a counter going backwards, an impossible step, the meter's own fault count) starts a
new *epoch*: a window whose two edges were read in different epochs (a counter fault happened while it was open)
is unmeasured too, with the reason. A read that raised or timed out says nothing about the counter, so only the
windows that needed that read are unmeasured. A read slower than :data:`SLOW_READ_S` is warned about; after
:data:`SLOW_READS_TO_DISABLE` of them in a row the meter is disabled (never read again) and the reason says so.
Each guard warns once, naming the meter and the reason; later faults are recorded, not warned.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

from ...errors import MeterError
from ..warn import WarnOnce
from .base import CEILING_W, COUNTER_SLACK_S, POWER_MARGIN, Meter, Reading, now_s

__all__ = ["MeterGuard", "GuardedReading", "MeasurementWarning", "SLOW_READ_S", "SLOW_READS_TO_DISABLE",
           "READ_DEADLINE_S", "ABANDON_AFTER_S"]

SLOW_READ_S = 0.05  # a read slower than this is a slow meter (counters answer in microseconds)
SLOW_READS_TO_DISABLE = 3  # this many slow reads in a row and the meter is no longer read
READ_DEADLINE_S = 2.0  # the longest a window edge waits for one meter
ABANDON_AFTER_S = 10.0  # a read still in flight this long after it began: the meter is stuck, never read again


class MeasurementWarning(UserWarning):
    """A meter failed; the affected windows are marked unmeasured."""


@dataclass(frozen=True)
class GuardedReading(Reading):
    """A reading the guard accepted; ``epoch`` counts the faults before it."""

    epoch: int = 0


def _guarded(ts: float, energy: Any, epoch: int) -> GuardedReading:
    """``GuardedReading(ts, energy, epoch)`` without the frozen dataclass's per-field ``__setattr__`` (hot path)."""
    g = object.__new__(GuardedReading)
    g.__dict__.update(timestamp_s=ts, energy_j=energy, epoch=epoch)
    return g


class _Reader:
    """One daemon thread that runs ``meter.read()`` on request, so the caller can stop waiting.

    Two raw locks hand each read over (the cheapest wake-up CPython has: a few microseconds a read)."""

    def __init__(self, fn: Any, name: str) -> None:
        self._fn = fn
        self._name = name
        self._go = threading.Lock()
        self._go.acquire()  # released by the caller: one read, please
        self._done = threading.Lock()
        self._done.acquire()  # released by the reader: the result is there
        self._thread: threading.Thread | None = None
        self.started_at: float | None = None  # the read in flight (None: idle)
        self._result: tuple[bool, Any] = (True, None)
        self._abandoned = False  # we stopped waiting for the read in flight; its answer must be drained
        self._closed = False

    def close(self) -> None:
        """Let the thread end (now if idle, after the read in flight otherwise)."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None and self.started_at is None:
            self._go.release()

    def _loop(self) -> None:
        while True:
            self._go.acquire()
            if self._closed:
                return
            try:
                self._result = (True, self._fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, who decides
                self._result = (False, exc)
            self.started_at = None
            self._done.release()
            if self._closed:
                return

    def call(self, deadline_s: float) -> tuple[str, Any]:
        """("ok", reading) | ("raised", exc) | ("timeout", None) | ("busy", None: a read is still in flight)."""
        if self.started_at is not None and not self._abandoned:
            return "busy", None  # an outer frame is waiting for this very read (a signal handler ran inside it)
        if self._abandoned:
            if not self._done.acquire(blocking=False):
                return "busy", None
            self._abandoned = False
            self._result = (True, None)  # the late answer to a read we stopped waiting for: dropped
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=f"scer-meter-{self._name}", daemon=True)
            self._thread.start()
        self.started_at = time.monotonic()
        self._go.release()
        if not self._done.acquire(timeout=deadline_s):
            self._abandoned = True
            return "timeout", None
        ok, value = self._result
        self._result = (True, None)
        return ("ok", value) if ok else ("raised", value)


def _reason_of(exc: BaseException) -> str:
    if isinstance(exc, (MeterError, OSError, ValueError, ArithmeticError)) and str(exc):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _is_number(v: Any) -> bool:
    return type(v) is float or (isinstance(v, (int, float)) and not isinstance(v, bool))


def _shape_error(r: Any, expected: set[str] | frozenset[str]) -> str | None:
    """Why *r* is not a reading of the expected components (None when it is one)."""
    if not isinstance(r, Reading):
        return f"read() returned {type(r).__name__}, not a Reading"
    ts, e = r.timestamp_s, r.energy_j
    if not _is_number(ts) or not math.isfinite(ts):
        return f"timestamp {ts!r} is not a finite number"
    try:
        keys = set(e.keys())
    except (AttributeError, TypeError):
        return f"energy_j is a {type(e).__name__}, not a mapping"
    if keys == expected:
        return None
    missing, extra = sorted(expected - keys), sorted(map(str, keys - expected))
    return "components " + "; ".join(x for x in (f"missing {', '.join(missing)}" if missing else "",
                                                 f"unexpected {', '.join(extra)}" if extra else "") if x)


def _counter_error(c: str, v: Any, limit: float, horizon: float, last: float | None,
                   dt: float) -> tuple[str | None, str | None]:
    """(why component *c*'s counter value *v* is refused, a reset note): a value must be a number between 0 and
    what the component could have drawn since boot, and rise no faster than it can draw since *last*."""
    if not _is_number(v):
        return f"{c} energy {v!r} is a {type(v).__name__}, not a number", None
    if not 0.0 <= v <= limit * horizon:  # False for NaN
        return f"{c} energy {v!r} J is not finite, negative or impossible", None
    if last is None:
        return None, None
    step = v - last
    if step < 0:
        return None, f"{c} counter went backwards ({step:.6g} J): a reset"
    if step > limit * (dt + COUNTER_SLACK_S):
        return (f"{c} rose {step:.6g} J in {dt:.3g} s: more than the component can draw "
                f"({limit / POWER_MARGIN:.6g} W x {POWER_MARGIN:g})"), None
    return None, None


class MeterGuard:
    """Checks every read of one meter (see the module docstring)."""

    def __init__(self, meter: Meter, *, slow_read_s: float = SLOW_READ_S,
                 slow_reads_to_disable: int = SLOW_READS_TO_DISABLE, deadline_s: float | None = None,
                 abandon_after_s: float | None = None) -> None:
        self.meter = meter
        self.name = str(getattr(meter, "name", type(meter).__name__))
        self.slow_read_s = slow_read_s
        self.slow_reads_to_disable = slow_reads_to_disable
        self.deadline_s = float(READ_DEADLINE_S if deadline_s is None else deadline_s)
        self.abandon_after_s = float(ABANDON_AFTER_S if abandon_after_s is None else abandon_after_s)
        self._lock = threading.RLock()  # one read at a time; re-entrant for a signal handler in the reading thread
        self._reader = _Reader(meter.read, self.name) if getattr(meter, "blocking", True) else None
        if self._reader is not None:  # a guard dropped without close() still ends its thread
            weakref.finalize(self, self._reader.close)
        try:
            self.components: tuple[str, ...] = tuple(meter.components)
            limits = dict(getattr(meter, "max_power_w", {}) or {})
        except Exception:  # noqa: BLE001 - a broken meter is refused at its first read
            self.components, limits = (), {}
        self._expected = set(self.components)
        self._limit = {c: float(limits.get(c) or CEILING_W) * POWER_MARGIN for c in self.components}
        self._limits = tuple(self._limit.items())
        self._uptime_s = now_s() + COUNTER_SLACK_S
        self._last: dict[str, float] | None = None
        self._last_t = 0.0
        self._own_faults = self._meter_faults()
        self.epoch = 0
        self.breaks: list[str] = []  # reason of each fault, one per epoch change
        self._slow_run = 0  # slow reads in a row (a preempted read is slow once; a hung meter every time)
        self.disabled: str | None = None
        self.failed: str | None = None  # the latest reason
        self._warn_once = WarnOnce(MeasurementWarning, "scer-hf: ", stacklevel=5)  # one warning per meter

    def close(self) -> None:
        """End the reading thread (the meter itself is closed by its owner)."""
        if self._reader is not None:
            self._reader.close()

    # -- the door ----------------------------------------------------------------------
    def read(self, errors: list[str] | None = None) -> GuardedReading | None:
        """A checked reading, or None with the reason appended to *errors*. Never waits past the deadline."""
        if self.disabled is not None:
            self._refuse(self.disabled, errors, new_epoch=False)
            return None
        with self._lock:
            return self._read(errors)

    def _call(self) -> tuple[str, Any]:
        if self._reader is None:
            try:
                return "ok", self.meter.read()
            except BaseException as exc:  # noqa: BLE001 - sorted out by the caller
                return "raised", exc
        return self._reader.call(self.deadline_s)

    def _read(self, errors: list[str] | None) -> GuardedReading | None:
        t0 = time.perf_counter()
        status, r = self._call()
        if status == "raised":
            if isinstance(r, (KeyboardInterrupt, SystemExit)):
                raise r
            self._refuse(_reason_of(r), errors, new_epoch=False)
            return None
        if status != "ok":
            self._stuck(status, errors)
            return None
        took = time.perf_counter() - t0
        if took > self.slow_read_s:
            if self._slow(took, errors):
                return None
        elif self._slow_run:
            self._slow_run = 0
        reason = self._check(r)
        if reason is None:
            f = self._meter_faults()
            if f != self._own_faults:
                self._own_faults = f
                reason = str(getattr(self.meter, "fault_reason", "") or "the meter refused a counter value")
        if reason is not None:
            self._refuse(reason, errors)
            return None
        return _guarded(r.timestamp_s, r.energy_j, self.epoch)

    def _meter_faults(self) -> int:
        try:
            return int(getattr(self.meter, "faults", 0) or 0)
        except Exception:  # noqa: BLE001
            return 0

    def _check(self, r: Any) -> str | None:
        """None if *r* is believable, else why not. Updates the baseline on success (and on a reset)."""
        why = _shape_error(r, self._expected)
        if why is not None:
            return why
        ts, e = r.timestamp_s, r.energy_j
        last = self._last
        dt = ts - self._last_t if last is not None else 0.0
        if dt < 0:
            return f"timestamp went backwards ({dt:.6g} s)"
        horizon = abs(ts) + self._uptime_s  # nothing has run for longer than the machine has been up
        backwards = None
        for c, limit in self._limits:
            why, reset = _counter_error(c, e[c], limit, horizon, None if last is None else last[c], dt)
            if why is not None:
                return why
            backwards = backwards or reset
        self._last = {c: e[c] for c, _ in self._limits}  # a reset is the new baseline
        self._last_t = ts
        return backwards

    # -- faults ------------------------------------------------------------------------
    def _stuck(self, status: str, errors: list[str] | None) -> None:
        """A read past the deadline, or one still in flight: refused now; abandoned once it stays stuck."""
        began = self._reader.started_at if self._reader is not None else None
        if began is not None and time.monotonic() - began >= self.abandon_after_s:
            self.disabled = (f"a read has not returned for {self.abandon_after_s:g} s (a hung driver or device?); "
                             "abandoned, not read again")
            self._refuse(self.disabled, errors, new_epoch=False)
            return
        why = (f"read did not return within {self.deadline_s:g} s" if status == "timeout"
               else "an earlier read has not returned yet")
        self._refuse(why, errors, new_epoch=False)

    def _slow(self, took: float, errors: list[str] | None) -> bool:
        """Count a slow read; True (and refused) when it disables the meter."""
        self._slow_run += 1
        if self._slow_run >= self.slow_reads_to_disable:
            self.disabled = (f"disabled after {self._slow_run} reads in a row slower than {self.slow_read_s:g} s "
                             f"(the last took {took:.3g} s); not read again")
            self._refuse(self.disabled, errors)
            return True
        self._warn(f"is slow: a read took {took:.3g} s (over {self.slow_read_s:g} s); after "
                   f"{self.slow_reads_to_disable} slow reads in a row it is disabled")
        return False

    def _refuse(self, reason: str, errors: list[str] | None, *, new_epoch: bool = True) -> None:
        if new_epoch:
            self.epoch += 1
            self.breaks.append(reason)
        self.failed = reason
        if errors is not None:
            errors.append(f"{self.name}: {reason}")
        self._warn(f"failed ({reason}); affected phases are marked unmeasured and your run continues")
        return

    def _warn(self, what: str) -> None:
        self._warn_once("meter", f"meter {self.name!r} {what}")

    def between(self, r0: Reading, r1: Reading) -> list[str]:
        """The faults between two accepted readings (empty: the window between them is measured)."""
        e0, e1 = getattr(r0, "epoch", 0), getattr(r1, "epoch", 0)
        if e0 == e1:
            return []
        reasons = list(dict.fromkeys(self.breaks[e0:e1])) or ["a fault while the window was open"]
        return [f"{self.name}: {r}" for r in reasons[:3]]
