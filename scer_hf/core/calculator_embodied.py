"""The calculator's embodied emissions: which rows of ``hardware_embodied.csv`` a run's hardware takes, each once.

:data:`EMBODIED_RULES` say what a set of rows must not do (count the same silicon twice, or take per-component
rows); :func:`embodied_for` picks the rows named, else the GPU's default row, else none (never a guess), and sums
their SCI shares (:func:`scer_hf.core.embodied.embodied_emissions`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..errors import EstimateInputError
from .embodied import Embodied, EmbodiedRow, embodied_emissions, find_hardware

__all__ = ["EMBODIED_RULES", "embodied_for"]

_GPU_LEVEL = ("GPU", "GPU baseboard")
_INCLUDES_GPUS = re.compile(r"incl(?:\.|uding)?\s+(?:the\s+)?(?:\d+\s+)?GPUs", re.I)
_INCLUDES_SERVER = re.compile(r"instance|share of server", re.I)


def _one_gpu_level_row(rows: list[EmbodiedRow]) -> str | None:
    gpu_rows = [r.hardware for r in rows if r.category in _GPU_LEVEL]
    return None if len(gpu_rows) <= 1 else (
        f"embodied rows {gpu_rows} all cover the GPUs; pick one (a baseboard "
        "and its per-GPU share, or two cards, would count the same silicon twice)")


def _server_with_gpus(r: EmbodiedRow) -> bool:
    """Whether *r* is a server row whose scope says it includes its GPUs (and does not exclude them)."""
    return r.category == "server" and bool(_INCLUDES_GPUS.search(r.scope)) and "excl" not in r.scope.lower()


def _gpus_not_in_server_too(rows: list[EmbodiedRow]) -> str | None:
    gpu_rows = [r for r in rows if r.category in _GPU_LEVEL]
    incl = [r for r in rows if _server_with_gpus(r)]
    return None if not (gpu_rows and incl) else (
        f"{incl[0].hardware!r} already includes its GPUs ({incl[0].scope}); adding "
        f"{gpu_rows[0].hardware!r} would count them twice. Use a server row that excludes GPUs "
        "(e.g. 'AWS p5.48xlarge host excl. GPUs (8x H100 SXM)') or the server row alone")


def _server_share_alone(rows: list[EmbodiedRow]) -> str | None:
    shares = [r for r in rows if r.category in _GPU_LEVEL and _INCLUDES_SERVER.search(r.scope)]
    return None if not (shares and any(r.category == "server" for r in rows)) else (
        f"{shares[0].hardware!r} is already a share of a whole server; adding a server row counts it twice")


def _whole_devices_only(rows: list[EmbodiedRow]) -> str | None:
    odd = [r.hardware for r in rows if r.category not in (*_GPU_LEVEL, "server")]
    return None if not odd else (
        f"embodied rows {odd} are per component (CPU, GB, drive); the calculator takes GPU, GPU baseboard "
        "and server rows only")


#: What a set of embodied rows must not do (each rule: the error message, or None).
EMBODIED_RULES = (_one_gpu_level_row, _gpus_not_in_server_too, _server_share_alone, _whole_devices_only)


def _embodied_part(r: EmbodiedRow, seconds: float, count: int, servers: float, lifetime: float | None,
                   usage: float) -> Embodied:
    """One row's share: a card (or per-GPU share) once per device, a server or baseboard x *servers*."""
    n, share = (count, 1.0) if r.category == "GPU" else (1, servers)
    el = lifetime if lifetime is not None else r.lifetime_years
    return embodied_emissions(r.hardware, seconds, resource_share=share, count=n,
                              lifetime_years=el * usage if el is not None else None)


def _embodied(names: Sequence[str], seconds: float, count: int, servers: float, lifetime: float | None,
              usage: float = 1.0) -> Embodied:
    rows: list[EmbodiedRow] = [find_hardware(n) for n in names]  # unknown name -> HardwareNotFoundError
    for rule in EMBODIED_RULES:
        why = rule(rows)
        if why is not None:
            raise EstimateInputError(why)
    parts = []
    for r in rows:
        e = _embodied_part(r, seconds, count, servers, lifetime, usage)
        if not e.included:
            return Embodied(False, None, hardware=r.hardware, te_kgco2e=r.embodied_kgco2e, scope=r.scope,
                            source=r.source, reason=f"{r.hardware}: {e.reason}")
        parts.append(e)
    return _embodied_sum(parts, seconds)


def _total(parts: Sequence[Embodied], attr: str) -> float:
    """The parts' sum of a figure (a part without it adds nothing)."""
    return sum(getattr(p, attr) or 0.0 for p in parts)


def _joined(parts: Sequence[Embodied], attr: str, sep: str, missing: str = "") -> str:
    """The parts' texts of *attr*, joined (*missing* where a part has none)."""
    return sep.join(getattr(p, attr) or missing for p in parts)


def _shared_lifetime(parts: Sequence[Embodied]) -> float | None:
    """The lifetime when every part has the same one, else None (no single lifetime to show)."""
    els = {p.lifetime_years for p in parts}
    return els.pop() if len(els) == 1 else None


def _embodied_sum(parts: list[Embodied], seconds: float) -> Embodied:
    """The rows' shares as one included figure: the sums, the names, scopes and sources joined."""
    return Embodied(
        True, _total(parts, "embodied_g"), _joined(parts, "hardware", " + ", "?"), _total(parts, "te_kgco2e"),
        _shared_lifetime(parts), seconds, parts[0].resource_share if len(parts) == 1 else None,
        _joined(parts, "scope", "; "), _joined(parts, "source", " | "),
    )


def embodied_for(embodied_hardware: str | Sequence[str] | None, default_row: str | None, hardware: str | None,
                 seconds: float, n: int, servers: float, lifetime: float | None, usage: float) -> Embodied:
    """The rows named, else the GPU's default row (its power row's ``embodied_row``), else not included (never
    a guess); *hardware* names the GPU in the reason."""
    if embodied_hardware is not None:
        names = [embodied_hardware] if isinstance(embodied_hardware, str) else list(embodied_hardware)
        return _embodied(names, seconds, n, servers, lifetime, usage)
    if default_row:
        return _embodied([default_row], seconds, n, servers, lifetime, usage)
    return Embodied(False, None, hardware=hardware, reason=(
        f"no card-level embodied row is mapped to {hardware!r}; pass "
        "embodied_hardware='<row of scer_hf/data/hardware_embodied.csv>' to include one"))
