"""Figures stay true when measurement is partial (issue 19): the coverage model, the fill rule, the threshold.

Every test here is fast (fake clocks and replayed traces). Each fault position (first, middle, last read) is
tried: no headline is a false 0, per-unit figures equal their measured-only values, the report is partial with
its coverage, and what is published (card, label) claims no more than was measured.
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from scer_hf.core.carbon import carbon_intensity
from scer_hf.core.coverage import COVERAGE_THRESHOLD, MAX_ERROR_KINDS, Coverage, fill, per_unit_j, tally
from scer_hf.core.meters import Meter, ReplayMeter, Reading
from scer_hf.core.meters.base import now_s
from scer_hf.core.meters.guard import MeterGuard
from scer_hf.core.report import Report
from scer_hf.core.tracker import PhaseTracker, merge_measurements
from tests.builders import Clock

WATTS = 100.0


def calls(n: int, failing: set[int], *, seconds: list[float] | None = None, queries: int = 1,
          tokens: int = 8, name: str = "generate", counts: dict | None = None) -> tuple[Any, PhaseTracker]:
    """*n* calls of a served model on a 100 W meter; the reads of the calls in *failing* raise."""
    clock = Clock()
    meter = ReplayMeter({"gpu:0": [(0, WATTS)]}, clock=clock)
    tr = PhaseTracker(meter, clock=clock)
    ms = []
    for i in range(n):
        tr.begin(name)
        clock.t += seconds[i] if seconds else 1.0
        if i in failing:
            meter.fail_next = OSError("NVML: GPU is lost")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ms.append(tr.end(name, **(counts or {"queries": queries, "output_tokens": tokens})))
    m = ms[0]
    for x in ms[1:]:
        m = merge_measurements(m, x)
    return m, tr


def report_of(m: Any, tr: PhaseTracker, boundary: str = "inference") -> dict:
    units = ["query", "1k_output_tokens"] if boundary == "inference" else None
    return Report.build([m], boundary=boundary, carbon=carbon_intensity(g_per_kwh=100.0), provenance=tr.provenance(),
                        functional_units=units).to_dict()


# --- the model ---------------------------------------------------------------------------------
def test_window_merge_and_measured_fraction() -> None:
    a = Coverage.window(2.0, {"gpu:0": 200.0}, [], {"queries": 1})
    b = Coverage.window(1.0, {"cpu": 5.0}, ["gpu:0"], {"queries": 1})
    c = a.merge(b)
    assert (c.windows, c.windows_measured, c.duration_s, c.measured_s) == (2, 1, 3.0, 2.0)
    assert c.measured_fraction == pytest.approx(2 / 3)
    assert c.counts == {"queries": 1} and c.energy_j == {"gpu:0": 200.0}  # per-unit basis: the measured window
    assert c.gap_s == {"gpu:0": 1.0} and c.component_s == {"gpu:0": 2.0, "cpu": 1.0}
    assert Coverage.from_dict(c.to_dict()).gap_s == c.gap_s  # what verify recomputes the fill from


def test_fill_rule_same_phase_then_run_then_nothing() -> None:
    cov = Coverage.window(10.0, {"gpu:0": 1000.0}, []).merge(Coverage.window(5.0, {}, ["gpu:0"]))
    f = fill(cov, {"gpu:0": 1000.0})
    assert f.energy_j == {"gpu:0": pytest.approx(500.0)} and not f.unfilled  # 100 W x 5 s
    never = Coverage.window(3.0, {}, ["gpu:0"])
    assert fill(never, {}, {"gpu:0": 40.0}).energy_j == {"gpu:0": pytest.approx(120.0)}  # the run's power
    assert fill(never, {}).unfilled == ("gpu:0",)  # measured nowhere: cannot be filled, never zero


def test_fill_uncertainty_is_the_spread_of_powers_seen() -> None:
    cov = (Coverage.window(1.0, {"gpu:0": 100.0}, []).merge(Coverage.window(1.0, {"gpu:0": 300.0}, []))
           .merge(Coverage.window(2.0, {}, ["gpu:0"])))
    f = fill(cov, {"gpu:0": 400.0})
    assert f.total_j == pytest.approx(400.0)  # 200 W mean x 2 s
    assert f.uncertainty_j == pytest.approx(2.0 * 100.0)  # 2 s x (300 - 200) W
    one = Coverage.window(1.0, {"gpu:0": 100.0}, []).merge(Coverage.window(1.0, {}, ["gpu:0"]))
    assert fill(one, {"gpu:0": 100.0}).uncertainty_j == pytest.approx(100.0)  # one window: 100 % of the fill


def test_per_unit_sums_each_ranks_own_ratio() -> None:
    rank0 = {"energy_j": {"total": 100.0}, "counts": {"tokens": 10}}
    rank1 = {"energy_j": {"total": 30.0}, "counts": {"tokens": 5}}  # measured half as long
    assert per_unit_j([{"ranks": {"0": rank0, "1": rank1}}], "tokens") == pytest.approx(10.0 + 6.0)
    assert per_unit_j([{"ranks": {"0": rank0, "1": {"energy_j": {"total": 0.0}, "counts": {}}}}], "tokens") is None


def test_error_messages_are_counted_per_kind_and_bounded() -> None:
    msgs = [f"nvml: read took {1 + i / 1000:.3f} s" for i in range(5000)] + [f"kind {chr(65 + i)} !" for i in range(30)]
    t = tally(msgs)
    assert t["nvml: read took 1.000 s"] == 5000  # the numbers do not make new kinds
    assert len(t) <= MAX_ERROR_KINDS + 1 and t["other errors"] > 0
    assert sum(t.values()) == len(msgs)


# --- faults at every position: served calls ------------------------------------------------------
@pytest.mark.parametrize("where", [0, 5, 19], ids=["first", "middle", "last"])
def test_per_query_figures_come_from_the_measured_calls_only(where: int) -> None:
    secs = [0.5 + 0.1 * (i % 7) for i in range(20)]  # calls of different lengths
    m, tr = calls(20, {where}, seconds=secs)
    d = report_of(m, tr)
    measured = [i for i in range(20) if i != where]  # the fault is on the read that ends the failing call
    want = sum(WATTS * secs[i] for i in measured) / len(measured)
    per_query = next(a for a in d["sci_alternatives"] if a["count_key"] == "queries")
    # measured energy over measured queries, at the unit's fixed scale
    assert per_query["energy_j_per_unit"] == pytest.approx(want * per_query["scale"], rel=0.01)
    assert per_query["r_measured"] * per_query["scale"] == len(measured) and per_query["r"] * per_query["scale"] == 20
    per_tokens = next(a for a in d["sci_alternatives"] if a["count_key"] == "output_tokens")
    assert per_tokens["energy_j_per_unit"] == pytest.approx(want / 8 * per_tokens["scale"], rel=0.01)  # 8 a call
    assert d["status"] == "partial" and d["coverage"]["measured_fraction"] < 1
    assert d["coverage"]["windows_measured"] == 19 and d["coverage"]["windows"] == 20
    p = d["phases"][0]
    assert p["energy_j_filled"]["total"] == pytest.approx(WATTS * secs[where], rel=0.2)  # mean power x gap
    assert d["energy_j"] == pytest.approx(p["energy_j"]["total"]) and d["energy_j"] > 0


@pytest.mark.parametrize("failing", [{0}, {3}, {0, 1, 2, 3}], ids=["first", "last", "all"])
def test_low_coverage_gives_no_headline_never_a_zero(failing: set[int]) -> None:
    m, tr = calls(4, failing)
    d = report_of(m, tr)
    assert d["coverage"]["measured_fraction"] <= 0.75 < COVERAGE_THRESHOLD
    assert d["energy_j"] is None and d["co2e_g"] is None and d["sci"] is None and d["sci_alternatives"] == []
    assert d["status"] == "partial" and d["coverage"]["headline"] is False
    assert any("below" in r or "measured" in r for r in d["coverage"]["reasons"])
    if failing == {0, 1, 2, 3}:  # nothing measured at all: no phase energy either
        assert d["phases"][0]["energy_j"]["total"] is None and d["phases"][0]["method"] == "unmeasured"
    rep = Report.from_dict(d)
    assert rep.energy_j is None and rep.co2e_g is None and "coverage" in repr(rep)


def test_one_transient_fault_does_not_taint_a_server_forever() -> None:
    m, tr = calls(400, {17})
    d = report_of(m, tr)
    assert d["coverage"]["measured_fraction"] == pytest.approx(399 / 400)
    assert d["energy_j"] == pytest.approx(400 * WATTS) and d["sci"] is not None  # filled, and labelled:
    assert d["phases"][0]["energy_j_filled"]["total"] == pytest.approx(WATTS)
    assert d["status"] == "partial" and any("GPU is lost" in r for r in d["coverage"]["reasons"])
    assert d["uncertainty"]["energy_j"] >= d["phases"][0]["filled_uncertainty_j"] > 0  # widened for the fill


def test_a_component_never_measured_leaves_the_total_null() -> None:
    clock = Clock()
    gpu = ReplayMeter({"gpu:0": [(0, WATTS)]}, clock=clock)
    cpu = ReplayMeter({"cpu:0": [(0, 10.0)]}, clock=clock)
    tr = PhaseTracker([gpu, cpu], clock=clock)
    ms = []
    for _ in range(20):
        gpu.fail_next = OSError("no GPU")
        tr.begin("train")
        clock.t += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ms.append(tr.end("train", tokens=10))
    m = ms[0]
    for x in ms[1:]:
        m = merge_measurements(m, x)
    d = report_of(m, tr, "training")
    p = d["phases"][0]
    assert p["energy_j"]["cpu:0"] == pytest.approx(200.0) and p["energy_j"]["total"] is None
    assert p["unfilled"] == ["gpu:0"] and d["energy_j"] is None and d["coverage"]["unfilled"] == ["gpu:0"]


# --- what is published --------------------------------------------------------------------------
def _training(coverage_fault_calls: set[int], n: int = 20) -> Report:
    m, tr = calls(n, coverage_fault_calls, name="train", counts={"tokens": 1000})
    return Report.build([m], boundary="training", carbon=carbon_intensity(g_per_kwh=100.0), provenance=tr.provenance(),
                        model={"id": "org/tiny", "parameters": 1000, "task": "text-generation"})


def test_card_omits_co2_below_the_threshold_and_says_why(tmp_path: Path) -> None:
    import yaml

    from scer_hf import update_card
    from scer_hf.publish.verify import verify

    good, low = _training({3}), _training(set(range(10)))
    assert good.coverage["headline"] and not low.coverage["headline"]
    update_card(tmp_path, good)
    meta = yaml.safe_load((tmp_path / "README.md").read_text().split("---")[1])
    assert meta["co2_eq_emissions"]["emissions"] == pytest.approx(good.co2e_g) and good.co2e_g > 0
    assert meta["scer"]["training"]["coverage"]["measured_fraction"] == pytest.approx(0.95)
    body = (tmp_path / "README.md").read_text()
    assert "**Coverage**" in body and "95% of the run measured" in body and "filled at the power measured" in body
    update_card(tmp_path, low, overwrite=True)  # our earlier figure no longer stands: it is removed
    text = (tmp_path / "README.md").read_text()
    meta = yaml.safe_load(text.split("---")[1])
    assert "co2_eq_emissions" not in meta and "emissions: 0" not in text
    cov = meta["scer"]["training"]["coverage"]
    assert cov["headline"] is False and cov["co2_eq_emissions"].startswith("omitted")
    assert "50% of the run measured; 90% is needed for a total or an SCI" in text
    low.save(tmp_path / "scer_report.json")
    assert verify(tmp_path / "README.md", report=tmp_path / "scer_report.json").ok


def test_card_keeps_a_users_own_co2_figure(tmp_path: Path) -> None:
    import yaml

    from scer_hf import update_card

    (tmp_path / "README.md").write_text("---\nco2_eq_emissions:\n  emissions: 123\n  source: my own meter\n---\n# m\n")
    update_card(tmp_path, _training(set(range(10))))
    meta = yaml.safe_load((tmp_path / "README.md").read_text().split("---")[1])
    assert meta["co2_eq_emissions"] == {"emissions": 123, "source": "my own meter"}


def test_label_and_html_say_the_coverage_and_show_no_false_total(tmp_path: Path) -> None:
    from scer_hf.publish.html import write_html_report
    from scer_hf.publish.label import make_label

    for rep, expect in ((_training({3}), "95% of the run measured"), (_training(set(range(10))), "No figure")):
        svg = make_label(rep, auto_rate=False)
        assert expect in svg and ">Coverage<" in svg
        assert ">0 J<" not in svg and ">0 gCO2eq<" not in svg
        html = write_html_report(rep, tmp_path / f"r{len(expect)}.html", auto_rate=False).read_text()
        assert "Coverage" in html and "of the run measured" in html
    full = make_label(_training(set()), auto_rate=False)
    assert "Coverage" not in full  # nothing is said at full coverage


# --- reads under a deadline ---------------------------------------------------------------------
class HangingMeter(Meter):
    """Answers its first *ok* reads, then blocks until released (a hung driver)."""

    name = "hanging"

    def __init__(self, ok: int = 1) -> None:
        super().__init__()
        self.ok, self.n = ok, 0
        self.release = threading.Event()

    @property
    def components(self) -> tuple[str, ...]:
        return ("gpu:0",)

    def read(self) -> Reading:
        self.n += 1
        if self.n > self.ok:
            self.release.wait()
        return Reading(now_s(), {"gpu:0": 0.0})


def test_a_read_that_never_returns_is_refused_at_the_deadline_then_at_once() -> None:
    m = HangingMeter(ok=1)
    g = MeterGuard(m, deadline_s=0.2, abandon_after_s=0.6)
    try:
        assert g.read() is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.monotonic()
            errors: list[str] = []
            assert g.read(errors) is None and "did not return within 0.2 s" in errors[0]
            assert time.monotonic() - t0 < 0.5
            t1 = time.monotonic()
            assert g.read() is None and time.monotonic() - t1 < 0.05  # in flight: refused without waiting
            time.sleep(0.7)
            assert g.read() is None and g.disabled and "abandoned" in g.disabled
    finally:
        m.release.set()


def test_a_read_that_comes_back_late_lets_the_meter_recover() -> None:
    m = HangingMeter(ok=1)
    g = MeterGuard(m, deadline_s=0.1, abandon_after_s=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert g.read() is not None and g.read() is None
        m.ok = 10**9
        m.release.set()
        time.sleep(0.05)
        assert g.read() is not None and g.disabled is None


def test_inline_meters_take_no_thread() -> None:
    g = MeterGuard(ReplayMeter({"gpu:0": [(0, 1.0)]}))
    assert g._reader is None and g.read() is not None
    assert MeterGuard(HangingMeter())._reader is not None


def test_nan_never_reaches_a_report() -> None:
    m, tr = calls(3, set())
    d = report_of(m, tr)
    text = Report.from_dict(d).to_json()
    assert "NaN" not in text and "Infinity" not in text and math.isfinite(d["energy_j"])


def test_a_signal_handler_reading_inside_a_read_is_refused_not_deadlocked() -> None:
    """SIGTERM can arrive while the main thread waits for a read: the handler's own read must not wait."""
    import signal

    m = HangingMeter(ok=1)
    g = MeterGuard(m, deadline_s=1.0)
    got: list[Any] = []
    old = signal.signal(signal.SIGALRM, lambda *a: got.append(g.read()))
    try:
        assert g.read() is not None
        signal.setitimer(signal.ITIMER_REAL, 0.1)  # fires while the next read waits
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.monotonic()
            assert g.read() is None
        assert got == [None] and time.monotonic() - t0 < 1.5
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        m.release.set()
