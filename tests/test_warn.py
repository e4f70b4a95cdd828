"""The one warn-once helper (``scer_hf.core.warn.WarnOnce``), the pipeline call's collaborators passed in, and the
deprecated ``SCERCallback.rating`` (issue 25)."""

from __future__ import annotations

import threading
import warnings
from types import SimpleNamespace
from typing import Any

import pytest

from scer_hf.core.calls import CallTracker
from scer_hf.core.tracker import MeasurementWarning
from scer_hf.core.warn import WarnOnce
from tests.builders import Clock, const_gpu_meter


def test_warns_once_per_key_with_prefix_and_category() -> None:
    w = WarnOnce(MeasurementWarning, "scer-hf: ")
    with pytest.warns(MeasurementWarning) as got:
        assert w("a", "first") is True
        assert w("a", "again") is False
        assert w("b", "other") is True
    assert [str(x.message) for x in got] == ["scer-hf: first", "scer-hf: other"]
    assert "a" in w and "c" not in w
    w.clear()
    with pytest.warns(MeasurementWarning, match="once more"):
        w("a", "once more")


def test_first_marks_several_keys_at_once() -> None:
    w = WarnOnce()
    assert w.first("hook", "ValueError: x") is True
    assert w.first("hook", "KeyError: y") is False  # one of the keys was seen
    assert w.first("other", "ValueError: x") is False


def test_the_warning_points_at_the_caller_s_caller() -> None:
    w = WarnOnce(RuntimeWarning, stacklevel=2)

    def library_step() -> None:
        w("k", "trouble")

    with pytest.warns(RuntimeWarning) as got:
        library_step()  # this line is where the user sees it
    assert got[0].filename == __file__ and got[0].lineno == library_step.__code__.co_firstlineno + 4


def test_one_warning_from_many_threads() -> None:
    w = WarnOnce(RuntimeWarning)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        threads = [threading.Thread(target=w, args=("k", "m")) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len([x for x in got if str(x.message) == "m"]) == 1


def test_a_call_works_with_what_it_is_given() -> None:
    """``_Call`` takes its tracker, its recorder and its warn-once as a CallSink: no wrapper object needed."""
    from scer_hf.hf.pipeline._call import CallSink, _Call, _Entry

    recorded: list[_Entry] = []
    sink = CallSink(CallTracker(const_gpu_meter()), recorded.append, WarnOnce(MeasurementWarning))
    call = _Call(sink, None, False, 3)
    call.start()
    call.finish()
    assert len(recorded) == 1
    ms = recorded[0].measurements()
    assert dict(ms["forward"].counts) == {"queries": 3} and set(ms["forward"].energy_j) == {"gpu:0"}


def test_a_call_that_cannot_close_warns_once_through_its_sink() -> None:
    from scer_hf.hf.pipeline._call import CallSink, _Call

    def broken(entry: Any) -> None:
        raise RuntimeError("disk full")

    sink = CallSink(CallTracker(const_gpu_meter(), clock=Clock()), broken, WarnOnce(MeasurementWarning))
    with pytest.warns(MeasurementWarning, match="could not close the measurement of a call") as got:
        for _ in range(3):
            c = _Call(sink, None, False, 1)
            c.start()
            c.finish()
    assert len(got) == 1


def test_callback_rating_is_deprecated_but_still_reaches_the_card(tmp_path: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("transformers")
    from scer_hf.hf import push
    from scer_hf.hf.callback import SCERCallback
    from tests.builders import rating, training_report

    cb = SCERCallback(carbon_intensity_g_per_kwh=100.0)
    with pytest.warns(DeprecationWarning, match="SCERCallback.rating is deprecated and will be removed in scer-hf"):
        assert cb.rating is None
    mine = rating(report=training_report())
    with pytest.warns(DeprecationWarning, match=r"scer_hf.update_card\(output_dir, cb.report, rating=...\)"):
        cb.rating = mine
    seen: dict[str, Any] = {}

    def fake_update_card(folder: Any, report: Any, *, rating: Any = None, **kw: Any) -> Any:
        seen["rating"] = rating
        return SimpleNamespace(path=tmp_path / "README.md")

    monkeypatch.setattr(SCERCallback, "report", property(lambda self: training_report()))
    monkeypatch.setattr("scer_hf.publish.card.update_card", fake_update_card)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # writing the card reads it without warning
        push.write_card(cb, SimpleNamespace(output_dir=str(tmp_path)))
    assert seen["rating"] is mine
