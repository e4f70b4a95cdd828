"""Measure a running OpenAI-compatible server: ``scer_hf.benchmark(endpoint=..., model=..., concurrency=[1, 8, 32])``.

Protocol ``scer-hf-bench/1``, endpoint mode (documented in the README, "Measuring a server"):

1. The server is started and stopped by the user, never by scer-hf. A first request checks that it answers as an
   OpenAI-compatible server (``api="auto"``: ``/chat/completions``, else ``/completions``) before anything is
   measured; what it answers otherwise is a typed error (:mod:`scer_hf.errors`).
2. The energy is **this machine's**: its GPUs (NVML, every visible GPU: the benchmark cannot tell which the server
   uses; hide others with ``CUDA_VISIBLE_DEVICES``), its CPU and DRAM counters (RAPL) where readable, else an
   estimate of the server's own process tree (the process listening on the port, or ``server_pid``). An endpoint
   that is not this machine is refused (:class:`~scer_hf.errors.RemoteEndpointError`) unless ``hardware=`` says
   what serves it; its report then records performance (latency, TTFT, throughput) and energy *not measured here*.
3. The shipped prompts, the setting's token budget (``max_tokens`` 10 or 64; greedy, ``temperature`` 0), streamed
   with usage. Per level: ``warmup`` unmeasured requests, then measured ones until the protocol's interval of the
   mean energy per response is within ``rel_ci``, or the cap (:mod:`scer_hf.hf.loadgen`).
4. The report has one top-level phase per level (``c=N``, with ``c=N prefill`` and ``c=N decode`` children split at
   the first streamed token) and the curve in ``benchmark.levels``: per level energy per response and per 1,000
   output tokens with the interval, throughput, latency and time to first token, failures, coverage.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..core import attribution
from ..core.calls import CallTracker
from ..core.carbon import carbon_intensity
from ..core.endpoint import APIS, Answer, Client, Endpoint
from ..core.live_intensity import make_live
from ..core.meters.base import Meter
from ..core.report import Report
from ..errors import BenchmarkSettingsError, EndpointResponseError, EndpointUnreachableError, RemoteEndpointError
from .loadgen import Level, run_level
from .pipeline._call import call_entry
from .pipeline._tracked import _Tracked

__all__ = ["benchmark_endpoint", "level_name", "DEFAULT_CONCURRENCY", "MAX_CONCURRENCY"]

DEFAULT_CONCURRENCY = (1, 8, 32)
MAX_CONCURRENCY = 1024  # client threads per level


def level_name(c: int) -> str:
    """The top-level phase of level *c* (its children: ``c=N prefill``, ``c=N decode``)."""
    return f"c={c}"


class _Run(_Tracked):
    def __init__(self, tracker: CallTracker, carbon: Any, hardware: str | None, model_id: str,
                 parameters: int | None) -> None:
        super().__init__(tracker, carbon, hardware)
        self.model_id, self.parameters = model_id, parameters

    def model_info(self) -> dict[str, Any]:
        return {"id": self.model_id, "parameters": self.parameters, "task": "text-generation"}

    def _extra(self) -> dict[str, Any]:
        return {}


def _levels(concurrency: int | Sequence[int] | None) -> list[int]:
    if concurrency is None:
        return list(DEFAULT_CONCURRENCY)
    cs = [concurrency] if isinstance(concurrency, int) else list(concurrency)
    if not cs or not all(isinstance(c, int) and not isinstance(c, bool) and 1 <= c <= MAX_CONCURRENCY for c in cs):
        raise BenchmarkSettingsError(f"concurrency={concurrency!r}: need whole numbers of clients from 1 to "
                                     f"{MAX_CONCURRENCY}, e.g. [1, 8, 32] (CLI: --concurrency 1,8,32)")
    if len(set(cs)) != len(cs):
        raise BenchmarkSettingsError(f"concurrency={concurrency!r} names a level twice")
    return cs


def _probe(ep: Endpoint, api: str, mk: Any) -> str:
    """The API that answers (one unmeasured request), or a typed error saying what the server did."""
    tried: list[tuple[str, Answer]] = []
    for a in ([ep.api] if ep.api else APIS if api == "auto" else [api]):
        c = mk(a)
        try:
            ans = c.request("Hello")
        finally:
            c.close()
        if ans.ok:
            return a
        tried.append((a, ans))
        if ans.kind != "http 4xx" or ans.status in (401, 403):
            break  # only a route the server does not have is worth the other route
    a, ans = tried[-1]
    url = ep.url + ep.route(a)[len(ep.base_path):]
    if ans.kind in ("refused", "timeout"):
        raise EndpointUnreachableError(
            f"no server answers at {url} ({ans.reason}). scer-hf never starts a server: start yours first, e.g. "
            f"`transformers serve MODEL --port {ep.port}` or `vllm serve MODEL`, then run the benchmark again")
    if ans.status in (401, 403):
        raise EndpointResponseError(f"{url} refused the request (HTTP {ans.status}): pass the server's key as "
                                    "api_key= (CLI: --api-key-env VAR, the variable that holds it)")
    if ans.kind == "http 4xx":
        raise EndpointResponseError(
            f"{url} rejected the request (HTTP {ans.status}): check that model= names a model the server serves, "
            "that the URL ends at the API's base (e.g. /v1), and use api='completions' for a model without a chat "
            "template")
    raise EndpointResponseError(f"{url} did not answer as an OpenAI-compatible server ({ans.kind}: {ans.reason}); "
                                "check the URL (it ends at the API's base, e.g. /v1) and the server's log")


def _meters(ep: Endpoint, server_pid: int | None) -> tuple[list[Meter], dict[str, str], int | None]:
    """This machine's GPUs and host, the host as the server's process tree when no RAPL counter reads it."""
    from ..core.meters.auto import auto
    from ..core.meters.process import ProcessTreeMeter, listening_pid

    ms = auto(host=False)
    meters, choices = list(ms), dict(ms.choices)
    host = auto(gpu=False)
    rapl = [m for m in host if m.name == "rapl"]
    for m in host:
        if m.name != "rapl":
            m.close()
    meters += rapl
    has_dram = any(c.startswith("dram") for m in rapl for c in m.components)
    pid = server_pid if server_pid is not None else (listening_pid(ep.port) if ep.host else None)
    if rapl:
        choices["cpu"] = ("rapl counter (node-wide: the server, this client and anything else running): "
                          f"{rapl[0].source}")
    if not rapl or not has_dram:
        if pid is None or pid == os.getpid():
            choices["cpu" if not rapl else "ram"] = (
                "not measured: no RAPL counter, and the server's process was not found (pass server_pid=)")
        else:
            try:
                meters.append(ProcessTreeMeter(pid, include_cpu=not rapl, include_ram=True))
                choices["ram"] = f"estimate of the server process {pid} and its children"
                if not rapl:
                    choices["cpu"] = f"estimate of the server process {pid} and its children"
            except Exception as exc:  # noqa: BLE001 - MeterUnavailableError, a process that just left: recorded
                choices["cpu"] = f"not measured ({exc})"
    return meters, choices, pid


def _stats(xs: Sequence[float]) -> dict[str, float | None]:
    if not xs:
        return {"mean": None, "p50": None, "p90": None, "p99": None}
    import numpy as np

    a = np.asarray(xs, dtype=float)
    return {"mean": float(a.mean()), "p50": float(np.percentile(a, 50)), "p90": float(np.percentile(a, 90)),
            "p99": float(np.percentile(a, 99))}


def _level_dict(lv: Level, ci: dict[str, Any], phase: dict[str, Any] | None, confidence: float,
                rel_ci: float) -> dict[str, Any]:
    wall = lv.end_s - lv.start_s if lv.end_s > lv.start_s else None
    cov = (phase or {}).get("coverage") or {}
    basis_j = float((cov.get("energy_j") or {}).get("total", 0.0))
    basis = cov.get("counts") or {}
    n_q, n_out = float(basis.get("queries", 0)), float(basis.get("output_tokens", 0))
    meter_u_j = float((phase or {}).get("energy_uncertainty_j") or 0.0)
    return {
        "concurrency": lv.concurrency, "phase": lv.name, "responses": lv.responses, "failed": lv.failed,
        "failures": dict(lv.failures), "failure_reasons": dict(lv.reasons), "stopped_by": lv.stopped_by,
        "warmup": {"responses": lv.warmup_ok, "failed": lv.warmup_failed},
        "responses_measured": len(lv.energies_j),
        "j_per_response": basis_j / n_q if n_q else None,
        "j_per_1k_output_tokens": basis_j / n_out * 1000.0 if n_out else None,
        "wh_per_1k_responses": basis_j / n_q * 1000.0 / 3600.0 if n_q else None,
        "meter_uncertainty_rel": meter_u_j / basis_j if basis_j else None,
        "ci": {"mean_j_per_response": ci.get("mean_j_per_query"), "half_width_j": ci.get("half_width_j"),
               "rel_half_width": ci.get("rel_half_width"), "confidence": confidence, "target_rel_half_width": rel_ci},
        "output_tokens": lv.output_tokens, "input_tokens": lv.input_tokens,
        "output_tokens_per_response": lv.output_tokens / lv.responses if lv.responses else None,
        "output_tokens_source": "usage" if lv.token_sources == {"usage"} else (
            "streamed chunks" if lv.token_sources == {"chunks"} else "usage and streamed chunks"),
        "wall_s": wall,
        "throughput_output_tokens_per_s": lv.output_tokens / wall if wall else None,
        "responses_per_s": lv.responses / wall if wall else None,
        "latency_s": _stats(lv.latency_s), "ttft_s": _stats(lv.ttft_s),
        "coverage": cov.get("measured_fraction"),
    }


def benchmark_endpoint(
    endpoint: str,
    model: str,
    concurrency: int | Sequence[int] | None = None,
    *,
    api: str = "auto",
    api_key: str | None = None,
    setting: str = "aienergyscore",
    queries: int | None = None,
    min_queries: int | None = None,
    warmup: int | None = None,
    rel_ci: float = 0.05,
    confidence: float = 0.95,
    prompts: Any = None,
    meters: Meter | Sequence[Meter] | None = None,
    hardware: str | None = None,
    server_pid: int | None = None,
    parameters: int | None = None,
    timeout_s: float = 120.0,
    progress: bool = True,
    model_id: str | None = None,
    country_iso_code: str | None = None,
    region: str | None = None,
    carbon_intensity_g_per_kwh: float | None = None,
    pue: float = 1.0,
    cloud_provider: str | None = None,
    cloud_region: str | None = None,
    live_intensity: Any = None,
) -> Report:
    """Benchmark the OpenAI-compatible server at *endpoint* serving *model* at each concurrency level (see the
    module docstring). Arguments as :func:`scer_hf.benchmark`, plus ``api`` (``auto``, ``chat`` or
    ``completions``), ``api_key`` (sent only to the endpoint), ``server_pid`` (the server's process, for the host
    estimate; found from the port when left out), ``parameters`` (the served model's parameter count, for the
    rating's size class) and ``timeout_s`` (per request)."""
    from .benchmark import (
        DEFAULT_MIN_QUERIES,
        DEFAULT_QUERIES,
        DEFAULT_WARMUP,
        PROTOCOL_VERSION,
        SETTINGS,
        _prompt_texts,
        sequential_ci,
    )

    levels = _levels(concurrency)
    if setting not in SETTINGS:
        raise BenchmarkSettingsError(f"setting {setting!r} is unknown; use one of {', '.join(SETTINGS)}")
    if api not in ("auto", *APIS):
        raise BenchmarkSettingsError(f"api={api!r}: use auto, chat or completions")
    if not isinstance(model, str) or not model.strip():
        raise BenchmarkSettingsError("model=: name the model the server serves (what its /v1/models lists)")
    cap = DEFAULT_QUERIES if queries is None else int(queries)
    need = DEFAULT_MIN_QUERIES if min_queries is None else int(min_queries)
    warm = DEFAULT_WARMUP if warmup is None else int(warmup)
    if cap < 1 or warm < 0 or need < 2 or not 0 < rel_ci < 1 or not 0 < confidence < 1 or not timeout_s > 0:
        raise BenchmarkSettingsError(
            f"invalid settings (queries={cap}, warmup={warm}, min_queries={need}, rel_ci={rel_ci}, confidence="
            f"{confidence}, timeout_s={timeout_s}); need queries >= 1, warmup >= 0, min_queries >= 2, 0 < rel_ci < 1, "
            "0 < confidence < 1 and timeout_s > 0")
    ep = Endpoint.parse(endpoint)
    carbon = carbon_intensity(country_iso_code, region, g_per_kwh=carbon_intensity_g_per_kwh, pue=pue,
                              cloud_provider=cloud_provider, cloud_region=cloud_region)
    live = make_live(live_intensity, carbon)
    local = ep.is_local()
    if not local and not hardware:
        raise RemoteEndpointError(
            f"{ep.host} is not this machine, and scer-hf measures only this machine's energy. Run the benchmark on "
            f"the server's machine against 127.0.0.1, or pass hardware='<what serves it, e.g. 1x NVIDIA H100 "
            "80GB>' (CLI: --hardware) to record its latency and throughput with the energy marked not measured here")
    texts, pinfo = _prompt_texts(prompts)
    st = SETTINGS[setting]
    mk = lambda a: Client(ep, model=model, api=a, api_key=api_key, max_tokens=st["max_new_tokens"],  # noqa: E731
                          timeout_s=timeout_s)
    api_used = _probe(ep, api, mk)
    owned = meters is None
    pid, choices = None, {}
    if not local:
        meters, owned, choices = [], False, {"all": f"not measured here: {ep.host} is another machine"}
    elif meters is None:
        meters, choices, pid = _meters(ep, server_pid)
    tracker = CallTracker(meters, owned=owned)
    tracker.choices.update(choices)
    if live is not None:
        tracker.on_edge = live.observe
    run = _Run(tracker, carbon, hardware if local else None, model_id or model, parameters)
    run.live = live
    out: list[tuple[Level, dict[str, Any]]] = []
    offset = 0
    from tqdm.auto import tqdm

    try:
        for c in levels:
            name = level_name(c)

            def record(res: Any, ans: Answer, name: str = name) -> float | None:
                from .loadgen import _counts

                entry = call_entry(res, True, _counts(ans), top=name, prefix=f"{name} ")
                run._record(entry)
                return entry.top_energy_j() if ans.ok else None

            bar = tqdm(total=cap, desc=f"scer-hf {ep.host}:{ep.port} c={c}", unit="req", disable=not progress)
            try:
                lv = run_level(lambda: mk(api_used), texts, c, name=name, tracker=tracker, record=record,
                               warmup=warm, cap=cap, need=min(need, cap), rel_ci=rel_ci, confidence=confidence,
                               ci=sequential_ci, offset=offset, progress=bar)
            finally:
                bar.close()
            offset += cap + max(warm, c)
            out.append((lv, sequential_ci(lv.energies_j, confidence)))
    finally:
        if owned:
            tracker.close()
    report = run.build_report()
    phases = {p["name"]: p for p in report.to_dict()["phases"]}
    curve = [_level_dict(lv, ci, phases.get(lv.name), confidence, rel_ci) for lv, ci in out]
    hw_detected = _detected_hardware(report.to_dict())
    info = {
        "protocol": PROTOCOL_VERSION, "mode": "endpoint", "setting": setting, "setting_source": st["source"],
        "task": "text-generation", "max_new_tokens": st["max_new_tokens"], "min_new_tokens": None,
        "do_sample": False, "batch_size": None, "concurrency": levels, "warmup": warm, "queries_cap": cap,
        "min_queries": min(need, cap), "queries_run": sum(lv.responses + lv.failed for lv, _ in out),
        "queries_measured": sum(len(lv.energies_j) for lv, _ in out),
        "stopped_by": ",".join(sorted({lv.stopped_by for lv, _ in out})),
        "ci": {"confidence": confidence, "target_rel_half_width": rel_ci},
        "endpoint": {"url": ep.url, "api": api_used, "model": model, "local": local, "measured_here": local,
                     "server_pid": pid, "energy": "this machine's meters" if local else
                     f"not measured here: the server runs on {hardware} (stated)"},
        "levels": curve, "prompts": {**pinfo, "used": min(offset, len(texts)), "cycled": offset > len(texts)},
        "hardware": hardware or hw_detected, "hardware_basis": "stated" if hardware else "detected",
        "device": "endpoint", "attribution": attribution.ATTRIBUTION_RULE,
    }
    return run.build_report(benchmark=info)


def _detected_hardware(d: dict[str, Any]) -> str | None:
    names = [str(n) for m in (d.get("provenance") or {}).get("meters", []) for n in (m.get("devices") or {}).values()]
    if names:
        return ", ".join(dict.fromkeys(names))
    from ..core.meters.estimate import cpu_model_name

    return f"CPU: {cpu_model_name()}"

