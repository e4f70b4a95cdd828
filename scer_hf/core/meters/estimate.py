"""Estimated CPU and RAM energy for machines without readable counters.

ESTIMATE, not measurement. Every report that uses this meter says so.

CPU: the CPU model's TDP from the table codecarbon ships
(``codecarbon/data/hardware/cpu_power.csv``), shared out by this process's own CPU
time (user + system, this process and its reaped children) rather than host-wide load:

    E_cpu = TDP_W x sockets x cpu_seconds / logical_cpus

which is codecarbon's "process" tracking mode written as energy. An unknown model
falls back to codecarbon's rule of 4 W per logical CPU, i.e. ``E_cpu = 4 W x
cpu_seconds``. RAM: Green Algorithms' 0.3725 W per GB of memory, applied to this
process's resident set size, integrated between reads.

Nothing here reads a clock faster than the windows do: no thread.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import time
from functools import lru_cache
from pathlib import Path

from .base import Meter, Reading, now_s

__all__ = ["EstimateMeter", "cpu_model_name", "lookup_cpu_tdp", "RAM_W_PER_GB", "UNKNOWN_CPU_W_PER_THREAD"]

RAM_W_PER_GB = 0.3725
RAM_SOURCE = "Green Algorithms (Lannelongue et al. 2021): 0.3725 W per GB of memory"
UNKNOWN_CPU_W_PER_THREAD = 4.0
RELATIVE_UNCERTAINTY = 0.4
UNCERTAINTY_BASIS = (
    "TDP-based estimates err by up to 40% against wall-power measurement "
    "(Fischer 2025, arXiv:2509.22092); TDP is a thermal, not an electrical, rating"
)


def _codecarbon_data_dir() -> Path | None:
    """codecarbon's data folder, found without importing codecarbon (slow)."""
    spec = importlib.util.find_spec("codecarbon")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def cpu_model_name() -> str:
    """The CPU model string from /proc/cpuinfo (or ``platform.processor()``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown CPU"


def _sockets() -> int:
    try:
        ids = {
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("physical id")
        }
        return max(1, len(ids))
    except OSError:
        return 1


_NOISE = re.compile(r"\(r\)|\(tm\)|\bcpu\b|\bprocessor\b|@.*$|\d+-core|\bwith\b.*$", re.I)


def _clean(name: str) -> str:
    return " ".join(_NOISE.sub(" ", name).lower().split())


@lru_cache(maxsize=1)
def _tdp_table() -> tuple[dict[str, float], str]:
    data = _codecarbon_data_dir()
    path = data / "hardware" / "cpu_power.csv" if data else None
    if path is None or not path.is_file():
        return {}, "codecarbon cpu_power.csv not found"
    table: dict[str, float] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            try:
                table[row["Name"].strip()] = float(row["TDP"])
            except (KeyError, ValueError):
                continue
    return table, f"codecarbon data/hardware/cpu_power.csv ({len(table)} CPUs)"


def lookup_cpu_tdp(model: str) -> tuple[float | None, str]:
    """TDP (W) of a CPU model from codecarbon's table and the name it matched.

    Exact match first, then the cleaned name, then a unique table entry whose tokens
    are all in the model string (codecarbon's ``token_set_ratio == 100`` rule).
    Returns ``(None, reason)`` when nothing matches; never guesses.
    """
    table, _src = _tdp_table()
    if not table:
        return None, "no CPU TDP table available"
    if model in table:
        return table[model], model
    cleaned = _clean(model)
    by_clean: dict[str, list[str]] = {}
    for name in table:
        by_clean.setdefault(_clean(name), []).append(name)
    if cleaned in by_clean and len(by_clean[cleaned]) == 1:
        name = by_clean[cleaned][0]
        return table[name], name
    tokens = set(cleaned.split())
    hits = [n for c, names in by_clean.items() for n in names if c and set(c.split()) <= tokens]
    # keep the most specific hits (most tokens); a unique one is a match
    if hits:
        best = max(len(_clean(h).split()) for h in hits)
        hits = [h for h in hits if len(_clean(h).split()) == best]
        if len(hits) == 1 and best >= 2:
            return table[hits[0]], hits[0]
    return None, f"CPU model {model!r} not in the table"


def _rss_bytes() -> float:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return float(pages * os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, IndexError):
        import resource

        return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024.0


def _cpu_seconds() -> float:
    # process_time(): every thread of this process, ns resolution; os.times(): reaped children
    t = os.times()
    return time.process_time() + t.children_user + t.children_system


class EstimateMeter(Meter):
    """Estimated CPU (``cpu:est``) and RAM (``ram``) energy of *this process*."""

    blocking = False  # in-process arithmetic (process CPU time, a trace): read inline, no thread

    name = "estimate"
    method = "estimate"
    relative_uncertainty = RELATIVE_UNCERTAINTY
    uncertainty_basis = UNCERTAINTY_BASIS

    def __init__(
        self,
        *,
        cpu_tdp_w: float | None = None,
        cpu_model: str | None = None,
        ram_w_per_gb: float = RAM_W_PER_GB,
        include_ram: bool = True,
        include_cpu: bool = True,
        rss_refresh_s: float = 0.5,
    ) -> None:
        super().__init__()
        self.cpu_model = cpu_model or cpu_model_name()
        self.logical_cpus = os.cpu_count() or 1
        self.sockets = _sockets()
        if cpu_tdp_w is not None:
            self.cpu_w_at_full_load = float(cpu_tdp_w)
            tdp_source = "user-supplied TDP"
        else:
            tdp, matched = lookup_cpu_tdp(self.cpu_model)
            if tdp is not None:
                self.cpu_w_at_full_load = tdp * self.sockets
                tdp_source = f"{_tdp_table()[1]}: {matched!r} TDP {tdp:g} W x {self.sockets} socket(s)"
            else:
                self.cpu_w_at_full_load = UNKNOWN_CPU_W_PER_THREAD * self.logical_cpus
                tdp_source = (
                    f"{matched}; codecarbon fallback {UNKNOWN_CPU_W_PER_THREAD:g} W per logical CPU "
                    f"x {self.logical_cpus}"
                )
        self.ram_w_per_gb = ram_w_per_gb
        if not (include_cpu or include_ram):
            raise ValueError("EstimateMeter needs include_cpu or include_ram")
        self.include_ram = include_ram
        self.include_cpu = include_cpu
        parts = (["CPU TDP x process CPU time"] if include_cpu else []) + (["RAM W/GB x RSS"] if include_ram else [])
        self.source = "estimate: " + ", ".join(parts)
        self.assumptions = {
            "cpu_model": self.cpu_model,
            "cpu_power_at_full_load_w": self.cpu_w_at_full_load,
            "cpu_power_source": tdp_source,
            "logical_cpus": self.logical_cpus,
            "cpu_attribution": "this process's CPU time / logical CPUs (no idle share, no other tenants)",
        }
        if include_ram:
            self.assumptions["ram_w_per_gb"] = ram_w_per_gb
            self.assumptions["ram_power_source"] = RAM_SOURCE
            self.assumptions["ram_attribution"] = (
                f"resident set size of this process, sampled at most every {rss_refresh_s:g} s")
        # /proc/self/statm costs 30-300 us right after heavy torch work; RSS moves slowly, so it is
        # re-read at most every rss_refresh_s and held in between (the integral uses the held value)
        self.rss_refresh_s = rss_refresh_s
        self._cpu0 = self._cpu_seconds()
        self._t_last = now_s()
        self._rss_last = self._rss_bytes()
        self._rss_t = self._t_last
        self._ram_j = 0.0

    def _cpu_seconds(self) -> float:
        return _cpu_seconds()

    def _rss_bytes(self) -> float:
        return _rss_bytes()

    @property
    def components(self) -> tuple[str, ...]:
        return (("cpu:est",) if self.include_cpu else ()) + (("ram",) if self.include_ram else ())

    @property
    def share_key(self) -> object:
        """Every estimate of this process reads the same CPU time and memory: one reader per setting."""
        return ("estimate", os.getpid(), self.cpu_w_at_full_load, self.ram_w_per_gb, self.include_cpu,
                self.include_ram, self.rss_refresh_s)

    def read(self) -> Reading:
        t = now_s()
        cpu_s = self._cpu_seconds() - self._cpu0
        out: dict[str, float] = {}
        if self.include_cpu:
            out["cpu:est"] = self.cpu_w_at_full_load * cpu_s / self.logical_cpus
        if self.include_ram:
            if t - self._rss_t >= self.rss_refresh_s:
                rss, self._rss_t = self._rss_bytes(), t
            else:
                rss = self._rss_last
            dt = t - self._t_last
            self._ram_j += self.ram_w_per_gb * 0.5 * (rss + self._rss_last) / 1e9 * dt
            self._rss_last = rss
            self._t_last = t
            out["ram"] = self._ram_j
        return Reading(t, out)
