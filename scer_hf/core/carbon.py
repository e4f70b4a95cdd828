"""Grid carbon intensity (g CO2e per kWh) and PUE, offline.

Country figures are the location-based annual averages codecarbon ships
(``data/private_infra/global_energy_mix.json``: Our World in Data / Ember, keyed by
ISO 3166-1 alpha-3, with the year of each figure). Nordic bidding zones come from
codecarbon's ``nordic_emissions.json``; US states, Canadian and Chinese provinces and
cloud regions from its other files (:mod:`scer_hf.core.grid_regions`). No IP geolocation and
no network: a cloud region is detected only from the runtime's environment variables;
with nothing given or detected, the world average (475 g/kWh, IEA 2019, as codecarbon
ships it) is used and the report says the location is unknown. Every figure records
the data file, its SHA-256 and the codecarbon version it was read from.
"""

from __future__ import annotations

import difflib
import os
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from ..errors import CarbonIntensityError, UnknownCountryError
from .bounds import GRID_G_PER_KWH, PUE, check, within
from .grid_regions import cloud_figure, load_json, provenance, region_figure

__all__ = ["CarbonIntensity", "carbon_intensity", "detect_location", "J_PER_KWH", "countries", "REGION_ENV_VARS"]

J_PER_KWH = 3.6e6
_WORLD_G_PER_KWH = 475.0
_WORLD_SOURCE = "IEA Global Energy & CO2 Status Report 2019 world average, as shipped by codecarbon"


@dataclass(frozen=True)
class CarbonIntensity:
    """Grid intensity and data-centre PUE used to turn energy into CO2e."""

    g_per_kwh: float
    source: str
    year: int | None = None
    country_iso_code: str | None = None
    region: str | None = None
    pue: float = 1.0
    basis: str = "location-based annual average"
    cloud_provider: str | None = None
    cloud_region: str | None = None
    location: str | None = None  # "given", "detected", "unknown" (world average) or "override"
    detected_from: str | None = None  # the environment variable a detected region came from
    data_file: str | None = None  # codecarbon data file behind the figure (with its sha256 and version)
    data_sha256: str | None = None
    codecarbon_version: str | None = None
    live: dict[str, Any] | None = None  # live intensity over the run (scer_hf.core.live_intensity), if used

    def co2e_g(self, energy_j: float) -> float:
        """Operational emissions (g CO2e) of *energy_j* of IT energy, PUE applied."""
        return energy_j / J_PER_KWH * self.pue * self.g_per_kwh

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CarbonIntensity:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def _load_json(*parts: str) -> dict[str, Any]:
    return load_json(*parts)


@lru_cache(maxsize=1)
def _energy_mix() -> dict[str, Any]:
    return _load_json("private_infra", "global_energy_mix.json")


def countries() -> dict[str, str]:
    """ISO alpha-3 code -> country name for every country with a shipped figure."""
    return {k: v.get("country_name", k) for k, v in _energy_mix().items()}


def _check_pue(pue: float) -> float:
    if not within(PUE, pue):
        raise CarbonIntensityError(
            f"pue={pue!r} is not a valid Power Usage Effectiveness; use a number from 1.0 "
            "(no overhead, the default) to about 2.0 (typical on-premise); 1.1-1.2 for hyperscale clouds"
        )
    return float(pue)


# Environment variables that name the cloud region the process runs in, set by the runtime
# itself (never a metadata endpoint). AWS_REGION: set by AWS Lambda, ECS and SageMaker
# (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).
# FUNCTION_REGION: set by Google Cloud Functions (older runtimes). AWS_DEFAULT_REGION is a
# client default, not where compute runs, and is not read. Hugging Face Spaces and
# Inference Endpoints set no region variable, so none is read for them.
REGION_ENV_VARS = (("AWS_REGION", "aws"), ("FUNCTION_REGION", "gcp"))


def detect_location(environ: Mapping[str, str] | None = None) -> tuple[str, str, str] | None:
    """(provider, region, variable) from the runtime's environment, or None. No network."""
    env = os.environ if environ is None else environ
    for var, provider in REGION_ENV_VARS:
        value = (env.get(var) or "").strip()
        if value:
            return provider, value, var
    return None


def carbon_intensity(
    country_iso_code: str | None = None,
    region: str | None = None,
    *,
    g_per_kwh: float | None = None,
    pue: float = 1.0,
    cloud_provider: str | None = None,
    cloud_region: str | None = None,
    detect: bool = True,
) -> CarbonIntensity:
    """Resolve the carbon intensity to use: the one resolver behind every report.

    Precedence: explicit ``g_per_kwh`` > ``cloud_provider`` + ``cloud_region`` (GCP from
    codecarbon's ``impact.csv``; AWS/Azure via the region's documented location) >
    ``region`` (US state, Canadian/Chinese province with ``country_iso_code``; Nordic
    bidding zone SE1-4, NO1-5, FI) > ``country_iso_code`` (ISO alpha-3, e.g. ``"FRA"``) >
    a cloud region detected from the environment (``detect=True``, see
    :data:`REGION_ENV_VARS`) > world average. Unknown names raise
    :class:`~scer_hf.errors.UnknownRegionError` / ``UnknownCountryError`` with close matches.
    """
    pue = _check_pue(pue)
    if g_per_kwh is not None:  # within physical limits (scer_hf.core.bounds.GRID_G_PER_KWH)
        check(GRID_G_PER_KWH, g_per_kwh, name="carbon_intensity_g_per_kwh", error=CarbonIntensityError,
              hint="; give the grid's carbon intensity in g CO2e per kWh")
        return CarbonIntensity(
            float(g_per_kwh), "user override", None,
            country_iso_code.upper() if country_iso_code else None, region, pue,
            cloud_provider=cloud_provider, cloud_region=cloud_region, location="override",
        )
    if (cloud_provider is None) != (cloud_region is None):
        raise CarbonIntensityError(
            f"cloud_provider={cloud_provider!r}, cloud_region={cloud_region!r}: pass both (e.g. cloud_provider='gcp', "
            "cloud_region='europe-west4') or neither"
        )
    if cloud_provider is not None:
        return CarbonIntensity(**{**cloud_figure(cloud_provider, cloud_region), "pue": pue, "location": "given"})
    if region is not None:
        return CarbonIntensity(**{"country_iso_code": None, **region_figure(country_iso_code, region),
                                  "pue": pue, "location": "given"})
    if country_iso_code is not None:
        code = str(country_iso_code).strip().upper()
        mix = _energy_mix()
        if code not in mix:
            close = difflib.get_close_matches(code, list(mix), n=3)
            by_name = [k for k, v in mix.items() if code.lower() in str(v.get("country_name", "")).lower()]
            hints = ", ".join(dict.fromkeys(by_name + close))
            hint = f"Did you mean: {hints}?" if hints else "The codes are listed by scer_hf.core.carbon.countries()."
            hint2 = " (ISO alpha-3, e.g. 'FRA', not 'FR')" if len(code) == 2 else ""
            raise UnknownCountryError(
                f"no grid carbon intensity for country code {country_iso_code!r}{hint2}. "
                f"{hint} Or pass carbon_intensity_g_per_kwh=<g CO2e per kWh>."
            )
        row = mix[code]
        return CarbonIntensity(
            float(row["carbon_intensity"]),
            f"codecarbon global_energy_mix.json (Our World in Data / Ember): {row.get('country_name', code)}",
            row.get("year"), code, None, pue, location="given",
            **provenance("private_infra", "global_energy_mix.json"),
        )
    found = detect_location() if detect else None
    if found is not None:
        provider, where, var = found
        try:
            fig = cloud_figure(provider, where)
        except CarbonIntensityError:
            warnings.warn(f"scer-hf: {var}={where!r} names no region with a shipped grid figure; using the world "
                          "average (pass cloud_provider/cloud_region or country_iso_code)", UserWarning, stacklevel=2)
        else:
            return CarbonIntensity(**{**fig, "pue": pue, "location": "detected", "detected_from": var})
    return CarbonIntensity(
        _WORLD_G_PER_KWH, _WORLD_SOURCE + " (location not given: pass country_iso_code=...)", 2019, None, None, pue,
        location="unknown",
    )
