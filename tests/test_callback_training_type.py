"""SCERCallback records training_type, which the card writes into co2_eq_emissions (Hub spec)."""

from __future__ import annotations

from pathlib import Path

import pytest

tf = pytest.importorskip("transformers")
pytest.importorskip("torch")

from datasets import Dataset  # noqa: E402

from scer_hf.hf.tiny import prompt_texts  # noqa: E402
from scer_hf.hf.callback import SCERCallback  # noqa: E402
from scer_hf.publish.card.content import co2_entry  # noqa: E402
from scer_hf.errors import CallbackConfigError  # noqa: E402
from scer_hf.core.meters import ReplayMeter  # noqa: E402


def test_bad_training_type_is_refused() -> None:
    with pytest.raises(CallbackConfigError, match="fine-tuning"):
        SCERCallback(carbon_intensity_g_per_kwh=100, training_type="finetune")


def _train(model, tok, out: Path, **cb_kw: object) -> dict:  # type: ignore[no-untyped-def]
    ds = Dataset.from_dict(dict(tok(prompt_texts(8), truncation=True, max_length=16)))
    cb = SCERCallback(carbon_intensity_g_per_kwh=100, meters=[ReplayMeter({"cpu:0": [(0.0, 10.0)]})], **cb_kw)
    args = tf.TrainingArguments(str(out), max_steps=1, per_device_train_batch_size=4, report_to=[], use_cpu=True,
                                save_strategy="no", disable_tqdm=True)
    tf.Trainer(model=model, args=args, train_dataset=ds, callbacks=[cb],
               data_collator=tf.DataCollatorForLanguageModeling(tok, mlm=False)).train()
    return {"model": cb.report.model, "co2": co2_entry(cb.report)}


@pytest.mark.slow
def test_training_type_from_pretrained_from_config_or_given(gpt2: str, tmp_path: Path) -> None:
    tok = tf.AutoTokenizer.from_pretrained(gpt2)
    loaded = _train(tf.AutoModelForCausalLM.from_pretrained(gpt2), tok, tmp_path / "a")
    assert loaded["model"]["training_type"] == loaded["co2"]["training_type"] == "fine-tuning"
    assert loaded["model"]["training_type_basis"].startswith("inferred")
    scratch = tf.AutoModelForCausalLM.from_config(tf.AutoConfig.from_pretrained(gpt2))
    scratch.config._name_or_path = ""  # what a model built from a bare config (GPT2Config(...)) carries
    built = _train(scratch, tok, tmp_path / "b")
    assert built["co2"]["training_type"] == "pre-training"
    given = _train(tf.AutoModelForCausalLM.from_pretrained(gpt2), tok, tmp_path / "c", training_type="pre-training")
    assert given["co2"]["training_type"] == "pre-training" and given["model"]["training_type_basis"] == "given"
