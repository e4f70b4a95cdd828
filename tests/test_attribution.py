"""The split rule of scer_hf.core.attribution, on a fake clock: exact joules per call, sums, faults, sharing."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scer_hf.core import attribution
from scer_hf.core.attribution import TOP, acquire, release
from scer_hf.core.calls import CallTracker
from scer_hf.core.meters import EstimateMeter, ReplayMeter
from tests.builders import Clock


def setup(watts: float = 100.0) -> tuple[Clock, ReplayMeter, CallTracker]:
    clock = Clock()
    meter = ReplayMeter({"gpu:0": [(0.0, watts)]}, clock=clock)
    return clock, meter, CallTracker([meter], clock=clock, sync_cuda=False)


def test_two_overlapping_calls_share_by_weight_and_add_up() -> None:
    clock, _, tr = setup()
    a = tr.start("prefill")  # t=0, weight 1
    clock.t = 1.0
    b = tr.start("prefill", weight=3)  # t=1, weight 3
    clock.t = 2.0
    a.switch("decode")
    clock.t = 3.0
    ea = a.finish()
    clock.t = 4.0
    eb = b.finish()
    ma, mb = ea.measurement("generate"), eb.measurement("generate")
    # [0,1] A alone: 100 J; [1,3] both: 200 J split 1:3; [3,4] B alone: 100 J
    assert ma.energy_j["gpu:0"] == pytest.approx(150.0)
    assert mb.energy_j["gpu:0"] == pytest.approx(250.0)
    assert ma.total_energy_j + mb.total_energy_j == pytest.approx(400.0)  # the meter's energy over the union
    assert ea.measurement("prefill", "prefill").energy_j["gpu:0"] == pytest.approx(125.0)
    assert ea.measurement("decode", "decode").energy_j["gpu:0"] == pytest.approx(25.0)
    assert ma.measured and ma.duration_s == 3.0 and mb.duration_s == 3.0
    assert tr.active == ()


def test_idle_time_belongs_to_no_call() -> None:
    clock, _, tr = setup()
    a = tr.start("forward")
    clock.t = 1.0
    ea = a.finish()
    clock.t = 10.0  # 9 s idle
    b = tr.start("forward")
    clock.t = 12.0
    eb = b.finish()
    assert ea.measurement("f").total_energy_j == pytest.approx(100.0)
    assert eb.measurement("f").total_energy_j == pytest.approx(200.0)


def test_another_calls_refused_read_costs_nothing_but_its_own_refused_read_is_a_gap() -> None:
    clock, meter, tr = setup()
    a = tr.start("prefill")
    clock.t = 1.0
    meter.fail_next = RuntimeError("driver hiccup")
    with pytest.warns(Warning):
        b = tr.start("prefill")  # its first read is refused
    clock.t = 2.0
    a.switch("decode")  # accepted: pays [0, 2] at constant power; B's [1, 2] is a gap (no read brackets it)
    clock.t = 3.0
    ma = a.finish().measurement("generate")
    clock.t = 4.0
    eb = b.finish()
    mb = eb.measurement("generate")
    assert ma.measured and ma.total_energy_j == pytest.approx(100.0 + 50.0 + 50.0)
    assert not mb.measured and mb.cov.gap_s == {"gpu:0": pytest.approx(1.0)}
    assert mb.total_energy_j == pytest.approx(50.0 + 100.0)  # [2, 3] half, [3, 4] alone
    assert any("driver hiccup" in e for e in mb.errors)


def test_a_refused_read_between_segments_keeps_the_call_measured() -> None:
    clock, meter, tr = setup()
    a = tr.start("prefill")
    clock.t = 1.0
    meter.fail_next = RuntimeError("boom")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a.switch("decode")
    clock.t = 3.0
    e = a.finish()
    top, pre, dec = e.measurement("g"), e.measurement("p", "prefill"), e.measurement("d", "decode")
    assert top.measured and top.total_energy_j == pytest.approx(300.0)
    assert not pre.measured and not dec.measured and pre.cov.gap_s["gpu:0"] == pytest.approx(1.0)
    assert dec.cov.gap_s["gpu:0"] == pytest.approx(2.0)


def test_a_counter_fault_between_reads_leaves_every_call_in_flight_unmeasured() -> None:
    clock, meter, tr = setup()
    a, b = tr.start("f"), tr.start("f")
    clock.t = 1.0
    tr.shared[0].guard.epoch += 1  # what the guard does when it refuses a value (a reset)
    tr.shared[0].guard.breaks.append("counter reset")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ma, mb = a.finish().measurement("f"), b.finish().measurement("f")
    assert not ma.measured and not mb.measured and ma.total_energy_j == 0.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["open", "close", "switch", "weigh", "fail"]),
                          st.floats(0.0, 2.0), st.integers(1, 8)), min_size=1, max_size=40))
def test_per_call_energies_add_up_to_the_union_of_windows(events: list) -> None:
    """Any interleaving of calls, with refused reads: paid + unmeasured time adds up, nothing is paid twice."""
    clock, meter, tr = setup(watts=50.0)
    live: list = []
    done: list = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kind, dt, w in events:
            clock.t += dt
            if kind == "open" or not live:
                live.append((tr.start("prefill", weight=w), clock.t))
            elif kind == "close":
                h, t0 = live.pop(0)
                done.append((h.finish(), t0))
            elif kind == "switch":
                live[-1][0].switch("decode" if live[-1][0].segment == "prefill" else "prefill")
            elif kind == "weigh":
                live[0][0].weigh(w)
            else:
                meter.fail_next = RuntimeError("x")
        while live:
            clock.t += 0.5
            h, t0 = live.pop()
            done.append((h.finish(), t0))
    ms = [e.measurement("g") for e, _ in done]
    paid = sum(m.total_energy_j for m in ms)
    union = _union([(e.start_s, e.end_s) for e, _ in done])
    assert paid <= 50.0 * union + 1e-6
    if all(m.measured for m in ms):
        assert paid == pytest.approx(50.0 * union, rel=1e-9, abs=1e-9)
    for m in ms:  # each call: measured + unmeasured seconds = its duration
        comp = m.cov.component_s.get("gpu:0", 0.0) + m.cov.gap_s.get("gpu:0", 0.0)
        assert comp == pytest.approx(m.duration_s, abs=1e-9)


def _union(spans: list[tuple[float, float]]) -> float:
    return attribution.union_s(spans)


def test_one_reader_per_device_and_the_last_one_closes_it() -> None:
    a, b = EstimateMeter(), EstimateMeter()  # the same process, the same settings: one device
    sa, sb = acquire(a, owned=True), acquire(b, owned=True)
    try:
        assert sa is sb and sa.meter is a and sa.refs >= 2
    finally:
        release(sa)
        release(sb)
    r = ReplayMeter({"gpu:0": [(0.0, 1.0)]})
    s1, s2 = acquire(r), acquire(ReplayMeter({"gpu:0": [(0.0, 1.0)]}))
    assert s1 is not s2  # meters without a share_key are shared only as the same object
    t1, t2 = CallTracker([r]), CallTracker([r])
    assert t1.shared[0] is t2.shared[0] is s1
    t1.close()
    t1.close()  # twice is fine
    assert s1 in attribution.shared_meters()
    t2.close()
    release(s1)
    release(s2)
    assert s1 not in attribution.shared_meters()


def test_a_tracker_dropped_without_close_lets_go(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    r = ReplayMeter({"gpu:0": [(0.0, 1.0)]})
    tr = CallTracker([r])
    sm = tr.shared[0]
    del tr
    gc.collect()
    assert sm not in attribution.shared_meters()


def test_no_meter_is_unmeasured_never_zero() -> None:
    tr = CallTracker([], clock=Clock(), sync_cuda=False)
    m = tr.start("f").finish().measurement("f")
    assert not m.measured and m.method == "unmeasured" and "no meter" in m.errors


def test_top_is_the_sum_of_segments_when_all_reads_are_accepted() -> None:
    clock, _, tr = setup()
    h = tr.start("prefill")
    for i in range(1, 6):
        clock.t = float(i)
        h.switch("decode" if i % 2 else "prefill")
    clock.t = 7.0
    e = h.finish()
    parts = e.measurement("p", "prefill").total_energy_j + e.measurement("d", "decode").total_energy_j
    assert e.measurement("g", TOP).total_energy_j == pytest.approx(parts) == pytest.approx(700.0)
    assert e.seg_s == {"prefill": pytest.approx(3.0), "decode": pytest.approx(4.0)}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["open", "close", "switch", "weigh"]), st.floats(0.0, 2.0),
                          st.integers(1, 8)), min_size=1, max_size=40))
def test_each_call_gets_its_weight_share_of_every_instant(events: list) -> None:
    """With every read accepted, each call's energy is P x the integral of its weight / total weight over its time in
    flight (computed here step by step), whatever the interleaving: the lazy bookkeeping equals the rule."""
    clock, meter, tr = setup(watts=50.0)
    live: list = []  # [handle, key]
    weight: dict[int, float] = {}
    owed: dict[int, float] = {}
    done: dict[int, Any] = {}

    def step(dt: float) -> None:
        total = sum(weight[k] for _, k in live)
        for _, k in live:
            owed[k] += 50.0 * dt * weight[k] / total
        clock.t += dt

    for n, (kind, dt, w) in enumerate(events):
        if live:
            step(dt)
        else:
            clock.t += dt
        if kind == "open" or not live:
            live.append([tr.start("prefill", weight=w), n])
            weight[n], owed[n] = float(w), 0.0
        elif kind == "close":
            h, k = live.pop(0)
            done[k] = h.finish()
        elif kind == "switch":
            live[-1][0].switch("decode" if live[-1][0].segment == "prefill" else "prefill")
        else:
            live[0][0].weigh(w)
            weight[live[0][1]] = float(w)
    while live:
        step(0.5)
        h, k = live.pop()
        done[k] = h.finish()
    for k, e in done.items():
        m = e.measurement("g")
        assert m.measured and m.total_energy_j == pytest.approx(owed[k], rel=1e-9, abs=1e-9)
        parts = e.measurement("p", "prefill").total_energy_j + e.measurement("d", "decode").total_energy_j
        assert parts == pytest.approx(m.total_energy_j, rel=1e-9, abs=1e-9)


def test_merge_all_equals_merging_one_by_one() -> None:
    """The totals of a served pipeline merge a batch of calls in one pass: the same as merging them pairwise."""
    from functools import reduce

    from scer_hf.core.tracker import merge_all, merge_measurements

    clock, meter, tr = setup()
    ms = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(6):
            h = tr.start("prefill", weight=1 + i % 3)
            clock.t += 0.5 + i
            if i == 3:
                meter.fail_next = RuntimeError("flaky")  # one call with a gap and an error
            h.switch("decode")
            clock.t += 0.25
            ms.append(h.finish().measurement("generate", counts={"queries": 1 + i, "output_tokens": 3}))
    one, pairwise = merge_all(ms), reduce(merge_measurements, ms)
    for f in ("name", "start_s", "end_s", "measured", "method", "parent", "errors", "windows"):
        assert getattr(one, f) == getattr(pairwise, f), f
    for f in ("energy_j", "counts", "error_counts"):
        assert dict(getattr(one, f)) == pytest.approx(dict(getattr(pairwise, f))), f
    assert one.duration_s == pytest.approx(pairwise.duration_s)
    a, b = one.cov.state(), pairwise.cov.state()
    assert a.keys() == b.keys() and a["power_w"] == b["power_w"] and a["ranks"] == b["ranks"]
    for k in a.keys() - {"power_w", "ranks"}:
        assert a[k] == pytest.approx(b[k]), k
