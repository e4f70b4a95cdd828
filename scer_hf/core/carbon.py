"""Grid carbon intensity (g CO2e per kWh) and PUE, offline.

Country figures are the location-based annual averages codecarbon ships
(``data/private_infra/global_energy_mix.json``: Our World in Data / Ember, keyed by
ISO 3166-1 alpha-3, with the year of each figure). Nordic bidding zones come from
codecarbon's ``nordic_emissions.json``. No IP geolocation and no network: with no
country and no override, the world average (475 g/kWh, IEA 2019, as codecarbon ships
it) is used and the report says the location was not given.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from ..errors import CarbonIntensityError, UnknownCountryError
from .meters.estimate import _codecarbon_data_dir

__all__ = ["CarbonIntensity", "carbon_intensity", "J_PER_KWH", "countries"]

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

    def co2e_g(self, energy_j: float) -> float:
        """Operational emissions (g CO2e) of *energy_j* of IT energy, PUE applied."""
        return energy_j / J_PER_KWH * self.pue * self.g_per_kwh

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CarbonIntensity":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def _load_json(*parts: str) -> dict[str, Any]:
    data = _codecarbon_data_dir()
    if data is None:
        raise CarbonIntensityError(
            "codecarbon's data files are not installed; `pip install codecarbon` or pass "
            "carbon_intensity_g_per_kwh=..."
        )
    return json.loads(data.joinpath(*parts).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _energy_mix() -> dict[str, Any]:
    return _load_json("private_infra", "global_energy_mix.json")


@lru_cache(maxsize=1)
def _nordic() -> dict[str, Any]:
    try:
        return _load_json("private_infra", "nordic_emissions.json").get("data", {})
    except (OSError, CarbonIntensityError):
        return {}


def countries() -> dict[str, str]:
    """ISO alpha-3 code -> country name for every country with a shipped figure."""
    return {k: v.get("country_name", k) for k, v in _energy_mix().items()}


def _check_pue(pue: float) -> float:
    if not isinstance(pue, (int, float)) or math.isnan(pue) or pue < 1.0 or pue > 5.0:
        raise CarbonIntensityError(
            f"pue={pue!r} is not a valid Power Usage Effectiveness; use a number from 1.0 "
            "(no overhead, the default) to about 2.0 (typical on-premise); 1.1-1.2 for hyperscale clouds"
        )
    return float(pue)


def carbon_intensity(
    country_iso_code: str | None = None,
    region: str | None = None,
    *,
    g_per_kwh: float | None = None,
    pue: float = 1.0,
) -> CarbonIntensity:
    """Resolve the carbon intensity to use.

    Precedence: explicit ``g_per_kwh`` > ``region`` (Nordic bidding zones SE1-4,
    NO1-5, FI) > ``country_iso_code`` (ISO alpha-3, e.g. ``"FRA"``) > world average.
    """
    pue = _check_pue(pue)
    if g_per_kwh is not None:
        if not isinstance(g_per_kwh, (int, float)) or math.isnan(g_per_kwh) or g_per_kwh < 0:
            raise CarbonIntensityError(
                f"carbon_intensity_g_per_kwh={g_per_kwh!r} must be a number >= 0 (g CO2e per kWh)"
            )
        return CarbonIntensity(
            float(g_per_kwh), "user override", None,
            country_iso_code.upper() if country_iso_code else None, region, pue,
        )
    if region is not None:
        zone = _nordic().get(region.upper())
        if zone is None:
            raise UnknownCountryError(
                f"region {region!r} has no shipped figure; regions available offline: "
                f"{', '.join(sorted(_nordic())) or 'none'}. Pass country_iso_code=... or "
                "carbon_intensity_g_per_kwh=... instead."
            )
        return CarbonIntensity(
            float(zone["emission_factor"]),
            f"codecarbon nordic_emissions.json: {zone.get('description', region)}",
            zone.get("year"), country_iso_code.upper() if country_iso_code else None, region.upper(), pue,
        )
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
            row.get("year"), code, None, pue,
        )
    return CarbonIntensity(
        _WORLD_G_PER_KWH, _WORLD_SOURCE + " (location not given: pass country_iso_code=...)", 2019, None, None, pue,
    )
