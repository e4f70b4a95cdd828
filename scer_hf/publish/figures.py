"""What every output shows of one report: the headline figures and the facts beside them.

One place builds the texts (through :mod:`scer_hf.core.fmt`) so the label, the card, the HTML report and the
CLI cannot disagree, and ``scer-hf verify`` re-renders each output from the report and compares what a person
reads, line by line (:mod:`scer_hf.publish.visible`).

* :func:`scope_texts`: the headline figures (SCI, energy, CO2eq, embodied), each saying its scope where two
  figures differ (IT energy vs with PUE, operational vs with embodied).
* :func:`facts`: the facts shown beside them, one per line, in this order, on every output: grid, PUE,
  hardware, date, method and, for a benchmark, where its interval stopped. **A new fact is added here and
  nowhere else**: the label, card, HTML report and CLI draw the list as it is, and ``verify`` checks it on
  each of them, because it re-renders the output and compares the text.

Publish layer: reads a report through its views (:mod:`scer_hf.core.report_views`), converted once at the door.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, TypedDict

from ..core import fmt as _fmt
from ..core.hardware import measured_hardware
from ..core.report import Report
from ..core.report_views import BenchmarkView, IntervalView, LevelView, ReportView, SciView
from ..core.views import CoverageView, grid_where
from ..rating.result import PhaseRating
from .curve import curve_note
from .inputs import report_view

__all__ = ["Fact", "FactDict", "facts", "fact_dicts", "scope_texts", "scope_view", "ScopeTexts", "CoverageTexts",
           "coverage_view", "scope_line", "rating_value_text", "hardware_text",
           "method_of", "METHOD_TEXT", "REMOTE_METHOD_TEXT", "grid_where", "stopping_text", "coverage_texts"]

REMOTE_METHOD_TEXT = "NOT MEASURED HERE (remote server)"
METHOD_TEXT = {
    "counter": "Measured by hardware energy counter",
    "estimate": "ESTIMATED: power model, not measured",
    "mixed": "Partly measured, partly ESTIMATED",
    "published": "Published figure, not measured by scer-hf",
    "unmeasured": "NOT MEASURED: meters failed",
}


class FactDict(TypedDict):
    """A :class:`Fact` as the card's ``scer.<boundary>.facts`` and ``--json`` outputs hold it."""

    key: str
    label: str
    text: str
    warn: bool


@dataclass(frozen=True)
class Fact:
    """One line a person reads beside the headline: ``label`` (``"Grid"``), ``text``; ``warn`` draws it as a
    warning (amber on the label, a callout in the card and the HTML report)."""

    key: str
    label: str
    text: str
    warn: bool = False

    def to_dict(self) -> FactDict:
        return FactDict(key=self.key, label=self.label, text=self.text, warn=self.warn)


def hardware_text(d: Report | ReportView) -> str:
    """The hardware as recorded: a ``hardware`` field, the embodied hardware, or the meters' device names."""
    r = report_view(d)
    named = _named_hardware(r)
    if named:
        return named
    measured = measured_hardware(r.provenance.meter_dicts())  # counted: "8 x NVIDIA H100 80GB HBM3"
    if measured:
        return measured
    comps = sorted({c.split(":")[0].upper() for m in r.provenance.meters for c in m.components})
    return " + ".join(comps) + ", model not recorded" if comps else "not recorded"


def _named_hardware(r: ReportView) -> str | None:
    """A ``hardware`` (or ``gpu``) field of the model, benchmark, provenance or extra block, else the embodied
    hardware; None when no block names it."""
    bench = r.benchmark
    blocks = (r.model, *((bench,) if bench is not None else ()), r.provenance, r.extra)
    return next((b.hardware or b.gpu for b in blocks if b.hardware or b.gpu), None) or r.embodied.hardware


def method_of(d: Report | ReportView) -> str:
    """``counter``, ``estimate``, ``mixed``, ``published`` or ``unmeasured``."""
    prov = report_view(d).provenance
    m = prov.method or "unmeasured"
    return "mixed" if prov.estimated and m == "counter" else m


def stopping_text(bench: BenchmarkView | Mapping[str, Any] | None) -> tuple[str, bool] | None:
    """Where a benchmark's interval stopped, and whether that is a warning (stopped at the cap), or None.
    A served benchmark says it per level (``c=1 stopped at the 200-query cap: ±18.6 %...; c=4 ...``)."""
    if bench is None:
        return None
    b = bench if isinstance(bench, BenchmarkView) else BenchmarkView.from_dict(bench)
    if b.served:
        return _levels_stopping_text(b)
    return _interval_stop(b.stopped_by, b.ci, b.queries_measured or b.queries_run, b.queries_cap)


def _interval_stop(stopped: str | None, ci: IntervalView | None, n: float | None,
                   cap: float | None) -> tuple[str, bool] | None:
    """Where one interval stopped: at the query cap (a warning) or at its target; None when it says neither."""
    if ci is None:
        return None
    reached, conf_t, goal = _interval_texts(ci)
    if stopped == "cap":
        return f"stopped at the {_fmt.count(cap)}-query cap: {reached}{conf_t}{goal}", True
    if stopped == "ci":
        return f"stopped at {reached}{conf_t} after {_fmt.count(n)} queries{goal}", False
    return None


def _interval_texts(ci: IntervalView) -> tuple[str, str, str]:
    """(the half-width reached, at what confidence, the target), each '' (reached: 'no interval') when absent."""
    rel, target, conf = ci.rel_half_width, ci.target_rel_half_width, ci.confidence
    reached = f"±{_fmt.num(100 * rel)} %" if rel is not None else "no interval"
    conf_t = f" at {_fmt.num(100 * conf)} % confidence" if conf is not None else ""
    goal = f", target ±{_fmt.num(100 * target)} %" if target is not None else ""
    return reached, conf_t, goal


def _levels_stopping_text(bench: BenchmarkView) -> tuple[str, bool] | None:
    """:func:`stopping_text` of each level of a served benchmark, joined; a warning when any level did not reach
    its target (stopped at the cap, or by failures)."""
    parts = [t for t in (_level_text(lv, bench.queries_cap) for lv in bench.levels) if t is not None]
    if not parts:
        return None
    return "; ".join(t for t, _ in parts), any(w for _, w in parts)


def _level_text(lv: LevelView, cap: float | None) -> tuple[str, bool] | None:
    """Where one concurrency level stopped (``c=4 stopped at ...``), and whether that is a warning; None for a
    level without an interval."""
    if lv.ci is None:
        return None
    if lv.stopped_by == "failures":
        return f"c={lv.concurrency} stopped by failures in a row", True
    n = lv.responses_measured if lv.responses_measured is not None else lv.responses
    text = _interval_stop(lv.stopped_by, lv.ci, n or None, cap)
    return None if text is None else (f"c={lv.concurrency} {text[0]}", text[1])


@dataclass(frozen=True)
class CoverageTexts:
    """What every output says about coverage (nothing at full coverage): the measured share, the filled energy,
    and, below the threshold, why there is no headline figure."""

    coverage: float
    coverage_pct: str
    headline: bool
    threshold: float
    coverage_text: str | None
    coverage_short: str | None
    no_headline_text: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def coverage_view(d: Report | ReportView | Mapping[str, Any]) -> CoverageTexts:
    """The coverage texts of a report (:class:`CoverageTexts`)."""
    r = report_view(d)
    cov = r.coverage or CoverageView(measured_fraction=1.0)
    frac = cov.measured_fraction
    headline = cov.headline if cov.headline is not None else r.energy_j is not None
    threshold = cov.threshold if cov.threshold is not None else 0.9
    texts: tuple[str | None, str | None, str | None] = (None, None, None)
    if frac < 1.0 or not headline:
        texts = _coverage_words(frac, threshold, float(cov.filled_j or 0.0), headline, r.energy_j)
    return CoverageTexts(frac, _fmt.coverage(frac), headline, threshold, *texts)


def _coverage_words(frac: float, threshold: float, filled: float, headline: bool,
                    energy_j: Any) -> tuple[str, str, str | None]:
    """(coverage_text, coverage_short, no_headline_text) of a run not measured in full."""
    need = _fmt.coverage(threshold)
    measured = f"{_fmt.coverage(frac)} of the run measured"
    if headline:
        fam = _fmt.energy_family(energy_j)
        text = (f"{measured}; {_fmt.energy(filled, fam)} filled at the power measured around the gaps" if filled > 0
                else measured)
        return text, f"Coverage {_fmt.coverage(frac)}, rest filled", None
    if frac < threshold:
        return (f"{measured}; {need} is needed for a total or an SCI", f"Coverage {_fmt.coverage(frac)}: no total",
                f"only {_fmt.coverage(frac)} of the run was measured, {need} needed")
    return (f"{measured}, but a part never measured cannot be filled: no total or SCI",
            f"Coverage {_fmt.coverage(frac)}: no total", "a part of the run that was never measured cannot be filled")


def coverage_texts(d: Report | ReportView | Mapping[str, Any]) -> dict[str, Any]:
    """:func:`coverage_view` as a dict (``coverage``, ``coverage_pct``, ``headline``, ``threshold``,
    ``coverage_text``, ``coverage_short``, ``no_headline_text``)."""
    return coverage_view(d).to_dict()


def facts(r: Report | ReportView) -> list[Fact]:
    """The facts every output shows beside the headline figures, in order (see the module doc)."""
    r = r.view if isinstance(r, Report) else r
    carbon = r.carbon
    pue = carbon.pue_or_1
    out = [
        Fact("grid", "Grid", f"{_fmt.grid(carbon.g_per_kwh)}, {grid_where(carbon)}",
             warn=carbon.location == "unknown"),
        Fact("pue", "PUE", _fmt.num(pue) if pue != 1.0 else "1: no data-centre overhead counted"),
        Fact("hardware", "Hardware", hardware_text(r)),
        Fact("date", "Date", (r.created_at or "")[:10] or "not recorded"),
    ]
    m = method_of(r)
    if curve_note(r):  # a remote server: nothing failed, nothing on this machine could read its energy
        out.append(Fact("method", "Method", REMOTE_METHOD_TEXT, warn=True))
    else:
        out.append(Fact("method", "Method", METHOD_TEXT.get(m, m), warn=m not in ("counter", "published")))
    stop = stopping_text(r.benchmark)
    if stop:
        out.append(Fact("stopping", "Interval", stop[0], warn=stop[1]))
    cov = coverage_view(r)
    if cov.coverage_text:  # part of the run was not measured: every output says so
        out.append(Fact("coverage", "Coverage", cov.coverage_text, warn=True))
    return out


def fact_dicts(d: Report | ReportView | Mapping[str, Any]) -> list[FactDict]:
    """:func:`facts` as plain dicts (what the card's ``scer.<boundary>.facts`` records and verify compares)."""
    return [f.to_dict() for f in facts(report_view(d))]


@dataclass(frozen=True)
class ScopeTexts(CoverageTexts):
    """The headline figures of one report as every output shows them (label, card, HTML, CLI), with the
    coverage texts."""

    energy_family: str
    sci_display: dict[str, Any] | None
    sci_text: str
    sci_unit_shown: str | None
    sci_value_text: str | None
    sci_unc_text: str | None
    energy_text: str
    energy_pue_text: str | None
    pue: float
    co2e_text: str
    embodied_text: str | None
    total_co2e_g: float | None
    total_co2e_text: str
    equivalent_scope: str


def scope_view(d: Report | ReportView | Mapping[str, Any]) -> ScopeTexts:
    """The headline figures of one report as every output shows them (label, card, HTML, CLI).

    One energy family per output (:func:`scer_hf.core.fmt.energy_family` of the total); energy is IT energy,
    CO2eq is operational (PUE applied); embodied emissions and the PUE are named where they apply.
    """
    r = report_view(d)
    cov = coverage_view(r)
    e = r.energy_j
    fam = _fmt.energy_family(e if e is not None else (r.coverage.measured_j if r.coverage else None))
    return ScopeTexts(
        **asdict(cov), energy_family=fam,
        **_sci_texts(r.sci, r.uncertainty.sci, cov.no_headline_text),
        **_energy_texts(e, r.carbon.pue_or_1, fam),
        **_co2e_texts(r.co2e_g, r.embodied_g),
    )


class _EnergyTexts(TypedDict):
    energy_text: str
    energy_pue_text: str | None
    pue: float


def _energy_texts(e: float | None, pue: float, fam: str) -> _EnergyTexts:
    """IT energy, and with the PUE where it is not 1."""
    return _EnergyTexts(energy_text=_fmt.energy(e, fam) if e is not None else "not measured",
                        energy_pue_text=_fmt.energy(e * pue, fam) if pue != 1.0 and e is not None else None, pue=pue)


class _Co2eTexts(TypedDict):
    co2e_text: str
    embodied_text: str | None
    total_co2e_g: float | None
    total_co2e_text: str
    equivalent_scope: str


def _co2e_texts(co2e: float | None, emb: float | None) -> _Co2eTexts:
    """Operational CO2eq, embodied emissions where counted, and their total."""
    total_g = float(co2e) + float(emb or 0.0) if co2e is not None else None
    return _Co2eTexts(co2e_text=_fmt.co2e(co2e) if co2e is not None else "not measured",
                      embodied_text=_fmt.co2e(emb) if emb is not None else None, total_co2e_g=total_g,
                      total_co2e_text=_fmt.co2e(total_g) if total_g is not None else "not measured",
                      equivalent_scope="operational + embodied" if emb is not None else "operational")


class _SciTexts(TypedDict):
    sci_display: dict[str, Any] | None  # scer_hf.core.fmt.sci_display
    sci_text: str
    sci_unit_shown: str | None
    sci_value_text: str | None
    sci_unc_text: str | None


def _sci_texts(sci: SciView | None, unc: float | None, none: str | None) -> _SciTexts:
    """The SCI as shown (in its functional unit's fixed scale), its uncertainty in that scale, or why there is none."""
    disp = _fmt.sci_display(sci.to_dict()) if sci is not None else None
    if not disp or sci is None:
        return _SciTexts(sci_display=disp,
                         sci_text=f"no SCI: {none}" if none else "no SCI: no functional units counted",
                         sci_unit_shown=None, sci_value_text=None, sci_unc_text=None)
    return _SciTexts(sci_display=disp, sci_text=disp["text"], sci_unit_shown=disp["unit"],
                     sci_value_text=_fmt.num(disp["value"]),
                     sci_unc_text=_fmt.num(unc * disp["value"] / sci.value) if unc and sci.value else None)


def scope_texts(d: Report | ReportView | Mapping[str, Any]) -> dict[str, Any]:
    """:func:`scope_view` as a dict (the coverage texts and the headline figures' texts, by name)."""
    return scope_view(d).to_dict()


def scope_line(t: ScopeTexts) -> str:
    """``11.5 GWh IT energy, 12.6 GWh with PUE 1.1; 4,660 tCO2eq operational + 102 tCO2eq embodied = ...``."""
    if not t.headline:
        return "no energy or CO2eq total: " + str(t.no_headline_text)
    s = t.energy_text + (f" IT energy, {t.energy_pue_text} with PUE {_fmt.num(t.pue)}" if t.energy_pue_text
                         else " energy")
    s += f"; {t.co2e_text} operational"
    return s + (f" + {t.embodied_text} embodied = {t.total_co2e_text}" if t.embodied_text else "")


def rating_value_text(pr: PhaseRating | Mapping[str, Any], fam: str = "Wh") -> str:
    """A rating's value with its unit, readable: ``739 kWh (training energy with PUE 1.1, not normalised)``."""
    if isinstance(pr, PhaseRating):
        return _fmt.quantity(pr.value, pr.unit, fam)
    return _fmt.quantity(pr.get("value"), pr.get("unit"), fam)
