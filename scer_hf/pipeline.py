"""Measure a transformers pipeline as it serves: ``scer_hf.track_pipeline``.

>>> pipe = scer_hf.track_pipeline(pipeline("text-generation", model=path), country_iso_code="USA")
>>> out = pipe(["Hello", "The sky is"], max_new_tokens=32)   # exactly what the bare pipeline returns
>>> pipe.report                                            # cumulative over calls

Generation tasks get, per call, a top-level ``generate`` phase with children
``prefill`` (call start -> the first new token's logits exist) and ``decode`` (the
rest). The split edge is one shared meter read, so prefill + decode == generate. The
first-logits moment is observed by a no-op ``LogitsProcessor`` added to the
``model.generate`` call (the model's ``generate`` is wrapped on the instance for the
duration of the call and restored after). Other tasks get one ``forward`` phase per call.

transformers 5 has no ``text2text-generation`` pipeline: :class:`Text2TextPipeline`
is a small stand-in on top of ``model.generate`` for encoder-decoder models (T5).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from typing import Any, Callable, Iterator, Mapping, Sequence

from .carbon import J_PER_KWH, CarbonIntensity, carbon_intensity
from .embodied import embodied_emissions
from .errors import SCERError, UnsupportedPipelineError
from .meters.base import Meter
from .report import Report
from .tracker import Measurement, MeasurementWarning, PhaseTracker, merge_measurements

__all__ = [
    "track_pipeline",
    "TrackedPipeline",
    "Text2TextPipeline",
    "per_unit_figures",
    "GENERATION_TASKS",
    "FUNCTIONAL_UNITS",
]

GENERATION_TASKS = ("text-generation", "text2text-generation", "summarization", "image-text-to-text")
FUNCTIONAL_UNITS = ("1k_output_tokens", "query")
_KINDS = {"generate": "inference", "prefill": "inference", "decode": "inference", "forward": "inference"}


# --- encoder-decoder stand-in ------------------------------------------------------------
class Text2TextPipeline:
    """``text2text-generation`` for encoder-decoder models, on top of ``model.generate``.

    Same call shape as the transformers 4 pipeline: ``pipe("text")`` ->
    ``[{"generated_text": ...}]``; ``pipe(["a", "b"])`` -> one dict per input (a list of
    dicts per input when ``num_return_sequences > 1``); an iterator input streams.
    """

    def __init__(self, model: Any, tokenizer: Any, *, device: Any = None, task: str = "text2text-generation"):
        if device is not None:
            model = model.to(device)
        self.model = model
        self.tokenizer = tokenizer
        self.task = task
        self.device = getattr(model, "device", None)

    def _batch(self, texts: list[str], truncation: bool, gen: dict[str, Any]) -> list[list[dict[str, str]]]:
        import torch

        enc = self.tokenizer(texts, return_tensors="pt", padding=True, truncation=truncation)
        if self.device is not None:
            enc = enc.to(self.device)
        with torch.no_grad():
            out = self.model.generate(**enc, **gen)
        seqs = getattr(out, "sequences", out)
        texts_out = self.tokenizer.batch_decode(seqs, skip_special_tokens=True)
        k = len(texts_out) // len(texts)
        return [[{"generated_text": t} for t in texts_out[i * k:(i + 1) * k]] for i in range(len(texts))]

    def _stream(self, inputs: Any, batch_size: int, truncation: bool, gen: dict[str, Any]) -> Iterator[Any]:
        chunk: list[str] = []
        for x in inputs:
            chunk.append(x)
            if len(chunk) == batch_size:
                yield from (r[0] if len(r) == 1 else r for r in self._batch(chunk, truncation, gen))
                chunk = []
        if chunk:
            yield from (r[0] if len(r) == 1 else r for r in self._batch(chunk, truncation, gen))

    def __call__(self, inputs: Any, *, batch_size: int = 1, truncation: bool = True, **generate_kwargs: Any) -> Any:
        if isinstance(inputs, str):
            return self._batch([inputs], truncation, generate_kwargs)[0]
        if isinstance(inputs, (list, tuple)):
            return list(self._stream(list(inputs), max(1, int(batch_size)), truncation, generate_kwargs))
        return self._stream(inputs, max(1, int(batch_size)), truncation, generate_kwargs)

    def __repr__(self) -> str:
        return f"<Text2TextPipeline {getattr(self.model, 'name_or_path', '?')} task={self.task}>"


# --- helpers -----------------------------------------------------------------------------
_PROCESSOR_CLASS: Any = None


def _first_step_processor(callback: Callable[[], None]) -> Any:
    """A no-op ``LogitsProcessor`` that calls *callback* once, when the first logits exist."""
    global _PROCESSOR_CLASS
    if _PROCESSOR_CLASS is None:
        from transformers import LogitsProcessor

        class _FirstStep(LogitsProcessor):
            def __init__(self, cb: Callable[[], None]) -> None:
                self.cb: Callable[[], None] | None = cb

            def __call__(self, input_ids: Any, scores: Any) -> Any:
                if self.cb is not None:
                    cb, self.cb = self.cb, None
                    cb()
                return scores

        _PROCESSOR_CLASS = _FirstStep
    return _PROCESSOR_CLASS(callback)


def _eos_ids(model: Any, kwargs: Mapping[str, Any]) -> list[int]:
    eos = kwargs.get("eos_token_id")
    if eos is None:
        cfg = kwargs.get("generation_config") or getattr(model, "generation_config", None)
        eos = getattr(cfg, "eos_token_id", None)
    if eos is None:
        return []
    if hasattr(eos, "tolist"):
        eos = eos.tolist()
    return [int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos])]


def _count_new_tokens(model: Any, input_ids: Any, out: Any, kwargs: Mapping[str, Any]) -> int:
    """New tokens per row up to and including the first EOS (what follows is padding)."""
    import torch

    seqs = getattr(out, "sequences", out)
    if not isinstance(seqs, torch.Tensor) or seqs.dim() != 2:
        return 0
    if getattr(getattr(model, "config", None), "is_encoder_decoder", False):
        new = seqs[:, 1:]  # drop decoder_start_token_id
    else:
        new = seqs[:, (input_ids.shape[1] if input_ids is not None else 0):]
    if new.shape[1] == 0:
        return 0
    eos = _eos_ids(model, kwargs)
    if not eos:
        return int(new.numel())
    is_eos = torch.isin(new, torch.tensor(eos, device=new.device))
    if not bool(is_eos.any()):
        return int(new.numel())
    first = is_eos.int().argmax(dim=1)
    lengths = torch.where(is_eos.any(dim=1), first + 1, torch.full_like(first, new.shape[1]))
    return int(lengths.sum().item())


def _count_inputs(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    """Queries in one pipeline call; None for a streamed input (counted while it streams)."""
    x = args[0] if args else next((kwargs[k] for k in ("inputs", "text_inputs", "sequences", "text", "question")
                                   if k in kwargs), None)
    if x is None or isinstance(x, (str, bytes, dict)):
        return 1
    if isinstance(x, (list, tuple)):
        if x and all(isinstance(m, dict) and "role" in m for m in x):
            return 1  # one chat conversation
        return len(x)
    return None


def per_unit_figures(measurements: Sequence[Measurement], carbon: CarbonIntensity) -> dict[str, Any]:
    """Per-query and per-token figures from the top-level phases (None where the count is 0)."""
    top = [m for m in measurements if m.parent is None]
    energy_j = sum(m.total_energy_j for m in top)
    gpu_j = sum(v for m in top for k, v in m.energy_j.items() if k.startswith("gpu"))
    has_gpu = any(k.startswith("gpu") for m in top for k in m.energy_j)
    queries = sum(float(m.counts.get("queries", 0)) for m in top)
    out_tokens = sum(float(m.counts.get("output_tokens", 0)) for m in top)
    co2e_g = carbon.co2e_g(energy_j)
    q = queries or math.nan
    o = out_tokens or math.nan

    def fin(x: float) -> float | None:
        return float(x) if math.isfinite(x) else None

    return {
        "queries": int(queries),
        "output_tokens": int(out_tokens),
        "energy_j": energy_j,
        "j_per_query": fin(energy_j / q),
        "g_per_query": fin(co2e_g / q),
        "wh_per_1k_queries": fin(energy_j / q * 1000.0 / 3600.0),
        "gpu_wh_per_1k_queries": fin(gpu_j / q * 1000.0 / 3600.0) if has_gpu else None,
        "j_per_1k_output_tokens": fin(energy_j / o * 1000.0),
        "g_per_1k_output_tokens": fin(co2e_g / o * 1000.0),
        "kwh_per_query": fin(energy_j / q / J_PER_KWH),
        "note": "IT energy (all measured components); g CO2e with the report's grid intensity and PUE",
    }


# --- one measured call -------------------------------------------------------------------
_Entry = dict  # one call as recorded on the hot path: {"generate"|"forward": Measurement, "_parts": {...}}


def _materialise(entry: _Entry) -> dict[str, Measurement]:
    """The phases of one recorded call: prefill/decode segments merged, counts attached."""
    if "_parts" not in entry:
        return dict(entry)
    top: Measurement = entry["generate"]
    c = top.counts
    out = {"generate": top}
    for name, keys in (("prefill", ("queries", "input_tokens")), ("decode", ("output_tokens",))):
        ms = entry["_parts"][name]
        if not ms:  # generate never reached its first step: an empty decode at the end edge
            ms = [replace(top, name=name, parent="generate", energy_j={}, counts={}, duration_s=0.0,
                          start_s=top.end_s)]
        m = ms[0]
        for x in ms[1:]:
            m = merge_measurements(m, x)
        out[name] = replace(m, counts={k: c[k] for k in keys}, windows=1)
    return out


class _Call:
    """The windows of one pipeline call (may stay open while a streamed output is consumed)."""

    def __init__(self, owner: "TrackedPipeline", queries: int | None) -> None:
        self.o = owner
        self.tr = owner.tracker
        self.gen = owner.generation
        self.queries_in = queries
        self.yielded = 0
        self.counts = {"queries": 0, "input_tokens": 0, "output_tokens": 0, "batches": 0}
        self.parts: dict[str, list[Measurement]] = {"prefill": [], "decode": []}
        self.seg: str | None = None
        self.marked = False
        self.closed = False
        self._saved_generate: Any = None
        self._had_instance_generate = False

    def _switch(self, to: str) -> None:
        e = self.tr.read_all()
        if self.seg is not None:
            self.parts[self.seg].append(self.tr.end(self.seg, edge=e))
        self.tr.begin(to, parent="generate", edge=e)
        self.seg = to

    def start(self) -> None:
        e = self.tr.read_all()
        self.tr.begin("generate" if self.gen else "forward", edge=e)
        if self.gen:
            self.tr.begin("prefill", parent="generate", edge=e)
            self.seg = "prefill"
            self._install()

    # generation hooks (guarded: measurement never breaks inference)
    def _guard(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except SCERError as exc:
            self.o._warn_once("hook", f"scer-hf: prefill/decode split failed ({exc}); this call's split is lost")

    def gen_start(self) -> None:
        self.marked = False
        if self.seg == "decode":
            self._guard(lambda: self._switch("prefill"))

    def first_logits(self) -> None:
        if not self.marked and self.seg == "prefill":
            self.marked = True
            self._guard(lambda: self._switch("decode"))

    def gen_end(self, args: tuple[Any, ...], kwargs: Mapping[str, Any], out: Any) -> None:
        input_ids = kwargs.get("input_ids", args[0] if args else None)
        mask = kwargs.get("attention_mask")
        model = self.o._pipe.model
        self.counts["batches"] += 1
        if input_ids is None:
            self.counts["queries"] += 1
        else:
            self.counts["queries"] += int(input_ids.shape[0])
            self.counts["input_tokens"] += int(mask.sum().item()) if mask is not None else int(input_ids.numel())
        self.counts["output_tokens"] += _count_new_tokens(model, input_ids, out, kwargs)

    def _install(self) -> None:
        model = self.o._pipe.model
        self._had_instance_generate = "generate" in vars(model)
        self._saved_generate = vars(model).get("generate")
        bound = model.generate
        call = self

        from transformers import LogitsProcessorList

        def generate(*args: Any, **kwargs: Any) -> Any:
            call.gen_start()
            kw = dict(kwargs)
            kw["logits_processor"] = LogitsProcessorList(
                [*(kwargs.get("logits_processor") or []), _first_step_processor(call.first_logits)])
            out = bound(*args, **kw)
            call.gen_end(args, kwargs, out)
            return out

        model.generate = generate

    def _uninstall(self) -> None:
        model = self.o._pipe.model
        if self._had_instance_generate:
            model.generate = self._saved_generate
        else:
            try:
                del model.generate
            except AttributeError:
                pass

    def finish(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            if self.gen:
                self._uninstall()
            e = self.tr.read_all()
            if self.gen:
                self.parts[self.seg or "prefill"].append(self.tr.end(self.seg or "prefill", edge=e))
                c = dict(self.counts)
                c["tokens"] = c["input_tokens"] + c["output_tokens"]
                last: _Entry = {"generate": self.tr.end("generate", edge=e, **c), "_parts": self.parts}
            else:
                q = self.queries_in if self.queries_in is not None else self.yielded
                last = {"forward": self.tr.end("forward", edge=e, queries=q)}
            self.o._record(last)
        except SCERError as exc:
            self.o._warn_once("finish", f"scer-hf: could not close the measurement of a call ({exc}); not recorded")
            for name in self.tr.active:  # leave no window open for the next call
                self.tr.end(name, cancel=True)
        finally:
            self.o._busy = False


class _Stream:
    """Iterator over a streamed pipeline output; the call's windows close when it is exhausted."""

    def __init__(self, it: Any, call: _Call) -> None:
        self._src = it
        self._it = iter(it)  # transformers' PipelineIterator sets itself up in __iter__
        self._call = call

    def __iter__(self) -> "_Stream":
        return self

    def __next__(self) -> Any:
        try:
            item = next(self._it)
        except BaseException:
            self._call.finish()
            raise
        self._call.yielded += 1
        return item

    def __len__(self) -> int:
        return len(self._src)

    def close(self) -> None:
        self._call.finish()

    def __del__(self) -> None:
        try:
            self._call.finish()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass


# --- the wrapper -------------------------------------------------------------------------
class TrackedPipeline:
    """A pipeline that measures itself. Calls and attributes pass through to the pipeline.

    ``.report`` is a :class:`scer_hf.Report` (boundary ``inference``) cumulative over
    calls; ``.last_call`` holds the measurements of the latest call; ``.tracker`` is the
    :class:`~scer_hf.tracker.PhaseTracker` doing the reads.
    """

    def __init__(self, pipe: Any, tracker: PhaseTracker, carbon: CarbonIntensity, hardware: str | None) -> None:
        self._pipe = pipe
        self.tracker = tracker
        self.carbon = carbon
        self.hardware = hardware
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
        except SCERError as exc:
            self._busy = False
            self._warn_once("start", f"scer-hf: could not open a measurement window ({exc}); call unmeasured")
            return self._pipe(*args, **kwargs)
        try:
            out = self._pipe(*args, **kwargs)
        except BaseException:
            call.finish()
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
        ex = {"per_unit": self.per_unit(), "pipeline": {"task": self.task, "calls": self.calls}}
        ex.update(extra or {})
        return Report.build(
            ms, boundary="inference", carbon=self.carbon, model={**self.model_info(), **dict(model or {})},
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


def track_pipeline(
    pipe: Any,
    *,
    country_iso_code: str | None = None,
    region: str | None = None,
    carbon_intensity_g_per_kwh: float | None = None,
    pue: float = 1.0,
    meters: Meter | Sequence[Meter] | None = None,
    hardware: str | None = None,
) -> TrackedPipeline:
    """Wrap *pipe* (a transformers pipeline or :class:`Text2TextPipeline`) to measure every call.

    ``meters=None`` picks the best meters here (:func:`scer_hf.meters.auto`);
    ``hardware`` (e.g. ``"NVIDIA H100 SXM 80GB"``) adds embodied emissions for the time measured.
    """
    if isinstance(pipe, TrackedPipeline):
        raise UnsupportedPipelineError("this pipeline is already tracked; use it directly (pipe.report)")
    if not callable(pipe) or getattr(pipe, "model", None) is None:
        raise UnsupportedPipelineError(
            f"track_pipeline needs a transformers pipeline (with a .model), got {type(pipe).__name__}; "
            "build one with transformers.pipeline(task, model=...) or scer_hf.pipeline.Text2TextPipeline"
        )
    carbon = carbon_intensity(country_iso_code, region, g_per_kwh=carbon_intensity_g_per_kwh, pue=pue)
    return TrackedPipeline(pipe, PhaseTracker(meters, keep=False), carbon, hardware)
