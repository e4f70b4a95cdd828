"""Fair peers for measured runs: comparability of training reports, size-class peers, measured hardware,
references-only peer counts, withheld grades, and the task suggested to measure a model."""

from __future__ import annotations

import pytest

from scer_hf import Report
from scer_hf.core.meters import ReplayMeter
from scer_hf.rating import rate
from scer_hf.rating.categories import suggest_task
from scer_hf.rating.engine import inference_how_to
from scer_hf.rating.measured import measured_hardware, withhold
from scer_hf.rating.result import PhaseRating
from scer_hf.core.tracker import PhaseTracker
from tests.builders import Clock, constant_training_report


def test_cpu_estimated_training_report_is_not_comparable() -> None:
    t = rate(constant_training_report({"cpu:0": 50.0}, method="estimate")).training
    assert t.comparable is False
    assert t.grade is None and t.stars is None and t.percentile is None
    assert any("estimated" in n for n in t.notes) and any("not measured on a GPU" in n for n in t.notes)
    assert t.indicative and t.indicative["grade"] == "C" and t.indicative["references"] == t.peers
    assert "not rated" in t.reason and "not rated: not comparable" in t.summary()
    assert "indicative" not in t.summary()  # the position is in the JSON and the HTML's rating section only


def test_gpu_measured_training_report_is_comparable() -> None:
    t = rate(constant_training_report({"gpu:0": 100.0})).training
    assert t.comparable is True and t.grade == "C" and t.indicative is None


def test_training_peers_same_size_class_when_three_exist() -> None:
    small = rate(constant_training_report({"gpu:0": 100.0}, params=1e6)).training  # class A: many published rows
    assert small.category["size_class"] == "A" and "size class A" in small.category["group"]
    assert any("size class A" in n and n.startswith("peers:") for n in small.notes)
    huge = rate(constant_training_report({"gpu:0": 100.0}, params=100e9)).training  # class C
    everyone = rate(constant_training_report({"gpu:0": 100.0}, params=30e9)).training  # class B
    counts = {huge.peers, everyone.peers, small.peers}
    assert len(counts) >= 2  # the class decides the peers
    for t in (huge, everyone):
        if "size class" not in t.category["group"]:
            assert any("fewer than 3" in n for n in t.notes)


def test_training_class_uses_active_parameters() -> None:
    t = rate(constant_training_report({"gpu:0": 100.0}, params=400e9, model_extra={"active_parameters": 17e9})).training
    assert t.category["size_class"] == "A"


def test_hardware_class_from_what_was_measured() -> None:
    # the embodied row names an H100, but only the CPU was measured: the class is CPU
    rep = constant_training_report({"cpu:0": 50.0}, embodied_hw="NVIDIA H100 SXM5 80GB")
    d = rep.to_dict()
    assert measured_hardware(d, d["phases"])[0] == "CPU"
    assert rate(rep).training.category["hardware_class"] == "CPU"
    # a GPU name recorded by the meter wins over the embodied row
    gpu = constant_training_report({"gpu:0": 100.0}, embodied_hw="NVIDIA H100 SXM5 80GB").to_dict()
    gpu["provenance"]["meters"][0]["devices"] = {"gpu:0": "NVIDIA A100-SXM4-80GB"}
    assert rate(gpu).training.category["hardware_class"] == "NVIDIA A100"


def test_peer_counts_are_references_only() -> None:
    i = rate("distilbert/distilgpt2", hub=False).inference  # class A has 32 rows, one is distilgpt2 itself
    assert i.peers == 31 and "of 31 references" in i.summary()


def test_withhold_moves_grade_to_indicative() -> None:
    pr = PhaseRating(phase="inference", available=True, grade="C", stars=2, percentile=12.0, peers=16,
                     comparable=False, notes=["not comparable: batch size 8"],
                     nearest_peers=[{"model": "x", "grade": "A", "stars": 5}])
    withhold(pr)
    assert (pr.grade, pr.stars, pr.percentile) == (None, None, None)
    assert pr.indicative_label() == "indicative: C, percentile 12 of 16 references, 2/5 stars"
    assert "grade" not in pr.nearest_peers[0] and "batch size 8" in pr.reason
    assert pr.to_dict()["indicative"]["grade"] == "C"


@pytest.mark.parametrize("model, tag, archs, task", [
    ("distilbert-base-uncased", None, None, "fill-mask"),
    ("sentence-transformers/all-MiniLM-L6-v2", None, None, "sentence-similarity"),
    ("google/flan-t5-base", None, None, "text2text-generation"),
    ("gpt2", None, None, "text-generation"),
    ("x/y", "summarization", None, "summarization"),
    ("x/y", None, ["BertForMaskedLM"], "fill-mask"),
    ("x/y", None, ["MPNetModel"], "feature-extraction"),
    ("x/y", None, ["LlamaForCausalLM"], "text-generation"),
    ("google/flan-t5-base", "not-a-task", None, "text2text-generation"),  # an unknown tag falls through to the id
    ("x/y", None, ["Foo", "MPNetModel", "BertForMaskedLM"], "feature-extraction"),  # the first that says one
    ("gpt2", "text_classification", ["BertForMaskedLM"], "text-classification"),  # the tag (an alias) first
])
def test_suggest_task(model: str, tag: str | None, archs: list[str] | None, task: str) -> None:
    assert suggest_task(model, tag, archs) == task


def test_encoder_models_are_not_told_text_generation() -> None:
    for mid in ("distilbert-base-uncased", "sentence-transformers/all-MiniLM-L6-v2"):
        how = rate(mid, hub=False).inference.how_to_measure or ""
        assert "--task text-generation" not in how, how
    assert inference_how_to("m", None, architectures=["BertForSequenceClassification"]).endswith(
        "--task text-classification")


def test_nvml_meter_records_gpu_names_and_the_rating_uses_them() -> None:
    from scer_hf.core.meters import NvmlMeter
    from tests.builders import FakeNvml

    m = NvmlMeter(nvml=FakeNvml(1))
    desc = m.describe()
    assert desc["devices"] == {"gpu:0": m.device_names["gpu:0"]}
    rep = constant_training_report({"gpu:0": 100.0}, embodied_hw="NVIDIA A100-SXM4-80GB").to_dict()
    rep["provenance"]["meters"][0]["devices"] = desc["devices"]  # the meter saw an H100
    t = rate(rep).training
    from scer_hf.rating.categories import hardware_class
    assert t.category["hardware_class"] == hardware_class(desc["devices"]["gpu:0"]) == "NVIDIA H100"
