"""What a training run knows of the other ranks, and its live figures: the projection and the ``scer/*`` logs.

:class:`World` keeps each rank's latest :class:`~scer_hf.hf.distributed.RankPayload` from the lockstep gathers
(rank 0 keeps every rank's, the others their own), so partial reports and logs carry the world's energy;
:func:`project` projects the end-of-run energy from the energy per optimizer step.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from ..core.carbon import CarbonIntensity
from . import distributed as dist

__all__ = ["World", "project", "PROJECTION_BASIS"]

PROJECTION_BASIS = ("energy so far + mean energy per optimizer step x remaining steps; uncertainty = 1 standard "
                    "error from the spread of per-step-window energies")


def project(samples: Sequence[tuple[int, float]], step: int, max_steps: int, e_train: float, so_far: float,
            carbon: CarbonIntensity) -> dist.Projection | None:
    """Projected end-of-run energy from the spread of per-step energies over step windows.

    *samples*: (optimizer step, train energy J) points; *e_train*: the train energy now (at *step*); *so_far*:
    the run's energy now. None with fewer than two windows."""
    pts = list(samples)
    if not pts:
        return None
    if step > pts[-1][0]:
        pts.append((step, e_train))
    per_step = [(e1 - e0) / (s1 - s0) for (s0, e0), (s1, e1) in itertools.pairwise(pts) if s1 > s0]
    if len(per_step) < 2:
        return None
    mean = (pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0])
    remaining = max(0, max_steps - step)
    sem = statistics.stdev(per_step) / math.sqrt(len(per_step))
    total = so_far + mean * remaining
    unc = sem * remaining
    return dist.Projection(energy_j=total, co2e_g=carbon.co2e_g(total), energy_uncertainty_j=unc,
                           co2e_uncertainty_g=carbon.co2e_g(unc), windows=len(per_step))


def world_logs(got: Sequence[dist.RankPayload], carbon: CarbonIntensity) -> dict[str, float]:
    """The ``scer/*`` log figures summed over every rank's live figures (only the coverage when a total is
    missing: no total to show)."""
    lives = [p.live or dist.LiveFigures(energy_j=None, coverage=0.0) for p in got]
    energies = [x.energy_j for x in lives if x.energy_j is not None]
    if len(energies) < len(lives):
        return {"scer/coverage": min(x.coverage for x in lives)}
    total = sum(energies)
    out = {"scer/energy_j": total, "scer/co2e_g": carbon.co2e_g(total)}
    cov = min(x.coverage for x in lives)
    if cov < 1.0:
        out["scer/coverage"] = cov
    projections = [x.projection for x in lives if x.projection is not None]
    if len(projections) == len(lives):
        # uncertainties add linearly (worst case: ranks' errors are not independent)
        pe = sum(x.energy_j for x in projections)
        pu = sum(x.energy_uncertainty_j for x in projections)
        out.update({"scer/projected_energy_j": pe, "scer/projected_co2e_g": carbon.co2e_g(pe),
                    "scer/projected_energy_uncertainty_j": pu, "scer/projected_co2e_uncertainty_g": carbon.co2e_g(pu)})
    return out


@dataclass
class World:
    """Each rank's latest payload (its meta) and phases by name, as gathered at the lockstep points."""

    _meta: dict[int, dist.RankPayload] = field(default_factory=dict)
    _phases: dict[int, dict[str, dist.MeasurementDict]] = field(default_factory=dict)
    live: dict[str, float] = field(default_factory=dict)  # the scer/* figures as of the last gather

    def absorb(self, p: dist.RankPayload, me: dist.RankInfo) -> None:
        """Keep rank *p*'s latest phases (by name) and meta for reports built on rank *me* (rank 0 keeps all)."""
        if p.rank != me.rank and me.rank != 0:
            return
        kept = self._phases.setdefault(p.rank, {})
        for d in p.phases:
            kept[d["name"]] = d
        self._meta[p.rank] = replace(p, phases=(), live=None)

    def gathered(self, got: Sequence[dist.RankPayload], me: dist.RankInfo, carbon: CarbonIntensity | None) -> None:
        """Absorb every rank's payload of one gather, and (given *carbon*) sum their live figures for the logs."""
        for p in got:
            self.absorb(p, me)
        if carbon is not None:
            self.live = world_logs(got, carbon)

    def payloads(self, me: dist.RankInfo) -> list[dist.RankPayload]:
        """Every rank's payload as last gathered; a rank never heard from is a gap."""
        out = [replace(meta, phases=tuple(self._phases[r].values())) for r, meta in sorted(self._meta.items())]
        seen = {p.rank for p in out}
        for r in range(me.world_size):  # a rank not heard from yet: a gap, never zero
            if r not in seen:
                out.append(dist.failed_payload(dist.RankInfo(r, -1, me.world_size),
                                               "not gathered yet (ranks are gathered at log steps and train end)"))
        return out
