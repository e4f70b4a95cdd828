"""Memory of a long-running tracked pipeline (issue 19: bounded state while serving).

A stand-in pipeline (no model: every call returns at once, so only scer-hf's own state grows) is tracked with a
meter that fails on 2 % of its reads (seeded) and live grid intensity read from a fake Electricity Maps server on
127.0.0.1 at every window edge (``min_interval_s`` tiny, so readings pile up as fast as they can). After every
10,000 calls the report is built and the Python heap is measured with ``tracemalloc`` (current and peak since the
last checkpoint) along with the process's resident set.

    python benchmarks/bench_serving_memory.py [--calls 50000] [--every 10000] [--fail 0.02] [--threads 32]

``--threads N`` makes the calls from N threads at once (a web server's pool, issue 22): the calls overlap, share
the meter's reads and the energy between them, and the state must stay as flat as with one thread.

Flat rows mean bounded state: what one call leaves behind must not add up.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import sys
import time
import tracemalloc
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

from emserver import TOKEN, FakeElectricityMaps  # noqa: E402

from scer_hf import track_pipeline  # noqa: E402
from scer_hf.core.live_intensity import LiveIntensity  # noqa: E402
from scer_hf.core.meters import Reading, ReplayMeter  # noqa: E402


class FlakyMeter(ReplayMeter):
    """A constant 300 W GPU whose reads raise with probability *p* (seeded)."""

    def __init__(self, p: float, seed: int = 0) -> None:
        super().__init__({"gpu:0": [(0.0, 300.0)]}, source="constant 300 W test trace")
        self.p, self.rng = p, random.Random(seed)

    def read(self) -> Reading:
        if self.rng.random() < self.p:
            raise RuntimeError(f"NVML_ERROR_UNKNOWN at read {self.rng.random():.6f}")  # a message that varies
        return super().read()


class FakePipe:
    """What track_pipeline needs of a pipeline: a task, a model, a call."""

    task = "text-classification"

    def __init__(self) -> None:
        self.model = SimpleNamespace(name_or_path="org/stand-in", num_parameters=lambda: 1000)

    def __call__(self, x: Any, **kw: Any) -> Any:
        return [{"label": "POSITIVE", "score": 0.9}]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=50_000)
    ap.add_argument("--every", type=int, default=10_000)
    ap.add_argument("--fail", type=float, default=0.02)
    ap.add_argument("--no-live", action="store_true", help="without live grid intensity")
    ap.add_argument("--threads", type=int, default=1, help="concurrent callers (default 1)")
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    with FakeElectricityMaps() as server:
        live = LiveIntensity("NL", token=TOKEN, base_url=server.url, min_interval_s=0.002, timeout_s=2.0)
        tp = track_pipeline(FakePipe(), meters=[FlakyMeter(a.fail)], carbon_intensity_g_per_kwh=300.0,
                            live_intensity=None if a.no_live else live)
        tracemalloc.start()
        print(f"{'calls':>7} {'heap MiB':>9} {'peak MiB':>9} {'max RSS MiB':>12} {'us/call':>8} "
              f"{'coverage':>9} {'readings':>9}")
        t0 = time.perf_counter()
        pool = ThreadPoolExecutor(a.threads) if a.threads > 1 else None
        for i in range(a.every, a.calls + 1, a.every):
            if pool is None:
                for _ in range(a.every):
                    tp("a query")
            else:  # every thread makes its share of the calls, all at once
                share = [a.every // a.threads + (k < a.every % a.threads) for k in range(a.threads)]
                list(pool.map(lambda n: [tp("a query") for _ in range(n)], share))
            took = (time.perf_counter() - t0) / a.every
            d = tp.report.to_dict()
            server.log.clear()  # the fake server's own request log is not scer-hf's state
            gc.collect()
            cur, peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            n_read = len((d["carbon"].get("live") or {}).get("samples", []))
            print(f"{i:>7} {cur / 2**20:>9.2f} {peak / 2**20:>9.2f} {rss_mb():>12.1f} {took * 1e6:>8.1f} "
                  f"{d['coverage']['measured_fraction']:>9.4f} {n_read:>9}")
            t0 = time.perf_counter()
        if pool is not None:
            pool.shutdown()
        print(f"threads {a.threads}: {tp.calls} calls recorded")
        tp.close()


if __name__ == "__main__":
    main()
