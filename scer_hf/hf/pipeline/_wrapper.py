"""``TrackedPipeline`` and ``track_pipeline``."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ...core.carbon import CarbonIntensity, carbon_intensity
from ...core.embodied import embodied_emissions
from ...core.live_intensity import make_live, phase_dicts
from ...core.meters.base import Meter
from ...core.report import Report
from ...core.tracker import Measurement, MeasurementWarning, PhaseTracker, merge_measurements
from ...errors import UnsupportedPipelineError
from ._call import _Call, _Entry, _materialise, _Stream
from ._units import _count_inputs, per_unit_figures

__all__ = ["track_pipeline", "TrackedPipeline", "GENERATION_TASKS", "FUNCTIONAL_UNITS"]

GENERATION_TASKS = ("text-generation", "text2text-generation", "summarization", "image-text-to-text")
FUNCTIONAL_UNITS = ("1k_output_tokens", "query")
_KINDS = {"generate": "inference", "prefill": "inference", "decode": "inference", "forward": "inference"}

class TrackedPipeline:
    """A pipeline that measures itself. Calls and attributes pass through to the pipeline.

    ``.report`` is a :class:`scer_hf.Report` (boundary ``inference``) cumulative over
    calls; ``.last_call`` holds the measurements of the latest call; ``.tracker`` is the
    :class:`~scer_hf.core.tracker.PhaseTracker` doing the reads.
    """

    def __init__(self, pipe: Any, tracker: PhaseTracker, carbon: CarbonIntensity, hardware: str | None) -> None:
        self._pipe = pipe
        self.tracker = tracker
        self.carbon = carbon
        self.hardware = hardware
        self.live: Any = None  # a LiveIntensity reading the grid at window edges (track_pipeline(live_intensity=))
        self.task = getattr(pipe, "task", None) or ""
        self.generation = self.task in GENERATION_TASKS
        self.calls = 0
        self._totals: dict[str, Measurement] = {}
        self._pending: list[_Entry] = []  # calls not yet merged into _totals (kept off the hot path)
        self.flush_every = 256
        self._last: _Entry | None = None
        self._last_m: dict[str, Measurement] | None = None
        self._busy = False
        self._warned: set[str] = set()

    @property
    def pipeline(self) -> Any:
        """The wrapped pipeline (bare)."""
        return self._pipe

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._pipe, name)

    def __repr__(self) -> str:
        return f"<TrackedPipeline task={self.task!r} calls={self.calls} of {self._pipe!r}>"

    def _warn_once(self, key: str, msg: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(msg, MeasurementWarning, stacklevel=3)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._busy:
            self._warn_once("busy", "scer-hf: a measured call (or a streamed output) is still open; this nested "
                                    "call runs unmeasured")
            return self._pipe(*args, **kwargs)
        call = _Call(self, _count_inputs(args, kwargs))
        self._busy = True
        try:
            call.start()
        except Exception as exc:  # noqa: BLE001 - measurement never breaks inference
            call.abandon()
            self._busy = False
            self._warn_once("start", f"scer-hf: could not open a measurement window ({exc}); call unmeasured")
            return self._pipe(*args, **kwargs)
        try:
            out = self._pipe(*args, **kwargs)
        except BaseException:
            call.finish(failed=True)  # spent energy, a failed call, no answered query
            raise
        if isinstance(out, Iterator):
            return _Stream(out, call)
        call.finish()
        return out

    def _record(self, entry: _Entry) -> None:
        self.calls += 1
        self._last, self._last_m = entry, None
        self._pending.append(entry)
        if len(self._pending) >= self.flush_every:
            self._flush()

    def _flush(self) -> None:
        for entry in self._pending:
            for name, m in _materialise(entry).items():
                self._totals[name] = merge_measurements(self._totals[name], m) if name in self._totals else m
        self._pending.clear()

    @property
    def last_call(self) -> dict[str, Measurement]:
        """Phase name -> measurement of the latest call (empty before the first)."""
        if self._last is None:
            return {}
        if self._last_m is None:
            self._last_m = _materialise(self._last)
        return dict(self._last_m)

    @property
    def measurements(self) -> list[Measurement]:
        """Cumulative per-phase measurements (merged over calls)."""
        self._flush()
        return list(self._totals.values())

    def model_info(self) -> dict[str, Any]:
        model = getattr(self._pipe, "model", None)
        mid = getattr(model, "name_or_path", None) or getattr(getattr(model, "config", None), "_name_or_path", None)
        try:
            params = int(model.num_parameters()) if model is not None else None
        except (AttributeError, TypeError, RuntimeError):
            params = None
        return {"id": mid or None, "parameters": params, "task": self.task or None}

    def per_unit(self) -> dict[str, Any]:
        return per_unit_figures(self.measurements, self.carbon)

    def build_report(self, *, model: Mapping[str, Any] | None = None, benchmark: Mapping[str, Any] | None = None,
                     extra: Mapping[str, Any] | None = None) -> Report:
        """The cumulative report, with optional model info, benchmark settings and extras."""
        ms = self.measurements
        emb = None
        if self.hardware is not None:
            reserved_s = sum(m.duration_s for m in ms if m.parent is None)
            emb = embodied_emissions(self.hardware, reserved_s)
        carbon, rows = self.carbon, ms
        if self.live is not None:  # each phase its own live intensity, the run energy-weighted
            carbon, per = self.live.apply(ms, self.carbon)
            rows = phase_dicts(ms, carbon, per, _KINDS, "inference")
        ex = {"per_unit": per_unit_figures(ms, carbon), "pipeline": {"task": self.task, "calls": self.calls}}
        ex.update(extra or {})
        return Report.build(
            rows, boundary="inference", carbon=carbon, model={**self.model_info(), **dict(model or {})},
            provenance=self.tracker.provenance(), embodied=emb, functional_units=list(FUNCTIONAL_UNITS),
            kinds=_KINDS, benchmark=benchmark, extra=ex,
        )

    @property
    def report(self) -> Report:
        return self.build_report()

    def close(self) -> None:
        """Release the meters (NVML handles...). The pipeline itself stays usable."""
        self.tracker.close()

    def reset(self) -> None:
        """Forget the measurements so far."""
        self._totals.clear()
        self._pending.clear()
        self._last = self._last_m = None
        self.calls = 0


def _pipeline_meters(pipe: Any) -> Any:
    """:func:`scer_hf.core.meters.auto` limited to the GPU *pipe* runs on.

    NVML numbers every GPU of the machine; the other GPUs' (idle) energy is not this
    pipeline's, and AI Energy Score meters only the device the model runs on. A model
    sharded over several devices (``hf_device_map``) or on an unknown device keeps every
    visible GPU; a pipeline on the CPU meters no GPU.
    """
    from ...core.meters.auto import auto

    model = getattr(pipe, "model", None)
    devmap = getattr(model, "hf_device_map", None)
    if isinstance(devmap, Mapping) and len({str(v) for v in devmap.values()}) > 1:
        return auto()
    dev = getattr(pipe, "device", None) or getattr(model, "device", None)
    kind, index = getattr(dev, "type", None), getattr(dev, "index", None)
    if kind == "cpu":
        ms = auto(gpu=False)
        ms.choices["gpu"] = "not measured: the pipeline runs on the CPU"
        return ms
    if kind == "cuda" and index is not None:
        env = os.environ.get("CUDA_VISIBLE_DEVICES")  # CUDA index -> NVML index
        toks = [t.strip() for t in env.split(",")] if env is not None and env.strip() else None
        if toks is None:
            return auto(gpu_indices=[int(index)])
        if all(t.isdigit() for t in toks) and index < len(toks):
            return auto(gpu_indices=[int(toks[index])])
    return auto()


def track_pipeline(
    pipe: Any,
    *,
    country_iso_code: str | None = None,
    region: str | None = None,
    carbon_intensity_g_per_kwh: float | None = None,
    pue: float = 1.0,
    meters: Meter | Sequence[Meter] | None = None,
    hardware: str | None = None,
    cloud_provider: str | None = None,
    cloud_region: str | None = None,
    live_intensity: Any = None,
) -> TrackedPipeline:
    """Wrap *pipe* (a transformers pipeline or :class:`Text2TextPipeline`) to measure every call.

    ``meters=None`` picks the best meters here (:func:`scer_hf.core.meters.auto`), metering only the GPU the
    pipeline runs on (none for a CPU pipeline; every visible GPU for a sharded model);
    ``hardware`` (e.g. ``"NVIDIA H100 SXM 80GB"``) adds embodied emissions for the time measured;
    ``cloud_provider`` + ``cloud_region`` (e.g. ``"aws", "us-east-1"``) pick that region's grid figure;
    ``live_intensity`` (off by default): an Electricity Maps zone or a
    :class:`~scer_hf.core.live_intensity.LiveIntensity`.
    """
    if isinstance(pipe, TrackedPipeline):
        raise UnsupportedPipelineError("this pipeline is already tracked; use it directly (pipe.report)")
    if not callable(pipe) or getattr(pipe, "model", None) is None:
        raise UnsupportedPipelineError(
            f"track_pipeline needs a transformers pipeline (with a .model), got {type(pipe).__name__}; "
            "build one with transformers.pipeline(task, model=...) or scer_hf.hf.pipeline.Text2TextPipeline"
        )
    carbon = carbon_intensity(country_iso_code, region, g_per_kwh=carbon_intensity_g_per_kwh, pue=pue,
                              cloud_provider=cloud_provider, cloud_region=cloud_region)
    if meters is None:
        meters = _pipeline_meters(pipe)
    tracked = TrackedPipeline(pipe, PhaseTracker(meters, keep=False), carbon, hardware)
    tracked.live = make_live(live_intensity, carbon)
    if tracked.live is not None:
        tracked.tracker.on_edge = tracked.live.observe
    return tracked
