"""The grid resolver as an ordered list of named steps, and the grid modules free of import cycles (issue 25)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from scer_hf.core import carbon as C
from scer_hf.core.carbon import RESOLVERS, carbon_intensity, resolve_grid
from scer_hf.core.grid import GridSpec
from scer_hf.core.meters.estimate import _codecarbon_data_dir

ROOT = Path(__file__).resolve().parents[1] / "scer_hf"
needs_data = pytest.mark.skipif(_codecarbon_data_dir() is None, reason="codecarbon's data files are not installed")


@pytest.fixture(autouse=True)
def _no_cloud_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_REGION", "FUNCTION_REGION"):
        monkeypatch.delenv(var, raising=False)


def test_the_order_is_a_readable_list() -> None:
    assert [f.__name__ for f in RESOLVERS] == [
        "user_override", "given_cloud_region", "given_region", "given_country", "detected_cloud_region",
        "world_average",
    ]


@needs_data
@pytest.mark.parametrize(("spec", "step"), [
    (GridSpec("USA", "California", "gcp", "europe-west4", 100.0), "user_override"),
    (GridSpec("USA", "California", "gcp", "europe-west4"), "given_cloud_region"),
    (GridSpec("USA", "California"), "given_region"),
    (GridSpec("FRA"), "given_country"),
    (GridSpec(), "world_average"),
])
def test_the_first_step_with_an_answer_wins(spec: GridSpec, step: str) -> None:
    answering = [f.__name__ for f in RESOLVERS if f(spec) is not None]
    assert answering[0] == step
    assert resolve_grid(spec) == getattr(C, step)(spec)


@needs_data
def test_detection_is_a_step_that_detect_false_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUNCTION_REGION", "europe-west4")
    assert C.detected_cloud_region(GridSpec()) is not None
    assert resolve_grid(GridSpec()).location == "detected"
    assert resolve_grid(GridSpec(), detect=False).location == "unknown"
    assert carbon_intensity("FRA").location == "given"  # a given country comes before detection


@needs_data
def test_steps_not_their_case_pass_on() -> None:
    for f in RESOLVERS[:-2]:
        assert f(GridSpec()) is None, f.__name__
    assert C.world_average(GridSpec(pue=1.3)).pue == 1.3


def _imports(path: Path) -> set[str]:
    """Modules of scer_hf this file imports (also inside functions), relative imports resolved."""
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    pkg = ".".join(parts if parts[-1] == "__init__" else parts[:-1]).removesuffix(".__init__")
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            out |= {target} | {f"{target}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return out


def _graph(folder: str) -> dict[str, set[str]]:
    files = {".".join(p.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__"): p
             for p in (ROOT / folder).rglob("*.py")}
    return {m: (_imports(p) & set(files)) - {m} for m, p in files.items()}


def _in_cycles(graph: dict[str, set[str]]) -> set[str]:
    def reach(start: str) -> set[str]:
        seen, todo = set(), list(graph[start])
        while todo:
            m = todo.pop()
            if m not in seen:
                seen.add(m)
                todo += graph.get(m, ())
        return seen
    return {m for m in graph if m in reach(m)}


def test_core_has_no_import_cycle() -> None:
    """carbon and grid_regions imported each other; the country table and codecarbon's files now sit below both."""
    graph = _graph("core")
    assert "scer_hf.core.carbon" not in graph["scer_hf.core.grid_regions"]
    assert {"scer_hf.core.grid_data"} <= graph["scer_hf.core.grid_regions"] & graph["scer_hf.core.carbon"]
    assert not graph["scer_hf.core.grid_data"] & {"scer_hf.core.carbon", "scer_hf.core.grid_regions"}
    assert _in_cycles(graph) == set()


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _in_cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == {"a", "b"}
