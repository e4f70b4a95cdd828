"""The parameter index (scer_hf/data/model_parameters.csv): sourced, labelled, and used offline."""

from __future__ import annotations

import csv

from scer_hf import reference
from scer_hf.rating import index, lineage

TEXT_TAGS = {"text-generation", "text2text-generation", "fill-mask", "text-classification", "token-classification",
             "sentence-similarity", "feature-extraction", "question-answering", "summarization", "translation",
             "zero-shot-classification", "table-question-answering"}
LABELS = ("[primary", "[hub-metadata]", "[secondary", "[nominal]")


def _rows() -> list[dict[str, str]]:
    return list(csv.DictReader(open(reference.data_dir() / index.PARAMS_FILE, encoding="utf-8")))


def test_index_covers_300_text_models_each_sourced_and_labelled() -> None:
    rows = _rows()
    text = [r for r in rows if r["pipeline_tag"] in TEXT_TAGS]
    assert len(text) >= 300
    assert all(r["source"].strip() and r["notes"].startswith(LABELS) for r in rows)
    assert all(float(r["params_b"]) > 0 for r in rows)
    for r in rows:  # every label says how the count was read
        if r["notes"].startswith("[nominal]"):
            assert "model id" in r["source"]
        if r["notes"].startswith("[hub-metadata]"):
            assert "TheExGenesis/hugingface-data@cb3b55b" in r["source"] and "safetensors" in r["source"]
    assert len({r["model_id"].lower() for r in rows}) == len(rows)
    assert {r["relation"] for r in rows} <= lineage.RELATIONS | {""}


def test_index_has_total_active_architecture_and_base() -> None:
    e = index.lookup("meta-llama/Meta-Llama-3.1-8B-Instruct")  # a renamed id finds the current row
    assert e.model_id == "meta-llama/Llama-3.1-8B-Instruct" and e.params_b == 8.030261248
    assert e.architecture == "llama" and e.base_model == "meta-llama/Llama-3.1-8B" and e.relation == "finetune"
    mix = index.lookup("mistralai/Mixtral-8x7B-Instruct-v0.1")
    assert mix.active_params_b == 13 and mix.effective_b == 13 and mix.params_b > 46
    ds = index.lookup("deepseek-ai/DeepSeek-V3")
    assert (ds.params_b, ds.active_params_b) == (671, 37) and "37B activated" in ds.source
    stories = index.lookup("ggml-org/stories15M_MOE")
    assert stories.moe_without_active  # a mixture of experts with no published active count is never modelled
    pythia = index.lookup("EleutherAI/pythia-6.9b-deduped")
    assert pythia.params_b == 6.857302016 and "6,857,302,016" in pythia.source


def test_issue_families_have_parameter_counts_offline() -> None:
    for mid in ("EleutherAI/pythia-1b", "EleutherAI/gpt-neo-1.3B", "EleutherAI/gpt-j-6b", "facebook/opt-1.3b",
                "facebook/opt-6.7b", "Qwen/Qwen2-7B-Instruct", "Qwen/Qwen2.5-1.5B", "HuggingFaceTB/SmolLM2-135M"):
        assert index.lookup(mid) is not None, mid
