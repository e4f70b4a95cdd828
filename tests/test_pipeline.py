"""track_pipeline: outputs unchanged, prefill/decode split, token counts, per-unit figures."""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("transformers")

import torch
from transformers import pipeline

import scer_hf
from scer_hf.errors import UnsupportedPipelineError
from scer_hf.core.meters import ReplayMeter
from scer_hf.hf.pipeline import Text2TextPipeline, TrackedPipeline
from scer_hf.core.tracker import MeasurementWarning
from tests.builders import const_gpu_meter

GREEDY = {"max_new_tokens": 8, "do_sample": False}
PROMPTS = ["Hello there", "The sky is", "Write a poem about the sea", "When did Virgin Australia start operating?"]


class Schedule:
    """A meter clock that returns the given times, one per read."""

    def __init__(self, times):
        self.times = list(times)

    def __call__(self):
        return self.times.pop(0)


def varying_meter():
    # real clock, power varying over time: a sum that holds only if edges are shared
    return ReplayMeter({"gpu:0": [(0.0, 50.0), (0.01, 300.0), (0.02, 20.0), (0.05, 400.0), (1000.0, 10.0)],
                        "cpu:0": [(0.0, 35.0)]})


@pytest.fixture(scope="module")
def t5(tiny_model_dir):
    path = tiny_model_dir("t5")
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    return AutoModelForSeq2SeqLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


@pytest.fixture(scope="module")
def bare(gpt2):
    return pipeline("text-generation", model=gpt2)


def tracked_gpt2(gpt2, meter=None, **kw):
    return scer_hf.track_pipeline(pipeline("text-generation", model=gpt2), meters=[meter or const_gpu_meter()], **kw)


def test_outputs_identical_to_bare_pipeline(gpt2, bare):
    tp = tracked_gpt2(gpt2)
    assert tp(PROMPTS, **GREEDY) == bare(PROMPTS, **GREEDY)
    assert tp("Hello there", **GREEDY) == bare("Hello there", **GREEDY)
    assert tp(PROMPTS, batch_size=2, **GREEDY) == bare(PROMPTS, batch_size=2, **GREEDY)
    # the model's generate is restored after each call
    assert "generate" not in vars(tp.model)


def test_user_logits_processors_are_kept(gpt2, bare):
    from transformers import LogitsProcessorList, NoBadWordsLogitsProcessor

    first = bare("The sky is", max_new_tokens=1, do_sample=False, return_full_text=False)[0]["generated_text"]
    banned = bare.tokenizer(first, add_special_tokens=False)["input_ids"][:1]

    def kw():
        return {**GREEDY, "logits_processor": LogitsProcessorList([NoBadWordsLogitsProcessor([banned])])}

    tp = tracked_gpt2(gpt2)
    out = tp("The sky is", **kw())
    assert out == bare("The sky is", **kw()) and out != bare("The sky is", **GREEDY)
    assert tp.last_call["prefill"].duration_s < tp.last_call["generate"].duration_s


def test_attribute_passthrough(gpt2):
    tp = tracked_gpt2(gpt2)
    assert isinstance(tp, TrackedPipeline)
    assert tp.task == "text-generation"
    assert tp.tokenizer is tp.pipeline.tokenizer and tp.model is tp.pipeline.model
    with pytest.raises(AttributeError):
        tp.no_such_attribute  # noqa: B018


def test_prefill_plus_decode_equals_generate(gpt2):
    tp = tracked_gpt2(gpt2, varying_meter())
    tp(PROMPTS, batch_size=2, **GREEDY)
    tp(PROMPTS[:1], **GREEDY)
    gen, pre, dec = (tp.report.phase(n) for n in ("generate", "prefill", "decode"))
    assert pre["parent"] == dec["parent"] == "generate" and gen["parent"] is None
    for comp in ("gpu:0", "cpu:0", "total"):
        assert pre["energy_j"][comp] > 0 and dec["energy_j"][comp] > 0
        assert pre["energy_j"][comp] + dec["energy_j"][comp] == pytest.approx(gen["energy_j"][comp], rel=1e-12)
    assert pre["duration_s"] + dec["duration_s"] == pytest.approx(gen["duration_s"], rel=1e-9)
    # totals count the top-level phase only
    assert tp.report.energy_j == pytest.approx(gen["energy_j"]["total"])


def test_replayed_trace_gives_expected_split(gpt2, bare):
    # 100 W until t=10 s, 20 W from t=10.001 s; reads: origin, call start (t=0), first logits (t=10), end (t=15)
    meter = ReplayMeter({"gpu:0": [(0.0, 100.0), (10.0, 100.0), (10.001, 20.0), (100.0, 20.0)]},
                        clock=Schedule([0.0, 0.0, 10.0, 15.0]))
    tp = tracked_gpt2(gpt2, meter)
    prompt = "Write a poem about the sea"
    out = tp(prompt, max_new_tokens=8, min_new_tokens=8, do_sample=False)
    assert out == bare(prompt, max_new_tokens=8, min_new_tokens=8, do_sample=False)
    r = tp.report
    assert r.phase("prefill")["energy_j"]["gpu:0"] == pytest.approx(1000.0)
    decode_j = 0.5 * (100.0 + 20.0) * 0.001 + 20.0 * 4.999  # the ramp, then 20 W
    assert r.phase("decode")["energy_j"]["gpu:0"] == pytest.approx(decode_j)
    assert r.phase("generate")["energy_j"]["gpu:0"] == pytest.approx(1000.0 + decode_j)
    n_in = len(tp.tokenizer(prompt)["input_ids"])
    assert r.phase("generate")["counts"] == {"queries": 1, "input_tokens": n_in, "output_tokens": 8,
                                             "tokens": n_in + 8, "batches": 1}
    assert r.phase("prefill")["counts"] == {"queries": 1, "input_tokens": n_in}
    assert r.phase("decode")["counts"] == {"output_tokens": 8}
    pu = r["extra"]["per_unit"]
    total = 1000.0 + decode_j
    assert pu["j_per_query"] == pytest.approx(total)
    assert pu["wh_per_1k_queries"] == pytest.approx(total / 3600 * 1000)
    assert pu["gpu_wh_per_1k_queries"] == pytest.approx(total / 3600 * 1000)
    assert pu["j_per_1k_output_tokens"] == pytest.approx(total / 8 * 1000)
    assert pu["g_per_1k_output_tokens"] == pytest.approx(r.co2e_g / 8 * 1000)
    assert r["sci"]["functional_unit"] == "1 million output tokens" and r["sci"]["r"] == pytest.approx(8e-6)
    assert [a["functional_unit"] for a in r["sci_alternatives"]] == ["1 million output tokens", "1,000 queries"]


def test_output_tokens_are_tokens_actually_generated(gpt2):
    tp = tracked_gpt2(gpt2)
    model, tok = tp.model, tp.tokenizer
    prompt = "The sky is"
    ids = tok(prompt, return_tensors="pt")
    first = int(model.generate(**ids, max_new_tokens=1, do_sample=False)[0, -1])
    # that first token as EOS: generation stops after one new token
    tp(prompt, max_new_tokens=8, do_sample=False, eos_token_id=first)
    assert tp.last_call["generate"].counts["output_tokens"] == 1
    # batch of prompts with padding: new tokens counted per row, input tokens without padding
    tp.reset()
    tp(PROMPTS, batch_size=4, max_new_tokens=6, min_new_tokens=6, do_sample=False)
    c = tp.report.phase("generate")["counts"]
    assert c["queries"] == 4 and c["batches"] == 1 and c["output_tokens"] == 24
    assert c["input_tokens"] == sum(len(tok(p)["input_ids"]) for p in PROMPTS)


def test_report_is_cumulative(gpt2):
    tp = tracked_gpt2(gpt2)
    tp(PROMPTS[:2], **GREEDY)
    e1 = tp.report.energy_j
    tp(PROMPTS[2], **GREEDY)
    r = tp.report
    assert r.phase("generate")["counts"]["queries"] == 3 and r.phase("generate")["windows"] == 2
    assert r.energy_j > e1 and r["extra"]["pipeline"]["calls"] == 2
    assert r.boundary == "inference" and r.model["task"] == "text-generation"


def test_totals_equal_the_sum_of_calls(gpt2):
    tp = tracked_gpt2(gpt2, varying_meter())
    tp.flush_every = 2  # merge into the totals every 2 calls (256 by default)
    per_call = []
    for p in PROMPTS + PROMPTS[:1]:
        tp(p, **GREEDY)
        per_call.append(tp.last_call)
    r = tp.report
    for name in ("generate", "prefill", "decode"):
        assert r.phase(name)["energy_j"]["total"] == pytest.approx(sum(c[name].total_energy_j for c in per_call))
        assert r.phase(name)["windows"] == 5
    assert r.phase("generate")["counts"]["output_tokens"] == sum(c["decode"].counts["output_tokens"] for c in per_call)


def test_streamed_inputs(gpt2, bare):
    tp = tracked_gpt2(gpt2)
    out = tp((p for p in PROMPTS), batch_size=2, **GREEDY)
    assert tp.calls == 0  # nothing measured until the stream is consumed
    assert list(out) == list(bare((p for p in PROMPTS), batch_size=2, **GREEDY))
    assert tp.calls == 1
    c = tp.report.phase("generate")["counts"]
    assert c["queries"] == 4 and c["batches"] == 2


def test_dataset_input(gpt2, bare):
    import datasets
    from transformers.pipelines.pt_utils import KeyDataset

    ds = KeyDataset(datasets.Dataset.from_dict({"text": PROMPTS[:3]}), "text")
    tp = tracked_gpt2(gpt2)
    assert list(tp(ds, **GREEDY)) == list(bare(ds, **GREEDY))
    assert tp.report.phase("generate")["counts"]["queries"] == 3


def test_meter_fault_marks_unmeasured_and_inference_continues(gpt2, bare):
    meter = const_gpu_meter()
    tp = tracked_gpt2(gpt2, meter)
    meter.fail_next = RuntimeError("driver went away")
    with pytest.warns(MeasurementWarning):
        out = tp("Hello there", **GREEDY)
    assert out == bare("Hello there", **GREEDY)
    assert tp.report.phase("generate")["measured"] is False
    tp("Hello there", **GREEDY)  # the next call is measured again
    assert tp.last_call["generate"].measured


def test_errors_propagate_and_leave_the_wrapper_usable(gpt2, bare):
    tp = tracked_gpt2(gpt2)
    assert tp.report.phases == [] and tp.report["sci"] is None  # no call yet
    with pytest.raises(ValueError):
        tp("Hello there", max_new_tokens=-1)
    assert "generate" not in vars(tp.model) and tp.tracker.active == ()
    assert tp("Hello there", **GREEDY) == bare("Hello there", **GREEDY)
    assert tp.calls == 2 and tp.last_call["generate"].counts["queries"] == 1


def test_a_call_while_a_stream_is_open_is_measured_too(gpt2):
    tp = tracked_gpt2(gpt2)
    stream = tp((p for p in PROMPTS[:2]), **GREEDY)
    next(stream)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MeasurementWarning)
        tp("Hello", **GREEDY)  # in flight at the same time as the stream: both measured, energy shared
    list(stream)
    assert tp.calls == 2 and tp.tracker.active == ()
    assert tp.report.phase("generate")["counts"]["queries"] == 3 and tp.report.phase("generate")["measured"]


def test_nested_call_runs_unmeasured(gpt2):
    from transformers import LogitsProcessor, LogitsProcessorList

    tp = tracked_gpt2(gpt2)
    inner = []

    class Nested(LogitsProcessor):  # calls the same tracked pipeline from inside its own call
        def __call__(self, input_ids, scores):
            if not inner:
                inner.append(tp("Hi", max_new_tokens=2, do_sample=False))
            return scores

    with pytest.warns(MeasurementWarning, match="nested"):
        tp("Hello", logits_processor=LogitsProcessorList([Nested()]), **GREEDY)
    assert tp.calls == 1 and inner and tp.last_call["generate"].counts["queries"] == 1


def test_carbon_and_embodied(gpt2):
    tp = tracked_gpt2(gpt2, carbon_intensity_g_per_kwh=100.0, pue=1.5, hardware="NVIDIA H100 SXM5 80GB (1 of 8 on HGX H100)")
    tp("Hello", **GREEDY)
    r = tp.report
    assert r.co2e_g == pytest.approx(r.energy_j / 3.6e6 * 1.5 * 100.0)
    emb = r["embodied"]
    assert emb["included"] and emb["time_reserved_s"] == pytest.approx(r.phase("generate")["duration_s"])
    lifetime_s = emb["lifetime_years"] * 365.25 * 86400
    assert r.embodied_g == pytest.approx(emb["te_kgco2e"] * 1000 * emb["time_reserved_s"] / lifetime_s)


def test_rejects_non_pipeline(gpt2):
    with pytest.raises(UnsupportedPipelineError, match="transformers pipeline"):
        scer_hf.track_pipeline(object())
    tp = tracked_gpt2(gpt2)
    with pytest.raises(UnsupportedPipelineError, match="already tracked"):
        scer_hf.track_pipeline(tp)


# --- encoder-decoder --------------------------------------------------------------------
def test_t5_text2text_matches_generate_and_splits(t5):
    model, tok = t5
    texts = ["Summarize: the sky is blue today", "Translate this", "A third, much longer prompt about clouds"]
    bare_t5 = Text2TextPipeline(model, tok)
    expected = []
    for t in texts:
        ids = tok(t, return_tensors="pt")
        with torch.no_grad():
            seq = model.generate(**ids, max_new_tokens=6, min_new_tokens=6, do_sample=False)
        expected.append({"generated_text": tok.decode(seq[0], skip_special_tokens=True)})
    kw = {"max_new_tokens": 6, "min_new_tokens": 6, "do_sample": False}
    assert bare_t5(texts, **kw) == expected
    assert bare_t5(texts[0], **kw) == [expected[0]]
    tp = scer_hf.track_pipeline(Text2TextPipeline(model, tok), meters=[varying_meter()])
    assert tp(texts, **kw) == expected
    assert list(tp(iter(texts), batch_size=2, **kw)) == expected
    r = tp.report
    gen, pre, dec = (r.phase(n) for n in ("generate", "prefill", "decode"))
    assert pre["energy_j"]["total"] + dec["energy_j"]["total"] == pytest.approx(gen["energy_j"]["total"], rel=1e-12)
    assert gen["counts"]["queries"] == 6 and gen["counts"]["output_tokens"] == 36
    assert gen["counts"]["input_tokens"] == 2 * sum(len(tok(t)["input_ids"]) for t in texts)
    assert r.model["task"] == "text2text-generation"


# --- other tasks --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bert_paths(tiny_model_dir):
    return str(tiny_model_dir("bert")), str(tiny_model_dir("bert-classifier"))


@pytest.mark.parametrize("task", ["fill-mask", "text-classification"])
def test_forward_tasks(bert_paths, task):
    path = bert_paths[0] if task == "fill-mask" else bert_paths[1]
    bare_p = pipeline(task, model=path)
    mask = bare_p.tokenizer.mask_token
    texts = [f"The sky is {mask} today", f"I like {mask}", f"{mask} is here", f"Hello {mask}"]
    tp = scer_hf.track_pipeline(pipeline(task, model=path), meters=[const_gpu_meter()])
    forwards = []
    hook = tp.model.register_forward_hook(lambda *a: forwards.append(1))
    try:
        assert tp(texts, batch_size=2) == bare_p(texts, batch_size=2)
    finally:
        hook.remove()
    assert len(forwards) == 2  # batch_size honoured: 4 inputs in 2 forward passes
    assert tp(texts[0]) == bare_p(texts[0])
    r = tp.report
    assert [p["name"] for p in r.phases] == ["forward"]
    assert r.phase("forward")["counts"] == {"queries": 5} and r.phase("forward")["windows"] == 2
    assert r["sci"]["functional_unit"] == "1,000 queries"
    assert r["extra"]["per_unit"]["j_per_1k_output_tokens"] is None
    out = list(tp(t for t in texts[:3]))
    assert len(out) == 3 and tp.report.phase("forward")["counts"]["queries"] == 8


def test_warns_only_once_per_fault(gpt2):
    meter = const_gpu_meter()
    tp = tracked_gpt2(gpt2, meter)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for _ in range(2):
            meter.fail_next = RuntimeError("boom")
            tp("Hi", **GREEDY)
    assert sum(issubclass(x.category, MeasurementWarning) for x in w) == 1


class _FakeNvml:
    """pynvml's counter functions for 4 GPUs (mJ); the one boundary that cannot exist here."""

    def __init__(self) -> None:
        self.energy_mj = [0.0, 0.0, 0.0, 0.0]

    def nvmlInit(self) -> None: ...
    def nvmlShutdown(self) -> None: ...
    def nvmlDeviceGetCount(self) -> int:
        return 4

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetName(self, h: int) -> bytes:
        return b"NVIDIA H100 80GB HBM3"

    def nvmlDeviceGetTotalEnergyConsumption(self, h: int) -> float:
        return self.energy_mj[h]


class _DevicePipe:
    """A forward pipeline on *device*; each call spends 5 J on NVML GPU 3 while GPU 2 (idle) draws 7 J."""

    def __init__(self, nv: _FakeNvml, device: str, device_map: dict | None = None) -> None:
        self.nv, self.device = nv, torch.device(device)
        self.model = type("M", (), {"hf_device_map": device_map})()

    def __call__(self, x: str) -> str:
        self.nv.energy_mj[3] += 5000.0
        self.nv.energy_mj[2] += 7000.0
        return x


def test_default_meters_take_only_the_pipelines_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    nv = _FakeNvml()
    monkeypatch.setattr("scer_hf.core.meters.nvml._import_pynvml", lambda: nv)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")  # cuda:1 is NVML GPU 3
    tp = scer_hf.track_pipeline(_DevicePipe(nv, "cuda:1"))
    tp("hello")
    gpu = {k: v for k, v in tp.report.phase("forward")["energy_j"].items() if k.startswith("gpu")}
    assert gpu == {"gpu:3": pytest.approx(5.0)}  # not 5 + 7 J: visible GPU 2 is not the pipeline's
    tp.close()
    cpu = scer_hf.track_pipeline(_DevicePipe(nv, "cpu"))  # a CPU pipeline meters no GPU
    assert not any(c.startswith("gpu") for m in cpu.tracker.meters for c in m.components)
    assert "CPU" in cpu.tracker.choices["gpu"]
    cpu.close()
    sharded = scer_hf.track_pipeline(_DevicePipe(nv, "cuda:0", {"a": 0, "b": 1}))  # every visible GPU
    assert {c for m in sharded.tracker.meters for c in m.components if c.startswith("gpu")} == {"gpu:2", "gpu:3"}
    sharded.close()
