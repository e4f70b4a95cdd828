"""The benchmark protocol: sequential stopping, settings recorded, prompts, offline loading, CLI."""

from __future__ import annotations

import importlib.util
import json
import math
import random

import pytest

pytest.importorskip("transformers")

from click.testing import CliRunner

import scer_hf
from scer_hf.hf.benchmark import PROTOCOL_VERSION, load_pipeline, sequential_ci, supported_tasks
from scer_hf.cli import cli
from scer_hf.errors import (
    BenchmarkSettingsError,
    CarbonIntensityError,
    UnknownCountryError,
    EmptyPromptsError,
    ModelIdError,
    ModelLoadError,
    UnknownTaskError,
)
from scer_hf.core.meters import ReplayMeter
from scer_hf.hf.pipeline import Text2TextPipeline
from scer_hf.hf.prompts import load_prompts
from scer_hf.core.report import Report

FAST = {"warmup": 1, "progress": False}


class StepClock:
    """Advances *step* seconds on every read: each query (3 meter reads) spans 2 steps."""

    def __init__(self, step: float = 1.0) -> None:
        self.t, self.step = 0.0, step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


@pytest.fixture(scope="module")
def gpt2_pipe(gpt2):
    return load_pipeline(gpt2)


@pytest.fixture(scope="module")
def t5(tiny_model_dir):
    return str(tiny_model_dir("t5"))


@pytest.fixture(scope="module")
def bert(tiny_model_dir):
    return str(tiny_model_dir("bert"))


def test_stops_early_on_a_stable_trace(gpt2_pipe):
    meter = ReplayMeter({"gpu:0": [(0.0, 100.0)]}, clock=StepClock(0.5))
    r = scer_hf.benchmark(gpt2_pipe, queries=50, min_queries=5, meters=[meter], **FAST)
    b = r["benchmark"]
    assert b["stopped_by"] == "ci" and b["queries_run"] == 5
    assert b["ci"]["mean_j_per_query"] == pytest.approx(100.0)  # 100 W x 2 steps of 0.5 s
    assert b["ci"]["rel_half_width"] <= 0.05
    assert r.phase("generate")["counts"]["queries"] == 5


def test_runs_to_the_cap_on_a_noisy_trace(gpt2_pipe):
    rng = random.Random(7)
    trace = [(float(t), rng.lognormvariate(4.0, 1.5)) for t in range(400)]
    meter = ReplayMeter({"gpu:0": trace}, clock=StepClock(1.0))
    r = scer_hf.benchmark(gpt2_pipe, queries=25, min_queries=5, meters=[meter], **FAST)
    b = r["benchmark"]
    assert b["stopped_by"] == "cap" and b["queries_run"] == 25 and b["queries_measured"] == 25
    assert b["ci"]["rel_half_width"] > 0.05
    # the interval reported is the one of the measured per-query energies
    assert b["ci"]["mean_j_per_query"] * 25 == pytest.approx(r.phase("generate")["energy_j"]["total"])


def test_report_records_the_protocol(gpt2):
    meter = ReplayMeter({"gpu:0": [(0.0, 300.0)], "cpu:0": [(0.0, 50.0)]}, clock=StepClock(0.01))
    r = scer_hf.benchmark(gpt2, queries=6, min_queries=3, meters=[meter], country_iso_code="FRA", **FAST)
    b = r["benchmark"]
    assert b["protocol"] == PROTOCOL_VERSION and b["setting"] == "aienergyscore"
    assert b["task"] == "text-generation" and b["max_new_tokens"] == 10 and b["batch_size"] == 1
    assert b["warmup"] == 1 and b["ci"]["confidence"] == 0.95
    assert b["device"] == "cpu" and b["hardware"].startswith("CPU: ")
    assert b["prompts"]["license"] == "CC BY-SA 3.0" and b["prompts"]["n"] == 1000
    assert "dolly" in b["prompts"]["source"]
    gen = r.phase("generate")["counts"]
    assert gen["output_tokens"] == 10 * b["queries_run"]  # min_new_tokens = max_new_tokens = 10
    assert {p["name"] for p in r.phases} == {"generate", "prefill", "decode"}
    assert r.carbon.country_iso_code == "FRA" and r.model["id"] == gpt2
    pu = r["extra"]["per_unit"]
    assert pu["wh_per_1k_queries"] == pytest.approx(r.energy_j / b["queries_run"] / 3.6)
    assert pu["gpu_wh_per_1k_queries"] == pytest.approx(r.phase("generate")["energy_j"]["gpu:0"]
                                                        / b["queries_run"] / 3.6)
    # round-trips as a report file
    assert Report.from_dict(r.to_dict()) == r


def test_batch_size_sends_n_prompts_per_call_and_is_rated_only_at_1(gpt2_pipe):
    meter = ReplayMeter({"gpu:0": [(0.0, 100.0)]}, clock=StepClock(0.5))
    r = scer_hf.benchmark(gpt2_pipe, batch_size=4, queries=20, min_queries=3, meters=[meter], **FAST)
    b = r["benchmark"]
    assert b["batch_size"] == 4 and b["stopped_by"] == "ci" and b["calls_run"] == 3 and b["queries_run"] == 12
    gen = r.phase("generate")["counts"]
    assert gen["queries"] == 12 and gen["batches"] == 3 and gen["output_tokens"] == 12 * 10
    # one measurement per call: 2 steps of 0.5 s at 100 W for 4 queries
    assert b["ci"]["mean_j_per_query"] == pytest.approx(100.0 / 4)
    rating = scer_hf.rate(r)
    assert any("batch size 4" in n for n in rating.inference.notes) and rating.inference.comparable is False
    with pytest.raises(BenchmarkSettingsError, match="batch_size"):
        scer_hf.benchmark(gpt2_pipe, batch_size=0, meters=[meter], **FAST)
    one = scer_hf.benchmark(gpt2_pipe, queries=3, min_queries=3, meters=[meter], **FAST)
    assert one["benchmark"]["batch_size"] == 1 and one["benchmark"]["calls_run"] == 3  # the default: AI Energy Score


def test_long_setting(gpt2_pipe):
    r = scer_hf.benchmark(gpt2_pipe, setting="long", queries=2, warmup=0, progress=False,
                          meters=[ReplayMeter({"gpu:0": [(0.0, 10.0)]})])
    assert r["benchmark"]["max_new_tokens"] == 64
    assert r.phase("generate")["counts"]["output_tokens"] == 128
    tracked = scer_hf.track_pipeline(gpt2_pipe, meters=[ReplayMeter({"gpu:0": [(0.0, 10.0)]})])
    r = scer_hf.benchmark(tracked, queries=1, warmup=0, progress=False,  # an already tracked pipeline: unwrapped
                          meters=[ReplayMeter({"gpu:0": [(0.0, 10.0)]})])
    assert r["benchmark"]["queries_run"] == 1 and tracked.calls == 0


def test_encoder_decoder_is_routed_to_text2text(t5):
    r = scer_hf.benchmark(t5, queries=3, meters=[ReplayMeter({"gpu:0": [(0.0, 10.0)]})], **FAST)
    assert r["benchmark"]["task"] == "text2text-generation"
    c = r.phase("generate")["counts"]
    assert c["queries"] == 3 and c["output_tokens"] == 30
    assert isinstance(load_pipeline(t5, "summarization"), Text2TextPipeline)


def test_forward_task(bert):
    r = scer_hf.benchmark(bert, task="fill-mask", queries=3, meters=[ReplayMeter({"gpu:0": [(0.0, 10.0)]})], **FAST)
    assert r["benchmark"]["max_new_tokens"] is None
    assert r.phase("forward")["counts"] == {"queries": 3}
    assert r["sci"]["functional_unit"] == "1,000 queries"


def test_user_prompts_and_empty_prompts(gpt2_pipe):
    meters = [ReplayMeter({"gpu:0": [(0.0, 10.0)]})]
    r = scer_hf.benchmark(gpt2_pipe, prompts=["one prompt", "two prompts"], queries=5, meters=meters, **FAST)
    p = r["benchmark"]["prompts"]
    assert p["n"] == 2 and p["cycled"] is True and r["benchmark"]["queries_run"] == 5
    ds = load_prompts(4, as_dataset=True)
    r = scer_hf.benchmark(gpt2_pipe, prompts=ds, queries=2, meters=meters, **FAST)
    p = r["benchmark"]["prompts"]
    assert p["n"] == 4 and p["license"] == "CC BY-SA 3.0" and p["cycled"] is False
    import datasets

    with pytest.raises(EmptyPromptsError, match="column"):
        scer_hf.benchmark(gpt2_pipe, prompts=datasets.Dataset.from_dict({"x": ["a"]}), meters=meters, **FAST)
    for bad in ([], ["  ", ""]):
        with pytest.raises(EmptyPromptsError, match="prompts"):
            scer_hf.benchmark(gpt2_pipe, prompts=bad, meters=meters, **FAST)


def test_cached_hub_id_loads_offline(gpt2, tmp_path, monkeypatch):
    import shutil

    import huggingface_hub.constants as hub_constants

    repo = tmp_path / "hub" / "models--scer-test--tiny-gpt2"
    shutil.copytree(gpt2, repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    r = scer_hf.benchmark("scer-test/tiny-gpt2", queries=2, meters=[ReplayMeter({"gpu:0": [(0.0, 1.0)]})], **FAST)
    assert r.model["id"] == "scer-test/tiny-gpt2" and r["benchmark"]["queries_run"] == 2
    with pytest.raises(ModelLoadError, match="hf download scer-test/other"):
        load_pipeline("scer-test/other")


def test_bad_input_raises_typed_errors(gpt2, tmp_path):
    with pytest.raises(UnknownTaskError, match="supported: text-generation"):
        scer_hf.benchmark(gpt2, task="image-segmentation", progress=False)
    with pytest.raises(BenchmarkSettingsError, match="aienergyscore"):
        scer_hf.benchmark(gpt2, setting="short", progress=False)
    with pytest.raises(BenchmarkSettingsError, match="rel_ci"):
        scer_hf.benchmark(gpt2, rel_ci=5, progress=False)
    with pytest.raises(ModelLoadError, match="never downloads"):
        load_pipeline("scer-hf-nobody/definitely-not-cached-model")
    with pytest.raises(ModelLoadError, match="no model folder"):
        load_pipeline(str(tmp_path / "missing"))
    with pytest.raises(ModelLoadError, match="config.json"):
        load_pipeline(str(tmp_path))
    with pytest.raises(ModelIdError):
        load_pipeline("not a valid id!")
    with pytest.raises(ModelLoadError, match=r"encoder-decoder.*not one \(gpt2\)") as ei:
        load_pipeline(gpt2, "text2text-generation")
    assert "decoder-only" not in str(ei.value)  # said of every model, BERT included


def test_bad_settings_fail_before_the_model_is_loaded(gpt2, tmp_path):
    missing = str(tmp_path / "missing")  # loading it would raise ModelLoadError: these must be checked first
    with pytest.raises(UnknownCountryError):
        scer_hf.benchmark(missing, country_iso_code="XXX", progress=False)
    with pytest.raises(CarbonIntensityError, match="Power Usage"):
        scer_hf.benchmark(missing, pue=0, progress=False)
    with pytest.raises(BenchmarkSettingsError, match="not a torch device"):
        scer_hf.benchmark(missing, device="bogus", progress=False)
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(BenchmarkSettingsError, match="no CUDA GPU"):
            scer_hf.benchmark(missing, device="cuda:0", progress=False)
    with pytest.raises(UnknownTaskError, match="quality"):
        scer_hf.benchmark(missing, task="text-classification", quality=True, progress=False)
    with pytest.raises(ModelLoadError, match="mask_token"):  # was a transformers PipelineException traceback
        load_pipeline(gpt2, "fill-mask")


def test_cli_refuses_an_existing_out_before_running(tmp_path):
    out = tmp_path / "r.json"
    out.write_text("{}")
    res = CliRunner().invoke(cli, ["benchmark", str(tmp_path / "missing"), "--out", str(out)])
    assert res.exit_code == 1 and "--overwrite" in res.output and "config.json" not in res.output
    assert out.read_text() == "{}"
    res = CliRunner().invoke(cli, ["benchmark", str(tmp_path / "missing"), "--queries", "0"])
    assert res.exit_code == 2 and "--queries" in res.output  # a usage error, like any bad option value
    res = CliRunner().invoke(cli, ["benchmark", str(tmp_path / "missing"), "--country", "XXX"])
    assert res.exit_code == 1 and "--intensity <g CO2e per kWh>" in res.output  # the option, not the API argument


def test_supported_tasks_match_transformers():
    from transformers.pipelines import SUPPORTED_TASKS

    tasks = supported_tasks()
    assert tasks[:3] == ["text-generation", "text2text-generation", "summarization"]
    assert set(tasks[3:]) <= set(SUPPORTED_TASKS) and "fill-mask" in tasks


def test_sequential_ci_matches_scipy():
    """The rule's 95 % interval is scipy's t-interval at the 97 % quantile (scer_hf.core.stopping)."""
    from scipy import stats

    xs = [1.0, 1.2, 0.9, 1.1, 1.05, 0.95]
    ci = sequential_ci(xs, 0.95)
    assert ci["confidence"] == 0.95 and ci["quantile_level"] == pytest.approx(0.97)
    lo, hi = stats.t.interval(0.97, len(xs) - 1, loc=sum(xs) / len(xs), scale=stats.sem(xs))
    assert ci["half_width_j"] == pytest.approx((hi - lo) / 2)
    assert ci["rel_half_width"] == pytest.approx((hi - lo) / 2 / (sum(xs) / len(xs)))
    assert sequential_ci([2.0])["half_width_j"] is None


def test_shipped_prompts():
    recs = load_prompts()
    assert len(recs) == 1000 and recs[0]["id"] == "dolly15k-00000"
    assert all(20 <= len(r["prompt"]) <= 1500 for r in recs)
    ds = load_prompts(10, as_dataset=True)
    assert ds.num_rows == 10 and ds.column_names == ["id", "prompt", "category", "source_id"]
    assert ds.info.license == "CC BY-SA 3.0" and "dolly" in ds.info.description
    r = scer_hf.benchmark  # noqa: F841 - the public name resolves
    assert math.isfinite(len(recs))


def test_quality_flag(gpt2, t5):
    meters = [ReplayMeter({"gpu:0": [(0.0, 1.0)]})]
    if importlib.util.find_spec("scer_hf.hf.quality") is None:
        with pytest.warns(UserWarning, match="quality"):
            r = scer_hf.benchmark(gpt2, queries=2, quality=True, meters=meters, **FAST)
        assert "quality" not in r.to_dict()
        return
    r = scer_hf.benchmark(gpt2, queries=2, quality=True, meters=meters, **FAST)
    assert r.to_dict()["quality"]["metric"] == "perplexity"
    with pytest.raises(UnknownTaskError, match="quality"):
        scer_hf.benchmark(t5, queries=2, quality=True, meters=meters, **FAST)


def test_public_name_is_the_function_after_module_import():
    import scer_hf.hf.benchmark as mod

    assert scer_hf.benchmark is mod.benchmark and callable(scer_hf.benchmark)


def test_cli_benchmark(gpt2, tmp_path):
    runner = CliRunner()
    out = tmp_path / "r.json"
    res = runner.invoke(cli, ["benchmark", gpt2, "--queries", "3", "--warmup", "0", "--no-progress",
                              "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["benchmark"]["queries_run"] == 3 and d["saved_to"] == str(out)
    assert Report.load(out)["benchmark"]["setting"] == "aienergyscore"
    res = runner.invoke(cli, ["benchmark", gpt2, "--queries", "2", "--warmup", "0", "--no-progress"])
    assert res.exit_code == 0 and "per query     :" in res.output and "queries       : 2 run" in res.output
    res = runner.invoke(cli, ["benchmark", gpt2, "--task", "nope", "--json"])
    assert res.exit_code == 1 and json.loads(res.stdout)["error"] == "UnknownTaskError"
    res = runner.invoke(cli, ["benchmark", gpt2, "--setting", "short"])
    assert res.exit_code == 2
