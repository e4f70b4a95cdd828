"""``scer-hf verify``: recompute a report's, label's or card's figures and say whether they match.

* A **report** (``scer_report.json``): every phase total is the sum of its components,
  every phase's CO2e follows from its energy and the carbon block, and a fresh
  :meth:`Report.build` from the phases gives the same totals, SCI values,
  uncertainty and method; a stored rating is recomputed with ``scer_hf.rate`` when
  that module is present.
* A **label** (``.svg`` from :func:`scer_hf.publish.label.make_label`): the fields embedded in
  its ``<metadata>`` (SCI, grade, digest, QR payload...) equal the ones recomputed
  from the report (``--report``, or the report next to the label whose digest it embeds).
* A **model card** (``README.md``): its ``scer`` metadata block and
  ``co2_eq_emissions`` agree with the report, matched by digest.
* A **folder**: its report; a folder holding several (``scer-hf demo``'s
  ``training_report.json`` and ``inference_report.json``): each of them.

Each check is ``{name, expected, found, ok}``; ``ok`` is None for a check that
could not be run (the reason is in ``note``). The result is ok when no check failed.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .. import _read
from ..core.carbon import J_PER_KWH, CarbonIntensity
from ..core.embodied import Embodied
from ..errors import CardError, ReportError, ReportSchemaError, SCERError, VerificationError
from ..core.report import Report
from ..core import fmt as _fmt
from ..core.report_files import REPORT_NAMES, find_report, report_paths
from ..core.sci import FunctionalUnit

__all__ = ["verify", "verify_report", "verify_label", "verify_card", "Check", "VerificationResult"]

REL_TOL = 1e-9


@dataclass
class Check:
    """One recomputed figure: what the file says (``found``) against the recomputation (``expected``)."""

    name: str
    expected: Any
    found: Any
    ok: bool | None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "expected": self.expected, "found": self.found, "ok": self.ok, "note": self.note}


@dataclass
class VerificationResult:
    """``ok`` is True when no check failed and at least one check ran."""

    target: str
    kind: str
    checks: list[Check] = field(default_factory=list)
    digest: str | None = None

    @property
    def ok(self) -> bool:
        return any(c.ok for c in self.checks) and not any(c.ok is False for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.ok is False]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "target": self.target, "kind": self.kind, "digest": self.digest,
                "checks": [c.to_dict() for c in self.checks]}

    def __repr__(self) -> str:  # the dataclass repr printed every check (~100 for a card)
        bad = self.failed
        what = f"MISMATCH in {', '.join(c.name for c in bad[:3])}{', ...' if len(bad) > 3 else ''}" if bad else (
            "VERIFIED" if self.ok else "nothing checked")
        return f"<VerificationResult {self.kind} {self.target}: {what} ({len(self.checks)} checks; .describe())>"

    def describe(self, verbose: bool = False) -> str:
        """A one-line summary, then the failed and skipped checks (*verbose*: every check)."""
        mark = {True: "ok  ", False: "FAIL", None: "skip"}
        n_ok, n_skip = sum(c.ok is True for c in self.checks), sum(c.ok is None for c in self.checks)
        counts = f"{n_ok} of {len(self.checks)} checks passed" + (f", {len(self.failed)} failed" if self.failed else "") \
            + (f", {n_skip} skipped" if n_skip else "")
        lines = [f"{'VERIFIED' if self.ok else 'MISMATCH'}: {self.target} ({self.kind}): {counts}"]
        for c in self.checks:
            if c.ok is True and not verbose:
                continue
            line = f"  [{mark[c.ok]}] {c.name}"
            if c.ok is False:
                line += f": file says {c.found!r}, recomputed {c.expected!r}"
            if c.note:
                line += f" ({c.note})"
            lines.append(line)
        if not verbose and n_ok:
            lines.append(f"  ({n_ok} passing checks not shown; -v lists every check)")
        return "\n".join(lines)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=1e-12)
    return a == b


def _check(checks: list[Check], name: str, expected: Any, found: Any, note: str = "") -> None:
    checks.append(Check(name, expected, found, _same(expected, found), note))


# ------------------------------------------------------------------ report ------------
def _rebuild(d: Mapping[str, Any]) -> Report:
    emb = d.get("embodied") or {}
    embodied = Embodied(**{k: emb.get(k) for k in Embodied.__dataclass_fields__}) if emb.get("included") else None
    alts = d.get("sci_alternatives") or []
    units = [FunctionalUnit(a["functional_unit"], a["count_key"], float(a.get("scale", 1.0))) for a in alts] or None
    prov = {k: v for k, v in d["provenance"].items() if k not in ("method", "estimated", "note")}
    return Report.build(
        [dict(p) for p in d["phases"]], boundary=d["boundary"], carbon=CarbonIntensity.from_dict(d["carbon"]),
        model=d.get("model"), provenance=prov, embodied=embodied, functional_units=units,
        benchmark=d.get("benchmark"), status=d.get("status", "complete"), run_id=d.get("run_id"), extra=d.get("extra"),
    )


def _stored_rating(d: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for holder in (d, d.get("extra") or {}):
        r = holder.get("rating") if isinstance(holder, Mapping) else None
        if isinstance(r, Mapping):
            return r
    return None


def _check_rating(checks: list[Check], report: Report, stored: Mapping[str, Any] | None, where: str) -> None:
    if not stored:
        return
    try:
        from ..rating import rate  # noqa: PLC0415 - optional sibling module
    except ImportError:
        checks.append(Check(f"{where}.grade", None, None, None, "scer_hf.rating not installed; rating not recomputed"))
        return
    try:
        fresh = rate(report).to_dict()
    except SCERError as exc:
        checks.append(Check(f"{where}", None, None, False, f"rating could not be recomputed: {exc}"))
        return
    for phase in ("training", "inference"):
        s, f = stored.get(phase) or {}, fresh.get(phase) or {}
        if not s:
            continue
        for key in ("grade", "stars", "percentile", "value"):
            if key in s:
                _check(checks, f"{where}.{phase}.{key}", f.get(key), s.get(key))


def verify_report(report: Report | Mapping[str, Any] | str | os.PathLike[str],
                  expected_digest: str | None = None) -> VerificationResult:
    """Recompute every derived figure of a report from its phases and carbon block."""
    target = str(report) if isinstance(report, (str, os.PathLike)) else "report"
    if isinstance(report, Report):
        d = report.to_dict()
    elif isinstance(report, Mapping):
        try:
            d = Report.from_dict(report).to_dict()
        except ReportSchemaError as exc:
            raise VerificationError(f"{target} is not a valid scer-hf report: {exc}") from exc
    else:
        d = _read_json(Path(report))
    res = VerificationResult(target, "report")
    rep = Report.from_dict(d)
    res.digest = rep.digest()
    carbon = CarbonIntensity.from_dict(d["carbon"])
    for i, p in enumerate(d["phases"]):
        comps = sum(v for k, v in p["energy_j"].items() if k != "total")
        _check(res.checks, f"phases[{i}:{p['name']}].energy_j.total", comps, p["energy_j"]["total"])
        if "co2e_g" in p:
            g = p.get("carbon_g_per_kwh", carbon.g_per_kwh)  # a live reading recorded per phase
            _check(res.checks, f"phases[{i}:{p['name']}].co2e_g",
                   p["energy_j"]["total"] / J_PER_KWH * carbon.pue * g, p["co2e_g"])
    try:
        fresh = _rebuild(d).to_dict()
    except SCERError as exc:
        res.checks.append(Check("rebuild", None, None, False, f"the report cannot be rebuilt from its phases: {exc}"))
        return res
    for i, (fp, dp) in enumerate(zip(fresh["phases"], d["phases"])):
        _check(res.checks, f"phases[{i}:{dp['name']}].energy_uncertainty_j", fp.get("energy_uncertainty_j"),
               dp.get("energy_uncertainty_j"))
    for key in ("energy_j", "co2e_g", "embodied_g"):
        _check(res.checks, key, fresh[key], d.get(key))
    fs, ds = fresh.get("sci"), d.get("sci")
    _check(res.checks, "sci.value", fs and fs["value"], ds and ds.get("value"))
    _check(res.checks, "sci.unit", fs and fs["unit"], ds and ds.get("unit"))
    _check(res.checks, "sci.r", fs and fs["r"], ds and ds.get("r"))
    if ds and "shown_unit" in ds:  # reports from before scer-hf 0.x did not record the unit shown
        _check(res.checks, "sci.shown_unit", fs and fs.get("shown_unit"), ds.get("shown_unit"), "unit people read")
    for i, (fa, da) in enumerate(zip(fresh.get("sci_alternatives", []), d.get("sci_alternatives", []))):
        _check(res.checks, f"sci_alternatives[{i}].value", fa["value"], da.get("value"), fa["unit"])
    _check(res.checks, "sci_alternatives.count", len(fresh.get("sci_alternatives", [])),
           len(d.get("sci_alternatives", [])))
    for key in ("energy_j", "co2e_g", "sci"):
        _check(res.checks, f"uncertainty.{key}", fresh["uncertainty"][key], (d.get("uncertainty") or {}).get(key))
    for key in ("method", "estimated"):
        _check(res.checks, f"provenance.{key}", fresh["provenance"][key], d["provenance"].get(key))
    if expected_digest:
        _check(res.checks, "digest", res.digest, expected_digest)
    _check_rating(res.checks, rep, _stored_rating(d), "rating")
    return res


# ------------------------------------------------------------------ label -------------
def _label_meta(path: Path) -> dict[str, Any]:
    text = _read.read_text(path, what="label", error=VerificationError)  # a regular file, size cap, UTF-8
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise VerificationError(f"{path} is not a readable SVG label (XML error at line {exc.position[0]}); was it "
                                "made by `scer-hf label`?") from None
    for el in root.iter():
        if el.tag.endswith("metadata") and el.get("id") == "scer-label-data":
            meta = _read.loads_json(el.text or "", where=f"{path} (label metadata)", what="label",
                                    error=VerificationError)
            if not isinstance(meta, dict):
                raise VerificationError(f"{path}: label metadata is not a JSON object; was it made by `scer-hf label`?")
            return meta
    raise VerificationError(f"{path} has no scer-hf label metadata; was it made by `scer-hf label`?")


def verify_label(label_path: str | os.PathLike[str], report: Report | str | os.PathLike[str] | None = None,
                 rating: Any = None) -> VerificationResult:
    """Recompute a label's fields from its report and compare them with the SVG's metadata."""
    from .label import _META_KEYS, label_fields  # noqa: PLC0415 - avoid a cycle at import

    p = Path(label_path)
    meta = _label_meta(p)
    rep = report if isinstance(report, Report) else (
        Report.load(report) if report is not None else _report_beside_label(p, meta))
    inner = verify_report(rep)
    res = VerificationResult(str(p), "label", list(inner.checks), inner.digest)
    url = meta.get("qr") if meta.get("qr", "").startswith(("http://", "https://")) else None
    grade_given = meta.get("grade") is not None or meta.get("stars") is not None
    fields = label_fields(rep, rating, url, auto_rate=grade_given)
    _check(res.checks, "label.digest", rep.digest(), meta.get("digest"), "label made from this report")
    for key in _META_KEYS:
        if key == "digest":
            continue
        if key in ("grade", "stars") and rating is None and grade_given and fields.get(key) is None:
            res.checks.append(Check(f"label.{key}", None, meta.get(key), None,
                                    "rating not recomputable here; pass --rating"))
            continue
        if key in _LATER_META_KEYS and key not in meta:  # a label made before this field was recorded
            res.checks.append(Check(f"label.{key}", fields.get(key), None, None, "not recorded by this label's version"))
            continue
        _check(res.checks, f"label.{key}", fields.get(key), meta.get(key))
    return res


#: label metadata added after the first release: labels without them still verify (the field is skipped)
_LATER_META_KEYS = frozenset({"sci_unit_shown"})


# ------------------------------------------------------------------ card --------------
def _front_matter(path: Path) -> dict[str, Any]:
    """The card's metadata, split exactly as ``update_card`` and the Hub split it (BOM, CRLF included)."""
    from .card.splice import split_card  # noqa: PLC0415

    text = _read.read_text(path, what="model card", error=VerificationError)  # a regular file, size cap, UTF-8
    try:
        card = split_card(text)
    except CardError as exc:
        raise VerificationError(f"{path}: YAML metadata does not parse: {exc}") from exc
    if not card.has_front_matter:
        raise VerificationError(f"{path} has no YAML metadata block; write one with `scer-hf card update`")
    return card.data if isinstance(card.data, dict) else {}


def _report_beside_label(p: Path, meta: Mapping[str, Any]) -> Report:
    """The report next to a label that it was made from: matched by the digest the label embeds."""
    beside = _reports_beside(p)
    match = [r for r in beside if r.digest() == meta.get("digest")]
    if match:
        return match[0]
    same_boundary = [r for r in beside if r.boundary == meta.get("boundary")]
    if len(same_boundary) == 1:  # the label's boundary has one report there, changed since: the checks say so
        return same_boundary[0]
    names = ", ".join(REPORT_NAMES)
    raise VerificationError(f"no report beside {p} has the label's digest {meta.get('digest')} (looked for {names}, "
                            "scer_report.*.json); pass --report REPORT.json")


def _reports_beside(card: Path) -> list[Report]:
    """The scer-hf reports stored next to a card or label (see :mod:`scer_hf.core.report_files`), unreadable ones skipped."""
    out = []
    for f in report_paths(card.parent):
        try:
            out.append(Report.load(f))
        except SCERError:
            continue
    return out


def verify_card(card_path: str | os.PathLike[str],
                report: Report | str | os.PathLike[str] | None = None) -> VerificationResult:
    """Compare a model card's ``scer.<boundary>`` blocks, ratings and ``co2_eq_emissions`` with reports.

    With *report*, that report's boundary is checked. Without, every boundary the card
    carries is checked against the ``scer_report*.json`` beside the card whose digest
    the card names (a boundary with no such report is a failed check).
    """
    p = Path(card_path)
    meta = _front_matter(p)
    block = meta.get("scer")
    if not isinstance(block, Mapping):
        raise VerificationError(f"{p} has no 'scer' metadata block; write one with `scer-hf card`")
    if report is not None:
        rep = report if isinstance(report, Report) else Report.load(report)
        return _verify_card_boundary(p, meta, block, rep)
    beside = _reports_beside(p)
    boundaries = [b for b in ("training", "inference") if isinstance(block.get(b), Mapping)]
    if not beside or not boundaries:
        raise VerificationError(f"no report to check {p} against; put its scer_report.json beside the card "
                                "or pass --report scer_report.json")
    res: VerificationResult | None = None
    for b in boundaries:
        want = block[b].get("report_digest")
        match = [r for r in beside if r.boundary == b and r.digest() == want] or [r for r in beside if r.boundary == b]
        if not match:
            part = VerificationResult(str(p), "card", [Check(f"card.scer.{b}.report", "a report beside the card",
                                                             None, False, f"no {b} scer_report*.json beside the card")])
        else:
            part = _verify_card_boundary(p, meta, block, match[0])
        for c in part.checks:  # name each report's own checks after its boundary
            if not c.name.startswith("card."):
                c.name = f"{b} report: {c.name}"
        if res is None:
            res = part
        else:
            res.checks.extend(part.checks)
    assert res is not None
    return res


def _verify_card_boundary(p: Path, meta: Mapping[str, Any], block: Mapping[str, Any],
                          rep: Report) -> VerificationResult:
    inner = verify_report(rep)
    res = VerificationResult(str(p), "card", list(inner.checks), inner.digest)
    d, b = rep.to_dict(), rep.boundary
    entry = block.get(b)
    if not isinstance(entry, Mapping):
        res.checks.append(Check(f"card.scer.{b}", "present", None, False, f"the card has no {b} figures"))
        return res
    _check(res.checks, f"card.scer.{b}.report_digest", rep.digest(), entry.get("report_digest"),
           "card written from this report")
    sci = d.get("sci") or {}
    wanted = {"energy_j": d["energy_j"], "co2e_g": d["co2e_g"], "embodied_g": d.get("embodied_g"),
              "method": d["provenance"].get("method"), "estimated": bool(d["provenance"].get("estimated")),
              "sci.value": sci.get("value"), "sci.unit": sci.get("unit"), "sci.version": sci.get("version"),
              "grid.g_per_kwh": d["carbon"].get("g_per_kwh"), "grid.pue": d["carbon"].get("pue")}
    flat = _flatten(entry)
    if "sci.shown_unit" in flat:  # the unit the card shows (cards before it was recorded lack it)
        wanted["sci.shown_unit"] = _fmt.sci_display(d.get("sci"))["unit"] if d.get("sci") else None
    for key, expected in wanted.items():
        if key in flat or expected is not None:
            _check(res.checks, f"card.scer.{b}.{key}", expected, flat.get(key))
    by_name = {ph["name"]: ph for ph in d["phases"]}
    for i, ph in enumerate(entry.get("phases") or []):
        src = by_name.get(ph.get("name")) if isinstance(ph, Mapping) else None
        if src is None:
            res.checks.append(Check(f"card.scer.{b}.phases[{i}]", None, ph, False, "phase not in the report"))
            continue
        _check(res.checks, f"card.scer.{b}.phases[{i}:{src['name']}].energy_j", src["energy_j"]["total"],
               ph.get("energy_j"))
        if "co2e_g" in ph:
            _check(res.checks, f"card.scer.{b}.phases[{i}:{src['name']}].co2e_g", src.get("co2e_g"), ph["co2e_g"])
    co2 = meta.get("co2_eq_emissions")
    if b == "training" and isinstance(co2, Mapping) and co2.get("source") == "scer-hf":
        _check(res.checks, "card.co2_eq_emissions.emissions", d["co2e_g"], co2.get("emissions"), "grams (Hub spec)")
    rating = block.get("rating")
    if isinstance(rating, Mapping) and isinstance(rating.get(b), Mapping) and rating[b].get("available", True):
        _check_rating(res.checks, rep, {b: rating[b]}, "card.scer.rating")
    return res


def _flatten(m: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in m.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


# ------------------------------------------------------------------ dispatch ----------
def _read_json(p: Path) -> dict[str, Any]:
    """The report at *p* (a folder: the report in it), read through the one door (:meth:`Report.load`)."""
    p = find_report(p)
    try:
        return Report.load(p).to_dict()
    except ReportSchemaError as exc:
        raise VerificationError(f"{p} is not a valid scer-hf report: {exc}") from exc
    except ReportError as exc:
        raise VerificationError(f"{p} is not a JSON report: {exc}") from exc


def verify(target: Report | Mapping[str, Any] | str | os.PathLike[str],
           report: Report | str | os.PathLike[str] | None = None, *, rating: Any = None) -> VerificationResult:
    """Verify a report (JSON), a label (``.svg``) or a model card (``.md``); see the module doc."""
    if isinstance(target, (Report, Mapping)):
        return verify_report(target)
    p = Path(target)
    if not p.exists():
        raise VerificationError(f"nothing to verify at {p}: give a scer_report.json, a label .svg or a README.md")
    if p.suffix.lower() == ".svg":
        return verify_label(p, report, rating)
    if p.suffix.lower() in (".md", ".markdown"):
        return verify_card(p, report)
    if p.is_dir() and report is None and len(report_paths(p)) > 1:  # e.g. the demo folder: every report in it
        res = VerificationResult(str(p), "reports")
        for f in report_paths(p):
            part = verify_report(f)
            res.checks.extend(Check(f"{f.name}: {c.name}", c.expected, c.found, c.ok, c.note) for c in part.checks)
        return res
    res = verify_report(p)
    if report is not None:  # compare with another copy of the same report
        other = report if isinstance(report, Report) else Report.load(report)
        _check(res.checks, "digest", other.digest(), res.digest, "same report as --report")
    return res
