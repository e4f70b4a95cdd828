"""``TrackedPipeline`` and ``track_pipeline``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from ...core.calls import CallTracker
from ...core.carbon import CarbonIntensity, resolve_grid
from ...core.grid import GridSpec
from ...core.live_intensity import make_live
from ...core.meters.base import Meter
from ...errors import UnsupportedPipelineError
from ..identity import ModelInfo
from ._call import _Stream
from ._hook import CURRENT
from ._tracked import FUNCTIONAL_UNITS, PipelineCalls, TrackedExtra, _Tracked
from ._units import _count_inputs

__all__ = ["track_pipeline", "TrackedPipeline", "GENERATION_TASKS", "FUNCTIONAL_UNITS", "build_tracked"]

_T = TypeVar("_T", bound=_Tracked)

GENERATION_TASKS = ("text-generation", "text2text-generation", "summarization", "image-text-to-text")


class TrackedPipeline(_Tracked):
    """A pipeline that measures itself. Calls and attributes pass through to the pipeline.

    Safe to call from many threads at once: each call counts its own queries and tokens, and calls in flight
    together share the device's energy (:data:`scer_hf.core.attribution.ATTRIBUTION_RULE`). ``.report`` is a
    :class:`scer_hf.Report` (boundary ``inference``) cumulative over calls; ``.last_call`` holds the
    measurements of the latest call made in this thread; ``on_call`` (optional) receives every call's; ``.tracker``
    is the :class:`~scer_hf.core.calls.CallTracker` over the process's shared meters.
    """

    def __init__(self, pipe: Any, tracker: CallTracker, carbon: CarbonIntensity, hardware: str | None) -> None:
        super().__init__(tracker, carbon, hardware)
        self._pipe = pipe
        self.task = getattr(pipe, "task", None) or ""
        self.generation = self.task in GENERATION_TASKS

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

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._nested():
            self.warn_once("busy", "scer-hf: a measured call of this pipeline is still open in this thread (a "
                                   "nested call); this nested call runs unmeasured")
            token = CURRENT.set(None)  # its generations are not the open call's either
            try:
                return self._pipe(*args, **kwargs)
            finally:
                CURRENT.reset(token)
        call = self._new_call(getattr(self._pipe, "model", None), self.generation, _count_inputs(args, kwargs))
        try:
            call.start()
        except Exception as exc:  # noqa: BLE001 - measurement never breaks inference
            call.abandon()
            self.warn_once("start", f"scer-hf: could not open a measurement window ({exc}); call unmeasured")
            return self._pipe(*args, **kwargs)
        token = CURRENT.set(call)
        try:
            out = self._pipe(*args, **kwargs)
        except BaseException:
            call.finish(failed=True)  # spent energy, a failed call, no answered query
            raise
        finally:
            CURRENT.reset(token)
        if isinstance(out, Iterator):
            return _Stream(out, call)
        call.finish()
        return out

    def model_info(self) -> ModelInfo:
        model = getattr(self._pipe, "model", None)
        mid = getattr(model, "name_or_path", None) or getattr(getattr(model, "config", None), "_name_or_path", None)
        try:
            params = int(model.num_parameters()) if model is not None else None
        except (AttributeError, TypeError, RuntimeError):
            params = None
        return ModelInfo(id=mid or None, parameters=params, task=self.task or None)

    def _extra(self) -> TrackedExtra:
        return TrackedExtra(pipeline=PipelineCalls(task=self.task, calls=self.calls))


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
        env = os.getenv("CUDA_VISIBLE_DEVICES")  # CUDA index -> NVML index
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
    grid: GridSpec | None = None,
) -> TrackedPipeline:
    """Wrap *pipe* (a transformers pipeline or :class:`Text2TextPipeline`) to measure every call.

    ``meters=None`` picks the best meters here (:func:`scer_hf.core.meters.auto`), metering only the GPU the
    pipeline runs on (none for a CPU pipeline; every visible GPU for a sharded model);
    ``hardware`` (e.g. ``"NVIDIA H100 SXM 80GB"``) adds embodied emissions for the time measured;
    ``cloud_provider`` + ``cloud_region`` (e.g. ``"aws", "us-east-1"``) pick that region's grid figure;
    ``live_intensity`` (off by default): an Electricity Maps zone or a
    :class:`~scer_hf.core.live_intensity.LiveIntensity`; ``grid``: all of these as one :class:`scer_hf.GridSpec`
    (a separate keyword that disagrees with it raises :class:`~scer_hf.errors.GridConflictError`).
    """
    if isinstance(pipe, TrackedPipeline):
        raise UnsupportedPipelineError("this pipeline is already tracked; use it directly (pipe.report)")
    if not callable(pipe) or getattr(pipe, "model", None) is None:
        raise UnsupportedPipelineError(
            f"track_pipeline needs a transformers pipeline (with a .model), got {type(pipe).__name__}; "
            "build one with transformers.pipeline(task, model=...) or scer_hf.hf.pipeline.Text2TextPipeline"
        )
    spec = GridSpec.of(grid, country_iso_code=country_iso_code, region=region,
                       carbon_intensity_g_per_kwh=carbon_intensity_g_per_kwh, pue=pue, cloud_provider=cloud_provider,
                       cloud_region=cloud_region, live_intensity=live_intensity)
    return build_tracked(TrackedPipeline, pipe, pipe, meters, hardware, spec)


def build_tracked(cls: Callable[[Any, CallTracker, Any, str | None], _T], target: Any, placed: Any,
                  meters: Meter | Sequence[Meter] | None, hardware: str | None, spec: GridSpec) -> _T:
    """A tracked *target* (a pipeline or a model): its grid resolved from *spec*, its meters given or chosen from
    where *placed* runs (its model and device; owned and closed by the tracker then), live intensity attached."""
    carbon = resolve_grid(spec)
    owned = meters is None
    if meters is None:
        meters = _pipeline_meters(placed)
    tracked = cls(target, CallTracker(meters, owned=owned), carbon, hardware)
    tracked.live = make_live(spec.live_intensity, carbon)
    if tracked.live is not None:
        tracked.tracker.on_edge = tracked.live.observe
    return tracked
