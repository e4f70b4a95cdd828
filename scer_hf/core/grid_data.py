"""codecarbon's grid data files, read offline, and the country table built from them.

The lowest grid module: :mod:`scer_hf.core.grid_regions` (sub-national and cloud regions) and
:mod:`scer_hf.core.carbon` (the resolver) both read through it, and it imports neither, so the two no
longer import each other. Files are found without importing codecarbon; each read keeps its SHA-256
and the codecarbon version for the figure's provenance.

Country figures are the location-based annual averages codecarbon ships
(``data/private_infra/global_energy_mix.json``: Our World in Data / Ember, keyed by ISO 3166-1 alpha-3,
with the year of each figure).
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.metadata
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, TypedDict

from ..errors import CarbonIntensityError, UnknownCountryError
from .meters.estimate import _codecarbon_data_dir

__all__ = ["LOCATION_BASED", "GridFigure", "DataProvenance", "codecarbon_version", "read_text", "load_json",
           "provenance", "countries", "country_figure"]

_ENERGY_MIX = ("private_infra", "global_energy_mix.json")
LOCATION_BASED = "location-based annual average"  # the basis of a figure that states no other


class DataProvenance(TypedDict):
    """What a grid figure was read from: codecarbon's data file, its SHA-256, codecarbon's version."""

    data_file: str
    data_sha256: str
    codecarbon_version: str | None


@dataclass(frozen=True)
class GridFigure:
    """One grid figure read from a shipped table (a country, a sub-national region or a cloud region): what
    :class:`scer_hf.core.carbon.CarbonIntensity` is made of, before a PUE and how the location was chosen."""

    g_per_kwh: float
    source: str
    year: int | None = None
    country_iso_code: str | None = None
    region: str | None = None
    basis: str = LOCATION_BASED
    cloud_provider: str | None = None
    cloud_region: str | None = None
    data_file: str | None = None
    data_sha256: str | None = None
    codecarbon_version: str | None = None


def codecarbon_version() -> str | None:
    try:
        return importlib.metadata.version("codecarbon")
    except importlib.metadata.PackageNotFoundError:
        return None


def _path(*parts: str) -> Path:
    data = _codecarbon_data_dir()
    if data is None:
        raise CarbonIntensityError(
            "codecarbon's data files are not installed; `pip install codecarbon` or pass "
            "carbon_intensity_g_per_kwh=..."
        )
    return data.joinpath(*parts)


@cache
def _file(*parts: str) -> tuple[str, str]:
    """(text, sha256) of one codecarbon data file."""
    raw = _path(*parts).read_bytes()
    return raw.decode("utf-8-sig"), hashlib.sha256(raw).hexdigest()


def read_text(*parts: str) -> str:
    """One of codecarbon's data files as text, e.g. ``read_text("cloud", "impact.csv")``."""
    return _file(*parts)[0]


def load_json(*parts: str) -> dict[str, Any]:
    """One of codecarbon's JSON data files, e.g. ``load_json("private_infra", "nordic_emissions.json")``."""
    data: dict[str, Any] = json.loads(read_text(*parts))
    return data


def provenance(*parts: str) -> DataProvenance:
    """What a figure read from codecarbon's file *parts* was read from."""
    return {"data_file": "codecarbon/data/" + "/".join(parts), "data_sha256": _file(*parts)[1],
            "codecarbon_version": codecarbon_version()}


@dataclass(frozen=True)
class _Country:
    """What scer-hf reads of one country of codecarbon's ``global_energy_mix.json``."""

    name: str
    g_per_kwh: float | None  # ``carbon_intensity``: read only when the country's figure is asked for
    year: int | None

    @classmethod
    def of(cls, code: str, v: dict[str, Any]) -> _Country:
        g = v.get("carbon_intensity")
        return cls(str(v.get("country_name", code)), None if g is None else float(g), v.get("year"))


@lru_cache(maxsize=1)
def _energy_mix() -> dict[str, _Country]:
    return {k: _Country.of(k, v) for k, v in load_json(*_ENERGY_MIX).items()}


def countries() -> dict[str, str]:
    """ISO alpha-3 code -> country name for every country with a shipped figure."""
    return {k: v.name for k, v in _energy_mix().items()}


def _unknown_country(asked: str, code: str, mix: Mapping[str, _Country]) -> UnknownCountryError:
    close = difflib.get_close_matches(code, list(mix), n=3)
    by_name = [k for k, v in mix.items() if code.lower() in v.name.lower()]
    hints = ", ".join(dict.fromkeys(by_name + close))
    hint = f"Did you mean: {hints}?" if hints else "The codes are listed by scer_hf.core.carbon.countries()."
    alpha2 = " (ISO alpha-3, e.g. 'FRA', not 'FR')" if len(code) == 2 else ""
    return UnknownCountryError(f"no grid carbon intensity for country code {asked!r}{alpha2}. "
                               f"{hint} Or pass carbon_intensity_g_per_kwh=<g CO2e per kWh>.")


def country_figure(country_iso_code: str) -> GridFigure:
    """A country's grid figure: fields for :class:`scer_hf.core.carbon.CarbonIntensity` (ISO alpha-3 code)."""
    code = str(country_iso_code).strip().upper()
    mix = _energy_mix()
    if code not in mix:
        raise _unknown_country(country_iso_code, code, mix)
    row = mix[code]
    if row.g_per_kwh is None:
        raise _unknown_country(country_iso_code, code, {})
    return GridFigure(row.g_per_kwh, f"codecarbon global_energy_mix.json (Our World in Data / Ember): {row.name}",
                      row.year, code, None, **provenance(*_ENERGY_MIX))
