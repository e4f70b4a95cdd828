"""AMD (amdsmi) and Apple Silicon (zeus-apple-silicon / IOReport) meters against fake libraries, as NVML is tested:
picked by auto(), read through the guard, and every fault handled as for NVML."""

from __future__ import annotations

import math
import sys
import threading
import time
import types
from typing import Any

import pytest

from scer_hf.core.hardware import measured_hardware
from scer_hf.core.meters import AmdSmiMeter, AppleSiliconMeter, EstimateMeter, auto
from scer_hf.core.meters.guard import MeterGuard
from scer_hf.core.tracker import MeasurementWarning, PhaseTracker
from scer_hf.errors import MeterError, MeterUnavailableError

from tests.builders import FakeNvml
from tests.builders import measured_window


class FakeAmdSmi:
    """The amdsmi functions AmdSmiMeter calls: energy accumulators (ticks of 15.3 uJ), power, caps and names."""

    RES_UJ = 15.3

    def __init__(self, n: int = 2, counter: bool = True, old_api: bool = False) -> None:
        self.ticks = [1_000_000.0 * (i + 1) for i in range(n)]
        self.power_w = [200.0] * n
        self.n, self.counter, self.old_api = n, counter, old_api
        self.fail = False
        self.hang = threading.Event()
        self.hanging = False

    def amdsmi_init(self, *flags: Any) -> None:
        if self.n < 0:
            raise RuntimeError("AMDSMI_STATUS_DRIVER_NOT_LOADED")

    def amdsmi_shut_down(self) -> None:
        pass

    def amdsmi_get_processor_handles(self) -> list[str]:
        return [f"h{i}" for i in range(max(self.n, 0))]

    def amdsmi_get_gpu_enumeration_info(self, h: str) -> dict[str, int]:
        return {"hip_id": int(h[1:])}

    def amdsmi_get_gpu_asic_info(self, h: str) -> dict[str, str]:
        return {"market_name": "AMD Instinct MI300X"}

    def amdsmi_get_power_cap_info(self, h: str) -> dict[str, int]:
        return {"max_power_cap": 750_000_000, "power_cap": 750_000_000}  # uW

    def amdsmi_get_energy_count(self, h: str) -> dict[str, float]:
        if not self.counter:
            raise RuntimeError("AMDSMI_STATUS_NOT_SUPPORTED")
        if self.fail:
            raise RuntimeError("AMDSMI_STATUS_UNKNOWN_ERROR")
        if self.hanging:
            self.hang.wait()
        key = "power" if self.old_api else "energy_accumulator"
        return {key: self.ticks[int(h[1:])], "counter_resolution": self.RES_UJ, "timestamp": 0}

    def amdsmi_get_power_info(self, h: str) -> dict[str, Any]:
        return {"current_socket_power": self.power_w[int(h[1:])], "average_socket_power": "N/A"}


class Metrics:
    def __init__(self, **kw: Any) -> None:
        for f in ("cpu_total_mj", "gpu_mj", "gpu_sram_mj", "dram_mj", "ane_mj"):
            setattr(self, f, kw.get(f))


class FakeApple:
    """A zeus_apple_silicon stand-in: AppleEnergyMonitor().get_cumulative_energy() from settable counters (mJ)."""

    def __init__(self, dram: bool = True) -> None:
        self.mj = {"cpu_total_mj": 5_000, "gpu_mj": 2_000, "gpu_sram_mj": 100, "ane_mj": 0,
                   "dram_mj": 700 if dram else None}
        self.fail = False
        fake = self

        class AppleEnergyMonitor:
            def get_cumulative_energy(self) -> Metrics:
                if fake.fail:
                    raise RuntimeError("IOReport subscription lost")
                return Metrics(**fake.mj)

        self.AppleEnergyMonitor = AppleEnergyMonitor


# -- AMD ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("old_api", [False, True])
def test_amd_counter_in_joules_names_and_limits(old_api: bool) -> None:
    lib = FakeAmdSmi(2, old_api=old_api)
    m = AmdSmiMeter(amdsmi=lib)
    assert m.components == ("gpu:0", "gpu:1") and m.method == "counter" and "amdsmi_get_energy_count" in m.source
    lib.ticks[0] += 1_000_000  # 1e6 ticks x 15.3 uJ = 15.3 J
    assert m.read().energy_j["gpu:0"] == pytest.approx(15.3)
    assert m.max_power_w == {"gpu:0": 750.0, "gpu:1": 750.0}
    d = m.describe()
    assert d["meter"] == "amdsmi" and d["method"] == "counter" and d["devices"]["gpu:1"] == "AMD Instinct MI300X"
    assert measured_hardware([d]) == "2 x AMD Instinct MI300X"


def test_amd_visible_devices_no_gpu_and_power_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIP_VISIBLE_DEVICES", "1")
    assert AmdSmiMeter(amdsmi=FakeAmdSmi(2)).components == ("gpu:1",)
    monkeypatch.delenv("HIP_VISIBLE_DEVICES")
    with pytest.raises(MeterUnavailableError, match="could not start"):
        AmdSmiMeter(amdsmi=FakeAmdSmi(-1))
    with pytest.raises(MeterUnavailableError, match="no GPU"):
        AmdSmiMeter(amdsmi=FakeAmdSmi(0))
    m = AmdSmiMeter(amdsmi=FakeAmdSmi(1, counter=False), sample_interval_s=0.005)
    try:
        r0 = m.read()
        time.sleep(0.2)
        r1 = m.read()
        assert r1.energy_j["gpu:0"] - r0.energy_j["gpu:0"] == pytest.approx(200 * (r1.timestamp_s - r0.timestamp_s),
                                                                          rel=0.05)
        assert "power samples" in m.source
    finally:
        m.close()


def test_auto_picks_amd_when_there_is_no_nvidia_gpu(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    ms = auto(nvml=FakeNvml(0), amdsmi=FakeAmdSmi(1), powercap_root=str(tmp_path))
    assert [type(m).__name__ for m in ms] == ["AmdSmiMeter", "EstimateMeter"] and ms.choices["gpu"].startswith("amdsmi")
    # present as a module: picked up without being passed
    monkeypatch.setitem(sys.modules, "amdsmi", types.SimpleNamespace(**{
        k: getattr(FakeAmdSmi(1), k) for k in dir(FakeAmdSmi) if k.startswith("amdsmi_")}))
    assert type(auto(nvml=FakeNvml(0), powercap_root=str(tmp_path))[0]).__name__ == "AmdSmiMeter"
    ms = auto(nvml=FakeNvml(1), amdsmi=FakeAmdSmi(1), powercap_root=str(tmp_path))
    assert type(ms[0]).__name__ == "NvmlMeter"  # NVIDIA first


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0])
def test_amd_bad_counter_is_unmeasured_then_recovers(bad: float) -> None:
    lib = FakeAmdSmi(1)
    tr = PhaseTracker([AmdSmiMeter(amdsmi=lib)], sync_cuda=False)
    good = lib.ticks[0]

    def go_bad() -> None:
        lib.ticks[0] = bad

    with pytest.warns(MeasurementWarning, match="amdsmi"):
        w = measured_window(tr, go_bad)
    assert not w.measured and w.errors
    lib.ticks[0] = good + 1000
    tr.read_all()

    def add() -> None:
        lib.ticks[0] += 1000

    assert measured_window(tr, add).energy_j["gpu:0"] == pytest.approx(1000 * 15.3e-6)


def test_amd_reset_and_impossible_step_are_refused() -> None:
    lib = FakeAmdSmi(1)
    tr = PhaseTracker([AmdSmiMeter(amdsmi=lib)], sync_cuda=False)

    def reset() -> None:
        lib.ticks[0] = 10.0

    with pytest.warns(MeasurementWarning, match="reset"):
        assert not measured_window(tr, reset).measured

    def jump() -> None:  # +153 kJ in milliseconds on a 750 W card
        lib.ticks[0] += 1e10

    w = measured_window(tr, jump)
    assert not w.measured and any("impossible" in e for e in w.errors)

    def add() -> None:
        lib.ticks[0] += 1e5

    assert measured_window(tr, add).energy_j["gpu:0"] == pytest.approx(1.53)


def test_amd_raising_and_hung_reads_go_through_the_guard() -> None:
    lib = FakeAmdSmi(1)
    m = AmdSmiMeter(amdsmi=lib)
    lib.fail = True
    with pytest.raises(MeterError, match="UNKNOWN_ERROR"):
        m.read()
    g = MeterGuard(m, deadline_s=0.2)
    errors: list[str] = []
    with pytest.warns(MeasurementWarning, match="amdsmi"):
        assert g.read(errors) is None
    lib.fail, lib.hanging = False, True
    t0 = time.perf_counter()
    assert g.read(errors) is None and time.perf_counter() - t0 < 1.0  # refused at the deadline, never waits
    assert "did not return within" in errors[-1]
    lib.hanging = False
    lib.hang.set()


# -- Apple Silicon ------------------------------------------------------------------------------
def test_apple_counters_components_and_auto() -> None:
    lib = FakeApple()
    m = AppleSiliconMeter(apple=lib, chip="Apple M2 Max")
    assert m.components == ("cpu:0", "gpu:0", "dram:0", "ane:0") and m.node_wide
    lib.mj["gpu_mj"] += 1500
    lib.mj["gpu_sram_mj"] += 500
    lib.mj["cpu_total_mj"] += 250
    r = m.read().energy_j
    assert r["gpu:0"] == pytest.approx(2.0) and r["cpu:0"] == pytest.approx(0.25) and r["ane:0"] == 0.0
    d = m.describe()
    assert d["meter"] == "apple-silicon" and d["method"] == "counter" and "IOReport" in d["source"]
    assert measured_hardware([d]) == "Apple M2 Max"
    ms = auto(nvml=FakeNvml(0), apple=lib)
    assert [type(x).__name__ for x in ms] == ["AppleSiliconMeter"] and ms.choices["ram"].startswith("apple")
    ms = auto(nvml=FakeNvml(0), apple=FakeApple(dram=False))  # no DRAM channel: RAM estimated, and said
    assert [type(x).__name__ for x in ms] == ["AppleSiliconMeter", "EstimateMeter"]
    assert isinstance(ms[1], EstimateMeter) and ms[1].components == ("ram",) and "DRAM" in ms.choices["ram"]
    assert not any(isinstance(x, AppleSiliconMeter) for x in auto(host=False, nvml=FakeNvml(0), apple=lib))


def test_apple_unavailable_off_mac_and_when_ioreport_fails() -> None:
    if sys.platform != "darwin":
        with pytest.raises(MeterUnavailableError, match="not an Apple Silicon Mac"):
            AppleSiliconMeter()
    lib = FakeApple()
    lib.fail = True
    with pytest.raises(MeterUnavailableError, match="IOReport"):
        AppleSiliconMeter(apple=lib)


def test_apple_faults_as_for_nvml() -> None:
    lib = FakeApple()
    tr = PhaseTracker([AppleSiliconMeter(apple=lib, chip="Apple M3")], sync_cuda=False)

    def reset() -> None:
        lib.mj["cpu_total_mj"] = 1

    with pytest.warns(MeasurementWarning, match="apple-silicon"):
        assert not measured_window(tr, reset).measured

    def lost() -> None:
        lib.fail = True

    w = measured_window(tr, lost)
    assert not w.measured and any("IOReport" in e for e in w.errors)
    lib.fail = False
    tr.read_all()

    def add() -> None:
        lib.mj["gpu_mj"] += 40

    w = measured_window(tr, add)
    assert w.measured and w.energy_j["gpu:0"] == pytest.approx(0.04)


def test_node_wide_chip_counters_are_kept_by_local_rank_0_only() -> None:
    from scer_hf.hf.distributed import meters_for_rank

    ms = auto(nvml=FakeNvml(0), apple=FakeApple())
    kept, choices = meters_for_rank(ms, measures_host=False)
    assert kept == [] and "once per node" in choices["gpu"]
    kept, _ = meters_for_rank(auto(nvml=FakeNvml(0), apple=FakeApple()), measures_host=True)
    assert [type(x).__name__ for x in kept] == ["AppleSiliconMeter"]
