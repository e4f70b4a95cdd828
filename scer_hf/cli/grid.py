"""``scer-hf grid``: the grid intensity a location resolves to, and ``--list`` of all available offline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

import click

from ..core import fmt
from ..errors import SCERError
from ._common import cli_words, emit, handle_errors, json_option

if TYPE_CHECKING:
    from ..core.carbon import CarbonIntensity
    from ..core.grid_regions import Available

__all__ = ["command"]

_OPTIONS = {"country_iso_code": "--country", "cloud_provider": "--cloud", "cloud_region": "--region",
            "carbon_intensity_g_per_kwh": "--intensity"}


@dataclass(frozen=True)
class _Listed:
    """One location of ``--list``: what it is, the flags that choose it, its name, where, its figure."""

    kind: str  # "cloud", "region" or "country"
    flags: str
    name: str
    place: str
    g_per_kwh: float

    def to_dict(self) -> _ListedRecord:
        return {"kind": self.kind, "flags": self.flags, "name": self.name, "place": self.place,
                "g_per_kwh": self.g_per_kwh}


class _ListedRecord(TypedDict):
    kind: str
    flags: str
    name: str
    place: str
    g_per_kwh: float


class _Listing(TypedDict):
    """``--list --json``: :func:`~scer_hf.core.grid_regions.available` and every location with its figure."""

    cloud: dict[str, list[str]]
    regions: dict[str, list[str]]
    countries: list[str]
    codecarbon_version: str | None
    figures: list[_ListedRecord]


def _figures(av: Available) -> list[_Listed]:
    """Every location available offline with its figure."""
    from ..core.carbon import CarbonIntensity, carbon_intensity, countries
    from ..core.grid_regions import cloud_figure, region_figure
    from ..core.views import grid_place

    out: list[_Listed] = []
    for p, regions in av["cloud"].items():
        for r in regions:
            try:
                fig = cloud_figure(p, r)
            except SCERError:
                continue
            place = grid_place(CarbonIntensity.of(fig), cloud=False) or ""
            out.append(_Listed("cloud", f"--cloud {p} --region {r}", f"{p} {r}", place, fig.g_per_kwh))
    for c, regions in av["regions"].items():
        for r in regions:
            try:
                fig = region_figure(c, r)
            except SCERError:
                continue
            out.append(_Listed("region", f"--country {c} --region {r!r}", f"{c} {r}", str(fig.year or ""),
                               fig.g_per_kwh))
    names = countries()
    for c in av["countries"]:
        g = carbon_intensity(c, detect=False).g_per_kwh
        out.append(_Listed("country", f"--country {c}", c, names.get(c, c), g))
    return out


def _list_text(av: Available, figures: list[_Listed]) -> str:
    """One location per line: its name, what it is, its figure (never a line of bare codes)."""
    heads = {"cloud": "cloud regions: pass --cloud PROVIDER --region REGION",
             "region": "sub-national regions: pass --country CODE --region NAME",
             "country": "countries: pass --country CODE, ISO alpha-3"}
    lines = [(f"Grid figures available offline, codecarbon {av['codecarbon_version'] or 'not installed'}, "
             f"in {fmt.GRID_UNIT}, location-based annual averages")]
    kind = None
    for f in figures:
        if f.kind != kind:
            kind = f.kind
            lines.append(heads[kind])
        lines.append(f"  {f.name:<32} {fmt.num(f.g_per_kwh):>7}  {f.place}")
    from ..core.carbon import carbon_intensity

    lines.append(f"world average, used when no location is given: {fmt.num(carbon_intensity(detect=False).g_per_kwh)}")
    return "\n".join(lines)


def _one_text(c: CarbonIntensity) -> str:
    from ..core.views import grid_where

    how = c.location or "given"
    if how == "detected":
        how += f" from {c.detected_from}"
    lines = [f"{fmt.grid(c.g_per_kwh)}, {grid_where(c)}",
             f"  location: {how}",
             f"  source  : {c.source}", f"  year    : {c.year or 'not stated'}", f"  basis   : {c.basis}"]
    if c.data_file:
        lines.append(f"  data    : {c.data_file}, sha256 {str(c.data_sha256)[:12]}..., "
                     f"codecarbon {c.codecarbon_version}")
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
        figures = _figures(av)
        listing: _Listing = {**av, "figures": [f.to_dict() for f in figures]}
        emit(listing, as_json, lambda: _list_text(av, figures))
        return
    from ..core.carbon import carbon_intensity

    try:
        ci = carbon_intensity(country, None if cloud else region, cloud_provider=cloud,
                              cloud_region=region if cloud else None, detect=not no_detect)
    except SCERError as exc:
        exc.args = (cli_words(str(exc), _OPTIONS),)
        raise
    emit(ci.to_dict(), as_json, lambda: cli_words(_one_text(ci), _OPTIONS))
