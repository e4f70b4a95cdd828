"""Sub-national and cloud-region grid intensity, read offline from codecarbon's data files.

Every figure is read from the file codecarbon ships (found without importing codecarbon)
and returned with that file's path, its SHA-256, the codecarbon version, the source, the
year and the basis. Units, as the files state them:

- ``data/cloud/impact.csv``: column ``impact`` in g CO2e/kWh (codecarbon reads it with
  ``EmissionsPerKWh.from_g_per_kWh``). In codecarbon 3.x this file holds **GCP regions
  only** ("AWS and Azure do not provide any carbon intensity data. Only GCP does it",
  codecarbon ``core/emissions.py``). AWS and Azure regions are therefore resolved through
  ``scer_hf/data/cloud_regions.csv`` (each region's documented location, cited) to the grid
  figure of that location, and labelled so.
- ``data/private_infra/2023/usa_emissions.json``: ``emissions`` in **lbs/MWh** (its
  ``_unit``; EPA eGRID2023 field STC2ERTA). g/kWh = lbs/MWh x 453.59237 g/lb / 1000 kWh/MWh.
- ``data/private_infra/2023/canada_energy_mix.json``: generation shares in percent, no
  intensity. Modelled as codecarbon does (``_region_energy_mix_to_emissions_rate``): the
  coal, petroleum and natural-gas shares times their factors from
  ``carbon_intensity_per_source.json``; other sources count 0. Labelled MODELLED.
- ``data/private_infra/2023/china_provincial_emissions.json``: ``emission_factor`` in
  g CO2/kWh (MEE/NBS 2023, CO2 only), keyed ``CN-XX`` with lower-case ``names``.
- ``data/private_infra/nordic_emissions.json``: bidding zones, g CO2e/kWh.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from typing import TypedDict

from ..errors import CarbonIntensityError, UnknownCountryError, UnknownRegionError
from .grid_data import (
    GridFigure,
    codecarbon_version,
    countries,
    country_figure,
    load_json,
    provenance,
    read_text,
)

__all__ = ["cloud_figure", "region_figure", "available", "Available", "GridFigure", "codecarbon_version",
           "PROVIDERS", "LBS_PER_MWH_TO_G_PER_KWH"]

LBS_PER_MWH_TO_G_PER_KWH = 0.45359237  # 453.59237 g per lb / 1000 kWh per MWh
PROVIDERS = {"gcp": "Google Cloud Platform", "aws": "Amazon Web Services", "azure": "Microsoft Azure"}
_PROVIDER_ALIASES = {"google": "gcp", "gcloud": "gcp", "amazon": "aws", "microsoft": "azure"}
_NORDIC = {"SWE": ("SE1", "SE2", "SE3", "SE4"), "NOR": ("NO1", "NO2", "NO3", "NO4", "NO5"), "FIN": ("FI",)}
_FOSSIL = {"coal": "coal", "petroleum": "petroleum", "naturalGas": "natural_gas"}


def _suggest(word: str, options: list[str], what: str, listing: str) -> str:
    close = difflib.get_close_matches(word.lower(), [o.lower() for o in options], n=3, cutoff=0.6)
    by_lower = {o.lower(): o for o in options}
    hint = f" Did you mean {' or '.join(repr(by_lower[c]) for c in close)}?" if close else ""
    return f"no shipped grid figure for {what} {word!r}.{hint} {listing}"


# -- cloud ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _ImpactRow:
    """The columns scer-hf reads of one row of codecarbon's ``cloud/impact.csv`` (``impact``: g CO2e/kWh)."""

    provider: str
    region: str
    impact: float
    source: str
    where: str  # "city, state, country", the parts the row gives
    country_iso_code: str | None

    @classmethod
    def of(cls, r: dict[str, str]) -> _ImpactRow:
        where = ", ".join(x for x in (r.get("city"), r.get("state"), r.get("country_name")) if x)
        return cls(r["provider"].strip().lower(), r["region"].strip(), float(r["impact"]), r["source"], where,
                   r.get("countryIsoCode") or None)


@dataclass(frozen=True)
class _CloudLocation:
    """A row of ``scer_hf/data/cloud_regions.csv``: where an AWS/Azure region is, with its citation."""

    provider: str
    region: str
    location: str
    country_iso_code: str
    grid_region: str
    source: str


@lru_cache(maxsize=1)
def _impact() -> dict[tuple[str, str], _ImpactRow]:
    rows = (_ImpactRow.of(r) for r in csv.DictReader(read_text("cloud", "impact.csv").splitlines()))
    return {(r.provider, r.region): r for r in rows}


@lru_cache(maxsize=1)
def _locations() -> dict[tuple[str, str], _CloudLocation]:
    text = resources.files("scer_hf.data").joinpath("cloud_regions.csv").read_text(encoding="utf-8")
    rows = (_CloudLocation(**r) for r in csv.DictReader(text.splitlines()))
    return {(r.provider, r.region): r for r in rows}


def cloud_regions() -> dict[str, list[str]]:
    """Provider -> regions with a figure offline (GCP from codecarbon, AWS/Azure by location)."""
    out: dict[str, list[str]] = {p: [] for p in PROVIDERS}
    for p, r in list(_impact()) + list(_locations()):
        out.setdefault(p, []).append(r)
    return {p: sorted(set(v)) for p, v in out.items()}


def _provider(provider: str) -> str:
    p = str(provider).strip().lower()
    p = _PROVIDER_ALIASES.get(p, p)
    if p not in PROVIDERS:
        raise UnknownRegionError(_suggest(provider, list(PROVIDERS), "cloud provider",
                                          f"Providers: {', '.join(PROVIDERS)}."))
    return p


def _impact_figure(p: str, r: str, row: _ImpactRow) -> GridFigure:
    return GridFigure(
        row.impact, f"codecarbon impact.csv: {PROVIDERS[p]} {r} ({row.where}); {row.source}", None,
        row.country_iso_code, None, "location-based grid average for the region, as published by the provider",
        p, r, **provenance("cloud", "impact.csv"))


def _located_figure(p: str, r: str, loc: _CloudLocation) -> GridFigure:
    """The grid of an AWS/Azure region's documented location (its country, or its sub-national grid)."""
    fig = region_figure(loc.country_iso_code, loc.grid_region) if loc.grid_region \
        else country_figure(loc.country_iso_code)
    return replace(fig, source=f"{fig.source}; {PROVIDERS[p]} {r} is in {loc.location} ({loc.source})",
                   basis=f"{fig.basis} of the grid at the region's documented location "
                         f"({PROVIDERS[p]} publishes no per-region figure in codecarbon's data)",
                   cloud_provider=p, cloud_region=r)


def cloud_figure(provider: str, region: str) -> GridFigure:
    """Grid figure for a cloud region: fields for :class:`scer_hf.core.carbon.CarbonIntensity`."""
    p, r = _provider(provider), str(region).strip().lower()
    row = _impact().get((p, r))
    if row is not None:
        return _impact_figure(p, r, row)
    loc = _locations().get((p, r))
    if loc is None:
        regions = cloud_regions().get(p, [])
        raise UnknownRegionError(_suggest(region, regions, f"{p} region",
                                          "Run `scer-hf grid --list` for every region available offline, "
                                          "or pass carbon_intensity_g_per_kwh=..."))
    return _located_figure(p, r, loc)


# -- sub-national --------------------------------------------------------------------------
def _usa(name: str) -> GridFigure | None:
    d = load_json("private_infra", "2023", "usa_emissions.json")
    key = name.strip().lower()
    for k, v in d.items():
        if k.startswith("_") or k == "usa" or not isinstance(v, dict):
            continue
        if key in (k, str(v.get("regionCode", "")).lower()):
            src = d.get("_source", {})
            lbs = v["emissions"]
            return GridFigure(float(lbs) * LBS_PER_MWH_TO_G_PER_KWH,
                              f"codecarbon usa_emissions.json: {src.get('name', 'EPA eGRID')} ({src.get('field')}), "
                              f"{k.title()}, {lbs} lbs/MWh x 0.45359237; {src.get('url')}",
                              src.get("year", 2023), None, k, "location-based annual average (state generation)",
                              **provenance("private_infra", "2023", "usa_emissions.json"))
    return None


def _canada(name: str) -> GridFigure | None:
    d = load_json("private_infra", "2023", "canada_energy_mix.json")
    mix = d.get(name.strip().lower())
    if mix is None:
        return None
    factors = load_json("private_infra", "carbon_intensity_per_source.json")
    g = sum(mix.get(k, 0.0) / mix["total"] * factors[f] for k, f in _FOSSIL.items())
    return GridFigure(g, f"codecarbon canada_energy_mix.json ({name.strip().title()}) x "
                         "carbon_intensity_per_source.json (coal 995, petroleum 816, natural gas 743 g/kWh; "
                         "https://github.com/responsibleproblemsolving/energy-usage#conversion-to-co2)",
                      2023, None, name.strip().lower(),
                      "MODELLED from the generation mix: fossil shares x per-source factors, other sources counted "
                      "as 0 (codecarbon's method)", **provenance("private_infra", "2023", "canada_energy_mix.json"))


def _china(name: str) -> GridFigure | None:
    d = load_json("private_infra", "2023", "china_provincial_emissions.json")
    key = " ".join(name.lower().split())
    for suffix in (" province", " municipality", " autonomous region"):
        key = key.removesuffix(suffix)
    meta = d.get("metadata", {})
    for code, v in d["data"].items():
        if key == code.lower() or key in v.get("names", []):
            return GridFigure(float(v["emission_factor"]),
                              f"codecarbon china_provincial_emissions.json: {v['description']}; "
                              f"{meta.get('source_url')}", v.get("year", meta.get("year")), None, code,
                              "location-based annual average (CO2 only, MEE/NBS provincial factor)",
                              **provenance("private_infra", "2023", "china_provincial_emissions.json"))
    return None


def _nordic(zone: str) -> GridFigure | None:
    try:
        v = load_json("private_infra", "nordic_emissions.json").get("data", {}).get(zone.strip().upper())
    except (OSError, CarbonIntensityError):
        return None
    if v is None:
        return None
    return GridFigure(float(v["emission_factor"]), f"codecarbon nordic_emissions.json: {v.get('description', zone)}",
                      v.get("year"), None, zone.strip().upper(),
                      "location-based annual average (bidding-zone generation mix)",
                      **provenance("private_infra", "nordic_emissions.json"))


_BY_COUNTRY = {"USA": _usa, "CAN": _canada, "CHN": _china, "SWE": _nordic, "NOR": _nordic, "FIN": _nordic}


def subnational_regions() -> dict[str, list[str]]:
    """Country -> regions with a figure offline."""
    out: dict[str, list[str]] = {}
    try:
        usa = load_json("private_infra", "2023", "usa_emissions.json")
        out["USA"] = sorted(k for k in usa if not k.startswith("_") and k != "usa")
        out["CAN"] = sorted(load_json("private_infra", "2023", "canada_energy_mix.json"))
        out["CHN"] = sorted(load_json("private_infra", "2023", "china_provincial_emissions.json")["data"])
    except (OSError, CarbonIntensityError):
        pass
    nordic = set()
    with contextlib.suppress(OSError, CarbonIntensityError):
        nordic = set(load_json("private_infra", "nordic_emissions.json").get("data", {}))
    for c, zones in _NORDIC.items():
        out[c] = [z for z in zones if z in nordic]
    return out


def _nordic_zone(region: str) -> GridFigure:
    """The grid figure of a Nordic zone (a region given without a country), or a typed error with suggestions."""
    fig = _nordic(region)
    if fig is not None:
        return fig
    zones = [z for c, zs in subnational_regions().items() if c in _NORDIC for z in zs]
    raise UnknownRegionError(_suggest(
        region, zones, "region", "Without country_iso_code a region is a Nordic zone; pass "
        "country_iso_code='USA' (states), 'CAN' or 'CHN' (provinces)."))


def region_figure(country_iso_code: str | None, region: str) -> GridFigure:
    """Grid figure for a sub-national *region* (US state, Canadian or Chinese province, Nordic zone)."""
    code = str(country_iso_code).strip().upper() if country_iso_code else None
    if code is None:  # as before: a bare region is a Nordic zone
        return _nordic_zone(region)
    fn = _BY_COUNTRY.get(code)
    if fn is None:
        raise UnknownCountryError(f"no sub-national grid figures for {code!r}; regions are available offline for "
                                  f"{', '.join(_BY_COUNTRY)}. Drop region=... to use the country average.")
    fig = fn(region)
    if fig is None:
        regions = subnational_regions().get(code, [])
        raise UnknownRegionError(_suggest(region, regions, f"{code} region",
                                          "Run `scer-hf grid --list` to see every region available offline."))
    return replace(fig, country_iso_code=code)


class Available(TypedDict):
    """:func:`available`: what resolves offline (provider -> regions, country -> regions, country codes)."""

    cloud: dict[str, list[str]]
    regions: dict[str, list[str]]
    countries: list[str]
    codecarbon_version: str | None


def available() -> Available:
    """Everything resolvable offline: cloud regions, sub-national regions, countries."""
    return {"cloud": cloud_regions(), "regions": subnational_regions(), "countries": sorted(countries()),
            "codecarbon_version": codecarbon_version()}
