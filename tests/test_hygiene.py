"""What issue 25 cleared away stays away: guards around scer-hf's own imports, attributes written but never read,
warn-once copies, and tests that import their builders from other test modules or name two builders alike."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "scer_hf"
TESTS = ROOT / "tests"

#: attributes set for a library to read (the tokenizers/transformers objects the tiny model builder configures)
READ_BY_LIBRARIES = {"pre_tokenizer", "decoder", "post_processor", "decoder_start_token_id"}


def _trees(folder: Path) -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(folder.rglob("*.py"))
            if "__pycache__" not in p.parts}


def _own_import(node: ast.stmt) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or (node.module or "").startswith("scer_hf")
    return isinstance(node, ast.Import) and any(a.name.startswith("scer_hf") for a in node.names)


def test_no_import_error_guard_around_the_package_s_own_modules() -> None:
    """scer-hf's own modules always import (they ship together); a guard that cannot fire hides real errors."""
    found = []
    for path, tree in _trees(PACKAGE).items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Try) or not any(_own_import(s) for s in node.body):
                continue
            for h in node.handlers:
                names = [ast.unparse(h.type)] if h.type is not None else ["bare"]
                if any("ImportError" in n or "ModuleNotFoundError" in n for n in names):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, found


def test_no_attribute_is_written_and_never_read() -> None:
    """Every ``x.attr = ...`` in the package is read somewhere (the package, the tests, or by name as a string)."""
    written: dict[str, list[str]] = defaultdict(list)
    read: set[str] = set()
    for path, tree in {**_trees(PACKAGE), **_trees(TESTS)}.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                if isinstance(node.ctx, ast.Store) and path.is_relative_to(PACKAGE):
                    written[node.attr].append(f"{path.relative_to(ROOT)}:{node.lineno}")
                elif not isinstance(node.ctx, ast.Store):
                    read.add(node.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                read.add(node.value)  # getattr(obj, "name"), monkeypatch.setattr(obj, "name", ...)
    unread = {a: w for a, w in written.items()
              if a not in read and not a.startswith("__") and a not in READ_BY_LIBRARIES}
    assert not unread, unread


def test_one_warn_once_helper() -> None:
    """``scer_hf.core.warn.WarnOnce`` is the only place that remembers which warnings were given."""
    copies = []
    for path, tree in _trees(PACKAGE).items():
        if path == PACKAGE / "core" / "warn.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and "warn_once" in node.name:
                copies.append(f"{path.relative_to(ROOT)}:{node.lineno} def {node.name}")
            if isinstance(node, ast.AnnAssign) and "warned" in ast.unparse(node.target) \
                    and "set[" in ast.unparse(node.annotation):
                copies.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node.target)}")
    assert not copies, copies


def test_tests_import_shared_builders_from_builders_only() -> None:
    """No test module imports from another test module: shared builders live in tests/builders.py."""
    bad = []
    for path, tree in _trees(TESTS).items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                mod = node.module.removeprefix("tests.")
                if mod.startswith("test_") or mod == "conftest":
                    bad.append(f"{path.name}:{node.lineno} from {node.module}")
    assert not bad, bad
    assert not (TESTS / "test_label_fixtures.py").exists()


def test_no_two_test_helpers_share_a_name() -> None:
    """A public helper (not a test, not a fixture, no leading underscore) is defined in one test file only, so a
    name always means one builder; helpers private to a module start with an underscore."""
    where: dict[str, list[str]] = defaultdict(list)
    for path, tree in _trees(TESTS).items():
        for node in tree.body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            fixture = any("fixture" in ast.unparse(d) for d in node.decorator_list)
            if not fixture and not node.name.startswith(("test_", "_")):
                where[node.name].append(path.name)
    assert {n: f for n, f in where.items() if len(f) > 1} == {}
