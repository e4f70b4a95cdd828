"""Grid carbon intensity (g CO2e per kWh) and PUE, offline: one resolver, as an ordered list of steps.

:data:`RESOLVERS` is the order, and the first step with an answer wins:

1. ``user_override``: ``carbon_intensity_g_per_kwh`` given (``g_per_kwh=`` here);
2. ``given_cloud_region``: ``cloud_provider`` + ``cloud_region`` (GCP from codecarbon's ``impact.csv``;
   AWS/Azure via the region's documented location, :mod:`scer_hf.core.grid_regions`);
3. ``given_region``: a US state, Canadian or Chinese province (with ``country_iso_code``), a Nordic
   bidding zone (codecarbon's ``nordic_emissions.json``);
4. ``given_country``: the country's location-based annual average codecarbon ships
   (``global_energy_mix.json``: Our World in Data / Ember; :mod:`scer_hf.core.grid_data`);
5. ``detected_cloud_region``: a cloud region named by the runtime's environment variables
   (:data:`REGION_ENV_VARS`; no IP geolocation, no network; skipped with ``detect=False``);
6. ``world_average``: 475 g/kWh (IEA 2019, as codecarbon ships it), and the report says the location
   is unknown.

Every figure records the data file, its SHA-256 and the codecarbon version it was read from.
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import CarbonIntensityError
from .grid import GridSpec
from .grid_data import LOCATION_BASED, GridFigure, countries, country_figure
from .grid_regions import cloud_figure, region_figure
from .records import CarbonRecord, LiveBlock

__all__ = ["CarbonIntensity", "carbon_intensity", "resolve_grid", "RESOLVERS", "Resolver", "detect_location",
           "J_PER_KWH", "countries", "REGION_ENV_VARS"]

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
    basis: str = LOCATION_BASED
    cloud_provider: str | None = None
    cloud_region: str | None = None
    location: str | None = None  # "given", "detected", "unknown" (world average) or "override"
    detected_from: str | None = None  # the environment variable a detected region came from
    data_file: str | None = None  # codecarbon data file behind the figure (with its sha256 and version)
    data_sha256: str | None = None
    codecarbon_version: str | None = None
    live: LiveBlock | None = None  # live intensity over the run (scer_hf.core.live_intensity), if used

    def co2e_g(self, energy_j: float) -> float:
        """Operational emissions (g CO2e) of *energy_j* of IT energy, PUE applied."""
        return energy_j / J_PER_KWH * self.pue * self.g_per_kwh

    @classmethod
    def of(cls, fig: GridFigure, *, pue: float = 1.0, location: str | None = None,
           detected_from: str | None = None) -> CarbonIntensity:
        """The intensity of a shipped grid figure (:mod:`scer_hf.core.grid_data`), at *pue*, the location *given*
        or *detected* (from the environment variable *detected_from*)."""
        return cls(fig.g_per_kwh, fig.source, fig.year, fig.country_iso_code, fig.region, pue, fig.basis,
                   fig.cloud_provider, fig.cloud_region, location, detected_from, fig.data_file, fig.data_sha256,
                   fig.codecarbon_version)

    def to_dict(self) -> CarbonRecord:
        return {"g_per_kwh": self.g_per_kwh, "source": self.source, "year": self.year,
                "country_iso_code": self.country_iso_code, "region": self.region, "pue": self.pue,
                "basis": self.basis, "cloud_provider": self.cloud_provider, "cloud_region": self.cloud_region,
                "location": self.location, "detected_from": self.detected_from, "data_file": self.data_file,
                "data_sha256": self.data_sha256, "codecarbon_version": self.codecarbon_version,
                "live": copy.deepcopy(self.live)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CarbonIntensity:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


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


# -- the resolvers, in order: each returns the answer or None (not its case) ------------------------------------
Resolver = Callable[[GridSpec], "CarbonIntensity | None"]


def user_override(spec: GridSpec) -> CarbonIntensity | None:
    """A figure of the user's own (already within bounds: :class:`GridSpec` checks it)."""
    if spec.carbon_intensity_g_per_kwh is None:
        return None
    code = spec.country_iso_code
    return CarbonIntensity(
        float(spec.carbon_intensity_g_per_kwh), "user override", None, code.upper() if code else None,
        spec.region, spec.pue, cloud_provider=spec.cloud_provider, cloud_region=spec.cloud_region,
        location="override",
    )


def given_cloud_region(spec: GridSpec) -> CarbonIntensity | None:
    """The grid of a named cloud region (both provider and region, or neither)."""
    if (spec.cloud_provider is None) != (spec.cloud_region is None):
        raise CarbonIntensityError(
            f"cloud_provider={spec.cloud_provider!r}, cloud_region={spec.cloud_region!r}: pass both (e.g. "
            "cloud_provider='gcp', cloud_region='europe-west4') or neither"
        )
    if spec.cloud_provider is None or spec.cloud_region is None:
        return None
    return CarbonIntensity.of(cloud_figure(spec.cloud_provider, spec.cloud_region), pue=spec.pue, location="given")


def given_region(spec: GridSpec) -> CarbonIntensity | None:
    """A sub-national grid: a US state, a Canadian or Chinese province, a Nordic bidding zone."""
    if spec.region is None:
        return None
    return CarbonIntensity.of(region_figure(spec.country_iso_code, spec.region), pue=spec.pue, location="given")


def given_country(spec: GridSpec) -> CarbonIntensity | None:
    """A country's annual average (ISO alpha-3); an unknown code raises with the close matches."""
    if spec.country_iso_code is None:
        return None
    return CarbonIntensity.of(country_figure(spec.country_iso_code), pue=spec.pue, location="given")


def detected_cloud_region(spec: GridSpec) -> CarbonIntensity | None:
    """A cloud region the runtime's environment names (:data:`REGION_ENV_VARS`); one with no figure warns."""
    found = detect_location()
    if found is None:
        return None
    provider, where, var = found
    try:
        fig = cloud_figure(provider, where)
    except CarbonIntensityError:
        warnings.warn(f"scer-hf: {var}={where!r} names no region with a shipped grid figure; using the world "
                      "average (pass cloud_provider/cloud_region or country_iso_code)", UserWarning, stacklevel=4)
        return None
    return CarbonIntensity.of(fig, pue=spec.pue, location="detected", detected_from=var)


def world_average(spec: GridSpec) -> CarbonIntensity:
    """Nothing given or detected: the world average, and the location is marked unknown."""
    return CarbonIntensity(
        _WORLD_G_PER_KWH, _WORLD_SOURCE + " (location not given: pass country_iso_code=...)", 2019, None, None,
        spec.pue, location="unknown",
    )


#: The order :func:`carbon_intensity` tries; the first answer wins (``world_average`` always answers).
RESOLVERS: tuple[Resolver, ...] = (
    user_override, given_cloud_region, given_region, given_country, detected_cloud_region, world_average,
)


def resolve_grid(spec: GridSpec, *, detect: bool = True) -> CarbonIntensity:
    """The :class:`CarbonIntensity` of *spec*: the first of :data:`RESOLVERS` with an answer."""
    for step in RESOLVERS:
        if step is detected_cloud_region and not detect:
            continue
        found = step(spec)
        if found is not None:
            return found
    raise AssertionError("world_average always answers")  # pragma: no cover


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

    Precedence (:data:`RESOLVERS`): explicit ``g_per_kwh`` > ``cloud_provider`` + ``cloud_region`` (GCP from
    codecarbon's ``impact.csv``; AWS/Azure via the region's documented location) >
    ``region`` (US state, Canadian/Chinese province with ``country_iso_code``; Nordic
    bidding zone SE1-4, NO1-5, FI) > ``country_iso_code`` (ISO alpha-3, e.g. ``"FRA"``) >
    a cloud region detected from the environment (``detect=True``, see
    :data:`REGION_ENV_VARS`) > world average. Unknown names raise
    :class:`~scer_hf.errors.UnknownRegionError` / ``UnknownCountryError`` with close matches.
    """
    spec = GridSpec(country_iso_code, region, cloud_provider, cloud_region, g_per_kwh, pue)
    return resolve_grid(spec, detect=detect)
