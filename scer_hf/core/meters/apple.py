"""Apple Silicon energy through IOReport, read with the maintained ``zeus-apple-silicon`` package.

macOS exposes cumulative energy counters of the system-on-chip in IOReport's "Energy Model" channel group, readable
without sudo (``powermetrics`` needs root). ``zeus-apple-silicon`` (the ML.ENERGY / Zeus team's package,
``pip install zeus-apple-silicon``) reads them: ``AppleEnergyMonitor().get_cumulative_energy()`` returns millijoules
per subsystem since a fixed point. Components: ``cpu:0`` (``cpu_total_mj``), ``gpu:0`` (``gpu_mj`` plus
``gpu_sram_mj``), ``dram:0`` (``dram_mj``) and ``ane:0`` (``ane_mj``, the Neural Engine), each only where the chip
reports it. The package's authors note the values are Apple's on-chip energy model (derived from utilisation,
frequency and voltage), not a power sensor, with 1 mJ resolution; Apple publishes no accuracy figure for them.

The counters are the whole chip's, so in a distributed run only local rank 0 keeps the meter (``node_wide``).
"""

from __future__ import annotations

import contextlib
import math
import platform
import subprocess
import sys
from typing import Any

from ...errors import MeterError, MeterUnavailableError
from .base import Meter, Reading, _Wrap, now_s

__all__ = ["AppleSiliconMeter", "import_apple"]

# component -> the AppleEnergyMetrics fields summed into it
FIELDS = {"cpu:0": ("cpu_total_mj",), "gpu:0": ("gpu_mj", "gpu_sram_mj"), "dram:0": ("dram_mj",),
          "ane:0": ("ane_mj",)}


def import_apple() -> Any:
    """The ``zeus_apple_silicon`` module on an Apple Silicon Mac; MeterUnavailableError elsewhere."""
    if sys.platform != "darwin" or platform.machine() != "arm64":
        raise MeterUnavailableError("apple-silicon", "not an Apple Silicon Mac")
    try:
        import zeus_apple_silicon
    except ImportError as exc:
        raise MeterUnavailableError("apple-silicon", "zeus-apple-silicon is not installed "
                                                     "(pip install zeus-apple-silicon)") from exc
    return zeus_apple_silicon


def _chip_name() -> str:
    with contextlib.suppress(Exception):
        out = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                             timeout=1.0).stdout.strip()
        if out:
            return out
    return "Apple Silicon"


def _mj(metrics: Any, fields: tuple[str, ...]) -> float | None:
    vals = [v for v in (getattr(metrics, f, None) for f in fields) if v is not None]
    return float(sum(vals)) if vals else None


class AppleSiliconMeter(Meter):
    """CPU, GPU, DRAM and Neural Engine energy of an Apple Silicon chip (see the module docstring)."""

    name = "apple-silicon"
    method = "counter"
    node_wide = True
    relative_uncertainty = 0.0
    uncertainty_basis = ("Apple publishes no accuracy figure for IOReport's energy model (zeus-apple-silicon: "
                         "model-based values, 1 mJ resolution); no meter uncertainty is included for it")

    def __init__(self, *, apple: Any = None, chip: str | None = None) -> None:
        super().__init__()
        lib = apple if apple is not None else import_apple()
        try:
            self._monitor = lib.AppleEnergyMonitor()
            first = self._monitor.get_cumulative_energy()
        except Exception as exc:
            raise MeterUnavailableError("apple-silicon", f"IOReport energy counters could not be read: {exc}") from exc
        start = {c: _mj(first, f) for c, f in FIELDS.items()}
        self._wraps = {c: _Wrap(max_range=None, last_raw=v / 1000.0 if math.isfinite(v) and v >= 0 else 0.0)
                       for c, v in start.items() if v is not None}
        if not self._wraps:
            raise MeterUnavailableError("apple-silicon", "IOReport reported no energy channel on this chip")
        self.chip = chip or _chip_name()
        self.source = ("IOReport 'Energy Model' counters via zeus-apple-silicon "
                       "(AppleEnergyMonitor.get_cumulative_energy)")

    @property
    def components(self) -> tuple[str, ...]:
        return tuple(self._wraps)

    @property
    def faults(self) -> int:  # type: ignore[override]
        return sum(w.faults for w in self._wraps.values())

    @property
    def fault_reason(self) -> str:  # type: ignore[override]
        return "; ".join(f"{c}: {w.reason}" for c, w in self._wraps.items() if w.reason)

    def describe(self) -> dict[str, object]:
        out = super().describe()
        out["devices"] = {"soc": self.chip}  # one chip: the card's hardware_used names it
        return out

    def read(self) -> Reading:
        t = now_s()
        try:
            metrics = self._monitor.get_cumulative_energy()
            out = {}
            for comp, wrap in self._wraps.items():
                mj = _mj(metrics, FIELDS[comp])
                if mj is None:
                    raise MeterError(f"{comp}: IOReport stopped reporting it")
                out[comp] = wrap.update(mj / 1000.0, t)
        except MeterError:
            raise
        except Exception as exc:
            raise MeterError(f"IOReport read failed: {exc}") from exc
        return Reading(t, out)
