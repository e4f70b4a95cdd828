"""SCER percentile, AI Energy Score stars, rate(model_id) offline, rate(report), edge cases."""

from __future__ import annotations

import warnings

import csv
import json
import math
from collections import defaultdict
from pathlib import Path

import pytest

import scer_hf
from scer_hf import Report, reference
from scer_hf.errors import ModelIdError, RatingError, ReportSchemaError, UnknownTaskError
from scer_hf.core.meters import ReplayMeter
from scer_hf.rating import PhaseRating, Rating, rate
from scer_hf.rating.percentile import grade, percentile_of, percentiles
from scer_hf.rating.stars import stars
from scer_hf.core.tracker import PhaseTracker
from tests.builders import Clock, gpu_inference_report

CONTRACT = {"phase", "available", "grade", "stars", "percentile", "value", "unit", "uncertainty", "category",
            "peers", "nearest_peers", "sources", "estimated", "method", "reason", "how_to_measure"}


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


# --- SCER v0.1 percentile ---------------------------------------------------------------------
def test_spec_worked_example() -> None:
    sci = [100, 150, 160, 200, 250]
    assert percentiles(sci) == [100.0, 75.0, 50.0, 25.0, 0.0]
    assert [grade(p) for p in percentiles(sci)] == ["A", "B", "C", "C", "C"]


def test_grade_boundaries_ties_and_n1() -> None:
    assert grade(90.0) == "B" and grade(90.0001) == "A" and grade(60.0) == "B" and grade(59.999) == "C"
    assert grade(None) is None
    assert percentiles([10, 10, 20]) == [75.0, 75.0, 0.0]  # average of ranks 2 and 3
    assert percentiles([5, 5]) == [50.0, 50.0]
    assert percentiles([42]) == [None] and percentiles([]) == []


def test_new_value_outside_reference_range_is_inserted() -> None:
    peers = [100.0, 150.0, 200.0]
    assert percentile_of(1.0, peers) == 100.0  # better than all: N = 4, rank 4
    assert percentile_of(1e9, peers) == 0.0
    assert percentile_of(150.0, peers) == pytest.approx(50.0)  # tied with a peer: ranks 2 and 3


# --- AI Energy Score stars --------------------------------------------------------------------
def test_all_166_published_stars_reproduced_from_energy() -> None:
    path = reference.data_dir() / "aienergyscore_v1.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in rows:
        groups[(r["task"], r["model_class"])].append(float(r["gpu_energy_wh_per_1000_queries"]))
    got = [stars(float(r["gpu_energy_wh_per_1000_queries"]), groups[(r["task"], r["model_class"])]) for r in rows]
    published = [int(r["energy_score_stars"]) for r in rows]
    assert len(rows) == 166 and got == published


def test_all_166_stars_through_rate() -> None:
    seen = 0
    for r in reference.rows("aienergyscore_v1"):
        rating = rate(r["model_key"], task=r["task_key"], hub=False)
        prs = [rating.inference, *rating.inference.alternatives]
        mine = [p for p in prs if any(r["ref_id"] in s for s in p.sources)]
        assert len(mine) == 1 and mine[0].stars == r["published_stars"], r["model_key"]
        assert mine[0].peers == sum(1 for x in reference.rows("aienergyscore_v1") if x["group"] == r["group"]) - 1  # references only
        seen += 1
    assert seen == 166


def test_stars_clip_and_degenerate_group() -> None:
    ref = [1.0, 2.0, 6.0]
    assert stars(0.5, ref) == 5 and stars(100.0, ref) == 1
    assert stars(1.99, ref) == 5 and stars(2.0, ref) == 4 and stars(6.0, ref) == 1
    assert stars(3.0, [3.0]) == 5
    with pytest.raises(RatingError):
        stars(-1.0, ref)
    with pytest.raises(RatingError):
        stars(1.0, [])


# --- rate(model_id), offline ------------------------------------------------------------------
def test_bloom_560m_offline() -> None:
    r = scer_hf.rate("bigscience/bloom-560m")
    assert isinstance(r, Rating) and isinstance(r.training, PhaseRating)
    d = r.to_dict()
    json.dumps(d)
    assert {"model", "reference_version", "training", "inference"} <= set(d)
    assert d["model"] == "bigscience/bloom-560m" and d["reference_version"] == "scer-hf-reference 2026.12"
    for phase in ("training", "inference"):
        assert CONTRACT <= set(d[phase]) and d[phase]["phase"] == phase
    t = r.training  # 10.505 MWh over 0.559 B params x 341 B tokens (reference 2026.12): its own published energy
    assert t.available and t.value == pytest.approx(10.505e6 / (0.559e9 * 341e9) * 1e15) and t.grade is not None
    assert t.unit == "Wh per 1 quadrillion parameter-tokens" and t.method == "published" and t.basis is None
    assert any("training.csv#25" in s for s in t.sources)
    i = r.inference  # no figure of its own: the architecture twin bloomz-560m's published figure
    assert i.available and i.basis == "twin" and i.via_model == "bigscience/bloomz-560m"
    r = scer_hf.rate("bigscience/bloom-560m", modelled=False)
    assert r.inference.basis == "twin"  # a twin's published figure needs no modelling
    assert i.how_to_measure == "scer-hf benchmark bigscience/bloom-560m --task text-generation"
    assert "bloom-560m" in repr(r) and "architecture twin: bigscience/bloomz-560m" in r.describe()


def test_training_percentile_matches_independent_ranking() -> None:
    path = reference.data_dir() / "training.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [x for x in csv.DictReader(fh) if not x["notes"].startswith("[secondary")]
    vals = {x["model_id"]: float(x["energy_mwh"]) * 1000 / (float(x["params_b"]) * float(x["training_tokens_b"]))
            for x in rows if x["energy_mwh"] and x["params_b"] and x["training_tokens_b"]}
    v = vals["bigscience/bloom"]
    worse = sum(1 for x in vals.values() if x > v)
    expected = worse / (len(vals) - 1) * 100  # rank = worse + 1, no ties here
    t = rate("bigscience/bloom", hub=False).training
    # references only (not bloom itself): 16 + 7 rows with tokens filled (2026.12) + OLMo 7B and OLMo 7B 0724 (their
    # cards' token counts, issue 24), less 1
    assert t.peers == len(vals) - 1 == 24
    assert t.percentile == pytest.approx(expected) and t.grade == grade(expected)
    assert t.value == pytest.approx(v) and t.category["group"].startswith("training")
    assert len(t.nearest_peers) == 5 and all(p["model"] != "bigscience/bloom" for p in t.nearest_peers)


def test_aies_model_gets_stars_and_percentile() -> None:
    i = rate("distilbert/distilgpt2", hub=False).inference
    assert (i.stars, i.grade, i.percentile, i.peers) == (5, "A", 100.0, 31)  # 31 references (not itself)
    assert i.category["size_class"] == "A" and i.category["hardware_class"] == "NVIDIA H100"
    assert i.value == pytest.approx(1.313333) and i.unit == "Wh per 1,000 queries (GPU)"


def test_duplicates_become_alternatives_not_averages() -> None:
    i = rate("meta-llama/Llama-3.1-8B", hub=False).inference
    values = sorted([i.value, *(a.value for a in i.alternatives)])
    # AI Energy Score (listed under the former id Meta-Llama-3.1-8B), Morrison saturated and 1 req/s: kept apart
    assert values == [4.583, 17.376263, 138.8]
    assert i.stars is not None and i.value == 17.376263  # the AI Energy Score figure is the headline
    assert len({i.category["group"], *(a.category["group"] for a in i.alternatives)}) == 3


def test_secondary_and_modelled_need_opt_in() -> None:
    g = rate("Gopher-280B", hub=False).training
    assert not g.available and "include_secondary=True" in g.reason
    g2 = rate("Gopher-280B", include_secondary=True, hub=False).training
    assert g2.available and g2.value == pytest.approx(1066 * 1000 / (280 * 300))
    o = rate("openai/gpt-4o", hub=False).inference
    assert not o.available and "include_modelled=True" in o.reason
    assert rate("openai/gpt-4o", include_modelled=True, hub=False).inference.value == 423.0


def test_training_emissions_fallback_and_derived_energy() -> None:
    t = rate("meta-llama/Llama-2-7b-hf", hub=False).training
    assert t.method == "published" and t.unit == "gCO2eq per 1 quadrillion parameter-tokens"
    assert t.value == pytest.approx(31.22e6 / (7e9 * 2000e9) * 1e15)
    d = rate("meta-llama/Llama-2-7b-hf", include_derived=True, hub=False).training
    assert d.method == "derived (calculator)" and d.estimated
    from scer_hf.core.calculator import derive_training_energy

    row = next(r for r in reference.raw_rows("training.csv") if r["model_id"] == "meta-llama/Llama-2-7b-hf")
    mwh = derive_training_energy(row)["energy_mwh_derived"]
    assert d.value == pytest.approx(mwh * 1000 / (7 * 2000))
    assert any("derived by scer_hf.core.calculator" in n for n in d.notes)
    assert rate("bigscience/bloom", include_derived=True, hub=False).training.peers > 25  # derived peers join
    # Llama 3.3 70B publishes neither energy nor (a usable) CO2e: its own energy is derived, peers stay published
    x = rate("meta-llama/Llama-3.3-70B-Instruct", hub=False).training
    assert x.method == "derived (calculator)" and x.estimated and x.grade is not None
    assert x.peers == 25  # the 25 published peers (references only)


def test_legacy_id_without_namespace_resolves_when_unique() -> None:
    r = rate("distilgpt2", hub=False)
    assert r.inference.stars == 5 and "distilbert/distilgpt2" in r.inference.notes[0]
    assert not rate("no-such-model-xyz", hub=False).inference.available


def test_bad_input_raises_typed_errors() -> None:
    for bad in ("a/b/c", "has space/model", "", "org/--x", "org/"):
        with pytest.raises(ModelIdError):
            rate(bad)
    with pytest.raises(UnknownTaskError, match="text-generation"):
        rate("gpt2", task="poetry")


def test_task_filter() -> None:
    r = rate("openai-community/gpt2", task="text_generation", hub=False)
    assert r.inference.available and r.inference.category["task"] == "text-generation"
    r2 = rate("openai-community/gpt2", task="summarization", hub=False, modelled=False)
    assert not r2.inference.available and "summarization" in r2.inference.how_to_measure


def test_extra_peers_change_the_rating() -> None:
    base = rate("distilbert/distilgpt2", hub=False).inference
    cols = {"leaderboard": "mine", "task": "text_generation", "hf_pipeline_tag": "text-generation",
            "model_class": "A", "gpu_energy_wh_per_1000_queries": "0.5", "source": "my H100 run"}
    r = rate("distilbert/distilgpt2", extra=[{**cols, "model": "me/smaller"}], hub=False).inference
    assert r.peers == base.peers + 1 and r.percentile < 100.0 and r.stars == 5


# --- rate(report) -----------------------------------------------------------------------------
def test_rate_measured_gpu_inference_report() -> None:
    r = rate(gpu_inference_report())  # 100 W x 36 s = 3600 J GPU = 1 Wh per 1,000 queries
    i = r.inference
    assert i.value == pytest.approx(1.0) and i.method == "measured" and not i.estimated
    assert i.peers == 32 and i.percentile == 100.0 and i.grade == "A" and i.stars == 5
    assert i.comparable is True and any("outside the reference range" in n for n in i.notes)
    assert i.uncertainty == pytest.approx(0.05 * i.value)
    assert i.category["group"] == "AI Energy Score v1 (Feb 2025) | text_generation | class A"
    assert not r.training.available and "inference only" in r.training.reason
    worse = rate(gpu_inference_report(gpu_w=3000.0)).inference  # 30 Wh/1000: above the class A max
    assert worse.stars == 1 and worse.percentile == 0.0 and worse.grade == "C"


def test_report_on_other_hardware_or_estimated_is_flagged(tmp_path: Path) -> None:
    a100 = rate(gpu_inference_report(hardware="NVIDIA A100-SXM4-80GB")).inference
    assert a100.comparable is False and any(n.startswith("not comparable: hardware differs") for n in a100.notes)
    d = gpu_inference_report().to_dict()
    del d["benchmark"]["hardware"]
    unknown = rate(d).inference
    assert unknown.comparable is False and any("hardware not recorded" in n for n in unknown.notes)
    d["embodied"] = {**d["embodied"], "hardware": "NVIDIA H100 SXM5 80GB"}  # where benchmark(hardware=) puts it
    assert rate(d).inference.comparable is True
    est = rate(gpu_inference_report(method="estimate")).inference
    assert est.estimated and est.method == "estimate" and est.grade is not None
    big = rate(gpu_inference_report(params=30e9)).inference
    assert big.category["size_class"] == "B" and big.peers == 3
    path = gpu_inference_report().save(tmp_path / "r.json")
    via_path = rate(str(path))
    assert via_path.inference.value == pytest.approx(1.0) and str(path) in via_path.inference.sources[0]
    folder = tmp_path / "run"
    gpu_inference_report().save(folder.mkdir() or folder)  # saved as run/scer_report.json
    assert rate(str(folder)).inference.value == pytest.approx(1.0)


def test_model_folder_named_like_the_id_is_still_a_model_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bigscience" / "bloom-560m").mkdir(parents=True)  # a saved model, no report inside
    monkeypatch.chdir(tmp_path)
    assert rate("bigscience/bloom-560m").training.value == pytest.approx(10.505e6 / (0.559e9 * 341e9) * 1e15)


def test_report_task_without_reference_peers() -> None:
    i = rate(gpu_inference_report(task="fill-mask")).inference
    assert i.available and i.grade is None and i.stars is None and i.peers == 0
    with pytest.raises(UnknownTaskError):
        rate(gpu_inference_report(task="knitting"))


def test_rate_training_report() -> None:
    clock = Clock()
    meter = ReplayMeter({"gpu:0": [(0, 100.0)]}, clock=clock)
    tr = PhaseTracker(meter, clock=clock)
    tr.begin("train")
    clock.t = 100.0
    tr.end("train", tokens=1_000_000)
    rep = Report.build(tr.measurements, boundary="training", provenance=tr.provenance(),
                       model={"id": "me/tiny", "parameters": 1_000_000})
    t = rate(rep).training
    expected = 100.0 * 100.0 / 3600.0 / (1e6 * 1e6) * 1e15  # Wh per 10^15 parameter-tokens
    assert t.value == pytest.approx(expected) and t.unit == "Wh per 1 quadrillion parameter-tokens"
    # the 20 class-A published rows (13 + BLOOM x4, T5-11B, OLMo 7B and OLMo 7B 0724 since issue 24)
    assert t.peers == 20 and t.percentile == 0.0 and t.grade == "C"
    assert t.co2e is not None and t.co2e["value"] > 0
    assert not rate(rep).inference.available
    no_params = Report.build(tr.measurements, boundary="training", provenance=tr.provenance(), model={"id": "x"})
    t2 = rate(no_params).training
    assert t2.available and t2.grade is None and "model parameters" in t2.reason


def test_unknown_report_schema(tmp_path: Path) -> None:
    p = tmp_path / "other.json"
    p.write_text(json.dumps({"schema": "something-else", "energy": 3}))
    with pytest.raises(ReportSchemaError):
        rate(str(p))
    with pytest.raises(ReportSchemaError):
        rate({"schema": "scer-hf/report"})


def test_rating_to_dict_is_json_and_percentiles_finite() -> None:
    d = rate(gpu_inference_report()).to_dict()
    s = json.dumps(d)
    assert "NaN" not in s and "Infinity" not in s
    assert all(math.isfinite(p["value"]) for p in d["inference"]["nearest_peers"])


def test_measured_rating_uncertainty_is_that_of_the_energy_rated() -> None:
    # GPU 100 W (NVML-like, +-5 %) and CPU 300 W (estimate, +-40 %) for 36 s, 1,000 queries.
    # Rated value: GPU only, 3,600 J / 3,600 / 1,000 x 1,000 = 1 Wh per 1,000 queries, +- 5 % = 0.05.
    # (The report-wide relative uncertainty, (180 + 4,320) / 14,400 = 31.25 %, is not the GPU figure's.)
    clock = Clock()
    gpu = ReplayMeter({"gpu:0": [(0, 100.0)]}, clock=clock, relative_uncertainty=0.05)
    cpu = ReplayMeter({"cpu:est": [(0, 300.0)]}, clock=clock, relative_uncertainty=0.4)
    tr = PhaseTracker([gpu, cpu], clock=clock)
    tr.begin("generate")
    clock.t = 36.0
    tr.end("generate", queries=1000)
    rep = Report.build(tr.measurements, boundary="inference", provenance=tr.provenance(),
                       model={"id": "me/tiny", "parameters": 124e6, "task": "text-generation"},
                       benchmark={"hardware": "NVIDIA H100 80GB HBM3"})
    assert rep["uncertainty"]["relative"] == pytest.approx(0.3125)
    i = rate(rep).inference
    assert i.value == pytest.approx(1.0) and i.uncertainty == pytest.approx(0.05)


def test_measured_rating_uses_the_measured_calls_and_refuses_low_coverage() -> None:
    # each call 36 s at 100 W = 3,600 J = 1 Wh; the meter fails on some calls. The value comes from the measured
    # calls only (their energy over their queries: 1,000 Wh per 1,000 queries), never measured energy over all
    # queries (a false low); below the coverage threshold there is no rating at all
    from scer_hf.core.tracker import merge_measurements

    def run(calls: int, failing: set[int]) -> list:
        clock = Clock()
        meter = ReplayMeter({"gpu:0": [(0, 100.0)]}, clock=clock)
        tr = PhaseTracker(meter, clock=clock)
        out = []
        for i in range(calls):
            tr.begin("generate")
            clock.t += 36.0
            if i in failing:
                meter.fail_next = RuntimeError("driver reset")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out.append(tr.end("generate", queries=1))
        m = out[0]
        for x in out[1:]:
            m = merge_measurements(m, x)
        return [m], tr

    def build(ms: list, tr: PhaseTracker, boundary: str = "inference") -> Report:
        return Report.build(ms, boundary=boundary, provenance=tr.provenance(),
                            model={"id": "me/tiny", "parameters": 124e6, "task": "text-generation"},
                            benchmark={"hardware": "NVIDIA H100 80GB HBM3"})

    ms, tr = run(2, {1})  # half the run measured
    i = rate(build(ms, tr)).inference
    assert i.available is False and i.grade is None and "only 50% of the run was measured" in i.reason
    ms, tr = run(20, {7})  # 95 % measured: rated from the 19 measured calls, and the coverage is said
    i = rate(build(ms, tr)).inference
    assert i.value == pytest.approx(1000.0) and i.comparable is True
    assert any("coverage 95%" in n for n in i.notes)
    assert rate(gpu_inference_report()).inference.comparable is True  # fully measured: no coverage note
    assert not any("coverage" in n for n in rate(gpu_inference_report()).inference.notes)
    from dataclasses import replace

    train = build([replace(ms[0], name="train", counts={"tokens": 1000})], tr, "training")
    assert any("coverage 95%" in n for n in rate(train).training.notes)