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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _read
from ..core import fmt as _fmt
from ..core.report import Report
from ..core.report_files import REPORT_NAMES, report_paths
from ..core.report_views import SciView
from ..errors import CardError, SCERError, VerificationError
from .checks import Check, VerificationResult, check, same
from .recompute import _check_rating, verify_report
from .recompute import _rebuild as _rebuild  # earlier home, kept for modules that import it here

if TYPE_CHECKING:
    from .card.meta import CardBoundary, CardMeta, CardPhase, CardRating, ScerBlock
    from .verify_views import LabelMeta

__all__ = ["verify", "verify_report", "verify_label", "verify_card", "verify_html", "verify_folder", "Check",
           "VerificationResult"]


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
    from .verify_views import LabelMeta, label_view_checks, rating_for

    p = Path(label_path)
    svg, raw = _label_meta(p)
    meta = LabelMeta.of(raw)
    rep = report if isinstance(report, Report) else (
        Report.load(report) if report is not None else _report_beside_label(p, meta))
    inner = verify_report(rep)
    res = VerificationResult(str(p), "label", list(inner.checks), inner.digest)
    fields = label_fields(rep, rating_for(rep, rating, meta.rated), meta.url, auto_rate=False)
    check(res.checks, "label.digest", rep.digest(), meta.digest, "label made from this report")
    res.checks += [_meta_check(key, fields, meta.fields) for key in _META_KEYS if key != "digest"]
    res.checks += label_view_checks(p, svg, meta, rep, rating)
    return res


def _meta_check(key: str, fields: Mapping[str, Any], meta: Mapping[str, Any]) -> Check:
    """One metadata field of the label against its recomputation; skipped for a field added after the label's
    version (see :data:`_LATER_META_KEYS`)."""
    if key in _LATER_META_KEYS and key not in meta:  # a label made before this field was recorded
        return Check(f"label.{key}", fields.get(key), None, None, "not recorded by this label's version")
    return Check(f"label.{key}", fields.get(key), meta.get(key), same(fields.get(key), meta.get(key)))


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


def _report_beside_label(p: Path, meta: LabelMeta) -> Report:
    """The report next to a label that it was made from: matched by the digest the label embeds."""
    beside = _reports_beside(p)
    match = [r for r in beside if r.digest() == meta.digest]
    if match:
        return match[0]
    same_boundary = [r for r in beside if r.boundary == meta.boundary]
    if len(same_boundary) == 1:  # the label's boundary has one report there, changed since: the checks say so
        return same_boundary[0]
    names = ", ".join(REPORT_NAMES)
    raise VerificationError(f"no report beside {p} has the label's digest {meta.digest} (looked for {names}, "
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
    from .card.meta import CardMeta
    from .verify_views import card_view_checks

    p = Path(card_path)
    text, data = _front_matter(p)
    meta = CardMeta.from_yaml(data)
    block = meta.scer
    if block is None:
        raise VerificationError(f"{p} has no 'scer' metadata block; write one with `scer-hf card`")
    if report is not None:
        rep = report if isinstance(report, Report) else Report.load(report)
        res = _verify_card_boundary(p, meta, block, rep)
        matched = {rep.boundary: rep}
    else:
        res, matched = _verify_card_beside(p, meta, block)
    res.checks += card_view_checks(p, text, block, meta.co2, matched)
    return res


def _verify_card_beside(p: Path, meta: CardMeta, block: ScerBlock) -> tuple[VerificationResult, dict[str, Report]]:
    """Every boundary the card carries, against the report beside it that the card names (or of its boundary)."""
    beside = _reports_beside(p)
    entries = block.entries
    if not beside or not entries:
        raise VerificationError(f"no report to check {p} against; put its scer_report.json beside the card "
                                "or pass --report scer_report.json")
    res = VerificationResult(str(p), "card")
    matched: dict[str, Report] = {}
    for b, entry in entries:
        rep = _report_for(beside, b, entry.report_digest)
        if rep is None:
            res.checks.append(_no_report_beside(b))
            continue
        matched[b] = rep
        part = _verify_card_boundary(p, meta, block, rep)
        res.checks.extend(_named_after(b, part.checks))
        if b == entries[0][0]:  # the result carries the first boundary's report digest
            res.digest = part.digest
    return res, matched


def _no_report_beside(b: str) -> Check:
    """The failed check of a boundary the card carries without its report beside it."""
    return Check(f"card.scer.{b}.report", "a report beside the card", None, False,
                 f"no {b} scer_report*.json beside the card")


def _named_after(boundary: str, checks: list[Check]) -> list[Check]:
    """*checks* with each report's own checks (not the card's) named after its *boundary* (in place)."""
    for c in checks:
        if not c.name.startswith("card."):
            c.name = f"{boundary} report: {c.name}"
    return checks


def _report_for(beside: list[Report], boundary: str, digest: object) -> Report | None:
    """The report of *boundary* the card names by *digest*, else the first of that boundary (the checks then say
    how it differs), else None."""
    mine = [r for r in beside if r.boundary == boundary]
    return next((r for r in mine if r.digest() == digest), mine[0] if mine else None)


def _verify_card_boundary(p: Path, meta: CardMeta, block: ScerBlock, rep: Report) -> VerificationResult:
    """One boundary of a card against its report: the report itself, then the card's figures, phases, Hub
    emissions field, facts and rating."""
    inner = verify_report(rep)
    res = VerificationResult(str(p), "card", list(inner.checks), inner.digest)
    b = rep.boundary
    entry = block.boundary(b)
    if entry is None:
        res.checks.append(Check(f"card.scer.{b}", "present", None, False, f"the card has no {b} figures"))
        return res
    check(res.checks, f"card.scer.{b}.report_digest", rep.digest(), entry.report_digest,
          "card written from this report")
    _check_card_figures(res.checks, f"card.scer.{b}", rep, entry)
    _check_card_phases(res.checks, f"card.scer.{b}", rep, entry.phases)
    if b == "training" and meta.co2_source == "scer-hf":
        check(res.checks, "card.co2_eq_emissions.emissions", rep.co2e_g, meta.co2_emissions, "grams (Hub spec)")
    if isinstance(entry.facts, list):  # the facts the section shows (scer_hf.publish.figures)
        from .figures import fact_dicts

        check(res.checks, f"card.scer.{b}.facts", fact_dicts(rep), entry.facts, "facts beside the figures")
    _check_card_rating(res.checks, rep, block.ratings.get(b))
    return res


def _figure(keys: frozenset[str], name: str, value: object) -> object:
    """A figure as the card writes it, or :data:`_ABSENT` when it writes none there (missing, or a mapping)."""
    return value if name in keys and not isinstance(value, Mapping) else _ABSENT


_ABSENT = object()


def _check_card_figures(checks: list[Check], where: str, rep: Report, entry: CardBoundary) -> None:
    """The card's exact figures (``scer.<boundary>``) against the report's: each one the card writes, and each one
    the report has."""
    from .card.meta import CardGrid, CardSci

    r = rep.view
    sci, carbon = r.sci or SciView(), r.carbon  # the block as written: a report may leave pue out
    e, cs, cg = entry, entry.sci or CardSci.from_dict({}), entry.grid or CardGrid.from_dict({})
    rows = [("energy_j", rep.energy_j, _figure(e.keys, "energy_j", e.energy_j)),
            ("co2e_g", rep.co2e_g, _figure(e.keys, "co2e_g", e.co2e_g)),
            ("embodied_g", rep.embodied_g, _figure(e.keys, "embodied_g", e.embodied_g)),
            ("method", r.provenance.method, _figure(e.keys, "method", e.method)),
            ("estimated", rep.estimated, _figure(e.keys, "estimated", e.estimated)),
            ("sci.value", sci.value, _figure(cs.keys, "value", cs.value)),
            ("sci.unit", sci.unit, _figure(cs.keys, "unit", cs.unit)),
            ("sci.version", sci.version, _figure(cs.keys, "version", cs.version)),
            ("grid.g_per_kwh", carbon.g_per_kwh, _figure(cg.keys, "g_per_kwh", cg.g_per_kwh)),
            ("grid.pue", carbon.pue, _figure(cg.keys, "pue", cg.pue))]
    shown_unit = _figure(cs.keys, "shown_unit", cs.shown_unit)
    if shown_unit is not _ABSENT:  # the unit the card shows (cards before it was recorded lack it)
        shown = _fmt.sci_display(r.sci.to_dict() if r.sci is not None else None)
        rows.append(("sci.shown_unit", shown["unit"] if shown else None, shown_unit))
    for key, expected, found in rows:
        if found is not _ABSENT or expected is not None:
            check(checks, f"{where}.{key}", expected, None if found is _ABSENT else found)


def _check_card_phases(checks: list[Check], where: str, rep: Report, phases: tuple[CardPhase, ...]) -> None:
    """Each phase the card lists is a phase of the report, with its energy and CO2e."""
    by_name = {ph.name: ph for ph in rep.phase_views()}
    for i, ph in enumerate(phases):
        src = by_name.get(str(ph.name)) if ph.is_entry else None
        if src is None:
            checks.append(Check(f"{where}.phases[{i}]", None, ph.written, False, "phase not in the report"))
            continue
        check(checks, f"{where}.phases[{i}:{src.name}].energy_j", src.total_j, ph.energy_j)
        if "co2e_g" in ph.keys:
            check(checks, f"{where}.phases[{i}:{src.name}].co2e_g", src.co2e_g, ph.co2e_g)


def _check_card_rating(checks: list[Check], rep: Report, pr: CardRating | None) -> None:
    """The card's rating of this boundary was made from this report, and recomputes to the same figures."""
    b = rep.boundary
    if pr is None or not pr.available:
        return
    if "report_digest" in pr.keys:  # the rating was made from this report, not another one
        check(checks, f"card.scer.rating.{b}.report_digest", rep.digest(), pr.report_digest,
              "rating made from this report")
    _check_rating(checks, rep, {b: pr.written}, "card.scer.rating")


# ------------------------------------------------------------------ dispatch ----------
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
    by_suffix = _BY_SUFFIX.get(p.suffix.lower())
    if by_suffix is not None:
        return by_suffix(p, report, rating)
    if p.is_dir() and report is None and len(report_paths(p)) > 1:  # e.g. the demo folder: everything in it
        return verify_folder(p)
    return _verify_report_against(p, report)


def _verify_card_file(p: Path, report: Any, rating: Any) -> VerificationResult:
    """A model card: its rating is the one it carries, so *rating* is not used."""
    return verify_card(p, report)


def _verify_report_against(p: Path, report: Report | str | os.PathLike[str] | None) -> VerificationResult:
    """A report file (or the report of its folder), and, with *report*, whether it is the same report."""
    res = verify_report(p)
    if report is not None:  # compare with another copy of the same report
        other = report if isinstance(report, Report) else Report.load(report)
        check(res.checks, "digest", other.digest(), res.digest, "same report as --report")
    return res


#: the check of each kind of file scer-hf writes, by its suffix: (path, --report, --rating) -> result
_BY_SUFFIX: dict[str, Callable[[Path, Any, Any], VerificationResult]] = {
    ".svg": verify_label, ".html": verify_html, ".htm": verify_html, ".md": _verify_card_file,
    ".markdown": _verify_card_file,
}
