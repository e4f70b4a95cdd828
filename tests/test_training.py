"""scer_hf.track_training: a tiny GPT-2 fine-tuned in a plain accelerate loop, in one process and in two gloo ranks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("accelerate")
torch = pytest.importorskip("torch")
tf = pytest.importorskip("transformers")

import scer_hf  # noqa: E402
from scer_hf import Report  # noqa: E402
from scer_hf.core.meters import ReplayMeter  # noqa: E402
from scer_hf.errors import CallbackConfigError  # noqa: E402
from scer_hf.publish.card.splice import split_card  # noqa: E402
from scer_hf.publish.verify import verify  # noqa: E402

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
WATTS = 100.0


def const() -> ReplayMeter:
    return ReplayMeter({"gpu:0": [(0.0, WATTS)]}, source="constant test trace")


def batches(tok, n: int = 24, size: int = 8) -> list[dict]:  # noqa: ANN001
    from scer_hf.hf.tiny import prompt_texts

    enc = tok(prompt_texts(n), truncation=True, max_length=24, padding=True, return_tensors="pt")
    enc["labels"] = enc["input_ids"].clone()
    return [{k: v[i:i + size] for k, v in enc.items()} for i in range(0, n, size)]


def loop(model, run, train: list[dict], evals: list[dict], epochs: int = 2) -> None:  # noqa: ANN001
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        with run.epoch():
            for b in train:
                model(**b).loss.backward()
                opt.step()
                opt.zero_grad()
                run.step(tokens=b["attention_mask"].sum(), samples=len(b["input_ids"]))
        with run.evaluate(), torch.no_grad():
            for b in evals:
                model(**b)
                run.step(tokens=b["attention_mask"].sum(), samples=len(b["input_ids"]))


def test_accelerate_loop_one_process(gpt2: str, tmp_path: Path) -> None:
    from accelerate import Accelerator

    acc = Accelerator(cpu=True)
    logged: list[tuple[dict, int]] = []
    acc.log = lambda values, step=None, **kw: logged.append((dict(values), step))  # type: ignore[method-assign]
    tok = tf.AutoTokenizer.from_pretrained(gpt2)
    model = acc.prepare(tf.AutoModelForCausalLM.from_pretrained(gpt2))
    train, evals = batches(tok), batches(tok, 8)
    out = tmp_path / "my-finetune"
    with scer_hf.track_training(model, accelerator=acc, output_dir=out, max_steps=6, log_every=2,
                                carbon_intensity_g_per_kwh=100.0, meters=[const()], flush_every_s=0) as run:
        loop(model, run, train, evals)
    d = Report.load(out / "scer_report.json").to_dict()
    names = [p["name"] for p in d["phases"]]
    assert names == ["train", "epoch 1", "eval 1", "epoch 2", "eval 2"] and d["status"] == "complete"
    ph = {p["name"]: p for p in d["phases"]}
    tokens = sum(int(b["attention_mask"].sum()) for b in train)
    assert ph["train"]["counts"] == {"tokens": 2 * tokens, "samples": 48, "steps": 6}  # no FLOPs passed: none
    assert ph["epoch 1"]["counts"]["tokens"] == tokens and ph["eval 1"]["counts"]["samples"] == 8
    assert ph["eval 1"]["kind"] == "evaluation" and ph["eval 1"]["parent"] is None
    for p in d["phases"]:  # 100 W: energy is each phase's own duration, evaluations paused out of train
        assert p["energy_j"]["total"] == pytest.approx(WATTS * p["duration_s"], rel=1e-3, abs=0.2)
    wall = d["extra"]["trainer"]["wall_s"]
    assert ph["train"]["duration_s"] + ph["eval 1"]["duration_s"] + ph["eval 2"]["duration_s"] == \
        pytest.approx(wall, abs=0.05)
    assert d["coverage"]["measured_fraction"] == 1.0 and d["sci"]["r"] == 2 * tokens / d["sci"]["scale"]
    assert d["extra"]["trainer"]["loop"] == "scer_hf.track_training"
    assert d["model"]["id"] == "my-finetune" and d["model"]["base_model"] == gpt2
    assert d["model"]["training_type"] == "fine-tuning" and d["model"]["parameters"] > 0
    # accelerate.log got the scer/* figures every 2 steps
    assert [s for _, s in logged] == [2, 4, 6] and all("scer/energy_j" in v for v, _ in logged)
    assert all(v["scer/co2e_g"] == pytest.approx(v["scer/energy_j"] / 3.6e6 * 100) for v, _ in logged)
    # the card and verify
    scer_hf.update_card(out, run.report)
    assert verify(out / "README.md").ok
    meta = split_card((out / "README.md").read_text()).data
    assert meta["pipeline_tag"] == "text-generation" and meta["library_name"] == "transformers"
    assert "base_model" not in meta  # a folder of this machine is no Hub id
    assert meta["co2_eq_emissions"]["training_type"] == "fine-tuning"


def test_a_loop_that_raises_leaves_a_partial_report_and_no_handler(gpt2: str, tmp_path: Path) -> None:
    import signal

    before = signal.getsignal(signal.SIGTERM)
    tok = tf.AutoTokenizer.from_pretrained(gpt2)
    model = tf.AutoModelForCausalLM.from_pretrained(gpt2)
    with pytest.raises(RuntimeError, match="user bug"):
        with scer_hf.track_training(model, output_dir=tmp_path, meters=[const()],
                                    carbon_intensity_g_per_kwh=100.0) as run:
            with run.epoch():
                run.step(tokens=10, samples=1)
                raise RuntimeError("user bug")
    d = Report.load(tmp_path / "scer_report.json").to_dict()
    assert d["status"] == "partial" and d["extra"]["trainer"]["interrupted"] == "RuntimeError raised in the training loop"
    assert signal.getsignal(signal.SIGTERM) is before


def test_resume_continues_totals_and_bad_arguments_are_typed(gpt2: str, tmp_path: Path) -> None:
    kw = dict(output_dir=tmp_path, meters=[const()], carbon_intensity_g_per_kwh=100.0)
    with scer_hf.track_training(**kw) as run:
        for _ in range(3):
            run.step(tokens=100, samples=2)
        run.save_state(tmp_path / "ckpt-3")
    saved = json.loads((tmp_path / "ckpt-3" / "scer_state.json").read_text())
    saved_j = sum(next(p for p in saved["phases"] if p["name"] == "train")["energy_j"].values())
    with scer_hf.track_training(resume_from=tmp_path / "ckpt-3", **kw) as again:
        again.step(tokens=100, samples=2)
    train = again.report.phase("train")
    assert again.run_id == run.run_id and train["counts"] == {"tokens": 400, "samples": 8, "steps": 4}
    assert train["energy_j"]["total"] > saved_j > 0  # the energy before the checkpoint is kept
    assert again.report["extra"]["trainer"]["resumed_from_step"] == 3
    for bad in (dict(counts="mine"), dict(log_every=0), dict(max_steps=-1), dict(projection_after=3)):
        with pytest.raises(CallbackConfigError):
            scer_hf.track_training(**bad)  # type: ignore[arg-type]
    with scer_hf.track_training(**kw) as run2:
        with pytest.raises(CallbackConfigError, match="counts are >= 0"):
            run2.step(tokens=-1)


def _launch(script: Path, out: Path, n: int) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n), str(script),
           str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=400)


def test_example_two_gloo_ranks_per_rank_energy_global_tokens_and_verify(tmp_path: Path) -> None:
    out = tmp_path / "acc2"
    res = _launch(ROOT / "examples" / "train_accelerate.py", out, 2)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    d = json.loads((out / "scer_report.json").read_text())
    ranks = d["extra"]["distributed"]["ranks"]
    assert [r["rank"] for r in ranks] == [0, 1] and all(r["energy_j"] > 0 for r in ranks)
    assert all(r["coverage"]["measured_fraction"] == 1.0 for r in ranks)
    train = next(p for p in d["phases"] if p["name"] == "train")
    assert any(c.startswith("rank1/") for c in train["energy_j"])
    assert train["counts"]["samples"] == 160 and train["counts"]["steps"] == 10  # 80 samples x 2 epochs, world
    assert [p["name"] for p in d["phases"]] == ["train", "epoch 1", "eval 1", "epoch 2", "eval 2"]
    assert verify(out / "README.md").ok and verify(out / "scer_report.json").ok
    assert "rank 1:" in res.stdout


def test_a_meter_that_dies_is_a_coverage_gap_and_the_object_form_works(tmp_path: Path) -> None:
    from scer_hf.core.meters import Meter, Reading
    from scer_hf.core.meters.base import now_s
    from scer_hf.core.tracker import MeasurementWarning

    class Dies(Meter):
        name, source, blocking = "dies", "test", False

        def __init__(self) -> None:
            super().__init__()
            self.n, self.t0 = 0, now_s()

        @property
        def components(self) -> tuple[str, ...]:
            return ("gpu:0",)

        def read(self) -> Reading:
            self.n += 1
            if self.n > 6:
                raise RuntimeError("GPU fell off the bus")
            t = now_s()
            return Reading(t, {"gpu:0": (t - self.t0) * WATTS})

    run = scer_hf.track_training(output_dir=tmp_path, meters=[Dies()], log_every=1, flush_every_s=0,
                                 carbon_intensity_g_per_kwh=100.0).start()
    with pytest.warns(MeasurementWarning, match="fell off the bus"):
        for _ in range(8):
            run.step(tokens=50, samples=1)
    rep = run.end()
    d = rep.to_dict()
    train = rep.phase("train")
    assert train["counts"] == {"tokens": 400, "samples": 8, "steps": 8}  # training went on, counted
    assert train["coverage"]["measured_fraction"] < 1.0 and any("fell off the bus" in e for e in train["errors"])
    assert d["coverage"]["headline"] is False and d["energy_j"] is None  # no false total, says why
    assert Report.load(tmp_path / "scer_report.json").status == "partial"
