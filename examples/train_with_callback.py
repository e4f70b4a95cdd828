"""Train a tiny GPT-2 with SCERCallback, offline, on CPU, in a few seconds.

    python examples/train_with_callback.py [OUTPUT_DIR]

Builds a tiny random GPT-2 and its tokenizer locally (no Hub), fine-tunes it for a
few steps with an evaluation every 4 steps, then prints the energy report. The JSON
report is in OUTPUT_DIR/scer_report.json (default: ./scer-example). With no energy
counters readable here (typical on laptops and containers) the CPU and RAM figures
are ESTIMATES and the report says so.
"""

from __future__ import annotations

import sys
from pathlib import Path

import transformers as tf
from datasets import Dataset

from scer_hf import SCERCallback
from scer_hf.hf.tiny import build_tiny_model, prompt_texts


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "scer-example")
    model_dir = build_tiny_model(out / "tiny-gpt2")
    tok = tf.AutoTokenizer.from_pretrained(model_dir)
    model = tf.AutoModelForCausalLM.from_pretrained(model_dir)
    data = Dataset.from_dict(dict(tok(prompt_texts(256), truncation=True, max_length=64)))
    split = data.train_test_split(test_size=32, seed=0)

    cb = SCERCallback(country_iso_code="FRA")  # or carbon_intensity_g_per_kwh=..., pue=..., hardware=...
    args = tf.TrainingArguments(
        str(out), use_cpu=True, report_to=[], max_steps=16, per_device_train_batch_size=8, logging_steps=4,
        eval_strategy="steps", eval_steps=4, save_strategy="no",
    )
    trainer = tf.Trainer(model=model, args=args, train_dataset=split["train"], eval_dataset=split["test"],
                         data_collator=tf.DataCollatorForLanguageModeling(tok, mlm=False), callbacks=[cb])
    trainer.train()

    report = cb.report
    print()
    print(report)
    for p in report.phases:
        print(f"  {p['name']:<9} {p['kind']:<11} {p['energy_j']['total']:9.3f} J  {p['duration_s']:7.3f} s  "
              f"{p['co2e_g']:.3g} gCO2e  counts={p['counts']}")
    sci = report.sci
    if sci:
        print(f"SCI: {sci['value']:.4g} {sci['unit']} (R = {sci['r']:g})")
    print(f"estimated: {report.estimated}; report written to {out / 'scer_report.json'}")


if __name__ == "__main__":
    main()
