"""Estimate without running: hardware x time x location -> a ``scer_hf.Report``.

The arithmetic of ML CO2 Impact (Lacoste et al. 2019) and Green Algorithms
(Lannelongue et al. 2021), written as energy so it feeds the same Report, SCI and
carbon code as a measurement::

    E_gpu = board power (W) x utilisation x count x hours        (component "gpu:est")
    E_cpu = CPU power (W) x utilisation x hours                  (component "cpu:est")
    E_ram = memory_gb x 0.3725 W/GB x hours                      (component "ram")
    E_idle = idle power of the servers (W) x hours               (component "idle:est")
    E_infra = always-on infrastructure power (W) x hours         (component "infrastructure:est")
    CO2e  = E x PUE x grid intensity;  M (embodied) per SCI from hardware_embodied.csv,
            amortised over the hardware's lifetime x the share of it in use (``lifetime_usage``)

The idle and infrastructure terms and ``lifetime_usage`` express a run the way the BLOOM paper does
(Luccioni, Viguier, Ligozat 2022, arXiv:2211.02001): dynamic GPU power x GPU-hours, plus the idle draw of the
servers and the always-on infrastructure (network, storage) measured on the partition, over the run's wall
clock, plus embodied emissions over a 6-year lifetime used 85 % of the time. With those inputs the calculator
gives BLOOM's 24.7 t (dynamic) and 50.5 t (total) (``tests/test_calculator.py``; README "Estimate").

Board power comes from ``scer_hf/data/hardware_power.csv`` (every row sourced) or
``watts=``. The report says ``method: "estimate (calculator)"`` (``extra.method`` and
``provenance.calculator``) and ``provenance.estimated`` is true: it is never a
measurement. ``derive_training_energy`` applies the same arithmetic to a reference
row that publishes GPU-hours but no energy.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypedDict

from ..errors import EstimateInputError, HardwareNotFoundError
from . import bounds as _bounds
from .calculator_embodied import embodied_for
from .calculator_power import PowerRow, find_gpu, power_table
from .calculator_records import (
    AssumptionsRecord,
    CalculatorMeterRecord,
    CalculatorRecord,
    CalculatorUncertaintyRecord,
    InputsRecord,
)
from .carbon import J_PER_KWH, resolve_grid
from .grid import GridSpec
from .meters.estimate import (
    RAM_SOURCE,
    RAM_W_PER_GB,
    RELATIVE_UNCERTAINTY,
    UNCERTAINTY_BASIS,
    lookup_cpu_tdp,
)
from .report import Report
from .tracker import Measurement

__all__ = [
    "estimate", "derive_training_energy", "DerivedEnergyRecord", "PowerRow", "power_table", "find_gpu",
    "METHOD", "DEFAULT_UTILISATION", "UTILISATION_SOURCE",
]

METHOD = "estimate (calculator)"
# ML CO2 Impact multiplies TDP by hours with no utilisation term, Meta's model cards use
# peak power per GPU, and Green Algorithms' usage factor defaults to 1: rated power the
# whole time, an upper bound on GPU energy. Pass utilisation=... when you know better.
DEFAULT_UTILISATION = 1.0
UTILISATION_SOURCE = (
    "1.0 = rated board power for the whole reservation, as ML CO2 Impact (Lacoste et al. 2019: "
    "TDP x hours) and Meta's Llama model cards (peak power per GPU) compute it; an upper bound"
)


# --- input checks ---------------------------------------------------------------------------
# the plausibility bound of each input (scer_hf.core.bounds): past it, an estimate is refused, not computed
_BOUNDS = {"hours": _bounds.HOURS, "gpu_hours": _bounds.DEVICE_HOURS, "watts": _bounds.WATTS,
           "cpu_watts": _bounds.WATTS, "memory_gb": _bounds.MEMORY_GB, "servers": _bounds.SERVERS,
           "lifetime_years": _bounds.LIFETIME_YEARS, "tokens": _bounds.UNIT_COUNT, "samples": _bounds.UNIT_COUNT,
           "queries": _bounds.UNIT_COUNT}


def _finite_number(v: Any) -> bool:
    """Whether *v* is a finite int or float (a bool is not a number here)."""
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)


def _in_range(v: float, low: float, low_ok: bool, high: float | None) -> bool:
    """Whether *v* is above *low* (or at it, when *low_ok*) and not above *high*."""
    return (v >= low if low_ok else v > low) and (high is None or v <= high)


def _range_text(low: float, low_ok: bool, high: float | None) -> str:
    """The range, said: '> 0', '>= 1 and <= 5'."""
    return f"{'>=' if low_ok else '>'} {low:g}" + (f" and <= {high:g}" if high is not None else "")


def _num(name: str, v: Any, *, low: float = 0.0, low_ok: bool = False, high: float | None = None,
         hint: str = "") -> float:
    """*v* as a float when it is a finite number in range and within its plausibility bound; else an input error."""
    if not (_finite_number(v) and _in_range(v, low, low_ok, high)):
        raise EstimateInputError(f"{name}={v!r} must be a finite number {_range_text(low, low_ok, high)}{hint}")
    if name in _BOUNDS:
        _bounds.check(_BOUNDS[name], v, name=name, error=EstimateInputError, hint=hint)
    return float(v)


#: an argument of :func:`estimate` as given (named in error messages)
ArgValue = float | str | Sequence[str] | None


def _finite_or_fail(checks: Sequence[tuple[float, Mapping[str, ArgValue]]]) -> None:
    """Any intermediate that overflowed (inf/NaN) is an input error naming the options behind it (each check:
    the intermediate and the arguments it comes from, as given)."""
    for value, given in checks:
        if not math.isfinite(value) or not math.isfinite(value * 2):  # x2: room for the +-40% range
            opts = ", ".join(given)
            shown = ", ".join(f"{o}={v!r}" for o, v in given.items() if v is not None)
            raise EstimateInputError(f"the estimate overflows (not a finite number) with {shown or opts}; "
                                     f"give realistic values for {opts}")


def _count(v: Any) -> int:
    if not _finite_number(v) or v < 1 or int(v) != v:
        raise EstimateInputError(f"count={v!r} must be a whole number of devices >= 1")
    return int(_bounds.check(_bounds.DEVICES, v, name="count", error=EstimateInputError))


# --- the calculator's steps -----------------------------------------------------------------
def _hours(hours: float | None, gpu_hours: float | None, n: int) -> float:
    if (hours is None) == (gpu_hours is None):
        raise EstimateInputError("give exactly one of hours=<wall-clock hours> or gpu_hours=<device-hours>")
    return _num("hours", hours) if hours is not None else _num("gpu_hours", gpu_hours) / n


def _board_power(hardware: str | None, watts: float | None) -> tuple[float, str, PowerRow | None]:
    """(board power per device W, its source, the table row): ``watts=`` first (the name then only labels)."""
    if watts is not None:
        board_w = _num("watts", watts, high=5000.0, hint=" (board power per device)")
        try:
            row = find_gpu(hardware) if hardware is not None else None
        except HardwareNotFoundError:
            row = None  # explicit watts: the name is only a label
        return board_w, f"user-supplied board power, {board_w:g} W", row
    if hardware is None:
        raise EstimateInputError("give hardware='<GPU name>' (see scer_hf.core.calculator.power_table()) or watts=<W>")
    row = find_gpu(hardware)
    return row.tdp_w, f"{row.hardware} {row.power_basis} {row.tdp_w:g} W: {row.source}", row


def _cpu_power(cpu: str | None, cpu_watts: float | None, assumptions: AssumptionsRecord) -> float | None:
    """The host CPU's power: ``cpu_watts=``, else the TDP of ``cpu=`` in codecarbon's table, else none."""
    if cpu_watts is not None:
        cw = _num("cpu_watts", cpu_watts, high=5000.0)
        assumptions.update({"cpu_power_w": cw, "cpu_power_source": f"user-supplied CPU power, {cw:g} W"})
        return cw
    if cpu is None:
        return None
    tdp, matched = lookup_cpu_tdp(cpu)
    if tdp is None:
        raise HardwareNotFoundError(f"no TDP for CPU {cpu!r} in codecarbon's cpu_power.csv ({matched}); "
                                    "pass cpu_watts=<W> instead")
    assumptions.update({"cpu": matched, "cpu_power_w": tdp,
                        "cpu_power_source": "codecarbon data/hardware/cpu_power.csv TDP"})
    return tdp


_ALWAYS_ON: tuple[tuple[str, Literal["idle_w", "infrastructure_w"]], ...] = (
    ("idle:est", "idle_w"), ("infrastructure:est", "infrastructure_w"))


def _wall_clock_energy(energy: dict[str, float], assumptions: AssumptionsRecord, seconds: float,
                       memory_gb: float | None, idle_w: float | None, infrastructure_w: float | None) -> None:
    """Memory (Green Algorithms' W/GB), the servers' idle draw and always-on infrastructure, over the wall clock."""
    if memory_gb is not None:
        gb = _num("memory_gb", memory_gb, low_ok=True)
        energy["ram"] = gb * RAM_W_PER_GB * seconds
        assumptions.update({"memory_gb": gb, "ram_w_per_gb": RAM_W_PER_GB, "ram_power_source": RAM_SOURCE})
    for (key, name), w in zip(_ALWAYS_ON, (idle_w, infrastructure_w), strict=True):
        if w is not None:
            watts_ = _num(name, w, low_ok=True, high=1e9, hint=" (watts drawn for the whole wall-clock time)")
            energy[key] = watts_ * seconds
            assumptions[name] = watts_


def _uncertainty(total_j: float, co2e_g: float, idle_w: float | None,
                 infrastructure_w: float | None) -> CalculatorUncertaintyRecord:
    rel = RELATIVE_UNCERTAINTY
    return {
        "relative": rel, "basis": UNCERTAINTY_BASIS,
        "energy_kwh_range": [total_j / J_PER_KWH * (1 - rel), total_j / J_PER_KWH * (1 + rel)],
        "co2e_g_range": [co2e_g * (1 - rel), co2e_g * (1 + rel)],
        "not_included": "grid-intensity uncertainty (annual average)"
                        + ("" if idle_w is not None else "; idle power of the servers")
                        + ("" if infrastructure_w is not None else "; network, storage, cooling beyond PUE"),
    }


def _model_dict(model: str | Mapping[str, Any] | None) -> dict[str, Any]:
    if model is not None and not isinstance(model, (str, Mapping)):
        raise EstimateInputError(f"model={model!r} must be a model id like 'org/name' or a dict like "
                                 "{'id': 'org/name', 'parameters': 7e9}")
    return {"id": model} if isinstance(model, str) else dict(model or {})


_FORMULA = ("E = sum(power_W x utilisation x count x hours) + RAM W/GB x GB x hours + idle W x hours "
            "+ infrastructure W x hours; CO2e = E_kWh x PUE x g/kWh; M = TE x TiR/(EL x usage) x RS (SCI)")


# --- the calculator -------------------------------------------------------------------------
def estimate(
    hardware: str | None = None,
    count: int = 1,
    hours: float | None = None,
    *,
    gpu_hours: float | None = None,
    country_iso_code: str | None = None,
    region: str | None = None,
    carbon_intensity_g_per_kwh: float | None = None,
    pue: float = 1.0,
    utilisation: float = DEFAULT_UTILISATION,
    watts: float | None = None,
    cpu: str | None = None,
    cpu_watts: float | None = None,
    memory_gb: float | None = None,
    embodied_hardware: str | Sequence[str] | None = None,
    servers: float = 1.0,
    lifetime_years: float | None = None,
    model: str | Mapping[str, Any] | None = None,
    boundary: str = "training",
    tokens: float | None = None,
    samples: float | None = None,
    queries: float | None = None,
    cloud_provider: str | None = None,
    cloud_region: str | None = None,
    idle_w: float | None = None,
    infrastructure_w: float | None = None,
    lifetime_usage: float = 1.0,
    grid: GridSpec | None = None,
) -> Report:
    """Estimate a run that was not measured: *count* x *hardware* for *hours* (wall clock).

    ``gpu_hours`` may replace ``hours`` (``hours = gpu_hours / count``), as model cards
    publish. ``watts`` (board power per device) overrides the table; ``utilisation``
    (0-1] scales GPU and CPU power (default 1.0, see :data:`UTILISATION_SOURCE`).
    ``cpu`` (a model name, TDP from codecarbon's table) or ``cpu_watts`` adds the host
    CPU(s); ``memory_gb`` adds memory at Green Algorithms' 0.3725 W/GB. Embodied uses
    ``embodied_hardware`` (row name(s) of ``hardware_embodied.csv``; GPU rows x count,
    server/baseboard rows x ``servers``) or the GPU's default row; never a guess.
    ``cloud_provider`` + ``cloud_region`` use that cloud region's grid figure; ``grid`` takes the grid arguments
    as one :class:`scer_hf.GridSpec` (no ``live_intensity``: nothing runs).
    ``tokens``/``samples``/``queries`` give SCI its R. ``idle_w`` (the servers' idle draw, W, all of them) and
    ``infrastructure_w`` (always-on network, storage and other shared equipment, W) add energy for the whole
    wall-clock time, as the BLOOM paper counts them (then leave ``pue`` at 1.0 unless the building's overhead
    is not in them). ``lifetime_usage`` (0-1] is the share of the hardware's lifetime it is in use: embodied
    emissions are spread over ``lifetime x lifetime_usage`` (the BLOOM paper: 6 years at 85 %). Raises
    :class:`EstimateInputError` for bad numbers, :class:`HardwareNotFoundError` for
    unknown hardware.
    """
    if boundary not in ("training", "inference"):
        raise EstimateInputError(f"boundary={boundary!r} must be 'training' or 'inference'")
    n = _count(count)
    h = _hours(hours, gpu_hours, n)
    util = _num("utilisation", utilisation, high=1.0, hint=" (a fraction of rated power, e.g. 0.7)")
    board_w, power_src, row = _board_power(hardware, watts)
    seconds = h * 3600.0
    energy = {"gpu:est": board_w * util * n * seconds}
    assumptions: AssumptionsRecord = {
        "hardware": _hardware_name(row, hardware), "count": n, "hours": h, "device_hours": h * n,
        "board_power_w": board_w, "board_power_source": power_src, "utilisation": util,
        "utilisation_source": _utilisation_source(utilisation),
    }
    cw = _cpu_power(cpu, cpu_watts, assumptions)
    if cw is not None:
        energy["cpu:est"] = cw * util * seconds
    _wall_clock_energy(energy, assumptions, seconds, memory_gb, idle_w, infrastructure_w)
    usage = _lifetime_usage(lifetime_usage, assumptions)
    spec = _grid(grid, country_iso_code=country_iso_code, region=region, cloud_provider=cloud_provider,
                 cloud_region=cloud_region, carbon_intensity_g_per_kwh=carbon_intensity_g_per_kwh, pue=pue)
    ci = resolve_grid(spec)
    emb = embodied_for(embodied_hardware, row.embodied_row if row else None, _hardware_name(row, hardware),
                       seconds, n, _num("servers", servers), _lifetime(lifetime_years), usage)
    counts = _counts(tokens=tokens, samples=samples, queries=queries)
    inputs: InputsRecord = {
        "hardware": hardware, "count": n, "hours": hours, "gpu_hours": gpu_hours,
        "country_iso_code": spec.country_iso_code, "region": spec.region,
        "cloud_provider": spec.cloud_provider, "cloud_region": spec.cloud_region,
        "carbon_intensity_g_per_kwh": spec.carbon_intensity_g_per_kwh, "pue": spec.pue if grid else pue,
        "utilisation": utilisation, "watts": watts, "cpu": cpu, "cpu_watts": cpu_watts, "memory_gb": memory_gb,
        "embodied_hardware": embodied_hardware, "servers": servers, "lifetime_years": lifetime_years,
        "idle_w": idle_w, "infrastructure_w": infrastructure_w, "lifetime_usage": lifetime_usage,
    }
    total_j = sum(energy.values())
    co2e_g = ci.co2e_g(total_j)
    _finite_or_fail([
        (seconds, {"hours": hours} if hours is not None else {"gpu_hours": gpu_hours}),
        (total_j, {"count": n, "hours": hours, "watts": watts}),
        (co2e_g, {"carbon_intensity_g_per_kwh": spec.carbon_intensity_g_per_kwh, "pue": spec.pue if grid else pue}),
        (emb.embodied_g or 0.0, {"lifetime_years": lifetime_years, "servers": servers}),
        (sum(counts.values()), {k: counts.get(k) for k in ("tokens", "samples", "queries")}),
    ])
    calc: CalculatorRecord = {"method": METHOD, "inputs": inputs, "assumptions": assumptions, "formula": _FORMULA,
                              "uncertainty": _uncertainty(total_j, co2e_g, idle_w, infrastructure_w)}
    meter: CalculatorMeterRecord = {
        "meter": "calculator", "method": "estimate", "source": power_src, "components": sorted(energy),
        "relative_uncertainty": RELATIVE_UNCERTAINTY, "uncertainty_basis": UNCERTAINTY_BASIS,
        "assumptions": assumptions}
    m = Measurement(name=boundary, start_s=0.0, end_s=seconds, energy_j=energy, measured=True,
                    method="estimate", counts=counts)
    return Report.build([m], boundary=boundary, carbon=ci, model=_model_dict(model), embodied=emb,
                        provenance={"meters": [meter], "calculator": calc}, extra={"method": METHOD})


def _hardware_name(row: PowerRow | None, hardware: str | None) -> str | None:
    """The GPU's name as the power table spells it, else as given."""
    return row.hardware if row else hardware


def _utilisation_source(utilisation: float) -> str:
    return UTILISATION_SOURCE if utilisation == DEFAULT_UTILISATION else "user-supplied"


def _lifetime_usage(lifetime_usage: float, assumptions: AssumptionsRecord) -> float:
    """The checked share of the hardware's lifetime in use; noted in *assumptions* unless it is 1."""
    usage = _num("lifetime_usage", lifetime_usage, high=1.0, hint=" (share of the hardware's lifetime in use, e.g. "
                 "0.85)")
    if usage != 1.0:
        assumptions["lifetime_usage"] = usage
    return usage


def _lifetime(lifetime_years: float | None) -> float | None:
    """The checked lifetime given, or None (each embodied row's own lifetime)."""
    return None if lifetime_years is None else _num("lifetime_years", lifetime_years)


def _counts(**given: float | None) -> dict[str, float]:
    """The functional-unit counts given (SCI's R), checked; those not given are left out."""
    return {k: _num(k, v, low_ok=True) for k, v in given.items() if v is not None}


def _grid(grid: GridSpec | None, **keywords: Any) -> GridSpec:
    spec = GridSpec.of(grid, **keywords)
    if spec.live_intensity is not None:
        raise EstimateInputError("estimate() runs nothing, so there is no live grid intensity to read over a run: "
                                 "drop live_intensity from the GridSpec (or pass carbon_intensity_g_per_kwh=...)")
    return spec


# --- reference dataset normalisation ----------------------------------------------------------
_WATTS = re.compile(r"(\d+(?:\.\d+)?)\s*W\b")


def _gpu_hours(published: str | None) -> float | None:
    """The GPU-hours a row publishes, as a number (None when absent or not a number)."""
    try:
        return float(published or "")
    except ValueError:
        return None


def _row_power(hw: str) -> tuple[float, str] | None:
    """(W, source) of a row's hardware: the wattage its source states, else the table's; None if neither."""
    stated = _WATTS.findall(hw)
    if stated:
        return max(float(x) for x in stated), f"power stated by the source ({hw!r})"
    try:
        pr = find_gpu(hw)
    except HardwareNotFoundError:
        return None
    return pr.tdp_w, f"{pr.hardware} {pr.power_basis} from scer_hf/data/hardware_power.csv"


def _implied_g_per_kwh(tco2e: str | None, kwh: float) -> float | None:
    """The grid intensity a published tCO2e implies on the derived energy (None when not a number)."""
    try:
        return float(tco2e) * 1e6 / kwh if tco2e else None
    except (ValueError, ZeroDivisionError):
        return None


class DerivedEnergyRecord(TypedDict):
    """:func:`derive_training_energy`: the derived energy, how, and the published figures beside it."""

    model_id: str | None
    energy_mwh_derived: float
    gpu_hours: float
    power_w: float
    power_source: str
    pue: float
    method: str
    published_energy_mwh: str | None
    published_tco2e_operational: str | None
    implied_g_per_kwh: float | None
    derivation: str


def derive_training_energy(row: Mapping[str, Any], *, pue: float = 1.0,
                           include_published: bool = False) -> DerivedEnergyRecord | None:
    """GPU energy for a ``training.csv`` row that publishes GPU-hours and hardware but no energy.

    Power is the wattage the row's source states (Meta: "A100-80GB (TDP 350-400W)" ->
    400 W, the figure the card's Power column uses), else the table's. Returns ``None``
    when the row lacks GPU-hours or power, or already has ``energy_mwh`` (unless
    ``include_published``). The published figures are kept beside the derived one.
    """
    hw = _published(row, "hardware") or ""
    published_mwh = _published(row, "energy_mwh")
    gh = _gpu_hours(_published(row, "gpu_hours")) if hw and (include_published or not published_mwh) else None
    if gh is None:
        return None
    pue = _num("pue", pue, low=1.0, low_ok=True, high=5.0)
    power = _row_power(hw)
    if power is None:
        return None
    w, w_src = power
    kwh = gh * w / 1000.0 * pue
    tco2e = _published(row, "tco2e_operational")
    implied = _implied_g_per_kwh(tco2e, kwh)
    return {
        "model_id": row.get("model_id"), "energy_mwh_derived": kwh / 1000.0, "gpu_hours": gh, "power_w": w,
        "power_source": w_src, "pue": pue, "method": "derived: GPU-hours x board power (scer_hf.core.calculator)",
        "published_energy_mwh": published_mwh, "published_tco2e_operational": tco2e,
        "implied_g_per_kwh": implied,
        "derivation": _derivation(gh, w, w_src, pue, kwh) + _implied_text(tco2e, implied) + ".",
    }


def _published(row: Mapping[str, Any], key: str) -> str | None:
    """A row's published text for *key*, stripped; None when empty."""
    return str(row.get(key) or "").strip() or None


def _derivation(gh: float, w: float, w_src: str, pue: float, kwh: float) -> str:
    """How the energy was derived, and why it is an upper bound on GPU energy."""
    return (f"derived: {gh:,.0f} GPU-h x {w:g} W ({w_src}) x PUE {pue:g} = {kwh:,.0f} kWh = "
            f"{kwh / 1000:,.2f} MWh; rated power the whole time (utilisation 1.0), GPUs only: an upper bound "
            "on GPU energy, excluding CPU, memory and network")


def _implied_text(tco2e: str | None, implied: float | None) -> str:
    """The grid intensity the published tCO2e implies on the derived energy, said; '' when none."""
    if implied is None:
        return ""
    return f"; the published {tco2e} tCO2e implies {implied:.0f} gCO2e/kWh on this energy"
