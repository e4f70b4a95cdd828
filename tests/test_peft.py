"""PEFT adapters: a LoRA fine-tune with SCERCallback (parameters, base model, identity in report and card) and
``rate()`` of an adapter folder or adapter repo through its base model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest

from scer_hf import rate
from tests.hubserver import FakeHub, use_fake_hub
from tests.builders import safetensors_bytes

LORA_CONFIG = {"base_model_name_or_path": "bigscience/bloom-560m", "peft_type": "LORA", "r": 8,
               "target_modules": ["query_key_value"], "task_type": "CAUSAL_LM"}


def adapter_files(base: str = "bigscience/bloom-560m") -> dict[str, bytes]:
    return {"adapter_config.json": json.dumps(dict(LORA_CONFIG, base_model_name_or_path=base)).encode(),
            "adapter_model.safetensors": safetensors_bytes({"lora_A": [8, 1024], "lora_B": [3072, 8]})}


def test_adapter_folder_is_rated_through_its_base(tmp_path: Path) -> None:
    d = tmp_path / "bloom-lora"
    d.mkdir()
    for name, raw in adapter_files().items():
        (d / name).write_bytes(raw)
    r = rate(d, hub=False)
    own = rate("bigscience/bloom-560m", hub=False)
    assert r.model == str(d.resolve())
    assert r.training.available and r.training.basis == "adapter" and r.training.value == own.training.value
    assert r.training.basis_label.startswith("adapter on base model bigscience/bloom-560m")
    assert "fine-tuning is not included" in r.training.basis_label
    assert r.inference.available and r.inference.via_model == own.inference.via_model  # the base's own twin
    assert "32,768" in r.inference.basis_label  # the adapter's own parameters, said
    assert r.lineage["adapter"]["parameters"] == 8 * 1024 + 3072 * 8 and r.lineage["adapter"]["method"] == "LORA"
    assert r.lineage["node"]["relation"] == "adapter" and "adapter on base model" in r.describe()
    assert any("adapter_config.json" in s for s in r.training.sources)


def test_adapter_with_a_base_that_cannot_be_rated_says_why(tmp_path: Path) -> None:
    d = tmp_path / "orphan"
    d.mkdir()
    (d / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "base_model_name_or_path": "a/b/c"}))
    r = rate(d, hub=False)
    assert not r.training.available and "adapter on base model a/b/c, which cannot be rated" in r.training.reason
    (d / "adapter_config.json").write_text("[1]")
    from scer_hf.errors import RatingError

    with pytest.raises(RatingError, match="not a JSON object"):
        rate(d, hub=False)


@pytest.fixture()
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with FakeHub() as h:
        use_fake_hub(monkeypatch, h)
        yield h


def test_adapter_repo_on_the_hub_is_rated_through_its_base(hub: FakeHub) -> None:
    hub.create_repo("someone/bloom-lora", {**adapter_files(),
                                           "README.md": b"---\nlibrary_name: peft\n---\n# a LoRA\n"})
    r = rate("someone/bloom-lora")
    assert r.training.basis == "adapter" and r.training.available
    assert r.lineage["adapter"]["origin"] == "Hub" and r.lineage["adapter"]["base_model"] == "bigscience/bloom-560m"
    assert r.lineage["adapter"]["parameters"] == 32_768  # the Hub's safetensors count of the adapter
    paths = [p for _, p, _ in hub.log]
    assert sum("/api/models/someone/bloom-lora" in p for p in paths) == 1  # one model_info for the whole rating
    # a repo that is no adapter goes on as before, on the same single lookup
    hub.create_repo("someone/plain", {"README.md": b"---\nbase_model: bigscience/bloomz-560m\n---\n"})
    plain = rate("someone/plain")
    assert plain.training.basis == "inherited" and sum("/api/models/someone/plain" in p for _, p, _ in hub.log) == 1


# -- a real LoRA fine-tune with SCERCallback --------------------------------------------------------------------
@pytest.mark.slow
def test_lora_finetune_with_callback_report_card_and_rating(tiny_train_data, tmp_path: Path) -> None:  # noqa: ANN001
    peft = pytest.importorskip("peft")
    tf = pytest.importorskip("transformers")
    from scer_hf import SCERCallback, update_card
    from scer_hf.core.meters import ReplayMeter
    from scer_hf.publish.card.splice import split_card
    from scer_hf.publish.verify import verify

    tiny = tiny_train_data(24, 16)
    base = tf.AutoModelForCausalLM.from_pretrained(tiny["path"])
    model = peft.get_peft_model(base, peft.LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn"],
                                                      task_type="CAUSAL_LM"))
    trainable, total = model.get_nb_trainable_parameters()
    out = tmp_path / "gpt2-lora-poems"
    cb = SCERCallback(carbon_intensity_g_per_kwh=100.0, meters=[ReplayMeter({"gpu:0": [(0.0, 50.0)]})],
                      flush_every_s=0)
    args = tf.TrainingArguments(str(out), use_cpu=True, report_to=[], max_steps=3, per_device_train_batch_size=8,
                                save_strategy="no", disable_tqdm=True, logging_steps=1)
    trainer = tf.Trainer(model=model, args=args, train_dataset=tiny["ds"], callbacks=[cb],
                         data_collator=tf.DataCollatorForLanguageModeling(tiny["tok"], mlm=False))
    trainer.train()
    trainer.save_model()  # PEFT writes adapter_config.json, adapter_model.safetensors and its own README.md
    m = cb.report.model
    assert m["id"] == "gpt2-lora-poems" and m["base_model"] == str(tiny["path"]) and m["base_model_local"] is True
    assert m["parameters"] == total and m["parameters_trainable"] == trainable < total
    assert m["adapter"]["method"] == "LORA" and m["adapter"]["parameters"] == trainable
    assert m["adapter"]["r"] == 4 and m["adapter"]["target_modules"] == ["c_attn"]
    assert m["training_type"] == "fine-tuning" and m["library_name"] == "peft"
    before = split_card((out / "README.md").read_text()).data
    assert before["library_name"] == "peft"  # PEFT's own card metadata
    update_card(out, cb.report)
    after = split_card((out / "README.md").read_text()).data
    assert all(after[k] == v for k, v in before.items() if k != "tags")  # PEFT's metadata kept as it was
    assert after["co2_eq_emissions"]["training_type"] == "fine-tuning"
    assert after["scer"]["training"]["model"] == "gpt2-lora-poems"
    assert verify(out / "README.md").ok
    r = rate(out, hub=False)  # the adapter folder answers through its base (a local tiny model: no figure)
    assert r.training.basis == "adapter" and r.lineage["adapter"]["parameters"] == trainable
    assert f"adapter on base model {tiny['path']}" in r.training.reason
