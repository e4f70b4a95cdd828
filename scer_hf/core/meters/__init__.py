"""Energy meters: NVML, AMD SMI, Apple Silicon, RAPL, estimate, replay, and ``auto`` to pick among them."""

from .amd import AmdSmiMeter
from .apple import AppleSiliconMeter
from .auto import MeterSet, auto
from .base import Meter, Method, Reading
from .estimate import EstimateMeter
from .guard import MeterGuard
from .nvml import NvmlMeter
from .rapl import RaplMeter
from .replay import PowerTrace, ReplayMeter

__all__ = [
    "Meter",
    "Method",
    "Reading",
    "MeterSet",
    "MeterGuard",
    "auto",
    "NvmlMeter",
    "AmdSmiMeter",
    "AppleSiliconMeter",
    "RaplMeter",
    "EstimateMeter",
    "ReplayMeter",
    "PowerTrace",
]
