"""RAPL energy counters through the Linux powercap sysfs interface.

Reads ``<root>/intel-rapl:N/energy_uj`` (package domains) and their ``dram``
sub-domains; AMD exposes the same files (``energy_uj``) under the same tree. Core,
uncore and psys domains are skipped so nothing is counted twice. Counters wrap at
``max_energy_range_uj``; each read unwraps them. A read must happen at least once per
wrap period (about 60 s at 4 kW, several minutes at usual package power): the
:class:`RaplMeter` keeps a light guard thread that reads every ``guard_interval_s``
seconds to make sure of it. It is not a power-sampling thread; energy comes from
the counters alone.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from ...errors import MeterError, MeterUnavailableError
from .base import CEILING_W, Meter, Reading, _Wrap, now_s

__all__ = ["RaplMeter", "DEFAULT_POWERCAP_ROOTS", "find_rapl_domains"]

DEFAULT_POWERCAP_ROOTS = ("/sys/class/powercap", "/sys/devices/virtual/powercap")


def _read_int(path: Path) -> int:
    return int(path.read_text().strip())


def domain_max_power_w(folder: Path) -> float | None:
    """The highest power a RAPL domain states (W): its ``constraint_*_max_power_uw`` and
    ``constraint_*_power_limit_uw`` files (long- and short-term limits); None when it states none."""
    best = 0.0
    for f in folder.glob("constraint_*_*_uw"):
        if f.name.endswith(("_max_power_uw", "_power_limit_uw")):
            try:
                best = max(best, _read_int(f) / 1e6)
            except (OSError, ValueError):
                continue
    return best or None


def find_rapl_domains(root: str | os.PathLike[str]) -> dict[str, Path]:
    """Map component names (``cpu:N``, ``dram:N``) to their domain folders under *root*.

    Only top-level package domains (``intel-rapl:N`` whose ``name`` starts with
    ``package``) and their ``dram`` children are taken.
    """
    rootp = Path(root)
    found: dict[str, Path] = {}
    if not rootp.is_dir():
        return found
    for pkg in sorted(rootp.iterdir()):
        parts = pkg.name.split(":")
        if len(parts) != 2 or not parts[0].endswith("rapl"):
            continue
        try:
            name = (pkg / "name").read_text().strip()
        except OSError:
            continue
        if not name.startswith("package"):
            continue  # psys and others overlap the package domains
        idx = name.split("-")[-1] if "-" in name else parts[1]
        found[f"cpu:{idx}"] = pkg
        for sub in sorted(pkg.iterdir()):
            if not sub.name.startswith(pkg.name + ":"):
                continue
            try:
                subname = (sub / "name").read_text().strip()
            except OSError:
                continue
            if subname == "dram":
                found[f"dram:{idx}"] = sub
    return found


class RaplMeter(Meter):
    """CPU package and DRAM energy from RAPL counters (method ``counter``)."""

    name = "rapl"
    method = "counter"
    node_wide = True
    relative_uncertainty = 0.1
    uncertainty_basis = (
        "RAPL package/DRAM counters are models validated against wall power within "
        "about 10% (Khan et al. 2018); sysfs resolution is 1 uJ"
    )

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        include_dram: bool = True,
        guard_interval_s: float | None = 30.0,
    ) -> None:
        super().__init__()
        roots = [root] if root is not None else list(DEFAULT_POWERCAP_ROOTS)
        domains: dict[str, Path] = {}
        for r in roots:
            domains = find_rapl_domains(r)
            if domains:
                break
        if not include_dram:
            domains = {k: v for k, v in domains.items() if not k.startswith("dram")}
        if not domains:
            raise MeterUnavailableError(
                "rapl", f"no RAPL package domain under {', '.join(map(str, roots))}"
            )
        self._files: dict[str, Path] = {}
        self._wraps: dict[str, _Wrap] = {}
        self._max_power: dict[str, float] = {}
        for comp, folder in domains.items():
            energy = folder / "energy_uj"
            try:
                raw = _read_int(energy)
                max_range = _read_int(folder / "max_energy_range_uj")
            except PermissionError as exc:
                raise MeterUnavailableError(
                    "rapl",
                    f"permission denied reading {energy} (since Linux 5.10 / CVE-2020-8694 "
                    "energy_uj is root-only; run as root, `chmod o+r` the file, or use the "
                    "estimate meter)",
                ) from exc
            except (OSError, ValueError) as exc:
                raise MeterUnavailableError("rapl", f"cannot read {energy}: {exc}") from exc
            self._files[comp] = energy
            limit = domain_max_power_w(folder)
            self._max_power[comp] = limit or CEILING_W
            self._wraps[comp] = _Wrap(max_range=max_range / 1e6, last_raw=raw / 1e6, max_power_w=limit or CEILING_W)
        self.source = f"Linux powercap RAPL ({next(iter(domains.values())).parent})"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._guard: threading.Thread | None = None
        if guard_interval_s:
            self._guard = threading.Thread(
                target=self._guard_loop, args=(guard_interval_s,), name="scer-rapl-wrap-guard",
                daemon=True,
            )
            self._guard.start()

    @property
    def components(self) -> tuple[str, ...]:
        return tuple(self._files)

    @property
    def wraps(self) -> dict[str, int]:
        """How many times each counter wrapped since the meter was created."""
        return {c: w.wraps for c, w in self._wraps.items()}

    @property
    def max_power_w(self) -> dict[str, float]:
        """Per domain: its largest stated constraint (W), else :data:`~scer_hf.core.meters.base.CEILING_W`."""
        return dict(self._max_power)

    @property
    def faults(self) -> int:  # type: ignore[override]
        """Raw values refused so far: resets (a "wrap" implying impossible power), negative or too-large values."""
        return sum(w.faults for w in self._wraps.values())

    @property
    def fault_reason(self) -> str:  # type: ignore[override]
        return "; ".join(f"{c}: {w.reason}" for c, w in self._wraps.items() if w.reason)

    def read(self) -> Reading:
        with self._lock:
            t = now_s()
            out: dict[str, float] = {}
            for comp, path in self._files.items():
                try:
                    raw = _read_int(path)
                except (OSError, ValueError) as exc:
                    raise MeterError(f"rapl: cannot read {path}: {exc}") from exc
                out[comp] = self._wraps[comp].update(raw / 1e6, t)
            return Reading(t, out)

    def _guard_loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            with contextlib.suppress(MeterError):  # the next read from a window reports it
                self.read()

    @property
    def share_key(self) -> object:
        return ("rapl", tuple(sorted((c, str(f)) for c, f in self._files.items())))

    def close(self) -> None:
        self._stop.set()
