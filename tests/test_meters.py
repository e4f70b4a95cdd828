"""Counter backends against fake sysfs trees and a fake NVML module; estimate labelling; auto."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scer_hf.errors import MeterError, MeterUnavailableError
from scer_hf.core.meters import EstimateMeter, NvmlMeter, RaplMeter, auto
from scer_hf.core.meters.nvml import visible_gpu_indices
from scer_hf.core.meters.rapl import find_rapl_domains
from tests.builders import FakeNVMLError, FakeNvml, make_rapl


# --- fake RAPL powercap tree -------------------------------------------------------------
def test_rapl_finds_package_and_dram_and_skips_core_and_psys(tmp_path: Path) -> None:
    make_rapl(tmp_path, packages=2)
    doms = find_rapl_domains(tmp_path)
    assert sorted(doms) == ["cpu:0", "cpu:1", "dram:0", "dram:1"]


def test_rapl_reads_deltas_in_joules(tmp_path: Path) -> None:
    files = make_rapl(tmp_path)
    m = RaplMeter(tmp_path, guard_interval_s=None)
    files["cpu:0"].write_text(str(1000 + 2_500_000))  # +2.5 J
    files["dram:0"].write_text("750000")  # +0.75 J
    r = m.read()
    assert r.energy_j["cpu:0"] == pytest.approx(2.5)
    assert r.energy_j["dram:0"] == pytest.approx(0.75)
    assert m.method == "counter"


def test_rapl_wraparound_is_unwrapped(tmp_path: Path) -> None:
    files = make_rapl(tmp_path, max_uj=10_000_000)  # wraps at 10 J
    files["cpu:0"].write_text("9000000")
    m = RaplMeter(tmp_path, guard_interval_s=None)  # starts at 9 J raw
    files["cpu:0"].write_text("3000000")  # wrapped: +1 J to the top, +3 J after = 4 J
    assert m.read().energy_j["cpu:0"] == pytest.approx(4.0)
    files["cpu:0"].write_text("8000000")  # +5 J, no wrap
    assert m.read().energy_j["cpu:0"] == pytest.approx(9.0)
    files["cpu:0"].write_text("1000000")  # wraps again: +2 + 1 = 3 J
    assert m.read().energy_j["cpu:0"] == pytest.approx(12.0)
    assert m.wraps["cpu:0"] == 2


def test_rapl_guard_thread_catches_wraps_between_windows(tmp_path: Path) -> None:
    """Two wraps between a window's two reads: only the guard's reads can see both."""
    import time

    files = make_rapl(tmp_path, dram=False, max_uj=10_000_000)  # wraps at 10 J
    files["cpu:0"].write_text("9001000")
    m = RaplMeter(tmp_path, guard_interval_s=0.01)
    try:
        start = m.read().energy_j["cpu:0"]
        for raw in ("5000000", "9500000", "1000000"):  # +5.999 (wrap), +4.5, +1.5 (wrap)
            files["cpu:0"].write_text(raw)
            time.sleep(0.15)  # let the guard read each state
        end = m.read().energy_j["cpu:0"]
        assert end - start == pytest.approx(11.999)
        assert m.wraps["cpu:0"] == 2
    finally:
        m.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read mode-000 files")
def test_rapl_permission_denied_is_unavailable_with_reason(tmp_path: Path) -> None:
    files = make_rapl(tmp_path)
    files["cpu:0"].chmod(0)
    with pytest.raises(MeterUnavailableError, match="permission denied"):
        RaplMeter(tmp_path, guard_interval_s=None)


def test_rapl_permission_denied_reason_via_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # root ignores file modes, so make the read itself raise PermissionError at the OS boundary
    make_rapl(tmp_path)
    real = Path.read_text

    def deny(self: Path, *a: object, **k: object) -> str:
        if self.name == "energy_uj":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "read_text", deny)
    with pytest.raises(MeterUnavailableError) as ei:
        RaplMeter(tmp_path, guard_interval_s=None)
    assert "permission denied" in ei.value.reason and "estimate" in ei.value.reason


def test_rapl_absent_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(MeterUnavailableError, match="no RAPL package domain"):
        RaplMeter(tmp_path / "nothing", guard_interval_s=None)


def test_rapl_read_error_is_meter_error(tmp_path: Path) -> None:
    files = make_rapl(tmp_path, dram=False)
    m = RaplMeter(tmp_path, guard_interval_s=None)
    files["cpu:0"].write_text("garbage")
    with pytest.raises(MeterError):
        m.read()


# --- fake NVML -----------------------------------------------------------------------------
def test_nvml_counter_deltas_in_joules() -> None:
    nv = FakeNvml(2)
    m = NvmlMeter(nvml=nv)
    assert m.components == ("gpu:0", "gpu:1")
    nv.energy_mj[0] += 12_345.0
    nv.energy_mj[1] += 1_000.0
    r = m.read()
    assert r.energy_j == {"gpu:0": pytest.approx(12.345), "gpu:1": pytest.approx(1.0)}
    assert "TotalEnergyConsumption" in m.source
    assert m.device_names["gpu:0"] == "NVIDIA H100 80GB HBM3"


def test_nvml_honours_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    m = NvmlMeter(nvml=FakeNvml(2))
    assert m.components == ("gpu:1",)
    assert visible_gpu_indices(4, "2,0") == [2, 0]
    assert visible_gpu_indices(4, "GPU-abc") == [0, 1, 2, 3]
    # CUDA's rule: an invalid index hides itself and every later one, so "-1" (the usual way to hide
    # the GPUs) measures none, not all four idle GPUs of the node
    assert visible_gpu_indices(4, "-1") == []
    assert visible_gpu_indices(4, "0,-1,1") == [0] and visible_gpu_indices(4, "1,7,2") == [1]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    with pytest.raises(MeterUnavailableError):
        NvmlMeter(nvml=FakeNvml(2))


def test_nvml_without_counter_integrates_power() -> None:
    import time

    nv = FakeNvml(1, counter=False)
    m = NvmlMeter(nvml=nv, sample_interval_s=0.005)
    try:
        t0 = m.read()
        time.sleep(0.2)
        t1 = m.read()
        dt = t1.timestamp_s - t0.timestamp_s
        # constant 100 W: energy = 100 W x elapsed time, whatever the sampling
        assert t1.energy_j["gpu:0"] - t0.energy_j["gpu:0"] == pytest.approx(100.0 * dt, rel=0.02)
        assert "power samples" in m.source
    finally:
        m.close()


def test_nvml_no_driver_or_no_gpu_is_unavailable() -> None:
    with pytest.raises(MeterUnavailableError, match="NVML could not start"):
        NvmlMeter(nvml=FakeNvml(-1))
    with pytest.raises(MeterUnavailableError, match="no GPU"):
        NvmlMeter(nvml=FakeNvml(0))


def test_nvml_read_failure_is_meter_error() -> None:
    nv = FakeNvml(1)
    m = NvmlMeter(nvml=nv)
    nv.fail = True
    with pytest.raises(MeterError, match="GPU is lost"):
        m.read()


# --- estimate ------------------------------------------------------------------------------
def test_estimate_is_labelled_and_tracks_process_cpu_time() -> None:
    m = EstimateMeter(cpu_tdp_w=100.0, include_ram=False)
    r0 = m.read()
    x = 0
    for i in range(2_000_000):
        x += i
    r1 = m.read()
    d = m.describe()
    assert d["method"] == "estimate" and "ESTIMATE" in d["note"]
    assert d["assumptions"]["cpu_power_source"] == "user-supplied TDP"
    used = r1.energy_j["cpu:est"] - r0.energy_j["cpu:est"]
    assert used > 0
    # E = TDP x cpu_seconds / logical CPUs: can't exceed TDP x wall time
    assert used <= 100.0 * (r1.timestamp_s - r0.timestamp_s) + 1e-6


def test_estimate_unknown_cpu_uses_codecarbon_fallback_and_says_so() -> None:
    m = EstimateMeter(cpu_model="Totally Unknown CPU 9000")
    assert m.cpu_w_at_full_load == pytest.approx(4.0 * m.logical_cpus)
    assert "fallback" in m.assumptions["cpu_power_source"]
    assert "ram" in m.components and m.assumptions["ram_w_per_gb"] == 0.3725


def test_estimate_known_cpu_uses_codecarbon_table() -> None:
    m = EstimateMeter(cpu_model="Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz")
    assert "cpu_power.csv" in m.assumptions["cpu_power_source"]
    assert m.cpu_w_at_full_load == pytest.approx(150.0 * m.sockets)


# --- auto ----------------------------------------------------------------------------------
def test_auto_prefers_counters_and_records_choices(tmp_path: Path) -> None:
    make_rapl(tmp_path)
    ms = auto(powercap_root=str(tmp_path), nvml=FakeNvml(1))
    try:
        kinds = [type(m).__name__ for m in ms]
        assert kinds == ["NvmlMeter", "RaplMeter"]
        assert ms.choices["cpu"].startswith("rapl counter") and ms.choices["ram"] == "rapl dram counter"
    finally:
        ms.close()


def test_auto_falls_back_to_estimate_and_says_why(tmp_path: Path) -> None:
    ms = auto(powercap_root=str(tmp_path / "none"), nvml=FakeNvml(0))
    assert [type(m).__name__ for m in ms] == ["EstimateMeter"]
    assert ms.choices["gpu"].startswith("none (") and "RAPL unavailable" in ms.choices["cpu"]


def test_auto_rapl_without_dram_adds_ram_estimate_only(tmp_path: Path) -> None:
    make_rapl(tmp_path, dram=False)
    ms = auto(powercap_root=str(tmp_path), gpu=False)
    try:
        est = [m for m in ms if isinstance(m, EstimateMeter)][0]
        assert est.components == ("ram",)
    finally:
        ms.close()


def test_auto_host_false_measures_no_cpu() -> None:
    ms = auto(host=False, nvml=FakeNvml(1))
    assert [type(m).__name__ for m in ms] == ["NvmlMeter"]
    assert "once per node" in ms.choices["cpu"]


def test_estimate_ram_integrates_rss_with_a_held_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    import scer_hf.core.meters.estimate as est

    clock = {"t": 100.0}
    rss = {"b": 2e9}
    monkeypatch.setattr(est, "now_s", lambda: clock["t"])
    monkeypatch.setattr(est, "_rss_bytes", lambda: rss["b"])
    m = EstimateMeter(include_cpu=False, rss_refresh_s=0.5)
    clock["t"] = 110.0  # 10 s at 2 GB
    assert m.read().energy_j["ram"] == pytest.approx(0.3725 * 2 * 10)
    rss["b"] = 4e9
    clock["t"] = 110.2  # within the refresh period: the held 2 GB sample is used
    assert m.read().energy_j["ram"] == pytest.approx(0.3725 * 2 * 10.2)
    clock["t"] = 111.2  # refreshed: trapezoid between 2 GB and 4 GB over 1 s
    assert m.read().energy_j["ram"] == pytest.approx(0.3725 * (2 * 10.2 + 3 * 1.0))
    assert "every 0.5 s" in m.assumptions["ram_attribution"]
