"""The report's ``benchmark`` block as written by :func:`scer_hf.benchmark` and
:func:`scer_hf.hf.serving.benchmark_endpoint`: each key named and typed (``total=False``: the in-process and the
endpoint benchmark write different keys)."""

from __future__ import annotations

from typing import TypedDict

from .prompts import PromptsInfo

__all__ = ["BenchmarkBlock", "BenchmarkCI", "EndpointInfo", "LevelResult", "LevelCI", "Stats", "Warmup"]


class BenchmarkCI(TypedDict, total=False):
    """The stopping rule's interval of the energy per query, and its target."""

    mean_j_per_query: float | None
    half_width_j: float | None
    rel_half_width: float | None
    confidence: float
    quantile_level: float | None
    target_rel_half_width: float


class Stats(TypedDict):
    mean: float | None
    p50: float | None
    p90: float | None
    p99: float | None


class LevelCI(TypedDict):
    mean_j_per_response: float | None
    half_width_j: float | None
    rel_half_width: float | None
    confidence: float
    quantile_level: float | None
    target_rel_half_width: float


class Warmup(TypedDict):
    responses: int
    failed: int


class LevelResult(TypedDict):
    """One concurrency level in ``benchmark.levels`` of an endpoint report."""

    concurrency: int
    phase: str
    responses: int
    failed: int
    failures: dict[str, int]
    failure_reasons: dict[str, str]
    stopped_by: str | None
    warmup: Warmup
    responses_measured: int
    j_per_response: float | None
    j_per_1k_output_tokens: float | None
    wh_per_1k_responses: float | None
    meter_uncertainty_rel: float | None
    ci: LevelCI
    output_tokens: int
    input_tokens: int
    output_tokens_per_response: float | None
    output_tokens_source: str
    wall_s: float | None
    throughput_output_tokens_per_s: float | None
    responses_per_s: float | None
    latency_s: Stats
    ttft_s: Stats
    coverage: float | None


class EndpointInfo(TypedDict):
    """The server an endpoint benchmark measured, and whose meters measured it."""

    url: str
    api: str
    model: str
    local: bool
    measured_here: bool
    server_pid: int | None
    energy: str


class BenchmarkBlock(TypedDict, total=False):
    """The ``benchmark`` block (see the module docstring)."""

    protocol: str
    mode: str
    setting: str
    setting_source: str
    task: str
    max_new_tokens: int | None
    min_new_tokens: int | None
    do_sample: bool | None
    batch_size: int | None
    concurrency: int | list[int]
    warmup: int
    queries_cap: int
    min_queries: int
    queries_run: int
    calls_run: int
    queries_measured: int
    stopped_by: str
    stopping_rule: str
    ci: BenchmarkCI
    prompts: PromptsInfo
    levels: list[LevelResult]
    endpoint: EndpointInfo
    hardware: str | None
    hardware_basis: str
    device: str
    dtype: str
    attribution: str
