"""Quality-normalised efficiency on tiny random models (built offline in a few seconds)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from scer_hf.errors import EmptyPromptsError, UnknownTaskError
from scer_hf.publish.verify import verify
from tests.builders import inference_report

torch = pytest.importorskip("torch")
tf = pytest.importorskip("transformers")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def gpt2(tiny_model_dir) -> Path:  # type: ignore[no-untyped-def]
    return tiny_model_dir("gpt2")


@pytest.fixture(scope="module")
def bert(tiny_model_dir) -> Path:  # type: ignore[no-untyped-def]
    return tiny_model_dir("bert")


def test_perplexity_equals_the_models_own_loss(gpt2: Path) -> None:
    from scer_hf.hf.quality import attach_quality, perplexity_parts

    model = tf.AutoModelForCausalLM.from_pretrained(gpt2).eval()
    tok = tf.AutoTokenizer.from_pretrained(gpt2)
    prompts = ["The airline commenced services in August 2000 with two aircraft.",
               "Which is a species of fish? Tope or Rope"]
    nll, counts = perplexity_parts(model, tok, prompts)
    with torch.no_grad():  # transformers' own mean token cross-entropy, per prompt
        losses = [float(model(**tok(p, return_tensors="pt"), labels=tok(p, return_tensors="pt")["input_ids"]).loss)
                  for p in prompts]
    for s, n, loss in zip(nll, counts, losses):
        assert s / n == pytest.approx(loss, rel=1e-4)
    expected = math.exp(sum(nll) / sum(counts))
    rep = attach_quality(inference_report(), model=model, tokenizer=tok, task="text-generation", prompts=prompts)
    q = rep["quality"]
    assert q["value"] == pytest.approx(expected, rel=1e-9)
    assert q["metric"] == "perplexity" and q["higher_is_better"] is False and q["n"] == 2
    assert q["source"].startswith("evaluate")  # the metric module runs through `evaluate`, offline
    # a random model is close to uniform over its vocabulary: perplexity of the order of the vocab size
    assert 0.3 * len(tok) < q["value"] < 3 * len(tok)
    per = rep["co2e_g_per_quality_unit"]
    assert per["value"] == pytest.approx(rep["sci"]["value"] * q["value"])  # SCI / (1/perplexity)
    assert per["unit"] == "gCO2eq per 1 million output tokens at full quality"
    assert verify(rep).ok  # the extra blocks keep the report verifiable


def test_masked_accuracy_from_model_path(bert: Path) -> None:
    from scer_hf.hf.quality import MASK_EVERY, attach_quality, masked_accuracy_parts

    model = tf.AutoModelForMaskedLM.from_pretrained(bert).eval()
    tok = tf.AutoTokenizer.from_pretrained(bert)
    from scer_hf.hf.tiny import prompt_texts

    preds, refs = masked_accuracy_parts(model, tok, prompt_texts(4))
    assert len(preds) == len(refs) > 0
    rep = attach_quality(inference_report(), model=str(bert), task="fill_mask", n=4)
    q = rep["quality"]
    assert q["metric"] == "masked-token accuracy" and q["higher_is_better"] is True
    assert q["value"] == pytest.approx(sum(p == r for p, r in zip(preds, refs)) / len(refs))
    assert q["tokens"] == len(refs) and f"every {MASK_EVERY}th" in q["details"]


def test_bad_inputs_get_typed_errors(gpt2: Path) -> None:
    from scer_hf.hf.quality import attach_quality

    with pytest.raises(UnknownTaskError, match="supported: text-generation, fill-mask"):
        attach_quality(inference_report(), model=str(gpt2), task="text-classification")
    with pytest.raises(EmptyPromptsError):
        attach_quality(inference_report(), model=str(gpt2), task="text-generation", prompts=[])
    # a report path is loaded (was "dictionary update sequence element" ValueError); bad ones are typed errors
    from scer_hf.errors import ReportError

    with pytest.raises(ReportError, match="no report"):
        attach_quality(Path("missing-report.json"), model=str(gpt2), task="text-generation")
    with pytest.raises(ReportError, match="got int"):
        attach_quality(42, model=str(gpt2), task="text-generation")  # type: ignore[arg-type]


def test_report_path_is_accepted(gpt2: Path, tmp_path: Path) -> None:
    from scer_hf.hf.quality import attach_quality

    p = inference_report().save(tmp_path / "scer_report.json")
    r = attach_quality(str(p), model=str(gpt2), task="text-generation", n=2)
    assert r["quality"]["metric"] == "perplexity" and r["quality"]["n"] == 2
