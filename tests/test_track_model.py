"""scer_hf.track_model on a tiny GPT-2: generate and generate_batch measured, counts exact, outputs identical."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("transformers")

import torch

import scer_hf
from scer_hf.core.meters import ReplayMeter
from scer_hf.errors import UnsupportedPipelineError
from scer_hf.hf.model import TrackedModel

PROMPTS = ["Hello there", "The sky is", "Once upon a time in a land far away"]


@pytest.fixture(scope="module")
def model_tok(gpt2: str) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gpt2)
    tok.padding_side = "left"
    return AutoModelForCausalLM.from_pretrained(gpt2).eval(), tok


def _meter() -> ReplayMeter:
    return ReplayMeter({"gpu:0": [(0.0, 50.0), (0.01, 200.0), (1e6, 200.0)], "cpu:0": [(0.0, 20.0)]})


def test_generate_is_measured_counted_and_unchanged(model_tok: tuple[Any, Any]) -> None:
    model, tok = model_tok
    tm = scer_hf.track_model(model, meters=[_meter()], carbon_intensity_g_per_kwh=100.0)
    assert isinstance(tm, TrackedModel) and tm.config is model.config and tm.model is model
    enc = tok(PROMPTS, return_tensors="pt", padding=True)
    kw = {"max_new_tokens": 6, "min_new_tokens": 6, "do_sample": False, "pad_token_id": tok.eos_token_id}
    with torch.no_grad():
        bare = model.generate(**enc, **kw)
        out = tm.generate(**enc, **kw)
        one = tm.generate(**tok(PROMPTS[0], return_tensors="pt"), **kw)
    assert torch.equal(out, bare)
    assert torch.equal(one, model.generate(**tok(PROMPTS[0], return_tensors="pt"), **kw))
    assert "generate" not in vars(model)  # the hook is gone once no call uses it
    r = tm.report
    gen, pre, dec = (r.phase(n) for n in ("generate", "prefill", "decode"))
    n_in = sum(len(tok(p)["input_ids"]) for p in PROMPTS)
    assert gen["counts"] == {"queries": 4, "input_tokens": n_in + len(tok(PROMPTS[0])["input_ids"]),
                             "output_tokens": 24, "batches": 2,
                             "tokens": n_in + len(tok(PROMPTS[0])["input_ids"]) + 24}
    assert pre["parent"] == dec["parent"] == "generate" and gen["windows"] == 2
    for comp in ("gpu:0", "cpu:0", "total"):
        assert pre["energy_j"][comp] + dec["energy_j"][comp] == pytest.approx(gen["energy_j"][comp], rel=1e-12)
    assert r.model["task"] == "text-generation" and r.model["parameters"] == model.num_parameters()
    assert r["sci"]["functional_unit"] == "1 million output tokens"
    pu = r["extra"]["per_unit"]
    assert pu["queries"] == 4 and pu["j_per_query"] == pytest.approx(r.energy_j / 4)
    assert tm.last_call["generate"].counts["queries"] == 1


def test_a_generate_that_raises_is_a_failed_call(model_tok: tuple[Any, Any]) -> None:
    model, tok = model_tok
    tm = scer_hf.track_model(model, meters=[_meter()])
    with pytest.raises(Exception):  # noqa: B017 - whatever generate raises for a bad argument
        tm.generate(**tok("Hi", return_tensors="pt"), max_new_tokens=-3)
    tm.generate(**tok("Hi", return_tensors="pt"), max_new_tokens=2, do_sample=False, pad_token_id=0)
    c = tm.report.phase("generate")["counts"]
    assert c["failed_calls"] == 1 and c["queries"] == 1 and tm.calls == 2 and "generate" not in vars(model)


def test_track_model_refuses_what_it_cannot_measure(model_tok: tuple[Any, Any]) -> None:
    with pytest.raises(UnsupportedPipelineError, match="generate"):
        scer_hf.track_model(object())
    tm = scer_hf.track_model(model_tok[0], meters=[_meter()])
    with pytest.raises(UnsupportedPipelineError, match="already tracked"):
        scer_hf.track_model(tm)


def cb_config() -> Any:
    from transformers import ContinuousBatchingConfig

    # a small paged cache: on a CPU the default sizes it to the machine's memory (minutes to set up)
    return ContinuousBatchingConfig(num_blocks=16, max_batch_tokens=64, block_size=16)


@pytest.mark.slow
def test_generate_batch_is_measured_counted_and_unchanged(model_tok: tuple[Any, Any]) -> None:
    from transformers import GenerationConfig

    model, tok = model_tok
    ids = [tok(p)["input_ids"] for p in PROMPTS]
    cfg = GenerationConfig(max_new_tokens=5, do_sample=False, eos_token_id=tok.eos_token_id,
                           pad_token_id=tok.eos_token_id)
    kw = {"generation_config": cfg, "continuous_batching_config": cb_config(), "warmup": False}
    bare = model.generate_batch(ids, **kw)
    tm = scer_hf.track_model(model, meters=[_meter()])
    out = tm.generate_batch(ids, record_timestamps=True, **kw)
    assert [o.generated_tokens for o in out.values()] == [o.generated_tokens for o in bare.values()]
    r = tm.report
    p = r.phase("generate_batch")
    n_out = sum(len(o.generated_tokens) for o in out.values())
    assert p["measured"] and p["parent"] is None and p["energy_j"]["total"] > 0
    assert p["counts"] == {"queries": 3, "requests": 3, "failed_requests": 0, "batches": 1,
                           "input_tokens": sum(len(i) for i in ids), "output_tokens": n_out,
                           "tokens": sum(len(i) for i in ids) + n_out}
    reqs = tm.last_requests
    assert [q["input_tokens"] for q in reqs] == [len(i) for i in ids]
    assert all(q["error"] is None and q["latency_s"] > 0 and q["time_to_first_token_s"] > 0 for q in reqs)
    assert r["extra"]["per_unit"]["j_per_1k_output_tokens"] == pytest.approx(r.energy_j / n_out * 1000)
    assert r["sci"]["functional_unit"] == "1 million output tokens"
