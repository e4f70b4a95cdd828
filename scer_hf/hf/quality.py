"""Quality-normalised efficiency: a task quality metric next to the carbon figures.

:func:`attach_quality` scores the model on the shipped prompt set and returns a new
report with a ``quality`` block and ``co2e_g_per_quality_unit``:

* ``text-generation`` (causal LMs): **perplexity** of the prompts (lower is better);
* ``fill-mask``: **masked-token accuracy**, every 7th token masked (higher is better).

The metric is computed by a Hugging Face ``evaluate`` metric module. ``evaluate.load``
of a Hub metric (``"perplexity"``, ``"accuracy"``) needs the Hub, which scer-hf never
assumes, so the module ships inside scer-hf and is loaded from a local script path;
the model's per-token log-probabilities are computed here with torch. When
``evaluate`` is not installed the same formula runs in plain Python and the
``source`` field says so.

``co2e_g_per_quality_unit`` divides the SCI value by a quality score q in (0, 1]
(the accuracy, or 1/perplexity = the geometric-mean probability the model gives each
true token): the carbon of one *fully correct* functional unit. Lower is better.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

from ..core.report import Report
from ..errors import EmptyPromptsError, ModelLoadError, ReportError, UnknownTaskError

__all__ = ["attach_quality", "perplexity_parts", "masked_accuracy_parts", "QUALITY_TASKS", "MASK_EVERY",
           "QualityDict", "PerQualityDict", "per_quality_unit"]

QUALITY_TASKS = ("text-generation", "fill-mask")
MASK_EVERY = 7  # mask every 7th non-special token (~14%, close to BERT's 15% masking rate)
MAX_TOKENS = 128  # prompts are truncated to keep the score cheap next to the benchmark

# An evaluate metric module (https://huggingface.co/docs/evaluate/creating_and_sharing), loaded from a local file.
_METRIC_SCRIPT = '''
import math
import datasets
import evaluate


class ScerQuality(evaluate.Metric):
    """scer-hf quality: perplexity from per-text (NLL sum, token count), or accuracy."""

    def _info(self):
        return evaluate.MetricInfo(
            description="scer-hf quality metric: perplexity (config 'perplexity') or accuracy (config 'accuracy')",
            citation="", inputs_description="perplexity: predictions=NLL sums (nats), references=token counts; "
            "accuracy: predictions and references are token ids",
            features=datasets.Features({"predictions": datasets.Value("float64"),
                                        "references": datasets.Value("float64")}),
        )

    def _compute(self, predictions, references):
        if self.config_name == "perplexity":
            return {"perplexity": math.exp(sum(predictions) / sum(references))}
        return {"accuracy": sum(float(p == r) for p, r in zip(predictions, references)) / len(predictions)}
'''


def _evaluate_metric(name: str) -> Any | None:
    """The scer-hf metric loaded through ``evaluate`` from a local script, or None (with why)."""
    try:
        import evaluate  # optional (the [hf] extra)
    except ImportError:
        return None
    try:  # evaluate copies the script into its module cache, so the temporary folder can go
        with tempfile.TemporaryDirectory(prefix="scer_hf_metric_") as tmp:
            script = Path(tmp) / "scer_quality" / "scer_quality.py"
            script.parent.mkdir()
            script.write_text(_METRIC_SCRIPT, encoding="utf-8")
            return evaluate.load(str(script), name)
    except (OSError, ImportError, ValueError) as exc:  # offline cache problems: fall back, say so
        return exc


def _compute(name: str, predictions: Sequence[float], references: Sequence[float]) -> tuple[float, str]:
    metric = _evaluate_metric(name)
    if metric is not None and not isinstance(metric, Exception):
        value = metric.compute(predictions=list(predictions), references=list(references))[name]
        return float(value), "evaluate (scer-hf metric module loaded from a local script; no Hub)"
    if name == "perplexity":
        value = math.exp(sum(predictions) / sum(references))
    else:
        value = sum(float(p == r) for p, r in zip(predictions, references, strict=True)) / len(predictions)
    why = "not installed" if metric is None else f"failed to load: {metric}"
    return value, f"scer-hf plain Python (evaluate {why})"


def _device(model: Any) -> Any:
    """Where the model's weights are (inputs must go there, e.g. ``cuda:0``)."""
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError, TypeError):
        return "cpu"


def perplexity_parts(model: Any, tokenizer: Any, prompts: Sequence[str]) -> tuple[list[float], list[int]]:
    """Per prompt: summed negative log-likelihood (nats) of tokens 2..n, and that token count."""
    import torch

    nll, counts = [], []
    device = _device(model)
    with torch.no_grad():
        for text in prompts:
            enc = tokenizer(text, return_tensors="pt", truncation=True, max_length=MAX_TOKENS).to(device)
            ids = enc.input_ids
            if ids.shape[1] < 2:
                continue
            logits = model(input_ids=ids, attention_mask=getattr(enc, "attention_mask", None)).logits
            logp = torch.log_softmax(logits[0, :-1].float(), dim=-1)
            target = ids[0, 1:]
            nll.append(float(-logp.gather(1, target[:, None]).sum()))
            counts.append(int(target.numel()))
    return nll, counts


def masked_accuracy_parts(model: Any, tokenizer: Any, prompts: Sequence[str]) -> tuple[list[int], list[int]]:
    """Predicted and true token ids at every MASK_EVERY-th non-special position."""
    import torch

    if tokenizer.mask_token_id is None:
        raise UnknownTaskError("the tokenizer has no mask token, so fill-mask quality cannot be scored")
    special = set(tokenizer.all_special_ids)
    preds, refs = [], []
    device = _device(model)
    with torch.no_grad():
        for text in prompts:
            enc = tokenizer(text, return_tensors="pt", truncation=True, max_length=MAX_TOKENS).to(device)
            ids = enc.input_ids.clone()
            pos = [i for i, t in enumerate(ids[0].tolist()) if t not in special][MASK_EVERY - 1::MASK_EVERY]
            if not pos:
                continue
            truth = ids[0, pos].tolist()
            ids[0, pos] = tokenizer.mask_token_id
            logits = model(input_ids=ids, attention_mask=getattr(enc, "attention_mask", None)).logits
            preds += logits[0, pos].argmax(-1).tolist()
            refs += truth
    return preds, refs


def _load(model: Any, tokenizer: Any, task: str) -> tuple[Any, Any]:
    if not isinstance(model, (str, os.PathLike)):
        if tokenizer is None:
            raise ModelLoadError("pass tokenizer=... with a model object (or pass the model path instead)")
        return model, tokenizer
    try:
        import transformers as tf
    except ImportError as exc:
        raise ModelLoadError("quality needs transformers and torch: pip install 'scer-hf[hf]'") from exc
    cls = tf.AutoModelForCausalLM if task == "text-generation" else tf.AutoModelForMaskedLM
    try:
        m = cls.from_pretrained(model)
        t = tokenizer if tokenizer is not None else tf.AutoTokenizer.from_pretrained(model)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot load {model!r} for {task} quality: {exc}") from exc
    m.eval()
    return m, t


def _task(task: str) -> str:
    t = task.strip().lower().replace("_", "-")
    if t not in QUALITY_TASKS:
        raise UnknownTaskError(
            f"no quality metric for task {task!r}; supported: {', '.join(QUALITY_TASKS)} "
            "(perplexity and masked-token accuracy need no labels; other tasks would need a labelled set)")
    return t


class QualityDict(TypedDict):
    """The report's ``quality`` block."""

    metric: str
    value: float
    higher_is_better: bool
    n: int
    tokens: int
    score: float
    source: str
    task: str
    prompts: str
    details: str


class PerQualityDict(TypedDict):
    """The report's ``co2e_g_per_quality_unit`` block."""

    value: float | None
    unit: str
    quality_score: float
    note: str


def per_quality_unit(report: Report, score: float, task: str) -> PerQualityDict:
    """The report's SCI (else its CO2e) over the quality *score*: the carbon of one fully correct unit."""
    sci = report.sci
    base, base_unit = (sci["value"], f"gCO2eq per {sci['functional_unit']}") if sci else (report.co2e_g, "gCO2eq")
    what = ("1/perplexity, the geometric-mean probability of each true token" if task == "text-generation"
            else "masked-token accuracy")
    return PerQualityDict(
        value=base / score if base is not None and score > 0 else None,
        unit=f"{base_unit} at full quality", quality_score=score,
        note=f"SCI divided by the quality score q in (0, 1] ({what}): carbon of one fully correct unit; lower is "
             "better")


def _score(m: Any, tok: Any, t: str, prompts: list[str], origin: str) -> QualityDict:
    details = f"truncated to {MAX_TOKENS} tokens" + (f"; every {MASK_EVERY}th token masked" if t == "fill-mask" else "")
    if t == "text-generation":
        nll, counts = perplexity_parts(m, tok, prompts)
        if not counts:
            raise EmptyPromptsError("every prompt tokenised to fewer than 2 tokens; perplexity is undefined")
        value, source = _compute("perplexity", nll, counts)
        return QualityDict(metric="perplexity", value=value, higher_is_better=False, n=len(counts),
                           tokens=sum(counts), score=1.0 / value, source=source, task=t, prompts=origin,
                           details=details)
    preds, refs = masked_accuracy_parts(m, tok, prompts)
    if not refs:
        raise EmptyPromptsError(f"prompts too short: no token to mask (every {MASK_EVERY}th)")
    value, source = _compute("accuracy", preds, refs)
    return QualityDict(metric="masked-token accuracy", value=value, higher_is_better=True, n=len(prompts),
                       tokens=len(refs), score=value, source=source, task=t, prompts=origin, details=details)


def attach_quality(report: Report | Mapping[str, Any] | str | os.PathLike[str], *, model: Any, tokenizer: Any = None,
                   task: str, prompts: Sequence[str] | None = None, n: int = 32) -> Report:
    """A new report with ``quality`` and ``co2e_g_per_quality_unit`` (see the module doc).

    *report*: a Report, its dict, or the path of a report JSON (checked before the model is scored).
    """
    t = _task(task)
    if isinstance(report, (str, os.PathLike)):
        report = Report.load(report)
    elif not isinstance(report, Report):
        if not isinstance(report, Mapping):
            raise ReportError(f"expected a scer_hf.Report, a dict or a path to a report JSON, got "
                              f"{type(report).__name__}")
        report = Report.from_dict(report)
    if prompts is None:
        from .tiny import prompt_texts

        prompts = prompt_texts(n)
        origin = f"first {len(prompts)} prompts of scer_hf/data/prompts/prompts.jsonl"
    else:
        prompts = list(prompts)[:n]
        origin = f"{len(prompts)} prompts given by the caller"
    if not prompts:
        raise EmptyPromptsError("no prompts to score quality on; pass prompts=[...] or leave the default")
    m, tok = _load(model, tokenizer, t)
    q = _score(m, tok, t, list(prompts), origin)
    per = per_quality_unit(report, q["score"], t)
    return Report.from_dict({**report.to_dict(), "quality": q, "co2e_g_per_quality_unit": per})
