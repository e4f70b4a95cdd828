"""``scer_hf.Report``: the manifest of one measurement (JSON, schema ``scer-hf/report``).

A report holds phases (each with energy per component, duration and counts) and
everything derived from them: total energy, operational CO2e, embodied emissions,
the SCI headline and alternatives, provenance and uncertainty. ``to_dict()`` is the
JSON document; ``Report.from_dict(d).to_dict() == d`` exactly.

Totals count top-level phases only (``parent`` is null); nested phases (epochs
inside ``train``, ``prefill`` inside ``generate``) detail their parent and are never
added twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import _read
from .._io import atomic_write_text, file_lock
from .._version import __version__
from ..errors import ReportError, ReportExistsError, ReportSchemaError, UnsupportedSchemaVersionError
from . import fmt as _fmt
from . import report_schema as _report_schema
from .carbon import CarbonIntensity, carbon_intensity
from .derive import Totals, derive, report_coverage
from .embodied import Embodied
from .phase_rows import CachedTotals, PhaseRows
from .phases import ENCODER, phase_coverage, phase_from_measurement, phases_from_measurements, refill
from .records import PhaseRecord
from .report_views import (
    BenchmarkView,
    ExtraView,
    MeterView,
    ModelView,
    ProvenanceView,
    ReportView,
    SciView,
    UncertaintyView,
    embodied_of,
)
from .sci import FunctionalUnit
from .tracker import Measurement
from .views import CoverageView, PhaseView, top_level

__all__ = ["Report", "SCHEMA", "SCHEMA_VERSION", "PhaseRows", "phase_from_measurement", "phase_coverage", "refill"]

SCHEMA = "scer-hf/report"
SCHEMA_VERSION = 2  # 2: coverage, filled energy, null totals when not measured (1 still loads)
BOUNDARIES = ("training", "inference")


class Report:
    """A measurement manifest. Build with :meth:`build`; read with :meth:`load`."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        _validate(data)
        self._d: dict[str, Any] = json.loads(json.dumps(data))  # deep copy, JSON-only types
        self._lines: list[str | None] | None = None  # pre-encoded phase lines (PhaseRows), for to_json

    # -- construction ------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        measurements: Iterable[Measurement | Mapping[str, Any]],
        *,
        boundary: str,
        carbon: CarbonIntensity | None = None,
        model: Mapping[str, Any] | None = None,
        provenance: Mapping[str, Any] | None = None,
        embodied: Embodied | None = None,
        functional_units: Sequence[str | FunctionalUnit] | None = None,
        kinds: Mapping[str, str] | None = None,
        benchmark: Mapping[str, Any] | None = None,
        status: str = "complete",
        run_id: str | None = None,
        extra: Mapping[str, Any] | None = None,
        rows: PhaseRows | None = None,
        final: Any = None,
    ) -> Report:
        """Derive totals, CO2e, SCI and uncertainty from measured phases.

        ``kinds`` maps phase names to a kind (``training``, ``evaluation``,
        ``inference``...); by default every phase has the report's boundary as kind.
        R (the functional-unit count) sums only top-level phases of that kind.

        ``rows`` (a :class:`PhaseRows` kept by the caller) with ``final(measurement)`` (whether a phase is
        finished) let a run that is reported again and again convert, sum and encode each finished phase once.
        """
        if boundary not in BOUNDARIES:
            raise ReportError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")
        carbon = carbon or carbon_intensity()
        kinds = dict(kinds or {})
        phases = _phases(list(measurements), carbon, lambda n: kinds.get(n, boundary), rows, final)
        meters = [MeterView.from_dict(m) for m in (provenance or {}).get("meters", [])]
        prov = _provenance(provenance, meters, phases)
        totals = _totals(phases, boundary, meters, rows)
        data: dict[str, Any] = {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "run_id": run_id or uuid.uuid4().hex,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "status": _status(status, totals.partial),
            "model": {"id": None, "parameters": None, "task": None, **dict(model or {})},
            "boundary": boundary,
            "phases": phases,
            "carbon": carbon.to_dict(),
            "provenance": prov,
            **({"benchmark": dict(benchmark)} if benchmark is not None else {}),
            **({"extra": dict(extra)} if extra else {}),  # the extra block when not empty
            **derive(totals, carbon, embodied, meters, functional_units),
        }
        report = cls._trusted(data)
        if rows is not None:
            report._lines = rows.remember_lines(phases)
        return report

    @classmethod
    def _trusted(cls, data: dict[str, Any]) -> Report:
        """A report scer-hf just built (JSON types only, numbers finite): no schema pass, no deep copy.
        Reports from outside (``load``, ``from_dict``, ``Report(...)``) are validated in full."""
        r = cls.__new__(cls)
        r._d = data
        r._lines = None
        return r

    # -- access ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-safe dict (a copy)."""
        return json.loads(json.dumps(self._d))

    def __getitem__(self, key: str) -> Any:
        return json.loads(json.dumps(self._d[key]))  # a copy of that key only

    @property
    def phases(self) -> list[dict[str, Any]]:
        return self.to_dict()["phases"]

    def phase(self, name: str) -> dict[str, Any]:
        """The first phase called *name* (KeyError if none)."""
        for p in self._d["phases"]:
            if p["name"] == name:
                return json.loads(json.dumps(p))
        raise KeyError(f"no phase {name!r} in report (phases: {[p['name'] for p in self._d['phases']]})")

    # -- typed views (scer_hf.core.views) ----------------------------------------------------
    def phase_views(self) -> list[PhaseView]:
        """Every phase as a frozen :class:`~scer_hf.core.views.PhaseView`, in report order."""
        return [PhaseView.from_dict(p) for p in self._d["phases"]]

    def top_phases(self) -> list[PhaseView]:
        """The top-level phases (``parent`` is null): the phases totals count, in report order."""
        return [PhaseView.from_dict(p) for p in top_level(self._d["phases"])]

    def children(self, name: str) -> list[PhaseView]:
        """The phases nested directly in the phase called *name* (``prefill``/``decode`` in ``generate``)."""
        return [PhaseView.from_dict(p) for p in self._d["phases"] if p.get("parent") == name]

    @property
    def coverage_view(self) -> CoverageView:
        """The report's coverage block as a frozen :class:`~scer_hf.core.views.CoverageView`."""
        return CoverageView.from_dict(self._d.get("coverage") or report_coverage(self._d))

    @property
    def view(self) -> ReportView:
        """The whole report as a frozen :class:`~scer_hf.core.report_views.ReportView` (every block's view)."""
        return ReportView.from_dict(self._d)

    model_view = property(lambda self: ModelView.from_dict(self._d["model"]),
                          doc="The ``model`` block as a frozen :class:`~scer_hf.core.report_views.ModelView`.")
    provenance_view = property(lambda self: ProvenanceView.from_dict(self._d["provenance"]),
                               doc="The meters, method and declared hardware (:class:`ProvenanceView`).")
    sci_view = property(lambda self: SciView.of(self._d["sci"]),
                        doc="The SCI headline as a :class:`~scer_hf.core.report_views.SciView`; None without one.")
    embodied_view = property(lambda self: embodied_of(self._d.get("embodied")),
                             doc="Embodied emissions (:class:`~scer_hf.core.embodied.Embodied`).")
    uncertainty_view = property(lambda self: UncertaintyView.from_dict(self._d.get("uncertainty")),
                                doc="The +- figures (:class:`~scer_hf.core.report_views.UncertaintyView`).")
    benchmark_view = property(lambda self: BenchmarkView.from_dict(self._d["benchmark"])
                              if isinstance(self._d.get("benchmark"), Mapping) else None,
                              doc="A benchmark's block (:class:`~scer_hf.core.report_views.BenchmarkView`), "
                                  "None for a report that is not a benchmark.")
    extra_view = property(lambda self: ExtraView.from_dict(self._d.get("extra")),
                          doc="The ``extra`` block (:class:`~scer_hf.core.report_views.ExtraView`).")
    run_id = property(lambda self: str(self._d["run_id"]), doc="The run's id.")

    energy_j = property(lambda self: _opt_float(self._d["energy_j"]),
                        doc="Total energy (J), measured plus filled; None when coverage is below the threshold.")
    co2e_g = property(lambda self: _opt_float(self._d["co2e_g"]),
                      doc="Operational CO2e (g); None when coverage is below the threshold.")
    coverage = property(lambda self: dict(self._d.get("coverage") or report_coverage(self._d)),
                        doc="How much was measured (``measured_fraction``, ``windows_measured``, ``windows``, ...).")
    embodied_g = property(lambda self: self._d["embodied_g"])
    sci = property(lambda self: dict(self._d["sci"]) if self._d["sci"] else None)
    boundary = property(lambda self: self._d["boundary"])
    model = property(lambda self: dict(self._d["model"]))
    carbon = property(lambda self: CarbonIntensity.from_dict(self._d["carbon"]),
                      doc="The grid intensity and PUE used, as a frozen :class:`~scer_hf.core.carbon.CarbonIntensity`.")
    estimated = property(lambda self: bool(self._d["provenance"].get("estimated")))
    status = property(lambda self: self._d.get("status", "complete"))

    def digest(self) -> str:
        """sha256 of the canonical JSON (sorted keys, no spaces): the report's identity."""
        canon = json.dumps(self._d, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(canon.encode("utf-8")).hexdigest()

    def to_json(self) -> str:
        """The report file's text: indented, one phase per line (cheap to write for thousands of phases)."""
        try:
            return _dumps(self._d, self._lines)
        except ValueError as exc:  # NaN or Infinity: never written
            raise ReportError(f"report holds a number JSON cannot carry ({exc}); this is a bug in scer-hf") from None

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False, parents: bool = False) -> Path:
        """Write the report atomically. An existing *different* file is kept unless ``overwrite=True``.

        A folder *path* means its ``scer_report.json``. A missing folder is created only with ``parents=True``;
        a symbolic link is written through to its target; a pipe or device is never written; a write the system
        refuses (read-only folder, full disk) raises :class:`~scer_hf.errors.OutputWriteError` naming the path."""
        p = Path(path)
        if p.is_dir():
            p = p / "scer_report.json"
        text = self.to_json()
        with file_lock(p):  # the check and the write are one step for other processes saving here
            if (p.exists() or p.is_symlink()) and not overwrite:
                try:
                    same = _read.read_text(p, what="report", error=ReportError) == text
                except ReportError:
                    same = False
                if not same:
                    raise ReportExistsError(f"{p} already exists and differs; pass overwrite=True (CLI: --overwrite) "
                                            "to replace it, or choose another path")
            return atomic_write_text(p, text, parents=parents)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        return cls(data)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Report:
        """Read and validate a report file; a bad file raises :class:`ReportSchemaError`.

        The file is read through :mod:`scer_hf._read`: a regular file only (a FIFO or device is refused at once),
        at most ``_read.LIMITS["report"]`` bytes, nesting at most ``MAX_DEPTH`` deep, finite numbers only."""
        from .report_files import find_report  # a folder: its scer_report.json, or the demo's names

        p = find_report(path)
        if not os.path.lexists(p):
            raise ReportError(f"no report at {p}; measure one with SCERCallback, track_pipeline or benchmark")
        data = _report_schema.loads(_read.read_bytes(p, what="report", error=ReportSchemaError), where=str(p))
        try:
            return cls(data)
        except ReportSchemaError as exc:
            raise type(exc)(f"{p}: {exc}") from exc

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Report) and other._d == self._d

    def __repr__(self) -> str:
        sci = self._d["sci"]
        shown = _fmt.sci_display(sci)
        s = shown["text"] if shown else "no SCI (no functional units counted)"
        est = " ESTIMATED" if self.estimated else ""
        cov = self.coverage.get("measured_fraction", 1.0)
        part = f" coverage {_fmt.coverage(cov)}" if cov < 1 else ""
        return (f"<Report {self._d['model'].get('id') or '?'} {self.boundary} {len(self._d['phases'])} phases "
                f"{_fmt.energy(self.energy_j)} {_fmt.co2e(self.co2e_g)}; SCI {s}{est}{part}>")


def _opt_float(x: Any) -> float | None:
    return None if x is None else float(x)


def _phases(items: list[Measurement | Mapping[str, Any]], carbon: CarbonIntensity, kind_of: Callable[[str], str],
            rows: PhaseRows | None, final: Callable[[Measurement], bool] | None) -> list[PhaseRecord]:
    """The report's phases, in order: measurements converted (through *rows*, each finished phase once), phase
    dicts taken as given and their figures refilled at this carbon intensity."""
    ms = [m for m in items if isinstance(m, Measurement)]
    converted = iter(_converted(ms, carbon, kind_of, rows, final))
    phases = [next(converted) if isinstance(m, Measurement) else _given_phase(m) for m in items]
    if len(ms) < len(items):
        refill([p for p, m in zip(phases, items, strict=True) if not isinstance(m, Measurement)], carbon)
    return phases


def _given_phase(m: Mapping[str, Any]) -> PhaseRecord:
    """A phase given as a dict (another report's, as ``scer-hf verify`` and the distributed combine pass them):
    a copy in JSON types, so that refilling it leaves the caller's dict as it was; the report's schema checks it
    once the report is built."""
    phase: PhaseRecord = json.loads(json.dumps(m))
    return phase


def _converted(ms: list[Measurement], carbon: CarbonIntensity, kind_of: Callable[[str], str],
               rows: PhaseRows | None, final: Callable[[Measurement], bool] | None) -> list[PhaseRecord]:
    """The measurements as phase rows: through *rows* (each finished phase converted once) when the caller keeps
    them, else each converted now."""
    if rows is not None and ms:
        return rows.rows(ms, carbon, kind_of, final=final or _never_final)[0]
    return phases_from_measurements(ms, carbon, kind_of)


def _never_final(m: Measurement) -> bool:
    return False


def _status(status: str, partial: bool) -> str:
    """A run reported complete is "partial" unless fully measured (nested phases included)."""
    return "partial" if status == "complete" and partial else status


def _provenance(provenance: Mapping[str, Any] | None, meters: Sequence[MeterView],
                phases: list[PhaseRecord]) -> dict[str, Any]:
    """The tool, the platform, which meter measured each component and how; estimated when any meter estimates.
    What the caller gave is kept (its keys first); *meters*: its ``meters``, read."""
    given = dict(provenance or {})
    defaults = {"tool": f"scer-hf {__version__}", "python": platform.python_version(), "platform": platform.platform(),
                "components": {c: {"meter": m.meter, "method": m.method} for m in meters for c in m.components}}
    method = _method(phases)
    estimated = any(m.method == "estimate" for m in meters) or method in ("estimate", "mixed")
    note = {"note": "ESTIMATE: some or all energy is estimated, not read from hardware counters"} if estimated else {}
    return {**given, **{k: v for k, v in defaults.items() if k not in given}, "method": method,
            "estimated": estimated, **note}


def _method(phases: list[PhaseRecord]) -> str:
    """The report's method: the phases' one method, "mixed" when they differ, "unmeasured" when none measured."""
    methods = {p["method"] or "none" for p in phases} - {"unmeasured", "none"}
    if not methods:
        return "unmeasured"
    return methods.pop() if len(methods) == 1 else "mixed"


def _totals(phases: list[PhaseRecord], boundary: str, meters: Sequence[MeterView],
            rows: PhaseRows | None) -> Totals:
    """The phases summed for :func:`scer_hf.core.derive.derive`; with *rows*, the finished phases' sums are kept."""
    rel = {c: m.relative_uncertainty for m in meters for c in m.components}
    if rows is None:
        t = Totals(boundary, rel)
        for p in phases:
            t.add(p)
        return t
    t = _base(rows, boundary, rel).add_cached(phases, rows).copy()
    for p in phases:
        if not rows.cached(p):
            t.add(p)
    return t


def _base(rows: PhaseRows, boundary: str, rel: dict[str, float]) -> CachedTotals:
    """The kept sums of this run's finished phases (for this boundary and meters); started again when a row they
    hold is no longer cached."""
    key = (boundary, tuple(sorted(rel.items())))
    base = rows.totals.get(key)
    if base is None or any(not rows.cached(p) for p in base.rows_added):
        base = rows.totals[key] = CachedTotals(Totals(boundary, rel))
    return base


def _dumps(d: Mapping[str, Any], lines: Sequence[str | None] | None = None) -> str:
    """Indented JSON with one phase per line (the C encoder; finished phases' lines come pre-encoded)."""
    phases = d.get("phases")
    if not isinstance(phases, list) or not phases:
        return json.dumps(d, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    marker = f"\u0000phases-{uuid.uuid4().hex}\u0000"
    body = json.dumps({**d, "phases": marker}, indent=2, ensure_ascii=False, allow_nan=False)
    enc = lines if lines is not None and len(lines) == len(phases) else [None] * len(phases)
    rows = ",\n    ".join(line or ENCODER.encode(p) for p, line in zip(phases, enc, strict=True))
    return body.replace(json.dumps(marker), "[\n    " + rows + "\n  ]", 1) + "\n"


def _validate(d: Any) -> None:
    """The one check of a report: its schema version, then the shipped JSON Schema (``_report_schema``)."""
    if isinstance(d, Mapping) and not isinstance(d, dict):
        d = dict(d)
    v = d.get("schema_version") if isinstance(d, dict) else None
    if isinstance(v, int) and not isinstance(v, bool) and v > SCHEMA_VERSION and d.get("schema") == SCHEMA:
        raise UnsupportedSchemaVersionError(
            f"report schema_version {v} is newer than this scer-hf supports ({SCHEMA_VERSION}); "
            "upgrade: pip install -U scer-hf"
        )
    _report_schema.validate(d)


def load_report(report: Report | Mapping[str, Any] | str | os.PathLike[str]) -> Report:
    """A :class:`Report` from a Report, a dict or a path to a report JSON."""
    if isinstance(report, Report):
        return report
    if isinstance(report, Mapping):
        return Report.from_dict(report)
    if isinstance(report, (str, os.PathLike)):
        return Report.load(report)
    raise ReportError(f"expected a scer_hf.Report, a dict or a path to a report JSON, got {type(report).__name__}")
