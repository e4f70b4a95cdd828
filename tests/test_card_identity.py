"""The card's lineage fields (base_model, library_name, pipeline_tag: only where missing, never the user's) and
hardware_used counted from the meters ("8 x NVIDIA H100 80GB HBM3")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scer_hf import update_card
from scer_hf.core.carbon import carbon_intensity
from scer_hf.core.hardware import counted, measured_hardware
from scer_hf.core.meters import ReplayMeter
from scer_hf.core.report import Report
from scer_hf.core.tracker import PhaseTracker
from scer_hf.publish.card.content import co2_entry, identity_entries
from scer_hf.publish.card.splice import split_card

H100 = "NVIDIA H100 80GB HBM3"


def report(model: dict[str, Any], gpus: int = 1) -> Report:
    tr = PhaseTracker([ReplayMeter({"gpu:0": [(0.0, 300.0)]})], sync_cuda=False)
    with tr.phase("train") as w:
        w.add(tokens=1000, samples=10)
    prov = tr.provenance()
    # a distributed run lists each rank's NVML meter with the GPU it measured
    prov["meters"] = [{"meter": "nvml", "method": "counter", "source": "NVML", "components": [f"rank{r}/gpu:{r % 8}"],
                       "devices": {f"gpu:{r % 8}": H100}} for r in range(gpus)]
    return Report.build(tr.measurements, boundary="training", carbon=carbon_intensity("FRA"), model=model,
                        provenance=prov)


def test_hardware_used_counts_the_devices() -> None:
    assert co2_entry(report({"id": "x"}, gpus=8))["hardware_used"] == f"8 x {H100}"
    assert co2_entry(report({"id": "x"}, gpus=1))["hardware_used"] == H100
    assert counted(["A", "B", "A"]) == "2 x A + B"
    est = {"meter": "estimate", "assumptions": {"cpu_model": "AMD EPYC 7R13"}}
    assert measured_hardware([est, est]) == "AMD EPYC 7R13" and measured_hardware([{"meter": "x"}]) is None
    assert measured_hardware([{"device_names": {"gpu:0": "T4"}}]) == "T4"  # reports written before "devices"


def test_lineage_fields_are_added_only_where_missing(tmp_path: Path) -> None:
    hub = report({"id": "me/gpt2-poems", "task": "text-generation", "base_model": "openai-community/gpt2",
                  "base_model_local": False, "library_name": "transformers", "training_type": "fine-tuning"})
    assert identity_entries(hub) == {"base_model": "openai-community/gpt2", "library_name": "transformers",
                                     "pipeline_tag": "text-generation"}
    local = report({"id": "x", "task": "text_generation", "base_model": "runs/base", "base_model_local": True})
    assert identity_entries(local) == {"pipeline_tag": "text-generation"}  # a folder is no Hub id; task normalised
    assert identity_entries(report({"id": "x", "task": "no-such-task"})) == {}
    card = tmp_path / "README.md"
    card.write_text("---\nlibrary_name: peft\nbase_model: someone/base\nlicense: mit\n---\n# mine\n")
    update_card(tmp_path, hub, label_path=None)
    data = split_card(card.read_text()).data
    assert data["library_name"] == "peft" and data["base_model"] == "someone/base"  # the user's, untouched
    assert data["pipeline_tag"] == "text-generation" and data["license"] == "mit"
    fresh = tmp_path / "new"
    fresh.mkdir()  # update_card creates no folder (issue 20)
    update_card(fresh, hub, label_path=None)
    data = split_card((fresh / "README.md").read_text()).data
    assert data["base_model"] == "openai-community/gpt2" and data["library_name"] == "transformers"
    assert data["co2_eq_emissions"]["training_type"] == "fine-tuning"
