"""Model cards: SCER metadata + section written into real and odd cards, everything else kept byte for byte."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from huggingface_hub import ModelCard
from huggingface_hub.repocard import REGEX_YAML_BLOCK
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scer_hf import update_card
from scer_hf.publish.card import edit_card_text, is_repo_id
from scer_hf.publish.card.splice import SECTION_END, SECTION_START, same_value
from scer_hf.errors import CardConflictError, CardError, OutputWriteError, SCERError
from tests.builders import inference_report, rating, training_report

CARDS = Path(__file__).parent / "fixtures" / "cards"
OURS = ("co2_eq_emissions", "scer")


def read(p: Path) -> str:
    return p.read_bytes().decode("utf-8")


def parts(text: str) -> tuple[str, str, str]:
    """(text before the YAML, the YAML, the body) exactly as the Hub splits a card."""
    t = text.removeprefix("\ufeff")
    m = REGEX_YAML_BLOCK.search(t)
    assert m is not None, "no front matter"
    return t[: m.start(2)], m.group(2), t[m.end():]


IDENTITY = ("base_model", "library_name", "pipeline_tag")  # added only where the card has none


def strip_scer_yaml(y: str, had_tags: bool, had: frozenset[str] = frozenset(IDENTITY)) -> str:
    """Remove what scer-hf adds to block-style YAML (an independent inverse, to prove byte preservation).
    *had*: the identity keys the original card already had (scer-hf never writes those)."""
    out: list[str] = []
    skipping = False
    lines = y.splitlines(keepends=True)
    ours = "|".join(["co2_eq_emissions", "scer", *(k for k in IDENTITY if k not in had)])
    for n, line in enumerate(lines):
        if re.match(rf"({ours}):", line):
            skipping = True
            continue
        if skipping and line[:1] in (" ", "\t"):
            continue
        skipping = False
        if re.fullmatch(r"[ \t]*- scer(\r\n|\n)?", line):
            continue
        if not had_tags and line.rstrip("\r\n") == "tags:" and n + 1 < len(lines) and lines[n + 1].strip() == "- scer":
            continue
        out.append(line.replace(", scer]", "]"))
    return "".join(out)


def assert_preserved(original: str, new: str) -> None:
    """Every byte of *original* is in *new*; only SCER keys, the tag and the section were added."""
    assert new.startswith("\ufeff") == original.startswith("\ufeff")
    head_n, y_n, body_n = parts(new)
    if REGEX_YAML_BLOCK.search(original.removeprefix("\ufeff")):
        head_o, y_o, body_o = parts(original)
        assert head_n == head_o
        old = yaml.safe_load(y_o) or {}
        had_tags, had = "tags" in old, frozenset(k for k in IDENTITY if k in old)
        assert strip_scer_yaml(y_n + "\n", had_tags, had).rstrip("\r\n") == y_o.rstrip("\r\n")
        assert yaml.safe_load(strip_scer_yaml(y_n, had_tags, had)) == yaml.safe_load(y_o)
    else:
        body_o = original.removeprefix("\ufeff")
        assert strip_scer_yaml(y_n, False, frozenset()).strip() == ""
    assert body_n.startswith(body_o), "the original body must be a byte-exact prefix of the new body"
    added = body_n[len(body_o):]
    assert re.fullmatch(r"(\r?\n){0,2}" + re.escape(SECTION_START) + r".*" + re.escape(SECTION_END) + r"\r?\n",
                        added, re.DOTALL), added[:200]


# ------------------------------------------------------------------ real-world card --------
def test_real_card_gets_metadata_and_section_and_keeps_every_other_byte(tmp_path: Path) -> None:
    src = CARDS / "all-MiniLM-L6-v2.README.md"
    shutil.copy(src, tmp_path / "README.md")
    rep = training_report()
    res = update_card(tmp_path, rep, rating=rating(report=rep))
    new = read(tmp_path / "README.md")
    assert res.changed and res.path == tmp_path / "README.md" and res.content == new
    assert_preserved(read(src), new)
    card = ModelCard(new)  # huggingface_hub reads it back
    co2 = card.data.co2_eq_emissions
    assert co2["emissions"] == rep.co2e_g and co2["source"] == "scer-hf"  # grams, exact
    assert co2["geographical_location"] == "Germany"
    scer = card.data.scer
    assert scer["schema_version"] == 1 and scer["training"]["report_digest"] == rep.digest()
    assert scer["training"]["energy_j"] == rep.energy_j and scer["training"]["sci"]["value"] == rep.sci["value"]
    assert scer["training"]["sci"]["version"] == "SCI 1.1"
    assert [p["name"] for p in scer["training"]["phases"]] == ["train", "eval"]
    assert card.data.tags[-1] == "scer" and card.data.tags[:4] == ["sentence-transformers", "feature-extraction",
                                                                      "sentence-similarity", "transformers"]
    assert card.data.language == "en" and card.data.license == "apache-2.0" and len(card.data.datasets) == 21
    # the Hub's emissions filter (huggingface_hub's own helper) sees the number in grams
    from huggingface_hub.utils.endpoint_helpers import _is_emission_within_threshold

    class Info:
        card_data = card.data

    assert _is_emission_within_threshold(Info(), 2.0, 3.0)  # training_report(): 2.91 g
    assert new.count(SECTION_START) == 1 and "## Carbon efficiency (SCER)" in new
    section = new[new.index(SECTION_START):]
    assert "| train | training | 6.94 Wh |" in section and "SCI** (SCI 1.1): **14.6 gCO2eq per 1 million training" in section
    # re-running with the same report: byte-identical, nothing written
    before = (tmp_path / "README.md").stat().st_mtime_ns
    again = update_card(tmp_path / "README.md", rep, rating=rating(report=rep))
    assert not again.changed and read(tmp_path / "README.md") == new
    assert (tmp_path / "README.md").stat().st_mtime_ns == before


@pytest.mark.parametrize("name", ["crlf", "no_front_matter", "odd_yaml", "bom", "all-MiniLM-L6-v2"])
def test_hand_made_cards_are_preserved_and_reruns_are_idempotent(name: str) -> None:
    original = read(CARDS / f"{name}.README.md")
    rep_i, rep_t = inference_report(), training_report()
    once = edit_card_text(original, rep_i, rating())
    assert_preserved(original, once)
    assert edit_card_text(once, rep_i, rating()) == once
    both = edit_card_text(once, rep_t)  # a training report joins the inference one
    assert_preserved(original, both)
    assert edit_card_text(both, rep_t) == both
    data = ModelCard(both.removeprefix("\ufeff")).data  # huggingface_hub reads files as utf-8-sig
    assert data.scer["inference"]["report_digest"] == rep_i.digest()
    assert data.scer["training"]["report_digest"] == rep_t.digest()
    assert data.scer["rating"]["inference"]["grade"] == "A"  # kept from the first run
    assert both.count(SECTION_START) == 1 and "### Training" in both and "### Inference" in both
    if name == "crlf":
        assert "\n" not in both.replace("\r\n", "") and both.count("\r\n") > 100
    if name == "odd_yaml":
        assert "tags: [nlp, \"multi word\", 'tiny', scer]" in both
        assert "  <<: *defaults\n" in both and "# trailing comment stays after the last key\n" in both
        assert data.to_dict()["derived"]["license"] == "apache-2.0"


def test_inference_report_writes_no_co2_eq_emissions() -> None:
    new = edit_card_text(read(CARDS / "crlf.README.md"), inference_report())
    data = ModelCard(new).data
    assert data.get("co2_eq_emissions") is None and data.scer["inference"]["sci"]["unit"].endswith("output tokens")


def test_foreign_co2_is_refused_without_overwrite_and_replaced_with_it(tmp_path: Path) -> None:
    card = tmp_path / "README.md"
    shutil.copy(CARDS / "foreign_co2.README.md", card)
    before = card.read_bytes()
    rep = training_report()
    with pytest.raises(CardConflictError, match=r"overwrite=True") as ei:
        update_card(card, rep)
    assert "AutoTrain" in str(ei.value) and "149200" in str(ei.value)
    assert card.read_bytes() == before  # nothing written
    update_card(card, rep, overwrite=True)
    data = ModelCard(read(card)).data
    assert data.co2_eq_emissions["emissions"] == rep.co2e_g and data.co2_eq_emissions["source"] == "scer-hf"
    assert data.tags == ["autotrain", "scer"] and data.license == "apache-2.0"
    assert read(card).index("co2_eq_emissions:") < read(card).index("tags:")  # replaced where it was
    # scer-hf's own earlier value is replaced without overwrite (a new run of the same model)
    rep2 = training_report()
    update_card(card, rep2)
    assert ModelCard(read(card)).data.scer["training"]["report_digest"] == rep2.digest()


def test_overwrite_never_drops_the_other_phase_scer_hf_wrote(tmp_path: Path) -> None:
    rep_t, rep_i = training_report(), inference_report()
    update_card(tmp_path, rep_t, overwrite=True)
    update_card(tmp_path, rep_i, rating=rating(), overwrite=True)  # as `scer-hf demo` does
    scer = ModelCard(read(tmp_path / "README.md")).data.scer
    assert scer["training"]["report_digest"] == rep_t.digest()
    assert scer["inference"]["report_digest"] == rep_i.digest() and scer["rating"]["inference"]["grade"] == "A"


def test_foreign_scer_key_is_a_conflict() -> None:
    with pytest.raises(CardConflictError, match="overwrite=True"):
        edit_card_text("---\nscer: my own thing\n---\nbody\n", training_report())
    new = edit_card_text("---\nscer: my own thing\n---\nbody\n", training_report(), overwrite=True)
    assert ModelCard(new).data.scer["schema_version"] == 1


def test_section_is_replaced_never_duplicated_and_outside_text_kept() -> None:
    text = "---\nlicense: mit\n---\n# Title\n\nintro\n"
    a = edit_card_text(text, training_report())
    a2 = a + "\n## Citation\n\nkeep me\n"
    b = edit_card_text(a2, training_report())
    assert b.count(SECTION_START) == 1 and b.count(SECTION_END) == 1
    assert b.endswith("\n## Citation\n\nkeep me\n") and b.startswith("---\nlicense: mit\n")


@pytest.mark.parametrize("bad", [
    "---\nlicense: mit\n---\nx\n" + SECTION_START + "\nhalf a section\n",
    "---\nlicense: mit\n---\nx\n" + SECTION_END + "\n" + SECTION_START + "\n",
    "---\n{license: mit, tags: [a]}\n---\nflow root\n",
    "---\nlicense: [unclosed\n---\nbody\n",
    "---\n- a list\n- not a mapping\n---\nbody\n",
    "---\n1: integer key\n---\nbody\n",
])
def test_cards_scer_hf_cannot_edit_safely_give_typed_errors_and_stay_unchanged(bad: str, tmp_path: Path) -> None:
    card = tmp_path / "README.md"
    card.write_bytes(bad.encode())
    with pytest.raises(CardError) as ei:
        update_card(card, training_report())
    assert "re-run" in str(ei.value) or "block-style" in str(ei.value) or "mapping" in str(ei.value)
    assert card.read_bytes() == bad.encode()


def test_tags_in_every_shape() -> None:
    rep = inference_report()
    assert ModelCard(edit_card_text("---\ntags: solo\n---\n", rep)).data.tags == ["solo", "scer"]
    assert ModelCard(edit_card_text("---\ntags:\n---\n", rep)).data.tags == ["scer"]
    assert ModelCard(edit_card_text("---\ntags: []\n---\n", rep)).data.tags == ["scer"]
    new = edit_card_text("---\ntags:\n  - a  # why\n  # end of tags\nlicense: mit\n---\n", rep)
    assert new.startswith("---\ntags:\n  - a  # why\n  # end of tags\n  - scer\nlicense: mit\n")
    already = edit_card_text("---\ntags: [scer, x]\n---\n", rep)
    assert already.startswith("---\ntags: [scer, x]\n")
    assert edit_card_text("---\ntags: [a, b,]\n---\n", rep).startswith("---\ntags: [a, b, scer]\n")
    indented = edit_card_text("---\n  license: mit\n  tags:\n  - a\n---\nbody\n", rep)
    assert indented.startswith("---\n  license: mit\n  tags:\n  - a\n  - scer\n  scer:\n    schema_version: 1\n")
    alias = edit_card_text("---\nbase: &t [a]\ntags: *t\n---\n", rep)
    assert alias.startswith("---\nbase: &t [a]\n") and ModelCard(alias).data.tags == ["a", "scer"]
    # a duplicated scalar: the one YAML keeps is rewritten with the tag, the earlier one dropped
    dup = edit_card_text("---\ntags: x\nlicense: mit\ntags: y\n---\n", rep)
    assert dup.startswith("---\nlicense: mit\ntags:\n- y\n- scer\n")


def test_missing_card_in_a_folder_is_created(tmp_path: Path) -> None:
    out = tmp_path / "new-model"
    rep = training_report()
    with pytest.raises(OutputWriteError, match="does not exist"):  # a mistyped folder is not created (issue 20)
        update_card(out, rep)
    assert not out.exists()
    out.mkdir()
    res = update_card(out, rep)
    text = read(out / "README.md")
    assert res.changed and text.startswith("---\nco2_eq_emissions:\n") and "# org/tiny-bert\n" in text
    assert ModelCard(text).data.tags == ["scer"]


def test_label_is_shown_only_when_the_file_exists(tmp_path: Path) -> None:
    rep = training_report()
    update_card(tmp_path, rep)
    assert "scer_label.svg" not in read(tmp_path / "README.md")
    (tmp_path / "scer_label.svg").write_text("<svg/>")
    update_card(tmp_path, rep)
    assert "![SCER carbon-efficiency label (training)](scer_label.svg)" in read(tmp_path / "README.md")
    update_card(tmp_path, rep, label_path="https://example.org/l.svg")
    assert read(tmp_path / "README.md").count("](https://example.org/l.svg)") == 1


def test_report_path_and_rating_json_are_accepted(tmp_path: Path) -> None:
    import json

    rep = inference_report()
    rp = rep.save(tmp_path / "scer_report.json")
    (tmp_path / "rating.json").write_text(json.dumps(rating(grade="B", stars=3)))
    update_card(tmp_path, rp, rating=tmp_path / "rating.json")
    data = ModelCard(read(tmp_path / "README.md")).data
    assert data.scer["rating"]["inference"]["grade"] == "B" and data.scer["rating"]["inference"]["stars"] == 3
    assert data.scer["inference"]["report_digest"] == rep.digest()


def test_scer_hf_verify_accepts_the_card(tmp_path: Path) -> None:
    from scer_hf.publish.verify import verify_card

    for rep in (training_report(), inference_report()):
        rep.save(tmp_path / "scer_report.json", overwrite=True)
        shutil.copy(CARDS / "odd_yaml.README.md", tmp_path / "README.md")
        update_card(tmp_path, rep)
        res = verify_card(tmp_path / "README.md")
        assert res.ok and any(c.name.endswith("report_digest") and c.ok for c in res.checks)


def test_target_kinds() -> None:
    assert is_repo_id("org/model") and is_repo_id("hf://org/model")
    assert not is_repo_id("out/README.md") and not is_repo_id("out/") and not is_repo_id("./x/y")
    assert not is_repo_id("single") and not is_repo_id(Path("org/model"))


# ------------------------------------------------------------------ property test -----------
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=False, allow_infinity=False, width=32), st.text(max_size=12))
_value = st.recursive(_scalar, lambda c: st.one_of(st.lists(c, max_size=3),
                                                   st.dictionaries(st.text(min_size=1, max_size=6), c, max_size=3)),
                      max_leaves=8)
_keys = st.one_of(st.sampled_from(["license", "tags", "co2_eq_emissions", "scer", "language", "model-index",
                                   "base_model", "datasets"]),
                  st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=10))


@st.composite
def cards(draw: st.DrawFn) -> str:
    data = draw(st.dictionaries(_keys, _value, max_size=6))
    flow = draw(st.sampled_from([False, None]))
    y = yaml.safe_dump(data, sort_keys=False, allow_unicode=draw(st.booleans()), default_flow_style=flow,
                       indent=draw(st.integers(2, 4)), width=draw(st.sampled_from([20, 80, 10**6])))
    if draw(st.booleans()):
        y = "# a comment\n" + y
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    body = draw(st.text(max_size=60))
    fm = "---\n" + (y if data else "") + "---\n"
    text = (fm if draw(st.booleans()) else "") + body
    return text.replace("\r\n", "\n").replace("\n", nl) if draw(st.booleans()) else text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=cards(), overwrite=st.booleans())
def test_property_only_typed_errors_and_the_body_is_never_lost(text: str, overwrite: bool) -> None:
    rep = _REP
    try:
        new = edit_card_text(text, rep, _RATING, overwrite=overwrite)
    except SCERError:
        return  # a typed error: fine (conflicts, unparseable YAML, ...)
    t = text.removeprefix("\ufeff")
    m = REGEX_YAML_BLOCK.search(t)
    old_body = t[m.end():] if m else t
    old_data = (yaml.safe_load(m.group(2)) or {}) if m else {}
    n = REGEX_YAML_BLOCK.search(new)
    assert n is not None
    assert new[n.end():].startswith(old_body)
    new_data = yaml.safe_load(n.group(2))
    for k, v in old_data.items():
        if k not in (*OURS, "tags"):
            assert same_value(v, new_data[k]), k
    assert new_data["scer"]["training"]["report_digest"] == rep.digest()
    old_tags = old_data.get("tags")
    if old_tags is None or isinstance(old_tags, (list, str)):
        assert "scer" in new_data["tags"]
    else:  # a mapping or number under 'tags' is not a tag list: left as it was
        assert same_value(old_tags, new_data["tags"])
    assert edit_card_text(new, rep, _RATING) == new  # idempotent (scer-hf's own values need no overwrite)


_REP = training_report()
_RATING = rating(report=_REP)


def test_not_comparable_rating_is_stated_in_the_card(tmp_path: Path) -> None:
    from scer_hf.publish.card import update_card
    from tests.builders import inference_report, rating

    r = rating()
    graded = rating()
    r["inference"]["comparable"] = False
    r["inference"]["notes"] = ["not comparable: batch size 8 (AI Energy Score uses 1)"]
    update_card(tmp_path, inference_report(), rating=r)
    text = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "comparable: false" in text
    assert "not rated: not comparable with the reference" in text and "  - batch size 8" in text
    assert "indicative" not in text.split("<!-- scer-hf:start -->")[1]  # the position lives in the HTML report
    # no headline grade or stars, neither in the prose nor in the metadata
    assert "SCER grade **" not in text and "★" not in text
    meta = text.split("---")[1]
    assert f"grade: {graded['inference']['grade']}" not in meta and "stars:" not in meta


def test_tiny_emissions_are_written_positionally_for_the_hub_filter(tmp_path: Path) -> None:
    """huggingface_hub's emissions_thresholds filter reads the first number: 2.4e-05 would read as 2.4."""
    from huggingface_hub import ModelCard

    from scer_hf.publish.card import update_card
    from tests.builders import training_report

    rep = training_report()
    d = rep.to_dict()
    scale = 3e-5 / d["co2e_g"]  # make it a tiny run
    from scer_hf.core.carbon import CarbonIntensity

    c = CarbonIntensity.from_dict(d["carbon"])
    tiny = type(rep).build(d["phases"], boundary="training",
                           carbon=CarbonIntensity(c.g_per_kwh * scale, c.source, c.year, c.country_iso_code),
                           provenance=d["provenance"], model=d["model"])
    assert tiny.co2e_g < 1e-4
    update_card(tmp_path, tiny)
    text = (tmp_path / "README.md").read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.strip().startswith("emissions:"))
    assert "e-" not in line and line.split(":")[1].strip().startswith("0.0000")
    assert ModelCard(text).data.co2_eq_emissions["emissions"] == tiny.co2e_g  # the same float
    assert re.findall(r"[-+]?\d*\.\d+|\d+", line)[0] == line.split(":")[1].strip()  # what a regex reader takes
