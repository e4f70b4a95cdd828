"""Named measurement windows over a set of meters (Zeus-style).

>>> tracker = PhaseTracker()                 # meters picked by scer_hf.core.meters.auto()
>>> with tracker.phase("prefill") as w:
...     run_prefill()
...     w.add(tokens=128)
>>> tracker.measurements[-1].energy_j

Windows may nest and overlap. A window reads every meter at its two edges and
nowhere else. When CUDA is initialised, both edges synchronise it first, so queued
GPU work is charged to the window that launched it. A meter that fails is caught
narrowly, warned about once, and the windows it touched are marked unmeasured;
the user's code keeps running.
"""

from __future__ import annotations

import sys
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Callable, Iterator, Mapping, Sequence

from ..errors import MeterError, WindowError
from .meters.base import Meter, Reading, now_s

__all__ = ["Measurement", "PhaseTracker", "Window", "MeasurementWarning", "merge_measurements"]


class MeasurementWarning(UserWarning):
    """A meter failed; the affected windows are marked unmeasured."""


def _freeze(d: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class Measurement:
    """What one window measured. Energy in joules per component, IT energy (no PUE)."""

    name: str
    start_s: float
    end_s: float
    energy_j: Mapping[str, float]
    measured: bool = True
    method: str = "counter"  # counter | estimate | mixed | unmeasured
    counts: Mapping[str, float] = field(default_factory=dict)
    parent: str | None = None
    errors: tuple[str, ...] = ()
    windows: int = 1  # how many windows were merged into this one
    duration_s: float = -1.0  # end_s - start_s for one window; the sum for merged ones

    def __post_init__(self) -> None:
        object.__setattr__(self, "energy_j", _freeze(self.energy_j))
        object.__setattr__(self, "counts", _freeze(self.counts))
        if self.duration_s < 0:
            object.__setattr__(self, "duration_s", self.end_s - self.start_s)

    @property
    def total_energy_j(self) -> float:
        return float(sum(self.energy_j.values()))


def _method_of(methods: set[str]) -> str:
    if not methods:
        return "unmeasured"
    return methods.pop() if len(methods) == 1 else "mixed"


def merge_measurements(a: Measurement, b: Measurement) -> Measurement:
    """Sum two measurements of the same phase (energy, duration, counts)."""
    energy = dict(a.energy_j)
    for k, v in b.energy_j.items():
        energy[k] = energy.get(k, 0.0) + v
    counts = dict(a.counts)
    for k, v in b.counts.items():
        counts[k] = counts.get(k, 0) + v
    methods = {a.method, b.method} - {"unmeasured"}
    return Measurement(
        name=a.name, start_s=min(a.start_s, b.start_s), end_s=max(a.end_s, b.end_s), energy_j=energy,
        measured=a.measured and b.measured,
        method=_method_of(methods) if a.measured and b.measured else "unmeasured",
        counts=counts, parent=a.parent, errors=a.errors + b.errors, windows=a.windows + b.windows,
        duration_s=a.duration_s + b.duration_s,
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
        self.choices: dict[str, str] = dict(getattr(meters, "choices", {}) or {})
        self.sync_cuda = sync_cuda
        self._clock = clock or now_s
        self._open: dict[str, Window] = {}
        self._warned: set[int] = set()
        self.keep = keep
        self.measurements: list[Measurement] = []
        self.failed_meters: dict[str, str] = {}

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
        for i, m in enumerate(self.meters):
            try:
                out[i] = m.read()
            except (MeterError, OSError, ValueError, ArithmeticError) as exc:
                out[i] = None
                msg = f"{m.name}: {exc}"
                errors.append(msg)
                self.failed_meters[m.name] = str(exc)
                if i not in self._warned:
                    self._warned.add(i)
                    warnings.warn(
                        f"scer-hf: meter {m.name!r} failed ({exc}); affected phases are marked "
                        "unmeasured and your run continues",
                        MeasurementWarning, stacklevel=4,
                    )
        return t, out

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
        energy: dict[str, float] = {}
        methods: set[str] = set()
        measured = True
        for i, m in enumerate(self.meters):
            r0, r1 = w.readings.get(i), readings.get(i)
            if r0 is None or r1 is None:
                measured = False
                continue
            for comp, e1 in r1.energy_j.items():
                e0 = r0.energy_j.get(comp)
                if e0 is None:
                    continue
                delta = e1 - e0
                if delta < 0:  # a counter that went backwards (driver reload): refuse the value
                    measured = False
                    errors.append(f"{m.name}: {comp} counter went backwards ({delta:.3f} J)")
                    continue
                energy[comp] = energy.get(comp, 0.0) + delta
            methods.add(m.method)
        if not self.meters:
            measured = False
            errors.append("no meter")
        meas = Measurement(
            name=name, start_s=w.start_s, end_s=t, energy_j=energy, measured=measured,
            method=_method_of(set(methods)) if measured else "unmeasured",
            counts=dict(w.counts), parent=w.parent, errors=tuple(errors),
        )
        w.measurement = meas
        if self.keep and not cancel:
            self.measurements.append(meas)
        return meas

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
            "meters": [m.describe() for m in self.meters],
            "choices": dict(self.choices),
            "failed_meters": dict(self.failed_meters),
        }

    def close(self) -> None:
        for m in self.meters:
            m.close()


def rename(m: Measurement, name: str) -> Measurement:
    return replace(m, name=name)
