"""Phase windows over replayed power traces: exact integrals, overlap, faults, typed errors."""

from __future__ import annotations

import math
import warnings

import pytest

from scer_hf.errors import MeterError, WindowError
from scer_hf.core.meters import ReplayMeter
from scer_hf.core.meters.base import Meter, Reading
from scer_hf.core.tracker import MeasurementWarning, PhaseTracker, merge_measurements
from tests.builders import Clock


def sine_trace(duration_s: float = 20.0, step_s: float = 0.001) -> list[tuple[float, float]]:
    n = int(duration_s / step_s)
    return [(i * step_s, 200.0 + 80.0 * math.sin(i * step_s)) for i in range(n + 1)]


def sine_integral(a: float, b: float) -> float:
    # integral of 200 + 80 sin(t) dt
    return 200.0 * (b - a) + 80.0 * (math.cos(a) - math.cos(b))


def test_each_phase_matches_the_analytic_integral_within_0_1_percent() -> None:
    clock = Clock()
    meter = ReplayMeter({"gpu:0": sine_trace(), "cpu:0": [(0, 50.0), (20, 50.0)]}, clock=clock)
    tr = PhaseTracker(meter, clock=clock)
    edges = {"load": (0.3, 1.7), "prefill": (1.7, 2.05), "decode": (2.05, 9.4), "eval": (11.0, 19.9)}
    events = sorted([(a, "b", n) for n, (a, b) in edges.items()] + [(b, "e", n) for n, (a, b) in edges.items()],
                    key=lambda x: (x[0], x[1] == "b"))
    for t, kind, name in events:
        clock.t = t
        tr.begin(name) if kind == "b" else tr.end(name)
    by = {m.name: m for m in tr.measurements}
    for name, (a, b) in edges.items():
        gpu = by[name].energy_j["gpu:0"]
        assert gpu == pytest.approx(sine_integral(a, b), rel=1e-3), name
        assert by[name].energy_j["cpu:0"] == pytest.approx(50.0 * (b - a))
        assert by[name].duration_s == pytest.approx(b - a)
        assert by[name].method == "counter" and by[name].measured


def test_nested_and_overlapping_windows() -> None:
    clock = Clock()
    tr = PhaseTracker(ReplayMeter({"gpu:0": [(0, 10.0), (100, 10.0)]}, clock=clock), clock=clock)
    tr.begin("train")
    clock.t = 1
    tr.begin("epoch 1", parent="train")
    clock.t = 2
    tr.begin("overlap")  # starts inside epoch 1, ends after it
    clock.t = 4
    e1 = tr.end("epoch 1", tokens=100)
    clock.t = 7
    ov = tr.end("overlap")
    clock.t = 8
    train = tr.end("train", tokens=100)
    assert e1.energy_j["gpu:0"] == pytest.approx(30.0) and e1.parent == "train"
    assert ov.energy_j["gpu:0"] == pytest.approx(50.0)
    assert train.energy_j["gpu:0"] == pytest.approx(80.0)
    assert tr.active == ()


def test_context_manager_attaches_counts_and_ends_on_error() -> None:
    clock = Clock()
    tr = PhaseTracker(ReplayMeter({"gpu:0": [(0, 1.0)]}, clock=clock), clock=clock)
    with pytest.raises(RuntimeError):
        with tr.phase("eval", samples=2) as w:
            w.add(samples=3, tokens=10)
            clock.t = 5
            raise RuntimeError("user code failed")
    m = tr.measurements[-1]
    assert m.counts == {"samples": 5, "tokens": 10}
    assert m.energy_j["gpu:0"] == pytest.approx(5.0)
    assert "eval" not in tr.active


def test_typed_errors_name_the_window() -> None:
    tr = PhaseTracker(ReplayMeter({"gpu:0": [(0, 1.0)]}))
    tr.begin("train")
    with pytest.raises(WindowError, match="'train' is already open"):
        tr.begin("train")
    with pytest.raises(WindowError, match="'eval' is not open"):
        tr.end("eval")
    with pytest.raises(KeyError):  # WindowError is also a KeyError
        tr.end("nope")


def test_meter_fault_warns_once_marks_unmeasured_and_keeps_going() -> None:
    clock = Clock()
    bad = ReplayMeter({"gpu:0": [(0, 100.0)]}, clock=clock)
    good = ReplayMeter({"cpu:0": [(0, 10.0)]}, clock=clock)
    tr = PhaseTracker([bad, good], clock=clock)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(3):
            bad.fail_next = OSError("device gone")
            tr.begin(f"step {i}")
            clock.t += 1
            m = tr.end(f"step {i}")
            assert not m.measured and m.method == "counter"  # the method of what was measured
            assert m.energy_j == {"cpu:0": pytest.approx(10.0)}  # what could be read is kept
            assert m.cov.gap_s == {"gpu:0": pytest.approx(1.0)} and m.cov.measured_fraction == 0.0
            assert "device gone" in m.errors[0]
    ours = [w for w in caught if issubclass(w.category, MeasurementWarning)]
    assert len(ours) == 1
    clock.t += 1
    tr.begin("after")
    clock.t += 1
    assert tr.end("after").measured  # recovers when the meter does
    assert "replay" in tr.provenance()["failed_meters"]


class BackwardsMeter(Meter):
    name = "backwards"

    def __init__(self) -> None:
        super().__init__()
        self.v = 10.0

    @property
    def components(self) -> tuple[str, ...]:
        return ("gpu:0",)

    def read(self) -> Reading:
        self.v -= 1.0
        return Reading(0.0, {"gpu:0": self.v})


def test_counter_going_backwards_is_refused_not_negative() -> None:
    tr = PhaseTracker(BackwardsMeter())
    tr.begin("x")
    m = tr.end("x")
    assert not m.measured and "backwards" in m.errors[0]
    assert "gpu:0" not in m.energy_j


def test_shared_edges_make_adjacent_phases_add_up_exactly() -> None:
    clock = Clock()
    tr = PhaseTracker(ReplayMeter({"gpu:0": sine_trace(5)}, clock=clock), clock=clock)
    tr.begin("generate")
    tr.begin("prefill", parent="generate")
    clock.t = 0.77
    edge = tr.read_all()
    pre = tr.end("prefill", edge=edge)
    tr.begin("decode", parent="generate", edge=edge)
    clock.t = 3.1
    edge = tr.read_all()
    dec = tr.end("decode", edge=edge)
    gen = tr.end("generate", edge=edge)
    assert pre.total_energy_j + dec.total_energy_j == pytest.approx(gen.total_energy_j, rel=1e-12)


def test_merge_sums_energy_duration_and_counts() -> None:
    clock = Clock()
    tr = PhaseTracker(ReplayMeter({"gpu:0": [(0, 2.0)]}, clock=clock), clock=clock)
    for dt, toks in ((1.0, 5), (3.0, 7)):
        tr.begin("decode")
        clock.t += dt
        tr.end("decode", output_tokens=toks)
    merged = merge_measurements(*tr.measurements)
    assert merged.total_energy_j == pytest.approx(8.0)
    assert merged.duration_s == pytest.approx(4.0)
    assert merged.counts["output_tokens"] == 12 and merged.windows == 2


def test_meter_error_type_is_what_replay_raises() -> None:
    m = ReplayMeter({"gpu:0": [(0, 1.0)]})
    m.fail_next = OSError("x")
    with pytest.raises(MeterError):
        m.read()


def test_tracker_repr_is_readable() -> None:
    tr = PhaseTracker(ReplayMeter({"gpu:0": [(0, 1.0)]}))
    tr.begin("prefill")
    assert repr(tr) == "<PhaseTracker components=['gpu:0'] open=['prefill'] measurements=0>"
    tr.end("prefill")
    assert repr(tr).endswith("open=[] measurements=1>")
