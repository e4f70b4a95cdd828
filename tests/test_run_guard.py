"""SCERCallback gives back what it holds during train(): the SIGTERM handler and its report file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("torch")

import transformers as tf  # noqa: E402

from scer_hf import Report  # noqa: E402
from scer_hf.hf import run_guard as _run_guard  # noqa: E402
from scer_hf.hf.callback import SCERCallback  # noqa: E402
from tests.builders import const_meter, make_trainer  # noqa: E402

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def tiny(tiny_train_data) -> dict:  # type: ignore[no-untyped-def]
    return tiny_train_data(36, 24)


def _cb(**kw: object) -> SCERCallback:
    return SCERCallback(carbon_intensity_g_per_kwh=100.0, meters=[const_meter()], flush_every_s=0, **kw)


class Boom(tf.TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
        if state.global_step == 2:
            raise RuntimeError("user code failed at step 2")


@pytest.fixture()
def my_handler():  # type: ignore[no-untyped-def]
    calls: list[int] = []

    def handler(signum, frame):  # noqa: ANN001
        calls.append(signum)

    old = signal.signal(signal.SIGTERM, handler)
    yield handler, calls
    signal.signal(signal.SIGTERM, old)


def test_two_callbacks_same_path_restore_sigterm_and_keep_both_reports(tiny: dict, tmp_path: Path,
                                                                       my_handler) -> None:  # noqa: ANN001
    handler, calls = my_handler
    a, b = _cb(), _cb()
    trainer = make_trainer(tiny, tmp_path, [a, b], max_steps=3)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        trainer.train()
    taken = [w for w in seen if "report of another training run" in str(w.message)]
    assert len(taken) == 1, [str(w.message) for w in seen]
    assert signal.getsignal(signal.SIGTERM) is handler  # was b's handler chained over a's, left installed
    first = Report.load(tmp_path / "scer_report.json")
    second = Report.load(tmp_path / f"scer_report.{b.run_id}.json")
    assert first.status == second.status == "complete"
    assert {first.to_dict()["run_id"], second.to_dict()["run_id"]} == {a.run_id, b.run_id}
    assert f"scer_report.{b.run_id}.json" in str(taken[0].message)
    before = (tmp_path / "scer_report.json").read_bytes()
    os.kill(os.getpid(), signal.SIGTERM)  # a later SIGTERM: the user's handler only, reports untouched
    assert calls == [signal.SIGTERM]
    assert (tmp_path / "scer_report.json").read_bytes() == before
    assert Report.load(tmp_path / f"scer_report.{b.run_id}.json").status == "complete"


def test_sigterm_after_train_raised_goes_to_the_original_handler(tiny: dict, tmp_path: Path, my_handler) -> None:  # noqa: ANN001
    handler, calls = my_handler
    cb = _cb()
    trainer = make_trainer(tiny, tmp_path, [cb, Boom()], max_steps=5)
    with pytest.raises(RuntimeError, match="step 2"):
        trainer.train()
    before = (tmp_path / "scer_report.json").read_bytes()
    os.kill(os.getpid(), signal.SIGTERM)
    assert calls == [signal.SIGTERM]  # delivered to the user's handler, once
    assert (tmp_path / "scer_report.json").read_bytes() == before  # not rewritten as "interrupted by SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is handler  # and ours is gone
    # the run that raised does not keep its report file: a new run in this process writes the same path
    again = _cb()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        make_trainer(tiny, tmp_path, [again], max_steps=2).train()
    msgs = [str(w.message) for w in seen if "scer-hf" in str(w.message)]
    assert msgs == [f"scer-hf: {tmp_path / 'scer_report.json'} held a report of another run; kept it as "
                    f"scer_report.{cb.run_id}.json"], msgs  # not "another training run that is still going"
    assert Report.load(tmp_path / "scer_report.json").to_dict()["run_id"] == again.run_id
    assert Report.load(tmp_path / f"scer_report.{cb.run_id}.json").status == "partial"
    assert signal.getsignal(signal.SIGTERM) is handler


def test_sigterm_during_training_still_flushes_through_the_shared_handler(tiny: dict, tmp_path: Path,
                                                                          my_handler) -> None:  # noqa: ANN001
    handler, calls = my_handler

    class Term(tf.TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            if state.global_step == 2:
                assert signal.getsignal(signal.SIGTERM) is _run_guard._dispatch
                os.kill(os.getpid(), signal.SIGTERM)

    a = _cb(report_path=tmp_path / "a.json")
    b = _cb(report_path=tmp_path / "b.json")
    make_trainer(tiny, tmp_path, [a, b, Term()], max_steps=3).train()  # the user's handler lets training go on
    assert calls == [signal.SIGTERM]
    for p in ("a.json", "b.json"):
        d = Report.load(tmp_path / p).to_dict()
        assert d["status"] == "complete" and d["extra"]["trainer"]["interrupted"] == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is handler


def test_two_processes_same_report_path_both_complete_reports_survive(tiny: dict, tmp_path: Path) -> None:
    """Two training processes, one output_dir: one keeps scer_report.json, the other writes
    scer_report.<run_id>.json and warns once; both complete reports are on disk."""
    env = dict(os.environ, PYTHONWARNINGS="default", OMP_NUM_THREADS="1")
    out = tmp_path / "shared"
    procs = [subprocess.Popen([sys.executable, str(HERE / "callback_train_script.py"), str(tiny["path"]), str(out),
                               "40"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
             for _ in range(2)]
    outs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    reports = [Report.load(p) for p in sorted(out.glob("scer_report*.json"))]
    assert len(reports) == 2 and all(r.status == "complete" for r in reports), [r.status for r in reports]
    assert len({r.to_dict()["run_id"] for r in reports}) == 2
    # one warning: "still going" when the runs overlap, "kept it as" when one ended before the other began
    assert sum(o.count("report of another training run") + o.count("of another run; kept it as")
               for o in outs) == 1, outs


def test_register_reinstalls_after_a_raised_run_and_a_replaced_handler(my_handler) -> None:  # noqa: ANN001
    # a run whose train() raised never unregisters; the user then sets a SIGTERM handler of their own
    handler, _ = my_handler

    def dead_frame():  # noqa: ANN202
        return sys._getframe()

    stale = type("Stale", (), {"training": True, "train_token": (threading.get_ident(), dead_frame())})()
    assert _run_guard.register(stale)
    signal.signal(signal.SIGTERM, handler)
    fresh = type("Fresh", (), {"training": True, "train_token": None})()
    assert _run_guard.register(fresh)
    assert signal.getsignal(signal.SIGTERM) is _run_guard._dispatch  # the next run is covered again
    assert [r() for r in _run_guard._active] == [fresh]  # the stale run was dropped
    _run_guard.unregister(fresh)
    assert signal.getsignal(signal.SIGTERM) is handler  # and the user's handler comes back
