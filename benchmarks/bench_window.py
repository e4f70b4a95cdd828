"""Cost of one measurement window (begin + end) per meter backend available here.

    python benchmarks/bench_window.py

RAPL and NVML run against a fake sysfs tree / fake NVML module (no hardware here), so
their figures are the cost of scer-hf's own code plus file reads, not of the driver.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_meters import FakeNvml, make_rapl  # noqa: E402

from scer_hf.core.meters import EstimateMeter, NvmlMeter, RaplMeter, ReplayMeter  # noqa: E402
from scer_hf.core.tracker import PhaseTracker  # noqa: E402


def window_cost_us(meter, n: int = 20_000) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    tr = PhaseTracker(meter, keep=False, sync_cuda=False)
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            tr.begin("w")
            tr.end("w")
        runs.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(runs), min(runs)


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        make_rapl(Path(d))
        backends = {
            "estimate (process CPU time + RSS)": EstimateMeter(),
            "rapl (fake sysfs, 2 files)": RaplMeter(d, guard_interval_s=None),
            "nvml (fake module, 1 GPU)": NvmlMeter(nvml=FakeNvml(1)),
            "replay (power trace)": ReplayMeter({"gpu:0": [(0, 100.0), (1e6, 100.0)]}),
        }
        print(f"{'backend':40s} {'median us/window':>18s} {'min':>8s}")
        for name, m in backends.items():
            med, best = window_cost_us(m)
            print(f"{name:40s} {med:18.2f} {best:8.2f}")


if __name__ == "__main__":
    main()
