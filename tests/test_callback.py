"""SCERCallback on a tiny GPT-2 trained on CPU: phases, counts, logs, reports, faults, resume, 2 ranks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

tf = pytest.importorskip("transformers")
pytest.importorskip("torch")


from scer_hf import Report  # noqa: E402
from scer_hf.hf.callback import STATE_FILE, SCERCallback  # noqa: E402
from scer_hf.core.carbon import J_PER_KWH  # noqa: E402
from scer_hf.core.embodied import SECONDS_PER_YEAR  # noqa: E402
from scer_hf.errors import CallbackConfigError, MeterError, UnknownCountryError  # noqa: E402
from scer_hf.core.meters import Meter, Reading  # noqa: E402
from scer_hf.core.tracker import MeasurementWarning  # noqa: E402
from tests.builders import const_meter, make_trainer  # noqa: E402

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent
WATTS = 100.0
# The tracker reads its clock, then each meter reads its own: a preemption between the two (a loaded machine)
# shifts a window's energy against its duration. 2 ms at 100 W is the slack allowed for that.
TIMING_J = WATTS * 0.002


@pytest.fixture(scope="module")
def tiny(tiny_train_data) -> dict:  # type: ignore[no-untyped-def]
    return tiny_train_data(36, 24)  # 36 = 4 full batches + 4


def test_phases_counts_co2e_logs_and_saved_report(tiny: dict, tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "scer_report.json").write_text('{"run_id": "someoneelse", "keep": 1}')  # a report of another run
    cb = SCERCallback(carbon_intensity_g_per_kwh=100.0, pue=1.2, meters=[const_meter()], flush_every_s=0)
    trainer = make_trainer(tiny, out, [cb], max_steps=6, eval_strategy="steps", eval_steps=2)
    with pytest.warns(RuntimeWarning, match="another run; kept it as scer_report.someoneelse.json"):
        trainer.train()
    rep = cb.report
    d = rep.to_dict()
    names = [p["name"] for p in d["phases"]]
    assert names[:2] == ["train", "epoch 1"] and {"eval 1", "eval 2", "eval 3"} <= set(names)
    train, epoch = rep.phase("train"), rep.phase("epoch 1")
    evals = [p for p in d["phases"] if p["name"].startswith("eval")]
    assert train["kind"] == "training" and train["parent"] is None and epoch["parent"] == "train"
    assert all(p["kind"] == "evaluation" and p["parent"] is None and p["measured"] for p in evals)
    # constant 100 W: energy is 100 W x each phase's own duration
    for p in [train, epoch, *evals]:
        assert p["energy_j"]["total"] > 0
        assert p["energy_j"]["total"] == pytest.approx(WATTS * p["duration_s"], rel=1e-3, abs=TIMING_J)
    # evaluations are paused out of train: train + evals cover the wall time once, train has one segment per gap
    wall = d["extra"]["trainer"]["wall_s"]
    eval_s = sum(p["duration_s"] for p in evals)
    assert train["duration_s"] + eval_s == pytest.approx(wall, abs=0.02)
    # one window per segment: every meter read the callback makes (samples, logs, evaluations) splits them
    assert train["windows"] >= 1 + len(evals) and train["coverage"]["windows_measured"] == train["windows"]
    assert train["coverage"]["measured_fraction"] == 1.0 and "energy_j_filled" not in train
    # totals count top-level phases once; CO2e is energy x intensity x PUE exactly
    assert d["energy_j"] == pytest.approx(train["energy_j"]["total"] + sum(p["energy_j"]["total"] for p in evals))
    assert d["co2e_g"] == pytest.approx(d["energy_j"] / J_PER_KWH * 1.2 * 100.0, rel=1e-12)
    # counts from the Trainer: non-padding tokens, steps, samples, flops
    assert train["counts"]["tokens"] == trainer.state.num_input_tokens_seen > 0
    assert train["counts"]["steps"] == 6 and train["counts"]["flops"] == int(trainer.state.total_flos)
    assert train["counts"]["samples"] == 36 + 8  # epoch 1: all 36 (5 steps, last batch of 4); epoch 2: 1 step
    assert d["sci"]["unit"] == "gCO2eq per 1 million training tokens" and d["sci"]["r"] == train["counts"]["tokens"] / 1e6
    assert {a["functional_unit"] for a in d["sci_alternatives"]} >= {"1,000 samples"}
    model = trainer.model
    n = sum(p.numel() for p in model.parameters())
    assert d["model"] == {"id": "run", "id_basis": "the output folder's name (set hub_model_id to name the Hub repo)",
                          "parameters": n, "parameters_trainable": n, "task": "text-generation",
                          "training_type": "fine-tuning",  # loaded from_pretrained: the model trained is run/
                          "training_type_basis": "inferred from the starting checkpoint (config._name_or_path or "
                                                 "the PEFT adapter's base)", "library_name": "transformers",
                          "base_model": str(tiny["path"]), "base_model_local": True,
                          "base_model_basis": "config._name_or_path (the checkpoint from_pretrained loaded)"}
    assert d["status"] == "complete"
    # scer metrics are in the Trainer's log history, projected ones after the projection share
    logged = [h for h in trainer.state.log_history if "scer/energy_j" in h]
    assert len(logged) >= 6 and all(h["scer/co2e_g"] == pytest.approx(h["scer/energy_j"] / J_PER_KWH * 120)
                                    for h in logged)
    assert [h["scer/energy_j"] for h in logged] == sorted(h["scer/energy_j"] for h in logged)
    proj = [h for h in logged if "scer/projected_energy_j" in h]
    assert proj and all(h["scer/projected_energy_uncertainty_j"] >= 0 and "scer/projected_co2e_g" in h for h in proj)
    assert logged[-1]["scer/projected_energy_j"] == pytest.approx(logged[-1]["scer/energy_j"])  # no step left
    # saved atomically in output_dir; the other run's report was kept aside, not destroyed
    assert Report.load(out / "scer_report.json") == rep
    assert json.loads((out / "scer_report.someoneelse.json").read_text()) == {"run_id": "someoneelse", "keep": 1}


class Recorder(tf.TrainerCallback):
    def __init__(self) -> None:
        self.keys: set[str] = set()

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
        self.keys |= set(logs or {})


def test_alongside_other_callbacks_report_to_none_and_attach(tiny: dict, tmp_path: Path) -> None:
    rec_before, rec_after = Recorder(), Recorder()
    cb = SCERCallback(meters=[const_meter()], report_path=tmp_path / "r.json", projection_after=1.0,
                      hardware="Generic GPU card (any model)")
    trainer = make_trainer(tiny, tmp_path / "o", [rec_before, cb, rec_after], report_to="none", max_steps=3)
    trainer.evaluate()  # before train(): kept in the run's report
    trainer.train()
    assert "scer/energy_j" not in rec_before.keys and "scer/energy_j" in rec_after.keys
    # projection_after=1.0: projected values only once every step is done
    assert {h["step"] for h in trainer.state.log_history if "scer/projected_energy_j" in h} == {3}
    assert Report.load(tmp_path / "r.json").phase("train")["counts"]["steps"] == 3
    trainer.evaluate()  # after train(): added to the saved, complete report
    saved = Report.load(tmp_path / "r.json").to_dict()
    assert [p["name"] for p in saved["phases"]] == ["eval 1", "train", "epoch 1", "eval 2"]
    assert saved["status"] == "complete" and saved["phases"][3]["counts"] == {"samples": 8, "steps": 1}
    assert saved["energy_j"] == pytest.approx(sum(p["energy_j"]["total"] for p in saved["phases"]
                                                  if p["parent"] is None))
    # embodied: 150 kg x (wall time / 4 years) for one process (table row, lifetime 4 years)
    wall = saved["extra"]["trainer"]["wall_s"]
    assert saved["embodied_g"] == pytest.approx(150_000 * wall / (4 * SECONDS_PER_YEAR), rel=1e-9)
    assert saved["embodied"]["hardware"] == "Generic GPU card (any model)"
    # attach() moves it before integrations/user callbacks so they see the keys too
    rec = Recorder()
    cb2 = SCERCallback(meters=[const_meter()], report_path=tmp_path / "r2.json", log_metrics=True)
    trainer2 = make_trainer(tiny, tmp_path / "o2", [rec, cb2], max_steps=2)
    cb2.attach(trainer2)
    trainer2.train()
    assert "scer/energy_j" in rec.keys


def test_push_hook_calls_card_push_when_present(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    calls = []
    mod = types.ModuleType("scer_hf.hf.push")
    mod.on_push_begin = lambda cb, args, state, control, **kw: calls.append((cb, args, kw))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "scer_hf.hf.push", mod)
    import scer_hf.hf

    monkeypatch.setattr(scer_hf.hf, "push", mod, raising=False)  # `from . import` reads the package attribute
    cb = SCERCallback()
    cb.on_push_begin("ARGS", "STATE", "CONTROL", model="M")
    assert calls == [(cb, "ARGS", {"model": "M"})]


def test_evaluation_called_off_gives_time_back_to_train_and_predict_is_its_own_phase(tiny: dict,
                                                                                   tmp_path: Path) -> None:
    class NoEval(tf.TrainerCallback):  # after SCERCallback: cancels the evaluation it prepared for
        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            control.should_evaluate = False
            time.sleep(0.05)  # inside the would-be evaluation window: must end up in train, not lost

    cb = SCERCallback(meters=[const_meter()], report_path=tmp_path / "r.json")
    trainer = make_trainer(tiny, tmp_path / "o", [cb, NoEval()], max_steps=4, eval_strategy="steps", eval_steps=1)
    trainer.train()
    d = cb.report.to_dict()
    assert [p["name"] for p in d["phases"]] == ["train", "epoch 1"]
    train = d["phases"][0]
    assert train["duration_s"] == pytest.approx(d["extra"]["trainer"]["wall_s"], abs=0.02)  # no gap left
    # paused at each of the 4 steps, resumed from where each pause began (plus the windows the logs split off)
    assert train["windows"] >= 5 and train["coverage"]["measured_fraction"] == 1.0
    assert train["energy_j"]["total"] == pytest.approx(WATTS * train["duration_s"], rel=1e-3, abs=TIMING_J)
    trainer.predict(tiny["ds"].select(range(8)))
    pred = cb.report.phase("predict 1")
    assert pred["kind"] == "inference" and pred["parent"] is None and pred["counts"]["steps"] == 1
    assert Report.load(tmp_path / "r.json").phase("predict 1") == pred


class BrokenMeter(Meter):
    name = "broken"

    @property
    def components(self) -> tuple[str, ...]:
        return ("gpu:0",)

    def read(self) -> Reading:
        raise MeterError("device lost")


def test_meter_faults_warn_once_and_training_completes(tiny: dict, tmp_path: Path) -> None:
    cb = SCERCallback(meters=[BrokenMeter()], report_path=tmp_path / "r.json")
    with pytest.warns(MeasurementWarning) as rec:
        trainer = make_trainer(tiny, tmp_path / "o", [cb], max_steps=4)
        trainer.train()
    assert len([w for w in rec if issubclass(w.category, MeasurementWarning)]) == 1
    assert trainer.state.global_step == 4
    d = Report.load(tmp_path / "r.json").to_dict()
    assert all(not p["measured"] and p["method"] == "unmeasured" for p in d["phases"])
    assert d["provenance"]["failed_meters"] == {"broken": "device lost"}
    # a one-off fault (ReplayMeter.fail_next) at the epoch's closing read: that phase is unmeasured, the rest is not
    m = const_meter()

    class Inject(tf.TrainerCallback):
        def on_epoch_end(self, args, state, control, **kwargs):  # noqa: ANN001
            m.fail_next = OSError("transient")

    cb2 = SCERCallback(meters=[m], report_path=tmp_path / "r2.json")
    trainer2 = make_trainer(tiny, tmp_path / "o2", [Inject(), cb2], max_steps=3)
    with pytest.warns(MeasurementWarning, match="transient"):
        trainer2.train()
    assert trainer2.state.global_step == 3
    rep = cb2.report
    # the failed read closed epoch 1: its last window is a coverage gap, filled at the power measured around it in
    # the same phase, and labelled; the reason is kept; the report is partial, never a false figure
    p = rep.phase("epoch 1")
    assert p["measured"] is False and p["method"] == "counter" and any("transient" in e for e in p["errors"])
    assert 0 < p["coverage"]["measured_fraction"] < 1 and p["coverage"]["windows_measured"] < p["windows"]
    assert p["energy_j_filled"]["total"] > 0
    assert p["energy_j"]["total"] == pytest.approx(WATTS * p["duration_s"], rel=1e-3, abs=TIMING_J)  # 100 W
    # train's own windows never needed that read (a read that raised says nothing about the counter's continuity)
    assert rep.phase("train")["measured"] is True and rep.coverage["measured_fraction"] == 1
    assert rep.status == "partial"  # complete only when every phase is fully measured
    # a fault on a mid-phase read (a log) costs the windows around it, not the run: later logs say the coverage
    m3 = const_meter()

    class InjectLog(tf.TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
            if state.global_step == 1:
                m3.fail_next = OSError("blip")

    cb3 = SCERCallback(meters=[m3], report_path=tmp_path / "r3.json")
    trainer3 = make_trainer(tiny, tmp_path / "o3", [cb3, InjectLog()], max_steps=3)
    with pytest.warns(MeasurementWarning, match="blip"):
        trainer3.train()
    train3 = cb3.report.phase("train")
    assert train3["measured"] is False and any("blip" in e for e in train3["errors"])
    assert 0 < train3["coverage"]["measured_fraction"] < 1
    later = [h for h in trainer3.state.log_history if h.get("step", 0) >= 2 and "loss" in h]
    assert later and all(h["scer/coverage"] < 1 for h in later)
    assert all(h["scer/coverage"] >= 0.9 for h in later if "scer/energy_j" in h)  # a total only above the threshold


def test_a_bug_inside_the_callback_is_a_warning_not_a_crash(tiny: dict, tmp_path: Path) -> None:
    def bad_factory(gpu_indices, measure_host):  # noqa: ANN001
        raise ZeroDivisionError("bug in a meter factory")

    cb = SCERCallback(meters=bad_factory, report_path=tmp_path / "r.json")
    with pytest.warns(RuntimeWarning, match="meter setup failed .*ZeroDivisionError"):
        trainer = make_trainer(tiny, tmp_path / "o", [cb], max_steps=2)
        trainer.train()
    assert trainer.state.global_step == 2
    d = Report.load(tmp_path / "r.json").to_dict()  # nothing measured: no figure at all, never a zero
    assert d["energy_j"] is None and d["co2e_g"] is None and d["sci"] is None and d["status"] == "partial"
    assert d["phases"][0]["energy_j"]["total"] is None and d["coverage"]["measured_fraction"] == 0


def test_exception_in_another_callback_leaves_partial_report(tiny: dict, tmp_path: Path) -> None:
    class Boom(tf.TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            if state.global_step == 3:
                raise RuntimeError("boom")

    cb = SCERCallback(meters=[const_meter()], flush_every_s=0)
    trainer = make_trainer(tiny, tmp_path / "o", [cb, Boom()], max_steps=10)
    with pytest.raises(RuntimeError, match="boom"):
        trainer.train()
    rep = Report.load(tmp_path / "o" / "scer_report.json")
    assert rep.status == "partial" and rep.phase("train")["counts"]["steps"] == 2
    assert rep.phase("train")["energy_j"]["total"] > 0


def test_resume_from_checkpoint_keeps_totals(tiny: dict, tmp_path: Path) -> None:
    out = tmp_path / "o"
    cb1 = SCERCallback(meters=[const_meter()])
    t1 = make_trainer(tiny, out, [cb1], max_steps=5, save_strategy="steps", save_steps=2)  # saves at 2, 4, 5
    t1.train()
    saved = json.loads((out / "checkpoint-4" / STATE_FILE).read_text())
    saved_train = next(p for p in saved["phases"] if p["name"] == "train")
    assert saved_train["counts"]["steps"] == 4 and saved["run_id"] == cb1.run_id

    # from the middle of epoch 1 (5 steps an epoch): epoch 1 continues in a second window
    cb2 = SCERCallback(meters=[const_meter()])
    t2 = make_trainer(tiny, out, [cb2], max_steps=7, save_strategy="no")
    t2.train(resume_from_checkpoint=str(out / "checkpoint-4"))
    rep = cb2.report.to_dict()
    train = next(p for p in rep["phases"] if p["name"] == "train")
    assert rep["run_id"] == cb1.run_id and rep["extra"]["trainer"]["resumed_from_step"] == 4
    assert train["counts"]["steps"] == 7
    assert train["counts"]["tokens"] == t2.state.num_input_tokens_seen > saved_train["counts"]["tokens"]
    new_part = train["energy_j"]["total"] - sum(v for k, v in saved_train["energy_j"].items())
    assert new_part > 0
    assert train["energy_j"]["total"] == pytest.approx(WATTS * train["duration_s"], rel=1e-3, abs=TIMING_J)
    assert train["duration_s"] > saved_train["duration_s"]
    assert train["windows"] > saved_train["windows"] and train["coverage"]["measured_fraction"] == 1.0
    ep1, ep2 = (next(p for p in rep["phases"] if p["name"] == n) for n in ("epoch 1", "epoch 2"))
    assert ep1["windows"] >= 2 and ep1["counts"]["steps"] == 5 and ep1["counts"]["samples"] == 36  # 4 + 1 after resume
    assert ep2["windows"] >= 1 and ep2["counts"]["steps"] == 2

    # from epoch 1's last step (saved before on_epoch_end, so epoch 1 was still open): it is kept as saved
    saved5 = json.loads((out / "checkpoint-5" / STATE_FILE).read_text())
    assert {p["name"]: p["closed"] for p in saved5["phases"]} == {"train": False, "epoch 1": False}
    cb3 = SCERCallback(meters=[const_meter()])
    t3 = make_trainer(tiny, out, [cb3], max_steps=7, save_strategy="no")
    t3.train(resume_from_checkpoint=str(out / "checkpoint-5"))
    rep3 = cb3.report.to_dict()
    names = [p["name"] for p in rep3["phases"]]
    assert names == ["train", "epoch 1", "epoch 2"]
    tr3, e1, e2 = rep3["phases"]
    saved_e1 = next(p for p in saved5["phases"] if p["name"] == "epoch 1")
    assert e1["windows"] == saved_e1["windows"]  # kept as saved
    assert e1["counts"] == {"samples": 36, "steps": 5, "tokens": e1["counts"]["tokens"]}
    assert e2["counts"]["steps"] == 2 and tr3["counts"]["steps"] == 7
    assert tr3["counts"]["samples"] == 36 + 2 * 8 and tr3["counts"]["tokens"] == t3.state.num_input_tokens_seen


def test_bad_arguments_raise_typed_errors() -> None:
    with pytest.raises(CallbackConfigError, match="projection_after"):
        SCERCallback(projection_after=2)
    with pytest.raises(UnknownCountryError, match="FRA|alpha-3"):
        SCERCallback(country_iso_code="FR")
    cb = SCERCallback(country_iso_code="FRA")
    assert cb.carbon.country_iso_code == "FRA" and cb.report is None
    with pytest.warns(DeprecationWarning, match=r"SCERCallback.rating is deprecated .* scer_hf.rate\(cb.report\)"):
        assert cb.rating is None
    # were accepted, then failed inside the Trainer (no measurement) or raised a bare TypeError
    with pytest.raises(CallbackConfigError, match="meters="):
        SCERCallback(meters=42)
    with pytest.raises(CallbackConfigError, match="meters="):
        SCERCallback(meters=["cpu"])
    with pytest.raises(CallbackConfigError, match="report_path="):
        SCERCallback(report_path=42)  # type: ignore[arg-type]
    from scer_hf.core.meters import ReplayMeter

    m = ReplayMeter({"gpu:0": [(0.0, 1.0)]})
    assert SCERCallback(meters=(m,)).run._meters_arg == [m]  # any iterable of meters


def test_nvml_index_follows_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    import torch

    from scer_hf.hf.distributed import RankInfo, nvml_indices

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # no GPU here: the boundary is faked
    args = types.SimpleNamespace(n_gpu=1, device=torch.device("cuda", 1))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert nvml_indices(args, RankInfo(1, 1, 2)) == [1]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6")
    assert nvml_indices(args, RankInfo(1, 1, 2)) == [6]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-1234,GPU-5678")
    assert nvml_indices(args, RankInfo(1, 1, 2)) is None  # UUIDs: every visible GPU
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert nvml_indices(types.SimpleNamespace(n_gpu=2, device=torch.device("cuda", 0)), RankInfo()) is None
    # training on the CPU meters no GPU: the node's idle GPUs are not the run's energy
    assert nvml_indices(types.SimpleNamespace(n_gpu=0, device=torch.device("cpu")), RankInfo()) == []  # use_cpu
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # CPU torch build on a GPU node
    assert nvml_indices(args, RankInfo()) == []


def test_node_counters_once_per_node_process_estimates_on_every_rank(tmp_path: Path) -> None:
    sys.path.insert(0, str(HERE))
    from tests.builders import make_rapl

    from scer_hf.hf.distributed import meters_for_rank
    from scer_hf.core.meters import auto

    make_rapl(tmp_path, dram=False)  # RAPL package counter, no DRAM domain: RAM is estimated per process
    for local_rank in (0, 1):
        ms = auto(gpu=False, host=True, powercap_root=str(tmp_path))
        kept, choices = meters_for_rank(ms, measures_host=local_rank == 0)
        comps = {c for m in kept for c in m.components}
        if local_rank == 0:
            assert comps == {"cpu:0", "ram"}
        else:  # the package counter is the node's: rank 0 reads it; this process's RAM estimate stays
            assert comps == {"ram"} and choices["cpu"].startswith("node-wide counter")
    ms = auto(gpu=False, host=True, powercap_root=str(tmp_path / "none"))  # no RAPL: estimates only
    kept, _ = meters_for_rank(ms, measures_host=False)
    assert {c for m in kept for c in m.components} == {"cpu:est", "ram"}


def _wait_for_step(path: Path, step: int, proc: subprocess.Popen, timeout_s: float = 150) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if proc.poll() is not None:
            raise AssertionError(f"training process exited early: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if Report.load(path).to_dict()["extra"]["trainer"]["global_step"] >= step:
                return
        except Exception:  # noqa: BLE001 - not written yet
            pass
        time.sleep(0.1)
    raise AssertionError("no flushed report in time")


def test_sigterm_kill9_and_crash_leave_a_loadable_partial_report(tiny: dict, tmp_path: Path) -> None:
    script = HERE / "callback_train_script.py"
    procs = {}
    for how in ("term", "kill", "crash"):  # started together: they share the import time
        env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
        if how == "crash":
            env["SCER_TEST_RAISE_AT"] = "4"
        log = open(tmp_path / f"{how}.log", "w")  # a file, not a pipe: a full pipe would stall the run  # noqa: SIM115
        procs[how] = subprocess.Popen([sys.executable, str(script), str(tiny["path"]), str(tmp_path / how), "100000"],
                                      stdout=log, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        for how, sig in (("term", signal.SIGTERM), ("kill", signal.SIGKILL)):
            _wait_for_step(tmp_path / how / "scer_report.json", 3, procs[how])
            procs[how].send_signal(sig)
            assert procs[how].wait(timeout=60) == -sig
        procs["crash"].wait(timeout=150)
        out = (tmp_path / "crash.log").read_text()
        assert procs["crash"].returncode == 1 and "crash at step 4" in out
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
    term = Report.load(tmp_path / "term" / "scer_report.json").to_dict()
    assert term["status"] == "partial" and term["extra"]["trainer"]["interrupted"] == "SIGTERM"
    assert term["phases"][0]["name"] == "train" and term["energy_j"] > 0
    killed = Report.load(tmp_path / "kill" / "scer_report.json")
    assert killed.status == "partial" and killed.phase("train")["counts"]["steps"] >= 3
    # the crash: the last log was at step 3; the exit flush still saw step 4
    crashed = Report.load(tmp_path / "crash" / "scer_report.json").to_dict()
    assert crashed["status"] == "partial" and crashed["phases"][0]["counts"]["steps"] == 4
    assert crashed["extra"]["trainer"]["interrupted"] == "process exited during training"


def test_two_ranks_gloo_measure_host_once(tiny: dict, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(HERE / "callback_train_script.py"), str(tiny["path"]), str(out), "4"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
    try:
        log, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:  # the launcher and both workers are in their own session
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, log[-4000:]
    d = Report.load(out / "scer_report.json").to_dict()
    train = d["phases"][0]
    comps = set(train["energy_j"]) - {"total"}
    assert comps == {"rank0/gpu:0", "rank0/cpu:0", "rank1/gpu:1"}  # no rank1 host: measured once per node
    e = train["energy_j"]
    assert e["rank0/cpu:0"] == pytest.approx(e["rank0/gpu:0"] * 20 / 50, rel=1e-2)  # same windows on rank 0
    ranks = d["extra"]["distributed"]["ranks"]
    assert [r["measures_host"] for r in ranks] == [True, False]
    assert ranks[1]["energy_j"] == pytest.approx(50.0 * ranks[1]["duration_s"], rel=1e-2)
    assert ranks[0]["energy_j"] == pytest.approx(70.0 * ranks[0]["duration_s"], rel=1e-2)
    assert d["energy_j"] == pytest.approx(ranks[0]["energy_j"] + ranks[1]["energy_j"])
    assert train["counts"]["tokens"] == int((out / "done.0").read_text()) == int((out / "done.1").read_text())
    assert train["counts"]["steps"] == 4 and d["status"] == "complete"
    # logs carry the sum over ranks (rank 0 alone would be 70/120 of it)
    logged = [h["scer/energy_j"] for h in json.loads((out / "log_history.json").read_text()) if "scer/energy_j" in h]
    assert len(logged) >= 4 and logged == sorted(logged)
    assert 0.8 * d["energy_j"] < logged[-1] <= d["energy_j"]
