"""Coverage: how much of a window, phase, rank or report was measured, and the one rule that fills the rest.

A figure is *measured*, *filled* or *absent*, never a false zero:

- Every measurement window records, per meter component, whether it was measured (both edge reads accepted by
  the guard, no counter fault between them). A window is *fully measured* when every meter measured it.
- :class:`Coverage` sums that over the windows of a phase (and, in distributed runs, of each rank):
  ``measured_fraction`` is the share of the duration in which every meter measured, ``windows_measured`` of
  ``windows``; ``energy_j`` and ``counts`` are the energy and functional units of the fully measured windows
  only, so a per-unit figure (per query, per token, per sample, SCI) divides numbers from the *same* windows.
- **Fill rule** (:func:`fill`): the unmeasured seconds of a component are filled at the mean power that component
  drew in the measured windows of the same phase, or, when the phase has none, of the whole run (its top-level
  phases). Filled energy is reported apart (``energy_j_filled``). Its uncertainty is widened by the spread of
  the powers seen: ``gap_s x max(P_high - P_mean, P_mean - P_low)`` over windows of at least
  :data:`POWER_WINDOW_MIN_S`, or 100 % of the filled energy when fewer than two such windows inform the range.
  A component never measured anywhere in the run cannot be filled: the phase total is then absent (null).
- **Threshold**: a report shows a headline (total energy, CO2e, SCI) and a model card gets
  ``co2_eq_emissions`` only when at least :data:`COVERAGE_THRESHOLD` of the duration was measured by every meter
  and every gap could be filled. Below it the totals are null and the reasons say why.
- A report is ``complete`` only at full coverage (and a finished run); otherwise ``partial``.

Error messages are tallied per kind (:func:`tally`): the digits of a message do not make a new kind, and at most
:data:`MAX_ERROR_KINDS` kinds are kept, so a server that runs for weeks keeps bounded state.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, TypedDict, TypeVar

from .records import ComponentRecord, CoverageRecord

__all__ = ["COVERAGE_THRESHOLD", "POWER_WINDOW_MIN_S", "MAX_ERROR_KINDS", "Coverage", "CoverageState", "Fill",
           "fill", "run_power_w", "per_unit_j", "tally", "FILL_RULE"]

#: share of the duration that every meter must have measured for a headline figure (and the card's emissions)
COVERAGE_THRESHOLD = 0.9
#: windows shorter than this do not inform the power range behind a fill's uncertainty (counters tick in ms..100 ms)
POWER_WINDOW_MIN_S = 0.05
#: distinct kinds of error message kept per phase; later kinds are counted under "other errors"
MAX_ERROR_KINDS = 8

FILL_RULE = ("unmeasured seconds of a component are filled at the mean power it drew in the measured windows of "
             "the same phase, else of the run's top-level phases; uncertainty of the filled part: the spread of "
             "window powers seen (100 % with fewer than two windows of at least "
             f"{POWER_WINDOW_MIN_S:g} s)")

V = TypeVar("V")


def _frozen(d: Mapping[str, V] | None) -> Mapping[str, V]:
    if not d:
        return MappingProxyType({})
    return d if type(d) is MappingProxyType else MappingProxyType(dict(d))


def _add(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, float]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0.0) + v
    return out


@dataclass(frozen=True)
class Coverage:
    """What part of one or more windows was measured (see the module docstring).

    ``component_s``/``gap_s``: measured and unmeasured seconds per component; ``energy_j``/``counts``: energy
    and counts of the fully measured windows (the per-unit basis); ``power_w``: lowest and highest mean power
    per component over measured windows of at least :data:`POWER_WINDOW_MIN_S`.
    """

    windows: int = 0
    windows_measured: int = 0
    duration_s: float = 0.0
    measured_s: float = 0.0
    component_s: Mapping[str, float] = field(default_factory=dict)
    gap_s: Mapping[str, float] = field(default_factory=dict)
    energy_j: Mapping[str, float] = field(default_factory=dict)
    counts: Mapping[str, float] = field(default_factory=dict)
    power_w: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    ranks: Mapping[str, Coverage] = field(default_factory=dict)  # per rank, in a distributed report

    def __post_init__(self) -> None:
        for k in ("component_s", "gap_s", "energy_j", "counts", "power_w", "ranks"):
            object.__setattr__(self, k, _frozen(getattr(self, k)))

    # -- construction --------------------------------------------------------------------
    @classmethod
    def window(cls, duration_s: float, energy_j: Mapping[str, float], missing: Iterable[str],
               counts: Mapping[str, float] | None = None) -> Coverage:
        """One window: *energy_j* of the components measured in it; *missing*: components not measured."""
        missing = tuple(c for c in missing if c not in energy_j)
        d = max(float(duration_s), 0.0)
        full = not missing
        power = {c: (e / d, e / d) for c, e in energy_j.items()} if d >= POWER_WINDOW_MIN_S else {}
        return cls(1, int(full), d, d if full else 0.0, dict.fromkeys(energy_j, d), dict.fromkeys(missing, d),
                   dict(energy_j) if full else {}, dict(counts or {}) if full else {}, power)

    @classmethod
    def full(cls, duration_s: float, energy_j: Mapping[str, float], counts: Mapping[str, float] | None = None,
             windows: int = 1) -> Coverage:
        """Windows that every meter measured (e.g. a report written before coverage existed)."""
        c = cls.window(duration_s, energy_j, (), counts)
        return cls(windows, windows, c.duration_s, c.measured_s, c.component_s, {}, c.energy_j, c.counts, c.power_w)

    @classmethod
    def none(cls, duration_s: float, components: Iterable[str] = (), windows: int = 1) -> Coverage:
        """Windows nothing measured."""
        d = max(float(duration_s), 0.0)
        return cls(windows, 0, d, 0.0, {}, dict.fromkeys(components, d))

    # -- derived -------------------------------------------------------------------------
    @property
    def measured_fraction(self) -> float:
        """Share of the duration in which every meter measured (windows when nothing lasted)."""
        if self.duration_s > 0:
            return min(1.0, self.measured_s / self.duration_s)
        return 1.0 if self.windows_measured == self.windows else (self.windows_measured / self.windows)

    @property
    def complete(self) -> bool:
        return self.windows_measured == self.windows and not any(v > 0 for v in self.gap_s.values())

    # -- combination ---------------------------------------------------------------------
    def merge(self, other: Coverage) -> Coverage:
        power = dict(self.power_w)
        for c, (lo, hi) in other.power_w.items():
            a = power.get(c)
            power[c] = (lo, hi) if a is None else (min(a[0], lo), max(a[1], hi))
        ranks = dict(self.ranks)
        for r, rc in other.ranks.items():
            ranks[r] = ranks[r].merge(rc) if r in ranks else rc
        return Coverage(self.windows + other.windows, self.windows_measured + other.windows_measured,
                        self.duration_s + other.duration_s, self.measured_s + other.measured_s,
                        _add(self.component_s, other.component_s), _add(self.gap_s, other.gap_s),
                        _add(self.energy_j, other.energy_j), _add(self.counts, other.counts), power, ranks)

    @classmethod
    def merge_all(cls, covs: Sequence[Coverage]) -> Coverage:
        """``covs[0].merge(covs[1]).merge(...)`` in one pass (a server's batch of calls: no intermediate objects)."""
        if len(covs) == 1:
            return covs[0]
        sums = [0, 0, 0.0, 0.0]
        maps: list[dict[str, float]] = [{}, {}, {}, {}]
        power: dict[str, tuple[float, float]] = {}
        ranks: dict[str, Coverage] = {}
        for c in covs:
            sums[0] += c.windows
            sums[1] += c.windows_measured
            sums[2] += c.duration_s
            sums[3] += c.measured_s
            for acc, m in zip(maps, (c.component_s, c.gap_s, c.energy_j, c.counts), strict=True):
                for k, v in m.items():
                    acc[k] = acc.get(k, 0.0) + v
            for k, (lo, hi) in c.power_w.items():
                a = power.get(k)
                power[k] = (lo, hi) if a is None else (min(a[0], lo), max(a[1], hi))
            for r, rc in c.ranks.items():
                ranks[r] = ranks[r].merge(rc) if r in ranks else rc
        return cls(int(sums[0]), int(sums[1]), sums[2], sums[3], component_s=maps[0], gap_s=maps[1],
                   energy_j=maps[2], counts=maps[3], power_w=power, ranks=ranks)

    def with_counts(self, counts: Mapping[str, float]) -> Coverage:
        return replace(self, counts=dict(counts))

    def prefixed(self, prefix: str) -> Coverage:
        """Components renamed ``prefix + name`` (a rank's components in a distributed report)."""
        return replace(self, component_s=_named(prefix, self.component_s), gap_s=_named(prefix, self.gap_s),
                       energy_j=_named(prefix, self.energy_j), power_w=_named(prefix, self.power_w))

    # -- JSON ----------------------------------------------------------------------------
    def to_dict(self) -> CoverageRecord:
        """The report's ``coverage`` block of a phase (or a rank)."""
        e = {c: float(v) for c, v in sorted(self.energy_j.items())}
        out: CoverageRecord = {
            "measured_fraction": self.measured_fraction, "windows_measured": self.windows_measured,
            "windows": self.windows, "measured_s": self.measured_s, "duration_s": self.duration_s,
            "energy_j": {**e, "total": float(sum(e.values()))},
            "counts": {k: _num(v) for k, v in sorted(self.counts.items())},
        }
        comps = sorted({*self.component_s, *self.gap_s})
        if comps:  # what the fill is recomputed from (scer-hf verify)
            out["components"] = {c: _component(self, c) for c in comps}
        if self.ranks:
            out["ranks"] = {r: c.to_dict() for r, c in sorted(self.ranks.items(), key=lambda kv: int(kv[0]))}
        return out

    @classmethod
    def from_dict(cls, d: CoverageRecord) -> Coverage:
        """The coverage of a report's ``coverage`` block (what :meth:`to_dict` wrote)."""
        comps = {c: _Component.of(v) for c, v in (d.get("components") or {}).items()}
        e = {c: float(v) for c, v in (d.get("energy_j") or {}).items() if c != "total"}
        return cls(int(d.get("windows", 0)), int(d.get("windows_measured", 0)), float(d.get("duration_s", 0.0)),
                   float(d.get("measured_s", 0.0)),
                   {c: v.measured_s for c, v in comps.items()},
                   {c: v.gap_s for c, v in comps.items() if v.gap_s > 0},
                   e, {k: float(v) for k, v in (d.get("counts") or {}).items()},
                   {c: v.power_w for c, v in comps.items() if v.power_w is not None},
                   {str(r): cls.from_dict(rc) for r, rc in (d.get("ranks") or {}).items()})

    def state(self) -> CoverageState:
        """Everything, for checkpoint state and the distributed gather (:meth:`from_state` reads it back)."""
        return {"windows": self.windows, "windows_measured": self.windows_measured, "duration_s": self.duration_s,
                "measured_s": self.measured_s, "component_s": dict(self.component_s), "gap_s": dict(self.gap_s),
                "energy_j": dict(self.energy_j), "counts": dict(self.counts),
                "power_w": {c: list(v) for c, v in self.power_w.items()},
                "ranks": {r: c.state() for r, c in self.ranks.items()}}

    @classmethod
    def from_state(cls, d: Mapping[str, Any]) -> Coverage:
        f = {str(k): float(v) for k, v in dict(d.get("component_s", {})).items()}
        return cls(int(d["windows"]), int(d["windows_measured"]), float(d["duration_s"]), float(d["measured_s"]), f,
                   {str(k): float(v) for k, v in dict(d.get("gap_s", {})).items()},
                   {str(k): float(v) for k, v in dict(d.get("energy_j", {})).items()},
                   {str(k): float(v) for k, v in dict(d.get("counts", {})).items()},
                   {str(k): (float(v[0]), float(v[1])) for k, v in dict(d.get("power_w", {})).items()},
                   {str(k): cls.from_state(v) for k, v in dict(d.get("ranks", {})).items()})


class CoverageState(TypedDict):
    """:meth:`Coverage.state`: everything, for checkpoint state and the distributed gather."""

    windows: int
    windows_measured: int
    duration_s: float
    measured_s: float
    component_s: dict[str, float]
    gap_s: dict[str, float]
    energy_j: dict[str, float]
    counts: dict[str, float]
    power_w: dict[str, list[float]]
    ranks: dict[str, CoverageState]


def _named(prefix: str, m: Mapping[str, V]) -> dict[str, V]:
    return {prefix + c: v for c, v in m.items()}


@dataclass(frozen=True)
class _Component:
    """One component of a coverage block, read once: seconds measured and not, the power range when known."""

    measured_s: float
    gap_s: float
    power_w: tuple[float, float] | None

    @classmethod
    def of(cls, v: ComponentRecord) -> _Component:
        power = v.get("power_w")
        return cls(float(v.get("measured_s", 0.0)), float(v.get("gap_s", 0.0)),
                   (float(power[0]), float(power[1])) if power else None)


def _component(cov: Coverage, c: str) -> ComponentRecord:
    out: ComponentRecord = {"measured_s": float(cov.component_s.get(c, 0.0)), "gap_s": float(cov.gap_s.get(c, 0.0))}
    if c in cov.power_w:
        out["power_w"] = [float(cov.power_w[c][0]), float(cov.power_w[c][1])]
    return out


def _num(v: float) -> float | int:
    v = float(v)
    return int(v) if v.is_integer() else v


@dataclass(frozen=True)
class Fill:
    """The filled energy of one phase: per component, the spread term of its uncertainty, what could not be filled."""

    energy_j: Mapping[str, float]
    uncertainty_j: float
    unfilled: tuple[str, ...]

    @property
    def total_j(self) -> float:
        return float(sum(self.energy_j.values()))


def run_power_w(coverages: Iterable[Coverage], energies: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Mean power per component over the measured windows of *coverages* (the run's top-level phases)."""
    e: dict[str, float] = {}
    s: dict[str, float] = {}
    for cov, energy in zip(coverages, energies, strict=True):
        for c, v in energy.items():
            e[c] = e.get(c, 0.0) + float(v)
        for c, v in cov.component_s.items():
            s[c] = s.get(c, 0.0) + float(v)
    return {c: e.get(c, 0.0) / t for c, t in s.items() if t > 0}


def fill(cov: Coverage, energy_j: Mapping[str, float], run_power: Mapping[str, float] | None = None) -> Fill:
    """Fill the unmeasured seconds of each component of one phase (the module's fill rule)."""
    filled: dict[str, float] = {}
    unc = 0.0
    unfilled: list[str] = []
    for c, gap in sorted(cov.gap_s.items()):
        if gap <= 0:
            continue
        seen = cov.component_s.get(c, 0.0)
        if seen > 0:
            p = float(energy_j.get(c, 0.0)) / seen
        elif run_power and c in run_power:
            p = run_power[c]
        else:
            unfilled.append(c)
            continue
        filled[c] = gap * p
        lo_hi = cov.power_w.get(c)
        if lo_hi is not None and lo_hi[1] > lo_hi[0] and seen > 0:
            unc += gap * max(lo_hi[1] - p, p - lo_hi[0])
        else:
            unc += gap * p  # the range is unknown: 100 % of the filled part
    return Fill(filled, unc, tuple(unfilled))


def per_unit_j(coverages: Sequence[CoverageRecord], key: str) -> float | None:
    """Energy per unit of *key* from the fully measured windows: the sum over ranks of each rank's own
    ``energy / count`` (a single process is one rank). None when a rank counted none of *key*."""
    by_rank: dict[str, list[float]] = {}
    for cov in coverages:
        ranks = cov.get("ranks") or {"0": cov}
        for r, rc in ranks.items():
            acc = by_rank.setdefault(str(r), [0.0, 0.0])
            acc[0] += float((rc.get("energy_j") or {}).get("total", 0.0))
            acc[1] += float((rc.get("counts") or {}).get(key, 0.0))
    if not by_rank or any(n <= 0 for _, n in by_rank.values()):
        return None
    return sum(e / n for e, n in by_rank.values())


_DIGITS = re.compile(r"[-+]?\d[\d.,e+-]*")


def _kind(msg: str) -> str:
    return _DIGITS.sub("#", msg)


def tally(*parts: Mapping[str, int] | Iterable[str]) -> dict[str, int]:
    """Error messages counted per kind (numbers do not make a new kind); at most :data:`MAX_ERROR_KINDS` kinds,
    the rest counted under ``"other errors"``. Each part is a tally or a sequence of messages."""
    out: dict[str, int] = {}
    kinds: dict[str, str] = {}
    for part in parts:
        items = part.items() if isinstance(part, Mapping) else ((m, 1) for m in part)
        for msg, n in items:
            msg = str(msg)
            key = msg if msg == "other errors" else kinds.get(_kind(msg))
            if key is None:
                if len(kinds) >= MAX_ERROR_KINDS:
                    key = "other errors"
                else:
                    key = kinds[_kind(msg)] = msg
            out[key] = out.get(key, 0) + int(n)
    return out

