"""The hardware a report measured, in words: ``"8 x NVIDIA H100 80GB HBM3"``.

Read from the meters in a report's provenance: each accelerator meter records the name of every device it measured
(``devices``: component -> name, e.g. NVML's ``nvmlDeviceGetName``), and a distributed report lists every rank's
meters, so counting the device entries counts the accelerators of the whole run. Estimated CPUs are named from the
estimate's ``cpu_model`` assumption. This is what the card's ``hardware_used`` and the label show.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["measured_hardware", "counted"]


def counted(names: Sequence[str]) -> str:
    """``["A", "A", "B"]`` -> ``"2 x A + B"`` (first-seen order)."""
    n = Counter(names)
    return " + ".join(f"{n[x]} x {x}" if n[x] > 1 else x for x in dict.fromkeys(names))


def measured_hardware(meters: Sequence[Mapping[str, Any]]) -> str | None:
    """The devices the meters measured, counted (``"8 x NVIDIA H100 80GB HBM3"``); None when no meter names any."""
    names = [name for m in meters for name in _devices(m)]
    cpus = [cpu for cpu in map(_cpu_model, meters) if cpu]
    parts = [counted(names)] if names else []
    parts += list(dict.fromkeys(cpus))  # an estimate per process names the same CPU: once
    return " + ".join(parts) if parts else None


def _devices(m: Mapping[str, Any]) -> list[str]:
    """The device names a meter records (``devices``; ``device_names`` in reports written before 2026.12)."""
    devices = m.get("devices") or m.get("device_names")
    return [str(v) for v in devices.values()] if isinstance(devices, Mapping) else []


def _cpu_model(m: Mapping[str, Any]) -> str | None:
    """The CPU model an estimating meter assumed, if any."""
    cpu = (m.get("assumptions") or {}).get("cpu_model")
    return str(cpu) if cpu else None
