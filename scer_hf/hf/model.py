"""Measure a model without a pipeline: ``scer_hf.track_model(model)``.

>>> tm = scer_hf.track_model(model, country_iso_code="USA")
>>> out = tm.generate(**tok("Hello", return_tensors="pt"), max_new_tokens=32)   # what model.generate returns
>>> outs = tm.generate_batch([ids_1, ids_2], generation_config=cfg)            # continuous batching
>>> tm.report                                                                  # the same report as track_pipeline

``generate`` gets a top-level ``generate`` phase with ``prefill`` (call start -> the first new token's logits)
and ``decode`` children, exactly as a tracked pipeline. ``generate_batch`` (transformers' continuous batching:
the requests are scheduled together, prefill of some interleaved with decode of others in the same forward
passes) gets one ``generate_batch`` phase per call, no prefill/decode split, and per-request counts in
:attr:`TrackedModel.last_requests`. Both are safe from many threads: each call counts its own tokens, and calls
in flight together share the device's energy (:data:`scer_hf.core.attribution.ATTRIBUTION_RULE`). Other
attributes (and the forward call, unmeasured) pass through to the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from ..core.calls import CallTracker
from ..core.carbon import CarbonIntensity
from ..core.grid import GridSpec
from ..core.meters.base import Meter
from ..errors import UnsupportedPipelineError
from .identity import ModelInfo
from .pipeline._call import call_entry
from .pipeline._hook import CURRENT
from .pipeline._tracked import ModelCalls, TrackedExtra, _Tracked

__all__ = ["track_model", "TrackedModel", "RequestInfo"]


class TrackedModel(_Tracked):
    """A model whose ``generate`` and ``generate_batch`` measure themselves (see the module docstring)."""

    def __init__(self, model: Any, tracker: CallTracker, carbon: CarbonIntensity, hardware: str | None) -> None:
        super().__init__(tracker, carbon, hardware)
        self._model = model

    @property
    def model(self) -> Any:
        """The wrapped model (bare)."""
        return self._model

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._model, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._model(*args, **kwargs)  # a forward pass: not measured

    def __repr__(self) -> str:
        return f"<TrackedModel calls={self.calls} of {type(self._model).__name__}>"

    # -- generate --------------------------------------------------------------------------------------
    def generate(self, *args: Any, **kwargs: Any) -> Any:
        """``model.generate(*args, **kwargs)``, measured: prefill and decode, queries and tokens of this call."""
        if self._nested():
            self.warn_once("busy", "scer-hf: generate was called from inside a measured generate of this model "
                                   "in the same thread; the inner call runs unmeasured")
            token = CURRENT.set(None)
            try:
                return self._model.generate(*args, **kwargs)
            finally:
                CURRENT.reset(token)
        call = self._new_call(self._model, True, None)
        try:
            call.start()
        except Exception as exc:  # noqa: BLE001 - measurement never breaks inference
            call.abandon()
            self.warn_once("start", f"scer-hf: could not open a measurement window ({exc}); call unmeasured")
            return self._model.generate(*args, **kwargs)
        token = CURRENT.set(call)
        try:
            out = self._model.generate(*args, **kwargs)  # the hook finds this call through CURRENT
        except BaseException:
            call.finish(failed=True)
            raise
        finally:
            CURRENT.reset(token)
        call.finish()
        return out

    # -- generate_batch (continuous batching) ----------------------------------------------------------
    def generate_batch(self, inputs: Sequence[Sequence[int]], *args: Any, **kwargs: Any) -> Any:
        """``model.generate_batch(inputs, ...)`` (transformers' continuous batching), measured as one call.

        Counts: ``queries`` (requests answered), ``failed_requests``, ``input_tokens`` and ``output_tokens`` summed
        over the requests; :attr:`last_requests` has them per request, with times from the scheduler."""
        try:
            gen_cfg = kwargs.get("generation_config") or (args[0] if args else None) or self._model.generation_config
            n = len(inputs) * int(getattr(gen_cfg, "num_return_sequences", None) or 1)
            h = self.tracker.start("generate_batch", weight=float(max(n, 1)))
        except Exception as exc:  # noqa: BLE001 - measurement never breaks inference
            self.warn_once("start", f"scer-hf: could not open a measurement window ({exc}); call unmeasured")
            return self._model.generate_batch(inputs, *args, **kwargs)
        try:
            out = self._model.generate_batch(inputs, *args, **kwargs)
        except BaseException:
            self._finish_batch(h, None)
            raise
        self._finish_batch(h, out)
        return out

    def _finish_batch(self, h: Any, out: Mapping[str, Any] | None) -> None:
        try:
            res = h.finish()
            if out is None:
                counts: dict[str, float] = {"failed_calls": 1}
                self._local.last_requests = []
            else:
                reqs = [_request(k, v) for k, v in out.items()]
                ok = [r for r in reqs if r["error"] is None]
                n_in, n_out = sum(r["input_tokens"] for r in ok), sum(r["output_tokens"] for r in ok)
                counts = {"queries": len(ok), "requests": len(reqs), "failed_requests": len(reqs) - len(ok),
                          "input_tokens": n_in, "output_tokens": n_out, "batches": 1, "tokens": n_in + n_out}
                self._local.last_requests = reqs
            self._record(call_entry(res, False, counts, "generate_batch"))
        except Exception as exc:  # noqa: BLE001 - measurement never breaks inference
            self.warn_once("finish", f"scer-hf: could not close the measurement of a call ({exc}); not recorded")
            h.abandon()

    @property
    def last_requests(self) -> list[RequestInfo]:
        """Per request of this thread's latest ``generate_batch``: ids, token counts, error, scheduler times (s)."""
        return list(getattr(self._local, "last_requests", None) or [])

    # -- report ----------------------------------------------------------------------------------------
    def model_info(self) -> ModelInfo:
        m = self._model
        mid = getattr(m, "name_or_path", None) or getattr(getattr(m, "config", None), "_name_or_path", None)
        try:
            params = int(m.num_parameters())
        except (AttributeError, TypeError, RuntimeError):
            params = None
        return ModelInfo(id=mid or None, parameters=params, task="text-generation")

    def _extra(self) -> TrackedExtra:
        return TrackedExtra(model_calls=ModelCalls(calls=self.calls))


class RequestInfo(TypedDict):
    """One request of a continuous batch (:attr:`TrackedModel.last_requests`)."""

    request_id: str
    input_tokens: int
    output_tokens: int
    error: str | None
    time_to_first_token_s: float | None
    latency_s: float | None


def _request(rid: str, r: Any) -> RequestInfo:
    """One continuous-batching request (a transformers ``GenerationOutput``) as counts and times."""
    created = getattr(r, "created_time", None)
    life = tuple(getattr(r, "lifespan", None) or (-1, -1))
    stamps = getattr(r, "timestamps", None) or []
    err = getattr(r, "error", None)
    return RequestInfo(
        request_id=str(rid),
        input_tokens=len(getattr(r, "prompt_ids", None) or []),
        output_tokens=len(getattr(r, "generated_tokens", None) or []),
        error=None if err is None else str(err)[:200],
        time_to_first_token_s=(stamps[0] - created) if stamps and created is not None else None,
        latency_s=(life[1] - created) if created is not None and life[1] >= 0 else None,
    )


def track_model(
    model: Any,
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
) -> TrackedModel:
    """Wrap a transformers model so that its ``generate`` and ``generate_batch`` calls are measured.

    Arguments as :func:`scer_hf.track_pipeline`: ``meters=None`` meters the GPU the model is on (none for a model
    on the CPU, every visible GPU for one spread over several), plus this machine's CPU and RAM; ``grid=`` takes the
    grid arguments as one :class:`scer_hf.GridSpec`.
    """
    if isinstance(model, TrackedModel):
        raise UnsupportedPipelineError("this model is already tracked; use it directly (tm.report)")
    if not callable(getattr(model, "generate", None)):
        raise UnsupportedPipelineError(
            f"track_model needs a transformers model with .generate (a *ForCausalLM or *ForConditionalGeneration), "
            f"got {type(model).__name__}; for a pipeline use scer_hf.track_pipeline")
    from .pipeline._wrapper import build_tracked

    spec = GridSpec.of(grid, country_iso_code=country_iso_code, region=region,
                       carbon_intensity_g_per_kwh=carbon_intensity_g_per_kwh, pue=pue, cloud_provider=cloud_provider,
                       cloud_region=cloud_region, live_intensity=live_intensity)
    return build_tracked(TrackedModel, model, _AsPipe(model), meters, hardware, spec)


class _AsPipe:
    """What :func:`~scer_hf.hf.pipeline._wrapper.build_tracked` reads of a pipeline (its model, its device),
    for a bare model."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.device = getattr(model, "device", None)
