"""Overhead of SCERCallback and of transformers' CodeCarbonCallback on ``Trainer.train()``.

    python benchmarks/bench_callback.py [--samples 2048] [--repeats 5]

Tiny GPT-2 (built locally, no Hub) trained on CPU for one epoch over ``--samples``
samples. Each repeat times ``train()`` three ways, in a rotating order so drift and
other load hit all three alike: no measurement callback; with ``SCERCallback`` (its
defaults: meters picked by ``auto()``, report written at train begin and end); with
``transformers.integrations.CodeCarbonCallback`` whose tracker is codecarbon's
``OfflineEmissionsTracker(country_iso_code="FRA")`` (the stock callback would build an
online ``EmissionsTracker``; nothing else differs). Trainer construction and model
loading are outside the timed region, as is codecarbon's tracker construction (the
stock callback does it in ``on_init_end``). Prints per-repeat ratios and the median.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=16)
    ns = ap.parse_args()

    import transformers as tf
    from datasets import Dataset
    from transformers.integrations import CodeCarbonCallback
    from transformers.trainer_callback import PrinterCallback

    from scer_hf import SCERCallback
    from scer_hf._tiny import build_tiny_model, prompt_texts

    tf.logging.set_verbosity_error()
    tf.utils.logging.disable_progress_bar()
    logging.getLogger("codecarbon").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    work = Path(tempfile.mkdtemp(prefix="scer-bench-cb-"))
    model_dir = build_tiny_model(work / "tiny")
    tok = tf.AutoTokenizer.from_pretrained(model_dir)
    texts = prompt_texts()
    texts = (texts * (ns.samples // len(texts) + 1))[: ns.samples]
    ds = Dataset.from_dict(dict(tok(texts, truncation=True, max_length=32)))
    collator = tf.DataCollatorForLanguageModeling(tok, mlm=False)

    def run(kind: str, i: int) -> float:
        out = work / f"{kind}-{i}"
        out.mkdir(parents=True)
        args = tf.TrainingArguments(str(out), use_cpu=True, report_to=[], num_train_epochs=1,
                                    per_device_train_batch_size=ns.batch_size, logging_steps=10,
                                    save_strategy="no", disable_tqdm=True, seed=0)
        callbacks: list = []
        if kind == "scer":
            callbacks = [SCERCallback(country_iso_code="FRA")]
        elif kind == "codecarbon":
            from codecarbon import OfflineEmissionsTracker

            cc = CodeCarbonCallback()
            cc.tracker = OfflineEmissionsTracker(country_iso_code="FRA", output_dir=str(out), log_level="error")
            callbacks = [cc]
        model = tf.AutoModelForCausalLM.from_pretrained(model_dir)
        trainer = tf.Trainer(model=model, args=args, train_dataset=ds, data_collator=collator, callbacks=callbacks)
        trainer.remove_callback(PrinterCallback)  # same for every variant: no console printing in the timing
        t0 = time.perf_counter()
        trainer.train()
        return time.perf_counter() - t0

    run("none", -1)  # warm-up: first-call costs (imports, allocator) hit no variant
    kinds = ["none", "scer", "codecarbon"]
    times: dict[str, list[float]] = {k: [] for k in kinds}
    for i in range(ns.repeats):
        order = kinds[i % 3:] + kinds[: i % 3]
        got = {k: run(k, i) for k in order}
        for k in kinds:
            times[k].append(got[k])
        print(f"repeat {i + 1}: " + "  ".join(f"{k} {got[k]:.3f}s" for k in kinds)
              + f"  scer/none {got['scer'] / got['none']:.3f}x  codecarbon/none {got['codecarbon'] / got['none']:.3f}x",
              flush=True)
    r_scer = [s / n for s, n in zip(times["scer"], times["none"])]
    r_cc = [c / n for c, n in zip(times["codecarbon"], times["none"])]
    print(f"\n{ns.samples} samples, batch {ns.batch_size}, {ns.repeats} repeats, python {sys.version.split()[0]}, "
          f"transformers {tf.__version__}")
    print(f"median train() time: none {statistics.median(times['none']):.3f}s  "
          f"scer {statistics.median(times['scer']):.3f}s  codecarbon {statistics.median(times['codecarbon']):.3f}s")
    print(f"median ratio SCERCallback / none:      {statistics.median(r_scer):.3f}x "
          f"(min {min(r_scer):.3f}, max {max(r_scer):.3f})")
    print(f"median ratio CodeCarbonCallback / none: {statistics.median(r_cc):.3f}x "
          f"(min {min(r_cc):.3f}, max {max(r_cc):.3f})")


if __name__ == "__main__":
    main()
