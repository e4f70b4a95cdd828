"""Where a run's electricity comes from, as one value: :class:`GridSpec`.

``SCERCallback``, ``track_pipeline``, ``track_model``, ``track_training``, ``benchmark``,
``benchmark_endpoint`` and ``estimate`` take it as ``grid=``; their separate keywords
(``country_iso_code=``, ``region=``, ``carbon_intensity_g_per_kwh=``, ``pue=``, ``cloud_provider=``,
``cloud_region=``, ``live_intensity=``) keep working and mean the same::

    grid = GridSpec(country_iso_code="FRA", pue=1.2)
    SCERCallback(grid=grid)            # same as SCERCallback(country_iso_code="FRA", pue=1.2)

:func:`scer_hf.core.carbon.resolve_grid` turns a spec into the
:class:`~scer_hf.core.carbon.CarbonIntensity` a report uses.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..errors import CarbonIntensityError, GridConflictError
from .bounds import GRID_G_PER_KWH, PUE, check, within

__all__ = ["GridSpec", "GRID_KEYWORDS"]


def _check_pue(pue: float) -> float:
    if not within(PUE, pue):
        raise CarbonIntensityError(
            f"pue={pue!r} is not a valid Power Usage Effectiveness; use a number from 1.0 "
            "(no overhead, the default) to about 2.0 (typical on-premise); 1.1-1.2 for hyperscale clouds"
        )
    return float(pue)


@dataclass(frozen=True)
class GridSpec:
    """The grid a run draws on: location, or a figure of one's own, the data centre's PUE, live readings.

    ``carbon_intensity_g_per_kwh`` (g CO2e per kWh) overrides every location; else ``cloud_provider`` +
    ``cloud_region`` (e.g. ``"gcp", "europe-west4"``), ``region`` (a US state, a Canadian or Chinese province
    with ``country_iso_code``, a Nordic bidding zone) or ``country_iso_code`` (ISO alpha-3, e.g. ``"FRA"``)
    name where; nothing given: a cloud region from the runtime's environment, else the world average.
    ``pue`` (1.0-5.0) multiplies IT energy into facility energy. ``live_intensity``: an Electricity Maps
    zone or a :class:`~scer_hf.core.live_intensity.LiveIntensity` (off by default). A PUE or an
    override outside physical bounds raises :class:`~scer_hf.errors.CarbonIntensityError` at once.
    """

    country_iso_code: str | None = None
    region: str | None = None
    cloud_provider: str | None = None
    cloud_region: str | None = None
    carbon_intensity_g_per_kwh: float | None = None
    pue: float = 1.0
    live_intensity: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "pue", _check_pue(self.pue))
        g = self.carbon_intensity_g_per_kwh
        if g is not None:  # within physical limits (scer_hf.core.bounds.GRID_G_PER_KWH)
            check(GRID_G_PER_KWH, g, name="carbon_intensity_g_per_kwh", error=CarbonIntensityError,
                  hint="; give the grid's carbon intensity in g CO2e per kWh")

    def keywords(self) -> dict[str, Any]:
        """The spec as the separate keywords the public functions also take."""
        return {name: getattr(self, name) for name in GRID_KEYWORDS}

    @classmethod
    def of(cls, grid: GridSpec | None = None, **keywords: Any) -> GridSpec:
        """*grid*, or the spec the separate keywords make; both given, each keyword must agree with *grid*.

        A keyword left at its default is not given. One that differs from *grid*'s field raises
        :class:`~scer_hf.errors.GridConflictError`.
        """
        unknown = sorted(set(keywords) - set(GRID_KEYWORDS))
        if unknown:
            raise TypeError(f"GridSpec has no field {', '.join(unknown)}; fields: {', '.join(GRID_KEYWORDS)}")
        given = {k: v for k, v in keywords.items() if v is not None and not (k == "pue" and v == 1.0)}
        if grid is None:
            return cls(**given)
        if not isinstance(grid, GridSpec):
            raise CarbonIntensityError(f"grid= takes a scer_hf.GridSpec, got {type(grid).__name__}; e.g. "
                                       "grid=GridSpec(country_iso_code='FRA')")
        _agree(grid, given)
        return grid


def _agree(grid: GridSpec, given: dict[str, Any]) -> None:
    clash = {k: v for k, v in given.items() if getattr(grid, k) != v}
    if clash:
        both = ", ".join(f"{k}={v!r} (grid has {getattr(grid, k)!r})" for k, v in clash.items())
        raise GridConflictError(
            f"grid= and separate grid keywords disagree: {both}. Pass one of them: put the value in the spec, "
            f"e.g. grid=dataclasses.replace(grid, {next(iter(clash))}=...), or drop grid=")


GRID_KEYWORDS = tuple(f.name for f in dataclasses.fields(GridSpec))
