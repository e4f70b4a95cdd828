"""The text ``scer-hf rate`` prints: one fact per line, each under a short label, figures through ``core.fmt``.

Every line is ``  <label> : <fact>``; a fact longer than the line is wrapped by the CLI, never cut. The
absolute published footprint comes beside the normalised figure that is rated (:mod:`.published`), and the
reasons a rating is not comparable come one per line, without the indicative grade (that lives in the JSON
and the HTML report's rating section only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..core import fmt
from .hubrecords import NodeInfo
from .records import NearestPeer, Published

if TYPE_CHECKING:  # pragma: no cover
    from .result import PhaseRating, Rating

__all__ = ["describe", "published_lines"]

LABEL_WIDTH = 18


def _line(label: str, text: str, indent: int = 2) -> str:
    return f"{' ' * indent}{label:<{LABEL_WIDTH}}: {text}"


def _short_source(s: str) -> str:
    """A row's source without the reference version (printed once, at the top)."""
    head, sep, tail = s.partition(": ")
    return f"{head.split(' (')[0]}: {tail}" if sep and head.startswith(("training.csv", "inference.csv",
                                                                         "aienergyscore")) else s


def _inference_published(pub: Published, indent: int) -> list[str]:
    """An inference figure: the setting it was measured in, and the figure as printed."""
    out = [_line(key, text, indent) for key, text in (("setting", pub.setting), ("hardware", pub.hardware)) if text]
    if pub.batch_size is not None:
        out.append(_line("batch size", fmt.published(pub.batch_size), indent))
    if pub.value is not None:
        out.append(_line("as published", f"{fmt.published(pub.value)} {fmt.unit_text(pub.unit)}", indent))
    return out


def _training_published(pub: Published, indent: int) -> list[str]:
    """A training footprint: energy, emissions, accelerator hours, hardware, location, grid, as printed."""
    e = pub.energy_mwh
    out = [_line("energy", f"{fmt.published(e)} MWh" if e is not None else "not published", indent)]
    emissions = ((pub.tco2e_operational, "CO2eq operational", "tCO2eq"),
                 (pub.tco2e_total, "CO2eq total", "tCO2eq, all scopes the source counts"))
    out += [_line(label, f"{fmt.published(t)} {what}", indent) for t, label, what in emissions if t is not None]
    out += _hours_lines(pub, indent)
    out += [_line(key, text, indent) for key, text in (("hardware", pub.hardware), ("location", pub.location))
            if text]
    if pub.grid_g_per_kwh is not None:
        out.append(_line("grid", f"{fmt.published(pub.grid_g_per_kwh)} {fmt.GRID_UNIT}", indent))
    return out


def _hours_lines(pub: Published, indent: int) -> list[str]:
    """The accelerator hours published, named by their accelerator (GPU-hours when unnamed)."""
    if pub.accelerator_hours is None:
        return []
    return [_line(pub.accelerator_hours_unit or "GPU-hours", fmt.published(pub.accelerator_hours), indent)]


def published_lines(pub: Published | Mapping[str, Any] | None, indent: int = 4) -> list[str]:
    """The absolute figures a source printed (a :class:`~scer_hf.rating.records.Published` or its JSON), one per
    line, quoted with their own digits (``fmt.published``)."""
    if not pub:
        return []
    pub = pub if isinstance(pub, Published) else Published.from_dict(pub)
    out = [_line("provenance", f"{pub.provenance}, computed by {pub.by}", indent)]
    inference = pub.setting is not None or pub.unit  # an inference figure: measured in a setting
    out += _inference_published(pub, indent) if inference else _training_published(pub, indent)
    if pub.source:
        out.append(_line("source", f"{pub.ref_id}: {pub.source}", indent))
    return out


def _rating_lines(pr: PhaseRating) -> list[str]:
    """The rating and the value: a modelled range, no figure, not comparable, or graded."""
    if pr.stars_range is not None or pr.modelled_low is not None:
        return _modelled_lines(pr)
    if not pr.available:
        return [_line("rating", f"no figure: {pr.reason}")]
    if pr.comparable is False:
        return ([_line("rating", "not rated: not comparable with the reference")]
                + [_line("why", r) for r in pr.not_comparable_reasons()]
                + [_line("value", fmt.quantity(pr.value, pr.unit))])
    unc = f" +/- {fmt.num(pr.uncertainty)}" if pr.uncertainty else ""
    return [_line("rating", _grade_text(pr)), _line("value", fmt.quantity(pr.value, pr.unit) + unc)]


def _modelled_lines(pr: PhaseRating) -> list[str]:
    """A modelled range: its stars (never a grade), the value and its prediction interval."""
    return [_line("rating", f"{pr.stars_label() or 'no stars'}, never a grade"),
            _line("modelled value", f"{fmt.quantity(pr.value, pr.unit)}, 95 % prediction interval "
                                    f"{fmt.num(pr.modelled_low)} to {fmt.num(pr.modelled_high)}")]


def _grade_text(pr: PhaseRating) -> str:
    grade = pr.grade_parts()
    return ", ".join(grade) if grade else f"not rated: {pr.reason}"


def _basis_lines(pr: PhaseRating) -> list[str]:
    """How the figure was made, whose it is, and the group it was ranked in."""
    lines = [_line("method", pr.method_text())] if pr.available else []
    lines += [_line("basis", pr.basis_label)] if pr.basis_label else []
    if pr.category and pr.available and pr.peers:
        lines.append(_line("category", f"{pr.category.group or 'no reference group'}; {pr.peers} peers"))
    return lines


def _published_section(pr: PhaseRating) -> list[str]:
    if not pr.published:
        return []
    return ["  published footprint, as its source printed it:", *published_lines(pr.published)]


def _note_lines(pr: PhaseRating) -> list[str]:
    return [_line("note", n) for n in pr.notes if not n.startswith("not comparable: ") and n != pr.basis_label]


def _peer_line(p: NearestPeer) -> str:
    return _line("peer", f"{p.model}, {fmt.quantity(p.value, p.unit)}" + (f", grade {p.grade}" if p.grade else ""))


def _peer_lines(pr: PhaseRating) -> list[str]:
    return [_peer_line(p) for p in pr.nearest_peers[:5]]


def _source_lines(pr: PhaseRating) -> list[str]:
    """The sources (all of them for a figure through another model, else the first), unless the footprint
    printed one; how to measure a phase with no figure."""
    lines = [] if pr.published else [_line("source", _short_source(s))
                                     for s in (pr.sources if pr.basis else pr.sources[:1])]
    if pr.how_to_measure and not pr.available:
        lines.append(_line("measure it", pr.how_to_measure))
    return lines


def _alternative_lines(pr: PhaseRating) -> list[str]:
    if not pr.alternatives:
        return []
    kinds = sorted({a.method or "published" for a in pr.alternatives})
    lines = [_line("other figures", f"{len(pr.alternatives)} more for this model: {', '.join(kinds)}; "
                                    "see --json alternatives")]
    for a in pr.alternatives:
        if a.published:
            lines.append(f"  {a.published.provenance} figure, {a.published.ref_id}:")
            lines += published_lines(a.published)
    return lines


#: The sections of one phase's description, in order.
PHASE_SECTIONS = (_rating_lines, _basis_lines, _published_section, _note_lines, _peer_lines, _source_lines,
                  _alternative_lines)


def _phase(pr: PhaseRating) -> list[str]:
    return [pr.phase] + [line for section in PHASE_SECTIONS for line in section(pr)]


def _lineage_line(node: NodeInfo) -> str:
    """The model's place in its lineage: relation and base, architecture, parameters, where that is from."""
    n = node.params_b
    shipped = node.origin.startswith("lineage.csv")  # published counts, else counted
    of = "from" if node.relation in ("distilled", "finetune", "fine-tune") else "of"
    rel = node.description or (f"{node.relation}" + (f" {of} {node.base_model}" if node.base_model else ""))
    arch = f", architecture {node.architecture}" if node.architecture else ""
    size = "" if n is None else f", {n:g} B parameters" if shipped else f", {n * 1e9:,.0f} parameters"
    return _line("lineage", f"{rel}{arch}{size}; from {node.origin}")


def _unknown_lines(r: Rating) -> list[str]:
    if r.known:
        return []
    lines = [_line("unknown", f"no reference data, lineage or parameter count for {r.model!r}")]
    return lines + ([_line("did you mean", ", ".join(r.suggestions))] if r.suggestions else [])


def describe(r: Rating) -> str:
    """Readable lines, one fact each: model, reference data, lineage, then each phase."""
    lines = [r.model or "unnamed model", _line("reference data", r.reference_version)]
    lines += [_line("rated report", f"{rep.boundary} report {str(rep.report_digest)[:19]}...") for rep in r.reports]
    lines += _unknown_lines(r)
    node = r.lineage.node if r.lineage is not None else None
    if node:
        lines.append(_lineage_line(node))
    for pr in (r.training, r.inference):
        lines += _phase(pr)
    return "\n".join(lines)
