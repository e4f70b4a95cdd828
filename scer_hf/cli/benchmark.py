"""``scer-hf benchmark``: the standard inference benchmark on a local or cached model, or on a running server
(``--endpoint URL --model NAME --concurrency 1,8,32``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from ..core import fmt
from ..core.report import Report
from ..core.report_views import BenchmarkView, IntervalView, ReportView
from ..errors import SCERError
from . import _levels
from ._common import cli_words, emit, fact_lines, handle_errors, json_option

__all__ = ["command", "render_text"]


def _g(x: float | None, unit: str = "") -> str:
    return "n/a" if x is None else f"{fmt.num(x)}{unit}"


def _per_million(x: float | None) -> float | None:
    return None if x is None else x * 1000.0


def render_text(d: Report | ReportView | Mapping[str, Any], saved: str | None = None) -> str:
    """A short human summary of a benchmark report: one fact per line, the defaults that shaped the
    figures (grid, PUE) and where the interval stopped included."""
    from ..publish.figures import facts
    from ..publish.inputs import report_view

    r = report_view(d)
    b, pu = r.benchmark or BenchmarkView(), r.extra.per_unit
    ci = b.ci or IntervalView()
    lines = [
        f"scer-hf benchmark of {r.model.id or '?'}",
        f"  protocol      : {b.protocol}, setting {b.setting}",
        (f"  task          : {b.task}, batch {b.batch_size}, new tokens {b.max_new_tokens or '-'}, "
        f"warm-up {b.warmup}"),
        f"  queries       : {b.queries_run} run, cap {b.queries_cap}",
        f"  per query     : {_g(ci.mean_j_per_query, ' J')} +/- {_g(ci.half_width_j, ' J')}",
        f"  per 1,000 q.  : {_g(pu.wh_per_1k_queries, ' Wh')}",
        (f"  per 1M tokens : {_g(_per_million(pu.j_per_1k_output_tokens), ' J')}, "
         f"{fmt.co2e(_per_million(pu.g_per_1k_output_tokens))}, per 1 million output tokens"),
    ]
    if shown := fmt.sci_display(r.sci.to_dict() if r.sci is not None else None):
        lines.append(f"  SCI           : {shown['text']}")
    lines += fact_lines([f for f in facts(r) if f.key != "date"])
    if saved:
        lines.append(f"report written to {saved}")
    return "\n".join(lines)


# benchmark()'s argument names -> this command's options, for error messages
_OPTIONS = {"endpoint": "--endpoint", "model": "--model", "concurrency": "--concurrency", "api_key": "--api-key-env",
            "server_pid": "--server-pid", "hardware": "--hardware", "batch_size": "--batch-size",
            "country_iso_code": "--country", "cloud_provider": "--cloud", "cloud_region": "--region",
            "carbon_intensity_g_per_kwh": "--intensity", "device": "--device", "quality": "--quality"}


@click.command("benchmark")
@click.argument("model_or_path", required=False)
@click.option("--task", default="text-generation", show_default=True,
              help="text-generation, text2text-generation, summarization, fill-mask, text-classification, ...")
@click.option("--setting", type=click.Choice(["aienergyscore", "long"]), default="aienergyscore", show_default=True,
              help="aienergyscore: 10 new tokens, batch 1; long: 64 new tokens, batch 1.")
@click.option("--queries", type=click.IntRange(min=1), default=None,
              help="Cap on measured queries, per level with --endpoint (default 1000).")
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True,
              help="Prompts per call; 1 is the AI Energy Score setting, the only one rated against it.")
@click.option("--endpoint", help="Measure a running OpenAI-compatible server at this base URL, e.g. "
                                 "http://127.0.0.1:8000/v1 (never started by scer-hf). Needs --model.")
@click.option("--model", "served_model", help="With --endpoint: the model name the server serves.")
@click.option("--concurrency", callback=_levels.parse_levels,
              help="With --endpoint: concurrent clients per level, e.g. 1,8,32 (the default).")
@click.option("--api", type=click.Choice(["auto", "chat", "completions"]), default="auto", show_default=True,
              help="With --endpoint: /chat/completions, /completions, or the first that answers.")
@click.option("--api-key-env", metavar="VAR", help="With --endpoint: the environment variable that holds the "
                                                   "server's key (sent to that server only).")
@click.option("--server-pid", type=click.IntRange(min=1), help="With --endpoint: the server's process, for the "
                                                               "host estimate; found from the port by default.")
@click.option("--parameters", type=click.IntRange(min=1), help="With --endpoint: the served model's parameter "
                                                               "count, for the rating's size class.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0, min_open=True), default=120.0,
              show_default=True, help="With --endpoint: seconds one request may take.")
@click.option("--min-queries", type=click.IntRange(min=2), default=None,
              help="Queries before the interval may stop the run (50).")
@click.option("--warmup", type=click.IntRange(min=0), default=None, help="Unmeasured warm-up queries (default 10).")
@click.option("--rel-ci", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True), default=0.05,
              show_default=True, help="Target relative CI half-width.")
@click.option("--country", help="ISO alpha-3 country code for grid intensity, e.g. USA, FRA.")
@click.option("--region", help="Grid region: a US state, Canadian/Chinese province (with --country), a Nordic zone, "
                                "or a cloud region (with --cloud). See `scer-hf grid --list`.")
@click.option("--cloud", type=click.Choice(["aws", "gcp", "azure"], case_sensitive=False),
              help="Cloud provider; --region is then its region, e.g. --cloud aws --region us-east-1.")
@click.option("--intensity", type=float, help="Grid intensity override in gCO2eq per kWh.")
@click.option("--pue", default=1.0, show_default=True, type=float, help="Data-centre PUE.")
@click.option("--live-zone", help="Read live grid intensity for this Electricity Maps zone (e.g. NL); the token "
                                  "comes from ELECTRICITYMAPS_API_TOKEN. Off by default.")
@click.option("--hardware", help="What ran the benchmark, as named in scer_hf.core.embodied.hardware_table() "
                                "(embodied emissions; the rating reads it). Default: the detected GPU/CPU. With "
                                "--endpoint on another machine: what serves it (needed; its energy is then marked "
                                "not measured here).")
@click.option("--device", help="torch device (default: cuda:0 if available, else cpu).")
@click.option("--quality", is_flag=True, help="Also attach a quality score (needs scer_hf.hf.quality).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--model-id", help="Name the model in the report (default: MODEL_OR_PATH).")
@click.option("-o", "--out", type=click.Path(dir_okay=True), help="Write the report JSON here.")
@click.option("--overwrite", is_flag=True, help="Replace an existing, different --out file.")
@json_option
@handle_errors
def command(model_or_path: str | None, task: str, setting: str, queries: int | None, batch_size: int,
            endpoint: str | None, served_model: str | None, concurrency: list[int] | None, api: str,
            api_key_env: str | None, server_pid: int | None, parameters: int | None, timeout_s: float,
            min_queries: int | None, warmup: int | None, rel_ci: float, country: str | None, region: str | None,
            cloud: str | None, intensity: float | None, pue: float, live_zone: str | None, hardware: str | None,
            device: str | None, quality: bool, no_progress: bool, model_id: str | None, out: str | None,
            overwrite: bool, as_json: bool) -> None:
    """Run the standard inference benchmark on MODEL_OR_PATH (a local folder or a cached Hub id), or on the
    server at --endpoint."""
    from .._io import refuse_overwrite, require_folder
    from ..hf.benchmark import benchmark

    if out:  # a new run never equals an old file, nor creates a folder: refuse now, not after the whole benchmark
        require_folder(refuse_overwrite(Path(out) / "scer_report.json" if Path(out).is_dir() else out,
                                        overwrite=overwrite), parents=False)
    kw: dict[str, Any] = {}
    if endpoint is not None or served_model is not None or concurrency is not None:
        kw.update(_endpoint_kw(model_or_path, endpoint, served_model, concurrency, api, api_key_env, server_pid,
                               parameters, timeout_s))
        model_or_path = None
    elif model_or_path is None:
        raise click.UsageError("pass MODEL_OR_PATH, or --endpoint URL --model NAME to measure a running server")
    else:
        kw["batch_size"] = batch_size
    if min_queries is not None:
        kw["min_queries"] = min_queries
    if warmup is not None:
        kw["warmup"] = warmup
    try:
        report = benchmark(model_or_path, task, setting=setting, queries=queries, rel_ci=rel_ci,
                           country_iso_code=country, region=None if cloud else region, cloud_provider=cloud,
                           cloud_region=region if cloud else None, carbon_intensity_g_per_kwh=intensity,
                           live_intensity=live_zone, pue=pue,
                           hardware=hardware, device=device, quality=quality, progress=not no_progress,
                           model_id=model_id, **kw)
    except SCERError as exc:  # the messages name Python arguments; say the options this command takes
        exc.args = (cli_words(str(exc), _OPTIONS),)
        raise
    saved = str(report.save(out, overwrite=overwrite)) if out else None
    d = report.to_dict()
    bench = report.benchmark_view
    text = _levels.render_endpoint_text if bench is not None and bench.served else render_text
    emit({**d, "saved_to": saved} if saved else d, as_json, lambda: text(report, saved))


def _endpoint_kw(model_or_path: str | None, endpoint: str | None, served_model: str | None,
                 concurrency: list[int] | None, api: str, api_key_env: str | None, server_pid: int | None,
                 parameters: int | None, timeout_s: float) -> dict[str, Any]:
    """benchmark()'s endpoint arguments from the options (usage errors for what does not fit)."""
    import os

    if endpoint is None or served_model is None:
        raise click.UsageError("measuring a server needs both --endpoint URL and --model NAME")
    if model_or_path is not None:
        raise click.UsageError("pass MODEL_OR_PATH or --endpoint, not both")
    key = None
    if api_key_env:
        key = os.environ.get(api_key_env)
        if not key:
            raise click.UsageError(f"--api-key-env {api_key_env}: that environment variable is not set")
    return {"endpoint": endpoint, "model": served_model, "concurrency": concurrency, "api": api, "api_key": key,
            "server_pid": server_pid, "parameters": parameters, "timeout_s": timeout_s}
