"""Pick the best available meter for each component class and record the choice."""

from __future__ import annotations

import logging
from typing import Any, Sequence

from ...errors import MeterUnavailableError
from .base import Meter
from .estimate import EstimateMeter
from .nvml import NvmlMeter
from .rapl import RaplMeter

__all__ = ["MeterSet", "auto"]

logger = logging.getLogger("scer_hf")


class MeterSet(list):  # type: ignore[type-arg]
    """A list of meters plus ``choices``: for gpu, cpu and ram, what was picked and why."""

    def __init__(self, meters: Sequence[Meter] = (), choices: dict[str, str] | None = None) -> None:
        super().__init__(meters)
        self.choices: dict[str, str] = dict(choices or {})

    def close(self) -> None:
        for m in self:
            m.close()


def auto(
    *,
    gpu: bool = True,
    host: bool = True,
    gpu_indices: Sequence[int] | None = None,
    powercap_root: str | None = None,
    nvml: Any | None = None,
    estimate_kwargs: dict[str, Any] | None = None,
) -> MeterSet:
    """The best meters available here.

    - GPU: NVML (counter, or power integration where the counter is missing); no GPU
      means no GPU component, not an error.
    - CPU: RAPL counters when readable, else the CPU estimate.
    - RAM: the RAPL DRAM domain when present, else the RAM estimate.

    ``host=False`` skips CPU and RAM (in distributed runs only local rank 0 measures
    the host); ``gpu=False`` skips GPUs.
    """
    meters: list[Meter] = []
    choices: dict[str, str] = {}
    if gpu:
        try:
            m = NvmlMeter(gpu_indices, nvml=nvml)
            meters.append(m)
            choices["gpu"] = f"nvml: {m.source}"
        except MeterUnavailableError as exc:
            choices["gpu"] = f"none ({exc.reason})"
    else:
        choices["gpu"] = "not measured by this process"
    if host:
        rapl: RaplMeter | None = None
        try:
            rapl = RaplMeter(powercap_root)
        except MeterUnavailableError as exc:
            choices["cpu"] = f"estimate (RAPL unavailable: {exc.reason})"
        has_dram = rapl is not None and any(c.startswith("dram") for c in rapl.components)
        if rapl is not None:
            meters.append(rapl)
            choices["cpu"] = f"rapl counter: {rapl.source}"
        if rapl is None or not has_dram:
            est = EstimateMeter(include_cpu=rapl is None, include_ram=True, **(estimate_kwargs or {}))
            meters.append(est)
            if rapl is not None:
                choices["ram"] = "estimate (RAPL has no DRAM domain here)"
            else:
                choices["ram"] = "estimate"
        else:
            choices["ram"] = "rapl dram counter"
    else:
        choices["cpu"] = choices["ram"] = "not measured by this process (measured once per node)"
    logger.debug("scer-hf meters: %s", choices)
    return MeterSet(meters, choices)
