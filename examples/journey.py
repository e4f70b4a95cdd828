"""The whole scer-hf journey with the public API, offline, in under a minute on a CPU.

    python examples/journey.py [OUT_DIR]

train with SCERCallback -> benchmark -> rate -> label -> model card -> HTML report
-> verify. (`scer-hf demo OUT_DIR` runs the same journey as one command.) A tiny GPT-2
is built from a config first, so nothing is downloaded. Swap in your own model and
Trainer: every step below is what you would write for a real model.
"""

from __future__ import annotations

import sys
from pathlib import Path

import transformers as tf
from datasets import Dataset

import scer_hf
from scer_hf.hf.tiny import build_tiny_model, prompt_texts  # only to make a model without the Hub
from scer_hf.publish.html import write_html_report
from scer_hf.publish.label import markdown_badge, save_label
from scer_hf.publish.verify import verify

out = Path(sys.argv[1] if len(sys.argv) > 1 else "scer-journey")
base = build_tiny_model(out / "base")

# 1. Train with the callback: per-phase energy and emissions, in the logs and in output_dir/scer_report.json.
tok = tf.AutoTokenizer.from_pretrained(base)
data = Dataset.from_dict(dict(tok(prompt_texts(160), truncation=True, max_length=64))).train_test_split(32, seed=0)
cb = scer_hf.SCERCallback(country_iso_code="FRA", pue=1.1)
trainer = tf.Trainer(
    model=tf.AutoModelForCausalLM.from_pretrained(base),
    args=tf.TrainingArguments(str(out / "model"), use_cpu=True, report_to=[], num_train_epochs=1,
                              per_device_train_batch_size=8, eval_strategy="epoch", save_strategy="no",
                              hub_model_id="me/tiny-gpt2"),
    train_dataset=data["train"], eval_dataset=data["test"],
    data_collator=tf.DataCollatorForLanguageModeling(tok, mlm=False), callbacks=[cb],
)
trainer.train()
trainer.save_model()
tok.save_pretrained(out / "model")
training = cb.report
print(training)

# 2. Benchmark inference with the standard protocol (AI Energy Score setting: 10 new tokens, batch 1).
inference = scer_hf.benchmark(out / "model", task="text-generation", queries=40, country_iso_code="FRA",
                              pue=1.1, model_id="me/tiny-gpt2")
inference.save(out / "model" / "scer_report.inference.json", overwrite=True)
print(inference)

# 3. Rate both against published peers (and see the published figures of a known model, offline).
r_train, r_inf = scer_hf.rate(training), scer_hf.rate(inference)
print(r_train.training)
print(r_inf.inference)
print(scer_hf.rate("bigscience/bloom-560m").training)

# 4. Label (SVG with a QR code to the manifest), model card, HTML report.
save_label(out / "model" / "scer_label.svg", inference, r_inf, overwrite=True)  # this script's file of a past run
scer_hf.update_card(out / "model", training, rating=r_train)
scer_hf.update_card(out / "model", inference, rating=r_inf)
write_html_report(inference, out / "report.html", rating=r_inf, overwrite=True)
print(markdown_badge(inference, r_inf))

# 5. Anyone can check the card against its manifests.
print(verify(out / "model" / "README.md").describe().splitlines()[0])
