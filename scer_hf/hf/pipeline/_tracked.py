"""What a tracked pipeline and a tracked model share: calls recorded from many threads, totals, the report."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict

from ...core.calls import CallTracker, aggregate
from ...core.carbon import CarbonIntensity
from ...core.embodied import embodied_emissions
from ...core.live_intensity import phase_dicts
from ...core.report import Report
from ...core.tracker import Measurement, MeasurementWarning, merge_all
from ...core.views import top_level
from ...core.warn import WarnOnce
from ..identity import ModelInfo
from ._call import CallSink, _Call, _Entry
from ._hook import CURRENT
from ._units import PerUnitFigures, per_unit_figures


class PipelineCalls(TypedDict):
    task: str | None
    calls: int


class ModelCalls(TypedDict):
    calls: int


class TrackedExtra(TypedDict, total=False):
    """An inference report's ``extra``: the per-unit figures and the calls of what was tracked."""

    per_unit: PerUnitFigures
    pipeline: PipelineCalls
    model_calls: ModelCalls

__all__ = ["TrackedExtra", "PipelineCalls", "ModelCalls"]

FUNCTIONAL_UNITS = ("1k_output_tokens", "query")
KINDS = {"generate": "inference", "prefill": "inference", "decode": "inference", "forward": "inference",
         "generate_batch": "inference"}


class _Tracked:
    """Calls recorded from any thread: exact per-call counts, totals merged off the hot path, one report.

    ``.report`` is cumulative over calls; ``.last_call`` holds the measurements of the latest call *of this
    thread*; ``on_call`` (optional) is called with each finished call's measurements, in the thread that made
    it; ``.tracker`` is the :class:`~scer_hf.core.calls.CallTracker` over the process's shared meters.
    """

    def __init__(self, tracker: CallTracker, carbon: CarbonIntensity, hardware: str | None) -> None:
        self.tracker = tracker
        self.carbon = carbon
        self.hardware = hardware
        self.live: Any = None  # a LiveIntensity reading the grid at call edges (live_intensity=)
        self.on_call: Callable[[dict[str, Measurement]], None] | None = None
        self.calls = 0
        self.flush_every = 256
        self._totals: dict[str, Measurement] = {}
        self._pending: list[_Entry] = []  # calls not yet merged into _totals (kept off the hot path)
        self._lock = threading.Lock()
        self._local = threading.local()
        self.warn_once = WarnOnce(MeasurementWarning, stacklevel=2)  # one warning per kind of trouble

    def _new_call(self, model: Any, gen: bool, queries: int | None) -> _Call:
        """A call of this wrapper, with what it needs passed in (it never reaches back into the wrapper)."""
        return _Call(CallSink(self.tracker, self._record, self.warn_once), model, gen, queries)

    def _nested(self) -> bool:
        """Whether a measured call of this wrapper is open in this thread (a call made from inside it)."""
        cur = CURRENT.get()
        return cur is not None and cur.sink.tracker is self.tracker

    def _record(self, entry: _Entry) -> None:
        self._local.last = entry
        with self._lock:
            self.calls += 1
            self._pending.append(entry)
            if len(self._pending) >= self.flush_every:
                self._flush_locked()
        if self.on_call is not None:
            try:
                self.on_call(entry.measurements())
            except Exception as exc:  # noqa: BLE001 - a user's hook never breaks inference
                self.warn_once("on_call", f"scer-hf: on_call raised ({exc!r}); the call is recorded")

    def _flush_locked(self) -> None:
        by_name: dict[str, tuple[str | None, list[Any]]] = {}
        for entry in self._pending:
            for name, key, counts, parent in entry.specs:
                by_name.setdefault(name, (parent, []))[1].append((entry.res, key, counts))
        for name, (parent, calls) in by_name.items():
            new = aggregate(name, calls, parent)
            self._totals[name] = merge_all([self._totals[name], new]) if name in self._totals else new
        self._pending.clear()

    @property
    def last_call(self) -> dict[str, Measurement]:
        """Phase name -> measurement of the latest call made in this thread (empty before the first)."""
        last = getattr(self._local, "last", None)
        return last.measurements() if last is not None else {}

    @property
    def measurements(self) -> list[Measurement]:
        """Cumulative per-phase measurements (merged over calls)."""
        with self._lock:
            self._flush_locked()
            return list(self._totals.values())

    def model_info(self) -> ModelInfo:  # pragma: no cover - overridden
        return ModelInfo()

    def _extra(self) -> TrackedExtra:  # pragma: no cover - overridden
        return {}

    def per_unit(self) -> PerUnitFigures:
        return per_unit_figures(self.measurements, self.carbon)

    def build_report(self, *, model: ModelInfo | None = None, benchmark: Mapping[str, Any] | None = None,
                     extra: TrackedExtra | None = None) -> Report:
        """The cumulative report, with optional model info, benchmark settings and extras."""
        ms = self.measurements
        emb = None
        if self.hardware is not None:
            reserved_s = sum(m.duration_s for m in top_level(ms))
            emb = embodied_emissions(self.hardware, reserved_s)
        carbon = self.carbon
        rows: Sequence[Measurement | Mapping[str, Any]] = ms
        if self.live is not None:  # each phase its own live intensity, the run energy-weighted
            carbon, per = self.live.apply(ms, self.carbon)
            rows = phase_dicts(ms, carbon, per, KINDS, "inference")
        ex: TrackedExtra = {"per_unit": per_unit_figures(ms, carbon), **self._extra(), **(extra or {})}
        return Report.build(
            rows, boundary="inference", carbon=carbon, model={**self.model_info(), **(model or {})},
            provenance=self.tracker.provenance(), embodied=emb, functional_units=list(FUNCTIONAL_UNITS),
            kinds=KINDS, benchmark=benchmark, extra=ex,
        )

    @property
    def report(self) -> Report:
        return self.build_report()

    def close(self) -> None:
        """Let go of the meters (the last tracker of a device closes it). The wrapped object stays usable."""
        self.tracker.close()

    def reset(self) -> None:
        """Forget the measurements so far."""
        with self._lock:
            self._totals.clear()
            self._pending.clear()
            self.calls = 0
        self._local = threading.local()
