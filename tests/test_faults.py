"""Fault injection (issue 13): every kind of meter fault against SCERCallback and track_pipeline.

Each case asserts: the user's outputs are those of an unmeasured run (trained weights / pipeline outputs
equal), a report exists (cb.report and its file; the pipeline's report saves and loads), the phases the fault
touched are unmeasured with the reason, and exactly one MeasurementWarning for the meter. The RAPL and NVML
counter checks (reset vs wrap, power bounds) run against fake sysfs trees and a fake NVML module.
"""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import pytest

from scer_hf.errors import MeterError
from scer_hf.core.meters import Meter, NvmlMeter, RaplMeter, Reading
from scer_hf.core.meters.base import now_s
from scer_hf.core.meters.guard import SLOW_READ_S, MeterGuard
from scer_hf.core.tracker import MeasurementWarning, PhaseTracker

from tests.builders import FakeNvml, make_rapl
from tests.builders import measured_window

WATTS = 100.0


class CustomMeterBug(Exception):
    """An exception class no one anticipated."""


def _raise(exc: BaseException) -> Callable[["FaultyMeter"], Any]:
    def f(m: "FaultyMeter") -> Any:
        raise exc
    return f


def _value(v: Any) -> Callable[["FaultyMeter"], Any]:
    return lambda m: Reading(now_s(), {"gpu:0": v})


def _slow(m: "FaultyMeter") -> Reading:
    time.sleep(SLOW_READ_S * 1.2)
    return m.good()


def _reset(m: "FaultyMeter") -> Reading:
    if not m.reset_done:  # the counter restarts from 0 once, then counts on
        m.reset_done = True
        m.offset += m.good().energy_j["gpu:0"]
    return m.good()


# kind -> (what a faulty read does, a word the reason must contain)
FAULTS: dict[str, tuple[Callable[["FaultyMeter"], Any], str]] = {
    "KeyError": (_raise(KeyError("gpu:0")), "KeyError"),
    "RuntimeError": (_raise(RuntimeError("CUDA driver gone")), "CUDA driver gone"),
    "TypeError": (_raise(TypeError("bad operand")), "TypeError"),
    "custom exception": (_raise(CustomMeterBug("surprise")), "CustomMeterBug"),
    "MeterError": (_raise(MeterError("device lost")), "device lost"),
    "OSError": (_raise(OSError("EIO")), "EIO"),
    "NaN": (_value(math.nan), "nan"),
    "inf": (_value(math.inf), "inf"),
    "None value": (_value(None), "NoneType"),
    "negative": (_value(-5.0), "-5.0"),
    "huge": (_value(1e300), "1e+300"),
    "wrong type": (_value("12.5"), "str"),
    "missing component": (lambda m: Reading(now_s(), {}), "missing gpu:0"),
    "extra component": (lambda m: Reading(now_s(), {**m.good().energy_j, "gpu:1": 1.0}), "unexpected gpu:1"),
    "dict not Reading": (lambda m: dict(m.good().energy_j), "returned dict"),
    "str not Reading": (lambda m: "12 J", "returned str"),
    "None not Reading": (lambda m: None, "returned NoneType"),
    "NaN timestamp": (lambda m: Reading(math.nan, m.good().energy_j), "timestamp"),
    "slow": (_slow, "slower than"),
    "reset": (_reset, "reset"),
}
RAISING = {"KeyError", "RuntimeError", "TypeError", "custom exception", "MeterError", "OSError"}
# always: every read; after3: from the 4th read on (a meter that dies); once: the 4th read only (intermittent)
MODES = ("always", "after3", "once")
CASES = [(k, mode) for k in FAULTS for mode in MODES if not (k == "reset" and mode == "always")]


class FaultyMeter(Meter):
    """100 W on ``gpu:0`` (real clock); reads in the faulty part of *mode* do what FAULTS[kind] says."""

    name = "faulty"
    source = "fault injection"

    def __init__(self, kind: str, mode: str) -> None:
        super().__init__()
        self.fault, self.mode = FAULTS[kind][0], mode
        self.n = 0
        self.t0 = now_s()
        self.offset = 0.0
        self.reset_done = False

    @property
    def components(self) -> tuple[str, ...]:
        return ("gpu:0",)

    def good(self) -> Reading:
        t = now_s()
        return Reading(t, {"gpu:0": (t - self.t0) * WATTS - self.offset})

    def read(self) -> Any:
        self.n += 1
        hit = self.mode == "always" or (self.mode == "after3" and self.n > 3) or (self.mode == "once" and self.n == 4)
        if self.mode == "once" and self.fault is _slow:
            hit = 4 <= self.n < 7  # three slow reads in a row: the meter is disabled
        return self.fault(self) if hit else self.good()


def ours(rec: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in rec if issubclass(w.category, MeasurementWarning)]


def callback_bugs(rec: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in rec if "SCERCallback." in str(w.message)]


def check_phase(p: dict, word: str) -> None:
    """The fault shows: coverage below 1, the reason kept; what was not measured is filled (labelled) or null."""
    cov = p["coverage"]
    assert p["measured"] is False and cov["measured_fraction"] < 1 and cov["windows_measured"] < p["windows"], p
    assert any(e.startswith("faulty: ") and word in e for e in p["errors"]), p["errors"]
    measured_s = sum(c["measured_s"] for c in cov.get("components", {}).values())
    if measured_s == 0:  # nothing measured: no energy at all, never a zero
        assert p["method"] == "unmeasured" and p["energy_j"]["total"] is None and p["co2e_g"] is None, p
    else:  # the gap is filled at the power measured around it, and labelled
        assert p["energy_j"]["total"] is None or p["energy_j_filled"]["total"] > 0, p


# --- the guard alone (fast) --------------------------------------------------------------
@pytest.mark.parametrize("kind,mode", CASES)
def test_guard_refuses_each_fault_and_marks_windows(kind: str, mode: str) -> None:
    m = FaultyMeter(kind, mode)
    tr = PhaseTracker([m], sync_cuda=False)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        ws = []
        for i in range(8):
            tr.begin(f"w{i}")
            ws.append(tr.end(f"w{i}"))
    assert len(ours(rec)) == 1 and "'faulty'" in ours(rec)[0]
    bad = [w for w in ws if not w.measured]
    assert bad, "a fault left every window measured"
    for w in bad:
        assert w.method == "unmeasured" and any(word_in(e, kind) for e in w.errors), w.errors
    for w in ws:  # no refused value ever reaches a figure
        assert all(math.isfinite(v) and 0 <= v < 1e6 for v in w.energy_j.values())
    if mode == "once" and kind != "slow":  # recovers
        assert ws[-1].measured and ws[-1].energy_j["gpu:0"] >= 0
    assert "faulty" in tr.provenance()["failed_meters"]


def word_in(err: str, kind: str) -> bool:
    return err.startswith("faulty: ") and FAULTS[kind][1] in err


# --- SCERCallback ----------------------------------------------------------------------
tf = pytest.importorskip("transformers")
pytest.importorskip("torch")


from scer_hf import Report, SCERCallback  # noqa: E402

STEPS = 3


@pytest.fixture(scope="module")
def tiny(tiny_train_data) -> dict:  # type: ignore[no-untyped-def]
    return tiny_train_data(24, 16)


def _train(tiny: dict, out: Path, callbacks: list) -> "tf.Trainer":
    model = tf.AutoModelForCausalLM.from_pretrained(tiny["path"])
    args = tf.TrainingArguments(str(out), use_cpu=True, report_to=[], max_steps=STEPS,
                                per_device_train_batch_size=4, logging_steps=1, save_strategy="no",
                                disable_tqdm=True)
    trainer = tf.Trainer(model=model, args=args, train_dataset=tiny["ds"],
                         data_collator=tf.DataCollatorForLanguageModeling(tiny["tok"], mlm=False),
                         callbacks=callbacks)
    trainer.train()
    return trainer


@pytest.fixture(scope="module")
def unmeasured_weights(tiny: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    trainer = _train(tiny, tmp_path_factory.mktemp("plain"), [])
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


@pytest.mark.slow
@pytest.mark.parametrize("kind,mode", [c for c in CASES if c[1] != "after3"])
def test_callback_survives_fault(kind: str, mode: str, tiny: dict, unmeasured_weights: dict,
                                 tmp_path: Path) -> None:
    import torch

    cb = SCERCallback(meters=[FaultyMeter(kind, mode)], report_path=tmp_path / "r.json")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        trainer = _train(tiny, tmp_path / "o", [cb])
    assert trainer.state.global_step == STEPS
    got = trainer.model.state_dict()
    assert all(torch.equal(got[k], v) for k, v in unmeasured_weights.items())
    assert len(ours(rec)) == 1 and "'faulty'" in ours(rec)[0], ours(rec)
    assert callback_bugs(rec) == []
    saved = Report.load(tmp_path / "r.json")
    assert saved.to_dict() == cb.report.to_dict()
    word = FAULTS[kind][1]
    for name in ("train", "epoch 1"):  # both were open during the fault
        p = saved.phase(name)
        if mode == "once" and p["measured"]:
            # one read raised, and it was not an edge of this phase's windows (a report flush reads meters too):
            # a read that raised says nothing about the counter, so the windows around it stay measured
            assert kind in RAISING and p["coverage"]["measured_fraction"] == 1
            continue
        check_phase(p, word)
    if saved.status == "complete":  # possible only when the fault touched no window of the run
        assert mode == "once" and all(p["measured"] for p in saved.to_dict()["phases"])
    assert mode == "once" or (cb.report.status == "partial" and saved.energy_j is None)
    assert "faulty" in saved.to_dict()["provenance"]["failed_meters"]
    if kind == "slow":
        assert "disabled" in saved.to_dict()["provenance"]["failed_meters"]["faulty"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["KeyError", "RuntimeError", "NaN", "dict not Reading"])
def test_callback_meter_that_dies_after_3_reads(kind: str, tiny: dict, tmp_path: Path) -> None:
    cb = SCERCallback(meters=[FaultyMeter(kind, "after3")], report_path=tmp_path / "r.json")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        _train(tiny, tmp_path / "o", [cb])
        rep = cb.report  # raised KeyError in the user's script before issue 13
    assert len(ours(rec)) == 1 and callback_bugs(rec) == []
    check_phase(rep.phase("train"), FAULTS[kind][1])
    assert Report.load(tmp_path / "r.json").phase("train")["measured"] is False


@pytest.mark.slow
def test_callback_report_exists_when_train_raises_and_every_read_fails(tiny: dict, tmp_path: Path) -> None:
    class Boom(tf.TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            if state.global_step == 2:
                raise ValueError("user bug")

    cb = SCERCallback(meters=[FaultyMeter("KeyError", "always")], report_path=tmp_path / "r.json", flush_every_s=0)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="user bug"):
            _train(tiny, tmp_path / "o", [cb, Boom()])
    assert len(ours(rec)) == 1
    rep = Report.load(tmp_path / "r.json")
    assert rep.status == "partial"
    check_phase(rep.phase("train"), "KeyError")
    check_phase(cb.report.phase("train"), "KeyError")


# --- track_pipeline ----------------------------------------------------------------------
GREEDY = {"max_new_tokens": 4, "do_sample": False}
PROMPTS = ["Hello there", "The sky is", "Once upon a time"]


@pytest.fixture(scope="module")
def bare(gpt2):  # type: ignore[no-untyped-def]
    from transformers import pipeline

    p = pipeline("text-generation", model=gpt2)
    return p, [p(x, **GREEDY) for x in PROMPTS]


@pytest.mark.parametrize("kind,mode", CASES)
def test_pipeline_survives_fault(kind: str, mode: str, bare: tuple, tmp_path: Path) -> None:
    import scer_hf

    pipe, expected = bare
    tp = scer_hf.track_pipeline(pipe, meters=[FaultyMeter(kind, mode)])
    try:
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            calls = []
            for x in PROMPTS:  # 3 reads per call: start, prefill->decode, finish
                out = tp(x, **GREEDY)
                calls.append(tp.last_call)
                assert out == expected[len(calls) - 1]
        assert len(ours(rec)) == 1 and "'faulty'" in ours(rec)[0], ours(rec)
        assert tp.calls == 3 and tp.tracker.active == () and "generate" not in vars(pipe.model)
        tp.report.save(tmp_path / "r.json")
        rep = Report.load(tmp_path / "r.json")
        word = FAULTS[kind][1]
        check_phase(rep.phase("generate"), word)
        d = rep.to_dict()
        assert d["status"] == "partial" and d["coverage"]["measured_fraction"] < 1
        if mode == "always":
            assert not any(c["generate"].measured for c in calls)
            assert d["energy_j"] is None and d["sci"] is None and d["extra"]["per_unit"]["j_per_query"] is None
        else:  # the first call (reads 1-3) is measured; the second one saw the fault
            assert calls[0]["generate"].measured and not calls[1]["generate"].measured
            assert d["extra"]["per_unit"]["queries_measured"] < 3
        if mode == "once" and kind != "slow":
            assert all(m.measured for m in calls[2].values()), "the wrapper did not recover on the next call"
    finally:
        tp.close()


# --- RAPL and NVML counters: reset vs wrap, power bounds --------------------------------------
def test_rapl_reset_is_not_a_wrap(tmp_path: Path) -> None:
    files = make_rapl(tmp_path, dram=False)  # the default range, 262,143 J
    files["cpu:0"].write_text("5000000")  # 5 J
    m = RaplMeter(tmp_path, guard_interval_s=None)
    tr = PhaseTracker([m], sync_cuda=False)
    with pytest.warns(MeasurementWarning, match="rapl.*reset"):
        w = measured_window(tr, lambda: files["cpu:0"].write_text("1000000"))  # 1 J: reset, not +262,139 J
    assert not w.measured and w.energy_j.get("cpu:0", 0.0) < 1.0 and any("reset" in e for e in w.errors)
    assert m.wraps["cpu:0"] == 0 and m.faults == 1
    w2 = measured_window(tr, lambda: files["cpu:0"].write_text("3000000"))
    assert w2.measured and w2.energy_j["cpu:0"] == pytest.approx(2.0)


def test_rapl_true_wrap_still_unwraps(tmp_path: Path) -> None:
    files = make_rapl(tmp_path, dram=False)
    top = 262143328850
    files["cpu:0"].write_text(str(top - 2_000_000))  # 2 J below the top
    m = RaplMeter(tmp_path, guard_interval_s=None)
    tr = PhaseTracker([m], sync_cuda=False)
    w = measured_window(tr, lambda: files["cpu:0"].write_text("1000000"))
    assert w.measured and w.energy_j["cpu:0"] == pytest.approx(3.0) and m.wraps["cpu:0"] == 1


def test_rapl_negative_and_oversized_energy_are_refused(tmp_path: Path) -> None:
    files = make_rapl(tmp_path, dram=False)
    files["cpu:0"].write_text("5000000")
    m = RaplMeter(tmp_path, guard_interval_s=None)
    tr = PhaseTracker([m], sync_cuda=False)
    with pytest.warns(MeasurementWarning, match="impossible raw"):
        w = measured_window(tr, lambda: files["cpu:0"].write_text("-4000000"))
    assert not w.measured and w.energy_j.get("cpu:0", 0.0) < 1.0
    w = measured_window(tr, lambda: files["cpu:0"].write_text("999999999999999"))  # above max_energy_range_uj
    assert not w.measured and w.energy_j.get("cpu:0", 0.0) < 1.0
    files["cpu:0"].write_text("6000000")
    tr.read_all()
    w = measured_window(tr, lambda: files["cpu:0"].write_text("7000000"))
    assert w.measured and w.energy_j["cpu:0"] == pytest.approx(1.0)


def test_rapl_power_limit_from_constraint_files_bounds_steps(tmp_path: Path) -> None:
    files = make_rapl(tmp_path, dram=False)
    pkg = files["cpu:0"].parent
    (pkg / "constraint_0_power_limit_uw").write_text("65000000\n")  # PL1 65 W
    (pkg / "constraint_1_power_limit_uw").write_text("120000000\n")  # PL2 120 W
    (pkg / "constraint_0_max_power_uw").write_text("0\n")  # unset on many machines
    m = RaplMeter(tmp_path, guard_interval_s=None)
    assert m.max_power_w == {"cpu:0": 120.0}
    tr = PhaseTracker([m], sync_cuda=False)
    ok = measured_window(tr, lambda: files["cpu:0"].write_text("101000"))  # +0.1 J
    assert ok.measured
    with pytest.warns(MeasurementWarning, match="impossible step"):
        w = measured_window(tr, lambda: files["cpu:0"].write_text("1000101000"))  # +1,000 J at once: > 120 W x 2 x 1 s
    assert not w.measured and w.energy_j.get("cpu:0", 0.0) == 0.0
    # a "wrap" implying more than 120 W x 2 is a reset, even a small one
    w = measured_window(tr, lambda: files["cpu:0"].write_text("500"))
    assert not w.measured and m.wraps["cpu:0"] == 0


@pytest.mark.slow
def test_rapl_reset_in_training_is_not_262_kj(tiny: dict, tmp_path: Path) -> None:
    files = make_rapl(tmp_path / "rapl", dram=False)
    files["cpu:0"].write_text("5000000")
    m = RaplMeter(tmp_path / "rapl", guard_interval_s=None)

    class Reset(tf.TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            files["cpu:0"].write_text("6000000" if state.global_step == 1 else "1000000")

    cb = SCERCallback(meters=[m], report_path=tmp_path / "r.json")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        _train(tiny, tmp_path / "o", [Reset(), cb])
    assert len(ours(rec)) == 1
    p = cb.report.phase("train")
    assert p["energy_j"]["total"] < 10 and p["measured"] is False and any("reset" in e for e in p["errors"])


class LimitNvml(FakeNvml):
    def __init__(self, n: int = 1, counter: bool = True, limit_mw: float = 300_000.0) -> None:
        super().__init__(n, counter)
        self.limit_mw = limit_mw

    def nvmlDeviceGetPowerManagementLimitConstraints(self, h: int) -> tuple[float, float]:
        return (100_000.0, self.limit_mw)

    def nvmlDeviceGetEnforcedPowerLimit(self, h: int) -> float:
        return self.limit_mw * 0.9


def test_nvml_max_power_from_power_limits() -> None:
    assert NvmlMeter(nvml=LimitNvml(limit_mw=700_000.0)).max_power_w == {"gpu:0": 700.0}
    assert NvmlMeter(nvml=FakeNvml(1)).max_power_w == {"gpu:0": 10_000.0}  # states none: the ceiling


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nvml_nan_inf_counter_is_unmeasured_not_zero(bad: float) -> None:
    nv = LimitNvml()
    tr = PhaseTracker([NvmlMeter(nvml=nv)], sync_cuda=False)

    def go_bad() -> None:
        nv.energy_mj[0] = bad

    with pytest.warns(MeasurementWarning, match="nvml"):
        w = measured_window(tr, go_bad)
    assert not w.measured and w.method == "unmeasured" and w.errors
    nv.energy_mj[0] = 1_000_100.0
    tr.read_all()  # the counter is back: the next window measures again

    def add() -> None:
        nv.energy_mj[0] += 50.0

    assert measured_window(tr, add).energy_j["gpu:0"] == pytest.approx(0.05)


def test_nvml_counter_reset_warns_and_recovers() -> None:
    nv = LimitNvml()
    m = NvmlMeter(nvml=nv)
    tr = PhaseTracker([m], sync_cuda=False)

    def reset() -> None:
        nv.energy_mj[0] = 10.0  # driver reload: counter restarts

    with pytest.warns(MeasurementWarning, match="reset"):
        w = measured_window(tr, reset)
    assert not w.measured and any("reset" in e for e in w.errors)

    def add() -> None:
        nv.energy_mj[0] += 500.0

    w2 = measured_window(tr, add)
    assert w2.measured and w2.energy_j["gpu:0"] == pytest.approx(0.5)


def test_nvml_counter_jump_implying_impossible_power_is_refused() -> None:
    nv = LimitNvml()  # 300 W board
    tr = PhaseTracker([NvmlMeter(nvml=nv)], sync_cuda=False)

    def jump() -> None:
        nv.energy_mj[0] += 1e8  # +100 kJ within milliseconds on a 300 W board

    # refused as an impossible step, or (on a machine up for under ~3 minutes) as a value no counter could reach
    with pytest.warns(MeasurementWarning, match="impossible (step|raw counter value)"):
        w = measured_window(tr, jump)
    assert not w.measured and w.energy_j.get("gpu:0", 0.0) == 0.0

    def add() -> None:
        nv.energy_mj[0] += 20.0

    w2 = measured_window(tr, add)  # the counter's new level is the baseline: measured again
    assert w2.measured and w2.energy_j["gpu:0"] == pytest.approx(0.02)


@pytest.mark.parametrize("watts", [1e12, -50.0, math.nan])
def test_nvml_impossible_power_is_refused(watts: float) -> None:
    nv = LimitNvml(counter=False)
    m = NvmlMeter(nvml=nv, sample_interval_s=3600)  # no background samples: the test drives them
    tr = PhaseTracker([m], sync_cuda=False)
    try:
        def spike() -> None:
            nv.power_mw[0] = watts * 1000.0

        with pytest.warns(MeasurementWarning, match="impossible power"):
            w = measured_window(tr, spike)
        assert not w.measured and all(math.isfinite(v) and v < 1e3 for v in w.energy_j.values())
        nv.power_mw[0] = 100_000.0
        tr.read_all()
        w2 = measured_window(tr, lambda: time.sleep(0.01))
        assert w2.measured and 0 <= w2.energy_j["gpu:0"] < 100.0
    finally:
        m.close()


def test_one_guard_per_meter_and_it_never_raises() -> None:
    class Evil(Meter):
        name = "evil"

        @property
        def components(self) -> tuple[str, ...]:
            raise RuntimeError("no components either")

        def read(self) -> Reading:
            raise SystemError("really bad")

    g = MeterGuard(Evil())
    errors: list[str] = []
    with pytest.warns(MeasurementWarning, match="evil"):
        assert g.read(errors) is None
    assert errors == ["evil: SystemError: really bad"]
    tr = PhaseTracker([Evil()], sync_cuda=False)
    with pytest.warns(MeasurementWarning):
        tr.begin("w")
    assert not tr.end("w").measured
    assert tr.provenance()["meters"][0]["meter"] == "evil"
