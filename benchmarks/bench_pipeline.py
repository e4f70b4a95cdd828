"""Overhead of track_pipeline and queries the protocol needs, on this machine.

1. Tracked / bare time of a tiny GPT-2 text-generation pipeline, 16 new tokens, batch 1,
   interleaved in the same run (bare, tracked, bare, tracked...): median of the per-pair
   ratios. Goal <= 1.03x. Meters: scer_hf.core.meters.auto() (what a user gets here); also a
   ReplayMeter (a read costs ~nothing) to separate the wrapper's own cost from the meters'.
2. Queries ``scer_hf.benchmark`` runs to reach a +-5 % 95 % interval of energy per query
   on this machine (auto meters), against the 1,000 AI Energy Score always spends.

    python benchmarks/bench_pipeline.py [--pairs 60] [--cap 1000] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=60, help="bare/tracked pairs (default 60)")
    ap.add_argument("--cap", type=int, default=1000, help="protocol query cap (default 1000)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    warnings.filterwarnings("ignore")

    import torch
    from transformers import pipeline
    from transformers.utils import logging as hf_logging

    import scer_hf
    from scer_hf.hf.tiny import build_tiny_model, prompt_texts
    from scer_hf.core.meters import ReplayMeter

    hf_logging.disable_progress_bar()
    torch.manual_seed(0)
    if a.threads:
        torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(build_tiny_model(tmp, "gpt2"))
        bare = pipeline("text-generation", model=path)  # one pipeline (one model in memory) for all three
        tracked = scer_hf.track_pipeline(bare)
        replay = scer_hf.track_pipeline(bare, meters=[ReplayMeter({"gpu:0": [(0.0, 1.0)]})])
        kw = {"max_new_tokens": 16, "min_new_tokens": 16, "do_sample": False}
        prompts = prompt_texts(a.pairs + 5)
        prompts = [p[:200] for p in prompts]  # same prompt for both halves of a pair
        fns = {"bare": bare, "tracked": tracked, "replay": replay}
        for p in prompts[:5]:  # warm-up all
            for fn in fns.values():
                fn(p, **kw)
        times: dict[str, list[float]] = {k: [] for k in fns}
        for i in range(a.pairs):
            p = prompts[5 + i]
            order = list(fns) if i % 2 == 0 else list(reversed(fns))  # alternate the order
            for which in order:
                t0 = time.perf_counter()
                fns[which](p, **kw)
                times[which].append(time.perf_counter() - t0)
        ratio = [t / b for t, b in zip(times["tracked"], times["bare"])]
        ratio_replay = [t / b for t, b in zip(times["replay"], times["bare"])]
        meters = [m.describe()["meter"] for m in tracked.tracker.meters]

        t0 = time.perf_counter()
        r = scer_hf.benchmark(path, queries=a.cap, progress=False)  # the shipped protocol, auto meters
        bench_s = time.perf_counter() - t0
        b = r["benchmark"]

    out = {
        "overhead": {
            "pairs": a.pairs, "new_tokens": 16, "meters": meters, "torch_threads": torch.get_num_threads(),
            "median_ratio_tracked_over_bare": statistics.median(ratio),
            "median_ratio_replay_meter_over_bare": statistics.median(ratio_replay),
            "median_bare_ms": 1000 * statistics.median(times["bare"]),
            "median_tracked_ms": 1000 * statistics.median(times["tracked"]),
            "goal": 1.03,
        },
        "protocol": {
            "setting": b["setting"], "meters": [m["meter"] for m in r["provenance"]["meters"]],
            "queries_run": b["queries_run"], "stopped_by": b["stopped_by"],
            "rel_half_width": b["ci"]["rel_half_width"], "mean_j_per_query": b["ci"]["mean_j_per_query"],
            "aienergyscore_queries": 1000, "wall_s": bench_s,
        },
    }
    if a.json:
        print(json.dumps(out, indent=2))
    else:
        o, p = out["overhead"], out["protocol"]
        print(f"tracked/bare (tiny GPT-2, 16 new tokens, {o['pairs']} interleaved pairs, meters {o['meters']}): "
              f"median ratio {o['median_ratio_tracked_over_bare']:.4f}x (goal <= 1.03x), "
              f"{o['median_ratio_replay_meter_over_bare']:.4f}x with a free meter (wrapper alone); "
              f"median {o['median_bare_ms']:.2f} ms bare, {o['median_tracked_ms']:.2f} ms tracked")
        print(f"protocol ({p['setting']}, meters {p['meters']}): {p['queries_run']} queries "
              f"(stopped by {p['stopped_by']}, +-{100 * (p['rel_half_width'] or float('nan')):.2f} %) "
              f"vs {p['aienergyscore_queries']} for AI Energy Score; {p['wall_s']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
