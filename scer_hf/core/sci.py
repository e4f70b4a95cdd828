"""Software Carbon Intensity: SCI = ((E x I) + M) per R (ISO/IEC 21031:2024, "SCI 1.1").

E is energy in kWh (PUE applied), I grid intensity in g CO2e/kWh, M embodied
emissions in g, R the number of functional units. Training (the Provider boundary
of SCI for AI) and inference (the Consumer boundary) are reported separately.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ReportError
from .carbon import J_PER_KWH

__all__ = ["FunctionalUnit", "FUNCTIONAL_UNITS", "SCI_VERSION", "sci_value", "default_functional_units"]

SCI_VERSION = "SCI 1.1"


@dataclass(frozen=True)
class FunctionalUnit:
    """R: ``count_key`` summed over the phases, divided by ``scale``."""

    name: str  # as printed: "gCO2eq per <name>"
    count_key: str
    scale: float = 1.0


#: Every functional unit in its ONE scale (``scer_hf.core.fmt.FU_SCALES``): the report's JSON records SCI at this
#: scale and every output shows it as recorded. The keys are stable names (``"1k_training_tokens"`` was the
#: training-token unit when it was counted per 1,000; it now names the same unit at its fixed scale).
_TRAINING_TOKENS = FunctionalUnit("1 million training tokens", "tokens", 1e6)
_OUTPUT_TOKENS = FunctionalUnit("1 million output tokens", "output_tokens", 1e6)
_TOKENS = FunctionalUnit("1 million tokens", "tokens", 1e6)
_QUERIES = FunctionalUnit("1,000 queries", "queries", 1e3)
_SAMPLES = FunctionalUnit("1,000 samples", "samples", 1e3)
FUNCTIONAL_UNITS: dict[str, FunctionalUnit] = {
    "training_tokens": _TRAINING_TOKENS, "output_tokens": _OUTPUT_TOKENS, "tokens": _TOKENS,
    "queries": _QUERIES, "samples": _SAMPLES, "flop": FunctionalUnit("PFLOP", "flops", 1e15),
    # earlier names of the same units
    "1k_tokens": _TOKENS, "1k_training_tokens": _TRAINING_TOKENS, "training_token": _TRAINING_TOKENS,
    "sample": _SAMPLES, "query": _QUERIES, "1k_output_tokens": _OUTPUT_TOKENS, "token": _TOKENS,
}


def default_functional_units(boundary: str) -> list[str]:
    """Preferred units, first available wins as the headline SCI."""
    if boundary == "training":
        return ["training_tokens", "samples", "flop"]
    return ["output_tokens", "queries", "tokens"]


def sci_value(energy_j: float, intensity_g_per_kwh: float, pue: float, embodied_g: float | None, r: float) -> float:
    """((E x I) + M) / R with E in kWh. ``embodied_g=None`` counts M as 0 (reported as not included)."""
    if not r or r <= 0 or math.isnan(r):
        raise ReportError(f"functional unit count R must be > 0 (got {r!r})")
    e_kwh = energy_j / J_PER_KWH * pue
    return (e_kwh * intensity_g_per_kwh + (embodied_g or 0.0)) / r
