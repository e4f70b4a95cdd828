"""The report, rating, meter and model builders the tests share (one place; no test imports another test module).

Reports are built with ReplayMeter power traces on a fake clock, so every figure is exact and known; the label
fixtures' date and run id are fixed, so a report built twice has one digest and a rating can be bound to it.
Ratings follow the shared rating contract and name the report they rate (``reports``), as ``scer_hf.rate(report)``
does. Fakes of vendor libraries and sysfs trees (NVML, RAPL) are here too.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scer_hf.core.carbon import carbon_intensity
from scer_hf.core.meters import ReplayMeter
from scer_hf.core.report import Report
from scer_hf.core.tracker import PhaseTracker


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def inference_report(method: str = "counter", model_id: str = "org/tiny-gpt2", run: str = "1") -> Report:
    """prefill 2 s + decode 5 s on a CPU 50 W / GPU 200->300 W trace, France grid."""
    clock = Clock()
    meter = ReplayMeter({"cpu:0": [(0, 50), (100, 50)], "gpu:0": [(0, 200), (100, 300)]}, clock=clock,
                        method=method, relative_uncertainty=0.05)  # type: ignore[arg-type]
    tr = PhaseTracker([meter], clock=clock)
    with tr.phase("prefill") as w:
        clock.t += 2
        w.add(tokens=512, queries=8)
    with tr.phase("decode") as w:
        clock.t += 5
        w.add(output_tokens=256, tokens=256)
    return fixed(Report.build(
        tr.measurements, boundary="inference", carbon=carbon_intensity("FRA"),
        model={"id": model_id, "parameters": 124_000_000, "task": "text_generation", "hardware": "NVIDIA H100 80GB"},
        provenance=tr.provenance(),
    ), run)


def fixed(rep: Report, run: str = "1") -> Report:
    """*rep* with a fixed date and run id: the same fixture always has the same digest (another *run*, another)."""
    d = rep.to_dict()
    d["created_at"] = "2026-01-02T03:04:05+00:00"
    d["run_id"] = f"fixture-{d['boundary']}-{run}"
    return Report.from_dict(d)


def training_report(run: str = "1") -> Report:
    clock = Clock()
    meter = ReplayMeter({"gpu:0": [(0, 250), (1000, 250)]}, clock=clock, relative_uncertainty=0.05)
    tr = PhaseTracker([meter], clock=clock)
    with tr.phase("train") as w:
        clock.t += 100
        w.add(tokens=200_000, samples=400)
    with tr.phase("eval") as w:
        clock.t += 10
        w.add(samples=40)
    return fixed(Report.build(tr.measurements, boundary="training", carbon=carbon_intensity("DEU"),
                              model={"id": "org/tiny-bert", "task": "fill_mask"}, kinds={"eval": "evaluation"},
                              provenance=tr.provenance()), run)


def phase_rating(phase: str, grade: str | None = "A", stars: int | None = 4, value: float = 0.1079,
                 unit: str = "gCO2eq per 1,000 output tokens") -> dict[str, Any]:
    available = grade is not None
    return {
        "phase": phase, "available": available, "grade": grade, "stars": stars,
        "percentile": 92.0 if available else None, "value": value if available else None,
        "unit": unit if available else None, "uncertainty": 0.0054 if available else None,
        "category": {"task": "text_generation"} if available else None, "peers": 12 if available else 0,
        "nearest_peers": [
            {"model": "distilbert/distilgpt2", "value": 0.35},
            {"model": "openai-community/gpt2", "value": 0.52},
            {"model": "HuggingFaceTB/SmolLM-135M", "value": 0.61},
            {"model": "Qwen/Qwen2.5-0.5B", "value": 1.9},
            {"model": "microsoft/phi-2", "value": 8.2},
        ] if available else [],
        "sources": ["AI Energy Score v1 (Feb 2025)"] if available else [],
        "estimated": False, "method": "measured",
        "reason": None if available else f"no {phase} measurement in this report",
        "how_to_measure": None if available else "scer-hf benchmark MODEL",
    }


def rating(grade: str | None = "A", stars: int | None = 4, report: Report | None = None,
           unit: str = "gCO2eq per 1,000 output tokens") -> dict[str, Any]:
    """A rating of *report* (default: the inference fixture, counter and estimate variants), bound to it."""
    from scer_hf.rating.measured import binding

    reps = [report] if report is not None else [inference_report(), inference_report("estimate")]
    b = reps[0].boundary
    other = "training" if b == "inference" else "inference"
    return {"model": (reps[0].model or {}).get("id"), "reference_version": "test-1",
            other: phase_rating(other, None, None), b: phase_rating(b, grade, stars, unit=unit),
            "reports": [binding(r) for r in reps]}


# --- reports for the rating tests -------------------------------------------------------------------------------------
def constant_training_report(components: dict[str, float], method: str = "counter", params: float = 1e6,
                    model_extra: dict | None = None, embodied_hw: str | None = None) -> Report:
    """A training run of 100 s at constant watts per component (*components*), 1M tokens."""
    clock = Clock()
    meter = ReplayMeter({c: [(0, w)] for c, w in components.items()}, clock=clock, method=method)  # type: ignore[arg-type]
    tr = PhaseTracker(meter, clock=clock)
    tr.begin("train")
    clock.t = 100.0
    tr.end("train", tokens=1_000_000)
    rep = Report.build(tr.measurements, boundary="training", provenance=tr.provenance(),
                       model={"id": "me/tiny", "parameters": params, **(model_extra or {})})
    if embodied_hw:
        d = rep.to_dict()
        d["embodied"] = {**(d.get("embodied") or {}), "hardware": embodied_hw}
        rep = Report.from_dict(d)
    return rep


def gpu_inference_report(gpu_w: float = 100.0, hardware: str = "NVIDIA H100 80GB HBM3", method: str = "counter",
                     params: float = 124e6, task: str = "text-generation") -> Report:
    """1,000 queries in 36 s at *gpu_w* on the GPU and 50 W on the CPU (100 W: 1 Wh per 1,000 queries)."""
    clock = Clock()
    meter = ReplayMeter({"gpu:0": [(0, gpu_w)], "cpu:0": [(0, 50.0)]}, clock=clock, method=method,  # type: ignore[arg-type]
                        relative_uncertainty=0.05)
    tr = PhaseTracker(meter, clock=clock)
    tr.begin("generate")
    clock.t = 36.0
    tr.end("generate", queries=1000, output_tokens=10_000)
    return Report.build(tr.measurements, boundary="inference", provenance=tr.provenance(),
                        model={"id": "me/tiny-gpt2", "parameters": params, "task": task},
                        benchmark={"task": task, "setting": "scer-hf text-generation, batch 1",
                                   "hardware": hardware, "queries": 1000})


# --- meters and the Trainer -------------------------------------------------------------------------------------------
def const_meter(watts: float = 100.0) -> ReplayMeter:
    """A CPU drawing *watts* all the time (source: 'constant test trace')."""
    return ReplayMeter({"cpu:0": [(0.0, watts)]}, source="constant test trace")


def const_gpu_meter(watts: float = 100.0) -> ReplayMeter:
    """A GPU drawing *watts* all the time."""
    return ReplayMeter({"gpu:0": [(0.0, watts)]})


def make_trainer(tiny: dict, out: Path, callbacks: list, **kw: object) -> Any:
    """A Trainer on the tiny GPT-2 (*tiny*: the ``tiny_train_data`` fixture's dict), 6 steps on the CPU."""
    import transformers as tf

    model = tf.AutoModelForCausalLM.from_pretrained(tiny["path"])
    opts = {"use_cpu": True, "report_to": [], "max_steps": 6, "per_device_train_batch_size": 8, "logging_steps": 1,
                "save_strategy": "no", "disable_tqdm": True}
    opts.update(kw)
    args = tf.TrainingArguments(str(out), **opts)
    return tf.Trainer(model=model, args=args, train_dataset=tiny["ds"], eval_dataset=tiny["ds"].select(range(8)),
                      data_collator=tf.DataCollatorForLanguageModeling(tiny["tok"], mlm=False), callbacks=callbacks)


def measured_window(tr: PhaseTracker, before: Callable[[], object]) -> Any:
    """One phase ``w`` on *tr* with *before* run inside it (a fault injected between the two reads)."""
    tr.begin("w")
    before()
    return tr.end("w")


def cli_run(*args: str) -> tuple[int, str]:
    """``scer-hf ARGS`` in-process: (exit code, output)."""
    from click.testing import CliRunner

    from scer_hf.cli import cli

    res = CliRunner().invoke(cli, list(args))
    return res.exit_code, res.output


# --- fake RAPL powercap tree and fake NVML ----------------------------------------------------------------------------
def make_rapl(root: Path, packages: int = 1, dram: bool = True, max_uj: int = 262143328850) -> dict[str, Path]:
    files = {}
    for i in range(packages):
        pkg = root / f"intel-rapl:{i}"
        pkg.mkdir(parents=True)
        (pkg / "name").write_text(f"package-{i}\n")
        (pkg / "energy_uj").write_text("1000\n")
        (pkg / "max_energy_range_uj").write_text(f"{max_uj}\n")
        files[f"cpu:{i}"] = pkg / "energy_uj"
        core = pkg / f"intel-rapl:{i}:0"
        core.mkdir()
        (core / "name").write_text("core\n")
        (core / "energy_uj").write_text("5\n")
        (core / "max_energy_range_uj").write_text(f"{max_uj}\n")
        if dram:
            d = pkg / f"intel-rapl:{i}:1"
            d.mkdir()
            (d / "name").write_text("dram\n")
            (d / "energy_uj").write_text("0\n")
            (d / "max_energy_range_uj").write_text(f"{max_uj}\n")
            files[f"dram:{i}"] = d / "energy_uj"
    psys = root / "intel-rapl:9"
    psys.mkdir()
    (psys / "name").write_text("psys\n")
    (psys / "energy_uj").write_text("1\n")
    (psys / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return files


class FakeNVMLError(Exception):
    pass


class FakeNvml:
    """The pynvml functions NvmlMeter calls, backed by settable counters (mJ) and power (mW)."""

    def __init__(self, n: int = 2, counter: bool = True) -> None:
        self.energy_mj = [1_000_000.0 * (i + 1) for i in range(n)]
        self.power_mw = [100_000.0] * n
        self.n = n
        self.counter = counter
        self.fail = False

    def nvmlInit(self) -> None:
        if self.n < 0:
            raise FakeNVMLError("Driver Not Loaded")

    def nvmlShutdown(self) -> None:
        pass

    def nvmlDeviceGetCount(self) -> int:
        return self.n

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetName(self, h: int) -> bytes:
        return b"NVIDIA H100 80GB HBM3"

    def nvmlDeviceGetTotalEnergyConsumption(self, h: int) -> float:
        if not self.counter:
            raise FakeNVMLError("Not Supported")
        if self.fail:
            raise FakeNVMLError("GPU is lost")
        return self.energy_mj[h]

    def nvmlDeviceGetPowerUsage(self, h: int) -> float:
        return self.power_mw[h]


# --- model files ------------------------------------------------------------------------------------------------------
def safetensors_bytes(shapes: dict[str, list[int]], dtype: str = "F32") -> bytes:
    """A valid safetensors file of zeros with these tensor shapes."""
    width = {"F32": 4, "F16": 2, "BF16": 2}[dtype]
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    off = 0
    for name, shape in shapes.items():
        n = 1
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + n * width]}
        off += n * width
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + b"\0" * off
