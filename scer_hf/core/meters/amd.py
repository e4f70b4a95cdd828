"""AMD GPU energy through AMD SMI (the ``amdsmi`` Python package of ROCm).

``amdsmi_get_energy_count(handle)`` returns the GPU's energy accumulator and its resolution: energy in
microjoules = ``energy_accumulator`` (``power`` before amdsmi 6.2.1) x ``counter_resolution``, since the driver
loaded, as Zeus reads it. A GPU whose counter cannot be read is metered from ``amdsmi_get_power_info``
(``current_socket_power``, else ``average_socket_power``, watts) integrated in one light thread, as NVML's meter
does for GPUs without a counter. Power limits come from ``amdsmi_get_power_cap_info`` (``max_power_cap``, µW) and
bound every counter step (:mod:`scer_hf.core.meters.guard`).

GPUs are numbered as HIP numbers them (``amdsmi_get_gpu_enumeration_info(handle)["hip_id"]`` where amdsmi has it,
else amdsmi's order), and ``HIP_VISIBLE_DEVICES`` (else ``ROCR_VISIBLE_DEVICES``, else ``CUDA_VISIBLE_DEVICES``)
says which this process uses. ``amdsmi`` is imported lazily; tests pass a fake module with the same functions.
No library, no driver or no GPU raises :class:`~scer_hf.errors.MeterUnavailableError` with the reason.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from collections.abc import Sequence
from typing import Any

from ...errors import MeterError, MeterUnavailableError
from .base import CEILING_W, _Wrap
from .nvml import GpuCounterMeter, PowerIntegrator, visible_gpu_indices

__all__ = ["AmdSmiMeter", "import_amdsmi"]

_VISIBLE = ("HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES")


def import_amdsmi() -> Any:
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # amdsmi prints when libamd_smi.so is missing
            import amdsmi
    except (ImportError, OSError, AttributeError, KeyError) as exc:
        raise MeterUnavailableError("amdsmi", f"amdsmi is not usable ({type(exc).__name__}: {exc}); it ships "
                                              "with ROCm (pip install amdsmi matching your ROCm version)") from exc
    return amdsmi


def _visible(count: int) -> list[int]:
    for var in _VISIBLE:
        if os.environ.get(var) is not None:
            return visible_gpu_indices(count, os.environ[var])
    return list(range(count))


def _energy_uj(info: Any) -> float:
    acc = info.get("energy_accumulator", info.get("power"))  # "power" before amdsmi 6.2.1
    return float(acc) * float(info["counter_resolution"])


class AmdSmiMeter(GpuCounterMeter):
    """Energy of each visible AMD GPU (components ``gpu:<HIP index>``)."""

    name = "amdsmi"
    relative_uncertainty = 0.0
    uncertainty_basis = ("AMD publishes no accuracy figure for the AMD SMI energy counter or power readings; "
                         "no meter uncertainty is included for them")

    def __init__(self, gpu_indices: Sequence[int] | None = None, *, amdsmi: Any = None,
                 sample_interval_s: float = 0.1) -> None:
        super().__init__()
        self._lib = amdsmi if amdsmi is not None else import_amdsmi()
        by_hip = self._handles()
        indices = list(gpu_indices) if gpu_indices is not None else _visible(len(by_hip))
        if not indices:
            raise MeterUnavailableError("amdsmi", "no AMD GPU for this process (HIP_VISIBLE_DEVICES hides them all)")
        for idx in indices:
            if idx not in by_hip:
                raise MeterUnavailableError("amdsmi", f"AMD GPU {idx} not found (HIP indices {sorted(by_hip)})")
            self._add(f"gpu:{idx}", by_hip[idx])
        self._integrator = (PowerIntegrator(None, self._sampled, sample_interval_s, self._max_power, self._power_w)
                            if self._sampled else None)
        parts = ["AMD SMI energy counter (amdsmi_get_energy_count)"] if self._counter else []
        if self._sampled:
            parts.append(f"AMD SMI power samples every {sample_interval_s}s integrated for "
                         f"{', '.join(self._sampled)} (no energy counter)")
        self.source = "; ".join(parts)

    def _handles(self) -> dict[int, Any]:
        lib = self._lib
        try:
            flags = getattr(getattr(lib, "AmdSmiInitFlags", None), "INIT_AMD_GPUS", None)
            lib.amdsmi_init(flags) if flags is not None else lib.amdsmi_init()
            handles = list(lib.amdsmi_get_processor_handles())
        except Exception as exc:
            raise MeterUnavailableError("amdsmi", f"AMD SMI could not start: {exc}") from exc
        if not handles:
            raise MeterUnavailableError("amdsmi", "AMD SMI found no GPU")
        enum = getattr(lib, "amdsmi_get_gpu_enumeration_info", None)
        try:
            return {int(enum(h)["hip_id"]): h for h in handles} if enum else dict(enumerate(handles))
        except Exception:  # noqa: BLE001 - older amdsmi: its own order
            return dict(enumerate(handles))

    def _add(self, comp: str, handle: Any) -> None:
        self.device_names[comp] = self._name(handle)
        self._max_power[comp] = self._limit_w(handle) or CEILING_W
        try:
            base = _energy_uj(self._lib.amdsmi_get_energy_count(handle)) / 1e6
            self._wraps[comp] = _Wrap(max_range=None, last_raw=base if math.isfinite(base) and base >= 0 else 0.0,
                                      max_power_w=self._max_power[comp])
            self._counter[comp] = handle
        except Exception:  # noqa: BLE001 - not supported on this GPU: power samples instead
            self._sampled[comp] = handle

    def _name(self, handle: Any) -> str:
        for fn, key in (("amdsmi_get_gpu_asic_info", "market_name"), ("amdsmi_get_gpu_board_info", "product_name")):
            with contextlib.suppress(Exception):
                name = getattr(self._lib, fn)(handle).get(key)
                if isinstance(name, str) and name.strip() and name != "N/A":
                    return name.strip()
        return "unknown AMD GPU"

    def _limit_w(self, handle: Any) -> float | None:
        with contextlib.suppress(Exception):
            uw = float(self._lib.amdsmi_get_power_cap_info(handle)["max_power_cap"])
            if math.isfinite(uw) and uw > 0:
                return uw / 1e6
        return None

    def _power_w(self, handle: Any) -> float:
        info = self._lib.amdsmi_get_power_info(handle)
        for key in ("current_socket_power", "average_socket_power", "socket_power"):
            v = info.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return float(v)
        raise MeterError("amdsmi_get_power_info gave no power reading")

    def _raw_j(self, handle: Any) -> float:
        return _energy_uj(self._lib.amdsmi_get_energy_count(handle)) / 1e6

    def close(self) -> None:
        if self._integrator is not None:
            self._integrator.close()
        with contextlib.suppress(Exception):
            self._lib.amdsmi_shut_down()
