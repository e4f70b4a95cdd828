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
from .._io import atomic_write_text, file_lock
from .._version import __version__
from .carbon import J_PER_KWH, CarbonIntensity, carbon_intensity
from .embodied import Embodied
from ..errors import ReportError, ReportSchemaError, UnsupportedSchemaVersionError
from . import fmt as _fmt
from .coverage import COVERAGE_THRESHOLD, FILL_RULE, Coverage, fill, per_unit_j, run_power_w, tally
from .sci import FUNCTIONAL_UNITS, SCI_VERSION, FunctionalUnit, default_functional_units, sci_value
from .tracker import Measurement

__all__ = ["Report", "SCHEMA", "SCHEMA_VERSION", "phase_from_measurement", "phase_coverage", "refill"]

SCHEMA = "scer-hf/report"
SCHEMA_VERSION = 2  # 2: coverage, filled energy, null totals when not measured (1 still loads)
BOUNDARIES = ("training", "inference")


def _num(x: float) -> float:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else 0.0


def phase_from_measurement(m: Measurement, carbon: CarbonIntensity, kind: str,
                           run_power: Mapping[str, float] | None = None) -> dict[str, Any]:
    """The JSON form of one phase: measured energy per component, the filled part apart, the coverage.

    ``energy_j.total`` is measured plus filled energy (:func:`scer_hf.core.coverage.fill`; *run_power* is the
    run's mean power per component, for components this phase never measured), or null when a gap cannot be
    filled: a false zero is never written."""
    cov = m.cov
    f = fill(cov, m.energy_j, run_power)
    energy: dict[str, Any] = {k: _num(v) for k, v in sorted(m.energy_j.items())}
    total = None if f.unfilled else _num(sum(energy.values()) + f.total_j)
    energy["total"] = total
    d: dict[str, Any] = {
        "name": m.name,
        "kind": kind,
        "parent": m.parent,
        "energy_j": energy,
        "duration_s": _num(m.duration_s),
        "co2e_g": carbon.co2e_g(total) if total is not None else None,
        "counts": {k: (int(v) if float(v).is_integer() else float(v)) for k, v in sorted(m.counts.items())},
        "measured": bool(m.measured),
        "method": m.method,
        "windows": m.windows,
        "errors": list(m.errors),
        "coverage": cov.to_dict(),
    }
    if f.energy_j:
        d["energy_j_filled"] = {**{c: _num(v) for c, v in sorted(f.energy_j.items())}, "total": _num(f.total_j)}
        d["filled_uncertainty_j"] = _num(f.uncertainty_j)
    if f.unfilled:
        d["unfilled"] = list(f.unfilled)
    if any(n > 1 for n in m.error_counts.values()):
        d["error_counts"] = dict(m.error_counts)
    return d


def phases_from_measurements(ms: Sequence[Measurement], carbon: CarbonIntensity,
                             kind_of: Any) -> list[dict[str, Any]]:
    """:func:`phase_from_measurement` for a run's phases, with the run's mean power for gaps a phase cannot fill."""
    top = [m for m in ms if m.parent is None]
    power = run_power_w((m.cov for m in top), (m.energy_j for m in top))
    return [phase_from_measurement(m, carbon, kind_of(m.name), power) for m in ms]


def _measured_of(p: Mapping[str, Any]) -> dict[str, float]:
    return {c: float(v) for c, v in p["energy_j"].items() if c != "total" and v is not None}


def refill(phases: list[dict[str, Any]], carbon: CarbonIntensity) -> None:
    """Recompute, in place, what the fill rule derives in phases given as JSON (a report rebuilt from its phases,
    as ``scer-hf verify`` does): each phase's total, filled energy, its uncertainty and what could not be filled.
    Phases written before coverage existed are left as they are."""
    covs = {id(p): Coverage.from_dict(p["coverage"]) for p in phases
            if isinstance(p.get("coverage"), Mapping) and "components" in p["coverage"]}
    top = [p for p in phases if p.get("parent") is None and id(p) in covs]
    power = run_power_w((covs[id(p)] for p in top), (_measured_of(p) for p in top))
    for p in phases:
        cov = covs.get(id(p))
        if cov is None:
            continue
        energy = _measured_of(p)
        f = fill(cov, energy, power)
        total = None if f.unfilled else _num(sum(energy.values()) + f.total_j)
        p["energy_j"] = {**{c: _num(v) for c, v in sorted(energy.items())}, "total": total}
        for k in ("energy_j_filled", "filled_uncertainty_j", "unfilled"):
            p.pop(k, None)
        if f.energy_j:
            p["energy_j_filled"] = {**{c: _num(v) for c, v in sorted(f.energy_j.items())}, "total": _num(f.total_j)}
            p["filled_uncertainty_j"] = _num(f.uncertainty_j)
        if f.unfilled:
            p["unfilled"] = list(f.unfilled)
        g = p.get("carbon_g_per_kwh", carbon.g_per_kwh)
        p["co2e_g"] = None if total is None else total / J_PER_KWH * carbon.pue * g


def phase_coverage(p: Mapping[str, Any]) -> Mapping[str, Any]:
    """A phase's coverage block; a phase written before coverage existed is all measured or all not."""
    cov = p.get("coverage")
    if isinstance(cov, Mapping):
        return cov
    e = p["energy_j"]
    d = float(p.get("duration_s") or 0.0)
    ok = bool(p.get("measured", True))
    return {"measured_fraction": 1.0 if ok else 0.0, "windows_measured": int(p.get("windows", 1)) if ok else 0,
            "windows": int(p.get("windows", 1)), "measured_s": d if ok else 0.0, "duration_s": d,
            "energy_j": dict(e) if ok else {"total": 0.0}, "counts": dict(p.get("counts") or {}) if ok else {}}


def _phase_uncertainty(phase: Mapping[str, Any], rel_by_comp: Mapping[str, float]) -> float:
    filled = phase.get("energy_j_filled") or {}
    measured = sum(abs(v) * rel_by_comp.get(c, 0.0) for c, v in phase["energy_j"].items()
                   if c != "total" and v is not None)
    return measured + sum(abs(v) * rel_by_comp.get(c, 0.0) for c, v in filled.items() if c != "total") + \
        float(phase.get("filled_uncertainty_j") or 0.0)


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
        items = list(measurements)
        ms = [m for m in items if not isinstance(m, Mapping)]
        converted = iter(phases_from_measurements(ms, carbon, lambda n: kinds.get(n, boundary)))
        phases = [dict(m) if isinstance(m, Mapping) else next(converted) for m in items]
        if len(ms) < len(items):
            refill([p for p, m in zip(phases, items) if isinstance(m, Mapping)], carbon)
        prov = dict(provenance or {})
        prov.setdefault("tool", f"scer-hf {__version__}")
        prov.setdefault("python", platform.python_version())
        prov.setdefault("platform", platform.platform())
        meters = prov.get("meters", [])
        # which meter measured each component, and how (counter or estimate)
        prov.setdefault("components", {c: {"meter": m.get("meter"), "method": m.get("method")}
                                       for m in meters for c in m.get("components", [])})
        methods = {p["method"] for p in phases} - {"unmeasured", "none", None}
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
        if data["status"] == "complete" and any(phase_coverage(p)["measured_fraction"] < 1.0 for p in phases):
            data["status"] = "partial"  # complete only at full coverage, nested phases included
        return cls._trusted(data)

    @classmethod
    def _trusted(cls, data: dict[str, Any]) -> "Report":
        """A report scer-hf just built (JSON types only, numbers finite): no schema pass, no deep copy.
        Reports from outside (``load``, ``from_dict``, ``Report(...)``) are validated in full."""
        r = cls.__new__(cls)
        r._d = data
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

    energy_j = property(lambda self: _opt_float(self._d["energy_j"]),
                        doc="Total energy (J), measured plus filled; None when coverage is below the threshold.")
    co2e_g = property(lambda self: _opt_float(self._d["co2e_g"]),
                      doc="Operational CO2e (g); None when coverage is below the threshold.")
    coverage = property(lambda self: dict(self._d.get("coverage") or _legacy_coverage(self._d)),
                        doc="How much was measured (``measured_fraction``, ``windows_measured``, ``windows``, ...).")
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
        """The report file's text: indented, one phase per line (cheap to write for thousands of phases)."""
        try:
            return _dumps(self._d)
        except ValueError as exc:  # NaN or Infinity: never written
            raise ReportError(f"report holds a number JSON cannot carry ({exc}); this is a bug in scer-hf") from None

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the report atomically. An existing *different* file is kept unless ``overwrite=True``."""
        p = Path(path)
        if p.is_dir():
            p = p / "scer_report.json"
        text = self.to_json()
        with file_lock(p):  # the check and the write are one step for other processes saving here
            if p.exists() and not overwrite:
                try:
                    same = p.read_text(encoding="utf-8") == text
                except (OSError, UnicodeDecodeError):
                    same = False
                if not same:
                    raise ReportError(f"{p} already exists and differs; pass overwrite=True (CLI: --overwrite) to "
                                      "replace it, or choose another path")
            return atomic_write_text(p, text)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Report":
        return cls(data)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Report":
        """Read and validate a report file; a bad file raises :class:`ReportSchemaError`."""
        from .report_files import find_report  # noqa: PLC0415 - a folder: its scer_report.json, or the demo's names

        p = find_report(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise ReportError(f"no report at {p}; measure one with SCERCallback, track_pipeline or benchmark") from exc
        except UnicodeDecodeError as exc:
            raise ReportSchemaError(f"{p} is not a text (UTF-8 JSON) file; is it a scer-hf report?") from exc
        except OSError as exc:
            raise ReportError(f"cannot read {p}: {exc.strerror or exc}; check the path and its permissions") from exc
        try:
            data = _report_schema.loads(text)
        except ReportSchemaError as exc:
            raise type(exc)(f"{p}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise ReportSchemaError(f"{p} is not JSON ({exc.msg} at line {exc.lineno}); is it a scer-hf report?") from exc
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
        cov = self.coverage.get("measured_fraction", 1.0)
        part = f" coverage {_fmt.coverage(cov)}" if cov < 1 else ""
        return (f"<Report {self._d['model'].get('id') or '?'} {self.boundary} {len(self._d['phases'])} phases "
                f"{_fmt.energy(self.energy_j)} {_fmt.co2e(self.co2e_g)}; SCI {s}{est}{part}>")


def _report_coverage(phases: list[dict[str, Any]], top: list[dict[str, Any]]) -> dict[str, Any]:
    """The report's ``coverage`` block: the top-level phases' coverage, the threshold, whether there is a headline."""
    covs = [phase_coverage(p) for p in top]
    dur = sum(float(c.get("duration_s", 0.0)) for c in covs)
    meas = sum(float(c.get("measured_s", 0.0)) for c in covs)
    win = sum(int(c.get("windows", 0)) for c in covs)
    win_m = sum(int(c.get("windows_measured", 0)) for c in covs)
    frac = min(1.0, meas / dur) if dur > 0 else (1.0 if win_m == win else (win_m / win if win else 0.0))
    if dur > 0 and win_m < win and frac >= 1.0:  # unmeasured windows of zero length: never round up to full
        frac = 1.0 - 1e-12
    unfilled = sorted({c for p in top for c in p.get("unfilled", ())})
    headline = frac >= COVERAGE_THRESHOLD and not unfilled and all(p["energy_j"]["total"] is not None for p in top)
    errors = tally(*((p.get("error_counts") or {e: 1 for e in p.get("errors") or ()}) for p in phases))
    reasons = [f"{msg} ({n} times)" if n > 1 else msg for msg, n in errors.items()]
    if unfilled:
        reasons.append(f"never measured, cannot be filled: {', '.join(unfilled)}")
    if not headline:
        reasons.append(f"coverage {_fmt.coverage(frac)} is below {_fmt.coverage(COVERAGE_THRESHOLD)} or a gap "
                       "cannot be filled: no headline figure (energy, CO2e, SCI) is given")
    return {
        "measured_fraction": frac, "windows_measured": win_m, "windows": win, "measured_s": meas, "duration_s": dur,
        "measured_j": sum(float(v) for p in top for c, v in p["energy_j"].items() if c != "total" and v is not None),
        "filled_j": sum(float((p.get("energy_j_filled") or {}).get("total", 0.0)) for p in top),
        "threshold": COVERAGE_THRESHOLD, "headline": headline, "unfilled": unfilled, "reasons": reasons[:12],
        "rule": FILL_RULE,
    }


def _legacy_coverage(d: Mapping[str, Any]) -> dict[str, Any]:
    top = [p for p in d.get("phases", []) if p.get("parent") is None]
    return _report_coverage(list(d.get("phases", [])), top)


def _sci_alternatives(top: list[dict[str, Any]], carbon: CarbonIntensity, emb_g: float | None, boundary: str,
                      units: list[FunctionalUnit], rel_measured: float) -> list[dict[str, Any]]:
    """SCI per functional unit. E x I per R of the phases that count the unit (kind = the boundary) comes from their
    fully measured windows (energy and units of the same windows); the other top-level phases (evaluations)
    and M (embodied) are overheads of the run, per R over all units counted."""
    counted = [p for p in top if p.get("kind") == boundary]
    overhead_j = sum(float(p["energy_j"]["total"] or 0.0) for p in top if p.get("kind") != boundary)
    covs = [phase_coverage(p) for p in counted]
    alts = []
    for fu in units:
        r = sum(float(p["counts"].get(fu.count_key, 0)) for p in counted) / fu.scale
        j_per_count = per_unit_j(covs, fu.count_key)
        if r <= 0 or j_per_count is None:
            continue
        epu = j_per_count * fu.scale + overhead_j / r
        operational = sci_value(epu, carbon.g_per_kwh, carbon.pue, None, 1.0)
        r_measured = sum(float((c.get("counts") or {}).get(fu.count_key, 0)) for c in covs) / fu.scale
        alts.append({
            "value": operational + (emb_g or 0.0) / r, "unit": f"gCO2eq per {fu.name}", "functional_unit": fu.name,
            "count_key": fu.count_key, "scale": fu.scale, "r": r, "r_measured": r_measured, "version": SCI_VERSION,
            "energy_j_per_unit": epu, "uncertainty": operational * rel_measured,
        })
    return alts


def _derive(phases: list[dict[str, Any]], carbon: CarbonIntensity, embodied: Embodied | None,
            meters: list[Mapping[str, Any]], boundary: str,
            functional_units: Sequence[str | FunctionalUnit] | None) -> dict[str, Any]:
    top = [p for p in phases if p.get("parent") is None]
    cov = _report_coverage(phases, top)
    head = cov["headline"]
    energy_j = sum(float(p["energy_j"]["total"]) for p in top) if head else None
    co2e_g = carbon.co2e_g(energy_j) if energy_j is not None else None
    rel_by_comp: dict[str, float] = {}
    for m in meters:
        for c in m.get("components", []):
            rel_by_comp[c] = float(m.get("relative_uncertainty", 0.0))
    for p in phases:
        p["energy_uncertainty_j"] = _phase_uncertainty(p, rel_by_comp)
    energy_unc = sum(p["energy_uncertainty_j"] for p in top) if head else None
    rel = energy_unc / energy_j if energy_j and energy_unc is not None else 0.0
    measured_j = cov["measured_j"]
    rel_measured = (sum(abs(float(v)) * rel_by_comp.get(c, 0.0) for p in top for c, v in p["energy_j"].items()
                        if c != "total" and v is not None) / measured_j) if measured_j > 0 else 0.0
    emb_g = embodied.embodied_g if embodied is not None and embodied.included else None
    units = [FUNCTIONAL_UNITS[u] if isinstance(u, str) else u for u in
             (functional_units or default_functional_units(boundary))]
    alts = _sci_alternatives(top, carbon, emb_g, boundary, units, rel_measured) if head else []
    sci = dict(alts[0]) if alts else None
    if sci is not None:
        sci["boundary"] = ("Provider (training, SCI for AI)" if boundary == "training"
                           else "Consumer (inference, SCI for AI)")
        sci["embodied_included"] = emb_g is not None
        sci["basis"] = ("E x I per R from the fully measured windows of the phases that count R (energy and "
                        "units of the same windows); other phases (evaluations) and M per R over all units")
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
        "coverage": cov,
        "uncertainty": {
            "energy_j": energy_unc,
            "co2e_g": co2e_g * rel if co2e_g is not None else None,
            # only E x I is uncertain here: M (embodied) carries no meter uncertainty, so the SCI's +- is the
            # operational part's +- (meter uncertainty of the measured windows it comes from)
            "sci": sci["uncertainty"] if sci else None,
            "relative": rel,
            "basis": "linear sum of per-component meter uncertainty (worst case), plus for filled energy the "
                     "spread of the powers measured around the gap; grid intensity is an annual average and its "
                     "own uncertainty is not included",
            "per_meter": {m.get("meter", "?"): m.get("uncertainty_basis", "") for m in meters},
        },
    }


def _opt_float(x: Any) -> float | None:
    return None if x is None else float(x)


def _dumps(d: Mapping[str, Any]) -> str:
    """Indented JSON with one phase per line (the C encoder: O(phases), not the pure-Python indenting one)."""
    phases = d.get("phases")
    if not isinstance(phases, list) or not phases:
        return json.dumps(d, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    marker = "\u0000phases\u0000"
    body = json.dumps({**d, "phases": marker}, indent=2, ensure_ascii=False, allow_nan=False)
    enc = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": "))
    rows = ",\n    ".join(enc.encode(p) for p in phases)
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
