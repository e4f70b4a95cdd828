"""The folders are the architecture: each layer imports only the layers below it (issue 11).

Foundations (errors, _io, _version, data) < core < rating < publish < hf < cli. The package face
(``scer_hf/__init__.py``, ``__main__``, ``_compat``) may name every layer, lazily. Every import statement
counts, including imports inside functions: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "scer_hf"
RANK = {"errors": 0, "_io": 0, "_read": 0, "_version": 0, "data": 0, "core": 1, "rating": 2, "publish": 3, "hf": 4, "cli": 5}
FACE = {"__init__", "__main__", "_compat"}
HEAVY = ("torch", "transformers", "accelerate", "evaluate")  # datasets is a core dependency, loaded lazily


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) for every import in the file, relative ones resolved."""
    mod = _module(path)
    pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((node.lineno, target))
            # `from . import x` names a module x
            out += [(node.lineno, f"{target}.{a.name}") for a in node.names if a.name != "*"]
    return out


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "scer_hf" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in RANK else None


def _sources() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_lives_in_a_layer() -> None:
    loose = [p.relative_to(ROOT).as_posix() for p in _sources()
             if _layer(_module(p)) is None and p.stem not in FACE]
    assert loose == [], f"modules outside a layer folder: {loose}"


def test_no_layer_imports_a_higher_one() -> None:
    violations = []
    for path in _sources():
        src = _layer(_module(path))
        if src is None:
            continue
        for line, target in _imports(path):
            dst = _layer(target)
            if dst is not None and RANK[dst] > RANK[src]:
                violations.append(f"{path.relative_to(ROOT)}:{line} ({src}) imports {target} ({dst})")
    assert violations == [], "\n".join(violations)


def test_core_and_rating_never_import_torch_or_transformers() -> None:
    found = [f"{p.relative_to(ROOT)}:{line} imports {t}" for p in _sources() if _layer(_module(p)) in ("core", "rating")
             for line, t in _imports(p) if t.split(".")[0] in HEAVY]
    assert found == []


def test_the_layer_check_catches_an_upward_import(tmp_path: Path) -> None:
    # the checker itself: a core module importing the publishing layer is reported
    fake = ROOT / "core" / "_layer_probe.py"
    fake.write_text("def f():\n    from ..publish import label\n", encoding="utf-8")
    try:
        with pytest.raises(AssertionError, match="_layer_probe"):
            test_no_layer_imports_a_higher_one()
    finally:
        fake.unlink()


@pytest.mark.parametrize("old, new", [
    ("scer_hf.meters", "scer_hf.core.meters"),
    ("scer_hf.meters.base", "scer_hf.core.meters.base"),
    ("scer_hf.reference", "scer_hf.rating.reference"),
    ("scer_hf.tracker", "scer_hf.core.tracker"),
    ("scer_hf.pipeline", "scer_hf.hf.pipeline"),
    ("scer_hf.callback", "scer_hf.hf.callback"),
    ("scer_hf.protocol", "scer_hf.hf.benchmark"),
    ("scer_hf.card", "scer_hf.publish.card"),
    ("scer_hf.cardlib.splice", "scer_hf.publish.card.splice"),
    ("scer_hf.label", "scer_hf.publish.label"),
    ("scer_hf.calculator", "scer_hf.core.calculator"),
])
def test_documented_flat_paths_are_the_same_modules(old: str, new: str) -> None:
    assert importlib.import_module(old) is importlib.import_module(new)
    assert importlib.import_module(new).__spec__.name == new


def test_flat_paths_work_in_a_fresh_process_without_torch() -> None:
    code = ("import sys, scer_hf; from scer_hf.meters.base import Reading; from scer_hf.tracker import PhaseTracker; "
            "import scer_hf.reference as r; import scer_hf.errors; "
            "assert Reading is scer_hf.core.meters.base.Reading and r is scer_hf.rating.reference; "
            "assert scer_hf.meters is scer_hf.core.meters; "
            "print(sorted(m for m in sys.modules if m in ('torch', 'transformers')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_endpoint_benchmark_never_imports_torch() -> None:
    """Measuring a server needs no torch: the HTTP client, the load generator, the protocol and the CLI, run
    against a fake server in a fresh process, import neither torch nor transformers (issue 22)."""
    here = Path(__file__).parent
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from openaiserver import FakeOpenAI\n"
            "from click.testing import CliRunner\n"
            "from scer_hf.cli import cli\n"
            "with FakeOpenAI('ok') as s:\n"
            "    r = CliRunner().invoke(cli, ['benchmark', '--endpoint', s.url, '--model', 'm', '--concurrency', '1,2',"
            " '--queries', '4', '--min-queries', '2', '--warmup', '0', '--no-progress', '--json'])\n"
            "assert r.exit_code == 0, r.output\n"
            "print(sorted(m for m in sys.modules if m in ('torch', 'transformers')))") % str(here)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
