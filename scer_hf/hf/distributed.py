"""Distributed helpers for :class:`scer_hf.SCERCallback` (torch.distributed, any backend).

Who measures what: every rank measures its own GPU(s); node-wide CPU and RAM
counters (RAPL) are read once per node, by local rank 0; process-scoped estimates
(CPU time, resident memory) run on every rank for its own process. At train end each rank's phases are gathered to
world rank 0 with ``all_gather_object`` and combined here: energy components are
prefixed with the rank (``rank1/gpu:1``) so nothing collides or is added twice,
durations and counts are world rank 0's (the Trainer's counters -- tokens, steps,
FLOPs -- are already global on every rank).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypedDict

from ..core.coverage import Coverage, CoverageState, fill
from ..core.tracker import Measurement
from ..core.views import top_level

__all__ = ["RankInfo", "rank_info", "nvml_indices", "meters_for_rank", "gather_to_all", "all_reduce_sum",
           "combine_ranks", "measurement_to_dict", "measurement_from_dict", "failed_payload", "MeasurementDict",
           "Provenance", "ProvenanceDict", "provenance_of", "Projection", "ProjectionDict", "LiveFigures",
           "RankPayload", "RankDetail", "DistributedDetail", "CoverageDetail"]


@dataclass(frozen=True)
class RankInfo:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def measures_host(self) -> bool:
        """Node-wide host counters (RAPL) are read once per node, by local rank 0."""
        return self.local_rank == 0


def rank_info(args: Any = None) -> RankInfo:
    """Rank, local rank and world size from TrainingArguments, else torch.distributed, else 0/0/1."""
    if args is not None:
        try:
            return RankInfo(int(args.process_index), int(args.local_process_index), int(args.world_size))
        except (AttributeError, TypeError, ValueError):
            pass
    dist = _dist()
    if dist is not None:
        return RankInfo(dist.get_rank(), int(os.getenv("LOCAL_RANK", "0")), dist.get_world_size())
    return RankInfo()


def nvml_indices(args: Any, rank: RankInfo) -> list[int] | None:
    """NVML index of the GPU this process trains on; None (every visible GPU) for DataParallel;
    ``[]`` (no GPU) when training runs on the CPU (no CUDA, or ``use_cpu``), so idle GPUs of the
    machine are not counted as the run's energy.

    The CUDA index (``args.device``, else the local rank) is mapped through
    ``CUDA_VISIBLE_DEVICES`` because NVML numbers every GPU of the machine.
    """
    torch = sys.modules.get("torch")
    try:
        if torch is None:
            return None
        if not torch.cuda.is_available():
            return []
        if int(getattr(args, "n_gpu", 1) or 1) > 1:
            return None
        dev = getattr(args, "device", None)
        if dev is not None and getattr(dev, "type", "cuda") != "cuda":
            return []  # use_cpu=True (or another accelerator NVML does not meter)
        idx = dev.index if dev is not None and dev.index is not None else rank.local_rank
    except (RuntimeError, AttributeError, ValueError):
        return None
    env = os.getenv("CUDA_VISIBLE_DEVICES")
    if env is not None and env.strip():
        toks = [t.strip() for t in env.split(",")]
        if not all(t.isdigit() for t in toks):
            return None  # UUIDs / MIG ids: measure every visible GPU (the meter says so)
        return [int(toks[idx])] if idx < len(toks) else None
    return [idx]


def meters_for_rank(meters: Sequence[Any], measures_host: bool) -> tuple[list[Any], dict[str, str]]:
    """The meters one rank keeps from ``auto(host=True)``, and the choices to report.

    Node-wide counters (RAPL: the whole CPU package and DRAM) are read once per node,
    by local rank 0. Process-scoped estimates (CPU time and resident memory of *this*
    process) count each rank's own share, so every rank keeps them: dropping them on
    other ranks would leave their CPU and RAM out, keeping RAPL would count the node twice.
    """
    from ..core.meters.rapl import RaplMeter

    choices = dict(getattr(meters, "choices", {}) or {})
    if measures_host:
        return list(meters), choices
    kept = []
    for m in meters:
        if isinstance(m, RaplMeter) or getattr(m, "node_wide", False):
            m.close()
            for c in ("cpu", "ram", "gpu"):
                if str(choices.get(c, "")).startswith(("rapl", "apple")):
                    choices[c] = "node-wide counter, read once per node by local rank 0"
        else:
            kept.append(m)
    return kept, choices


def _dist() -> Any | None:
    """torch.distributed when a process group is up, else None (never imports torch itself)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    dist = getattr(torch, "distributed", None)
    try:
        if dist is not None and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            return dist
    except (RuntimeError, ValueError):
        return None
    return None


def gather_to_all(obj: Any) -> list[Any] | None:
    """``all_gather_object`` of *obj* (a small JSON-like payload); None when not distributed or on failure."""
    dist = _dist()
    if dist is None:
        return None
    out: list[Any] = [None] * dist.get_world_size()
    try:
        dist.all_gather_object(out, obj)
    except (RuntimeError, ValueError) as exc:
        warnings.warn(f"scer-hf: gathering energy from all ranks failed ({exc}); the report has this rank only",
                      RuntimeWarning, stacklevel=2)
        return None
    return out


def all_reduce_sum(values: Sequence[float]) -> list[float] | None:
    """Element-wise sum of *values* over all ranks (one small tensor); None when not distributed or on failure."""
    dist = _dist()
    if dist is None:
        return None
    import torch

    try:
        device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
        t = torch.tensor(list(values), dtype=torch.float64, device=device)
        dist.all_reduce(t)
        return [float(v) for v in t.tolist()]
    except (RuntimeError, ValueError) as exc:
        warnings.warn(f"scer-hf: summing energy over ranks failed ({exc}); logs show this rank only",
                      RuntimeWarning, stacklevel=2)
        return None


class MeasurementDict(TypedDict):
    """One phase's measurement as sent between ranks and saved in checkpoint state (:func:`measurement_to_dict`)."""

    name: str
    start_s: float
    end_s: float
    energy_j: dict[str, float]
    measured: bool
    method: str
    counts: dict[str, float]
    parent: str | None
    errors: list[str]
    error_counts: dict[str, int]
    windows: int
    duration_s: float
    coverage: CoverageState  # read back by Coverage.from_state


Choices = dict[str, str] | dict[str, dict[str, str]]  # component -> choice; per ``rankN`` when distributed


class ProvenanceDict(TypedDict):
    """The report's ``provenance`` block as written."""

    meters: list[dict[str, Any]]  # core's meter descriptions (``Meter.describe()``), as written
    choices: Choices
    failed_meters: dict[str, str]


@dataclass(frozen=True)
class Provenance:
    """The report's ``provenance`` block: meter descriptions, the auto choices and the meters that failed."""

    meters: tuple[dict[str, Any], ...] = ()  # core's meter descriptions (``Meter.describe()``)
    choices: Choices = field(default_factory=dict)
    failed_meters: dict[str, str] = field(default_factory=dict)

    def failed(self, key: str, why: str) -> Provenance:
        """This provenance with one more failed meter (*key*: ``setup`` for a rank whose meters failed)."""
        return replace(self, failed_meters={**self.failed_meters, key: why})

    def to_dict(self) -> ProvenanceDict:
        return ProvenanceDict(meters=[dict(m) for m in self.meters], choices=self.choices.copy(),
                              failed_meters=dict(self.failed_meters))


def provenance_of(d: Mapping[str, Any]) -> Provenance:
    """A tracker's provenance record (``Tracker.provenance()``) as the typed block."""
    return Provenance(meters=tuple(dict(m) for m in d.get("meters", ())), choices=dict(d.get("choices") or {}),
                      failed_meters={str(k): str(v) for k, v in dict(d.get("failed_meters") or {}).items()})


def measurement_to_dict(m: Measurement) -> MeasurementDict:
    return {
        "name": m.name, "start_s": m.start_s, "end_s": m.end_s, "energy_j": dict(m.energy_j),
        "measured": m.measured, "method": m.method, "counts": dict(m.counts), "parent": m.parent,
        "errors": list(m.errors), "error_counts": dict(m.error_counts), "windows": m.windows,
        "duration_s": m.duration_s, "coverage": m.cov.state(),
    }


def measurement_from_dict(d: MeasurementDict) -> Measurement:
    """The measurement of :func:`measurement_to_dict` (also from saved JSON: every value is converted)."""
    cov = d.get("coverage")
    return Measurement(
        name=str(d["name"]), start_s=float(d["start_s"]), end_s=float(d["end_s"]),
        energy_j={str(k): float(v) for k, v in dict(d["energy_j"]).items()}, measured=bool(d["measured"]),
        method=str(d["method"]), counts={str(k): v for k, v in dict(d["counts"]).items()},
        parent=d.get("parent"), errors=tuple(d.get("errors", ())), windows=int(d.get("windows", 1)),
        duration_s=float(d["duration_s"]), coverage=Coverage.from_state(cov) if isinstance(cov, Mapping) else None,
        error_counts={str(k): int(v) for k, v in dict(d.get("error_counts") or {}).items()},
    )


class ProjectionDict(TypedDict):
    projected_energy_j: float
    projected_co2e_g: float
    projected_energy_uncertainty_j: float
    projected_co2e_uncertainty_g: float
    windows: int
    basis: str


@dataclass(frozen=True)
class Projection:
    """Projected end-of-run energy and CO2e with their uncertainty (1 standard error), from *windows* step windows."""

    energy_j: float
    co2e_g: float
    energy_uncertainty_j: float
    co2e_uncertainty_g: float
    windows: int

    def to_dict(self, basis: str) -> ProjectionDict:
        """The report's ``extra.projection`` block: the figures, the windows and how they were projected."""
        return ProjectionDict(projected_energy_j=self.energy_j, projected_co2e_g=self.co2e_g,
                              projected_energy_uncertainty_j=self.energy_uncertainty_j,
                              projected_co2e_uncertainty_g=self.co2e_uncertainty_g, windows=self.windows,
                              basis=basis)

    def figures(self) -> dict[str, float]:
        """The ``projected_*`` figures by name (the logs' ``scer/projected_*`` keys without the prefix)."""
        return {"projected_energy_j": self.energy_j, "projected_co2e_g": self.co2e_g,
                "projected_energy_uncertainty_j": self.energy_uncertainty_j,
                "projected_co2e_uncertainty_g": self.co2e_uncertainty_g}


@dataclass(frozen=True)
class LiveFigures:
    """One rank's running figures at a sync: energy so far (None: no true total), coverage, and its projection."""

    energy_j: float | None
    coverage: float
    projection: Projection | None = None


@dataclass(frozen=True)
class RankPayload:
    """What one rank sends at a lockstep point (``all_gather_object``): its phases that changed (as dicts), its
    provenance, why it failed (it then sends no phases and counts as unmeasured), and its live figures."""

    rank: int
    local_rank: int
    measures_host: bool
    has_meters: bool
    phases: tuple[MeasurementDict, ...] = ()
    provenance: Provenance = field(default_factory=Provenance)
    failed: str | None = None
    live: LiveFigures | None = None


def failed_payload(rank: RankInfo, why: str) -> RankPayload:
    """What a rank sends when it could not build its payload: no phases, and why (it counts as unmeasured)."""
    return RankPayload(rank.rank, rank.local_rank, rank.measures_host, has_meters=True, failed=why)


class CoverageDetail(TypedDict):
    measured_fraction: float
    windows_measured: int
    windows: int


class _RankDetailBase(TypedDict):
    rank: int
    local_rank: int
    measures_host: bool
    has_meters: bool
    energy_j: float | None
    energy_j_measured: float
    duration_s: float
    coverage: CoverageDetail


class RankDetail(_RankDetailBase, total=False):
    """One rank's share in ``extra.distributed.ranks``."""

    failed: str


class DistributedDetail(TypedDict, total=False):
    """The report's ``extra.distributed`` block (``world_size`` only for a single process)."""

    world_size: int
    ranks: list[RankDetail]
    rule: str
    note: str


def _rank_phase(p: RankPayload, d: MeasurementDict | None, ref: Measurement, multi: bool) -> Measurement:
    """Rank *p*'s measurement of phase *ref* (components prefixed); a phase the rank never reported is all gap."""
    r = p.rank
    prefix = f"rank{r}/" if multi else ""
    if d is None:
        why = p.failed or "phase not reported by this rank"
        return Measurement(ref.name, ref.start_s, ref.end_s, {}, measured=False, method="unmeasured",
                           parent=ref.parent, errors=(f"rank {r}: {why}",), windows=0, duration_s=ref.duration_s,
                           coverage=Coverage.none(ref.duration_s, (f"{prefix}unmeasured",), windows=1))
    m = measurement_from_dict(d)
    cov = m.cov.prefixed(prefix) if multi else m.cov
    return Measurement(m.name, m.start_s, m.end_s, {prefix + c: v for c, v in m.energy_j.items()},
                       measured=m.measured, method=m.method, counts=m.counts, parent=m.parent,
                       error_counts={(f"rank {r}: {e}" if multi else e): n for e, n in m.error_counts.items()},
                       windows=m.windows, duration_s=m.duration_s, coverage=cov)


def _combine_phase(payloads: Sequence[RankPayload], by_rank: list[dict[str, MeasurementDict]], ref: Measurement,
                   multi: bool) -> Measurement:
    """One phase over every rank: energy per prefixed component, coverage over rank-seconds (with each rank's own
    coverage kept for per-unit figures), durations and counts of world rank 0 (the Trainer's counters are global)."""
    energy: dict[str, float] = {}
    cov = Coverage()
    ranks: dict[str, Coverage] = {}
    errors: dict[str, int] = {}
    methods: set[str] = set()
    measured = True
    for p, phs in zip(payloads, by_rank, strict=True):
        if not p.has_meters:
            continue
        m = _rank_phase(p, phs.get(ref.name), ref, multi)
        energy.update(m.energy_j)
        cov = cov.merge(replace(m.cov, ranks={}))
        ranks[str(p.rank)] = m.cov
        for e, n in m.error_counts.items():
            errors[e] = errors.get(e, 0) + n
        methods.add(m.method)
        measured = measured and m.measured
    if multi:
        cov = replace(cov, counts={}, ranks=ranks)  # per-unit figures use each rank's own basis
    elif not ranks:
        cov = Coverage.full(ref.duration_s, {}, ref.counts, ref.windows)  # nothing to meter here, by design
    methods -= {"unmeasured"}
    method = "unmeasured" if not methods else (methods.pop() if len(methods) == 1 else "mixed")
    return Measurement(ref.name, ref.start_s, ref.end_s, energy, measured=measured, method=method,
                       counts=dict(ref.counts), parent=ref.parent, error_counts=errors, windows=ref.windows,
                       duration_s=ref.duration_s, coverage=cov)


def _provenance(payloads: Sequence[RankPayload], multi: bool) -> Provenance:
    """Every rank's meters (components prefixed with the rank when distributed), choices and failed meters."""
    meters = []
    choices: dict[str, dict[str, str]] = {}
    failed: dict[str, str] = {}
    for p in payloads:
        prov = p.provenance.failed("setup", p.failed) if p.failed else p.provenance
        if not multi:  # one process: its own block, every meter's components listed
            return replace(prov, meters=tuple(dict(m, components=list(m.get("components", []))) for m in prov.meters))
        meters += [dict(m, components=[f"rank{p.rank}/{c}" for c in m.get("components", [])], rank=p.rank)
                   for m in prov.meters]
        choices[f"rank{p.rank}"] = {str(k): str(v) for k, v in prov.choices.items()}
        failed.update({f"rank{p.rank}/{k}": v for k, v in prov.failed_meters.items()})
    return Provenance(tuple(meters), choices, failed)


def combine_ranks(payloads: Sequence[RankPayload]) -> tuple[list[Measurement], Provenance, DistributedDetail]:
    """Combine per-rank payloads into phases, provenance and a per-rank detail block.

    A rank with no meters at all by design (no GPU, host measured by local rank 0) contributes no energy and no gap.
    A rank that failed (``failed``: it sent no phases), or did not report a phase, contributes a gap over that
    phase's duration: it is counted in the coverage and never as zero energy.
    """
    payloads = sorted(payloads, key=lambda p: p.rank)
    multi = len(payloads) > 1
    by_rank = [{d["name"]: d for d in p.phases} for p in payloads]
    refs: dict[str, Measurement] = {}
    for phs in by_rank:  # every phase any rank saw, in the order the first rank that saw it has them
        for name, d in phs.items():
            refs.setdefault(name, measurement_from_dict(d))
    phases = [_combine_phase(payloads, by_rank, ref, multi) for ref in refs.values()]
    detail = DistributedDetail(
        world_size=len(payloads),
        ranks=[_rank_detail(p, phases, multi) for p in payloads],
        rule="each rank measures its own GPU(s); node-wide CPU/RAM counters are read once per node by local "
             "rank 0; process-scoped CPU/RAM estimates count each rank's own process; "
             "components are prefixed with the rank; durations and counts are world rank 0's; a rank that "
             "failed is a coverage gap, never zero energy",
    )
    return phases, _provenance(payloads, multi), detail


def _rank_detail(p: RankPayload, phases: Sequence[Measurement], multi: bool) -> RankDetail:
    """One rank's share of the top-level phases: energy (measured plus filled, None when a gap cannot be filled),
    the measured part, duration and coverage."""
    key = str(p.rank)
    prefix = f"rank{key}/" if multi else ""
    cov = Coverage()
    energy: float | None = 0.0
    measured = 0.0
    for m in phases:
        if m.parent is not None:
            continue
        c = m.cov.ranks.get(key) if multi else m.cov
        if c is None:
            continue
        own = {comp: v for comp, v in m.energy_j.items() if comp.startswith(prefix)}
        cov = cov.merge(replace(c, ranks={}))
        measured += sum(own.values())
        f = fill(c, own)
        energy = None if energy is None or f.unfilled else energy + sum(own.values()) + f.total_j
    out = RankDetail(rank=p.rank, local_rank=p.local_rank, measures_host=p.measures_host, has_meters=p.has_meters,
                     energy_j=energy, energy_j_measured=measured,
                     duration_s=sum(float(d["duration_s"]) for d in top_level(p.phases)),
                     coverage=CoverageDetail(measured_fraction=cov.measured_fraction if cov.windows else 1.0,
                                             windows_measured=cov.windows_measured, windows=cov.windows))
    if p.failed:
        out["failed"] = p.failed
    return out
