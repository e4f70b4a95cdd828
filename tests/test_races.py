"""Two processes writing one file at the same moment: nothing either wrote is lost.

Two worker processes (forked once, so each round costs no import) meet at a barrier
and then write the same file at once, ROUNDS times. Without the lock of
``scer_hf._io.file_lock`` one model-card boundary was lost in 19 of 20 runs (issue 13).
"""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path
from typing import Any

import pytest

from scer_hf import update_card
from scer_hf.errors import ReportError
from scer_hf.core.report import Report
from tests.builders import inference_report, rating, training_report

ROUNDS = 20
CTX = mp.get_context("fork")


def _card_worker(barrier: Any, root: str, boundary: str, q: Any) -> None:
    rep = training_report() if boundary == "training" else inference_report()
    r = rating(report=rep)
    try:
        for i in range(ROUNDS):
            barrier.wait(timeout=60)
            update_card(Path(root) / str(i), rep, rating=r, overwrite=True)
        q.put((boundary, "ok"))
    except BaseException as exc:  # noqa: BLE001 - report it to the test
        q.put((boundary, f"{type(exc).__name__}: {exc}"))


def _run_pair(target: Any, args: tuple[tuple[Any, ...], tuple[Any, ...]]) -> list[Any]:
    barrier = CTX.Barrier(2)
    q = CTX.Queue()
    procs = [CTX.Process(target=target, args=(barrier, *a, q)) for a in args]
    for p in procs:
        p.start()
    try:
        results = [q.get(timeout=120) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    return sorted(results, key=str)


def test_two_processes_updating_one_card_keep_both_boundaries(tmp_path: Path) -> None:
    for i in range(ROUNDS):
        (tmp_path / str(i)).mkdir()
        (tmp_path / str(i) / "README.md").write_text("---\nlicense: mit\n---\n\n# my model\n\nmy text\n")
    results = _run_pair(_card_worker, ((str(tmp_path), "training"), (str(tmp_path), "inference")))
    assert [r for _, r in results] == ["ok", "ok"], results
    survived = 0
    for i in range(ROUNDS):
        text = (tmp_path / str(i) / "README.md").read_text()
        head = text.split("\n---\n", 1)[0]
        both = "training:" in head and "inference:" in head and "co2_eq_emissions" in head
        survived += both and "my text" in text and "license: mit" in head
    assert survived == ROUNDS, f"both boundaries survived in {survived} of {ROUNDS} runs"


def _report_worker(barrier: Any, root: str, boundary: str, q: Any) -> None:
    rep = training_report() if boundary == "training" else inference_report()
    out = []
    try:
        for i in range(ROUNDS):
            barrier.wait(timeout=60)
            try:
                rep.save(Path(root) / f"{i}.json")  # no overwrite: a file that is there must stay
                out.append("saved")
            except ReportError:
                out.append("refused")
        q.put((boundary, out))
    except BaseException as exc:  # noqa: BLE001 - report it to the test
        q.put((boundary, f"{type(exc).__name__}: {exc}"))


def test_two_processes_saving_one_report_path_never_lose_a_saved_report(tmp_path: Path) -> None:
    """Report.save's exists-check and write are one step: exactly one process saves each round,
    the other is refused (and still has its report), the file is the one that was saved."""
    results = dict(_run_pair(_report_worker, ((str(tmp_path), "training"), (str(tmp_path), "inference"))))
    assert all(isinstance(v, list) for v in results.values()), results
    ok = 0
    for i in range(ROUNDS):
        who = [b for b, out in results.items() if out[i] == "saved"]
        on_disk = Report.load(tmp_path / f"{i}.json").boundary
        ok += who == [on_disk]
    assert ok == ROUNDS, f"one saved report, the one on disk, in {ok} of {ROUNDS} runs ({results})"
    assert not list(tmp_path.glob(".*.tmp"))


def test_lock_files_stay_out_of_the_users_folder(tmp_path: Path) -> None:
    update_card(tmp_path, training_report(), rating=rating(report=training_report()))
    training_report().save(tmp_path / "scer_report.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "scer_report.json"]
    json.loads((tmp_path / "scer_report.json").read_text())
