"""Live grid intensity against a fake Electricity Maps server on 127.0.0.1 (never the real service)."""

from __future__ import annotations

import json
import logging
import socket
import time
import sys
import warnings
from pathlib import Path

import pytest
from tests.builders import Clock

sys.path.insert(0, str(Path(__file__).parent))
from emserver import TOKEN, FakeElectricityMaps  # noqa: E402

from scer_hf import Report  # noqa: E402
from scer_hf.core.carbon import carbon_intensity  # noqa: E402
from scer_hf.errors import LiveIntensityError  # noqa: E402
from scer_hf.core.live_intensity import LiveIntensity, phase_dicts  # noqa: E402
from scer_hf.core.meters import ReplayMeter  # noqa: E402
from scer_hf.core.tracker import PhaseTracker  # noqa: E402
from scer_hf.publish.verify import verify_report  # noqa: E402


def _run_two_phases(live: LiveIntensity, server: FakeElectricityMaps | None, clock: Clock) -> Report:
    """Phase A: 0-10 s at 100 W (1000 J) while the grid is at 100; phase B: 20-50 s (3000 J) at 300."""
    tr = PhaseTracker(ReplayMeter({"gpu:0": [(0.0, 100.0)]}, clock=clock), clock=clock, sync_cuda=False)
    tr.on_edge = live.observe
    clock.t = 0.0
    tr.begin("a")
    clock.t = 10.0
    a = tr.end("a")
    live.settle()  # the readings of phase A were taken before the grid changes
    if server:
        server.g = 300.0
    clock.t = 20.0
    tr.begin("b")
    clock.t = 50.0
    b = tr.end("b")
    annual = carbon_intensity("NLD")
    ci, per = live.apply([a, b], annual)
    return Report.build(phase_dicts([a, b], ci, per, {}, "training"), boundary="training", carbon=ci)


def test_two_phases_at_different_intensities_give_the_energy_weighted_total() -> None:
    clock = Clock()
    with FakeElectricityMaps() as em:
        live = LiveIntensity("NL", token=TOKEN, base_url=em.url, min_interval_s=0, clock=clock)
        rep = _run_two_phases(live, em, clock)
    d = rep.to_dict()
    a, b = d["phases"]
    assert a["carbon_g_per_kwh"] == 100.0 and b["carbon_g_per_kwh"] == 300.0
    assert a["energy_j"]["total"] == pytest.approx(1000.0) and b["energy_j"]["total"] == pytest.approx(3000.0)
    assert d["carbon"]["g_per_kwh"] == pytest.approx((100 * 1000 + 300 * 3000) / 4000)  # 250, not the mean 200
    assert d["co2e_g"] == pytest.approx(a["co2e_g"] + b["co2e_g"])
    assert d["co2e_g"] == pytest.approx((1000 * 100 + 3000 * 300) / 3.6e6)
    live_block = d["carbon"]["live"]
    assert [s["g_per_kwh"] for s in live_block["samples"]] == [100.0, 100.0, 300.0, 300.0]
    assert live_block["signal"] == "average" and live_block["emission_factor_type"] == "lifecycle"
    assert live_block["any_estimated"] is True and live_block["fallbacks"] == []
    assert all(tok == TOKEN for _, tok in em.log) and all("zone=NL" in p for p, _ in em.log)
    assert verify_report(d).ok


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unreachable_api_falls_back_to_the_annual_figure_with_one_warning() -> None:
    clock = Clock()
    live = LiveIntensity("NL", token=TOKEN, base_url=f"http://127.0.0.1:{_closed_port()}", min_interval_s=0,
                         timeout_s=0.5, clock=clock)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rep = _run_two_phases(live, None, clock)
    msgs = [str(w.message) for w in caught if "live grid intensity" in str(w.message)]
    assert len(msgs) == 1 and "annual figure" in msgs[0]
    d = rep.to_dict()
    annual = carbon_intensity("NLD")
    assert d["carbon"]["g_per_kwh"] == annual.g_per_kwh and d["carbon"]["source"] == annual.source
    fb = d["carbon"]["live"]["fallbacks"]
    assert len(fb) == 4 and all("unreachable" in f["reason"] for f in fb)
    assert d["carbon"]["live"]["samples"] == [] and TOKEN not in json.dumps(d) + msgs[0]
    assert verify_report(d).ok


def test_market_based_figures_are_refused_and_partial_failures_fall_back() -> None:
    clock = Clock()
    with FakeElectricityMaps() as em:
        em.extra = {"emissionFactorType": "market-based"}
        live = LiveIntensity("NL", token=TOKEN, base_url=em.url, min_interval_s=0, clock=clock)
        with pytest.warns(UserWarning, match="market-based"):
            rep = _run_two_phases(live, em, clock)
        assert rep.to_dict()["carbon"]["live"]["samples"] == []
        em.extra, em.fail_next, em.g = {}, 1, 100.0  # the first reading fails: that stretch uses the annual figure
        live = LiveIntensity("NL", token=TOKEN, base_url=em.url, min_interval_s=0, clock=clock)
        with pytest.warns(UserWarning, match="HTTP 500"):
            d = _run_two_phases(live, em, clock).to_dict()
    assert len(d["carbon"]["live"]["fallbacks"]) == 1 and len(d["carbon"]["live"]["samples"]) == 3
    assert d["phases"][1]["carbon_g_per_kwh"] == 300.0
    with pytest.raises(LiveIntensityError, match="ELECTRICITYMAPS_API_TOKEN"):
        LiveIntensity("NL", token="")


@pytest.mark.slow
def test_token_never_leaks_into_any_file_a_run_writes(tiny_model_dir, tmp_path: Path, capsys: pytest.CaptureFixture,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    tf = pytest.importorskip("transformers")
    pytest.importorskip("torch")
    from datasets import Dataset

    from scer_hf.hf.tiny import prompt_texts
    from scer_hf.hf.callback import SCERCallback
    from scer_hf.publish.card import update_card
    from scer_hf.publish.html import write_html_report

    path = tiny_model_dir("gpt2")
    tok = tf.AutoTokenizer.from_pretrained(path)
    ds = Dataset.from_dict(dict(tok(prompt_texts(16), truncation=True, max_length=16)))
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "run"
    with FakeElectricityMaps() as em:
        em.fail_next = 1  # one failed reading: the error path writes a warning and a fallback record too
        live = LiveIntensity("NL", token=TOKEN, base_url=em.url, min_interval_s=0)
        cb = SCERCallback(cloud_provider="gcp", cloud_region="europe-west4", live_intensity=live,
                          meters=[ReplayMeter({"cpu:0": [(0.0, 100.0)]})], flush_every_s=0)
        args = tf.TrainingArguments(str(out), use_cpu=True, report_to=[], max_steps=3, per_device_train_batch_size=8,
                                    logging_steps=1, save_strategy="no", disable_tqdm=True)
        trainer = tf.Trainer(model=tf.AutoModelForCausalLM.from_pretrained(path), args=args, train_dataset=ds,
                             data_collator=tf.DataCollatorForLanguageModeling(tok, mlm=False), callbacks=[cb])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trainer.train()
        assert any(tok_ == TOKEN for _, tok_ in em.log)  # it was sent (in the header)
    rep = cb.report
    d = rep.to_dict()
    assert d["carbon"]["live"]["samples"] and len(d["carbon"]["live"]["fallbacks"]) == 1
    assert d["carbon"]["cloud_region"] == "europe-west4" and d["carbon"]["live"]["annual_g_per_kwh"] == 236.0
    html = write_html_report(rep, out / "scer_report.html", auto_rate=False).read_text()
    assert "<svg" in html and "grid intensity over the run" in html
    update_card(out, rep, label_path=None)
    assert verify_report(out / "scer_report.json").ok
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "scer_report.json" for p in written) and any(p.name == "README.md" for p in written)
    for p in written:
        assert TOKEN.encode() not in p.read_bytes(), p
    seen = capsys.readouterr()
    assert TOKEN not in seen.out + seen.err + caplog.text + " ".join(str(w.message) for w in caught)
    assert TOKEN not in repr(live) and TOKEN not in repr(cb.carbon)


@pytest.mark.slow
def test_callback_uses_the_gcp_regional_figure_in_report_card_and_html(tiny_model_dir, tmp_path: Path) -> None:
    tf = pytest.importorskip("transformers")
    pytest.importorskip("torch")
    from datasets import Dataset

    from scer_hf.hf.tiny import prompt_texts
    from scer_hf.hf.callback import SCERCallback
    from scer_hf.publish.card import update_card
    from scer_hf.publish.html import write_html_report

    path = tiny_model_dir("gpt2")
    tok = tf.AutoTokenizer.from_pretrained(path)
    ds = Dataset.from_dict(dict(tok(prompt_texts(16), truncation=True, max_length=16)))
    cb = SCERCallback(cloud_provider="gcp", cloud_region="europe-west4", meters=[ReplayMeter({"cpu:0": [(0.0, 100.0)]})])
    args = tf.TrainingArguments(str(tmp_path), use_cpu=True, report_to=[], max_steps=2, per_device_train_batch_size=8,
                                save_strategy="no", disable_tqdm=True)
    tf.Trainer(model=tf.AutoModelForCausalLM.from_pretrained(path), args=args, train_dataset=ds,
               data_collator=tf.DataCollatorForLanguageModeling(tok, mlm=False), callbacks=[cb]).train()
    d = Report.load(tmp_path / "scer_report.json").to_dict()
    c = d["carbon"]
    assert c["g_per_kwh"] == 236.0 and c["cloud_region"] == "europe-west4" and "Eemshaven" in c["source"]
    assert d["co2e_g"] == pytest.approx(d["energy_j"] / 3.6e6 * 236.0)
    html = write_html_report(cb.report, tmp_path / "r.html", auto_rate=False).read_text()
    assert "236 gCO2eq per kWh (gcp europe-west4)" in html and "cloud.google.com/sustainability" in html
    update_card(tmp_path, cb.report, label_path=None)
    card = (tmp_path / "README.md").read_text()
    assert "gcp europe-west4" in card and "Eemshaven" in card


@pytest.mark.slow
def test_track_pipeline_reads_live_intensity_at_call_edges(tiny_model_dir) -> None:
    tf = pytest.importorskip("transformers")
    pytest.importorskip("torch")
    from scer_hf import track_pipeline

    pipe = tf.pipeline("text-generation", model=str(tiny_model_dir("gpt2")), device="cpu")
    with FakeElectricityMaps() as em:
        live = LiveIntensity("DE", token=TOKEN, base_url=em.url, min_interval_s=0)
        tracked = track_pipeline(pipe, country_iso_code="DEU", live_intensity=live,
                                 meters=[ReplayMeter({"cpu:0": [(0.0, 50.0)]})])
        tracked("hello there", max_new_tokens=3, do_sample=False)
        live.settle()  # readings are taken in the background: the first call's before the grid changes
        em.g = 300.0
        tracked("hello again", max_new_tokens=3, do_sample=False)
        live.settle()
    d = tracked.report.to_dict()
    gs = {s["g_per_kwh"] for s in d["carbon"]["live"]["samples"]}
    assert gs == {100.0, 300.0} and 100.0 < d["carbon"]["g_per_kwh"] < 300.0
    assert d["carbon"]["basis"].startswith("location-based live average")
    assert verify_report(d).ok and TOKEN not in json.dumps(d)


def test_a_window_edge_never_waits_on_the_network() -> None:
    # a server that accepts the connection and never answers: the request can only time out
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    try:
        live = LiveIntensity("NL", token=TOKEN, base_url=f"http://127.0.0.1:{srv.getsockname()[1]}",
                             min_interval_s=0, timeout_s=0.5)
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            live.observe(1.0)
            took = time.perf_counter() - t0
            assert took < 0.25, took  # the edge returned while the request still hangs
            live.settle()  # the report waits for it: it timed out and fell back
    finally:
        srv.close()
    assert live.samples == [] and [f["t_s"] for f in live.fallbacks] == [1.0]
