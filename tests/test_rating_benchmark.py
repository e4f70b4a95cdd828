"""A real benchmark report (tiny model, CPU) rated end to end: the handshake between benchmark and rate."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_benchmark_report_is_rated_and_flagged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               tiny_model_dir) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    import scer_hf
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rep = scer_hf.benchmark(str(tiny_model_dir("gpt2")), task="text-generation", queries=4, min_queries=2, warmup=1,
                            progress=False)
    path = rep.save(tmp_path / "scer_report.json")
    r = scer_hf.rate(str(path))
    i = r.inference
    d = rep.to_dict()
    queries = sum(p["counts"].get("queries", 0) for p in d["phases"] if p["parent"] is None)
    gpu_j = sum(v for p in d["phases"] if p["parent"] is None for c, v in p["energy_j"].items() if c.startswith("gpu"))
    total_j = sum(p["energy_j"]["total"] for p in d["phases"] if p["parent"] is None)
    assert queries == 4
    assert i.value == pytest.approx((gpu_j or total_j) / 3600 / queries * 1000)
    assert i.category["group"] == "AI Energy Score v1 (Feb 2025) | text_generation | class A"
    assert i.peers == 32  # the 32 class-A references (not the rated run)
    if gpu_j == 0:  # CPU machine: not rated, said plainly; the position is only indicative
        assert i.comparable is False and any("no GPU energy" in n for n in i.notes)
        assert i.grade is None and i.stars is None and i.indicative["stars"] is not None
    elif i.comparable:
        assert i.stars is not None and i.grade is not None
    assert i.estimated == rep.estimated
    assert not r.training.available and r.training.how_to_measure
