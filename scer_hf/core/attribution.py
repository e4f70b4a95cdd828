"""Calls that overlap in time, measured exactly: one reader per meter per process, energy split among the calls.

A served model answers many calls at once (threads of a web server, continuous batching, concurrent HTTP
requests). A window per call would count the device's energy once per overlapping call. Here instead:

- **One reader per device per process.** :func:`acquire` hands every call tracker the same :class:`SharedMeter`
  for the same device (meters that say which device they read through ``share_key``: NVML GPUs, RAPL domains,
  this process's estimate; any other meter is shared by identity). Two wrappers on one pipeline share it, so
  they never count the device twice. The last tracker to let go closes the meter.
- **Edges.** Each call reads the meter when it starts, when it moves between its segments (prefill -> decode)
  and when it ends, under the meter's lock, so reads and edges are in time order.
- **The split rule** (:data:`ATTRIBUTION_RULE`): the energy between two consecutive accepted reads of a meter
  is shared among the calls in flight in proportion to weight x time in flight, where a call's weight is the
  number of sequences it is processing (the rows of its current ``generate``; 1 when not known); power is taken
  as constant between the two reads. When every read is accepted, consecutive reads are consecutive call edges,
  the set of calls in flight is constant between them, and each call gets the interval's energy times its
  weight over the total weight. Time with no call in flight belongs to no call. So the per-call energies add
  up to the meter's energy over the union of the calls' windows: nothing counted twice, nothing lost.
- **Coverage.** A read the guard refuses at another call's edge costs nothing: the interval simply runs on to
  the next accepted read. A call's own refused edge read leaves its time since its last accepted read (or, for
  its first read, until its next one) unmeasured for that meter: a coverage gap, filled by the documented rule
  (:mod:`scer_hf.core.coverage`). A counter fault between two reads (a new guard epoch) leaves the interval
  unmeasured for every call in it. A refused read between two segments of one call keeps the call measured and
  leaves its segments unmeasured in that interval (their split is not known).

Costs: one meter read per edge; the bookkeeping is O(1) for the calls not involved in an event (see
:class:`SharedMeter`); the state is the calls in flight. The calls themselves (:class:`~scer_hf.core.calls.CallTracker`)
are in :mod:`scer_hf.core.calls`.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping

from .meters.base import Meter, Reading
from .meters.guard import MeterGuard
from .tracker import meter_delta

__all__ = ["ATTRIBUTION_RULE", "TOP", "SharedMeter", "acquire", "release", "shared_meters", "union_s"]

ATTRIBUTION_RULE = (
    "energy between two accepted reads of a meter is shared among the calls in flight in proportion to weight "
    "x time in flight (weight: the sequences a call is processing, 1 when unknown; power taken as constant between "
    "the two reads); time with no call in flight belongs to no call, so per-call energies add up to the meter's "
    "energy over the union of the calls' windows")

TOP = "*"  # the key of a call's own totals (its segments are keyed by name)

_REGISTRY: dict[Hashable, SharedMeter] = {}
_REGISTRY_LOCK = threading.Lock()
# trackers garbage-collected without close(): their meters, released at the next registry operation (a finaliser
# may run inside any allocation, even one made while the registry lock is held, so it only appends here)
_DROPPED: deque[list[SharedMeter]] = deque()


def _key(meter: Meter) -> Hashable:
    try:
        k = getattr(meter, "share_key", None)
    except Exception:  # noqa: BLE001 - a broken meter is shared by identity
        k = None
    return ("id", id(meter)) if k is None else (type(meter).__name__, k)


def _drain() -> None:
    while _DROPPED:
        try:
            shared = _DROPPED.popleft()
        except IndexError:
            return
        for sm in shared:
            release(sm)


def acquire(meter: Meter, *, owned: bool = False) -> SharedMeter:
    """The process's :class:`SharedMeter` for *meter*'s device (created on first use). *owned*: *meter* was made
    for this caller, so a duplicate of a device already shared is closed at once."""
    _drain()
    with _REGISTRY_LOCK:
        key = _key(meter)
        sm = _REGISTRY.get(key)
        if sm is None:
            sm = _REGISTRY[key] = SharedMeter(meter, key)
        elif sm.meter is not meter and owned:
            _close_quietly(meter)
        sm.refs += 1
        return sm


def release(sm: SharedMeter) -> None:
    """Let go of *sm*; the last one out closes its meter."""
    with _REGISTRY_LOCK:
        sm.refs -= 1
        if sm.refs > 0:
            return
        if _REGISTRY.get(sm.key) is sm:
            del _REGISTRY[sm.key]
    _close_quietly(sm.meter)


def shared_meters() -> list[SharedMeter]:
    """The meters shared in this process now (for tests and diagnostics)."""
    _drain()
    with _REGISTRY_LOCK:
        return list(_REGISTRY.values())


def _close_quietly(meter: Meter) -> None:
    with contextlib.suppress(Exception):  # closing never breaks the user's run
        meter.close()


class _Slot:
    """One call on one shared meter: its weight, its segment, and what it has been paid.

    A *clean* slot is paid lazily: since its mark (an accepted read) it has had one weight and one segment, so its
    share is ``w x (G - g0)`` (see :class:`SharedMeter`). A *dirty* slot had an event between two accepted reads
    (a new weight, a refused read at its own edge); its pieces since the last accepted read wait in ``pend`` for
    the next one, which pays them and makes it clean again.
    """

    __slots__ = (
        "dirty",
        "energy",
        "errors",
        "fresh",
        "g0",
        "gaps",
        "meas_s",
        "pend",
        "s_mark",
        "seg",
        "t0",
        "t_mark",
        "w",
    )

    def __init__(self, seg: str, w: float) -> None:
        self.w = w
        self.seg = seg
        self.fresh = False  # its first read was refused: its time until the next accepted read is a gap
        self.dirty = False
        self.g0: dict[str, float] = {}  # G at its mark (clean)
        self.t0 = 0.0  # time of its mark (clean)
        self.pend: dict[str, list[float]] = {}  # dirty: segment -> [weight x S share, seconds, first time]
        self.s_mark = 0.0  # dirty: S and time where its current piece began
        self.t_mark = 0.0
        self.energy: dict[str, dict[str, float]] = {}  # TOP or segment -> component -> J
        self.meas_s: dict[str, float] = {}  # TOP or segment -> seconds measured
        self.gaps: dict[str, list[tuple[float, float]]] = {}  # TOP or segment -> unmeasured time pieces
        self.errors: list[str] = []

    def gap(self, key: str, t0: float, t1: float) -> None:
        if t1 > t0:
            self.gaps.setdefault(key, []).append((t0, t1))

    def pay(self, key: str, joules: Mapping[str, float], secs: float) -> None:
        e = self.energy.get(key)
        if e is None:
            self.energy[key] = dict(joules)
        else:
            for c, v in joules.items():
                e[c] = e.get(c, 0.0) + v
        self.meas_s[key] = self.meas_s.get(key, 0.0) + secs

    def err(self, msg: str) -> None:
        if msg not in self.errors and len(self.errors) < 8:
            self.errors.append(msg)


class SharedMeter:
    """One meter of this process and the calls in flight on it (see the module docstring).

    Bookkeeping in O(1) per event for the calls not involved: ``S`` is the integral of 1 / (total weight in
    flight) over time, advanced at every event; at each accepted read, ``G[c] += P[c] x (S - S at the previous
    read)``, with ``P`` the component's mean power between the two reads. A call in flight over a stretch of
    reads with a constant weight ``w`` and segment is owed ``w x (G_now - G_then)``: its share of each interval,
    weight x time over total weight x time, times the interval's energy.
    """

    def __init__(self, meter: Meter, key: Hashable) -> None:
        self.meter = meter
        self.key = key
        self.guard = MeterGuard(meter)
        self.name = self.guard.name
        self.refs = 0
        self.failed: str | None = None  # the latest reason a read was refused
        self._lock = threading.Lock()
        self._slots: set[_Slot] = set()
        self._dirty: set[_Slot] = set()
        self._w = 0.0  # total weight in flight
        self._t: float | None = None  # the last event
        self._S = 0.0
        self._G: dict[str, float] = dict.fromkeys(self.guard.components, 0.0)
        self._anchor: Reading | None = None  # the last accepted read: when, and S then
        self._anchor_t = 0.0
        self._anchor_S = 0.0

    # -- events (each under the lock: time, read, bookkeeping) ----------------------------------------
    def open(self, seg: str, w: float, clock: Callable[[], float]) -> tuple[_Slot, float]:
        s = _Slot(seg, w)
        with self._lock:
            t = self._advance(clock())
            why = self._read(t)
            self._slots.add(s)
            self._w += w
            if why is None:
                s.g0, s.t0 = dict(self._G), t
            else:
                s.fresh = True
                s.err(why)
                self._make_dirty(s, t, fresh=True)
        return s, t

    def switch(self, s: _Slot, seg: str, clock: Callable[[], float]) -> float:
        with self._lock:
            t = self._advance(clock())
            why = self._read(t)
            if why is None:
                self._pay_lazy(s, t)  # its old segment up to this read
            else:
                s.err(why)  # the interval runs on: the call is measured, its segments there are not
                self._make_dirty(s, t)
            s.seg = seg
            return t

    def weigh(self, s: _Slot, w: float, clock: Callable[[], float]) -> None:
        w = max(float(w), 1e-9)
        with self._lock:
            if s not in self._slots or w == s.w:
                s.w = w
                return
            t = self._advance(clock())
            self._make_dirty(s, t)  # its share so far at the old weight, the rest at the new one
            self._w += w - s.w
            s.w = w

    def close(self, s: _Slot, clock: Callable[[], float]) -> float:
        with self._lock:
            t = self._advance(clock())
            why = self._read(t)
            if s in self._slots:
                if why is None:
                    self._pay_lazy(s, t)
                else:  # its time since the last accepted read is not known
                    s.err(why)
                    self._make_dirty(s, t)
                    self._unpaid(s, t)
                self._slots.discard(s)
                self._dirty.discard(s)
                self._w = max(self._w - s.w, 0.0) if self._slots else 0.0
            return t

    # -- internals -------------------------------------------------------------------------------------
    def _advance(self, t: float) -> float:
        last = self._t
        if last is not None:
            if t < last:
                t = last  # the clock is monotonic; equal times under a coarse clock
            elif self._w > 0:
                self._S += (t - last) / self._w
        self._t = t
        return t

    def _pay_lazy(self, s: _Slot, t: float) -> None:
        """A clean slot: pay what it is owed since its mark (up to the last accepted read, at *t*) and mark it."""
        if s.dirty:
            return
        g = self._G
        owed = {c: s.w * (v - s.g0.get(c, 0.0)) for c, v in g.items()}
        secs = self._anchor_t - s.t0 if self._anchor is not None else 0.0
        if secs > 0:
            s.pay(TOP, owed, secs)
            s.pay(s.seg, owed, secs)
        s.g0, s.t0 = dict(g), max(s.t0, self._anchor_t)

    def _make_dirty(self, s: _Slot, t: float, fresh: bool = False) -> None:
        """An event of *s* between accepted reads: bank its piece up to *t* (paying its clean part first)."""
        if not s.dirty:
            if not fresh:
                self._pay_lazy(s, t)
            s.dirty = True
            self._dirty.add(s)
            s.s_mark, s.t_mark = (self._S, t) if fresh else (self._anchor_S, self._anchor_t)
        f, secs = s.w * (self._S - s.s_mark), t - s.t_mark
        if secs > 0 or f > 0:
            p = s.pend.get(s.seg)
            if p is None:
                s.pend[s.seg] = [f, secs, s.t_mark]
            else:
                p[0] += f
                p[1] += secs
        s.s_mark, s.t_mark = self._S, t

    def _read(self, t: float) -> str | None:
        """Read the meter at *t*; on an accepted read settle the interval since the last one. The reason of a
        refused read, else None."""
        errors: list[str] = []
        r = self.guard.read(errors)
        if r is None:
            self.failed = self.guard.failed or "not read"
            return errors[-1] if errors else f"{self.name}: {self.failed}"
        errs: list[str] = []
        energy = None
        span = t - self._anchor_t
        if self._anchor is not None:
            energy = meter_delta(self.guard, self.name, self._anchor, r, errs)
        if energy is not None and span > 0:
            dS = self._S - self._anchor_S
            per_s = {c: v / span for c, v in energy.items()}
            for c, p in per_s.items():
                self._G[c] = self._G.get(c, 0.0) + p * dS
            for s in list(self._dirty):
                self._resolve(s, t, per_s)
        elif self._slots and (self._anchor is not None or self._dirty):
            if not errs and self._anchor is None:
                errs.append(f"{self.name}: no accepted read before")
            for s in list(self._slots):  # a counter fault (or no read) before: their time since then is a gap
                for e in errs:
                    s.err(e)
                self._make_dirty(s, t)
                self._unpaid(s, t)
        self._anchor, self._anchor_t, self._anchor_S = r, t, self._S
        return None

    def _resolve(self, s: _Slot, t: float, per_s: Mapping[str, float]) -> None:
        """A dirty slot at an accepted read: its pieces are paid (or, for a fresh one, a gap); clean again."""
        self._make_dirty(s, t)
        if s.fresh:
            self._unpaid(s, t)
            return
        share = sum(p[0] for p in s.pend.values())
        secs = sum(p[1] for p in s.pend.values())
        s.pay(TOP, {c: p * share for c, p in per_s.items()}, secs)
        if len(s.pend) == 1:
            seg, (sh, sec, _first) = next(iter(s.pend.items()))
            s.pay(seg, {c: p * sh for c, p in per_s.items()}, sec)
        else:  # it moved between segments at a refused read: its segments' split here is not known
            for seg, (_sh, sec, first) in s.pend.items():
                s.gap(seg, first, first + sec)
        self._clean(s, t)

    def _unpaid(self, s: _Slot, t: float) -> None:
        """The dirty slot's pending time is a coverage gap (no accepted read brackets it); clean again."""
        if s.pend:
            first = min(p[2] for p in s.pend.values())
            s.gap(TOP, first, t)
            for seg, (_sh, sec, f) in s.pend.items():
                s.gap(seg, f, f + sec)
        self._clean(s, t)

    def _clean(self, s: _Slot, t: float) -> None:
        s.pend.clear()
        s.fresh = False
        s.dirty = False
        self._dirty.discard(s)
        s.g0, s.t0 = dict(self._G), t


def union_s(pieces: Iterable[tuple[float, float]]) -> float:
    total, end = 0.0, None
    for a, b in sorted(pieces):
        if end is None or a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total
