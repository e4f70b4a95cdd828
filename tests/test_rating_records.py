"""Typed data of the rating engine: ReferenceRow for every reference row, and the PhaseRating/Rating sub-records.

Each test fails if the typing breaks: a row or record that does not round-trip to the very JSON it stands for, a
field read from the wrong key, a record that is not frozen, a rating whose sub-records are still dicts.
"""

from __future__ import annotations

import dataclasses
import json

import builders as b
import pytest

from scer_hf import rate
from scer_hf.rating import reference
from scer_hf.rating.measured import withhold
from scer_hf.rating.published import footprint, published_of
from scer_hf.rating.records import (
    Category,
    Co2e,
    Indicative,
    NearestPeer,
    PeerValue,
    Published,
    ReportBinding,
    StarBand,
)
from scer_hf.rating.refrow import ReferenceRow
from scer_hf.rating.result import PhaseRating, Rating
from scer_hf.rating.stars import band_records, star_bands

ALL = {"include_secondary": True, "include_modelled": True}


def _every_row_dict() -> list[dict]:
    return [r for name in ("training", "inference") for derived in (False, True)
            for r in reference.rows(name, include_derived=derived, **ALL)]


def test_every_shipped_row_round_trips_through_reference_row_key_for_key() -> None:
    rows = _every_row_dict()
    assert len(rows) == 2 * (49 + 97 + 166)
    for d in rows:
        again = ReferenceRow.from_dict(d).to_dict()
        assert again == d and list(again) == list(d)  # same keys, same order: load()'s columns are unchanged


def test_reference_rows_are_the_typed_rows_of_rows() -> None:
    for name in ("training", "inference", "aienergyscore_v1", "inference.csv"):
        typed = reference.reference_rows(name, include_derived=True, **ALL)
        assert [r.to_dict() for r in typed] == reference.rows(name, include_derived=True, **ALL)
        assert all(isinstance(r, ReferenceRow) for r in typed)


def test_a_reference_row_reads_its_derived_columns_as_typed_fields() -> None:
    bloom = next(r for r in reference.reference_rows("training") if r.model_key == "bigscience/bloom")
    d = bloom.to_dict()
    assert bloom.ref_id == d["ref_id"] and bloom.ref_id.startswith("training.csv#")
    assert isinstance(bloom.value, float) and bloom.value == d["value"] and bloom.value_unit == reference.TRAINING_UNIT
    assert bloom.members == ("bigscience/bloom",) and bloom.matches("bigscience/bloom") and not bloom.family_total
    assert bloom.params_b_value == float(bloom.columns["params_b"]) and bloom.phase == "training"
    assert bloom.group == d["group"] and bloom.energy_wh == float(bloom.columns["energy_mwh"]) * 1e6
    assert bloom.source == d["source"].strip() and bloom.hardware == d["hardware"].strip()
    assert bloom.figure() == bloom.value and bloom.figure(co2e=True) == bloom.co2e_value
    aies = next(r for r in reference.reference_rows("aienergyscore_v1") if r.model_key == "distilbert/distilgpt2")
    assert aies.is_aies and isinstance(aies.published_stars, int) and not bloom.is_aies


def test_a_reference_row_is_frozen_and_its_source_columns_read_only() -> None:
    row = reference.reference_rows("inference")[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.value = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        row.columns["source"] = "elsewhere"  # type: ignore[index]
    assert all(isinstance(v, str) for v in row.columns.values())


def test_family_total_rows_name_each_member() -> None:
    fam = [r for r in reference.reference_rows("training", **ALL) if r.family_total]
    assert fam and all(len(r.members) > 1 and all(r.matches(m) for m in r.members) for r in fam)


def test_a_derived_training_row_is_the_typed_sibling_of_derive_training_value() -> None:
    gaps = [r for r in reference.reference_rows("training", **ALL) if r.energy_wh is None]
    derived = [(r, reference.derive_training_row(r)) for r in gaps]
    done = [(r, d) for r, d in derived if d is not None]
    assert done, "the calculator derives at least one shipped gap"
    for r, d in done:
        assert d.derived and d.energy_wh is not None and d.derivation and d.ref_id == r.ref_id
        assert reference.derive_training_value(r.to_dict()) == d.to_dict()
    assert reference.derive_training_row(done[0][1]) is None  # energy now known: nothing more to derive


def test_extra_rows_become_typed_rows_with_text_columns() -> None:
    mine = {"model_id": "me/tiny", "params_b": 0.1, "training_tokens_b": 2, "energy_mwh": 0.5, "source": "my run"}
    row = next(r for r in reference.reference_rows("training", extra=[mine]) if r.model_key == "me/tiny")
    assert row.value == pytest.approx(0.5 * 1000 / (0.1 * 2)) and row.source_file == "extra:rows"
    assert row.columns["params_b"] == "0.1" and row.source == "my run"


# -- the sub-records -------------------------------------------------------------------------------------------------
def _ratings() -> list[Rating]:
    ids = ["bigscience/bloom", "distilbert/distilgpt2", "meta-llama/Llama-3.1-8B", "facebook/opt-175b",
           "google/gemma-2b", "Qwen/Qwen2-0.5B", "TheBloke/Llama-2-7B-GPTQ", "some/unknown-model"]
    return [rate(m, hub=False, **kw) for m in ids for kw in ({}, ALL)]


def _phases(r: Rating) -> list[PhaseRating]:
    return [p for pr in (r.training, r.inference) for p in (pr, *pr.alternatives)]


def test_engine_ratings_hold_typed_sub_records() -> None:
    seen: set[type] = set()
    for r in _ratings():
        for p in _phases(r):
            assert p.category is None or isinstance(p.category, Category)
            assert all(isinstance(x, NearestPeer) for x in p.nearest_peers)
            assert all(isinstance(x, PeerValue) for x in p.peer_values)
            assert all(isinstance(x, StarBand) for x in p.star_bands or [])
            for x in (p.category, p.co2e, p.published, p.indicative, *p.nearest_peers[:1], *(p.star_bands or [])[:1]):
                if x is not None:
                    seen.add(type(x))
    assert {Category, Co2e, Published, NearestPeer, StarBand} <= seen


def test_ratings_round_trip_through_their_records_unchanged() -> None:
    for r in _ratings():
        d = r.to_dict()
        again = Rating.from_dict(json.loads(json.dumps(d)))
        assert json.dumps(again.to_dict()) == json.dumps(d)
        assert [type(p.category) for p in _phases(again)] == [type(p.category) for p in _phases(r)]


def test_a_stored_rating_writes_back_the_json_it_was_read_from() -> None:
    """The builders' ratings carry partial sub-records ({"task"} categories, {model, value} peers): kept as read."""
    for g, s in (("A", 4), (None, None)):
        d = b.rating(g, s)
        r = Rating.from_dict(d)
        assert r.to_dict()["inference"]["category"] == d["inference"]["category"]
        assert r.to_dict()["inference"]["nearest_peers"] == d["inference"]["nearest_peers"]
        assert all(isinstance(x, ReportBinding) for x in r.reports) and r.to_dict()["reports"] == d["reports"]
    r = Rating.from_dict(b.rating("A", 4))
    assert r.inference.category is not None and r.inference.category.task == "text_generation"
    assert r.inference.category.group is None and r.inference.nearest_peers[0].value == 0.35


def test_records_read_as_the_mappings_they_replace() -> None:
    r = rate("distilbert/distilgpt2", hub=False)
    cat = r.inference.category
    assert cat is not None and cat["group"] == cat.group and cat.get("edition") == cat.edition
    assert dict(cat) == cat.to_dict() and cat == cat.to_dict() and str(cat) == str(cat.to_dict())
    peer = r.inference.nearest_peers[0]
    assert peer["model"] == peer.model and "stars" in peer and peer["stars"] == peer.stars


def test_category_keeps_its_optional_keys_out_unless_set() -> None:
    c = Category(phase="training", task="pre-training", size_class="A", hardware_class=None, setting="s", group="g",
                 metric="m", reference="v")
    assert list(c.to_dict()) == ["phase", "task", "size_class", "hardware_class", "setting", "group", "metric",
                                 "reference"]
    m = dataclasses.replace(c, edition="E", regime="single", aies_task="summarization")
    assert list(m.to_dict())[-3:] == ["edition", "regime", "aies_task"]
    assert Category.from_dict(m.to_dict()).regime == "single"


def test_nearest_peer_withheld_loses_grade_and_stars_only() -> None:
    p = NearestPeer(model="x", value=1.0, unit="Wh", percentile=50.0, grade="C", ref_id="r#1", stars=3)
    assert list(p.to_dict()) == ["model", "value", "unit", "percentile", "grade", "ref_id", "stars"]
    w = p.withhold()
    assert w.to_dict() == {"model": "x", "value": 1.0, "unit": "Wh", "percentile": 50.0, "ref_id": "r#1"}
    stored = NearestPeer.from_dict({"model": "y", "grade": "A", "stars": 5, "odd": 1})
    assert stored.withhold().to_dict() == {"model": "y", "odd": 1}


def test_withhold_types_the_indicative_grading() -> None:
    pr = PhaseRating(phase="inference", available=True, grade="C", stars=2, percentile=12.0, peers=16,
                     comparable=False, notes=["not comparable: batch size 8"])
    withhold(pr)
    assert pr.indicative == Indicative(grade="C", stars=2, percentile=12.0, references=16)
    assert isinstance(pr.indicative, Indicative) and pr.indicative.references == 16


def test_co2e_of_a_published_row_and_of_a_measured_report() -> None:
    row = Co2e(value=1.5, unit="g", basis="tco2e_operational (as published)")
    assert row.to_dict() == {"value": 1.5, "unit": "g", "basis": "tco2e_operational (as published)"}
    measured = Co2e(value=2.0, unit="g", sci=None, measured=True)
    assert measured.to_dict() == {"value": 2.0, "unit": "g", "sci": None}
    assert Co2e.from_dict(measured.to_dict()).measured and not Co2e.from_dict(row.to_dict()).measured


def test_star_bands_are_records_of_the_published_json() -> None:
    bands = band_records([1.0, 6.0])
    assert [x.to_dict() for x in bands] == star_bands([1.0, 6.0])
    assert bands[0].stars == 5 and bands[0].low == 1.0 and bands[0].high == 2.0
    assert StarBand.from_dict({"stars": 2, "from": 3.0, "to": 4.0}).high == 4.0


def test_published_figures_of_every_row_are_the_footprint_json() -> None:
    for r in reference.reference_rows("training", **ALL) + reference.reference_rows("inference", **ALL):
        pub = published_of(r)
        d = footprint(r.to_dict())
        assert pub.to_dict() == d and list(pub.to_dict()) == list(d)
        assert pub.ref_id == r.ref_id and Published.from_dict(d).to_dict() == d
    run = next(r for r in reference.reference_rows("training") if r.columns.get("tco2e_operational"))
    assert published_of(run).tco2e_operational == float(run.columns["tco2e_operational"])
    assert published_of(run).hardware == run.hardware and published_of(run).by == "the model's authors"


def test_a_phase_rating_given_json_sub_records_types_them() -> None:
    pr = PhaseRating(phase="inference", category={"group": "g"}, nearest_peers=[{"model": "m", "value": 1.0}],
                     co2e={"value": 1.0, "unit": "g", "sci": None}, published={"provenance": "published"})
    assert isinstance(pr.category, Category) and pr.category.group == "g"
    assert isinstance(pr.nearest_peers[0], NearestPeer) and pr.nearest_peers[0].model == "m"
    assert isinstance(pr.co2e, Co2e) and pr.co2e.measured and isinstance(pr.published, Published)
    assert pr.to_dict()["category"] == {"group": "g"}


def test_a_record_is_its_json_dict_and_read_only() -> None:
    r = rate("distilbert/distilgpt2", hub=False)
    cat = r.inference.category
    assert isinstance(cat, dict) and json.loads(json.dumps(cat)) == cat.to_dict()
    with pytest.raises(TypeError, match="read-only"):
        cat["group"] = "elsewhere"  # type: ignore[index]
    with pytest.raises(TypeError, match="read-only"):
        cat.update(group="elsewhere")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cat.group = "elsewhere"  # type: ignore[misc]
    assert cat.to_dict() is not cat.to_dict() and cat.group == cat["group"]
    import copy
    import pickle
    assert copy.deepcopy(cat) is cat and pickle.loads(pickle.dumps(cat)) == cat


# -- the Hub and lineage records ---------------------------------------------------------------------------------
def test_hub_card_json_of_each_answer() -> None:
    from scer_hf.rating import hub
    from scer_hf.rating.hubrecords import HubCard

    off = hub.hub_card("x/y", lookup=(None, {"checked": False, "error": "HF_HUB_OFFLINE is set"}))
    assert isinstance(off, HubCard) and not off.checked and off.error == "HF_HUB_OFFLINE is set"
    assert off.to_dict() == {"checked": False, "error": "HF_HUB_OFFLINE is set"}
    m = hub._checked({"cardData": {"co2_eq_emissions": {"emissions": 12.5, "source": "CodeCarbon"}}})
    card = hub.hub_card("x/y", lookup=(m, {"checked": True, "refused": ["safetensors.total refused"]}))
    assert card.co2e_g == 12.5 and card.source == "CodeCarbon" and card.refused == ("safetensors.total refused",)
    assert list(card.to_dict()) == ["checked", "co2e_g", "source", "refused"]
    assert hub.card_emissions("x/y", lookup=(m, {"checked": True})) == {"checked": True, "co2e_g": 12.5,
                                                                         "source": "CodeCarbon"}
    assert HubCard.from_dict(card.to_dict()).to_dict() == card.to_dict()


def test_lineage_info_of_a_rating_reads_its_node_and_hub_check() -> None:
    from scer_hf.rating.hubrecords import HubCheck, LineageInfo, NodeInfo

    r = rate("bigscience/bloomz-560m", hub=False)
    assert isinstance(r.lineage, LineageInfo) and isinstance(r.lineage.node, NodeInfo)
    assert r.lineage.node.base_model == r.lineage["node"]["base_model"] == "bigscience/bloom-560m"
    assert r.lineage.hub is None and list(r.lineage.to_dict()) == ["node"]
    checked = HubCheck(checked=True, base_model="a/b", relation="finetune", parameters=10, architecture="bert")
    both = LineageInfo(node=r.lineage.node, hub=checked)
    assert list(both.to_dict()) == ["hub", "node"] and both.to_dict()["hub"]["parameters"] == 10
    assert LineageInfo.from_dict(both.to_dict()).hub == checked
    assert HubCheck(checked=False, error="offline").to_dict() == {"checked": False, "error": "offline"}


# -- the other typed tables of the engine -------------------------------------------------------------------------
def test_renamed_ids_are_alias_records_and_the_table_still_dicts() -> None:
    from scer_hf.rating import aliases

    recs = aliases.aliases()
    assert recs and all(isinstance(a, aliases.Alias) for a in recs.values())
    assert aliases.table() == {k: a.to_dict() for k, a in recs.items()}
    gpt2 = recs["gpt2"]
    assert gpt2.current == "openai-community/gpt2" and gpt2.ref.startswith("aliases.csv#")
    assert aliases.renamed("gpt2") == gpt2.to_dict() and aliases.canonical("GPT2") == gpt2.current


def test_modelled_points_are_typed_and_published_points_their_dicts() -> None:
    from scer_hf.rating import modelled as m

    pts = m.points("text_generation", m.SINGLE)
    assert pts and all(isinstance(p, m.Point) and p.value > 0 and p.params_b > 0 for p in pts)
    assert m.published_points("text_generation", m.SINGLE) == [p.to_dict() for p in pts]
    t = m.new_tally()
    m.score_fold((pts[0].value, pts[0].value / 2, pts[0].value * 2), pts[0], t)
    assert t.hits == [1.0] and t.errs == [0.0] and m.loo_summary("x", None, 1, 1, t)["coverage"] == 1.0


def test_adapter_config_reads_the_base_and_peft_type_once() -> None:
    from scer_hf.rating.adapter import AdapterConfig

    cfg = AdapterConfig.of({"base_model_name_or_path": " bigscience/bloom-560m ", "peft_type": "LORA", "r": 8})
    assert cfg.base_model == "bigscience/bloom-560m" and cfg.peft_type == "LORA" and cfg.peft_type_text == "LORA"
    none = AdapterConfig.of({"base_model_name_or_path": ""})
    assert none.base_model is None and none.peft_type is None and none.peft_type_text == "None"


def test_the_hub_lineage_fields_of_an_answer() -> None:
    from scer_hf.rating import hub
    from scer_hf.rating import lineage as lin

    m = hub._checked({"cardData": {"base_model": "bigscience/bloom-560m"}, "safetensors": {"total": 559_214_592},
                      "config": {"model_type": "bloom"}})
    node, info = lin.hub_node("someone/bloom-tuned", lookup=(m, {"checked": True}))
    box = lin._hub_fields(m)
    assert isinstance(box, lin.HubLineage) and box.bases == ("bigscience/bloom-560m",) and box.arch == "bloom"
    assert box.relation == "finetune" and box.parameter_total == 559_214_592
    assert info == box.info() and info["parameters"] == 559_214_592 and node is not None
    assert node.params_b == pytest.approx(0.559214592) and node.architecture == "bloom"


def test_a_stored_record_keeps_its_json_through_pickle_and_a_replaced_one_is_remade() -> None:
    import pickle

    stored = Category.from_dict({"group": "g", "extra": [1]})
    assert stored.to_dict() == {"group": "g", "extra": [1]} and stored.group == "g"
    again = pickle.loads(pickle.dumps(stored))
    assert again.to_dict() == stored.to_dict() and again.read_from == {"group": "g", "extra": [1]}
    moved = dataclasses.replace(stored, group="h")
    assert moved.group == "h" and moved["group"] == "h" and "extra" not in moved and moved.read_from is None
