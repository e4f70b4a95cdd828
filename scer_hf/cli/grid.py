"""``scer-hf grid``: the grid intensity a location resolves to, and ``--list`` of all available offline."""

from __future__ import annotations

from typing import Any

import click

from ..errors import SCERError
from ._common import cli_words, emit, handle_errors, json_option

__all__ = ["command"]

_OPTIONS = {"country_iso_code": "--country", "cloud_provider": "--cloud", "cloud_region": "--region",
            "carbon_intensity_g_per_kwh": "--intensity"}


def _list_text(av: dict[str, Any]) -> str:
    lines = [f"Grid figures available offline (codecarbon {av.get('codecarbon_version') or 'not installed'}):",
             "cloud regions (--cloud P --region R):"]
    for p, regions in av["cloud"].items():
        lines.append(f"  {p} ({len(regions)}): {', '.join(regions)}")
    lines.append("sub-national regions (--country C --region R):")
    for c, regions in av["regions"].items():
        lines.append(f"  {c} ({len(regions)}): {', '.join(regions)}")
    lines.append(f"countries (--country, ISO alpha-3; {len(av['countries'])}): {', '.join(av['countries'])}")
    return "\n".join(lines)


def _one_text(c: dict[str, Any]) -> str:
    where = (f"{c['cloud_provider']} {c['cloud_region']}" if c.get("cloud_region") else
             " / ".join(x for x in (c.get("country_iso_code"), c.get("region")) if x) or "world average")
    how = c.get("location") or "given"
    if how == "detected":
        how += f" from {c.get('detected_from')}"
    lines = [f"{c['g_per_kwh']:.4g} gCO2e/kWh  {where} ({how})",
             f"  source  {c['source']}", f"  year    {c.get('year') or 'not stated'}", f"  basis   {c['basis']}"]
    if c.get("data_file"):
        lines.append(f"  data    {c['data_file']} (sha256 {str(c.get('data_sha256'))[:12]}..., "
                     f"codecarbon {c.get('codecarbon_version')})")
    return "\n".join(lines)


@click.command("grid")
@click.option("--list", "as_list", is_flag=True, help="List every cloud region, sub-national region and country.")
@click.option("--cloud", type=click.Choice(["aws", "gcp", "azure"], case_sensitive=False), help="Cloud provider.")
@click.option("--country", help="ISO alpha-3 country code, e.g. USA, CAN, CHN, FRA.")
@click.option("--region", help="A cloud region (with --cloud), US state, Canadian/Chinese province, or Nordic zone.")
@click.option("--no-detect", is_flag=True, help="Do not read the cloud region from the environment.")
@json_option
@handle_errors
def command(as_list: bool, cloud: str | None, country: str | None, region: str | None, no_detect: bool,
            as_json: bool) -> None:
    """Show the grid intensity a location resolves to (offline), or --list all that are available.

    Example: scer-hf grid --cloud aws --region us-east-1 ; scer-hf grid --country USA --region California
    """
    if as_list:
        from ..core.grid_regions import available

        av = available()
        emit(av, as_json, lambda: _list_text(av))
        return
    from ..core.carbon import carbon_intensity

    try:
        ci = carbon_intensity(country, None if cloud else region, cloud_provider=cloud,
                              cloud_region=region if cloud else None, detect=not no_detect)
    except SCERError as exc:
        exc.args = (cli_words(str(exc), _OPTIONS),)
        raise
    d = ci.to_dict()
    emit(d, as_json, lambda: _one_text(d))
