"""``scer-hf estimate``: emissions from hardware x time x location, without running anything."""

from __future__ import annotations

from typing import Any

import click

from ..errors import SCERError
from ._common import cli_words, emit, handle_errors, json_option

__all__ = ["command", "render_text"]


def _fmt_g(g: float) -> str:
    if g >= 1e6:
        return f"{g / 1e6:,.3f} tCO2e"
    if g >= 1e3:
        return f"{g / 1e3:,.2f} kgCO2e"
    return f"{g:,.2f} gCO2e"


def render_text(d: dict[str, Any], equivalent_lines: list[str], saved: str | None = None) -> str:
    """The human-readable summary of an estimate report (a ``Report.to_dict()``)."""
    calc = d["provenance"]["calculator"]
    a = calc["assumptions"]
    unc = calc["uncertainty"]
    kwh = d["energy_j"] / 3.6e6
    c = d["carbon"]
    where = c.get("region") or c.get("country_iso_code") or "location not given"
    lines = [
        "ESTIMATE (calculator): computed from hardware x time x location, not measured.",
        f"  hardware      {a['count']} x {a['hardware']} for {a['hours']:,.6g} h "
        f"({a['device_hours']:,.6g} device-hours)",
        f"  power         {a['board_power_w']:g} W per device x utilisation {a['utilisation']:g}",
        f"  energy        {kwh:,.3f} kWh IT energy ({kwh * c['pue']:,.3f} kWh with PUE {c['pue']:g}); "
        f"range {unc['energy_kwh_range'][0]:,.3f}-{unc['energy_kwh_range'][1]:,.3f} kWh",
        f"  grid          {c['g_per_kwh']:g} gCO2e/kWh ({where}; {c['source']}"
        + (f", {c['year']}" if c.get("year") else "") + ")",
        f"  CO2e          {_fmt_g(d['co2e_g'])} operational "
        f"(range {_fmt_g(unc['co2e_g_range'][0])} - {_fmt_g(unc['co2e_g_range'][1])})",
    ]
    emb = d["embodied"]
    if emb.get("included"):
        lines.append(f"  embodied      {_fmt_g(emb['embodied_g'])} ({emb['hardware']}, lifetime "
                     f"{emb.get('lifetime_years') or '?'} y)")
    else:
        lines.append(f"  embodied      not included: {emb.get('reason')}")
    if d.get("sci"):
        s = d["sci"]
        lines.append(f"  SCI           {s['value']:.4g} {s['unit']} ({s['version']})")
    else:
        lines.append("  SCI           not computed (pass --tokens, --samples or --queries for R)")
    if equivalent_lines:
        lines.append(f"  about the same as ({_fmt_g(d['co2e_g'] + (d['embodied_g'] or 0.0))} in total):")
        lines += [f"    {e}" for e in equivalent_lines]
    lines.append("  assumptions:")
    lines.append(f"    power: {a['board_power_source']}")
    lines.append(f"    utilisation: {a['utilisation_source']}")
    for k in ("cpu_power_source", "ram_power_source"):
        if k in a:
            lines.append(f"    {k.split('_')[0]}: {a[k]}")
    lines.append(f"    uncertainty: +/-{unc['relative']:.0%} ({unc['basis']}); not included: {unc['not_included']}")
    if saved:
        lines.append(f"report written to {saved}")
    return "\n".join(lines)


# estimate()'s argument names -> this command's options, for error messages
_OPTIONS = {"hardware": "--gpu", "hours": "--hours", "gpu_hours": "--gpu-hours", "count": "--count",
            "country_iso_code": "--country", "carbon_intensity_g_per_kwh": "--intensity", "pue": "--pue",
            "utilisation": "--utilisation", "watts": "--watts", "cpu_watts": "--cpu-watts", "memory_gb": "--memory-gb",
            "lifetime_years": "--lifetime-years", "embodied_hardware": "--embodied", "servers": "--servers",
            "tokens": "--tokens", "samples": "--samples", "queries": "--queries"}


@click.command("estimate")
@click.option("--gpu", "--hardware", "hardware", help='GPU name, e.g. "H100 SXM" or "A100 SXM4 80GB".')
@click.option("--count", default=1, show_default=True, type=int, help="Number of GPUs.")
@click.option("--hours", type=float, help="Wall-clock hours the GPUs were reserved.")
@click.option("--gpu-hours", type=float, help="Total GPU-hours (instead of --hours), as model cards publish.")
@click.option("--country", help="ISO alpha-3 country code for grid intensity, e.g. USA, FRA.")
@click.option("--region", help="Grid region (Nordic zones SE1-4, NO1-5, FI).")
@click.option("--intensity", type=float, help="Grid intensity override in gCO2e/kWh.")
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
@click.option("--model", "model_id", help="Model id to record in the report.")
@click.option("--boundary", type=click.Choice(["training", "inference"]), default="training", show_default=True)
@click.option("--tokens", type=float, help="Tokens processed (SCI R).")
@click.option("--samples", type=float, help="Samples processed (SCI R).")
@click.option("--queries", type=float, help="Queries served (SCI R).")
@click.option("--out", type=click.Path(dir_okay=True), help="Write the report JSON here.")
@click.option("--overwrite", is_flag=True, help="Replace an existing, different --out file.")
@json_option
@handle_errors
def command(hardware: str | None, count: int, hours: float | None, gpu_hours: float | None, country: str | None,
            region: str | None, intensity: float | None, pue: float, utilisation: float, watts: float | None,
            cpu: str | None, cpu_watts: float | None, memory_gb: float | None, embodied: tuple[str, ...],
            servers: float, lifetime_years: float | None, model_id: str | None, boundary: str,
            tokens: float | None, samples: float | None, queries: float | None, out: str | None,
            overwrite: bool, as_json: bool) -> None:
    """Estimate emissions from hardware x time x location (no run). The result is marked ESTIMATE.

    Example: scer-hf estimate --gpu "H100 SXM" --count 8 --hours 120 --country USA --pue 1.1
    """
    from ..core.calculator import estimate
    from ..core.equivalents import equivalents, format_equivalents

    try:
        report = estimate(
            hardware=hardware, count=count, hours=hours, gpu_hours=gpu_hours, country_iso_code=country,
            region=region, carbon_intensity_g_per_kwh=intensity, pue=pue, utilisation=utilisation, watts=watts,
            cpu=cpu, cpu_watts=cpu_watts, memory_gb=memory_gb, embodied_hardware=list(embodied) or None,
            servers=servers, lifetime_years=lifetime_years, model=model_id, boundary=boundary, tokens=tokens,
            samples=samples, queries=queries,
        )
    except SCERError as exc:  # the messages name Python arguments; say the options this command takes
        exc.args = (cli_words(str(exc), _OPTIONS),)
        raise
    saved = str(report.save(out, overwrite=overwrite)) if out else None
    d = report.to_dict()
    total_g = d["co2e_g"] + (d["embodied_g"] or 0.0)
    obj = {"report": d, "equivalents": equivalents(total_g), "saved": saved}
    emit(obj, as_json, lambda: render_text(d, format_equivalents(total_g), saved))
