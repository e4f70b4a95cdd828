"""Fine-tune a tiny GPT-2 in a plain accelerate loop with scer_hf.track_training, offline, on CPU.

    python examples/train_accelerate.py [OUTPUT_DIR]                   # one process
    torchrun --nproc_per_node 2 examples/train_accelerate.py OUT       # two processes (gloo on CPU)

Builds a tiny random GPT-2 locally (no Hub), saves it as the starting checkpoint, fine-tunes it for two short
epochs with an evaluation after each, then writes OUTPUT_DIR/scer_report.json (every rank's energy), the trained
model and its model card (OUTPUT_DIR/README.md with co2_eq_emissions and the scer block). Check it with
``scer-hf verify OUTPUT_DIR/README.md``. Without readable energy counters the figures are ESTIMATES and say so.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import transformers as tf
from accelerate import Accelerator
from torch.utils.data import DataLoader

import scer_hf
from scer_hf.hf.tiny import build_tiny_model, prompt_texts


def loaders(tok: tf.PreTrainedTokenizerBase, accelerator: Accelerator) -> tuple[DataLoader, DataLoader]:
    enc = tok(prompt_texts(96), truncation=True, max_length=32)
    rows = [{"input_ids": i, "attention_mask": m} for i, m in zip(enc["input_ids"], enc["attention_mask"])]
    collate = tf.DataCollatorForLanguageModeling(tok, mlm=False)
    train = DataLoader(rows[:80], batch_size=8, shuffle=True, collate_fn=collate,
                       generator=torch.Generator().manual_seed(0))
    evals = DataLoader(rows[80:], batch_size=8, collate_fn=collate)
    return accelerator.prepare(train, evals)


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "scer-accelerate")
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    base = out.parent / f"{out.name}-base"
    if accelerator.is_main_process:
        build_tiny_model(base)  # the starting checkpoint (a real run loads e.g. "openai-community/gpt2")
    accelerator.wait_for_everyone()
    tok = tf.AutoTokenizer.from_pretrained(base)
    model = tf.AutoModelForCausalLM.from_pretrained(base)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4)
    train, evals = loaders(tok, accelerator)
    model, optimizer = accelerator.prepare(model, optimizer)

    with scer_hf.track_training(model, accelerator=accelerator, output_dir=out, max_steps=2 * len(train),
                                log_every=4, country_iso_code="FRA") as run:
        for _ in range(2):
            model.train()
            with run.epoch():
                for batch in train:
                    loss = model(**batch).loss
                    accelerator.backward(loss)
                    optimizer.step()
                    optimizer.zero_grad()
                    run.step(tokens=batch["attention_mask"].sum(), samples=len(batch["input_ids"]))
            model.eval()
            with run.evaluate(), torch.no_grad():
                for batch in evals:
                    model(**batch)
                    run.step(tokens=batch["attention_mask"].sum(), samples=len(batch["input_ids"]))

    if accelerator.is_main_process:  # rank 0 holds every rank's energy
        accelerator.unwrap_model(model).save_pretrained(out)
        tok.save_pretrained(out)
        report = run.report
        scer_hf.update_card(out, report)
        print(report)
        for r in report["extra"]["distributed"].get("ranks", []):
            print(f"  rank {r['rank']}: {r['energy_j']} J, coverage {r['coverage']['measured_fraction']:.0%}")
        print(f"report: {out / 'scer_report.json'}; card: {out / 'README.md'}; check: scer-hf verify {out}/README.md")
    accelerator.end_training()


if __name__ == "__main__":
    main()
