"""Named measurement windows over a set of meters (Zeus-style).

>>> tracker = PhaseTracker()                 # meters picked by scer_hf.core.meters.auto()
>>> with tracker.phase("prefill") as w:
...     run_prefill()
...     w.add(tokens=128)
>>> tracker.measurements[-1].energy_j

Windows may nest and overlap. A window reads every meter at its two edges and
nowhere else. When CUDA is initialised, both edges synchronise it first, so queued
GPU work is charged to the window that launched it. Every read goes through one
:class:`~scer_hf.core.meters.guard.MeterGuard`: a meter that raises, returns a reading that
is not believable, or is too slow is warned about once, and the windows it touched
(an edge, or a fault while open) are marked unmeasured with the reason; the user's
code keeps running.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from ..errors import WindowError
from .coverage import Coverage, tally
from .meters.base import Meter, Reading, now_s
from .meters.guard import MeasurementWarning, MeterGuard

__all__ = ["Measurement", "PhaseTracker", "Window", "MeasurementWarning", "merge_measurements", "merge_all",
           "meter_delta"]


def _freeze(d: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class Measurement:
    """What one window (or several, merged) measured. Energy in joules per component, IT energy (no PUE).

    ``energy_j`` holds what was measured, per component; ``measured`` is True only when every meter measured
    every window; ``coverage`` (:class:`~scer_hf.core.coverage.Coverage`) says how much was measured and holds
    the per-unit basis; ``errors`` are the reasons, one message per kind, and ``error_counts`` how often each
    kind happened (bounded, so a server running for weeks keeps bounded state).
    """

    name: str
    start_s: float
    end_s: float
    energy_j: Mapping[str, float]
    measured: bool = True
    method: str = "counter"  # counter | estimate | mixed | unmeasured (nothing measured) | none (nothing to meter)
    counts: Mapping[str, float] = field(default_factory=dict)
    parent: str | None = None
    errors: tuple[str, ...] = ()  # the reasons, one message per kind (bounded: scer_hf.core.coverage.tally)
    windows: int = 1  # how many windows were merged into this one
    duration_s: float = -1.0  # end_s - start_s for one window; the sum for merged ones
    coverage: Coverage | None = None  # None: derived from ``measured`` (every meter measured, or none)
    error_counts: Mapping[str, int] = field(default_factory=dict)  # message of each kind -> how many times

    def __post_init__(self) -> None:
        object.__setattr__(self, "energy_j", _freeze(self.energy_j))
        object.__setattr__(self, "counts", _freeze(self.counts))
        tallied = tally(self.error_counts or self.errors) if (self.errors or self.error_counts) else {}
        object.__setattr__(self, "error_counts", _freeze(tallied))
        object.__setattr__(self, "errors", tuple(tallied))
        if self.duration_s < 0:
            object.__setattr__(self, "duration_s", self.end_s - self.start_s)
        if self.coverage is None:
            if self.measured:
                cov = Coverage.full(self.duration_s, self.energy_j, self.counts, self.windows)
            else:  # what was measured was measured over the whole window; nothing is a per-unit basis
                d = max(self.duration_s, 0.0)
                cov = Coverage(self.windows, 0, d, 0.0, dict.fromkeys(self.energy_j, d))
            object.__setattr__(self, "coverage", cov)

    @property
    def total_energy_j(self) -> float:
        """The measured energy (every component that was measured, in the windows it was measured)."""
        return float(sum(self.energy_j.values()))

    @property
    def cov(self) -> Coverage:
        assert self.coverage is not None
        return self.coverage


def _method_of(methods: set[str]) -> str:
    methods = methods - {"unmeasured"}
    if not methods:
        return "unmeasured"
    return methods.pop() if len(methods) == 1 else "mixed"


def merge_measurements(a: Measurement, b: Measurement) -> Measurement:
    """Sum two measurements of the same phase (energy, duration, counts, coverage, error tallies)."""
    energy = dict(a.energy_j)
    for k, v in b.energy_j.items():
        energy[k] = energy.get(k, 0.0) + v
    counts = dict(a.counts)
    for k, v in b.counts.items():
        counts[k] = counts.get(k, 0) + v
    return Measurement(
        name=a.name, start_s=min(a.start_s, b.start_s), end_s=max(a.end_s, b.end_s), energy_j=energy,
        measured=a.measured and b.measured, method=_method_of({a.method, b.method}),
        counts=counts, parent=a.parent,
        error_counts=tally(a.error_counts, b.error_counts) if a.error_counts or b.error_counts else {},
        windows=a.windows + b.windows,
        duration_s=a.duration_s + b.duration_s, coverage=a.cov.merge(b.cov),
    )


def merge_all(ms: Sequence[Measurement]) -> Measurement:
    """:func:`merge_measurements` over a list of measurements of one phase, in one pass."""
    if len(ms) == 1:
        return ms[0]
    energy: dict[str, float] = {}
    counts: dict[str, float] = {}
    methods: set[str] = set()
    tallies = []
    for m in ms:
        for k, v in m.energy_j.items():
            energy[k] = energy.get(k, 0.0) + v
        for k, v in m.counts.items():
            counts[k] = counts.get(k, 0) + v
        methods.add(m.method)
        if m.error_counts:
            tallies.append(m.error_counts)
    first = ms[0]
    return Measurement(
        name=first.name, start_s=min(m.start_s for m in ms), end_s=max(m.end_s for m in ms), energy_j=energy,
        measured=all(m.measured for m in ms), method=_method_of(methods), counts=counts, parent=first.parent,
        error_counts=tally(*tallies) if tallies else {}, windows=sum(m.windows for m in ms),
        duration_s=sum(m.duration_s for m in ms), coverage=Coverage.merge_all([m.cov for m in ms]),
    )


class Window:
    """An open window; ``add(**counts)`` attaches counts (tokens, queries, samples, flops...)."""

    def __init__(self, name: str, parent: str | None, start_s: float, readings: dict[int, Reading | None]):
        self.name = name
        self.parent = parent
        self.start_s = start_s
        self.readings = readings
        self.counts: dict[str, float] = {}
        self.errors: list[str] = []
        self.measurement: Measurement | None = None

    def add(self, **counts: float) -> None:
        for k, v in counts.items():
            self.counts[k] = self.counts.get(k, 0) + v


def _cuda_sync() -> None:
    torch = sys.modules.get("torch")  # never import torch ourselves
    if torch is None:
        return
    try:
        if torch.cuda.is_initialized():
            torch.cuda.synchronize()
    except (RuntimeError, AttributeError):
        pass


class PhaseTracker:
    """Measures named windows over one or more meters.

    Args:
        meters: a meter, a list of meters, or ``None`` for :func:`scer_hf.core.meters.auto`.
        sync_cuda: synchronise CUDA at window edges (default: whenever CUDA is initialised).
        clock: the clock for window edges (defaults to the monotonic clock meters use).
        keep: keep every finished window in :attr:`measurements` (default True).
    """

    def __init__(
        self,
        meters: Meter | Sequence[Meter] | None = None,
        *,
        sync_cuda: bool | None = None,
        clock: Callable[[], float] | None = None,
        keep: bool = True,
    ) -> None:
        if meters is None:
            from .meters.auto import auto

            meters = auto()
        self.meters: list[Meter] = [meters] if isinstance(meters, Meter) else list(meters)
        self.guards: list[MeterGuard] = [MeterGuard(m) for m in self.meters]
        self.choices: dict[str, str] = dict(getattr(meters, "choices", {}) or {})
        self.sync_cuda = sync_cuda
        self._clock = clock or now_s
        self._open: dict[str, Window] = {}
        self.keep = keep
        self.measurements: list[Measurement] = []
        self.failed_meters: dict[str, str] = {}
        self.on_edge: Callable[[float], None] | None = None  # e.g. a live grid-intensity reading

    def __repr__(self) -> str:
        comps = [c for m in self.meters for c in m.components]
        return (f"<PhaseTracker components={comps} open={list(self._open)} "
                f"measurements={len(self.measurements)}>")

    # -- edges -------------------------------------------------------------------------
    def _edge(self, errors: list[str]) -> tuple[float, dict[int, Reading | None]]:
        if self.sync_cuda is not False:
            _cuda_sync()
        t = self._clock()
        out: dict[int, Reading | None] = {}
        for i, g in enumerate(self.guards):
            r = out[i] = g.read(errors)
            if r is None:
                self.failed_meters[g.name] = g.failed or "failed"
        if self.on_edge is not None:  # after the reads: a slow hook never skews a window's energy against its time
            with contextlib.suppress(Exception):  # an edge hook never breaks the run
                self.on_edge(t)
        return t, out

    def _edge_errors(self, readings: Mapping[int, Reading | None], errors: list[str]) -> None:
        """The reasons of a shared edge's refused reads (the guard's latest reason for each)."""
        for i, g in enumerate(self.guards):
            if readings.get(i) is None and len(readings) > 0:
                errors.append(f"{g.name}: {g.failed or 'not read'}")

    def read_all(self) -> tuple[float, dict[int, Reading | None]]:
        """One read of every meter (for callers that share edges between windows)."""
        return self._edge([])

    # -- windows -----------------------------------------------------------------------
    @property
    def active(self) -> tuple[str, ...]:
        return tuple(self._open)

    def begin(self, name: str, *, parent: str | None = None, edge: tuple[float, dict] | None = None) -> Window:
        """Open window *name*. Raises :class:`WindowError` if it is already open."""
        if name in self._open:
            raise WindowError(f"measurement window {name!r} is already open; end it first or use another name")
        errors: list[str] = []
        t, readings = edge if edge is not None else self._edge(errors)
        if edge is not None:
            self._edge_errors(readings, errors)
        w = Window(name, parent, t, readings)
        w.errors.extend(errors)
        self._open[name] = w
        return w

    def end(
        self, name: str, *, edge: tuple[float, dict] | None = None, cancel: bool = False, **counts: float
    ) -> Measurement:
        """Close window *name* and return its :class:`Measurement`."""
        w = self._open.pop(name, None)
        if w is None:
            raise WindowError(
                f"measurement window {name!r} is not open (open: {', '.join(self._open) or 'none'})"
            )
        w.add(**counts)
        errors = list(w.errors)
        t, readings = edge if edge is not None else self._edge(errors)
        if edge is not None:
            self._edge_errors(readings, errors)
        meas = self.measure(w, t, readings, errors)
        w.measurement = meas
        if self.keep and not cancel:
            self.measurements.append(meas)
        return meas

    def measure(self, w: Window, t: float, readings: Mapping[int, Reading | None],
                errors: list[str] | None = None) -> Measurement:
        """The :class:`Measurement` of window *w* between its start and the edge (*t*, *readings*).

        Each meter measured the window when both its edge reads were accepted and no counter fault lay between
        them; the components of the others are the window's coverage gaps (:mod:`scer_hf.core.coverage`)."""
        errors = list(w.errors) if errors is None else errors
        energy: dict[str, float] = {}
        missing: list[str] = []
        methods: set[str] = set()
        for i, m in enumerate(self.meters):
            got = self._meter_energy(i, w.readings.get(i), readings.get(i), errors)
            if got is None:
                missing.extend(self.guards[i].components or (self.guards[i].name,))
                continue
            energy.update(got)
            methods.add(m.method)
        if not self.meters:
            errors.append("no meter")
            missing.append("unmeasured")  # a gap of unknown components: never zero energy
        measured = not missing
        cov = Coverage.window(t - w.start_s, energy, missing, w.counts)
        return Measurement(
            name=w.name, start_s=w.start_s, end_s=t, energy_j=energy, measured=measured,
            method=_method_of(methods), counts=dict(w.counts), parent=w.parent, errors=tuple(errors), coverage=cov,
        )

    def _meter_energy(self, i: int, r0: Reading | None, r1: Reading | None,
                      errors: list[str]) -> dict[str, float] | None:
        """Meter *i*'s energy per component between two edge reads, or None when it did not measure."""
        if r0 is None or r1 is None:
            return None
        return meter_delta(self.guards[i], self.meters[i].name, r0, r1, errors)

    def add(self, name: str, **counts: float) -> None:
        """Attach counts to the open window *name*."""
        if name not in self._open:
            raise WindowError(f"measurement window {name!r} is not open")
        self._open[name].add(**counts)

    @contextmanager
    def phase(self, name: str, *, parent: str | None = None, **counts: float) -> Iterator[Window]:
        """``with tracker.phase("eval") as w: ...; w.add(samples=8)``. Ends even on error."""
        w = self.begin(name, parent=parent)
        w.add(**counts)
        try:
            yield w
        finally:
            self.end(name)

    def provenance(self) -> dict[str, Any]:
        """Meter descriptions and the auto choices, for reports."""
        return {
            "meters": [_describe(m) for m in self.meters],
            "choices": dict(self.choices),
            "failed_meters": dict(self.failed_meters),
        }

    def close(self) -> None:
        for g in self.guards:
            g.close()
        for m in self.meters:
            try:
                m.close()
            except Exception as exc:  # noqa: BLE001 - measurement never breaks the user's run
                warnings.warn(f"scer-hf: meter {getattr(m, 'name', m)!r} failed to close ({exc})",
                              MeasurementWarning, stacklevel=2)


def meter_delta(guard: MeterGuard, name: str, r0: Reading, r1: Reading, errors: list[str]) -> dict[str, float] | None:
    """A meter's energy per component between two accepted reads, or None (reasons appended to *errors*) when a
    counter fault lies between them or a counter went backwards."""
    broken = guard.between(r0, r1)
    if broken:
        errors.extend(e for e in broken if e not in errors)
        return None
    out: dict[str, float] = {}
    for comp, e1 in r1.energy_j.items():
        e0 = r0.energy_j.get(comp)
        if e0 is None:
            continue
        delta = e1 - e0
        if delta < 0:  # a counter that went backwards (driver reload): refuse the value
            errors.append(f"{name}: {comp} counter went backwards ({delta:.3f} J)")
            return None
        out[comp] = delta
    return out


def _describe(m: Meter) -> dict[str, Any]:
    try:
        return m.describe()
    except Exception as exc:  # noqa: BLE001 - a broken meter still gets a report
        return {"meter": str(getattr(m, "name", type(m).__name__)), "method": "unmeasured",
                "note": f"describe() failed: {type(exc).__name__}: {exc}"}


def rename(m: Measurement, name: str) -> Measurement:
    return replace(m, name=name)
