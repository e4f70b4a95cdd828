"""rate_model as two ordered lists of named steps, the first answer winning (issue 25)."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scer_hf.rating import engine
from scer_hf.rating import fallback as fb
from scer_hf.rating.result import PhaseRating

ROOT = Path(__file__).resolve().parents[1] / "scer_hf"


def test_the_orders_are_readable_lists() -> None:
    assert [f.__name__ for f in engine.TRAINING_STEPS] == ["own_training", "hub_lineage", "inherited_training"]
    assert [f.__name__ for f in engine.INFERENCE_STEPS] == [
        "own_inference", "hub_lineage", "architecture_twin", "quantized_base", "modelled_range"]


def test_first_answer_stops_at_the_first_step_that_answers() -> None:
    calls: list[str] = []

    def step(name: str, answer: PhaseRating | None) -> Callable[[Any, PhaseRating], PhaseRating | None]:
        def run(a: Any, unanswered: PhaseRating) -> PhaseRating | None:
            calls.append(name)
            unanswered.notes.append(f"{name} passed")
            return answer
        return run

    found = PhaseRating(phase="inference", available=True, value=1.0)
    none = PhaseRating(phase="inference", reason="nothing")
    assert fb.first_answer(None, (step("a", None), step("b", found), step("c", None)), none) is found  # type: ignore[arg-type]
    assert calls == ["a", "b"]
    assert fb.first_answer(None, (step("a", None),), none) is none and "a passed" in none.notes  # type: ignore[arg-type]


def _answering(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Wrap the engine's step lists so each call records which step answered."""
    seen: dict[str, list[str]] = {"training": [], "inference": []}

    def wrap(phase: str, f: Callable[..., Any]) -> Callable[..., Any]:
        def run(a: Any, unanswered: PhaseRating) -> Any:
            got = f(a, unanswered)
            if got is not None and a.key == key[0]:
                seen[phase].append(f.__name__)
            return got
        return run

    key: list[str] = [""]
    monkeypatch.setattr(engine, "TRAINING_STEPS", tuple(wrap("training", f) for f in engine.TRAINING_STEPS))
    monkeypatch.setattr(engine, "INFERENCE_STEPS", tuple(wrap("inference", f) for f in engine.INFERENCE_STEPS))
    seen["key"] = key
    return seen


@pytest.mark.parametrize(("model", "training", "inference"), [
    ("bigscience/bloom-560m", "own_training", "architecture_twin"),
    ("bigscience/bloomz-560m", "inherited_training", "own_inference"),
    ("MaziyarPanahi/Meta-Llama-3-8B-Instruct-GGUF", "inherited_training", "quantized_base"),
])
def test_each_model_is_answered_by_the_step_its_lineage_calls_for(
        monkeypatch: pytest.MonkeyPatch, model: str, training: str, inference: str) -> None:
    seen = _answering(monkeypatch)
    seen["key"][0] = model.lower()
    r = engine.rate_model(model, hub=False)
    assert seen["training"] == [training] and seen["inference"] == [inference]
    basis = {"own_training": None, "inherited_training": "inherited", "own_inference": None,
             "architecture_twin": "twin", "quantized_base": "quantized"}
    assert r.training.basis == basis[training] and r.inference.basis == basis[inference]


def test_a_model_known_only_by_its_size_is_modelled(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _answering(monkeypatch)
    seen["key"][0] = "someone/unknown-7b"
    r = engine.rate_model("someone/unknown-7b", hub=False, parameters=7e9)
    assert seen["inference"] == ["modelled_range"] and seen["training"] == []
    assert r.training.available is False and r.training.reason
    off = engine.rate_model("someone/unknown-7b", hub=False, parameters=7e9, modelled=False)
    assert off.inference.available is False


def test_the_hub_is_asked_about_the_lineage_once(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    real = fb._lin.hub_node

    def counting(mid: str, **kw: Any) -> Any:
        asked.append(mid)
        return real(mid, **kw)

    monkeypatch.setattr(fb._lin, "hub_node", counting)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    engine.rate_model("someone/not-in-any-table", hub=True)  # neither phase has a figure: both chains pass hub_lineage
    assert asked == ["someone/not-in-any-table"]


def test_the_steps_module_does_not_import_the_engine() -> None:
    """fallback.py imported engine.py (for the row rating) while engine.py imported it: now both use rows.py."""
    tree = ast.parse((ROOT / "rating" / "fallback.py").read_text(encoding="utf-8"))
    names = {(n.module or "") + ":" + a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert not [n for n in names if "engine" in n]


def test_rate_reads_its_argument_through_an_ordered_list() -> None:
    from scer_hf import rating

    assert [f.__name__ for f in rating.RATE_STEPS] == [
        "hub_uri", "adapter_folder", "model_folder", "report_folder", "measured_report", "model_id"]


def test_rate_steps_pass_on_what_is_not_theirs(tmp_path: Path) -> None:
    from scer_hf import rating

    asked = rating._Asked({"task": None, "include_secondary": False, "include_modelled": False,
                           "include_derived": False, "extra": None}, False, True, None, False)
    for step in rating.RATE_STEPS[:-1]:
        assert step("bigscience/bloom-560m", asked) is None, step.__name__
    assert rating.hub_uri("hf://bigscience/bloom-560m", asked).model == "bigscience/bloom-560m"
    with pytest.raises(rating.RatingError, match="no scer-hf report"):
        rating.report_folder(tmp_path, asked)  # an empty folder that is no model id


def test_the_bases_without_a_figure_are_named_in_number() -> None:
    assert fb._bases_without_figure(["a/b"]) == "; its base model a/b has no published training figure either"
    assert fb._bases_without_figure(["a/b", "c/d"]) == (
        "; its base models a/b, c/d have no published training figure either")


def test_why_a_base_has_no_answer_keeps_its_modelled_range_notes() -> None:
    pr = PhaseRating("inference", reason="no figure", notes=["no modelled range: unknown size", "other"])
    assert fb._why_unanswered(pr) == "no figure; no modelled range: unknown size"


def test_published_stars_that_differ_from_the_recomputed_ones_are_noted() -> None:
    from scer_hf.rating.rows import _stars_note
    assert _stars_note(3, 4) == ["published stars 3 differ from recomputed 4"]
    assert _stars_note(4, 4) == [] and _stars_note(None, 4) == []
    assert _stars_note(3, None) == []
