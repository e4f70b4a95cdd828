"""The package as a user meets it: import cost, public API, CLI entry."""

from __future__ import annotations

import subprocess
import sys

import scer_hf


def test_import_does_not_pull_torch_or_transformers() -> None:
    code = "import sys, scer_hf; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_public_api_is_explicit() -> None:
    for name in ("SCERCallback", "Report", "track_pipeline", "benchmark", "estimate", "rate", "reference",
                 "update_card"):
        assert name in scer_hf.__all__
    assert scer_hf.Report.__module__ == "scer_hf.core.report"
    assert scer_hf.PhaseTracker.__name__ == "PhaseTracker"


def test_cli_entry_point_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "scer_hf", "--help"], capture_output=True, text=True, check=True)
    assert "scer-hf" in out.stdout and "Exit codes" in out.stdout
    v = subprocess.run([sys.executable, "-m", "scer_hf", "--version"], capture_output=True, text=True, check=True)
    assert scer_hf.__version__ in v.stdout


def test_cli_prints_warnings_as_one_line(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    # the default warning format (path:line: RuntimeWarning + source line) looked like a crash
    import warnings

    import pytest

    from scer_hf.cli import main

    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # restored after the test
    monkeypatch.setattr(sys, "argv", ["scer-hf", "--version"])
    with pytest.raises(SystemExit):
        main()
    warnings.showwarning(RuntimeWarning("scer-hf: kept the old report"), RuntimeWarning, "/x/y.py", 3)
    assert capsys.readouterr().err == "warning: kept the old report\n"
