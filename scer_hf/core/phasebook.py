"""Logical phases made of several measurement windows (for :class:`scer_hf.SCERCallback`).

A training phase is paused while an evaluation runs: the open window is ended and
a new one begun when training resumes, and the pieces are summed with
:func:`scer_hf.core.tracker.merge_measurements`. Pausing and resuming share one meter
read with the window that starts or ends at the same moment, so no joule is
counted twice or lost between them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

from .meters.base import Meter, Reading, now_s
from .tracker import Measurement, PhaseTracker, Window, merge_measurements

__all__ = ["PhaseBook", "Edge"]

Edge = tuple[float, dict[int, Reading | None]]


class _Phase:
    __slots__ = ("name", "parent", "kind", "done", "window", "closed", "final")

    def __init__(self, name: str, parent: str | None, kind: str, done: Measurement | None) -> None:
        self.name = name
        self.parent = parent
        self.kind = kind
        self.done = done  # merged finished segments (energy, duration), counts excluded
        self.window: Window | _NoMeterWindow | None = None
        self.closed = False
        self.final: Measurement | None = None


class _NoMeterWindow:
    """The window of a process that measures nothing by design (no GPU, host measured elsewhere)."""

    def __init__(self, start_s: float) -> None:
        self.start_s = start_s
        self.readings: dict[int, Reading | None] = {}


class PhaseBook:
    """Named, pausable phases over one :class:`PhaseTracker`."""

    def __init__(self, meters: Sequence[Meter], choices: dict[str, str] | None = None, *,
                 nothing_by_design: bool = False) -> None:
        self.tracker = PhaseTracker(list(meters), keep=False)
        if choices:
            self.tracker.choices.update(choices)
        # False only for a process that measures nothing on purpose (distributed, no GPU, not local rank 0)
        self.has_meters = bool(self.tracker.meters) or not nothing_by_design
        self.phases: dict[str, _Phase] = {}

    # -- edges ---------------------------------------------------------------------------
    def edge(self) -> Edge:
        """One read of every meter, shared by every window that starts or ends now."""
        if not self.has_meters:
            return now_s(), {}
        return self.tracker.read_all()

    # -- phases --------------------------------------------------------------------------
    def open(self, name: str, *, parent: str | None, kind: str, edge: Edge,
             restored: Measurement | None = None) -> None:
        ph = self.phases.get(name)
        if ph is None or ph.closed:
            ph = _Phase(name, parent, kind, restored)
            self.phases.pop(name, None)
            self.phases[name] = ph
        if ph.window is None:
            self._begin(ph, edge)

    def restore_closed(self, m: Measurement, kind: str) -> None:
        ph = _Phase(m.name, m.parent, kind, m)
        ph.closed = True
        ph.final = m
        self.phases[m.name] = ph

    def is_open(self, name: str) -> bool:
        ph = self.phases.get(name)
        return ph is not None and not ph.closed

    def is_running(self, name: str) -> bool:
        ph = self.phases.get(name)
        return ph is not None and not ph.closed and ph.window is not None

    def pause(self, name: str, edge: Edge) -> bool:
        """End the running segment of *name*; False if it was not running."""
        ph = self.phases.get(name)
        if ph is None or ph.closed or ph.window is None:
            return False
        self._end_segment(ph, edge)
        return True

    def resume(self, name: str, edge: Edge) -> None:
        ph = self.phases.get(name)
        if ph is not None and not ph.closed and ph.window is None:
            self._begin(ph, edge)

    def close(self, name: str, edge: Edge, counts: dict[str, float], *, rename: str | None = None,
              kind: str | None = None) -> Measurement | None:
        ph = self.phases.get(name)
        if ph is None or ph.closed:
            return None
        if ph.window is not None:
            self._end_segment(ph, edge)
        m = ph.done or Measurement(name, edge[0], edge[0], {}, measured=False, method="unmeasured",
                                   parent=ph.parent, windows=0, duration_s=0.0)
        m = replace(m, counts=dict(counts), name=rename or name)
        ph.closed, ph.final = True, m
        if rename and rename != name:
            del self.phases[name]
            ph.name = rename
            self.phases[rename] = ph
        if kind:
            ph.kind = kind
        return m

    def cancel(self, name: str) -> Edge | None:
        """Drop open phase *name*; return the edge its running segment started at (if any)."""
        ph = self.phases.pop(name, None)
        if ph is None or ph.window is None:
            return None
        w = ph.window
        if isinstance(w, Window):
            self.tracker.end(name, edge=(w.start_s, w.readings), cancel=True)
        return w.start_s, w.readings

    # -- views ---------------------------------------------------------------------------
    def snapshot(self, name: str, edge: Edge) -> Measurement | None:
        """Phase *name* as of *edge*: finished segments plus the running one (counts empty)."""
        ph = self.phases.get(name)
        if ph is None:
            return None
        if ph.closed:
            return ph.final
        m = ph.done
        if ph.window is not None:
            m = m if m is None else replace(m, counts={})
            seg = self._segment(ph, edge)
            m = seg if m is None else merge_measurements(m, seg)
        return m

    def energy_j(self, name: str, edge: Edge) -> float | None:
        m = self.snapshot(name, edge)
        return None if m is None else m.total_energy_j

    def top_level_energy_j(self, edge: Edge) -> float:
        total = 0.0
        for ph in self.phases.values():
            if ph.parent is None:
                m = self.snapshot(ph.name, edge)
                if m is not None:
                    total += m.total_energy_j
        return total

    def kinds(self) -> dict[str, str]:
        return {n: ph.kind for n, ph in self.phases.items()}

    def provenance(self) -> dict[str, Any]:
        return self.tracker.provenance()

    # -- internals -----------------------------------------------------------------------
    def _begin(self, ph: _Phase, edge: Edge) -> None:
        if self.has_meters:
            ph.window = self.tracker.begin(ph.name, parent=ph.parent, edge=edge)
        else:
            ph.window = _NoMeterWindow(edge[0])

    def _segment(self, ph: _Phase, edge: Edge) -> Measurement:
        """The running segment as of *edge*, without ending it."""
        w = ph.window
        assert w is not None
        if not self.has_meters:
            return Measurement(ph.name, w.start_s, edge[0], {}, measured=True, method="none", parent=ph.parent)
        energy: dict[str, float] = {}
        measured = True
        methods: set[str] = set()
        errors = list(getattr(w, "errors", ()))
        for i, m in enumerate(self.tracker.meters):
            r0, r1 = w.readings.get(i), edge[1].get(i)
            if r0 is None or r1 is None:
                measured = False
                continue
            for comp, e1 in r1.energy_j.items():
                e0 = r0.energy_j.get(comp)
                if e0 is not None and e1 >= e0:
                    energy[comp] = energy.get(comp, 0.0) + (e1 - e0)
            methods.add(m.method)
        method = (methods.pop() if len(methods) == 1 else "mixed") if measured and methods else "unmeasured"
        return Measurement(ph.name, w.start_s, edge[0], energy, measured=measured and bool(methods),
                           method=method, parent=ph.parent, errors=tuple(errors))

    def _end_segment(self, ph: _Phase, edge: Edge) -> None:
        w = ph.window
        ph.window = None
        if isinstance(w, Window):
            seg = self.tracker.end(ph.name, edge=edge)
        else:
            assert w is not None
            seg = Measurement(ph.name, w.start_s, edge[0], {}, measured=True, method="none", parent=ph.parent)
        if ph.done is None:
            ph.done = seg
        else:
            ph.done = merge_measurements(replace(ph.done, counts={}), seg)
