"""What the calculator (:func:`scer_hf.core.calculator.estimate`) writes into a report's ``provenance.calculator``,
each block a :class:`~typing.TypedDict` naming its keys, and the frozen views ``scer-hf estimate`` reads it through.

``assumptions`` holds the figures the estimate rests on (the optional ones only when they were used: a host CPU,
memory, idle and infrastructure draws, a lifetime share in use below 1); ``uncertainty`` the calculator's own
relative uncertainty and what it leaves out; ``inputs`` the arguments as given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from .report import Report

__all__ = ["AssumptionsRecord", "CalculatorUncertaintyRecord", "InputsRecord", "CalculatorRecord",
           "CalculatorMeterRecord", "Assumptions", "CalculatorUncertainty", "CalculatorView"]


class _AssumptionsOptional(TypedDict, total=False):
    cpu: str  # the CPU model matched in codecarbon's table
    cpu_power_w: float
    cpu_power_source: str
    memory_gb: float
    ram_w_per_gb: float
    ram_power_source: str
    idle_w: float
    infrastructure_w: float
    lifetime_usage: float


class AssumptionsRecord(_AssumptionsOptional):
    """``provenance.calculator.assumptions`` (also the calculator meter's ``assumptions``)."""

    hardware: str | None
    count: int
    hours: float
    device_hours: float
    board_power_w: float
    board_power_source: str
    utilisation: float
    utilisation_source: str


class CalculatorUncertaintyRecord(TypedDict):
    """``provenance.calculator.uncertainty``: +/- ``relative`` on energy and CO2e, and what it leaves out."""

    relative: float
    basis: str
    energy_kwh_range: list[float]
    co2e_g_range: list[float]
    not_included: str


class InputsRecord(TypedDict):
    """``provenance.calculator.inputs``: :func:`~scer_hf.core.calculator.estimate`'s arguments as given."""

    hardware: str | None
    count: int
    hours: float | None
    gpu_hours: float | None
    country_iso_code: str | None
    region: str | None
    cloud_provider: str | None
    cloud_region: str | None
    carbon_intensity_g_per_kwh: float | None
    pue: float
    utilisation: float
    watts: float | None
    cpu: str | None
    cpu_watts: float | None
    memory_gb: float | None
    embodied_hardware: str | Sequence[str] | None
    servers: float
    lifetime_years: float | None
    idle_w: float | None
    infrastructure_w: float | None
    lifetime_usage: float


class CalculatorRecord(TypedDict):
    """``provenance.calculator``."""

    method: str
    inputs: InputsRecord
    assumptions: AssumptionsRecord
    formula: str
    uncertainty: CalculatorUncertaintyRecord


class CalculatorMeterRecord(TypedDict):
    """The one ``provenance.meters`` entry of an estimate: the calculator, what it estimated and how."""

    meter: str
    method: str
    source: str
    components: list[str]
    relative_uncertainty: float
    uncertainty_basis: str
    assumptions: AssumptionsRecord


@dataclass(frozen=True)
class Assumptions:
    """:class:`AssumptionsRecord` read back: the optional figures are None when the estimate did not use them."""

    hardware: str | None
    count: int
    hours: float
    device_hours: float
    board_power_w: float
    board_power_source: str
    utilisation: float
    utilisation_source: str
    cpu: str | None = None
    cpu_power_w: float | None = None
    cpu_power_source: str | None = None
    memory_gb: float | None = None
    ram_w_per_gb: float | None = None
    ram_power_source: str | None = None
    idle_w: float | None = None
    infrastructure_w: float | None = None
    lifetime_usage: float | None = None

    @classmethod
    def from_dict(cls, d: AssumptionsRecord) -> Assumptions:
        return cls(**d)


@dataclass(frozen=True)
class CalculatorUncertainty:
    """:class:`CalculatorUncertaintyRecord` read back."""

    relative: float
    basis: str
    energy_kwh_range: Sequence[float]  # (low, high)
    co2e_g_range: Sequence[float]
    not_included: str

    @classmethod
    def from_dict(cls, d: CalculatorUncertaintyRecord) -> CalculatorUncertainty:
        return cls(**d)


@dataclass(frozen=True)
class CalculatorView:
    """The calculator's block of an estimate report: its assumptions and its uncertainty."""

    assumptions: Assumptions
    uncertainty: CalculatorUncertainty

    @classmethod
    def from_dict(cls, d: CalculatorRecord) -> CalculatorView:
        return cls(Assumptions.from_dict(d["assumptions"]), CalculatorUncertainty.from_dict(d["uncertainty"]))

    @classmethod
    def of(cls, report: Report) -> CalculatorView:
        """The block of *report* (one :func:`~scer_hf.core.calculator.estimate` made)."""
        return cls.from_dict(report["provenance"]["calculator"])
