"""Overhead of measuring concurrent calls (issue 22): tracked / bare at concurrency 1 and 32, in one run.

A tiny GPT-2 text-generation pipeline (and the same model through ``track_model``'s ``generate``), 16 new tokens,
batch 1. A *round* at concurrency C runs C threads that each make ``--calls`` calls; rounds of the bare and the
tracked pipeline alternate, their order rotating every round (bare first, then tracked first). The figure per
level is the median over rounds of tracked / bare of the same round pair, in wall time and in this process's CPU
time (``time.process_time``: what the work cost, robust when other jobs share the machine). Meters:
``scer_hf.core.meters.auto()`` (what a user gets here: the process estimate), plus a replay meter (a read costs
~nothing) to separate the wrapper's own cost. Goal: <= 1.03x.

Second, the bookkeeping alone (no model): one call's three edges (start, prefill -> decode, end) and its three
phase measurements on the estimate meter, with 0, 31 and 255 other calls in flight. It does not grow with them.

    python benchmarks/bench_concurrency.py [--rounds 12] [--calls 4] [--levels 1,32] [--threads 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _round(fn: Callable[[str], Any], prompts: list[str], c: int, calls: int) -> tuple[float, float]:
    """(wall, process CPU) seconds of C threads each making *calls* calls, all released at once."""
    start = threading.Barrier(c + 1)

    def worker(k: int) -> None:
        start.wait()
        for j in range(calls):
            fn(prompts[(k * calls + j) % len(prompts)])

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(c)]
    for t in ts:
        t.start()
    start.wait()
    t0, c0 = time.perf_counter(), time.process_time()
    for t in ts:
        t.join()
    return time.perf_counter() - t0, time.process_time() - c0


def bookkeeping_us(others: int, n: int = 2000) -> float:
    """Median microseconds of one call's edges and measurements with *others* calls in flight (estimate meter)."""
    from scer_hf.core.calls import CallTracker
    from scer_hf.core.meters import EstimateMeter

    tr = CallTracker([EstimateMeter(rss_refresh_s=1e9)], sync_cuda=False)
    bg = [tr.start("prefill") for _ in range(others)]
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        h = tr.start("prefill")
        h.switch("decode")
        e = h.finish()
        for name, key in (("generate", "*"), ("prefill", "prefill"), ("decode", "decode")):
            e.measurement(name, key)
        ts.append(time.perf_counter() - t0)
    for b in bg:
        b.finish()
    tr.close()
    return 1e6 * statistics.median(ts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--calls", type=int, default=4, help="calls per thread per round (default 4)")
    ap.add_argument("--levels", default="1,32")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1: stabler timings)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    warnings.filterwarnings("ignore")

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline
    from transformers.utils import logging as hf_logging

    import scer_hf
    from scer_hf.core.meters import ReplayMeter
    from scer_hf.hf.tiny import build_tiny_model, prompt_texts

    hf_logging.disable_progress_bar()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    levels = [int(x) for x in a.levels.split(",")]
    kw = {"max_new_tokens": 16, "min_new_tokens": 16, "do_sample": False}
    prompts = [p[:200] for p in prompt_texts(64)]
    out: dict[str, Any] = {"rounds": a.rounds, "calls_per_thread": a.calls, "new_tokens": 16,
                           "torch_threads": torch.get_num_threads(), "goal": 1.03, "levels": {}}
    with tempfile.TemporaryDirectory() as tmp:
        path = str(build_tiny_model(tmp, "gpt2"))
        bare = pipeline("text-generation", model=path)
        tok = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path).eval()
        tracked = scer_hf.track_pipeline(bare)
        replay = scer_hf.track_pipeline(bare, meters=[ReplayMeter({"gpu:0": [(0.0, 1.0)]})])
        tmodel = scer_hf.track_model(model)
        enc = {p: dict(tok(p, return_tensors="pt")) for p in prompts}

        def gen(m: Any) -> Callable[[str], Any]:
            def f(p: str) -> Any:
                with torch.no_grad():
                    return m.generate(**enc[p], pad_token_id=0, **kw)
            return f

        fns = {"bare": lambda p: bare(p, **kw), "tracked": lambda p: tracked(p, **kw),
               "replay": lambda p: replay(p, **kw), "model_bare": gen(model), "model_tracked": gen(tmodel)}
        out["meters"] = [m.describe()["meter"] for m in tracked.tracker.meters]
        for c in levels:
            for fn in fns.values():  # warm-up
                _round(fn, prompts, c, 1)
            times: dict[str, list[tuple[float, float]]] = {k: [] for k in fns}
            for r in range(a.rounds):
                order = list(fns) if r % 2 == 0 else list(reversed(fns))  # rotate who goes first
                for k in order:
                    times[k].append(_round(fns[k], prompts, c, a.calls))

            def ratio(x: str, y: str, i: int) -> float:
                return statistics.median(t[i] / b[i] for t, b in zip(times[x], times[y]))

            out["levels"][str(c)] = {
                **{f"{name}_{what}": ratio(x, y, i) for name, x, y in (
                    ("pipeline_tracked_over_bare", "tracked", "bare"),
                    ("pipeline_replay_meter_over_bare", "replay", "bare"),
                    ("model_tracked_over_bare", "model_tracked", "model_bare")) for i, what in ((0, "wall"), (1, "cpu"))},
                "median_bare_round_s": statistics.median(t[0] for t in times["bare"]),
                "calls_per_round": c * a.calls,
            }
        calls = tracked.calls
    out["tracked_calls"] = calls
    out["bookkeeping_us_per_call"] = {str(k): bookkeeping_us(k) for k in (0, 31, 255)}
    if a.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"tiny GPT-2, 16 new tokens, {a.rounds} rounds per level, meters {out['meters']}, "
          f"torch threads {out['torch_threads']}")
    bk = out["bookkeeping_us_per_call"]
    print(f"  bookkeeping of one call (3 edges, 3 measurements): {bk['0']:.1f} us alone, {bk['31']:.1f} us with 31 "
          f"others in flight, {bk['255']:.1f} us with 255")
    for c, v in out["levels"].items():
        print(f"  concurrency {c}: a round of {v['calls_per_round']} calls took {v['median_bare_round_s'] * 1000:.0f} ms bare")
        for what in ("wall", "cpu"):
            print(f"    {what:>4}: pipeline tracked/bare {v['pipeline_tracked_over_bare_' + what]:.4f}x, "
                  f"with a free meter {v['pipeline_replay_meter_over_bare_' + what]:.4f}x, "
                  f"track_model {v['model_tracked_over_bare_' + what]:.4f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
