"""The whole scer-hf journey, offline, on an embedded tiny model.

    scer-hf demo OUT_DIR

1. build a tiny GPT-2 (random weights, tokenizer trained on the shipped prompts);
2. fine-tune it with ``SCERCallback`` in a ``Trainer`` (train, per-epoch and eval phases);
3. run the standard inference benchmark on it (prefill/decode, sequential stopping);
4. rate both reports against the shipped reference data;
5. write labels (SVG), the model card (README.md with ``co2_eq_emissions`` and the
   ``scer`` block) and self-contained HTML reports into OUT_DIR.

Every figure is measured on this machine (estimated where no energy counter is
readable, and labelled so). Needs ``scer-hf[hf]``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from ..core import fmt as _fmt

if TYPE_CHECKING:
    from ..core.report import Report
    from ..publish.figures import FactDict
    from ..rating.result import PhaseRating

__all__ = ["run_demo", "DEMO_MODEL_ID", "DEMO_OUTPUTS", "DemoSummary", "DemoPart"]


class _DemoPartBase(TypedDict):
    energy_j: float | None
    co2e_g: float | None
    sci: float | None
    sci_unit: str | None
    estimated: bool
    sci_display: dict[str, Any] | None  # scer_hf.core.fmt.sci_display's
    facts: list[FactDict]  # scer_hf.publish.figures.fact_dicts'
    grade: str | None
    stars: int | None
    comparable: bool | None
    indicative: str | None
    not_comparable: list[str]


class DemoPart(_DemoPartBase, total=False):
    """One report of the demo (training or inference): its figures, facts and rating."""

    queries: int | None  # inference: the queries run


class DemoSummary(TypedDict):
    """What :func:`run_demo` returns (and ``scer-hf demo --json`` prints)."""

    out_dir: str
    training: DemoPart
    inference: DemoPart
    files: list[str]

DEMO_MODEL_ID = "scer-hf-demo/tiny-gpt2"  # a name for the reports and card; nothing is pushed
# everything the demo writes into OUT_DIR (folders end with "/"): checked before anything runs
DEMO_OUTPUTS = ("training_report.json", "inference_report.json", "training_rating.json", "inference_rating.json",
                "scer_label.svg", "scer_label_training.svg", "training_report.html", "inference_report.html",
                "model/", "tiny-gpt2-base/", "training/")


def _check_outputs(out: Path, overwrite: bool) -> None:
    """Refuse to run over a user's files: any demo output already in *out* needs ``overwrite``."""
    from ..errors import OutputExistsError

    if overwrite:
        return
    def holds(name: str) -> bool:
        p = out / name
        if name.endswith("/"):
            return p.is_dir() and any(p.iterdir())
        return p.exists() or p.is_symlink()

    there = [name for name in DEMO_OUTPUTS if holds(name)]
    if there:
        raise OutputExistsError(f"{out} already holds {', '.join(there)}, which the demo would replace; pass "
                                "--overwrite (overwrite=True) to replace them, or choose another folder")


def _train(model_dir: Path, out: Path, *, country: str, epochs: int, samples: int, progress: bool) -> Any:
    import datasets
    import transformers as tf

    from .callback import SCERCallback
    from .tiny import prompt_texts

    tok = tf.AutoTokenizer.from_pretrained(model_dir)
    model = tf.AutoModelForCausalLM.from_pretrained(model_dir)
    texts = prompt_texts(samples + 16)
    enc = tok(texts, truncation=True, max_length=64)
    ds = datasets.Dataset.from_dict(dict(enc))
    train_ds, eval_ds = ds.select(range(samples)), ds.select(range(samples, samples + 16))
    args = tf.TrainingArguments(
        output_dir=str(out / "training"), num_train_epochs=epochs, per_device_train_batch_size=8,
        per_device_eval_batch_size=8, eval_strategy="epoch", logging_steps=4, save_strategy="no",
        report_to=[], use_cpu=True, disable_tqdm=True, seed=0, hub_model_id=DEMO_MODEL_ID,
    )
    cb = SCERCallback(country_iso_code=country)
    trainer = tf.Trainer(
        model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds,
        data_collator=tf.DataCollatorForLanguageModeling(tok, mlm=False), callbacks=[cb],
    )
    trainer.remove_callback(tf.trainer_callback.PrinterCallback)  # no log dicts on stdout; the report has them
    trainer.train()
    trainer.save_model(str(out / "model"))
    tok.save_pretrained(out / "model")
    return cb.report


def run_demo(
    out_dir: str | os.PathLike[str], *, country: str = "FRA", epochs: int = 2, samples: int = 64,
    queries: int = 40, progress: bool = True, overwrite: bool = False,
) -> DemoSummary:
    """Run the journey into *out_dir*; return a summary with every file written.

    Any file or folder of :data:`DEMO_OUTPUTS` already in *out_dir* raises
    :class:`~scer_hf.errors.OutputExistsError` before anything runs, unless ``overwrite=True``."""
    from .. import rate
    from .._io import atomic_write_text
    from ..publish.card import update_card
    from ..publish.figures import fact_dicts
    from ..publish.html import write_html_report
    from ..publish.label import save_label
    from .benchmark import benchmark
    from .tiny import build_tiny_model

    def say(msg: str) -> None:
        if progress:
            print(f"[scer-hf demo] {msg}", flush=True)

    from ..core.carbon import carbon_intensity

    carbon_intensity(country)  # an unknown country fails now, not after training
    out = Path(out_dir)
    _check_outputs(out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    say("1/5 building a tiny GPT-2 from a config (random weights, no download)")
    base = build_tiny_model(out / "tiny-gpt2-base", "gpt2")
    say(f"2/5 training it for {epochs} epoch(s) with SCERCallback")

    training = _train(base, out, country=country, epochs=epochs, samples=samples, progress=progress)
    training.save(out / "training_report.json", overwrite=True)

    say("3/5 running the standard inference benchmark (AI Energy Score setting)")
    inference = benchmark(out / "model", task="text-generation", setting="aienergyscore", queries=queries,
                          country_iso_code=country, progress=progress, model_id=DEMO_MODEL_ID)
    inference.save(out / "inference_report.json", overwrite=True)

    say("4/5 rating both reports against the shipped reference data")
    r_train, r_inf = rate(training), rate(inference)
    for name, r in (("training", r_train), ("inference", r_inf)):
        atomic_write_text(out / f"{name}_rating.json", json.dumps(r.to_dict(), indent=2) + "\n")

    say("5/5 writing labels, the model card and HTML reports")
    # overwrite=True: _check_outputs refused above unless the user asked to replace these files
    save_label(out / "scer_label.svg", inference, r_inf, overwrite=True)
    save_label(out / "scer_label_training.svg", training, r_train, overwrite=True)
    # each card section shows its own label: the inference one (scer_label.svg) and the training one
    shutil.copy(out / "scer_label.svg", out / "model" / "scer_label.svg")
    shutil.copy(out / "scer_label_training.svg", out / "model" / "scer_label_training.svg")
    # the manifests travel with the card (as SCERCallback does on push), so `scer-hf verify model/README.md` works
    training.save(out / "model" / "scer_report.json", overwrite=True)
    inference.save(out / "model" / "scer_report.inference.json", overwrite=True)
    update_card(out / "model", training, rating=r_train, overwrite=True)
    update_card(out / "model", inference, rating=r_inf, overwrite=True)
    write_html_report(training, out / "training_report.html", rating=r_train, overwrite=True)
    write_html_report(inference, out / "inference_report.html", rating=r_inf, overwrite=True)

    inf = _part(inference, r_inf.inference, fact_dicts(inference.to_dict()))
    inf["queries"] = (inference["benchmark"] or {}).get("queries_run")
    return DemoSummary(
        out_dir=str(out), training=_part(training, r_train.training, fact_dicts(training.to_dict())), inference=inf,
        files=sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()
                     and not str(p.relative_to(out)).startswith(("tiny-gpt2-base", "training/"))),
    )


def _part(r: Report, pr: PhaseRating, facts: list[FactDict]) -> DemoPart:
    """One report's figures and its rating: grade, stars, comparability and the indicative position (a rating that
    is not comparable has no grade)."""
    sci = r.sci
    return DemoPart(energy_j=r.energy_j, co2e_g=r.co2e_g, sci=sci["value"] if sci else None,
                    sci_unit=sci["unit"] if sci else None, estimated=r.estimated, sci_display=_fmt.sci_display(sci),
                    facts=facts, grade=pr.grade, stars=pr.stars, comparable=pr.comparable,
                    indicative=pr.indicative_text(), not_comparable=pr.not_comparable_reasons())
