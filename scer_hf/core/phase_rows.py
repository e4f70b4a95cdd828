"""The rows of a growing run's finished phases, converted, summed and encoded once.

A run that is reported again and again (a Trainer flushing at every log) keeps a :class:`PhaseRows`: each
finished phase is converted to its report row once (:func:`scer_hf.core.phases.phase_from_measurement`), added
to the report's sums once (:class:`CachedTotals`) and encoded once, so a flush costs what is new, not the whole
history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from .carbon import CarbonIntensity
from .coverage import run_power_w
from .derive import Totals
from .phases import ENCODER, phase_from_measurement, self_contained
from .records import PhaseRecord
from .tracker import Measurement
from .views import top_level

__all__ = ["PhaseRows", "CachedTotals"]


class PhaseRows:
    """Rows of the finished phases of one growing run, made once (see the module docstring).

    A finished phase is identified by its final :class:`Measurement` object; its row is kept only when it needs
    nothing from the rest of the run (its gaps, if any, are filled from its own power), so a later report gives
    exactly the row a fresh conversion would. ``line`` is the row encoded for the report file.
    """

    def __init__(self) -> None:
        self._rows: dict[str, tuple[Measurement, PhaseRecord, str]] = {}
        # the finished rows' sums per (boundary, meters' uncertainties), kept by scer_hf.core.report
        self.totals: dict[tuple[str, tuple[tuple[str, float], ...]], CachedTotals] = {}

    def rows(self, ms: Sequence[Measurement], carbon: CarbonIntensity, kind_of: Callable[[str], str],
             final: Callable[[Measurement], bool]) -> tuple[list[PhaseRecord], list[str | None]]:
        """(rows, encoded lines or None) for *ms*; *final*: whether a measurement will not change any more."""
        top = top_level(ms)
        power: dict[str, float] | None = None
        rows: list[PhaseRecord] = []
        lines: list[str | None] = []
        for m in ms:
            hit = self._hit(m)
            if hit is not None:
                rows.append(hit[0])
                lines.append(hit[1])
                continue
            if power is None and not self_contained(m):  # only a gap this phase cannot fill needs the run
                power = run_power_w((x.cov for x in top), (x.energy_j for x in top))
            rows.append(self._convert(m, carbon, kind_of, final, power))
            lines.append(None)
        return rows, lines

    def _hit(self, m: Measurement) -> tuple[PhaseRecord, str] | None:
        """The kept (row, line) of *m* when it is the same finished measurement, else None."""
        hit = self._rows.get(m.name)
        return (hit[1], hit[2]) if hit is not None and hit[0] is m else None

    def _convert(self, m: Measurement, carbon: CarbonIntensity, kind_of: Callable[[str], str],
                 final: Callable[[Measurement], bool], power: Mapping[str, float] | None) -> PhaseRecord:
        """A fresh row for *m*, kept when the phase is final and needs nothing from the rest of the run."""
        row = phase_from_measurement(m, carbon, kind_of(m.name), power)
        if final(m) and self_contained(m):
            self._rows[m.name] = (m, row, "")
        return row

    def remember_lines(self, rows: Sequence[PhaseRecord]) -> list[str | None]:
        """Encode (once) the cached rows among *rows* (after their uncertainty was set); None for the others."""
        out: list[str | None] = []
        for row in rows:
            name = row["name"]
            hit = self._rows.get(name)
            if hit is None or hit[1] is not row:
                out.append(None)
                continue
            if not hit[2]:
                hit = (hit[0], hit[1], ENCODER.encode(row))
                self._rows[name] = hit
            out.append(hit[2])
        return out

    def cached(self, row: PhaseRecord) -> bool:
        hit = self._rows.get(row["name"])
        return hit is not None and hit[1] is row


class CachedTotals:
    """The sums of the cached (finished) rows of one run, each added once (kept in a
    :class:`~scer_hf.core.phases.PhaseRows`)."""

    def __init__(self, totals: Totals) -> None:
        self.totals = totals
        self.rows_added: list[PhaseRecord] = []
        self._ids: set[int] = set()

    def add_cached(self, phases: list[PhaseRecord], rows: PhaseRows) -> Totals:
        for p in phases:
            if rows.cached(p) and id(p) not in self._ids:
                self.totals.add(p)
                self._ids.add(id(p))
                self.rows_added.append(p)
        return self.totals
