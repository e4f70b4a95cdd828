"""The examples a user copies from must keep running (offline, CPU)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def run_example(name: str, out: Path) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    res = subprocess.run([sys.executable, str(ROOT / "examples" / name), str(out)], capture_output=True, text=True,
                         env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def test_journey_example(tmp_path: Path) -> None:
    out = run_example("journey.py", tmp_path / "j")
    assert "VERIFIED" in out and "<PhaseRating inference" in out
    for f in ("model/README.md", "model/scer_label.svg", "model/scer_report.json", "report.html"):
        assert (tmp_path / "j" / f).is_file(), f


def test_train_with_callback_example(tmp_path: Path) -> None:
    out = run_example("train_with_callback.py", tmp_path / "t")
    assert "SCI:" in out and (tmp_path / "t" / "scer_report.json").is_file()


def test_train_accelerate_example(tmp_path: Path) -> None:
    out = run_example("train_accelerate.py", tmp_path / "a")
    assert "scer-hf verify" in out and (tmp_path / "a" / "README.md").is_file()
    from scer_hf.publish.verify import verify

    assert verify(tmp_path / "a" / "README.md").ok
