"""Pick the best available meter for each component class and record the choice."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ...errors import MeterUnavailableError
from .amd import AmdSmiMeter
from .apple import AppleSiliconMeter
from .base import Meter
from .estimate import EstimateMeter
from .nvml import NvmlMeter
from .rapl import RaplMeter

__all__ = ["MeterSet", "auto"]

logger = logging.getLogger("scer_hf")


class MeterSet(list):
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
    amdsmi: Any | None = None,
    apple: Any | None = None,
) -> MeterSet:
    """The best meters available here.

    - Apple Silicon (a Mac with ``zeus-apple-silicon``, or *apple* given): the chip's IOReport counters measure
      CPU, GPU, DRAM and Neural Engine (RAM estimated only where the chip reports no DRAM channel).
    - GPU: NVML (counter, or power integration where the counter is missing), else AMD SMI (``amdsmi``, the same
      way); no GPU means no GPU component, not an error.
    - CPU: RAPL counters when readable, else the CPU estimate.
    - RAM: the RAPL DRAM domain when present, else the RAM estimate.

    ``host=False`` skips CPU and RAM (in distributed runs only local rank 0 measures
    the host, and a chip's counters); ``gpu=False`` skips GPUs. *nvml*, *amdsmi*, *apple*: the vendor modules to
    use (tests pass fakes); by default each is imported when present.
    """
    meters: list[Meter] = []
    choices: dict[str, str] = {}
    soc = _apple(apple, choices) if host and gpu else None
    if soc is not None:
        meters.append(soc)
        if "dram:0" not in soc.components:
            meters.append(EstimateMeter(include_cpu=False, include_ram=True, **(estimate_kwargs or {})))
            choices["ram"] = "estimate (the chip reports no DRAM channel)"
        logger.debug("scer-hf meters: %s", choices)
        return MeterSet(meters, choices)
    if gpu:
        m = _gpu(gpu_indices, nvml, amdsmi, choices)
        if m is not None:
            meters.append(m)
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


def _gpu(gpu_indices: Sequence[int] | None, nvml: Any, amdsmi: Any, choices: dict[str, str]) -> Meter | None:
    """NVML, else AMD SMI; None (and why) when neither finds a GPU for this process."""
    why = []
    for label, make in (("nvml", lambda: NvmlMeter(gpu_indices, nvml=nvml)),
                        ("amdsmi", lambda: AmdSmiMeter(gpu_indices, amdsmi=amdsmi))):
        try:
            m = make()
        except MeterUnavailableError as exc:
            why.append(exc.reason)
            continue
        choices["gpu"] = f"{label}: {m.source}"
        return m
    choices["gpu"] = f"none ({why[0]})" if why else "none"
    return None


def _apple(apple: Any, choices: dict[str, str]) -> AppleSiliconMeter | None:
    """The Apple Silicon meter when this is a Mac with its counters (or *apple* is given), else None."""
    try:
        m = AppleSiliconMeter(apple=apple)
    except MeterUnavailableError:
        return None
    text = f"apple-silicon: {m.source}"
    choices.update(gpu=text, cpu=text)
    choices["ram"] = text if "dram:0" in m.components else "estimate"
    return m
