"""``scer-hf estimate``: emissions from hardware x time x location, without running anything."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from ..core import fmt
from ..errors import SCERError
from ._common import cli_words, emit, fact_lines, handle_errors, json_option

if TYPE_CHECKING:
    from ..core.calculator_records import Assumptions, CalculatorUncertainty, CalculatorView
    from ..core.report import Report

__all__ = ["command", "render_text"]


def _fmt_g(g: float) -> str:
    return fmt.co2e(g)


def render_text(d: Report | Mapping[str, Any], equivalent_lines: list[str], saved: str | None = None) -> str:
    """The human-readable summary of an estimate report (a ``Report`` or its ``to_dict()``): one fact per line."""
    from ..core.calculator_records import CalculatorView
    from ..core.report import load_report

    report = load_report(d)
    calc = CalculatorView.of(report)
    lines = ["ESTIMATE (calculator): computed from hardware x time x location, not measured."]
    lines += _run_lines(calc.assumptions) + _emission_lines(report, calc.uncertainty)
    lines += _embodied_lines(report, calc.assumptions) + _sci_lines(report)
    lines += _equivalent_lines(report, equivalent_lines) + _assumption_lines(calc)
    lines += [f"report written to {saved}"] if saved else []
    return "\n".join(cli_words(ln, _OPTIONS) for ln in lines)


def _run_lines(a: Assumptions) -> list[str]:
    """The hardware, its power and the wall-clock draws (idle, infrastructure)."""
    lines = [(f"  hardware      : {fmt.count(a.count)} x {a.hardware} for {fmt.num(a.hours)} h, "
              f"{fmt.plural(a.device_hours, 'device-hour')}"),
             f"  power         : {fmt.num(a.board_power_w)} W per device x utilisation {fmt.num(a.utilisation)}"]
    return lines + [f"  {what:<14}: {fmt.num(w)} W for the whole {fmt.num(a.hours)} h"
                    for w, what in ((a.idle_w, "idle power"), (a.infrastructure_w, "infrastructure")) if w is not None]


def _co2e_g(report: Report) -> float:
    """The estimate's operational CO2e (an estimate always has one: it measures every second it covers)."""
    return report.co2e_g or 0.0


def _emission_lines(report: Report, unc: CalculatorUncertainty) -> list[str]:
    """Energy and operational CO2eq with their ranges, the grid and its source."""
    from ..publish.figures import facts

    c, energy_j = report.carbon, report.energy_j or 0.0
    fam = fmt.energy_family(energy_j)
    e_range = [fmt.energy(k * 3.6e6, fam) for k in unc.energy_kwh_range]
    pue = f", {fmt.energy(energy_j * c.pue, fam)} with PUE {fmt.num(c.pue)}" if c.pue != 1.0 else ""
    lines = [f"  energy        : {fmt.energy(energy_j, fam)} IT energy{pue}",
             f"  energy range  : {e_range[0]} to {e_range[1]}",
             f"  CO2eq         : {_fmt_g(_co2e_g(report))} operational",
             f"  CO2eq range   : {_fmt_g(unc.co2e_g_range[0])} to {_fmt_g(unc.co2e_g_range[1])}"]
    lines += fact_lines([f.to_dict() for f in facts(report) if f.key in ("grid", "pue")])
    return [*lines, f"  grid source   : {c.source}" + (f", {c.year}" if c.year else "")]


def _embodied_lines(report: Report, a: Assumptions) -> list[str]:
    from ..core.embodied import Embodied

    emb = Embodied.from_dict(report["embodied"])
    if not emb.included or emb.embodied_g is None:
        return [f"  embodied      : not included: {cli_words(str(emb.reason), _OPTIONS)}"]
    use = float(a.lifetime_usage or 1.0)
    life = f"{fmt.num(emb.lifetime_years / use)} y" if emb.lifetime_years else "? y"
    return [f"  embodied      : {_fmt_g(emb.embodied_g)}, {emb.hardware}",
            f"  lifetime      : {life}" + (f", in use {fmt.percent(use)} of it" if use != 1.0 else ""),
            f"  total CO2eq   : {_fmt_g(_co2e_g(report) + emb.embodied_g)}, operational + embodied"]


def _sci_lines(report: Report) -> list[str]:
    sci = report.sci
    shown = fmt.sci_display(sci)
    if sci is None or shown is None:
        return ["  SCI           : not computed; pass --tokens, --samples or --queries for R"]
    return [f"  SCI           : {shown['text']}, {sci['version']}"]


def _equivalent_lines(report: Report, equivalent_lines: list[str]) -> list[str]:
    if not equivalent_lines:
        return []
    emb_g = report.embodied_g
    scope = "operational + embodied" if emb_g is not None else "operational"
    return ([f"  about the same as, for {_fmt_g(_co2e_g(report) + (emb_g or 0.0))} {scope}:"]
            + [f"    {e}" for e in equivalent_lines])


def _assumption_lines(calc: CalculatorView) -> list[str]:
    a, unc = calc.assumptions, calc.uncertainty
    return (["  assumptions:", f"    power       : {a.board_power_source}",
             f"    utilisation : {a.utilisation_source}"]
            + [f"    {what:<12}: {src}" for what, src in (("cpu", a.cpu_power_source), ("ram", a.ram_power_source))
               if src is not None]
            + [f"    uncertainty : +/-{unc.relative:.0%}, {unc.basis}",
               f"    not included: {unc.not_included}"])


# estimate()'s argument names -> this command's options, for error messages
_OPTIONS = {"hardware": "--gpu", "hours": "--hours", "gpu_hours": "--gpu-hours", "count": "--count",
            "country_iso_code": "--country", "cloud_provider": "--cloud", "cloud_region": "--region",
            "carbon_intensity_g_per_kwh": "--intensity", "pue": "--pue",
            "utilisation": "--utilisation", "watts": "--watts", "cpu_watts": "--cpu-watts", "memory_gb": "--memory-gb",
            "lifetime_years": "--lifetime-years", "embodied_hardware": "--embodied", "servers": "--servers",
            "tokens": "--tokens", "samples": "--samples", "queries": "--queries", "idle_w": "--idle-watts",
            "infrastructure_w": "--infrastructure-watts", "lifetime_usage": "--lifetime-usage",
            "scer_hf.core.calculator.power_table()": "scer_hf/data/hardware_power.csv",
            "scer_hf.core.embodied.hardware_table()": "scer_hf/data/hardware_embodied.csv"}


@click.command("estimate")
@click.option("--gpu", "--hardware", "hardware", help='GPU name, e.g. "H100 SXM" or "A100 SXM4 80GB".')
@click.option("--count", default=1, show_default=True, type=int, help="Number of GPUs.")
@click.option("--hours", type=float, help="Wall-clock hours the GPUs were reserved.")
@click.option("--gpu-hours", type=float, help="Total GPU-hours (instead of --hours), as model cards publish.")
@click.option("--country", help="ISO alpha-3 country code for grid intensity, e.g. USA, FRA.")
@click.option("--region", help="Grid region: a US state, Canadian/Chinese province (with --country), a Nordic zone, "
                                "or a cloud region (with --cloud). See `scer-hf grid --list`.")
@click.option("--cloud", type=click.Choice(["aws", "gcp", "azure"], case_sensitive=False),
              help="Cloud provider; --region is then its region, e.g. --cloud aws --region us-east-1.")
@click.option("--intensity", type=float, help="Grid intensity override in gCO2eq per kWh.")
@click.option("--pue", default=1.0, show_default=True, type=float, help="Data-centre PUE.")
@click.option("--utilisation", default=1.0, show_default=True, type=float,
              help="Fraction of rated board power drawn on average, in (0, 1].")
@click.option("--watts", type=float, help="Board power per GPU in W (overrides the table).")
@click.option("--cpu", help="Host CPU model (TDP from codecarbon's table).")
@click.option("--cpu-watts", type=float, help="Host CPU power in W (instead of --cpu).")
@click.option("--memory-gb", type=float, help="Host memory in GB (0.3725 W/GB, Green Algorithms).")
@click.option("--embodied", "embodied", multiple=True,
              help="Row of hardware_embodied.csv to use (repeat for GPU + server excluding GPUs).")
@click.option("--servers", default=1.0, show_default=True, type=float,
              help="Servers (or share of one) reserved, for server/baseboard embodied rows.")
@click.option("--lifetime-years", type=float, help="Hardware lifetime for embodied emissions.")
@click.option("--lifetime-usage", type=float, default=1.0, show_default=True,
              help="Share of the hardware's lifetime it is in use (BLOOM paper: 0.85); embodied emissions are spread "
                   "over lifetime x usage.")
@click.option("--idle-watts", type=float, help="Idle power of the servers, W in all, drawn for the whole time "
                                               "(BLOOM paper: 64000 on Jean Zay).")
@click.option("--infrastructure-watts", type=float, help="Always-on network, storage and shared equipment, W, for the "
                                                         "whole time (BLOOM paper: 27000).")
@click.option("--model", "model_id", help="Model id to record in the report.")
@click.option("--boundary", type=click.Choice(["training", "inference"]), default="training", show_default=True)
@click.option("--tokens", type=float, help="Tokens processed (SCI R).")
@click.option("--samples", type=float, help="Samples processed (SCI R).")
@click.option("--queries", type=float, help="Queries served (SCI R).")
@click.option("-o", "--out", type=click.Path(dir_okay=True), help="Write the report JSON here.")
@click.option("--overwrite", is_flag=True, help="Replace an existing, different --out file.")
@json_option
@handle_errors
def command(hardware: str | None, count: int, hours: float | None, gpu_hours: float | None, country: str | None,
            region: str | None, cloud: str | None, intensity: float | None, pue: float, utilisation: float,
            watts: float | None,
            cpu: str | None, cpu_watts: float | None, memory_gb: float | None, embodied: tuple[str, ...],
            servers: float, lifetime_years: float | None, lifetime_usage: float, idle_watts: float | None,
            infrastructure_watts: float | None, model_id: str | None, boundary: str,
            tokens: float | None, samples: float | None, queries: float | None, out: str | None,
            overwrite: bool, as_json: bool) -> None:
    """Estimate emissions from hardware x time x location (no run). The result is marked ESTIMATE.

    Example: scer-hf estimate --gpu "H100 SXM" --count 8 --hours 120 --country USA --pue 1.1

    BLOOM as its paper counts it (24.7 t dynamic, 50.5 t in all): scer-hf estimate --gpu "A100 SXM4 80GB"
    --watts 400 --count 384 --gpu-hours 1082990 --intensity 57 --idle-watts 64000 --infrastructure-watts 27000
    --embodied "Generic GPU (A100-era, BLOOM)" --embodied "GPU server excl. GPUs (HPE Apollo 6500 Gen10 Plus, BLOOM)"
    --servers 48 --lifetime-usage 0.85
    """
    from ..core.calculator import estimate
    from ..core.equivalents import best_amount, equivalents

    try:
        report = estimate(
            hardware=hardware, count=count, hours=hours, gpu_hours=gpu_hours, country_iso_code=country,
            region=None if cloud else region, cloud_provider=cloud, cloud_region=region if cloud else None,
            carbon_intensity_g_per_kwh=intensity, pue=pue, utilisation=utilisation, watts=watts,
            cpu=cpu, cpu_watts=cpu_watts, memory_gb=memory_gb, embodied_hardware=list(embodied) or None,
            servers=servers, lifetime_years=lifetime_years, model=model_id, boundary=boundary, tokens=tokens,
            samples=samples, queries=queries, idle_w=idle_watts, infrastructure_w=infrastructure_watts,
            lifetime_usage=lifetime_usage,
        )
    except SCERError as exc:  # the messages name Python arguments; say the options this command takes
        exc.args = (cli_words(str(exc), _OPTIONS),)
        raise
    saved = str(report.save(out, overwrite=overwrite)) if out else None
    total_g = _co2e_g(report) + (report.embodied_g or 0.0)
    obj = {"report": report.to_dict(), "equivalents": equivalents(total_g), "saved": saved}
    best = best_amount(total_g, g_per_kwh=report.carbon.g_per_kwh)  # the one the label shows
    lines = [f"~{fmt.num(best.value)} {best.factor.label} ({best.short_source})"] if best else []
    emit(obj, as_json, lambda: render_text(report, lines, saved))
