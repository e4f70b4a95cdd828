"""NVIDIA GPU energy through NVML.

Volta and newer GPUs expose a total-energy counter
(``nvmlDeviceGetTotalEnergyConsumption``, millijoules since the driver loaded); a
window is the difference of two reads, with no thread. For GPUs without it the meter
integrates ``nvmlDeviceGetPowerUsage`` (milliwatts) in one light daemon thread
(trapezoid rule, ``sample_interval_s``), only for those GPUs.

``pynvml`` (package ``nvidia-ml-py``) is imported lazily. No driver or no GPU raises
:class:`~scer_hf.errors.MeterUnavailableError` with the reason: :func:`auto` turns
that into "not available", never into an error for the user. Tests pass a fake
``nvml`` module with the same functions.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from ...errors import MeterError, MeterUnavailableError
from .base import CEILING_W, POWER_MARGIN, Meter, Reading, _Wrap, now_s

__all__ = ["NvmlMeter", "GpuCounterMeter", "visible_gpu_indices", "PowerIntegrator"]


def visible_gpu_indices(count: int, env: str | None = None) -> list[int]:
    """NVML indices of the GPUs this process may use (``CUDA_VISIBLE_DEVICES``)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES") if env is None else env
    if env is None or env.strip() == "":
        return list(range(count)) if env is None else []
    out: list[int] = []
    for tok in env.split(","):
        tok = tok.strip()
        try:
            idx = int(tok)
        except ValueError:
            return list(range(count))  # UUIDs / MIG ids: measure every device, say so
        if idx < 0 or idx >= count:
            break  # CUDA: an invalid index hides it and every device after it ("-1" hides all)
        out.append(idx)
    return out


def _import_pynvml() -> ModuleType:
    try:
        import pynvml
    except ImportError as exc:
        raise MeterUnavailableError("nvml", "pynvml is not installed (pip install nvidia-ml-py)") from exc
    return pynvml


class _PowerIntegrator:
    """Integrates power samples of the GPUs that lack an energy counter."""

    def __init__(self, nvml: Any, handles: dict[str, Any], interval_s: float,
                 max_power_w: dict[str, float] | None = None, power_w: Any = None) -> None:
        self._nvml = nvml
        self._read_w = power_w  # another vendor's power reading (W) of a handle; default NVML's
        self._handles = handles
        self._interval = interval_s
        self._lock = threading.Lock()
        self._energy = dict.fromkeys(handles, 0.0)
        self._max_w = {c: (max_power_w or {}).get(c, CEILING_W) * POWER_MARGIN for c in handles}
        self.faults = 0
        self.reason = ""
        self._last_t = now_s()
        self._last_w = {c: self._checked(c, self._power_w(h)) or 0.0 for c, h in handles.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scer-nvml-power", daemon=True)
        self._thread.start()

    def _power_w(self, handle: Any) -> float:
        if self._read_w is not None:
            return float(self._read_w(handle))
        return float(self._nvml.nvmlDeviceGetPowerUsage(handle)) / 1000.0

    def _checked(self, comp: str, w: float) -> float | None:
        """*w*, or None (a fault) when it is not a possible power: NaN, inf, negative, above the board's limit."""
        if math.isfinite(w) and 0.0 <= w <= self._max_w[comp]:
            return w
        self.faults += 1
        self.reason = f"{comp}: impossible power sample {w!r} W"
        return None

    def sample(self) -> dict[str, float]:
        with self._lock:
            t = now_s()
            dt = t - self._last_t
            for comp, handle in self._handles.items():
                w = self._checked(comp, self._power_w(handle))
                if w is None:  # nothing integrated for this interval; the guard marks its windows unmeasured
                    continue
                self._energy[comp] += 0.5 * (w + self._last_w[comp]) * dt
                self._last_w[comp] = w
            self._last_t = t
            return dict(self._energy)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            with contextlib.suppress(Exception):  # NVMLError has no common import; keep sampling
                self.sample()

    def close(self) -> None:
        self._stop.set()


PowerIntegrator = _PowerIntegrator  # shared with the AMD meter (power samples where a GPU has no energy counter)


class GpuCounterMeter(Meter):
    """What NVML's and AMD SMI's meters share: per GPU an energy counter (``_counter``: component -> handle, made
    cumulative by ``_wraps``) or power samples integrated (``_sampled``, ``_integrator``), the power limits that
    bound each step, the device names, and the faults the counters refused. Subclasses give ``_raw_j(handle)``."""

    _integrator: Any = None

    def __init__(self) -> None:
        super().__init__()
        self._counter: dict[str, Any] = {}
        self._sampled: dict[str, Any] = {}
        self._wraps: dict[str, _Wrap] = {}
        self._max_power: dict[str, float] = {}
        self.device_names: dict[str, str] = {}

    def _raw_j(self, handle: Any) -> float:
        raise NotImplementedError

    def describe(self) -> dict[str, object]:
        out = super().describe()
        if self.device_names:  # what was measured: the rating's hardware class and the card's hardware_used
            out["devices"] = dict(self.device_names)
        return out

    @property
    def max_power_w(self) -> dict[str, float]:
        """Per GPU: its highest stated power limit (W), else :data:`~scer_hf.core.meters.base.CEILING_W`."""
        return dict(self._max_power)

    @property
    def faults(self) -> int:  # type: ignore[override]
        """Counter values refused so far (reset, NaN/inf, negative, impossible power)."""
        n = sum(w.faults for w in self._wraps.values())
        return n + (self._integrator.faults if self._integrator is not None else 0)

    @property
    def fault_reason(self) -> str:  # type: ignore[override]
        parts = [f"{c}: {w.reason}" for c, w in self._wraps.items() if w.reason]
        if self._integrator is not None and self._integrator.reason:
            parts.append(self._integrator.reason)
        return "; ".join(parts)

    @property
    def components(self) -> tuple[str, ...]:
        return tuple(sorted({*self._counter, *self._sampled}, key=lambda c: int(c.split(":")[1])))

    def read(self) -> Reading:
        t = now_s()
        out: dict[str, float] = {}
        try:
            for comp, handle in self._counter.items():
                out[comp] = self._wraps[comp].update(self._raw_j(handle), t)
            if self._integrator is not None:
                out.update(self._integrator.sample())
        except Exception as exc:
            raise MeterError(f"{self.name} read failed: {exc}") from exc
        return Reading(t, out)


class NvmlMeter(GpuCounterMeter):
    """Energy of each visible NVIDIA GPU (components ``gpu:<nvml index>``)."""

    name = "nvml"
    relative_uncertainty = 0.05
    uncertainty_basis = "NVIDIA documents NVML power/energy readings as accurate to within ±5%"

    def __init__(
        self,
        gpu_indices: Sequence[int] | None = None,
        *,
        nvml: ModuleType | Any | None = None,
        sample_interval_s: float = 0.1,
    ) -> None:
        super().__init__()
        self._nvml = nvml if nvml is not None else _import_pynvml()
        try:
            self._nvml.nvmlInit()
            count = int(self._nvml.nvmlDeviceGetCount())
        except Exception as exc:
            raise MeterUnavailableError("nvml", f"NVML could not start: {exc}") from exc
        if count == 0:
            raise MeterUnavailableError("nvml", "NVML found no GPU")
        indices = list(gpu_indices) if gpu_indices is not None else visible_gpu_indices(count)
        if not indices:
            raise MeterUnavailableError(
                "nvml", "no GPU for this process (it runs on none, or CUDA_VISIBLE_DEVICES hides every GPU)")
        for idx in indices:
            if idx >= count:
                raise MeterUnavailableError("nvml", f"GPU index {idx} out of range (found {count})")
            handle = self._nvml.nvmlDeviceGetHandleByIndex(idx)
            comp = f"gpu:{idx}"
            try:
                name = self._nvml.nvmlDeviceGetName(handle)
                self.device_names[comp] = name.decode() if isinstance(name, bytes) else str(name)
            except Exception:  # noqa: BLE001
                self.device_names[comp] = "unknown NVIDIA GPU"
            self._max_power[comp] = self._limit_w(handle) or CEILING_W
            try:
                base = float(self._nvml.nvmlDeviceGetTotalEnergyConsumption(handle)) / 1000.0
                self._wraps[comp] = _Wrap(max_range=None, last_raw=base if math.isfinite(base) and base >= 0 else 0.0,
                                          max_power_w=self._max_power[comp])
                self._counter[comp] = handle
            except Exception:  # noqa: BLE001 - NotSupported on pre-Volta / some vGPUs
                self._sampled[comp] = handle
        self._integrator = (
            _PowerIntegrator(self._nvml, self._sampled, sample_interval_s, self._max_power) if self._sampled else None
        )
        self.method = "counter"
        parts = []
        if self._counter:
            parts.append("NVML total energy counter (nvmlDeviceGetTotalEnergyConsumption)")
        if self._sampled:
            parts.append(
                f"NVML power samples every {sample_interval_s}s integrated for "
                f"{', '.join(self._sampled)} (no energy counter)"
            )
        self.source = "; ".join(parts)

    def _limit_w(self, handle: Any) -> float | None:
        """The board's highest power limit (W): NVML's limit constraints, enforced and management limits."""
        best = 0.0
        for fn in ("nvmlDeviceGetPowerManagementLimitConstraints", "nvmlDeviceGetEnforcedPowerLimit",
                   "nvmlDeviceGetPowerManagementLimit"):
            try:
                v = getattr(self._nvml, fn)(handle)
                mw = max(float(x) for x in v) if isinstance(v, (tuple, list)) else float(v)
            except Exception:  # noqa: BLE001 - NotSupported, absent in old pynvml, fakes
                continue
            if math.isfinite(mw) and mw > 0:
                best = max(best, mw / 1000.0)
        return best or None

    def _raw_j(self, handle: Any) -> float:
        return float(self._nvml.nvmlDeviceGetTotalEnergyConsumption(handle)) / 1000.0

    @property
    def share_key(self) -> object:
        return ("nvml", id(self._nvml), tuple(sorted((*self._counter, *self._sampled))))

    def close(self) -> None:
        if self._integrator is not None:
            self._integrator.close()
        with contextlib.suppress(Exception):
            self._nvml.nvmlShutdown()
