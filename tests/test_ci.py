"""CI lints and type-checks the package before the tests (issue 25): `.ci/run` runs ruff and mypy, configured in
pyproject.toml, and a finding in either fails the run."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _steps() -> list[str]:
    return [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_ci_lints_and_type_checks_before_the_tests() -> None:
    steps = _steps()
    assert "set -euo pipefail" in steps  # any failing step fails CI
    install = next(i for i, s in enumerate(steps) if s.startswith("pip install") and "-e " in s)
    assert "lint" in steps[install]  # the lint extra: ruff, mypy and the typed stubs it needs
    ruff, mypy = steps.index("ruff check scer_hf"), steps.index("mypy")
    pytest_at = next(i for i, s in enumerate(steps) if s.startswith("python -m pytest"))
    assert install < ruff < pytest_at and install < mypy < pytest_at


def test_the_lint_extra_and_the_checkers_are_configured() -> None:
    lint = " ".join(PYPROJECT["project"]["optional-dependencies"]["lint"])
    assert "ruff" in lint and "mypy" in lint
    assert PYPROJECT["tool"]["mypy"]["files"] == ["scer_hf"]
    assert {"E", "F", "B", "I", "UP", "C90"} <= set(PYPROJECT["tool"]["ruff"]["lint"]["select"])
    assert PYPROJECT["tool"]["ruff"]["lint"]["mccabe"]["max-complexity"] <= 20


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is in the lint extra")
def test_ruff_is_clean() -> None:
    out = subprocess.run(["ruff", "check", "scer_hf"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stdout[-4000:]
