"""Logical phases made of several measurement windows (for :class:`scer_hf.SCERCallback` and ``track_training``).

A phase is a run of *segments*, each a window between two meter reads:

- **Pause.** A training phase is paused while an evaluation runs: its segment ends with the same meter read that
  starts the evaluation and a new one begins with the read that ends it. Pieces are summed with
  :func:`scer_hf.core.tracker.merge_measurements`, so no joule is counted twice or lost between them.
- **Tick.** :meth:`PhaseBook.tick` ends every running segment at a read and begins the next one at the same read.
  The callback ticks at the reads it makes anyway (projection samples, logs, saves), so a failed read costs the
  coverage of the two segments around it, not the whole phase (:mod:`scer_hf.core.coverage`).
- **Counts per segment.** With ``counters`` (a function returning the run's cumulative counters, e.g. tokens and
  steps), each segment records how much they moved; a phase's per-unit basis is then the counts of its fully
  measured segments, so energy and units come from the same windows. Counts the counters do not cover (samples,
  FLOPs) are shared out by measured steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from .coverage import Coverage, fill
from .meters.base import Meter, Reading, now_s
from .tracker import Measurement, PhaseTracker, Window, merge_measurements

__all__ = ["PhaseBook", "Edge", "filled_energy_j"]

Edge = tuple[float, dict[int, Reading | None]]
Counters = Callable[[], Mapping[str, float]]


class _Phase:
    __slots__ = ("c0", "closed", "done", "final", "first_edge", "kind", "name", "parent", "window")

    def __init__(self, name: str, parent: str | None, kind: str, done: Measurement | None) -> None:
        self.name = name
        self.parent = parent
        self.kind = kind
        self.done = done  # merged finished segments (energy, duration, coverage); counts are segment deltas
        self.window: Window | _NoMeterWindow | None = None
        self.closed = False
        self.final: Measurement | None = None
        self.first_edge: Edge | None = None
        self.c0: Mapping[str, float] = {}


class _NoMeterWindow:
    """The window of a process that measures nothing by design (no GPU, host measured elsewhere)."""

    def __init__(self, start_s: float) -> None:
        self.start_s = start_s
        self.readings: dict[int, Reading | None] = {}


def filled_energy_j(m: Measurement | None) -> float | None:
    """Measured plus filled energy of one phase (phase-level fill only), None when a gap cannot be filled."""
    if m is None:
        return None
    f = fill(m.cov, m.energy_j)
    return None if f.unfilled else m.total_energy_j + f.total_j


class PhaseBook:
    """Named, pausable phases over one :class:`PhaseTracker` (see the module docstring)."""

    def __init__(self, meters: Sequence[Meter], choices: dict[str, str] | None = None, *,
                 nothing_by_design: bool = False, counters: Counters | None = None) -> None:
        self.tracker = PhaseTracker(list(meters), keep=False)
        if choices:
            self.tracker.choices.update(choices)
        # False only for a process that measures nothing on purpose (distributed, no GPU, not local rank 0)
        self.has_meters = bool(self.tracker.meters) or not nothing_by_design
        self.phases: dict[str, _Phase] = {}
        self.counters = counters
        self._running: dict[str, _Phase] = {}  # phases with an open window (a tick touches only these)
        self._open: dict[str, _Phase] = {}  # phases not closed yet
        self._children: dict[str, list[str]] = {}  # parent -> its phases' names, in order
        self._closed_cov = Coverage()  # closed top-level phases, summed once when each closes
        self._closed_j: float | None = 0.0

    # -- edges ---------------------------------------------------------------------------
    def edge(self) -> Edge:
        """One read of every meter, shared by every window that starts or ends now."""
        if not self.has_meters:
            return now_s(), {}
        return self.tracker.read_all()

    def tick(self, edge: Edge) -> None:
        """End every running segment at *edge* and begin the next one there (see the module docstring)."""
        for ph in list(self._running.values()):
            if ph.window is not None and ph.window.start_s < edge[0]:
                self._end_segment(ph, edge)
                self._begin(ph, edge)

    def _count(self) -> Mapping[str, float]:
        if self.counters is None:
            return {}
        try:
            return dict(self.counters())
        except Exception:  # noqa: BLE001 - counts of a segment are best effort; the phase's own are exact
            return {}

    # -- phases --------------------------------------------------------------------------
    def open(self, name: str, *, parent: str | None, kind: str, edge: Edge,
             restored: Measurement | None = None) -> None:
        ph = self.phases.get(name)
        if ph is None or ph.closed:
            ph = _Phase(name, parent, kind, restored)
            ph.first_edge = edge
            self.phases.pop(name, None)
            self.phases[name] = ph
            self._open[name] = ph
            self._adopt(ph)
        if ph.window is None:
            self._begin(ph, edge)

    def restore_closed(self, m: Measurement, kind: str) -> None:
        ph = _Phase(m.name, m.parent, kind, m)
        ph.closed = True
        ph.final = m
        self.phases[m.name] = ph
        self._adopt(ph)
        self._closed(ph)

    def _adopt(self, ph: _Phase) -> None:
        if ph.parent is not None:
            kids = self._children.setdefault(ph.parent, [])
            if ph.name not in kids:
                kids.append(ph.name)

    def children(self, name: str) -> list[str]:
        """The names of the phases inside *name* (epochs inside ``train``), in the order they began."""
        return [n for n in self._children.get(name, ()) if n in self.phases]

    def clear(self) -> None:
        """Forget every phase (a new run on the same meters)."""
        self.phases.clear()
        self._running.clear()
        self._open.clear()
        self._children.clear()
        self._closed_cov, self._closed_j = Coverage(), 0.0

    def _closed(self, ph: _Phase) -> None:
        """Add a phase that just closed to the closed top-level sums."""
        if ph.parent is None and ph.final is not None:
            self._closed_cov = self._closed_cov.merge(ph.final.cov)
            e = filled_energy_j(ph.final)
            self._closed_j = None if e is None or self._closed_j is None else self._closed_j + e

    def is_open(self, name: str) -> bool:
        ph = self.phases.get(name)
        return ph is not None and not ph.closed

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
        m = self._with_counts(ph.done, counts, name=rename or name, edge=edge, parent=ph.parent)
        ph.closed, ph.final = True, m
        self._open.pop(name, None)
        self._closed(ph)
        if rename and rename != name:
            del self.phases[name]
            ph.name = rename
            self.phases[rename] = ph
        if kind:
            ph.kind = kind
        return m

    def cancel(self, name: str) -> Edge | None:
        """Drop open phase *name*; return the edge it began at (its time goes back to whatever it paused)."""
        ph = self.phases.pop(name, None)
        if ph is None:
            return None
        self._running.pop(name, None)
        self._open.pop(name, None)
        w = ph.window
        if isinstance(w, Window):
            self.tracker.end(name, edge=(w.start_s, w.readings), cancel=True)
        return ph.first_edge

    # -- views ---------------------------------------------------------------------------
    def snapshot(self, name: str, edge: Edge, counts: Mapping[str, float] | None = None) -> Measurement | None:
        """Phase *name* as of *edge*: finished segments plus the running one, with *counts* (closed: as closed)."""
        ph = self.phases.get(name)
        if ph is None:
            return None
        if ph.closed:
            return ph.final
        m = ph.done
        if ph.window is not None:
            seg = self._segment(ph, edge)
            m = seg if m is None else merge_measurements(m, seg)
        return self._with_counts(m, counts or {}, name=name, edge=edge, parent=ph.parent)

    def energy_j(self, name: str, edge: Edge) -> float | None:
        """Measured plus filled energy of *name* so far (None when a gap cannot be filled)."""
        return filled_energy_j(self.snapshot(name, edge))

    def _open_top(self) -> list[_Phase]:
        return [ph for ph in self._open.values() if ph.parent is None]

    def top_level_energy_j(self, edge: Edge) -> float | None:
        """Measured plus filled energy of the top-level phases so far; None when one of them has an unfillable gap."""
        total = self._closed_j
        for ph in self._open_top():
            e = self.energy_j(ph.name, edge)
            if e is None or total is None:
                return None
            total += e
        return total

    def coverage(self, edge: Edge) -> Coverage:
        """Coverage of the top-level phases so far (the closed ones summed once, as each closed)."""
        cov = self._closed_cov
        for ph in self._open_top():
            m = self.snapshot(ph.name, edge)
            if m is not None:
                cov = cov.merge(m.cov)
        return cov

    def kinds(self) -> dict[str, str]:
        return {n: ph.kind for n, ph in self.phases.items()}

    def provenance(self) -> dict[str, Any]:
        return self.tracker.provenance()

    # -- internals -----------------------------------------------------------------------
    def _begin(self, ph: _Phase, edge: Edge) -> None:
        self._running[ph.name] = ph
        ph.c0 = self._count()
        if self.has_meters:
            ph.window = self.tracker.begin(ph.name, parent=ph.parent, edge=edge)
        else:
            ph.window = _NoMeterWindow(edge[0])

    def _delta(self, ph: _Phase) -> dict[str, float]:
        now = self._count()
        return {k: float(v) - float(ph.c0.get(k, 0.0)) for k, v in now.items() if k in ph.c0}

    def _segment(self, ph: _Phase, edge: Edge) -> Measurement:
        """The running segment as of *edge*, without ending it."""
        w = ph.window
        assert w is not None
        if isinstance(w, Window):
            w2 = Window(w.name, w.parent, w.start_s, w.readings)
            w2.errors = list(w.errors)
            w2.add(**self._delta(ph))
            return self.tracker.measure(w2, edge[0], edge[1])
        return Measurement(ph.name, w.start_s, edge[0], {}, measured=True, method="none", parent=ph.parent,
                           counts=self._delta(ph))

    def _end_segment(self, ph: _Phase, edge: Edge) -> None:
        w = ph.window
        ph.window = None
        self._running.pop(ph.name, None)
        if isinstance(w, Window):
            counts: dict[str, Any] = self._delta(ph)  # keywords of PhaseTracker.end, beside edge= and cancel=
            seg = self.tracker.end(ph.name, edge=edge, **counts)
        else:
            assert w is not None
            seg = Measurement(ph.name, w.start_s, edge[0], {}, measured=True, method="none", parent=ph.parent,
                              counts=self._delta(ph))
        ph.done = seg if ph.done is None else merge_measurements(ph.done, seg)

    @staticmethod
    def _with_counts(m: Measurement | None, counts: Mapping[str, float], *, name: str, edge: Edge,
                     parent: str | None) -> Measurement:
        """*m* (the merged segments, whose counts are segment deltas) carrying the phase's own *counts*.

        The per-unit basis (``coverage.counts``) is the counts of the fully measured segments: the phase's counts
        exactly when every segment was measured; else the measured segments' deltas, and for keys the deltas do not
        cover, the phase's count shared out by measured steps."""
        if m is None:
            return Measurement(name, edge[0], edge[0], {}, measured=False, method="unmeasured", parent=parent,
                               windows=0, duration_s=0.0, counts=dict(counts), coverage=Coverage())
        cov = m.cov
        if cov.windows_measured == cov.windows:
            basis: dict[str, float] = dict(counts)
        else:
            basis = {k: v for k, v in cov.counts.items() if k in counts}
            steps, steps_m = float(counts.get("steps", 0) or 0), float(cov.counts.get("steps", 0) or 0)
            for k, v in counts.items():
                if k not in basis and steps > 0:
                    basis[k] = float(v) * steps_m / steps
        return replace(m, name=name, counts=dict(counts), coverage=cov.with_counts(basis))
