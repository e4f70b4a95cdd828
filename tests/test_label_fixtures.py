"""Report and rating fixtures shared by the label, HTML report, verify and quality tests.

Reports are built with ReplayMeter power traces on a fake clock, so every figure is
exact and known; their date and run id are fixed, so a report built twice has one digest and a rating
can be bound to it. Ratings follow the shared rating contract (HELPER_RULES.md) and name the report they
rate (``reports``), as ``scer_hf.rate(report)`` does.
"""

from __future__ import annotations

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
