"""Energy meters: NVML, RAPL, estimate, replay, and ``auto`` to pick among them."""

from .auto import MeterSet, auto
from .base import Meter, Method, Reading
from .estimate import EstimateMeter
from .nvml import NvmlMeter
from .rapl import RaplMeter
from .replay import PowerTrace, ReplayMeter

__all__ = [
    "Meter",
    "Method",
    "Reading",
    "MeterSet",
    "auto",
    "NvmlMeter",
    "RaplMeter",
    "EstimateMeter",
    "ReplayMeter",
    "PowerTrace",
]
