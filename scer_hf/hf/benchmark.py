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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core import fmt as _fmt
from ..core import stopping as _stopping
from ..core.meters.base import Meter
from ..core.report import Report
from ..errors import BenchmarkSettingsError, EmptyPromptsError, ModelIdError, ModelLoadError, UnknownTaskError
from .pipeline import GENERATION_TASKS, Text2TextPipeline, TrackedPipeline, track_pipeline
from .prompts import load_prompts, prompt_set_info

__all__ = ["benchmark", "load_pipeline", "supported_tasks", "SETTINGS", "PROTOCOL_VERSION", "sequential_ci"]

PROTOCOL_VERSION = "scer-hf-bench/2"  # /2: the stopping rule scer-hf-stop/2 (min 50, 97 % t quantile)
# Generation budgets. aienergyscore: AI Energy Score v1 text_generation config (optimum-benchmark energy_star:
# max_new_tokens = min_new_tokens = 10, batch_size 1, greedy). long: LLM-Perf leaderboard GENERATE_KWARGS
# (huggingface/llm-perf-backend llm_perf/common/utils.py: max_new_tokens = min_new_tokens = 64, batch_size 1).
SETTINGS: dict[str, dict[str, Any]] = {
    "aienergyscore": {"max_new_tokens": 10, "batch_size": 1,
                      "source": "AI Energy Score v1 (optimum-benchmark energy_star text_generation config)"},
    "long": {"max_new_tokens": 64, "batch_size": 1,
             "source": "LLM-Perf leaderboard (huggingface/llm-perf-backend GENERATE_KWARGS)"},
}
DEFAULT_QUERIES = 1000  # AI Energy Score: num_samples 1000 per task
DEFAULT_WARMUP = 10  # optimum-benchmark energy_star warmup_runs default; LLM-Perf warmup_runs=10
# Our protocol choice (not from a source), chosen by simulation: see scer_hf.core.stopping
DEFAULT_MIN_QUERIES = _stopping.DEFAULT_MIN_QUERIES
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
        return tf.pipeline(task, model=local, device=device, **kw)  # a local folder: no network
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
            ids = tok(t, add_special_tokens=False)["input_ids"]
            if len(ids) > limit:
                t = tok.decode(ids[:limit], skip_special_tokens=True)
                cut += 1
        if task == "fill-mask":
            t = f"{t} {tok.mask_token}"
        out.append(t)
    return out, cut


def _prompt_texts(prompts: Any) -> tuple[list[str], dict[str, Any]]:
    if prompts is None:
        recs = load_prompts()
        return [r["prompt"] for r in recs], prompt_set_info(len(recs))
    if hasattr(prompts, "column_names"):  # a datasets.Dataset
        col = next((c for c in ("prompt", "text") if c in prompts.column_names), None)
        if col is None:
            raise EmptyPromptsError("the prompts dataset has no 'prompt' or 'text' column (has "
                                    f"{prompts.column_names})")
        texts = list(prompts[col])
        info = {"name": "user dataset", "source": getattr(prompts.info, "description", "") or "user-supplied",
                "license": getattr(prompts.info, "license", "") or None}
    elif isinstance(prompts, str):
        texts, info = [prompts], {"name": "user prompts", "source": "user-supplied", "license": None}
    else:
        texts = [p["prompt"] if isinstance(p, dict) else p for p in prompts]
        info = {"name": "user prompts", "source": "user-supplied", "license": None}
    texts = [t for t in texts if isinstance(t, str) and t.strip()]
    if not texts:
        raise EmptyPromptsError("no non-empty prompts to benchmark with; pass prompts=None for the shipped set "
                                "or a list of strings")
    return texts, {**info, "n": len(texts)}


def sequential_ci(values: Sequence[float], confidence: float = 0.95) -> dict[str, float | None]:
    """Mean and half-width of the stopping rule's interval of *values* (None below two values): a Student-t
    interval at :func:`scer_hf.core.stopping.quantile_level` of *confidence* (0.97 for 0.95)."""
    rule = _stopping.SequentialStop(confidence=confidence)
    for v in values:
        rule.add(v)
    return rule.interval()


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
        return _endpoint(locals(), endpoint_options)
    if setting not in SETTINGS:
        raise BenchmarkSettingsError(f"setting {setting!r} is unknown; use one of {', '.join(SETTINGS)}")
    cap = DEFAULT_QUERIES if queries is None else int(queries)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise BenchmarkSettingsError(f"batch_size={batch_size!r}: need a whole number of prompts per call, >= 1 "
                                     "(1 is the AI Energy Score setting)")
    if cap < 1 or warmup < 0 or min_queries < 2 or not 0 < rel_ci < 1 or not 0 < confidence < 1:
        raise BenchmarkSettingsError(
            f"invalid settings (queries={cap}, warmup={warmup}, min_queries={min_queries}, rel_ci={rel_ci}, "
            f"confidence={confidence}); need queries >= 1, warmup >= 0, min_queries >= 2, 0 < rel_ci < 1 "
            "(0.05 = +-5 %) and 0 < confidence < 1 (0.95)")
    texts, pinfo = _prompt_texts(prompts)
    raw_texts = texts
    from ..core.carbon import carbon_intensity

    # a bad country, region, intensity or PUE fails now, not after the model is loaded
    ci = carbon_intensity(country_iso_code, region, g_per_kwh=carbon_intensity_g_per_kwh, pue=pue,
                          cloud_provider=cloud_provider, cloud_region=cloud_region)
    if isinstance(live_intensity, str):  # a zone without a token fails now too
        from ..core.live_intensity import make_live

        make_live(live_intensity, ci)
    if isinstance(model_or_path, (str, os.PathLike)):
        task = _check_task(task)
        if quality:
            _check_quality_task(task)
        if device is None:
            import torch

            device = "cuda:0" if torch.cuda.is_available() else "cpu"
        pipe = load_pipeline(model_or_path, task, device=device, dtype=dtype)
        model_id = model_id or str(model_or_path)
    else:
        pipe = model_or_path.pipeline if isinstance(model_or_path, TrackedPipeline) else model_or_path
        model_id = model_id or getattr(getattr(pipe, "model", None), "name_or_path", None) or None
        task = _check_task(getattr(pipe, "task", None) or task)
    task = getattr(pipe, "task", task) or task
    if quality:  # fail before the run, not after it
        _check_quality_task(task)
    st = SETTINGS[setting]
    gen = task in GENERATION_TASKS
    new_tokens = st["max_new_tokens"] if gen else None
    call_kw: dict[str, Any] = (
        {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "do_sample": False, "num_beams": 1}
        if gen else {}
    )
    texts, cut = _prepare(texts[: max(-(-cap // batch_size) * batch_size, warmup, 1)], pipe, task,
                          new_tokens or 0)  # only what may run

    bs = batch_size
    if bs > 1:
        call_kw["batch_size"] = bs

    def batch(k: int) -> Any:  # call k's prompts: one string at batch 1 (as AI Energy Score), else a list
        return texts[k % len(texts)] if bs == 1 else [texts[(k * bs + j) % len(texts)] for j in range(bs)]

    for i in range(-(-warmup // bs)):  # the bare pipeline: nothing measured
        pipe(batch(i), **call_kw)
    tracked = track_pipeline(pipe, country_iso_code=country_iso_code, region=region,
                             carbon_intensity_g_per_kwh=carbon_intensity_g_per_kwh, pue=pue, meters=meters,
                             cloud_provider=cloud_provider, cloud_region=cloud_region, live_intensity=live_intensity,
                             hardware=hardware)
    from tqdm.auto import tqdm

    calls = -(-cap // bs)
    need = min(min_queries, calls)
    rule = _stopping.SequentialStop(rel_ci=rel_ci, min_queries=need, confidence=confidence)
    stopped_by = "cap"
    bar = tqdm(total=cap, desc=f"scer-hf benchmark {task}", unit="query", disable=not progress)
    try:
        for i in range(calls):
            tracked(batch(i), **call_kw)
            e = _query_energy(tracked)
            bar.update(bs)
            if e is None:
                continue
            done = rule.add(e)
            if rule.n >= need and rule.n >= 2:
                now = rule.interval()
                bar.set_postfix(j_per_query=_fmt.num(now['mean_j_per_query']),
                                rel_ci=f"{(now['rel_half_width'] or math.inf):.3f}", refresh=False)
            if done:
                stopped_by = "ci"
                break
    finally:
        bar.close()
        if meters is None:  # ours to release
            tracked.close()
    ci = rule.interval()
    info = {
        "protocol": PROTOCOL_VERSION,
        "setting": setting,
        "setting_source": st["source"],
        "task": task,
        "max_new_tokens": new_tokens,
        "min_new_tokens": new_tokens,
        "do_sample": False if gen else None,
        "batch_size": bs,
        "concurrency": 1,
        "warmup": warmup,
        "queries_cap": cap,
        "min_queries": need,
        "queries_run": tracked.calls * bs,
        "calls_run": tracked.calls,
        "queries_measured": rule.n * bs,
        "stopped_by": stopped_by,
        "stopping_rule": _stopping.RULE,
        "ci": {"mean_j_per_query": ci["mean_j_per_query"], "half_width_j": ci["half_width_j"],
               "rel_half_width": ci["rel_half_width"], "confidence": confidence,
               "quantile_level": ci["quantile_level"], "target_rel_half_width": rel_ci},
        "prompts": {**pinfo, "used": min(tracked.calls * bs, len(texts)), "cut_to_context": cut,
                    "cycled": tracked.calls * bs > pinfo["n"]},
        "device": str(getattr(pipe, "device", device)),
        "hardware": hardware or _detect_hardware(pipe),
        "dtype": str(getattr(pipe.model, "dtype", None)),
    }
    report = tracked.build_report(model={"id": model_id} if model_id else None, benchmark=info)
    if quality:
        report = _attach_quality(report, pipe, task, raw_texts[: max(1, min(tracked.calls * bs, len(raw_texts)))])
    return report


def _endpoint(args: dict[str, Any], options: dict[str, Any]) -> Report:
    """``benchmark(endpoint=..., model=..., concurrency=...)``: checked, then run by the endpoint protocol."""
    from .serving import benchmark_endpoint

    if args["endpoint"] is None or args["model"] is None:
        raise BenchmarkSettingsError("measuring a server needs endpoint= (its base URL, e.g. http://127.0.0.1:8000/v1) "
                                     "and model= (the name it serves); for in-process batching use batch_size=")
    if args["model_or_path"] is not None:
        raise BenchmarkSettingsError("pass either a model (model_or_path) or endpoint= and model=, not both")
    unused = [k for k in ("batch_size", "device", "dtype", "quality") if args[k] not in (1, None, False)]
    if unused:
        raise BenchmarkSettingsError(f"{', '.join(unused)}: not used when measuring a server (the server decides "
                                     "how it batches; concurrency= sets the load)")
    known = {"api", "api_key", "server_pid", "parameters", "timeout_s"}
    if set(options) - known:
        raise TypeError(f"benchmark() got unexpected keyword arguments: {', '.join(sorted(set(options) - known))}")
    keep = ("setting", "queries", "warmup", "rel_ci", "confidence", "prompts", "meters", "hardware", "progress",
            "model_id", "country_iso_code", "region", "carbon_intensity_g_per_kwh", "pue", "cloud_provider",
            "cloud_region", "live_intensity")
    kw = {k: args[k] for k in keep}
    if args["min_queries"] != DEFAULT_MIN_QUERIES:
        kw["min_queries"] = args["min_queries"]
    if args["task"] != "text-generation":
        raise BenchmarkSettingsError(f"task {args['task']!r}: a server is measured on text generation only")
    return benchmark_endpoint(args["endpoint"], args["model"], args["concurrency"], **kw, **options)


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
