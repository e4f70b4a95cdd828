"""hf/'s typed records and the run's reporting collaborator (issue 25): round trips, and what each view reads."""

from __future__ import annotations

import gc
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytest.importorskip("torch")

import scer_hf
from scer_hf import Report
from scer_hf._io import try_file_lock
from scer_hf.core.carbon import carbon_intensity
from scer_hf.core.coverage import Coverage
from scer_hf.core.phasebook import PhaseBook
from scer_hf.core.tracker import Measurement
from scer_hf.core.warn import WarnOnce
from scer_hf.hf import distributed as dist
from scer_hf.hf import run_guard
from scer_hf.hf.identity import ModelInfo
from scer_hf.hf.pipeline._call import GenCounts
from scer_hf.hf.protocol import GENERATION, SETTINGS, Interval, interval_of, sequential_ci
from scer_hf.hf.quality import per_quality_unit
from scer_hf.hf.run import Progress, TrainingRun
from scer_hf.hf.run_report import ReportedRun, ReportSettings, RunReporter
from scer_hf.hf.run_state import SavedState, read_state
from scer_hf.hf.run_world import World, project, world_logs
from tests.builders import const_meter

CARBON = carbon_intensity(g_per_kwh=100.0)


def _checkpoint(tmp_path: Path) -> Path:
    run = scer_hf.track_training(output_dir=tmp_path, meters=[const_meter()], carbon_intensity_g_per_kwh=100.0)
    with run, run.epoch():
        for _ in range(3):
            run.step(tokens=100, samples=2)
        run.save_state(tmp_path / "ckpt-3")  # an open epoch, a closed one would round-trip the same
    return tmp_path / "ckpt-3"


# -- checkpoint state ---------------------------------------------------------------------------------------------
def test_saved_state_round_trips_the_file_written(tmp_path: Path) -> None:
    ckpt = _checkpoint(tmp_path)
    raw = json.loads((ckpt / "scer_state.json").read_text())
    state = read_state(ckpt, dist.RankInfo())
    assert state.to_dict() == raw  # what a resume reads is what was written, key for key
    assert list(state.to_dict()) == list(raw)  # in the file's order
    assert state.global_step == 3 and state.world_size == 1 and {p.measurement.name for p in state.phases} == {
        "train", "epoch 1"}
    train = next(p for p in state.phases if p.measurement.name == "train")
    assert not train.closed and train.kind == "training" and train.measurement.counts["tokens"] == 300
    assert [s for s, _ in state.samples] == sorted(s for s, _ in state.samples)


def test_saved_state_refuses_what_is_not_one() -> None:
    with pytest.raises(ValueError, match="not a scer-hf callback state"):
        SavedState.from_dict({"schema": "something else"})
    with pytest.raises(ValueError, match="damaged"):
        SavedState.from_dict({"schema": "scer-hf/callback-state", "phases": [{"name": "train"}]})


def test_measurement_dict_round_trips() -> None:
    m = Measurement("train", 0.0, 2.0, {"cpu:0": 10.0}, counts={"tokens": 5, "steps": 1}, errors=("x failed",),
                    windows=2, duration_s=2.0, coverage=Coverage.full(2.0, {"cpu:0": 10.0}, {"tokens": 5}, 2))
    d = dist.measurement_to_dict(m)
    assert dist.measurement_to_dict(dist.measurement_from_dict(d)) == d
    back = dist.measurement_from_dict(json.loads(json.dumps(d)))  # as saved and read back
    assert (back.name, dict(back.energy_j), dict(back.counts), back.errors, back.windows) == (
        "train", {"cpu:0": 10.0}, {"tokens": 5, "steps": 1}, ("x failed",), 2)


# -- ranks ---------------------------------------------------------------------------------------------------------
def _phase(name: str, energy: float, parent: str | None = None) -> dist.MeasurementDict:
    return dist.measurement_to_dict(Measurement(name, 0.0, 10.0, {"gpu:0": energy}, counts={"steps": 4},
                                                parent=parent, duration_s=10.0))


def _payload(rank: int, energy: float, **kw: object) -> dist.RankPayload:
    prov = dist.provenance_of({"meters": [{"meter": "nvml", "components": ["gpu:0"]}], "choices": {"gpu": "nvml"},
                               "failed_meters": {}})
    return dist.RankPayload(rank, rank, rank == 0, True, (_phase("train", energy), _phase("epoch 1", energy, "train")),
                            prov, **kw)  # type: ignore[arg-type]


def test_combine_ranks_prefixes_components_and_a_failed_rank_is_a_gap() -> None:
    phases, prov, detail = dist.combine_ranks([_payload(1, 20.0), _payload(0, 10.0),
                                               dist.failed_payload(dist.RankInfo(2, 0, 3), "meters broke")])
    train = next(m for m in phases if m.name == "train")
    assert dict(train.energy_j) == {"rank0/gpu:0": 10.0, "rank1/gpu:0": 20.0} and not train.measured
    assert detail["world_size"] == 3 and [r["rank"] for r in detail["ranks"]] == [0, 1, 2]
    assert detail["ranks"][2]["failed"] == "meters broke" and detail["ranks"][2]["energy_j"] is None
    assert detail["ranks"][0]["duration_s"] == 10.0  # top-level phases only
    assert [m["components"] for m in prov.meters] == [["rank0/gpu:0"], ["rank1/gpu:0"]]
    assert prov.choices == {"rank0": {"gpu": "nvml"}, "rank1": {"gpu": "nvml"}, "rank2": {}}
    assert prov.failed_meters == {"rank2/setup": "meters broke"}
    assert prov.to_dict() == {"meters": list(prov.meters), "choices": prov.choices,
                              "failed_meters": prov.failed_meters}


def test_provenance_of_a_tracker_round_trips() -> None:
    book = PhaseBook([const_meter()])
    raw = book.provenance()
    assert dist.provenance_of(raw).to_dict() == raw
    assert dist.provenance_of(raw).failed("setup", "why").failed_meters == {**raw["failed_meters"], "setup": "why"}


def test_world_keeps_each_rank_and_names_the_silent_ones() -> None:
    me, other = dist.RankInfo(0, 0, 3), dist.RankInfo(1, 0, 3)
    w = World()
    w.absorb(_payload(1, 20.0), me)
    w.absorb(_payload(1, 30.0), me)  # the latest phases win, by name
    got = w.payloads(me)
    assert [p.rank for p in got] == [1, 0, 2] and not got[0].failed  # the silent ones after the heard ones
    assert all(p.failed and p.local_rank == -1 and not p.phases for p in got[1:])
    assert [d["energy_j"] for d in got[0].phases] == [{"gpu:0": 30.0}, {"gpu:0": 30.0}]
    shy = World()
    shy.absorb(_payload(0, 10.0), other)  # a rank other than 0 keeps only its own
    assert [p.rank for p in shy.payloads(other)] == [0, 1, 2] and all(p.failed for p in shy.payloads(other))


def test_world_logs_sum_ranks_and_show_only_coverage_without_a_total() -> None:
    proj = dist.Projection(100.0, 1.0, 10.0, 0.1, 3)
    a = _payload(0, 0.0, live=dist.LiveFigures(10.0, 1.0, proj))
    b = _payload(1, 0.0, live=dist.LiveFigures(20.0, 0.5, proj))
    logs = world_logs([a, b], CARBON)
    assert logs["scer/energy_j"] == 30.0 and logs["scer/coverage"] == 0.5
    assert logs["scer/projected_energy_j"] == 200.0 and logs["scer/projected_energy_uncertainty_j"] == 20.0
    assert world_logs([a, _payload(1, 0.0)], CARBON) == {"scer/coverage": 0.0}  # a rank sent no live figures


def test_projection_from_linear_samples() -> None:
    pts = [(0, 0.0), (10, 100.0), (20, 200.0)]
    p = project(pts, 30, 100, 300.0, 300.0, CARBON)
    assert p is not None and p.energy_j == pytest.approx(1000.0) and p.energy_uncertainty_j == pytest.approx(0.0)
    assert p.windows == 3 and p.to_dict("b")["projected_energy_j"] == p.energy_j
    assert list(p.to_dict("b")) == [*p.figures(), "windows", "basis"]
    assert project(pts[:1], 10, 100, 100.0, 100.0, CARBON) is None  # one window: no spread


# -- the reporting collaborator --------------------------------------------------------------------------------------
def test_training_run_holds_a_reporter_and_is_not_one() -> None:
    run = TrainingRun(carbon_intensity_g_per_kwh=100.0, meters=[const_meter()])
    assert isinstance(run.reporting, RunReporter) and not isinstance(run, RunReporter)
    assert run.reporting.run is run and run.carbon == run.reporting.settings.carbon
    with pytest.warns(DeprecationWarning, match="moved"):
        import importlib

        import scer_hf.hf.callback_report as cr

        importlib.reload(cr)
    assert cr.ReportingMixin is RunReporter and cr.STATE_FILE == "scer_state.json" and callable(cr.task_of)


@dataclass
class _Run:
    """A run that is nothing but the contract (:class:`ReportedRun`): the reporter needs no more."""

    book: PhaseBook
    run_id: str = "contract"
    model_info: ModelInfo = field(default_factory=lambda: ModelInfo(id="org/m", parameters=None, task=None))
    output_dir: str | None = None
    tokens_counted: str = "non_padding"
    rank: dist.RankInfo = field(default_factory=dist.RankInfo)
    training: bool = True
    progress: Progress | None = field(default_factory=lambda: Progress(global_step=2, max_steps=10))
    samples: list[tuple[int, float]] = field(default_factory=list)
    setup_failed: str | None = None
    resumed_from: int | None = None
    samples_rule: str = "samples passed to step(samples=...)"
    halted: bool = False

    def wall_s(self) -> float:
        return 1.5

    def open_counts(self, name: str) -> dict[str, float] | None:
        return {"steps": 2.0}

    def halt(self) -> None:
        self.training, self.halted = False, True


def test_reporter_works_from_the_contract_alone(tmp_path: Path) -> None:
    book = PhaseBook([const_meter()])
    run = _Run(book, output_dir=str(tmp_path))
    contract: ReportedRun = run  # mypy checks the fake against the protocol
    rep = RunReporter(contract, ReportSettings(CARBON, flush_every_s=0), WarnOnce(RuntimeWarning))
    book.open("train", parent=None, kind="training", edge=book.edge())
    rep.flush(force=True)
    saved = Report.load(tmp_path / "scer_report.json").to_dict()
    assert saved["status"] == "partial" and saved["run_id"] == "contract" and saved["model"]["id"] == "org/m"
    assert saved["phases"][0]["counts"] == {"steps": 2.0}
    assert saved["extra"]["trainer"]["wall_s"] == 1.5 and saved["extra"]["distributed"] == {"world_size": 1}
    assert run_guard.holds(rep)  # the file is this run's until it ends
    rep.on_sigterm()  # SIGTERM: an urgent flush, marked
    assert Report.load(tmp_path / "scer_report.json").to_dict()["extra"]["trainer"]["interrupted"] == "SIGTERM"
    rep.die()
    assert run.halted and not rep.training
    rep.reset()
    assert not run_guard.holds(rep)


@dataclass
class _Guarded:
    training: bool = True
    train_token: run_guard.TrainToken | None = None
    dropped: bool = False

    def drop(self) -> None:
        self.training, self.dropped = False, True

    def on_sigterm(self) -> None:  # pragma: no cover - not signalled here
        pass

    def die(self) -> None:  # pragma: no cover - not signalled here
        pass


def test_run_guard_holds_one_run_per_file_and_frees_a_dead_holder(tmp_path: Path) -> None:
    path = tmp_path / "scer_report.json"
    a, b = _Guarded(), _Guarded()
    assert run_guard.claim(a, path) is not None and run_guard.holds(a)
    assert run_guard.claim(b, path) is None and not run_guard.holds(b)  # a still trains
    a.training = False  # a's train() raised: it never said it ended
    assert run_guard.claim(b, path) is not None and a.dropped and not run_guard.holds(a)
    run_guard.release(b)
    assert not run_guard.holds(b)


def test_a_run_dropped_without_release_frees_its_report_file(tmp_path: Path) -> None:
    path = tmp_path / "scer_report.json"
    c = _Guarded()
    assert run_guard.claim(c, path) is not None
    del c
    gc.collect()
    lock = try_file_lock(path)  # another run (or process) may write the file now
    assert lock is not None
    lock.release()


# -- benchmark, quality, calls -----------------------------------------------------------------------------------
def test_generation_settings_are_the_published_dicts() -> None:
    assert {k: g.to_dict() for k, g in GENERATION.items()} == SETTINGS
    assert SETTINGS["aienergyscore"] == {"max_new_tokens": 10, "batch_size": 1, "source": GENERATION[
        "aienergyscore"].source}


def test_interval_reads_the_stopping_rule() -> None:
    values = [1.0, 1.2, 0.9, 1.1]
    d = sequential_ci(values, 0.95)
    iv = interval_of(values, 0.95)
    assert (iv.n, iv.mean_j_per_query, iv.half_width_j, iv.rel_half_width, iv.confidence, iv.quantile_level) == (
        d["n"], d["mean_j_per_query"], d["half_width_j"], d["rel_half_width"], d["confidence"], d["quantile_level"])
    assert Interval.of(sequential_ci([1.0])).half_width_j is None


def test_quality_per_unit_reads_the_report() -> None:
    from tests.builders import inference_report

    rep = inference_report()
    per = per_quality_unit(rep, 0.25, "text-generation")
    assert per_quality_unit(rep, 0.0, "fill-mask")["value"] is None and "masked-token" in per_quality_unit(
        rep, 0.5, "fill-mask")["note"]
    sci = rep.sci
    assert sci is not None and per["value"] == pytest.approx(sci["value"] / 0.25)
    assert per["unit"] == f"gCO2eq per {sci['functional_unit']} at full quality" and per["quality_score"] == 0.25


def test_gen_counts_in_the_phase_order() -> None:
    c = GenCounts(queries=2, input_tokens=7, output_tokens=3, batches=1)
    assert c.as_counts() == {"queries": 2, "input_tokens": 7, "output_tokens": 3, "batches": 1, "tokens": 10}
    assert list(c.as_counts()) == ["queries", "input_tokens", "output_tokens", "batches", "tokens"]


def test_no_warning_from_the_typed_paths(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _checkpoint(tmp_path)
