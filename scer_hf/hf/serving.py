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
from dataclasses import dataclass
from typing import Any

from ..core import attribution
from ..core.calls import CallTracker
from ..core.carbon import CarbonIntensity, resolve_grid
from ..core.endpoint import APIS, Answer, Client, Endpoint
from ..core.grid import GridSpec
from ..core.live_intensity import make_live
from ..core.meters.base import Meter
from ..core.report import Report
from ..core.views import PhaseView
from ..errors import BenchmarkSettingsError, EndpointResponseError, EndpointUnreachableError, RemoteEndpointError
from .bench_types import BenchmarkBlock, BenchmarkCI, EndpointInfo, LevelCI, LevelResult, Stats, Warmup
from .distributed import Provenance, provenance_of
from .identity import ModelInfo
from .loadgen import Level, run_level
from .pipeline._call import call_entry
from .pipeline._tracked import TrackedExtra, _Tracked
from .protocol import (
    DEFAULT_MIN_QUERIES,
    DEFAULT_QUERIES,
    DEFAULT_WARMUP,
    GENERATION,
    PROTOCOL_VERSION,
    SETTINGS,
    Interval,
    interval_of,
    prompt_texts,
)

__all__ = ["benchmark_endpoint", "level_name", "DEFAULT_CONCURRENCY", "MAX_CONCURRENCY"]

DEFAULT_CONCURRENCY = (1, 8, 32)
MAX_CONCURRENCY = 1024  # client threads per level


def level_name(c: int) -> str:
    """The top-level phase of level *c* (its children: ``c=N prefill``, ``c=N decode``)."""
    return f"c={c}"


class _Run(_Tracked):
    def __init__(self, tracker: CallTracker, carbon: CarbonIntensity, hardware: str | None, model_id: str,
                 parameters: int | None) -> None:
        super().__init__(tracker, carbon, hardware)
        self.model_id, self.parameters = model_id, parameters

    def model_info(self) -> ModelInfo:
        return ModelInfo(id=self.model_id, parameters=self.parameters, task="text-generation")

    def _extra(self) -> TrackedExtra:
        return TrackedExtra()


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
    from ..core.meters.process import listening_pid

    ms = auto(host=False)
    meters, choices = list(ms), dict(ms.choices)
    host = auto(gpu=False)
    rapl = [m for m in host if m.name == "rapl"]
    for m in host:
        if m.name != "rapl":
            m.close()
    meters += rapl
    pid = server_pid if server_pid is not None else (listening_pid(ep.port) if ep.host else None)
    if rapl:
        choices["cpu"] = ("rapl counter (node-wide: the server, this client and anything else running): "
                          f"{rapl[0].source}")
    if not rapl or not any(c.startswith("dram") for m in rapl for c in m.components):
        meters += _server_tree(pid, bool(rapl), choices)
    return meters, choices, pid


def _server_tree(pid: int | None, rapl: bool, choices: dict[str, str]) -> list[Meter]:
    """The server's process tree as the host's CPU (without RAPL) and RAM estimate; what was chosen is noted."""
    from ..core.meters.process import ProcessTreeMeter

    if pid is None or pid == os.getpid():
        choices["cpu" if not rapl else "ram"] = (
            "not measured: no RAPL counter, and the server's process was not found (pass server_pid=)")
        return []
    try:
        meter = ProcessTreeMeter(pid, include_cpu=not rapl, include_ram=True)
    except Exception as exc:  # noqa: BLE001 - MeterUnavailableError, a process that just left: recorded
        choices["cpu"] = f"not measured ({exc})"
        return []
    choices["ram"] = f"estimate of the server process {pid} and its children"
    if not rapl:
        choices["cpu"] = f"estimate of the server process {pid} and its children"
    return [meter]


def _stats(xs: Sequence[float]) -> Stats:
    if not xs:
        return Stats(mean=None, p50=None, p90=None, p99=None)
    import numpy as np

    a = np.asarray(xs, dtype=float)
    return Stats(mean=float(a.mean()), p50=float(np.percentile(a, 50)), p90=float(np.percentile(a, 90)),
                 p99=float(np.percentile(a, 99)))


def _per_response(lv: Level, phase: PhaseView | None) -> tuple[float | None, float | None, float | None, float | None]:
    """Energy per response, per 1,000 output tokens, Wh per 1,000 responses and the meters' relative uncertainty,
    from the fully measured windows (the same for each)."""
    cov = phase.coverage if phase is not None else None
    basis_j = float(cov.energy_j.get("total", 0.0)) if cov is not None else 0.0
    n_q = float(cov.counts.get("queries", 0)) if cov is not None else 0.0
    n_out = float(cov.counts.get("output_tokens", 0)) if cov is not None else 0.0
    unc = float(phase.energy_uncertainty_j or 0.0) if phase is not None else 0.0
    return (basis_j / n_q if n_q else None, basis_j / n_out * 1000.0 if n_out else None,
            basis_j / n_q * 1000.0 / 3600.0 if n_q else None, unc / basis_j if basis_j else None)


def _token_source(lv: Level) -> str:
    if lv.token_sources == {"usage"}:
        return "usage"
    return "streamed chunks" if lv.token_sources == {"chunks"} else "usage and streamed chunks"


def _level_dict(lv: Level, ci: Interval, phase: PhaseView | None, confidence: float,
                rel_ci: float) -> LevelResult:
    wall = lv.end_s - lv.start_s if lv.end_s > lv.start_s else None
    per_response, per_1k_tokens, wh_per_1k, unc_rel = _per_response(lv, phase)
    return LevelResult(
        concurrency=lv.concurrency, phase=lv.name, responses=lv.responses, failed=lv.failed,
        failures=dict(lv.failures), failure_reasons=dict(lv.reasons), stopped_by=lv.stopped_by,
        warmup=Warmup(responses=lv.warmup_ok, failed=lv.warmup_failed),
        responses_measured=len(lv.energies_j), j_per_response=per_response, j_per_1k_output_tokens=per_1k_tokens,
        wh_per_1k_responses=wh_per_1k, meter_uncertainty_rel=unc_rel,
        ci=LevelCI(mean_j_per_response=ci.mean_j_per_query, half_width_j=ci.half_width_j,
                   rel_half_width=ci.rel_half_width, confidence=confidence,
                   quantile_level=ci.quantile_level, target_rel_half_width=rel_ci),
        output_tokens=lv.output_tokens, input_tokens=lv.input_tokens,
        output_tokens_per_response=lv.output_tokens / lv.responses if lv.responses else None,
        output_tokens_source=_token_source(lv),
        wall_s=wall,
        throughput_output_tokens_per_s=lv.output_tokens / wall if wall else None,
        responses_per_s=lv.responses / wall if wall else None,
        latency_s=_stats(lv.latency_s), ttft_s=_stats(lv.ttft_s),
        coverage=phase.coverage.measured_fraction if phase is not None and phase.coverage is not None else None,
    )


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
    grid: GridSpec | None = None,
) -> Report:
    """Benchmark the OpenAI-compatible server at *endpoint* serving *model* at each concurrency level (see the
    module docstring). Arguments as :func:`scer_hf.benchmark`, plus ``api`` (``auto``, ``chat`` or
    ``completions``), ``api_key`` (sent only to the endpoint), ``server_pid`` (the server's process, for the host
    estimate; found from the port when left out), ``parameters`` (the served model's parameter count, for the
    rating's size class) and ``timeout_s`` (per request); ``grid``: the grid arguments as one
    :class:`scer_hf.GridSpec`."""

    plan = _Plan.checked(concurrency, setting=setting, api=api, model=model, queries=queries,
                         min_queries=min_queries, warmup=warmup, rel_ci=rel_ci, confidence=confidence,
                         timeout_s=timeout_s)
    ep = Endpoint.parse(endpoint)
    spec = GridSpec.of(grid, country_iso_code=country_iso_code, region=region,
                       carbon_intensity_g_per_kwh=carbon_intensity_g_per_kwh, pue=pue, cloud_provider=cloud_provider,
                       cloud_region=cloud_region, live_intensity=live_intensity)
    carbon = resolve_grid(spec)
    live = make_live(spec.live_intensity, carbon)
    local = _measurable_here(ep, hardware)
    texts, pinfo = prompt_texts(prompts)
    max_tokens = GENERATION[setting].max_new_tokens
    mk = lambda a: Client(ep, model=model, api=a, api_key=api_key, max_tokens=max_tokens,  # noqa: E731
                          timeout_s=timeout_s)
    api_used = _probe(ep, api, mk)
    tracker, owned, pid = _tracker(ep, meters, server_pid, local)
    if live is not None:
        tracker.on_edge = live.observe
    run = _Run(tracker, carbon, hardware if local else None, model_id or model, parameters)
    run.live = live
    try:
        out, offset = _run_levels(plan, run, tracker, lambda: mk(api_used), texts, f"{ep.host}:{ep.port}", progress)
    finally:
        if owned:
            tracker.close()
    report = run.build_report()
    phases = {p.name: p for p in report.phase_views()}
    info: BenchmarkBlock = {
        **plan.settings(out),
        "levels": [_level_dict(lv, ci, phases.get(lv.name), confidence, rel_ci) for lv, ci in out],
        "endpoint": EndpointInfo(url=ep.url, api=api_used, model=model, local=local, measured_here=local,
                                 server_pid=pid, energy="this machine's meters" if local else
                                 f"not measured here: the server runs on {hardware} (stated)"),
        "prompts": {**pinfo, "used": min(offset, len(texts)), "cycled": offset > len(texts)},
        "hardware": hardware or _detected_hardware(provenance_of(tracker.provenance())),
        "hardware_basis": "stated" if hardware else "detected", "device": "endpoint",
        "attribution": attribution.ATTRIBUTION_RULE,
    }
    return run.build_report(benchmark=info)


@dataclass(frozen=True)
class _Plan:
    """The checked settings of an endpoint benchmark: the levels, the protocol, the cap and the stopping rule."""

    levels: list[int]
    setting: str
    cap: int
    need: int
    warmup: int
    rel_ci: float
    confidence: float

    @classmethod
    def checked(cls, concurrency: int | Sequence[int] | None, *, setting: str, api: str, model: Any,
                queries: int | None, min_queries: int | None, warmup: int | None, rel_ci: float, confidence: float,
                timeout_s: float) -> _Plan:
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
                f"{confidence}, timeout_s={timeout_s}); need queries >= 1, warmup >= 0, min_queries >= 2, "
                "0 < rel_ci < 1, 0 < confidence < 1 and timeout_s > 0")
        return cls(levels, setting, cap, min(need, cap), warm, rel_ci, confidence)

    def settings(self, out: list[tuple[Level, Interval]]) -> BenchmarkBlock:
        """The protocol part of the report's ``benchmark`` block, with what the levels ran."""
        st = GENERATION[self.setting]
        return BenchmarkBlock(
            protocol=PROTOCOL_VERSION, mode="endpoint", setting=self.setting, setting_source=st.source,
            task="text-generation", max_new_tokens=st.max_new_tokens, min_new_tokens=None,
            do_sample=False, batch_size=None, concurrency=self.levels, warmup=self.warmup,
            queries_cap=self.cap, min_queries=self.need,
            queries_run=sum(lv.responses + lv.failed for lv, _ in out),
            queries_measured=sum(len(lv.energies_j) for lv, _ in out),
            stopped_by=",".join(sorted({lv.stopped_by for lv, _ in out})),
            ci=BenchmarkCI(confidence=self.confidence, target_rel_half_width=self.rel_ci),
        )


def _measurable_here(ep: Endpoint, hardware: str | None) -> bool:
    """True for a server on this machine; another machine needs ``hardware=`` (its energy is not measured here)."""
    local = ep.is_local()
    if not local and not hardware:
        raise RemoteEndpointError(
            f"{ep.host} is not this machine, and scer-hf measures only this machine's energy. Run the benchmark on "
            f"the server's machine against 127.0.0.1, or pass hardware='<what serves it, e.g. 1x NVIDIA H100 "
            "80GB>' (CLI: --hardware) to record its latency and throughput with the energy marked not measured here")
    return local


def _tracker(ep: Endpoint, meters: Meter | Sequence[Meter] | None, server_pid: int | None,
             local: bool) -> tuple[CallTracker, bool, int | None]:
    """The call tracker on this machine's meters, whether they are ours to close (none were given), the server's
    pid."""
    if not local:
        tracker = CallTracker([], owned=False)
        tracker.choices.update({"all": f"not measured here: {ep.host} is another machine"})
        return tracker, False, None
    if meters is not None:
        return CallTracker(meters, owned=False), False, None
    found, choices, pid = _meters(ep, server_pid)
    tracker = CallTracker(found, owned=True)
    tracker.choices.update(choices)
    return tracker, True, pid


def _run_levels(plan: _Plan, run: _Run, tracker: CallTracker, client: Any, texts: list[str], where: str,
                progress: bool) -> tuple[list[tuple[Level, Interval]], int]:
    """Each concurrency level in turn (its own top-level phase); the levels and the prompts used in all."""
    from tqdm.auto import tqdm


    out: list[tuple[Level, Interval]] = []
    offset = 0
    for c in plan.levels:
        bar = tqdm(total=plan.cap, desc=f"scer-hf {where} c={c}", unit="req", disable=not progress)
        try:
            lv = run_level(client, texts, c, name=level_name(c), tracker=tracker, record=_recorder(run, level_name(c)),
                           warmup=plan.warmup, cap=plan.cap, need=plan.need, rel_ci=plan.rel_ci,
                           confidence=plan.confidence, ci=interval_of, offset=offset, progress=bar)
        finally:
            bar.close()
        offset += plan.cap + max(plan.warmup, c)
        out.append((lv, interval_of(lv.energies_j, plan.confidence)))
    return out, offset


def _recorder(run: _Run, name: str) -> Any:
    """What each answered request of level *name* records: its call entry; its energy when it succeeded."""
    from .loadgen import _counts

    def record(res: Any, ans: Answer) -> float | None:
        entry = call_entry(res, True, _counts(ans), top=name, prefix=f"{name} ")
        run._record(entry)
        return entry.top_energy_j() if ans.ok else None
    return record


def _detected_hardware(prov: Provenance) -> str | None:
    """The devices the meters named (GPU names), else the CPU model."""
    names = [str(n) for m in prov.meters for n in (m.get("devices") or {}).values()]
    if names:
        return ", ".join(dict.fromkeys(names))
    from ..core.meters.estimate import cpu_model_name

    return f"CPU: {cpu_model_name()}"

