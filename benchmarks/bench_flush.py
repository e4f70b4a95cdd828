"""Cost of one partial-report flush of SCERCallback as a run grows (issue 19: flushes must cost O(new data)).

Drives the callback's hooks with a stand-in Trainer state (no model, no torch work): a run with N evaluations has
N + 2 phases (train, epoch 1, eval 1..N). At N = 10, 100 and 1,000 it times ``_flush(force=True)``, the write a
``flush_every_s=0`` run makes at every log, in rotating order over repeats. Also reports the time the hooks take
to run the evaluations themselves, per evaluation.

    python benchmarks/bench_flush.py [--repeats 5] [--sizes 10,100,1000]

Prints one line per size (median and min per flush, ms) and the ratio to the smallest size.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scer_hf import SCERCallback  # noqa: E402
from scer_hf.core.meters import ReplayMeter  # noqa: E402


def run_with_evals(n: int, out: Path) -> tuple[SCERCallback, float]:
    """A callback that has seen a run with *n* evaluations; (callback, seconds of hooks per evaluation)."""
    args = SimpleNamespace(output_dir=str(out), include_num_input_tokens_seen="no", train_batch_size=8,
                           gradient_accumulation_steps=1, world_size=1, process_index=0, local_process_index=0,
                           hub_model_id=None, eval_on_start=False, n_gpu=0, device=None)
    state = SimpleNamespace(global_step=0, max_steps=10**7, num_input_tokens_seen=0, total_flos=0, epoch=0.0,
                            log_history=[])
    control = SimpleNamespace(should_log=False, should_evaluate=False, should_save=False)
    cb = SCERCallback(meters=[ReplayMeter({"gpu:0": [(0.0, 300.0)]})], flush_every_s=10**9,
                      report_path=out / "scer_report.json", handle_sigterm=False)
    cb.on_init_end(args, state, control)
    cb.on_train_begin(args, state, control)
    cb.on_epoch_begin(args, state, control)
    t0 = time.perf_counter()
    for _ in range(n):
        state.global_step += 1
        state.num_input_tokens_seen += 512
        control.should_evaluate = True
        cb.on_step_end(args, state, control)
        control.should_evaluate = False
        cb.on_prediction_step(args, state, control)
        cb.on_evaluate(args, state, control, eval_dataloader=None)
    return cb, (time.perf_counter() - t0) / max(n, 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sizes", default="10,100,1000")
    a = ap.parse_args()
    sizes = [int(x) for x in a.sizes.split(",")]
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        cbs = {}
        for n in sizes:
            d = Path(tmp) / f"n{n}"
            d.mkdir()
            cbs[n], per_eval = run_with_evals(n, d)
            print(f"{n:>5} evaluations: {per_eval * 1e3:.3f} ms of hooks per evaluation")
        times: dict[int, list[float]] = {n: [] for n in sizes}
        cpu: dict[int, list[float]] = {n: [] for n in sizes}
        for r in range(a.repeats):
            order = sizes[r % len(sizes):] + sizes[: r % len(sizes)]  # rotating order
            for n in order:
                t0 = time.perf_counter()
                cbs[n].run._flush(force=True)  # build, encode, write atomically (fsync)
                times[n].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                cbs[n].run._build(status="partial").to_json()  # the same without the disk
                cpu[n].append(time.perf_counter() - t0)
        base, base_cpu = statistics.median(times[sizes[0]]), statistics.median(cpu[sizes[0]])
        for n in sizes:
            med, med_cpu = statistics.median(times[n]), statistics.median(cpu[n])
            size_kb = (Path(tmp) / f"n{n}" / "scer_report.json").stat().st_size / 1024
            print(f"{n + 2:>5} phases: flush median {med * 1e3:7.2f} ms (x{med / base:4.2f}), build+encode "
                  f"{med_cpu * 1e3:6.2f} ms (x{med_cpu / base_cpu:4.2f}); file {size_kb:,.0f} KiB")


if __name__ == "__main__":
    main()
