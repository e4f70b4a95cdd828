"""Pick the best available meter for each component class and record the choice."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
    estimate = functools.partial(EstimateMeter, **(estimate_kwargs or {}))
    soc = _apple(apple) if host and gpu else None
    if soc is not None:
        meters.append(soc)
        text = f"apple-silicon: {soc.source}"
        picked = _Picked(text, text, text)
        if "dram:0" not in soc.components:
            meters.append(estimate(include_cpu=False, include_ram=True))
            picked.ram = "estimate (the chip reports no DRAM channel)"
        return _done(meters, picked)
    picked = _Picked(gpu="not measured by this process")
    if gpu:
        m, picked.gpu = _gpu(gpu_indices, nvml, amdsmi)
        if m is not None:
            meters.append(m)
    if host:
        picked.cpu, picked.ram = _host(meters, powercap_root, estimate)
    else:
        picked.cpu = picked.ram = "not measured by this process (measured once per node)"
    return _done(meters, picked)


@dataclass
class _Picked:
    """What :func:`auto` picked for gpu, cpu and ram, and why (``MeterSet.choices``, in this order)."""

    gpu: str | None = None
    cpu: str | None = None
    ram: str | None = None

    def choices(self) -> dict[str, str]:
        return {k: v for k, v in (("gpu", self.gpu), ("cpu", self.cpu), ("ram", self.ram)) if v is not None}


def _done(meters: list[Meter], picked: _Picked) -> MeterSet:
    choices = picked.choices()
    logger.debug("scer-hf meters: %s", choices)
    return MeterSet(meters, choices)


def _host(meters: list[Meter], powercap_root: str | None,
          estimate: Callable[..., EstimateMeter]) -> tuple[str, str]:
    """RAPL counters when readable, else the CPU estimate; the RAPL DRAM domain, else the RAM estimate (appended to
    *meters*). (why cpu, why ram)."""
    rapl: RaplMeter | None = None
    try:
        rapl = RaplMeter(powercap_root)
    except MeterUnavailableError as exc:
        cpu = f"estimate (RAPL unavailable: {exc.reason})"
    else:
        meters.append(rapl)
        cpu = f"rapl counter: {rapl.source}"
    if rapl is not None and any(c.startswith("dram") for c in rapl.components):
        return cpu, "rapl dram counter"
    meters.append(estimate(include_cpu=rapl is None, include_ram=True))
    return cpu, "estimate (RAPL has no DRAM domain here)" if rapl is not None else "estimate"


def _gpu(gpu_indices: Sequence[int] | None, nvml: Any, amdsmi: Any) -> tuple[Meter | None, str]:
    """NVML, else AMD SMI, and why; None (and why) when neither finds a GPU for this process."""
    why = []
    for label, make in (("nvml", lambda: NvmlMeter(gpu_indices, nvml=nvml)),
                        ("amdsmi", lambda: AmdSmiMeter(gpu_indices, amdsmi=amdsmi))):
        try:
            m = make()
        except MeterUnavailableError as exc:
            why.append(exc.reason)
            continue
        return m, f"{label}: {m.source}"
    return None, f"none ({why[0]})" if why else "none"


def _apple(apple: Any) -> AppleSiliconMeter | None:
    """The Apple Silicon meter when this is a Mac with its counters (or *apple* is given), else None."""
    try:
        return AppleSiliconMeter(apple=apple)
    except MeterUnavailableError:
        return None
