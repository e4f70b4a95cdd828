"""The card shows each boundary's own label in its own section, links only files it has, and says training_type."""

from __future__ import annotations

from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from scer_hf.publish.card import update_card
from scer_hf.publish.card.content import co2_entry
from scer_hf.publish.label import save_label
from scer_hf.core.report import Report
from tests.builders import inference_report, rating, training_report

TRAIN, INFER = training_report(), inference_report()  # one run each (a report's digest includes its run id)


def sections(text: str) -> dict[str, str]:
    """The markdown of each ``### Training`` / ``### Inference`` section."""
    out: dict[str, str] = {}
    body = text.split("<!-- scer-hf:start -->")[1].split("<!-- scer-hf:end -->")[0]
    for chunk in body.split("\n### ")[1:]:
        out[chunk.split()[0].lower()] = chunk
    return out


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """A model folder as the demo leaves it: the inference label as scer_label.svg, the training one beside it."""
    save_label(tmp_path / "scer_label.svg", INFER, rating(), auto_rate=False)
    save_label(tmp_path / "scer_label_training.svg", TRAIN, rating(report=TRAIN), auto_rate=False)
    return tmp_path


def test_each_section_shows_the_label_of_its_own_boundary(folder: Path) -> None:
    update_card(folder, TRAIN, rating=rating(report=TRAIN))
    text = update_card(folder, INFER, rating=rating()).content
    s = sections(text)
    assert "](scer_label_training.svg)" in s["training"] and "](scer_label.svg)" not in s["training"]
    assert "](scer_label.svg)" in s["inference"] and "scer_label_training.svg" not in s["inference"]
    assert text.count("![SCER carbon-efficiency label") == 2
    head = text.split("### Training")[0]
    assert "![" not in head.split("<!-- scer-hf:start -->")[1]  # no image above the first section
    data = ModelCard(text).data.scer
    assert data["training"]["label"] == "scer_label_training.svg" and data["inference"]["label"] == "scer_label.svg"


def test_another_reports_label_is_never_shown(tmp_path: Path) -> None:
    save_label(tmp_path / "scer_label.svg", INFER, rating(), auto_rate=False)  # inference only
    text = update_card(tmp_path, TRAIN, rating=rating(report=TRAIN)).content
    assert "scer_label.svg" not in sections(text)["training"]
    assert "label" not in ModelCard(text).data.scer["training"]


def test_card_links_only_files_it_has(tmp_path: Path) -> None:
    rep = training_report()
    text = update_card(tmp_path, rep, rating=rating(report=rep)).content
    assert "HTML report" not in text
    assert "scer_report" not in sections(text)["training"]  # no manifest beside it: no link, only the digest
    assert rep.digest() in text and "--report REPORT.json" in text
    rep.save(tmp_path / "training_report.json")  # the demo's name for it
    text = update_card(tmp_path, rep, rating=rating(report=rep)).content
    assert "[training\\_report.json](training_report.json)" in sections(text)["training"]
    other = Report.from_dict({**training_report().to_dict(), "run_id": "another-run"})
    other.save(tmp_path / "scer_report.json")  # a different report beside the card is not linked as this one
    text = update_card(tmp_path, rep, rating=rating(report=rep)).content
    assert "scer_report.json" not in text
    for target in ("training_report.json", "scer_label.svg"):  # every relative link in the card exists
        if f"]({target})" in text:
            assert (tmp_path / target).is_file()


def test_not_comparable_rating_does_not_point_to_a_missing_html_report(tmp_path: Path) -> None:
    r = rating()
    r["inference"] = {**r["inference"], "comparable": False}
    text = update_card(tmp_path, INFER, rating=r).content
    assert "not rated: not comparable" in text and "HTML report" not in text


def test_training_type_comes_from_the_report() -> None:
    d = training_report().to_dict()
    assert "training_type" not in co2_entry(training_report())  # the report does not say: not written
    for kind in ("fine-tuning", "pre-training"):
        rep = Report.from_dict({**d, "model": {**d["model"], "training_type": kind}})
        assert co2_entry(rep)["training_type"] == kind


def test_section_markers_that_do_not_pair_up_are_refused_and_duplicates_collapse() -> None:
    from scer_hf.errors import CardError
    from scer_hf.publish.card.splice import SECTION_END as E
    from scer_hf.publish.card.splice import SECTION_START as S
    from scer_hf.publish.card.splice import put_section

    new = f"{S}\nnew\n{E}"
    for broken in (f"{S}\nold\n", f"{E}\nold\n{S}\n", f"{S}\na\n{S}\nb\n{E}\n{E}\n", f"{S}\n{E}\n{E}\n"):
        with pytest.raises(CardError, match="unbalanced"):
            put_section(broken, new, "\n")
    assert put_section(f"intro\n{S}\nold\n{E}\nmid\n{S}\ndup\n{E}\nend\n", new, "\n") == f"intro\n{new}\nmid\n\nend\n"
    assert put_section("intro", new, "\n") == f"intro\n\n{new}\n" and put_section("", new, "\n") == f"{new}\n"
