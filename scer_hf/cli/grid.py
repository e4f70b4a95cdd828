"""``scer-hf grid``: the grid intensity a location resolves to, and ``--list`` of all available offline."""

from __future__ import annotations

from typing import Any

import click

from ..core import fmt
from ..errors import SCERError
from ._common import cli_words, emit, handle_errors, json_option

__all__ = ["command"]

_OPTIONS = {"country_iso_code": "--country", "cloud_provider": "--cloud", "cloud_region": "--region",
            "carbon_intensity_g_per_kwh": "--intensity"}


def _figures(av: dict[str, Any]) -> list[dict[str, Any]]:
    """Every location available offline with its figure: ``{kind, flags, name, place, g_per_kwh}``."""
    from ..core.carbon import carbon_intensity, countries
    from ..core.grid_regions import cloud_figure, region_figure
    from ..core.views import grid_place

    out: list[dict[str, Any]] = []
    for p, regions in av["cloud"].items():
        for r in regions:
            try:
                fig = cloud_figure(p, r)
            except SCERError:
                continue
            place = grid_place(fig, cloud=False) or ""
            out.append({"kind": "cloud", "flags": f"--cloud {p} --region {r}", "name": f"{p} {r}", "place": place,
                        "g_per_kwh": fig["g_per_kwh"]})
    for c, regions in av["regions"].items():
        for r in regions:
            try:
                fig = region_figure(c, r)
            except SCERError:
                continue
            out.append({"kind": "region", "flags": f"--country {c} --region {r!r}", "name": f"{c} {r}",
                        "place": str(fig.get("year") or ""), "g_per_kwh": fig["g_per_kwh"]})
    names = countries()
    for c in av["countries"]:
        out.append({"kind": "country", "flags": f"--country {c}", "name": c, "place": names.get(c, c),
                    "g_per_kwh": carbon_intensity(c, detect=False).g_per_kwh})
    return out


def _list_text(av: dict[str, Any]) -> str:
    """One location per line: its name, what it is, its figure (never a line of bare codes)."""
    heads = {"cloud": "cloud regions: pass --cloud PROVIDER --region REGION",
             "region": "sub-national regions: pass --country CODE --region NAME",
             "country": "countries: pass --country CODE, ISO alpha-3"}
    lines = [(f"Grid figures available offline, codecarbon {av.get('codecarbon_version') or 'not installed'}, "
             f"in {fmt.GRID_UNIT}, location-based annual averages")]
    kind = None
    for f in av["figures"]:
        if f["kind"] != kind:
            kind = f["kind"]
            lines.append(heads[kind])
        lines.append(f"  {f['name']:<32} {fmt.num(f['g_per_kwh']):>7}  {f['place']}")
    from ..core.carbon import carbon_intensity

    lines.append(f"world average, used when no location is given: {fmt.num(carbon_intensity(detect=False).g_per_kwh)}")
    return "\n".join(lines)


def _one_text(c: dict[str, Any]) -> str:
    from ..core.views import grid_where

    how = c.get("location") or "given"
    if how == "detected":
        how += f" from {c.get('detected_from')}"
    lines = [f"{fmt.grid(c['g_per_kwh'])}, {grid_where(c)}",
             f"  location: {how}",
             f"  source  : {c['source']}", f"  year    : {c.get('year') or 'not stated'}", f"  basis   : {c['basis']}"]
    if c.get("data_file"):
        lines.append(f"  data    : {c['data_file']}, sha256 {str(c.get('data_sha256'))[:12]}..., "
                     f"codecarbon {c.get('codecarbon_version')}")
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
        av["figures"] = _figures(av)
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
    emit(d, as_json, lambda: cli_words(_one_text(d), _OPTIONS))
