"""trainer.push_to_hub() with SCERCallback: the README.md that reaches the (loopback) Hub carries the SCER parts."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

tf = pytest.importorskip("transformers")
pytest.importorskip("torch")

from huggingface_hub import ModelCard

from scer_hf.hf import push as card_push
from scer_hf.hf.callback import SCERCallback
from scer_hf.publish.card.splice import SECTION_START
from scer_hf.core.meters import ReplayMeter
from tests.hubserver import FakeHub, use_fake_hub

pytestmark = pytest.mark.slow
TOKEN = "hf_TrainerPushToken0123456789abcdef"


@pytest.fixture(scope="module")
def tiny(tiny_train_data) -> dict:  # type: ignore[no-untyped-def]
    return tiny_train_data(16, 16)


@pytest.fixture()
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    with FakeHub(tokens={TOKEN: "write"}) as h:
        use_fake_hub(monkeypatch, h)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        yield h


def trainer_for(tiny: dict, out: Path, cb: SCERCallback, **kw: object) -> tf.Trainer:
    opts: dict = dict(use_cpu=True, report_to=[], max_steps=2, per_device_train_batch_size=8, save_strategy="no",
                      disable_tqdm=True, push_to_hub=True, hub_model_id="org/tiny")
    args = tf.TrainingArguments(str(out), **{**opts, **kw})
    return tf.Trainer(model=tf.AutoModelForCausalLM.from_pretrained(tiny["path"]), args=args,
                      train_dataset=tiny["ds"], data_collator=tf.DataCollatorForLanguageModeling(tiny["tok"], mlm=False),
                      callbacks=[cb])


def test_trainer_push_to_hub_uploads_a_card_with_scer_metadata(tiny: dict, hub: FakeHub, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="huggingface_hub")
    cb = SCERCallback(carbon_intensity_g_per_kwh=100.0, meters=[ReplayMeter({"cpu:0": [(0.0, 50.0)]}, source="test")])
    out = tmp_path / "out"
    trainer = trainer_for(tiny, out, cb)
    other = trainer_for(tiny, tmp_path / "other", SCERCallback(carbon_intensity_g_per_kwh=100.0))
    trainer.train()
    trainer.push_to_hub()
    rep = cb.report
    assert rep is not None and rep.status == "complete"
    pushed = hub.file("org/tiny", "README.md")
    assert pushed is not None
    text = pushed.decode()
    card = ModelCard(text)
    # the Trainer's own card (regenerated after on_push_begin) ...
    assert "This model was trained from scratch" in text and card.data.library_name == "transformers"
    # ... carries the SCER parts, in the same single commit as the model
    assert card.data.co2_eq_emissions["emissions"] == rep.co2e_g and card.data.co2_eq_emissions["source"] == "scer-hf"
    assert card.data.scer["training"]["report_digest"] == rep.digest()
    assert "scer" in card.data.tags and text.count(SECTION_START) == 1
    assert "![SCER carbon-efficiency label (training)](scer_label.svg)" in text
    files = set(hub.repos["org/tiny"].commits[hub.head("org/tiny")]["files"])
    assert {"README.md", "scer_label.svg", "scer_report.json", "model.safetensors"} <= files
    assert [c["summary"] for c in hub.history("org/tiny")] == ["End of training", "initial commit"]
    assert (out / "README.md").read_bytes() == pushed  # the local card is the pushed one
    # only this trainer instance was wrapped; the class and other trainers are untouched
    assert getattr(trainer.__dict__["create_model_card"], card_push._MARK)
    assert "create_model_card" not in other.__dict__
    assert tf.Trainer.create_model_card.__qualname__ == "Trainer.create_model_card"
    # a second push with the same (final) report is idempotent and the wrapper is installed once
    trainer.push_to_hub(commit_message="again")
    assert hub.file("org/tiny", "README.md") == pushed
    # the token is nowhere: not in the output folder, not in the logs
    for f in out.rglob("*"):
        if f.is_file() and f.suffix in (".md", ".json", ".svg"):
            assert TOKEN not in f.read_text(encoding="utf-8", errors="replace"), f
    assert TOKEN not in caplog.text


def test_push_hook_failures_never_break_the_push(tiny: dict, hub: FakeHub, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    cb = SCERCallback(carbon_intensity_g_per_kwh=100.0, meters=[ReplayMeter({"cpu:0": [(0.0, 50.0)]}, source="test")])
    trainer = trainer_for(tiny, out, cb)
    trainer.train()
    # a create_model_card override that writes a flow-style front matter scer-hf does not edit: the card
    # update fails (CardError),
    # push_to_hub still uploads the model, with one warning
    card_push._warn_once.clear()

    def broken_card(*a: object, **k: object) -> None:
        (out / "README.md").write_text("---\n{license: mit}\n---\n# flow\n")

    trainer.create_model_card = broken_card  # type: ignore[method-assign]
    with pytest.warns(RuntimeWarning, match="could not add SCER metadata"):
        trainer.push_to_hub()
    assert hub.file("org/tiny", "model.safetensors") is not None
    assert hub.file("org/tiny", "README.md") == b"---\n{license: mit}\n---\n# flow\n"


def test_checkpoint_pushes_carry_the_partial_figures(tiny: dict, hub: FakeHub, tmp_path: Path) -> None:
    """hub_strategy='every_save' uploads output_dir without regenerating the card: the hook's own edit shows."""
    cb = SCERCallback(carbon_intensity_g_per_kwh=100.0, meters=[ReplayMeter({"cpu:0": [(0.0, 50.0)]}, source="test")])
    trainer = trainer_for(tiny, tmp_path / "out", cb, save_strategy="steps", save_steps=1)
    trainer.train()
    trainer.push_to_hub()
    history = hub.history("org/tiny")
    summaries = [c["summary"] for c in history]
    assert summaries[0] == "End of training" and "Training in progress, step 1" in summaries
    step1 = next(c for c in history if c["summary"] == "Training in progress, step 1")
    card = ModelCard(step1["files"]["README.md"].decode())
    assert card.data.scer["training"]["status"] == "partial" and "scer" in card.data.tags
    final = ModelCard(history[0]["files"]["README.md"].decode())
    assert final.data.scer["training"]["status"] == "complete"
    assert final.data.scer["training"]["report_digest"] == cb.report.digest()  # type: ignore[union-attr]
