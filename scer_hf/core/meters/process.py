"""Estimated CPU and RAM energy of *another* process and its children: an inference server on this machine.

ESTIMATE, not measurement, by the same rules as :class:`~scer_hf.core.meters.estimate.EstimateMeter` (CPU TDP
shared out by CPU time; 0.3725 W per GB of resident memory), applied to the server's process tree instead of this
process: the CPU time of the process and of its live descendants (``utime + stime``, plus the ``cutime +
cstime`` of children they reaped) and their resident memory, from ``/proc`` (Linux). The descendants are found
again at most every ``refresh_s`` seconds, so a read costs a few small file reads.

:func:`listening_pid` finds the process that listens on a local TCP port (``/proc/net/tcp``, ``tcp6`` and the
``fd`` links of the processes this user may read), so a benchmark of ``http://127.0.0.1:8000/v1`` meters the
server answering there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ...errors import MeterError, MeterUnavailableError
from .base import now_s
from .estimate import EstimateMeter

__all__ = ["ProcessTreeMeter", "listening_pid"]

_PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str]:
    raw = (_PROC / str(pid) / "stat").read_text()
    return raw[raw.rindex(")") + 2:].split()  # after "pid (comm) ": the comm may hold spaces and parentheses


def _children(root: int) -> list[int]:
    """*root* and its live descendants."""
    parent: dict[int, int] = {}
    for d in _PROC.iterdir():
        if d.name.isdigit():
            try:
                parent[int(d.name)] = int(_stat_fields(int(d.name))[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, frontier = [root], [root]
    while frontier:
        frontier = [p for p, pp in parent.items() if pp in frontier and p not in tree]
        tree.extend(frontier)
    return tree


class ProcessTreeMeter(EstimateMeter):
    """Estimated CPU (``cpu:est``) and RAM (``ram``) energy of process *pid* and its descendants."""

    name = "estimate-server"

    def __init__(self, pid: int, *, refresh_s: float = 2.0, **kwargs: Any) -> None:
        self.pid = int(pid)
        if not (_PROC / str(self.pid) / "stat").is_file():
            raise MeterUnavailableError("estimate-server", f"no readable process {self.pid} in /proc")
        self.refresh_s = refresh_s
        self._tree: list[int] = [self.pid]
        self._tree_t = -1e9
        self._ticks = float(os.sysconf("SC_CLK_TCK"))
        self._page = float(os.sysconf("SC_PAGE_SIZE"))
        self._last_cpu = 0.0
        super().__init__(**kwargs)
        self.source = self.source.replace("estimate:", f"estimate of process {self.pid} and its children:")
        self.assumptions["cpu_attribution"] = (f"CPU time of process {self.pid} and its descendants / logical CPUs "
                                               "(no idle share)")
        if self.include_ram:
            self.assumptions["ram_attribution"] = f"resident set size of process {self.pid} and its descendants"

    @property
    def share_key(self) -> object:
        return ("process", self.pid, self.cpu_w_at_full_load, self.ram_w_per_gb, self.include_cpu, self.include_ram)

    def _pids(self) -> list[int]:
        t = now_s()
        if t - self._tree_t >= self.refresh_s:
            try:
                self._tree = _children(self.pid)
            except OSError:
                self._tree = [self.pid]
            self._tree_t = t
        return self._tree

    def _cpu_seconds(self) -> float:
        total = 0.0
        for p in self._pids():
            try:
                f = _stat_fields(p)
            except (OSError, ValueError):
                if p == self.pid:
                    raise MeterError(f"the server process {self.pid} is gone") from None
                continue  # a child that exited: its time is in its parent's cutime once reaped
            total += sum(float(x) for x in f[11:15]) / self._ticks  # utime, stime, cutime, cstime
        self._last_cpu = max(self._last_cpu, total)  # a child that exits unreaped takes its time with it
        return self._last_cpu

    def _rss_bytes(self) -> float:
        rss = 0.0
        for p in self._pids():
            try:
                rss += float((_PROC / str(p) / "statm").read_text().split()[1]) * self._page
            except (OSError, ValueError, IndexError):
                continue
        return rss


def listening_pid(port: int) -> int | None:
    """The process listening on local TCP *port* (Linux; None when it cannot be told or is not this user's)."""
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (_PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if len(f) > 9 and f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f[9])
    if not inodes:
        return None
    targets = {f"socket:[{i}]" for i in inodes}
    for d in _PROC.iterdir():
        if not d.name.isdigit():
            continue
        try:
            for fd in (d / "fd").iterdir():
                if os.readlink(fd) in targets:
                    return int(d.name)
        except OSError:
            continue
    return None
