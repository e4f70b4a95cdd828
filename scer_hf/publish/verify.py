"""``scer-hf verify``: recompute a report's figures, and every figure a person reads in its outputs.

* A **report** (``scer_report.json``): every phase total is the sum of its components, every phase's CO2e
  follows from its energy and the carbon block, and a fresh :meth:`Report.build` from the phases gives the
  same totals, SCI values, uncertainty and method; a stored rating is recomputed with ``scer_hf.rate``.
* A **label** (``.svg``): the fields in its ``<metadata>`` equal the ones recomputed from the report
  (``--report``, or the report beside the label whose digest it embeds), and **what it draws** (headline, phase
  rows, grade tile, stars, facts, QR code, its verify command) equals the label re-drawn from the report, line by
  line (:mod:`scer_hf.publish.verify_views`).
* A **model card** (``README.md``): its ``scer`` metadata and ``co2_eq_emissions`` agree with the reports
  beside it, matched by digest, the rating was made from that report, and its SCER section reads exactly as
  the section rendered again from the reports; the label and report it links are beside it.
* An **HTML report** (``.html``): the page's visible text equals the page rendered again from its report.
* A **folder**: each report in it, and each label, HTML report and card scer-hf wrote there.

A rating given with ``rating=`` (``--rating``) must be the report's own, or
:class:`~scer_hf.errors.RatingMismatchError` names the field that differs (model, boundary, report digest).
Each check is ``{name, expected, found, ok}``; ``ok`` is None for a check that could not be run (the reason is
in ``note``). The result is ok when no check failed.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import _read
from ..core import fmt as _fmt
from ..core.carbon import J_PER_KWH, CarbonIntensity
from ..core.embodied import Embodied
from ..core.report import Report
from ..core.report_files import REPORT_NAMES, find_report, report_paths
from ..core.sci import FunctionalUnit
from ..errors import CardError, ReportError, ReportSchemaError, SCERError, VerificationError
from .checks import REL_TOL, Check, VerificationResult, check

__all__ = ["verify", "verify_report", "verify_label", "verify_card", "verify_html", "verify_folder", "Check",
           "VerificationResult"]


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


def _check_coverage(checks: list[Check], where: str, p: Mapping[str, Any]) -> None:
    """A phase's coverage agrees with itself: the measured share, and per-unit counts that are the counts of the
    measured windows (at most the phase's counts; all of them when every window was measured)."""
    cov = p.get("coverage")
    if not isinstance(cov, Mapping):
        return
    dur, meas = float(cov.get("duration_s") or 0.0), float(cov.get("measured_s") or 0.0)
    if dur > 0:
        check(checks, f"{where}.coverage.measured_fraction", min(1.0, meas / dur), cov.get("measured_fraction"))
    full = cov.get("windows_measured") == cov.get("windows")
    counts = p.get("counts") or {}
    for k, v in (cov.get("counts") or {}).items():
        have = float(counts.get(k, 0))
        if full or float(v) > have * (1 + REL_TOL):
            check(checks, f"{where}.coverage.counts.{k}", have if full else f"<= {have}", v,
                   "counts of the measured windows")


def _stored_rating(d: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for holder in (d, d.get("extra") or {}):
        r = holder.get("rating") if isinstance(holder, Mapping) else None
        if isinstance(r, Mapping):
            return r
    return None


def _check_rating(checks: list[Check], report: Report, stored: Mapping[str, Any] | None, where: str) -> None:
    if not stored:
        return
    from ..rating import rate

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
                check(checks, f"{where}.{phase}.{key}", f.get(key), s.get(key))


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
        filled = float((p.get("energy_j_filled") or {}).get("total", 0.0))
        total = p["energy_j"]["total"]
        check(res.checks, f"phases[{i}:{p['name']}].energy_j.total", comps + filled if total is not None else None,
               total, "measured + filled")
        if "co2e_g" in p and total is not None:
            g = p.get("carbon_g_per_kwh", carbon.g_per_kwh)  # a live reading recorded per phase
            check(res.checks, f"phases[{i}:{p['name']}].co2e_g", total / J_PER_KWH * carbon.pue * g, p["co2e_g"])
        _check_coverage(res.checks, f"phases[{i}:{p['name']}]", p)
    try:
        fresh = _rebuild(d).to_dict()
    except SCERError as exc:
        res.checks.append(Check("rebuild", None, None, False, f"the report cannot be rebuilt from its phases: {exc}"))
        return res
    for i, (fp, dp) in enumerate(zip(fresh["phases"], d["phases"], strict=False)):
        where = f"phases[{i}:{dp['name']}]"
        check(res.checks, f"{where}.energy_uncertainty_j", fp.get("energy_uncertainty_j"),
               dp.get("energy_uncertainty_j"))
        if isinstance(dp.get("coverage"), Mapping):  # the fill, recomputed from the coverage by the documented rule
            check(res.checks, f"{where}.energy_j.total", fp["energy_j"]["total"], dp["energy_j"]["total"], "fill rule")
            check(res.checks, f"{where}.energy_j_filled.total", (fp.get("energy_j_filled") or {}).get("total"),
                   (dp.get("energy_j_filled") or {}).get("total"), "fill rule")
    if isinstance(d.get("coverage"), Mapping):
        for key in ("measured_fraction", "headline", "filled_j", "windows_measured", "windows"):
            check(res.checks, f"coverage.{key}", fresh["coverage"][key], d["coverage"].get(key))
    for key in ("energy_j", "co2e_g", "embodied_g"):
        check(res.checks, key, fresh[key], d.get(key))
    fs, ds = fresh.get("sci"), d.get("sci")
    check(res.checks, "sci.value", fs and fs["value"], ds and ds.get("value"))
    check(res.checks, "sci.unit", fs and fs["unit"], ds and ds.get("unit"))
    check(res.checks, "sci.r", fs and fs["r"], ds and ds.get("r"))
    if ds and "shown_unit" in ds:  # reports from before scer-hf 0.x did not record the unit shown
        check(res.checks, "sci.shown_unit", fs and fs.get("shown_unit"), ds.get("shown_unit"), "unit people read")
    for i, (fa, da) in enumerate(zip(fresh.get("sci_alternatives", []), d.get("sci_alternatives", []), strict=False)):
        check(res.checks, f"sci_alternatives[{i}].value", fa["value"], da.get("value"), fa["unit"])
    check(res.checks, "sci_alternatives.count", len(fresh.get("sci_alternatives", [])),
           len(d.get("sci_alternatives", [])))
    for key in ("energy_j", "co2e_g", "sci"):
        check(res.checks, f"uncertainty.{key}", fresh["uncertainty"][key], (d.get("uncertainty") or {}).get(key))
    for key in ("method", "estimated"):
        check(res.checks, f"provenance.{key}", fresh["provenance"][key], d["provenance"].get(key))
    if expected_digest:
        check(res.checks, "digest", res.digest, expected_digest)
    _check_rating(res.checks, rep, _stored_rating(d), "rating")
    return res


# ------------------------------------------------------------------ label -------------
def _label_meta(path: Path) -> tuple[str, dict[str, Any]]:
    """The label's SVG text and the fields its ``<metadata>`` embeds."""
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
            return text, meta
    raise VerificationError(f"{path} has no scer-hf label metadata; was it made by `scer-hf label`?")


def verify_label(label_path: str | os.PathLike[str], report: Report | str | os.PathLike[str] | None = None,
                 rating: Any = None) -> VerificationResult:
    """Recompute a label from its report: its ``<metadata>`` fields, and everything it draws, line by line.

    *rating* (a Rating, dict or JSON path) must be the report's own: another model's, boundary's or report's
    rating raises :class:`~scer_hf.errors.RatingMismatchError` naming the field that differs.
    """
    from .label import _META_KEYS, label_fields  # avoid a cycle at import
    from .verify_views import label_view_checks, rating_for

    p = Path(label_path)
    svg, meta = _label_meta(p)
    rep = report if isinstance(report, Report) else (
        Report.load(report) if report is not None else _report_beside_label(p, meta))
    inner = verify_report(rep)
    res = VerificationResult(str(p), "label", list(inner.checks), inner.digest)
    url = meta.get("qr") if str(meta.get("qr", "")).startswith(("http://", "https://")) else None
    rated = bool(meta.get("rated", meta.get("grade") is not None or meta.get("stars") is not None))
    fields = label_fields(rep, rating_for(rep, rating, rated), url, auto_rate=False)
    check(res.checks, "label.digest", rep.digest(), meta.get("digest"), "label made from this report")
    for key in _META_KEYS:
        if key == "digest":
            continue
        if key in _LATER_META_KEYS and key not in meta:  # a label made before this field was recorded
            res.checks.append(Check(f"label.{key}", fields.get(key), None, None,
                                    "not recorded by this label's version"))
            continue
        check(res.checks, f"label.{key}", fields.get(key), meta.get(key))
    res.checks += label_view_checks(p, svg, meta, rep, rating)
    return res


#: label metadata added after the first release: labels without them still verify (the field is skipped)
_LATER_META_KEYS = frozenset({"sci_unit_shown", "coverage"})


# ------------------------------------------------------------------ card --------------
def _front_matter(path: Path) -> tuple[str, dict[str, Any]]:
    """The card's text and metadata, split exactly as ``update_card`` and the Hub split it (BOM, CRLF included)."""
    from .card.splice import split_card

    text = _read.read_text(path, what="model card", error=VerificationError)  # a regular file, size cap, UTF-8
    try:
        card = split_card(text)
    except CardError as exc:
        raise VerificationError(f"{path}: YAML metadata does not parse: {exc}") from exc
    if not card.has_front_matter:
        raise VerificationError(f"{path} has no YAML metadata block; write one with `scer-hf card update`")
    return text, card.data if isinstance(card.data, dict) else {}


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
    """The scer-hf reports stored next to a card or label (see :mod:`scer_hf.core.report_files`), unreadable ones
    skipped."""
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
    the card names (a boundary with no such report is a failed check). Then the card's SCER section, as a
    person reads it, is rendered again from those reports and compared line by line, and the files it links
    must be beside it.
    """
    from .verify_views import card_view_checks

    p = Path(card_path)
    text, meta = _front_matter(p)
    block = meta.get("scer")
    if not isinstance(block, Mapping):
        raise VerificationError(f"{p} has no 'scer' metadata block; write one with `scer-hf card`")
    if report is not None:
        rep = report if isinstance(report, Report) else Report.load(report)
        res = _verify_card_boundary(p, meta, block, rep)
        res.checks += card_view_checks(p, text, block, meta.get("co2_eq_emissions"), {rep.boundary: rep})
        return res
    beside = _reports_beside(p)
    boundaries = [b for b in ("training", "inference") if isinstance(block.get(b), Mapping)]
    if not beside or not boundaries:
        raise VerificationError(f"no report to check {p} against; put its scer_report.json beside the card "
                                "or pass --report scer_report.json")
    res: VerificationResult | None = None
    matched: dict[str, Report] = {}
    for b in boundaries:
        want = block[b].get("report_digest")
        match = [r for r in beside if r.boundary == b and r.digest() == want] or [r for r in beside if r.boundary == b]
        if not match:
            part = VerificationResult(str(p), "card", [Check(f"card.scer.{b}.report", "a report beside the card",
                                                             None, False, f"no {b} scer_report*.json beside the card")])
        else:
            matched[b] = match[0]
            part = _verify_card_boundary(p, meta, block, match[0])
        for c in part.checks:  # name each report's own checks after its boundary
            if not c.name.startswith("card."):
                c.name = f"{b} report: {c.name}"
        if res is None:
            res = part
        else:
            res.checks.extend(part.checks)
    assert res is not None
    res.checks += card_view_checks(p, text, block, meta.get("co2_eq_emissions"), matched)
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
    check(res.checks, f"card.scer.{b}.report_digest", rep.digest(), entry.get("report_digest"),
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
            check(res.checks, f"card.scer.{b}.{key}", expected, flat.get(key))
    by_name = {ph["name"]: ph for ph in d["phases"]}
    for i, ph in enumerate(entry.get("phases") or []):
        src = by_name.get(ph.get("name")) if isinstance(ph, Mapping) else None
        if src is None:
            res.checks.append(Check(f"card.scer.{b}.phases[{i}]", None, ph, False, "phase not in the report"))
            continue
        check(res.checks, f"card.scer.{b}.phases[{i}:{src['name']}].energy_j", src["energy_j"]["total"],
               ph.get("energy_j"))
        if "co2e_g" in ph:
            check(res.checks, f"card.scer.{b}.phases[{i}:{src['name']}].co2e_g", src.get("co2e_g"), ph["co2e_g"])
    co2 = meta.get("co2_eq_emissions")
    if b == "training" and isinstance(co2, Mapping) and co2.get("source") == "scer-hf":
        check(res.checks, "card.co2_eq_emissions.emissions", d["co2e_g"], co2.get("emissions"), "grams (Hub spec)")
    if isinstance(entry.get("facts"), list):  # the facts the section shows (scer_hf.publish.figures)
        from .figures import fact_dicts

        check(res.checks, f"card.scer.{b}.facts", fact_dicts(d), entry.get("facts"), "facts beside the figures")
    rating = block.get("rating")
    if isinstance(rating, Mapping) and isinstance(rating.get(b), Mapping) and rating[b].get("available", True):
        if "report_digest" in rating[b]:  # the rating was made from this report, not another one
            check(res.checks, f"card.scer.rating.{b}.report_digest", rep.digest(), rating[b].get("report_digest"),
                  "rating made from this report")
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


def verify_html(html_path: str | os.PathLike[str], report: Report | str | os.PathLike[str] | None = None,
                rating: Any = None) -> VerificationResult:
    """Recompute an HTML report from its report (beside it, matched by the digest the page names, or
    *report*) and compare the page's visible text with it, line by line."""
    from .verify_views import html_meta, html_view_checks

    p = Path(html_path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise VerificationError(f"{p} is not a readable HTML report (UTF-8 text): {exc}") from exc
    digest = html_meta(text).get("scer-report-digest")
    if report is not None:
        rep = report if isinstance(report, Report) else Report.load(report)
    else:
        if digest is None:
            raise VerificationError(f"{p} names no report digest; was it made by `scer-hf report`?")
        match = [r for r in _reports_beside(p) if r.digest() == digest]
        if not match:
            raise VerificationError(f"no report beside {p} has the page's digest {digest[:19]}... (looked for "
                                    f"{', '.join(REPORT_NAMES)}, scer_report.*.json); pass --report REPORT.json")
        rep = match[0]
    inner = verify_report(rep)
    res = VerificationResult(str(p), "html", list(inner.checks), inner.digest)
    check(res.checks, "page.digest", rep.digest(), digest, "page made from this report")
    res.checks += html_view_checks(p, text, rep, rating)
    return res


def _is_ours(p: Path) -> bool:
    """A label, page or card scer-hf wrote (it names its report), so a folder check covers it."""
    try:
        head = p.read_text(encoding="utf-8", errors="replace")[:200_000]
    except OSError:
        return False
    marks = {".svg": "scer-label-data", ".html": "scer-report-digest", ".md": "scer-hf:start"}
    return marks.get(p.suffix.lower(), "\0") in head


def verify_folder(folder: str | os.PathLike[str]) -> VerificationResult:
    """Every report in *folder* and every label, HTML report and model card scer-hf wrote there."""
    d = Path(folder)
    res = VerificationResult(str(d), "folder")
    parts = [(f, verify_report(f)) for f in report_paths(d)]
    for f in sorted(d.iterdir()):
        if f.is_file() and f.suffix.lower() in (".svg", ".html", ".md") and _is_ours(f):
            parts.append((f, verify(f)))
    for f, part in parts:
        res.checks.extend(Check(f"{f.name}: {c.name}", c.expected, c.found, c.ok, c.note) for c in part.checks)
    return res


def verify(target: Report | Mapping[str, Any] | str | os.PathLike[str],
           report: Report | str | os.PathLike[str] | None = None, *, rating: Any = None) -> VerificationResult:
    """Verify a report (JSON), a label (``.svg``), an HTML report (``.html``), a model card (``.md``) or a folder
    (every report, label, page and card in it); see the module doc."""
    if isinstance(target, (Report, Mapping)):
        return verify_report(target)
    p = Path(target)
    if not p.exists():
        raise VerificationError(f"nothing to verify at {p}: give a scer_report.json, a label .svg, an HTML report, "
                                "a README.md or their folder")
    suffix = p.suffix.lower()
    if suffix == ".svg":
        return verify_label(p, report, rating)
    if suffix in (".html", ".htm"):
        return verify_html(p, report, rating)
    if suffix in (".md", ".markdown"):
        return verify_card(p, report)
    if p.is_dir() and report is None and len(report_paths(p)) > 1:  # e.g. the demo folder: everything in it
        return verify_folder(p)
    res = verify_report(p)
    if report is not None:  # compare with another copy of the same report
        other = report if isinstance(report, Report) else Report.load(report)
        check(res.checks, "digest", other.digest(), res.digest, "same report as --report")
    return res
