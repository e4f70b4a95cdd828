"""The card's read side, typed (scer_hf.publish.card.meta): what each view reads of a card's YAML, that what scer-hf
writes reads back as written, and that a hand-edited or hostile value reads as None or as written, never raises."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from scer_hf.publish.card import edit_card_text
from scer_hf.publish.card.content import merge_scer
from scer_hf.publish.card.entry import BoundaryEntry
from scer_hf.publish.card.meta import CardBoundary, CardMeta, CardPhase, CardRating, ScerBlock
from scer_hf.publish.card.splice import split_card
from tests.builders import cli_run, inference_report, rating, training_report


@pytest.mark.parametrize("make", [training_report, inference_report])
def test_a_written_boundary_entry_reads_back_as_written(make: Any) -> None:
    rep = make()
    written = BoundaryEntry.of(rep)
    d = written.to_dict()
    e = CardBoundary.from_dict(d)
    assert e.written is d and e.keys == set(d)
    assert (e.report_digest, e.energy_j, e.co2e_g, e.method, e.estimated) == (
        rep.digest(), written.energy_j, written.co2e_g, written.method, written.estimated)
    assert e.embodied_g == written.embodied_g and ("embodied_g" in e.keys) == (written.embodied_g is not None)
    assert e.sci is not None and written.sci is not None
    assert (e.sci.value, e.sci.unit, e.sci.version, e.sci.shown_value, e.sci.shown_unit) == (
        written.sci.value, written.sci.unit, written.sci.version, written.sci.shown_value, written.sci.shown_unit)
    assert e.sci.written == written.sci.to_dict()
    assert e.grid is not None and (e.grid.g_per_kwh, e.grid.pue) == (written.grid.g_per_kwh, written.grid.pue)
    assert [(p.name, p.parent, p.energy_j, p.co2e_g, p.is_entry) for p in e.phases] == [
        (p.name, p.parent, p.energy_j, p.co2e_g, True) for p in written.phases]
    assert [p.row() for p in e.phases] == [p.to_dict() for p in written.phases]
    assert e.facts == [dict(f) for f in written.facts] and e.sources == list(written.sources)
    assert (e.label, e.manifest, e.links) == (None, None, {})


def test_the_block_scer_hf_writes_reads_back() -> None:
    rep = inference_report()
    block = merge_scer(None, rep, rating(report=rep), False)
    sb = ScerBlock.from_yaml(block)
    assert sb is not None and sb.written is block and sb.schema_version == 1
    assert sb.training is None and sb.inference is not None and sb.inference.written is block["inference"]
    assert [b for b, _ in sb.entries] == ["inference"] and sb.boundary("inference") is sb.inference
    assert sb.boundary("nope") is None and sb.rated == {"inference"}
    r = sb.ratings["inference"]
    assert r.written == block["rating"]["inference"] and r.grade == "A" and r.available is True
    assert r.report_digest == rep.digest() and "report_digest" in r.keys


def test_card_meta_of_a_card_scer_hf_edited() -> None:
    rep = training_report()
    text = edit_card_text("---\nlicense: mit\n---\n# M\n", rep, label="scer_label.svg", manifest="r.json")
    meta = CardMeta.from_yaml(split_card(text).data)
    assert meta.co2_emissions == rep.co2e_g and meta.co2_source == "scer-hf" and meta.tagged
    assert meta.scer is not None and meta.scer.written == meta.scer_written
    e = meta.scer.training
    assert e is not None and e.links == {"label": "scer_label.svg", "manifest": "r.json"}
    assert (e.label, e.manifest) == ("scer_label.svg", "r.json")


ODD = [None, "x<b>", 5, -1.5, math.nan, True, [1, "a"], {"x": 1}, [], {}]


@pytest.mark.parametrize("v", ODD, ids=repr)
def test_a_wrongly_typed_value_reads_as_none_or_as_written(v: object) -> None:
    mapping = isinstance(v, dict)
    assert (ScerBlock.from_yaml(v) is None) is not mapping
    sb = ScerBlock.from_yaml({"training": v, "inference": {"sci": v, "grid": v, "phases": v, "energy_j": v},
                              "rating": v})
    assert sb is not None and (sb.training is not None) is mapping
    e = sb.inference
    assert e is not None and (e.sci is None) is not mapping and (e.grid is None) is not mapping
    assert e.sci_written is v and e.grid_written is v and e.phases_written is v and e.energy_j is v
    assert sb.rating_written is v and sb.ratings == {}
    assert sb.rated == (frozenset(v) if isinstance(v, dict) else frozenset())
    meta = CardMeta.from_yaml({"co2_eq_emissions": v, "tags": v})
    assert meta.co2 is v and meta.co2_emissions is (v if not mapping else None) and meta.co2_source is None
    assert meta.tagged is False


def test_what_a_phases_value_holds() -> None:
    """A reader sees the items a card put under ``phases``: a list's, a string's characters, none of a number."""
    assert [p.written for p in CardBoundary.from_dict({"phases": "ab"}).phases] == ["a", "b"]
    assert CardBoundary.from_dict({"phases": 5}).phases == () == CardBoundary.from_dict({"phases": None}).phases
    p, q = CardBoundary.from_dict({"phases": [{"name": "x", "co2e_g": None}, 3]}).phases
    assert (p.is_entry, p.name, p.co2e_g, "co2e_g" in p.keys, "energy_j" in p.keys) == (True, "x", None, True, False)
    assert (q.is_entry, q.written, q.name, q.row(depth=1)) == (False, 3, None, {"depth": 1})
    assert CardPhase.from_item({"name": "x"}).row(depth=2) == {"name": "x", "depth": 2}


def test_null_and_missing_differ_by_keys() -> None:
    r = CardRating.from_dict({"grade": None})
    assert r.grade is None and "grade" in r.keys and "percentile" not in r.keys and r.available is True
    assert CardRating.from_dict({"available": False}).available is False
    assert CardMeta.from_yaml(["not", "a", "mapping"]) == CardMeta(None, None, None, None)


_yaml_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                            lambda kids: st.lists(kids, max_size=3) | st.dictionaries(
                                st.sampled_from(["training", "inference", "rating", "sci", "grid", "phases", "name",
                                                 "energy_j", "label", "available", "emissions", "source", "x"]),
                                kids, max_size=5), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(st.sampled_from(["co2_eq_emissions", "scer", "tags"]), _yaml_values))
def test_any_yaml_reads_without_raising(data: dict[str, Any]) -> None:
    meta = CardMeta.from_yaml(data)
    assert isinstance(meta.tagged, bool)
    if meta.scer is not None:
        assert all(e.written is meta.scer.written[b] for b, e in meta.scer.entries)


@pytest.mark.parametrize("scer", [{"training": {"sci": 5, "energy_j": 1.0}}, {"training": {"sci": {"unit": "u",
                                  "shown_unit": "s"}}}, {"rating": "x", "training": {}}, [1], "x", True])
def test_card_show_reads_hand_edited_cards_without_crashing(tmp_path: Path, scer: object) -> None:
    """Values the string-key readers crashed on (a scalar ``sci``, a missing ``shown_value``, a list ``scer``)."""
    card = tmp_path / "README.md"
    card.write_text("---\n" + yaml.safe_dump({"scer": scer}) + "---\n", encoding="utf-8")
    code, out = cli_run("card", "show", str(card))
    assert code == 0, out
    if isinstance(scer, dict) and scer.get("training", {}).get("sci") == 5:
        assert out.splitlines() == ["training: 1 J, n/a, SCI None", "  report digest: None"]
    if not isinstance(scer, dict):
        assert out.startswith("no SCER metadata")


@pytest.mark.parametrize(("edit", "name", "found"), [
    ({"energy_j": {"a": 1}}, "card.scer.training.energy_j", None),  # a mapping is no figure: read as missing
    ({"energy_j": "12"}, "card.scer.training.energy_j", "12"),  # a wrong type is reported as written
    ({"sci": 5}, "card.scer.training.sci.value", None),
    ({"phases": "ab"}, "card.scer.training.phases[1]", "b"),  # each item of a hand-edited value is reported
])
def test_verify_reports_a_hand_edited_figure_as_before(tmp_path: Path, edit: dict[str, Any], name: str,
                                                       found: object) -> None:
    from scer_hf.publish.verify import verify_card

    rep = training_report()
    data = split_card(edit_card_text("---\nlicense: mit\n---\n", rep)).data
    data["scer"]["training"].update(edit)
    card = tmp_path / "README.md"
    card.write_text("---\n" + yaml.safe_dump(data) + "---\n", encoding="utf-8")
    res = verify_card(card, rep)
    check = next(c for c in res.checks if c.name == name)
    assert check.found == found and check.ok is False
