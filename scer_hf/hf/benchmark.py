"""The standard inference benchmark: ``scer_hf.benchmark(model_or_path, task=...)``.

Protocol ``scer-hf-bench/1`` (documented in the README):

1. Load the model from a local folder or the local Hugging Face cache only (never the network).
2. Prompts: the shipped set (:mod:`scer_hf.hf.prompts`), file order, each cut to fit the model's context.
3. Warm-up: ``warmup`` unmeasured queries (default 10, as AI Energy Score / LLM-Perf).
4. Measure one query at a time (batch 1, the AI Energy Score setting and the default), greedy, fixed budget per
   setting: ``aienergyscore`` = 10 new tokens (min = max), ``long`` = 64 new tokens (min = max). ``batch_size=N``
   sends N prompts per call (the pipeline's ``batch_size``); each call is one measurement of energy per query
   (its energy / its N queries). Only batch 1 is rated against AI Energy Score (which runs batch 1).
5. Sequential stopping (:mod:`scer_hf.core.stopping`, rule ``scer-hf-stop/2``): after each measurement, once
   ``min_queries`` (default 50) are done, stop when the interval of the mean energy per query is within
   ``rel_ci`` of the mean; otherwise stop at the ``queries`` cap (default 1,000, the AI Energy Score count).
   The interval is a Student-t interval at the 97 % quantile, so that it covers the mean in at least 95 % of
   runs despite the data-dependent stop (simulated in ``tests/test_stopping.py``). A run stopped at the cap
   records the interval it reached and every output says so.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core import fmt as _fmt
from ..core import stopping as _stopping
from ..core.carbon import resolve_grid
from ..core.grid import GridSpec
from ..core.meters.base import Meter
from ..core.report import Report
from ..errors import BenchmarkSettingsError, ModelIdError, ModelLoadError, UnknownTaskError
from .bench_types import BenchmarkBlock, BenchmarkCI
from .pipeline import GENERATION_TASKS, Text2TextPipeline, TrackedPipeline, track_pipeline
from .prompts import PromptsInfo
from .protocol import (
    DEFAULT_MIN_QUERIES,
    DEFAULT_QUERIES,
    DEFAULT_WARMUP,
    GENERATION,
    PROTOCOL_VERSION,
    SETTINGS,
    Interval,
    RunSettings,
    prompt_texts,
    sequential_ci,
)

__all__ = ["benchmark", "load_pipeline", "supported_tasks", "SETTINGS", "PROTOCOL_VERSION", "sequential_ci",
           "DEFAULT_QUERIES", "DEFAULT_WARMUP", "DEFAULT_MIN_QUERIES"]


# question-answering is left out: transformers 5.24 has no such pipeline, so its inputs could not be tested here
_FORWARD_CANDIDATES = ("fill-mask", "text-classification", "feature-extraction", "token-classification")
_ALIASES = {"sentiment-analysis": "text-classification", "ner": "token-classification"}


def supported_tasks() -> list[str]:
    """Tasks the benchmark runs with this transformers."""
    from transformers.pipelines import SUPPORTED_TASKS

    fwd = [t for t in _FORWARD_CANDIDATES if t in SUPPORTED_TASKS]
    return ["text-generation", "text2text-generation", "summarization", *fwd]


def _check_task(task: str) -> str:
    t = _ALIASES.get(task, task)
    ok = supported_tasks()
    if t not in ok:
        raise UnknownTaskError(f"task {task!r} is not supported by scer-hf benchmark; supported: {', '.join(ok)}")
    return t


def _resolve_local(model_or_path: str | os.PathLike[str]) -> str:
    s = os.path.expanduser(str(model_or_path))
    p = Path(s)
    if p.exists():
        if not (p / "config.json").is_file():
            raise ModelLoadError(f"{p} has no config.json; pass a folder written by save_pretrained()")
        return str(p)
    if s.startswith((".", "/", "~")) or s.count("/") > 1:
        raise ModelLoadError(f"no model folder at {s!r}; pass an existing local path or a Hub id like 'gpt2'")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        return snapshot_download(s, local_files_only=True)
    except HFValidationError as exc:
        raise ModelIdError(f"{s!r} is not a valid Hub model id or local path ({exc})") from exc
    except (LocalEntryNotFoundError, OSError) as exc:
        raise ModelLoadError(
            f"model {s!r} is not in the local Hugging Face cache and scer-hf benchmark never downloads. "
            f"Pass a local folder (save_pretrained), or run once online: `hf download {s}`"
        ) from exc


def _check_device(device: Any) -> Any:
    """A device string torch understands and this machine has; else a typed error before any loading."""
    if device is None or isinstance(device, int):
        return device
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise BenchmarkSettingsError(f"device {device!r} is not a torch device; use 'cpu', 'cuda' or 'cuda:N'") from exc
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            raise BenchmarkSettingsError(f"device {device!r}: no CUDA GPU is usable here (torch {torch.__version__}); "
                                         "use device='cpu' or leave it unset")
        if dev.index is not None and dev.index >= n:
            raise BenchmarkSettingsError(f"device {device!r}: this machine has {n} CUDA GPU(s), cuda:0 to cuda:{n - 1}")
    return device


def load_pipeline(model_or_path: str | os.PathLike[str], task: str = "text-generation", *, device: Any = None,
                  dtype: Any = None) -> Any:
    """A pipeline for *task* from a local folder or the local HF cache (offline, fails fast).

    Encoder-decoder models with a generation task get a :class:`Text2TextPipeline`.
    """
    task = _check_task(task)
    device = _check_device(device)
    local = _resolve_local(model_or_path)
    import transformers as tf
    from transformers.pipelines.base import PipelineException

    try:
        config = tf.AutoConfig.from_pretrained(local, local_files_only=True)
        enc_dec = bool(getattr(config, "is_encoder_decoder", False))
        if task in GENERATION_TASKS and enc_dec:
            kw = {"dtype": dtype} if dtype is not None else {}
            model = tf.AutoModelForSeq2SeqLM.from_pretrained(local, local_files_only=True, **kw)
            tok = tf.AutoTokenizer.from_pretrained(local, local_files_only=True)
            model.eval()
            t2t = "summarization" if task == "summarization" else "text2text-generation"
            return Text2TextPipeline(model, tok, device=device, task=t2t)
        if task in ("text2text-generation", "summarization"):
            raise ModelLoadError(f"task {task!r} needs an encoder-decoder model (T5, BART...); {model_or_path} is "
                                 f"not one ({getattr(config, 'model_type', '?')}): use task='text-generation' "
                                 "(CLI: --task text-generation)")
        kw = {"dtype": dtype} if dtype is not None else {}
        make: Any = tf.pipeline  # its overloads take the task as a Literal; ours is a checked str
        return make(task, model=local, device=device, **kw)  # a local folder: no network
    except (OSError, ValueError, KeyError, PipelineException) as exc:  # e.g. fill-mask on a model with no mask token
        raise ModelLoadError(f"could not load {model_or_path} for {task!r}: {exc}") from exc


def _max_input_tokens(pipe: Any, new_tokens: int) -> int | None:
    cfg = getattr(pipe.model, "config", None)
    limit = None
    for k in ("max_position_embeddings", "n_positions"):
        v = getattr(cfg, k, None)
        if isinstance(v, int) and v > 0:
            limit = v
            break
    tml = getattr(pipe.tokenizer, "model_max_length", None)
    if isinstance(tml, int) and 0 < tml < 1_000_000:
        limit = min(limit, tml) if limit else tml
    # headroom: special tokens and re-tokenisation of the cut text
    return None if limit is None else max(8, limit - new_tokens - 8)


def _prepare(texts: list[str], pipe: Any, task: str, new_tokens: int) -> tuple[list[str], int]:
    """Cut prompts to the model's context; fill-mask gets the mask token appended."""
    tok = pipe.tokenizer
    limit = _max_input_tokens(pipe, new_tokens if task in GENERATION_TASKS else 0)
    if task == "fill-mask" and limit:
        limit -= 4
    out, cut = [], 0
    for t in texts:
        if limit is not None:
            ids = tok(t, add_special_tokens=False).input_ids
            if len(ids) > limit:
                t = tok.decode(ids[:limit], skip_special_tokens=True)
                cut += 1
        if task == "fill-mask":
            t = f"{t} {tok.mask_token}"
        out.append(t)
    return out, cut


def _query_energy(pipe: TrackedPipeline) -> float | None:
    """Energy per query of the latest call (its energy / its queries), None when it was not fully measured."""
    m = pipe.last_call.get("generate") or pipe.last_call.get("forward")
    if m is None or not m.measured:
        return None
    return m.total_energy_j / max(float(m.counts.get("queries", 1) or 1), 1.0)


def benchmark(
    model_or_path: Any = None,
    task: str = "text-generation",
    *,
    setting: str = "aienergyscore",
    queries: int | None = None,
    batch_size: int = 1,
    min_queries: int = DEFAULT_MIN_QUERIES,
    warmup: int = DEFAULT_WARMUP,
    rel_ci: float = 0.05,
    confidence: float = 0.95,
    prompts: Any = None,
    meters: Meter | Sequence[Meter] | None = None,
    country_iso_code: str | None = None,
    region: str | None = None,
    carbon_intensity_g_per_kwh: float | None = None,
    pue: float = 1.0,
    hardware: str | None = None,
    progress: bool = True,
    device: Any = None,
    dtype: Any = None,
    quality: bool = False,
    model_id: str | None = None,
    cloud_provider: str | None = None,
    cloud_region: str | None = None,
    live_intensity: Any = None,
    grid: GridSpec | None = None,
    endpoint: str | None = None,
    model: str | None = None,
    concurrency: int | Sequence[int] | None = None,
    **endpoint_options: Any,
) -> Report:
    """Run the standard protocol on *model_or_path* (local folder, cached Hub id, or a pipeline), or, with
    ``endpoint=`` and ``model=``, on a running OpenAI-compatible server at each ``concurrency`` level
    (:func:`scer_hf.hf.serving.benchmark_endpoint`, whose ``endpoint_options`` are ``api``, ``api_key``,
    ``server_pid``, ``parameters`` and ``timeout_s``).

    ``model_id`` names the model in the report (default: the path or id given, or the
    pipeline model's ``name_or_path``).

    ``batch_size``: prompts per call (default 1, the AI Energy Score setting, the only one rated against it);
    each call is one measurement of energy per query, and ``min_queries`` counts measurements.

    Returns a :class:`~scer_hf.Report` whose ``report["benchmark"]`` records the
    settings, the queries run, why it stopped and the achieved interval.
    """
    if endpoint is not None or model is not None or concurrency is not None or endpoint_options:
        from .serving import benchmark_endpoint

        ep, served = _endpoint_target(endpoint, model, model_or_path, task, (
            ("batch_size", batch_size), ("device", device), ("dtype", dtype), ("quality", quality)), endpoint_options)
        return benchmark_endpoint(
            ep, served, concurrency, setting=setting, queries=queries, warmup=warmup, rel_ci=rel_ci,
            confidence=confidence, prompts=prompts, meters=meters, hardware=hardware, progress=progress,
            model_id=model_id, country_iso_code=country_iso_code, region=region,
            carbon_intensity_g_per_kwh=carbon_intensity_g_per_kwh, pue=pue, cloud_provider=cloud_provider,
            cloud_region=cloud_region, live_intensity=live_intensity, grid=grid,
            min_queries=None if min_queries == DEFAULT_MIN_QUERIES else min_queries, **endpoint_options)
    proto = RunSettings.checked(setting, queries, batch_size, min_queries, warmup, rel_ci, confidence)
    texts, pinfo = prompt_texts(prompts)
    spec = _checked_grid(grid, country_iso_code=country_iso_code, region=region,
                         carbon_intensity_g_per_kwh=carbon_intensity_g_per_kwh, pue=pue, cloud_provider=cloud_provider,
                         cloud_region=cloud_region, live_intensity=live_intensity)
    pipe, task, model_id = _pipeline(model_or_path, task, quality=quality, device=device, dtype=dtype,
                                     model_id=model_id)
    run = _Calls.prepared(pipe, task, proto, texts)
    run.warm_up()  # the bare pipeline: nothing measured
    tracked = track_pipeline(pipe, meters=meters, hardware=hardware, grid=spec)
    try:
        rule, stopped_by = _measure(tracked, run, progress)
    finally:
        if meters is None:  # ours to release
            tracked.close()
    info: BenchmarkBlock = {**run.settings(tracked.calls, rule, stopped_by, pinfo),
                            "device": str(getattr(pipe, "device", device)),
                            "hardware": hardware or _detect_hardware(pipe),
                            "dtype": str(getattr(pipe.model, "dtype", None))}
    report = tracked.build_report(model={"id": model_id} if model_id else None, benchmark=info)
    if quality:
        report = _attach_quality(report, pipe, task, texts[: max(1, min(tracked.calls * proto.batch_size, len(texts)))])
    return report


def _checked_grid(grid: GridSpec | None, **keywords: Any) -> GridSpec:
    """The run's grid, resolved now: a bad country, region, intensity, PUE or live zone fails before the model
    is loaded, not after it."""
    spec = GridSpec.of(grid, **keywords)
    ci = resolve_grid(spec)
    if isinstance(spec.live_intensity, str):  # a zone without a token fails now too
        from ..core.live_intensity import make_live

        make_live(spec.live_intensity, ci)
    return spec


def _pipeline(model_or_path: Any, task: str, *, quality: bool, device: Any, dtype: Any,
              model_id: str | None) -> tuple[Any, str, str | None]:
    """(pipeline, task, model id): loaded from a folder or cached id, or the pipeline given (unwrapped)."""
    if isinstance(model_or_path, (str, os.PathLike)):
        task = _check_task(task)
        if quality:
            _check_quality_task(task)
        pipe = load_pipeline(model_or_path, task, device=_default_device() if device is None else device, dtype=dtype)
        model_id = model_id or str(model_or_path)
    else:
        pipe = model_or_path.pipeline if isinstance(model_or_path, TrackedPipeline) else model_or_path
        model_id = model_id or getattr(getattr(pipe, "model", None), "name_or_path", None) or None
        task = _check_task(getattr(pipe, "task", None) or task)
    task = getattr(pipe, "task", task) or task
    if quality:  # fail before the run, not after it
        _check_quality_task(task)
    return pipe, task, model_id


def _default_device() -> str:
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


@dataclass
class _Calls:
    """The calls of one run: the prompts (cut to the model's context), the generation settings, the batches."""

    pipe: Any
    task: str
    proto: RunSettings
    texts: list[str]
    cut: int
    new_tokens: int | None
    call_kw: dict[str, Any]

    @classmethod
    def prepared(cls, pipe: Any, task: str, proto: RunSettings, texts: list[str]) -> _Calls:
        gen = task in GENERATION_TASKS
        new_tokens = GENERATION[proto.setting].max_new_tokens if gen else None
        call_kw: dict[str, Any] = (
            {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "do_sample": False, "num_beams": 1}
            if gen else {}
        )
        if proto.batch_size > 1:
            call_kw["batch_size"] = proto.batch_size
        ran = texts[: max(proto.calls * proto.batch_size, proto.warmup, 1)]  # only what may run
        prepared, cut = _prepare(ran, pipe, task, new_tokens or 0)
        return cls(pipe, task, proto, prepared, cut, new_tokens, call_kw)

    def batch(self, k: int) -> Any:
        """Call k's prompts: one string at batch 1 (as AI Energy Score), else a list."""
        bs, texts = self.proto.batch_size, self.texts
        return texts[k % len(texts)] if bs == 1 else [texts[(k * bs + j) % len(texts)] for j in range(bs)]

    def warm_up(self) -> None:
        for i in range(-(-self.proto.warmup // self.proto.batch_size)):
            self.pipe(self.batch(i), **self.call_kw)

    def settings(self, calls_run: int, rule: _stopping.SequentialStop, stopped_by: str,
                 pinfo: PromptsInfo) -> BenchmarkBlock:
        """The ``benchmark`` block of the report: the settings, the queries run, why it stopped, the interval."""
        p, bs, ci = self.proto, self.proto.batch_size, Interval.of(rule.interval())
        gen = self.task in GENERATION_TASKS
        prompts: PromptsInfo = {**pinfo, "used": min(calls_run * bs, len(self.texts)), "cut_to_context": self.cut,
                                "cycled": calls_run * bs > pinfo["n"]}
        return BenchmarkBlock(
            protocol=PROTOCOL_VERSION, setting=p.setting, setting_source=GENERATION[p.setting].source,
            task=self.task, max_new_tokens=self.new_tokens, min_new_tokens=self.new_tokens,
            do_sample=False if gen else None, batch_size=bs, concurrency=1, warmup=p.warmup,
            queries_cap=p.cap, min_queries=p.need, queries_run=calls_run * bs, calls_run=calls_run,
            queries_measured=rule.n * bs, stopped_by=stopped_by, stopping_rule=_stopping.RULE,
            ci=BenchmarkCI(mean_j_per_query=ci.mean_j_per_query, half_width_j=ci.half_width_j,
                           rel_half_width=ci.rel_half_width, confidence=p.confidence,
                           quantile_level=ci.quantile_level, target_rel_half_width=p.rel_ci),
            prompts=prompts,
        )


def _measure(tracked: TrackedPipeline, run: _Calls, progress: bool) -> tuple[_stopping.SequentialStop, str]:
    """Measured calls until the interval is tight enough ("ci") or the cap is reached ("cap")."""
    from tqdm.auto import tqdm

    p = run.proto
    rule = _stopping.SequentialStop(rel_ci=p.rel_ci, min_queries=p.need, confidence=p.confidence)
    bar = tqdm(total=p.cap, desc=f"scer-hf benchmark {run.task}", unit="query", disable=not progress)
    try:
        for i in range(p.calls):
            tracked(run.batch(i), **run.call_kw)
            bar.update(p.batch_size)
            e = _query_energy(tracked)
            if e is not None and _add(rule, e, p.need, bar):
                return rule, "ci"
    finally:
        bar.close()
    return rule, "cap"


def _add(rule: _stopping.SequentialStop, e: float, need: int, bar: Any) -> bool:
    """One measured energy per query into the stopping rule (shown on the bar); True when the rule stops."""
    done = rule.add(e)
    if rule.n >= need and rule.n >= 2:
        now = Interval.of(rule.interval())
        bar.set_postfix(j_per_query=_fmt.num(now.mean_j_per_query),
                        rel_ci=f"{(now.rel_half_width or math.inf):.3f}", refresh=False)
    return bool(done)


def _endpoint_target(endpoint: str | None, model: str | None, model_or_path: Any, task: str | None,
                     in_process: Sequence[tuple[str, Any]], options: Mapping[str, object]) -> tuple[str, str]:
    """(endpoint, served model) of ``benchmark(endpoint=..., model=..., concurrency=...)``, checked: a server is
    measured on text generation, with none of the in-process arguments (*in_process*: their names and values)."""
    if endpoint is None or model is None:
        raise BenchmarkSettingsError("measuring a server needs endpoint= (its base URL, e.g. http://127.0.0.1:8000/v1) "
                                     "and model= (the name it serves); for in-process batching use batch_size=")
    if model_or_path is not None:
        raise BenchmarkSettingsError("pass either a model (model_or_path) or endpoint= and model=, not both")
    unused = [k for k, v in in_process if v not in (1, None, False)]
    if unused:
        raise BenchmarkSettingsError(f"{', '.join(unused)}: not used when measuring a server (the server decides "
                                     "how it batches; concurrency= sets the load)")
    known = {"api", "api_key", "server_pid", "parameters", "timeout_s"}
    if set(options) - known:
        raise TypeError(f"benchmark() got unexpected keyword arguments: {', '.join(sorted(set(options) - known))}")
    if task != "text-generation":
        raise BenchmarkSettingsError(f"task {task!r}: a server is measured on text generation only")
    return endpoint, model


def _detect_hardware(pipe: Any) -> str | None:
    """The GPU's name when the model runs on CUDA, else the CPU model (what the run used)."""
    dev = getattr(pipe, "device", None) or getattr(getattr(pipe, "model", None), "device", None)
    if getattr(dev, "type", str(dev)).startswith("cuda"):
        import torch

        try:
            return str(torch.cuda.get_device_name(dev))
        except (RuntimeError, AssertionError):
            return None
    from ..core.meters.estimate import cpu_model_name

    return f"CPU: {cpu_model_name()}"


def _check_quality_task(task: str) -> None:
    from . import quality as q  # imported only when quality=True (it loads evaluate's metrics)

    if task not in q.QUALITY_TASKS:
        raise UnknownTaskError(f"quality=True: no quality metric for task {task!r} (supported: "
                               f"{', '.join(q.QUALITY_TASKS)}); run without quality")


def _attach_quality(report: Report, pipe: Any, task: str, texts: list[str]) -> Report:
    from . import quality as q

    out = q.attach_quality(report, model=pipe.model, tokenizer=pipe.tokenizer, task=task, prompts=texts)
    return out if isinstance(out, Report) else report
