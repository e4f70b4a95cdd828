"""One prepared GPU validation run: NVML truth, the callback, the pipeline and the protocol (issue 16).

    python benchmarks/gpu_check.py OUT_DIR             # on one NVIDIA GPU, no network, < 5 minutes
    python benchmarks/gpu_check.py OUT_DIR --dry-run   # here: CPU, a simulated NVML GPU, ~20 s

Writes ``OUT_DIR/gpu_check.json`` (the figures, format below) and ``OUT_DIR/gpu_check.log`` (progress, the
environment, any traceback). Every part runs even when an earlier one failed; a failed part has ``"error"``.

JSON (all energies in J, times in s, ratios unitless)::

  env        torch / transformers / scer_hf versions, device name, driver, dry_run
  nvml       load_s, idle_s, counter_j (nvmlDeviceGetTotalEnergyConsumption delta), sampled_j (integral of
             nvmlDeviceGetPowerUsage at sample_hz, trapezoid), meter_j (scer-hf NvmlMeter through a PhaseTracker
             window), counter_vs_sampled, meter_vs_sampled, load_w / idle_w (mean sampled power),
             counter_update_interval_s (median time between changes of the counter under load),
             min_window_s_within_5pct (smallest window whose energy is within 5 % of sampled power x time),
             windows: per window length, the median relative error
  callback   steps, runs (with/without, rotating order), time_ratio (median of with/without), gpu_components,
             gpu_j_equals_phase_sum (report total of each gpu:N = sum of its top-level phases), gpu_share,
             comparable, comparability_reasons, report (path)
  pipeline   pairs, time_ratio (median tracked/bare), prefill_j_per_token, decode_j_per_token,
             cuda_syncs_per_call
  protocol   queries, stop_reason, achieved_rel_ci, gpu_wh_per_1k_queries, report (path)

The model is GPT-2 small sized (12 layers, 768 wide, vocabulary 50,257: about 124 M parameters) built from a
config with random weights, so nothing is downloaded. ``--dry-run`` uses a 2-layer model and a fake NVML whose
GPU draws ``LOAD_W`` under load and ``IDLE_W`` otherwise, with a counter that updates every 100 ms like real
boards do, so every code path of the real run is exercised before GPU time is spent.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import statistics
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

log = logging.getLogger("gpu_check")


# ---------------------------------------------------------------- a simulated GPU (dry run) ----
class FakeGpuNvml:
    """pynvml for one simulated GPU: power follows :meth:`load`, the energy counter updates every 100 ms."""

    LOAD_W, IDLE_W, UPDATE_S = 300.0, 60.0, 0.1

    def __init__(self) -> None:
        self._t0 = time.perf_counter()
        self._segments: list[tuple[float, float]] = [(0.0, self.IDLE_W)]  # (start t, watts)
        self._lock = threading.Lock()

    def load(self, on: bool) -> None:
        with self._lock:
            self._segments.append((time.perf_counter() - self._t0, self.LOAD_W if on else self.IDLE_W))

    def _energy_j(self, t: float) -> float:
        with self._lock:
            segs = list(self._segments)
        e = 0.0
        for i, (s, w) in enumerate(segs):
            end = segs[i + 1][0] if i + 1 < len(segs) else t
            e += max(0.0, min(end, t) - s) * w
        return e

    # the pynvml functions scer-hf and this script call
    def nvmlInit(self) -> None: ...
    def nvmlShutdown(self) -> None: ...
    def nvmlDeviceGetCount(self) -> int: return 1
    def nvmlDeviceGetHandleByIndex(self, i: int) -> int: return i
    def nvmlDeviceGetName(self, h: int) -> str: return "Simulated GPU (dry run)"
    def nvmlSystemGetDriverVersion(self) -> str: return "dry-run"
    def nvmlDeviceGetPowerManagementLimit(self, h: int) -> int: return 700_000

    def nvmlDeviceGetTotalEnergyConsumption(self, h: int) -> int:
        t = time.perf_counter() - self._t0
        return int(self._energy_j(self.UPDATE_S * int(t / self.UPDATE_S)) * 1000)

    def nvmlDeviceGetPowerUsage(self, h: int) -> int:
        t = time.perf_counter() - self._t0
        with self._lock:
            w = [w for s, w in self._segments if s <= t][-1]
        return int(w * 1000)


class PowerSampler:
    """Integrates nvmlDeviceGetPowerUsage at *hz* in a thread (for this check only)."""

    def __init__(self, nvml: Any, handle: Any, hz: float) -> None:
        self.nvml, self.handle, self.dt = nvml, handle, 1.0 / hz
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), self.nvml.nvmlDeviceGetPowerUsage(self.handle) / 1000.0))
            self._stop.wait(self.dt)

    def __enter__(self) -> PowerSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def energy_j(self, t0: float, t1: float) -> float:
        pts = [(t, w) for t, w in self.samples if t0 <= t <= t1]
        return sum(0.5 * (w0 + w1) * (ta - tb) for (tb, w0), (ta, w1) in zip(pts, pts[1:]))

    def mean_w(self, t0: float, t1: float) -> float:
        ws = [w for t, w in self.samples if t0 <= t <= t1]
        return statistics.fmean(ws) if ws else float("nan")


# ---------------------------------------------------------------- the parts ----
class Ctx:
    def __init__(self, out: Path, dry: bool, quick: bool) -> None:
        import torch

        self.out, self.dry, self.quick = out, dry, quick
        self.torch = torch
        self.device = "cpu" if dry else "cuda:0"
        if dry:
            self.nvml: Any = FakeGpuNvml()
            import scer_hf.core.meters.nvml as nv

            nv._import_pynvml = lambda: self.nvml  # every NvmlMeter of this run reads the simulated GPU
        else:
            import pynvml

            self.nvml = pynvml
            self.nvml.nvmlInit()
        self.handle = self.nvml.nvmlDeviceGetHandleByIndex(0)
        self.model_dir = out / "model"

    def meters(self) -> list[Any] | None:
        """None (what users get: auto()) on a GPU; in the dry run the simulated GPU plus the host estimate."""
        if not self.dry:
            return None
        from scer_hf.core.meters import EstimateMeter, NvmlMeter

        return [NvmlMeter([0]), EstimateMeter()]

    def busy(self, seconds: float) -> int:
        """Steady matmul load for *seconds*; returns the iterations run."""
        torch = self.torch
        n = 256 if self.dry else 8192
        a = torch.randn(n, n, device=self.device, dtype=torch.float32 if self.dry else torch.bfloat16)
        if self.dry:
            self.nvml.load(True)
        end, it = time.perf_counter() + seconds, 0
        while time.perf_counter() < end:
            for _ in range(4 if self.dry else 16):
                a = (a @ a).clamp_(-1, 1)
            if not self.dry:
                torch.cuda.synchronize()
            it += 1
        if self.dry:
            self.nvml.load(False)
        return it


def part_nvml(c: Ctx) -> dict[str, Any]:
    from scer_hf.core.meters import NvmlMeter
    from scer_hf.core.tracker import PhaseTracker

    load_s, idle_s = (1.0, 0.6) if c.dry else ((10.0, 5.0) if c.quick else (20.0, 10.0))
    hz = 20.0
    tracker = PhaseTracker([NvmlMeter([0])])
    nv, h = c.nvml, c.handle
    with PowerSampler(nv, h, hz) as ps:
        time.sleep(0.3)
        e0, t0 = nv.nvmlDeviceGetTotalEnergyConsumption(h), time.perf_counter()
        w = tracker.begin("whole")
        c.busy(load_s)
        t_load = time.perf_counter()
        time.sleep(idle_s)
        m = tracker.end("whole")
        e1, t1 = nv.nvmlDeviceGetTotalEnergyConsumption(h), time.perf_counter()
        time.sleep(0.3)
        sampled = ps.energy_j(t0, t1)
        # mean power once settled (the first quarter, at most 1 s, of each stretch is left out)
        load_w = ps.mean_w(t0 + min(1.0, load_s / 4), t_load)
        idle_w = ps.mean_w(t_load + min(1.0, idle_s / 4), t1)
    del w
    counter = (e1 - e0) / 1000.0
    meter = m.energy_j.get("gpu:0", float("nan"))

    # counter update interval, and the smallest window that is right within 5 % (under steady load)
    changes: list[float] = []
    th = threading.Thread(target=lambda: c.busy(4.0 if not c.dry else 1.0), daemon=True)
    th.start()
    time.sleep(0.5)
    last, t_end = nv.nvmlDeviceGetTotalEnergyConsumption(h), time.perf_counter() + (0.4 if c.dry else 2.0)
    while time.perf_counter() < t_end:
        v = nv.nvmlDeviceGetTotalEnergyConsumption(h)
        if v != last:
            changes.append(time.perf_counter())
            last = v
        time.sleep(0.0005)
    interval = statistics.median(b - a for a, b in zip(changes, changes[1:])) if len(changes) > 2 else None
    th.join()
    windows: dict[str, float] = {}
    lengths = (0.02, 0.05, 0.1, 0.2, 0.5) if c.dry else (0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
    th = threading.Thread(target=lambda: c.busy(6.0 if not c.dry else 4.0), daemon=True)
    th.start()
    with PowerSampler(nv, h, hz) as ps:
        time.sleep(0.5)
        for length in lengths:
            errs = []
            for _ in range(3 if length < 1 else 1):
                wdw = tracker.begin("w")
                time.sleep(length)
                mm = tracker.end("w")
                ref = ps.mean_w(time.perf_counter() - 1.5, time.perf_counter()) * mm.duration_s
                errs.append(abs(mm.energy_j.get("gpu:0", 0.0) / ref - 1.0) if ref else float("nan"))
                del wdw
            windows[f"{length:g}"] = statistics.median(errs)
    th.join()
    # the smallest window from which every longer window is within 5 % too
    ok = [L for i, L in enumerate(lengths) if all(windows[f"{x:g}"] <= 0.05 for x in lengths[i:])]
    tracker.close()
    return {
        "load_s": load_s, "idle_s": idle_s, "sample_hz": hz,
        "counter_j": counter, "sampled_j": sampled, "meter_j": meter,
        "counter_vs_sampled": counter / sampled if sampled else None,
        "meter_vs_sampled": meter / sampled if sampled else None,
        "load_w": load_w, "idle_w": idle_w,
        "counter_update_interval_s": interval,
        "windows_median_rel_error": windows,
        "min_window_s_within_5pct": ok[0] if ok else None,
    }


def _build_model(c: Ctx) -> Path:
    import torch
    import transformers as tf

    from scer_hf.hf.tiny import _tokenizer

    tok = _tokenizer("gpt2", 512)
    layers, width, heads = (2, 64, 2) if c.dry else (12, 768, 12)
    torch.manual_seed(0)
    cfg = tf.GPT2Config(vocab_size=50257, n_positions=1024, n_embd=width, n_layer=layers, n_head=heads,
                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    model = tf.GPT2LMHeadModel(cfg)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(c.model_dir)
    tok.save_pretrained(c.model_dir)
    return c.model_dir


def part_callback(c: Ctx) -> dict[str, Any]:
    import torch
    import transformers as tf

    import scer_hf
    from scer_hf import SCERCallback

    steps = 10 if c.dry else (120 if c.quick else 300)
    seq, bs = (32, 4) if c.dry else (128, 16)
    g = torch.Generator().manual_seed(0)
    data = [{"input_ids": ids, "labels": ids} for ids in torch.randint(0, 500, (steps * bs, seq), generator=g)]

    def train(with_cb: bool, run: int) -> tuple[float, Any]:
        model = tf.GPT2LMHeadModel.from_pretrained(c.model_dir).to(c.device)
        cb = SCERCallback(meters=c.meters(), report_path=c.out / f"callback_{run}.json") if with_cb else None
        args = tf.TrainingArguments(output_dir=str(c.out / f"trainer_{run}"), max_steps=steps,
                                    per_device_train_batch_size=bs, report_to=[], save_strategy="no",
                                    logging_steps=max(1, steps // 10), use_cpu=c.dry, disable_tqdm=True,
                                    bf16=not c.dry)
        trainer = tf.Trainer(model=model, args=args, train_dataset=data, callbacks=[cb] if cb else [])
        trainer.remove_callback(tf.trainer_callback.PrinterCallback)  # the logs go to the report, not stdout
        t = time.perf_counter()
        trainer.train()
        if not c.dry:
            torch.cuda.synchronize()
        return time.perf_counter() - t, cb

    order = [True, False, False, True] if not c.quick else [True, False]
    times: dict[bool, list[float]] = {True: [], False: []}
    last_cb = None
    for run, with_cb in enumerate(order):
        dt, cb = train(with_cb, run)
        times[with_cb].append(dt)
        last_cb = cb or last_cb
        log.info("callback run %d with=%s: %.2f s", run, with_cb, dt)
    rep = last_cb.report
    d = rep.to_dict()
    top = [p for p in d["phases"] if p.get("parent") is None]
    gpus = sorted({k for p in top for k in p["energy_j"] if k.startswith("gpu")})
    # each phase's total is the sum of its components (gpu:N among them), and the report's total is the sum of
    # its top-level phases; the epochs (children of train) cover train up to the hook gaps between them
    comp_sums_ok = all(abs(sum(v for k, v in p["energy_j"].items() if k != "total") - p["energy_j"]["total"])
                       <= 1e-6 * max(1.0, p["energy_j"]["total"]) for p in d["phases"])
    by_phase = {g: sum(p["energy_j"].get(g, 0.0) for p in top) for g in gpus}
    in_epochs = {g: sum(p["energy_j"].get(g, 0.0) for p in d["phases"] if p.get("parent") == "train") for g in gpus}
    phase_total = sum(p["energy_j"].get("total", 0.0) for p in top)
    gpu_j = sum(by_phase.values())
    rating = scer_hf.rate(rep)
    tr = rating.to_dict().get("training") or {}
    return {
        "steps": steps, "batch": bs, "seq": seq, "order": order, "times_s": {str(k): v for k, v in times.items()},
        "time_ratio": statistics.median(times[True]) / statistics.median(times[False]),
        "gpu_components": gpus, "gpu_j": gpu_j,
        "gpu_j_equals_phase_sum": comp_sums_ok,
        "epochs_vs_train_gpu": {g: in_epochs[g] / by_phase[g] if by_phase[g] else None for g in gpus},
        "total_j_equals_phase_sum": abs(float(d["energy_j"]) - phase_total) <= 1e-6 * max(1.0, phase_total),
        "gpu_share": gpu_j / phase_total if phase_total else None,
        "comparable": tr.get("comparable"), "comparability_reasons": tr.get("comparability") or tr.get("notes"),
        "report": str(c.out / f"callback_{order.index(True)}.json"),
    }


def part_pipeline(c: Ctx) -> dict[str, Any]:
    import torch
    import transformers as tf

    import scer_hf

    pipe = tf.pipeline("text-generation", model=str(c.model_dir), device=c.device)
    tracked = scer_hf.track_pipeline(pipe, meters=c.meters())
    kw = dict(max_new_tokens=16, do_sample=False, min_new_tokens=16)
    syncs = [0]
    real_sync = torch.cuda.synchronize

    def counting_sync(*a: Any, **k: Any) -> Any:
        syncs[0] += 1
        return real_sync(*a, **k) if not c.dry else None

    pairs = 10 if c.dry else 60
    ratios = []
    for i in range(3):  # warm-up
        pipe("Hello there", **kw), tracked("Hello there", **kw)
    calls = 0
    for i in range(pairs):
        first, second = (pipe, tracked) if i % 2 == 0 else (tracked, pipe)
        ts = {}
        for f in (first, second):
            if f is tracked:
                torch.cuda.synchronize = counting_sync  # type: ignore[assignment]
            t = time.perf_counter()
            f("The weather today is", **kw)
            if not c.dry:
                real_sync()
            ts[f is tracked] = time.perf_counter() - t
            if f is tracked:
                torch.cuda.synchronize = real_sync  # type: ignore[assignment]
                calls += 1
        ratios.append(ts[True] / ts[False])
    d = tracked.report.to_dict()
    ph = {p["name"]: p for p in d["phases"]}

    def per_token(name: str, count: str) -> float | None:
        p = ph.get(name)
        if not p:
            return None
        n = (p.get("counts") or {}).get(count) or (ph["generate"].get("counts") or {}).get(count)
        gj = sum(v for k, v in p["energy_j"].items() if k.startswith("gpu"))
        return gj / n if n else None

    tracked.close()
    return {
        "pairs": pairs, "time_ratio": statistics.median(ratios),
        "prefill_gpu_j_per_input_token": per_token("prefill", "input_tokens"),
        "decode_gpu_j_per_output_token": per_token("decode", "output_tokens"),
        "cuda_syncs_per_call": syncs[0] / calls if calls else None,
        "calls_tracked": calls,
    }


def part_protocol(c: Ctx) -> dict[str, Any]:
    import scer_hf

    rep = scer_hf.benchmark(str(c.model_dir), task="text-generation", meters=c.meters(), progress=False,
                            device=c.device, queries=40 if c.dry else (300 if c.quick else 1000), min_queries=10)
    path = c.out / "protocol_report.json"
    rep.save(path)
    d = rep.to_dict()
    b = d.get("benchmark") or {}
    pu = (d.get("extra") or {}).get("per_unit") or {}
    return {"queries": b.get("queries_run"), "queries_measured": b.get("queries_measured"),
            "stopped_by": b.get("stopped_by"), "achieved_rel_ci": (b.get("ci") or {}).get("rel_half_width"),
            "gpu_wh_per_1k_queries": pu.get("gpu_wh_per_1k_queries"), "report": str(path)}


PARTS: dict[str, Callable[[Ctx], dict[str, Any]]] = {
    "nvml": part_nvml, "callback": part_callback, "pipeline": part_pipeline, "protocol": part_protocol}


def _finite(x: Any) -> Any:
    """NaN/inf become null: the JSON stays strict."""
    if isinstance(x, float) and x != x or x in (float("inf"), float("-inf")):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def _write(out: Path, result: dict[str, Any]) -> None:
    (out / "gpu_check.json").write_text(json.dumps(_finite(result), indent=2, default=str, allow_nan=False),
                                        encoding="utf-8")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="folder for gpu_check.json, gpu_check.log and the reports")
    ap.add_argument("--dry-run", action="store_true", help="CPU and a simulated NVML GPU (no GPU needed)")
    ap.add_argument("--quick", action="store_true", help="shorter loads and fewer steps (about 2 minutes)")
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(a.out / "gpu_check.log", mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)
    log.addHandler(logging.StreamHandler(sys.stderr))
    log.setLevel(logging.INFO)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    t_all = time.perf_counter()
    result: dict[str, Any] = {"schema": "scer-hf/gpu-check", "schema_version": 1}
    import torch
    import transformers

    import scer_hf

    c = Ctx(a.out, a.dry_run, a.quick)
    name = c.nvml.nvmlDeviceGetName(c.handle)
    result["env"] = {"torch": torch.__version__, "transformers": transformers.__version__,
                     "scer_hf": scer_hf.__version__, "dry_run": a.dry_run, "quick": a.quick,
                     "device": name.decode() if isinstance(name, bytes) else str(name),
                     "driver": str(c.nvml.nvmlSystemGetDriverVersion()),
                     "cuda": getattr(torch.version, "cuda", None)}
    log.info("env %s", result["env"])
    try:
        _build_model(c)
    except Exception:  # noqa: BLE001 - the log keeps the traceback; parts that need the model fail on their own
        log.error("model build failed\n%s", traceback.format_exc())
    for part in a.parts.split(","):
        t = time.perf_counter()
        log.info("part %s ...", part)
        try:
            with warnings_logged():
                result[part] = PARTS[part](c)
        except Exception as exc:  # noqa: BLE001 - a failed part is a finding, not the end of the run
            log.error("part %s failed\n%s", part, traceback.format_exc())
            result[part] = {"error": f"{type(exc).__name__}: {exc}"}
        result[part]["wall_s"] = time.perf_counter() - t
        log.info("part %s: %s", part, json.dumps(result[part], default=str))
        _write(a.out, result)
    result["wall_s"] = time.perf_counter() - t_all
    _write(a.out, result)
    log.info("done in %.1f s: %s", result["wall_s"], a.out / "gpu_check.json")
    log.removeHandler(handler)
    handler.close()
    return result


@contextlib.contextmanager
def warnings_logged():  # type: ignore[no-untyped-def]
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen = set()
    for w in caught:
        msg = f"{w.category.__name__}: {w.message}"
        if msg not in seen:
            seen.add(msg)
            log.info("warning %s", msg)


if __name__ == "__main__":
    main()
