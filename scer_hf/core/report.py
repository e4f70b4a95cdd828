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
import math
import os
import platform
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from . import report_schema as _report_schema
from .. import _read
from .._io import atomic_write_text, file_lock
from .._version import __version__
from .carbon import CarbonIntensity, carbon_intensity
from .embodied import Embodied
from ..errors import ReportError, ReportExistsError, ReportSchemaError, UnsupportedSchemaVersionError
from . import fmt as _fmt
from .sci import FUNCTIONAL_UNITS, SCI_VERSION, FunctionalUnit, default_functional_units, sci_value
from .tracker import Measurement

__all__ = ["Report", "SCHEMA", "SCHEMA_VERSION", "phase_from_measurement"]

SCHEMA = "scer-hf/report"
SCHEMA_VERSION = 1
BOUNDARIES = ("training", "inference")


def _num(x: float) -> float:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else 0.0


def phase_from_measurement(m: Measurement, carbon: CarbonIntensity, kind: str) -> dict[str, Any]:
    """The JSON form of one measured window."""
    energy = {k: _num(v) for k, v in sorted(m.energy_j.items())}
    energy["total"] = _num(sum(energy.values()))
    return {
        "name": m.name,
        "kind": kind,
        "parent": m.parent,
        "energy_j": energy,
        "duration_s": _num(m.duration_s),
        "co2e_g": carbon.co2e_g(energy["total"]),
        "counts": {k: (int(v) if float(v).is_integer() else float(v)) for k, v in sorted(m.counts.items())},
        "measured": bool(m.measured),
        "method": m.method,
        "windows": m.windows,
        "errors": list(m.errors),
    }


def _phase_uncertainty(phase: Mapping[str, Any], rel_by_comp: Mapping[str, float]) -> float:
    return sum(abs(v) * rel_by_comp.get(c, 0.0) for c, v in phase["energy_j"].items() if c != "total")


class Report:
    """A measurement manifest. Build with :meth:`build`; read with :meth:`load`."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        _validate(data)
        self._d: dict[str, Any] = json.loads(json.dumps(data))  # deep copy, JSON-only types

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
    ) -> "Report":
        """Derive totals, CO2e, SCI and uncertainty from measured phases.

        ``kinds`` maps phase names to a kind (``training``, ``evaluation``,
        ``inference``...); by default every phase has the report's boundary as kind.
        R (the functional-unit count) sums only top-level phases of that kind.
        """
        if boundary not in BOUNDARIES:
            raise ReportError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")
        carbon = carbon or carbon_intensity()
        kinds = dict(kinds or {})
        phases = [
            dict(m) if isinstance(m, Mapping) else phase_from_measurement(m, carbon, kinds.get(m.name, boundary))
            for m in measurements
        ]
        prov = dict(provenance or {})
        prov.setdefault("tool", f"scer-hf {__version__}")
        prov.setdefault("python", platform.python_version())
        prov.setdefault("platform", platform.platform())
        meters = prov.get("meters", [])
        # which meter measured each component, and how (counter or estimate)
        prov.setdefault("components", {c: {"meter": m.get("meter"), "method": m.get("method")}
                                       for m in meters for c in m.get("components", [])})
        methods = {p["method"] for p in phases if p["measured"]}
        prov["method"] = (methods.pop() if len(methods) == 1 else "mixed") if methods else "unmeasured"
        prov["estimated"] = any(m.get("method") == "estimate" for m in meters) or prov["method"] in ("estimate", "mixed")
        if prov["estimated"]:
            prov["note"] = "ESTIMATE: some or all energy is estimated, not read from hardware counters"
        data: dict[str, Any] = {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "run_id": run_id or uuid.uuid4().hex,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "status": status,
            "model": {"id": None, "parameters": None, "task": None, **dict(model or {})},
            "boundary": boundary,
            "phases": phases,
            "carbon": carbon.to_dict(),
            "provenance": prov,
        }
        if benchmark is not None:
            data["benchmark"] = dict(benchmark)
        if extra:
            data["extra"] = dict(extra)
        data.update(_derive(phases, carbon, embodied, meters, boundary, functional_units))
        return cls(data)

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

    energy_j = property(lambda self: float(self._d["energy_j"]))
    co2e_g = property(lambda self: float(self._d["co2e_g"]))
    embodied_g = property(lambda self: self._d["embodied_g"])
    sci = property(lambda self: dict(self._d["sci"]) if self._d["sci"] else None)
    boundary = property(lambda self: self._d["boundary"])
    model = property(lambda self: dict(self._d["model"]))
    carbon = property(lambda self: CarbonIntensity.from_dict(self._d["carbon"]))
    estimated = property(lambda self: bool(self._d["provenance"].get("estimated")))
    status = property(lambda self: self._d.get("status", "complete"))

    def digest(self) -> str:
        """sha256 of the canonical JSON (sorted keys, no spaces): the report's identity."""
        canon = json.dumps(self._d, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(canon.encode("utf-8")).hexdigest()

    def to_json(self) -> str:
        return json.dumps(self._d, indent=2, ensure_ascii=False) + "\n"

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
    def from_dict(cls, data: Mapping[str, Any]) -> "Report":
        return cls(data)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Report":
        """Read and validate a report file; a bad file raises :class:`ReportSchemaError`.

        The file is read through :mod:`scer_hf._read`: a regular file only (a FIFO or device is refused at once),
        at most ``_read.LIMITS["report"]`` bytes, nesting at most ``MAX_DEPTH`` deep, finite numbers only."""
        from .report_files import find_report  # noqa: PLC0415 - a folder: its scer_report.json, or the demo's names

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
        s = _fmt.sci_display(sci)["text"] if sci else "no SCI (no functional units counted)"
        est = " ESTIMATED" if self.estimated else ""
        return (f"<Report {self._d['model'].get('id') or '?'} {self.boundary} {len(self._d['phases'])} phases "
                f"{_fmt.energy(self.energy_j)} {_fmt.co2e(self.co2e_g)}; SCI {s}{est}>")


def _derive(phases: list[dict[str, Any]], carbon: CarbonIntensity, embodied: Embodied | None,
            meters: list[Mapping[str, Any]], boundary: str,
            functional_units: Sequence[str | FunctionalUnit] | None) -> dict[str, Any]:
    top = [p for p in phases if p.get("parent") is None]
    energy_j = sum(p["energy_j"]["total"] for p in top)
    co2e_g = carbon.co2e_g(energy_j)
    rel_by_comp: dict[str, float] = {}
    for m in meters:
        for c in m.get("components", []):
            rel_by_comp[c] = float(m.get("relative_uncertainty", 0.0))
    for p in phases:
        p["energy_uncertainty_j"] = _phase_uncertainty(p, rel_by_comp)
    energy_unc = sum(p["energy_uncertainty_j"] for p in top)
    rel = energy_unc / energy_j if energy_j > 0 else 0.0
    emb_g = embodied.embodied_g if embodied is not None and embodied.included else None
    units = [FUNCTIONAL_UNITS[u] if isinstance(u, str) else u for u in
             (functional_units or default_functional_units(boundary))]
    counted = [p for p in top if p.get("kind") == boundary]
    alts = []
    for fu in units:
        r = sum(float(p["counts"].get(fu.count_key, 0)) for p in counted) / fu.scale
        if r > 0:
            v = sci_value(energy_j, carbon.g_per_kwh, carbon.pue, emb_g, r)
            alts.append({
                "value": v, "unit": f"gCO2eq per {fu.name}", "functional_unit": fu.name,
                "count_key": fu.count_key, "scale": fu.scale, "r": r, "version": SCI_VERSION,
                "energy_j_per_unit": energy_j / r,
            })
    sci = dict(alts[0]) if alts else None
    if sci is not None:
        sci["boundary"] = ("Provider (training, SCI for AI)" if boundary == "training"
                           else "Consumer (inference, SCI for AI)")
        sci["embodied_included"] = emb_g is not None
        # the unit people are shown (functional unit scaled so the value reads 1 to 1,000; scer_hf.core.fmt)
        sci["shown_unit"] = _fmt.sci_display(sci)["unit"]
    return {
        "energy_j": energy_j,
        "co2e_g": co2e_g,
        "embodied_g": emb_g,
        "embodied": embodied.to_dict() if embodied is not None else
        {"included": False, "embodied_g": None, "reason": "hardware not given; embodied emissions not included"},
        "sci": sci,
        "sci_alternatives": alts,
        "uncertainty": {
            "energy_j": energy_unc,
            "co2e_g": co2e_g * rel,
            # only E x I is uncertain here: M (embodied) carries no meter uncertainty, so the
            # SCI's +- is the operational CO2e's +- per functional unit, not SCI x relative
            "sci": (co2e_g * rel / sci["r"] if sci else None),
            "relative": rel,
            "basis": "linear sum of per-component meter uncertainty (worst case); grid intensity is an "
                     "annual average and its own uncertainty is not included",
            "per_meter": {m.get("meter", "?"): m.get("uncertainty_basis", "") for m in meters},
        },
    }


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
