"""Software Carbon Intensity: SCI = ((E x I) + M) per R (ISO/IEC 21031:2024, "SCI 1.1").

E is energy in kWh (PUE applied), I grid intensity in g CO2e/kWh, M embodied
emissions in g, R the number of functional units. Training (the Provider boundary
of SCI for AI) and inference (the Consumer boundary) are reported separately.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .carbon import J_PER_KWH
from ..errors import ReportError

__all__ = ["FunctionalUnit", "FUNCTIONAL_UNITS", "SCI_VERSION", "sci_value", "default_functional_units"]

SCI_VERSION = "SCI 1.1"


@dataclass(frozen=True)
class FunctionalUnit:
    """R: ``count_key`` summed over the phases, divided by ``scale``."""

    name: str  # as printed: "gCO2eq per <name>"
    count_key: str
    scale: float = 1.0


FUNCTIONAL_UNITS: dict[str, FunctionalUnit] = {
    "1k_tokens": FunctionalUnit("1,000 tokens", "tokens", 1000.0),
    "1k_training_tokens": FunctionalUnit("1,000 training tokens", "tokens", 1000.0),
    "training_token": FunctionalUnit("training token", "tokens", 1.0),
    "sample": FunctionalUnit("sample", "samples", 1.0),
    "query": FunctionalUnit("query", "queries", 1.0),
    "1k_output_tokens": FunctionalUnit("1,000 output tokens", "output_tokens", 1000.0),
    "token": FunctionalUnit("token", "tokens", 1.0),
    "flop": FunctionalUnit("PFLOP", "flops", 1e15),
}


def default_functional_units(boundary: str) -> list[str]:
    """Preferred units, first available wins as the headline SCI."""
    if boundary == "training":
        return ["1k_training_tokens", "sample", "flop"]
    return ["1k_output_tokens", "query", "1k_tokens"]


def sci_value(energy_j: float, intensity_g_per_kwh: float, pue: float, embodied_g: float | None, r: float) -> float:
    """((E x I) + M) / R with E in kWh. ``embodied_g=None`` counts M as 0 (reported as not included)."""
    if not r or r <= 0 or math.isnan(r):
        raise ReportError(f"functional unit count R must be > 0 (got {r!r})")
    e_kwh = energy_j / J_PER_KWH * pue
    return (e_kwh * intensity_g_per_kwh + (embodied_g or 0.0)) / r
