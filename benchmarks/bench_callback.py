"""Overhead of SCERCallback and of transformers' CodeCarbonCallback on ``Trainer.train()``.

    python benchmarks/bench_callback.py [--samples 2048] [--repeats 5]

Tiny GPT-2 (built locally, no Hub) trained on CPU for one epoch over ``--samples``
samples, one torch thread by default (steadier on a shared machine). Each repeat
times ``train()`` -- wall time, and this process's CPU time, which includes
codecarbon's thread -- three ways, in a rotating order so drift and other load hit
all three alike: no measurement callback; with ``SCERCallback`` (its defaults:
meters picked by ``auto()``, report written at train begin and end); with
``transformers.integrations.CodeCarbonCallback`` whose tracker is codecarbon's
``OfflineEmissionsTracker(country_iso_code="FRA")`` (the stock callback would build an
online ``EmissionsTracker``; nothing else differs). Trainer construction and model
loading are outside the timed region, as is codecarbon's tracker construction (the
stock callback does it in ``on_init_end``; SCERCallback picks its meters there too).
Prints each repeat, the median of the per-repeat ratios (noisy on a shared machine),
and the time spent inside SCERCallback's own hooks (steady: independent of other load).
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
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: steadier on a shared machine)")
    ns = ap.parse_args()

    import torch

    torch.set_num_threads(ns.threads)

    import transformers as tf
    from datasets import Dataset
    from transformers.integrations import CodeCarbonCallback
    from transformers.trainer_callback import PrinterCallback

    from scer_hf import SCERCallback
    from scer_hf.hf.tiny import build_tiny_model, prompt_texts

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

    def run(kind: str, i: int) -> tuple[float, float]:
        out = work / f"{kind}-{i}"
        out.mkdir(parents=True)
        args = tf.TrainingArguments(str(out), use_cpu=True, report_to=[], num_train_epochs=1,
                                    per_device_train_batch_size=ns.batch_size, logging_steps=10,
                                    save_strategy="no", disable_tqdm=True, seed=0)
        callbacks: list = []
        if kind == "scer":
            callbacks = [TimedSCER(country_iso_code="FRA")]
        elif kind == "codecarbon":
            from codecarbon import OfflineEmissionsTracker

            cc = CodeCarbonCallback()
            cc.tracker = OfflineEmissionsTracker(country_iso_code="FRA", output_dir=str(out), log_level="error")
            callbacks = [cc]
        model = tf.AutoModelForCausalLM.from_pretrained(model_dir)
        trainer = tf.Trainer(model=model, args=args, train_dataset=ds, data_collator=collator, callbacks=callbacks)
        trainer.remove_callback(PrinterCallback)  # same for every variant: no console printing in the timing
        c0, t0 = time.process_time(), time.perf_counter()
        trainer.train()
        elapsed = time.perf_counter() - t0, time.process_time() - c0
        if kind == "scer":
            hook_s.append((callbacks[0].hook_s, elapsed[0]))
            init_s.append(callbacks[0].init_s)
        return elapsed

    class TimedSCER(SCERCallback):
        """SCERCallback that adds up the time spent inside its own hooks (this subclass only)."""

        hook_s = 0.0  # inside train()
        init_s = 0.0  # on_init_end: meters picked while the Trainer is built, outside train()

    def timed(name: str):  # type: ignore[no-untyped-def]
        base = getattr(SCERCallback, name)
        attr = "init_s" if name == "on_init_end" else "hook_s"

        def hook(self, *a, **k):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                return base(self, *a, **k)
            finally:
                setattr(self, attr, getattr(self, attr) + time.perf_counter() - t)

        return hook

    for name in [n for n in dir(tf.TrainerCallback) if n.startswith("on_")]:
        setattr(TimedSCER, name, timed(name))
    hook_s: list[tuple[float, float]] = []
    init_s: list[float] = []

    run("none", -1)  # warm-up: first-call costs (imports, allocator) hit no variant
    kinds = ["none", "scer", "codecarbon"]
    wall: dict[str, list[float]] = {k: [] for k in kinds}
    cpu: dict[str, list[float]] = {k: [] for k in kinds}
    for i in range(ns.repeats):
        order = kinds[i % 3:] + kinds[: i % 3]
        got = {k: run(k, i) for k in order}
        for k in kinds:
            wall[k].append(got[k][0])
            cpu[k].append(got[k][1])
        print(f"repeat {i + 1}: wall " + "  ".join(f"{k} {got[k][0]:.3f}s" for k in kinds)
              + " | cpu " + "  ".join(f"{k} {got[k][1]:.3f}s" for k in kinds), flush=True)

    def ratios(t: dict[str, list[float]], k: str) -> list[float]:
        return [a / b for a, b in zip(t[k], t["none"])]

    print(f"\n{ns.samples} samples, batch {ns.batch_size}, {ns.repeats} repeats, {ns.threads} torch thread(s), "
          f"python {sys.version.split()[0]}, transformers {tf.__version__}")
    print("median train() wall time: " + "  ".join(f"{k} {statistics.median(wall[k]):.3f}s" for k in kinds))
    for label, t in (("wall time", wall), ("process CPU time", cpu)):
        for k, name in (("scer", "SCERCallback"), ("codecarbon", "CodeCarbonCallback")):
            r = ratios(t, k)
            print(f"{label:>16}: {name:<18} / none  median {statistics.median(r):.3f}x  "
                  f"(min {min(r):.3f}, max {max(r):.3f})")
    share = [h / t for h, t in hook_s]
    print(f"time inside SCERCallback's hooks: median {statistics.median(h for h, _ in hook_s) * 1e3:.1f} ms a run, "
          f"{statistics.median(share) * 100:.2f} % of train() (max {max(share) * 100:.2f} %); the Trainer's "
          "non-padding token count it enables is not included")
    print(f"meter setup in on_init_end (Trainer construction, outside train()): median "
          f"{statistics.median(init_s) * 1e3:.1f} ms")

if __name__ == "__main__":
    main()
