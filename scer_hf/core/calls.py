"""Calls measured on the process's shared meters: :class:`CallTracker` (one per wrapper), :class:`CallHandle` (one
call in flight), :class:`CallEnergy` (what a finished call was attributed) and :func:`aggregate` (many calls of one
phase summed in one pass). The split rule and the shared meters are in :mod:`scer_hf.core.attribution`.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .attribution import _DROPPED, ATTRIBUTION_RULE, TOP, SharedMeter, _Slot, acquire, release, union_s
from .coverage import POWER_WINDOW_MIN_S, Coverage, tally
from .meters.base import Meter, now_s
from .meters.guard import MeterGuard
from .tracker import Measurement, _cuda_sync, _method_of

__all__ = ["CallTracker", "CallHandle", "CallEnergy", "aggregate", "TOP"]


@dataclass
class _Raw:
    """One call's figures for one key (its totals or a segment), before any object is built."""

    d: float
    energy: dict[str, float]
    comp_s: dict[str, float]
    gap_s: dict[str, float]
    gap: float
    methods: set[str]
    errors: list[str]

    @property
    def full(self) -> bool:
        return not self.gap_s and self.gap <= 0


@dataclass
class CallEnergy:
    """What one call was attributed, per meter, for its totals (``TOP``) and each segment."""

    start_s: float
    end_s: float
    seg_s: dict[str, float]
    parts: list[tuple[SharedMeter, _Slot]] = field(default_factory=list)

    def raw(self, key: str = TOP) -> _Raw:
        d = max((self.end_s - self.start_s) if key == TOP else self.seg_s.get(key, 0.0), 0.0)
        energy: dict[str, float] = {}
        comp_s: dict[str, float] = {}
        gap_s: dict[str, float] = {}
        pieces: list[tuple[float, float]] = []
        methods: set[str] = set()
        errors: list[str] = []
        for sm, s in self.parts:
            got = s.energy.get(key, {})
            g = s.gaps.get(key, ())
            gs = union_s(g) if g else 0.0
            pieces.extend(g)
            meas = s.meas_s.get(key, 0.0)
            for c in sm.guard.components or (sm.name,):
                if c in got:
                    energy[c] = got[c]
                if meas > 0:
                    comp_s[c] = meas
                if gs > 0:
                    gap_s[c] = gs
            if meas > 0:
                methods.add(sm.meter.method)
            if g:
                errors.extend(s.errors)
        if not self.parts:
            errors.append("no meter")
            gap_s["unmeasured"] = d
            pieces.append((0.0, d))
        gap = union_s(pieces) if pieces else 0.0
        if not methods and not gap_s and gap <= 0 and self.parts:  # an empty segment: nothing to miss
            methods = {sm.meter.method for sm, _ in self.parts}
        return _Raw(d, energy, comp_s, gap_s, gap, methods, errors)

    def measurement(self, name: str, key: str = TOP, *, counts: Mapping[str, float] | None = None,
                    parent: str | None = None) -> Measurement:
        """The :class:`Measurement` of the call's totals (``key=TOP``) or one segment; its counts are the per-unit
        basis when the whole (call or segment) was measured."""
        return aggregate(name, [(self, key, counts or {})], parent)


def aggregate(name: str, calls: Sequence[tuple[CallEnergy, str, Mapping[str, float]]],
              parent: str | None = None) -> Measurement:
    """One phase's :class:`Measurement` over many calls, each ``(call, key, counts)``, summed in one pass: the same
    as merging each call's own measurement (:func:`scer_hf.core.tracker.merge_measurements`), without building them.
    A call's counts and energy are the per-unit basis only when that call (or segment) was fully measured."""
    energy: dict[str, float] = {}
    comp_s: dict[str, float] = {}
    gap_s: dict[str, float] = {}
    basis_e: dict[str, float] = {}
    counts: dict[str, float] = {}
    basis_c: dict[str, float] = {}
    power: dict[str, tuple[float, float]] = {}
    methods: set[str] = set()
    errors: list[str] = []
    n_full = 0
    dur = measured = 0.0
    for call, key, c in calls:
        r = call.raw(key)
        full = r.full
        dur += r.d
        measured += r.d if full else max(r.d - r.gap, 0.0)
        n_full += full
        methods |= r.methods or {"unmeasured"}
        errors += r.errors
        for acc, m in ((energy, r.energy), (comp_s, r.comp_s), (gap_s, r.gap_s), (counts, c)):
            for k, v in m.items():
                acc[k] = acc.get(k, 0.0) + v
        if full:
            for acc, m in ((basis_e, r.energy), (basis_c, c)):
                for k, v in m.items():
                    acc[k] = acc.get(k, 0.0) + v
        for k, v in r.energy.items():
            s = r.comp_s.get(k, 0.0)
            if s >= POWER_WINDOW_MIN_S:
                p, lo_hi = v / s, power.get(k)
                power[k] = (p, p) if lo_hi is None else (min(lo_hi[0], p), max(lo_hi[1], p))
    n = len(calls)
    cov = Coverage(n, n_full, dur, measured, comp_s, gap_s, basis_e, basis_c, power)
    return Measurement(name=name, start_s=min(c.start_s for c, _, _ in calls), end_s=max(c.end_s for c, _, _ in calls),
                       energy_j=energy, measured=n_full == n, method=_method_of(methods), counts=counts, parent=parent,
                       error_counts=tally(errors) if errors else {}, windows=n, duration_s=dur, coverage=cov)


class CallHandle:
    """One call in flight: :meth:`switch` between segments, :meth:`weigh` it, :meth:`finish` it."""

    def __init__(self, tracker: CallTracker, seg: str, weight: float) -> None:
        self._tr = tracker
        tracker._edge_sync()
        t = tracker.clock()
        self.parts: list[tuple[SharedMeter, _Slot]] = []
        for sm in tracker.shared:
            slot, t_read = sm.open(seg, weight, tracker.clock)
            if not self.parts:
                t = t_read  # the call's edge: when its first meter was read
            self.parts.append((sm, slot))
        self.start_s = t
        self._seg, self._seg_t = seg, t
        self.seg_s: dict[str, float] = {}
        self.done = False
        tracker._edge_hook(t)

    @property
    def segment(self) -> str:
        return self._seg

    def _mark(self, t: float) -> None:
        self.seg_s[self._seg] = self.seg_s.get(self._seg, 0.0) + max(t - self._seg_t, 0.0)
        self._seg_t = t

    def switch(self, seg: str) -> None:
        """Move to segment *seg* at one read of every meter (the edge the two segments share)."""
        if self.done or seg == self._seg:
            return
        self._tr._edge_sync()
        t = self._tr.clock()
        for i, (sm, s) in enumerate(self.parts):
            t_read = sm.switch(s, seg, self._tr.clock)
            t = t_read if i == 0 else t  # the edge: when the first meter was read
        self._mark(t)
        self._seg = seg
        self._tr._edge_hook(t)

    def weigh(self, weight: float) -> None:
        """The sequences this call processes from now on (its share of what is in flight)."""
        if not self.done:
            for sm, s in self.parts:
                sm.weigh(s, weight, self._tr.clock)

    def finish(self) -> CallEnergy:
        """Close the call (one read of every meter) and return what it was attributed."""
        if not self.done:
            self.done = True
            self._tr._edge_sync()
            t = self._tr.clock()
            for i, (sm, s) in enumerate(self.parts):
                t_read = sm.close(s, self._tr.clock)
                t = t_read if i == 0 else t
            self._mark(t)
            self._tr._finished(self)
            self._tr._edge_hook(t)
            self.end_s = t
        return CallEnergy(self.start_s, self.end_s, dict(self.seg_s), list(self.parts))

    def abandon(self) -> None:
        """Leave no call in flight (its energy is dropped; used when measurement itself failed)."""
        if not self.done:
            self.done = True
            self.end_s = self._tr.clock()
            for sm, s in self.parts:
                with contextlib.suppress(Exception):  # the call is dropped either way
                    sm.close(s, self._tr.clock)
            self._tr._finished(self)


class CallTracker:
    """Measures concurrent calls over shared meters (one per wrapper; the meters are the process's).

    ``meters``: a meter, a list, or ``None`` for :func:`scer_hf.core.meters.auto`; ``owned``: the meters were
    made for this tracker (a duplicate of a device already shared is closed). ``.meters``, ``.guards`` and
    ``.choices`` are as on :class:`~scer_hf.core.tracker.PhaseTracker`; ``.active`` lists the calls in flight.
    """

    def __init__(self, meters: Meter | Sequence[Meter] | None = None, *, owned: bool = False,
                 sync_cuda: bool | None = None, clock: Callable[[], float] | None = None) -> None:
        if meters is None:
            from .meters.auto import auto

            meters, owned = auto(), True
        ms = [meters] if isinstance(meters, Meter) else list(meters)
        self.choices: dict[str, str] = dict(getattr(meters, "choices", {}) or {})
        self.shared = [acquire(m, owned=owned) for m in ms]
        self.sync_cuda = sync_cuda
        self.clock = clock or now_s
        self.on_edge: Callable[[float], None] | None = None
        self._lock = threading.Lock()
        self._active: set[CallHandle] = set()
        self._closed = False
        self._finalizer = weakref.finalize(self, _DROPPED.append, list(self.shared))

    @property
    def meters(self) -> list[Meter]:
        return [sm.meter for sm in self.shared]

    @property
    def guards(self) -> list[MeterGuard]:
        return [sm.guard for sm in self.shared]

    @property
    def active(self) -> tuple[CallHandle, ...]:
        """The calls in flight now."""
        with self._lock:
            return tuple(self._active)

    @property
    def failed_meters(self) -> dict[str, str]:
        return {sm.name: sm.failed for sm in self.shared if sm.failed}

    def __repr__(self) -> str:
        comps = [c for sm in self.shared for c in sm.guard.components]
        return f"<CallTracker components={comps} in_flight={len(self._active)}>"

    def start(self, segment: str, weight: float = 1.0) -> CallHandle:
        """A new call in flight, in *segment* (one read of every meter)."""
        h = CallHandle(self, segment, max(float(weight), 1e-9))
        with self._lock:
            self._active.add(h)
        return h

    def _finished(self, h: CallHandle) -> None:
        with self._lock:
            self._active.discard(h)

    def _edge_sync(self) -> None:
        if self.sync_cuda is not False:
            _cuda_sync()

    def _edge_hook(self, t: float) -> None:
        if self.on_edge is not None:  # after the reads: a slow hook never skews a window's energy
            with contextlib.suppress(Exception):  # an edge hook never breaks the run
                self.on_edge(t)

    def provenance(self) -> dict[str, Any]:
        from .tracker import _describe

        return {"meters": [_describe(sm.meter) for sm in self.shared], "choices": dict(self.choices),
                "failed_meters": self.failed_meters, "attribution": ATTRIBUTION_RULE}

    def close(self) -> None:
        """Let go of the shared meters (the last tracker of a device closes its meter). Safe to call twice."""
        if not self._closed:
            self._closed = True
            self._finalizer.detach()
            for sm in self.shared:
                release(sm)
