"""``verify`` checks what a person reads: the card's section, the label's drawing and the HTML page are rendered
again from the report and compared line by line; a visible edit fails, naming the line. A rating made for another
model, boundary or report is refused by the label, the card, the HTML report and verify."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from scer_hf.cli import cli
from scer_hf.core.report import Report
from scer_hf.errors import RatingMismatchError
from scer_hf.publish import figures
from scer_hf.publish.card import update_card
from scer_hf.publish.html import write_html_report
from scer_hf.publish.label import PALETTE, save_label
from scer_hf.publish.verify import verify
from scer_hf.publish.visible import html_lines, svg_lines
from scer_hf.rating import rate
from tests.builders import inference_report, rating, training_report


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """A folder as the demo leaves it: reports, labels, HTML pages and a card, each rated from its report."""
    inf, tr = inference_report(), training_report()
    inf.save(tmp_path / "inference_report.json")
    tr.save(tmp_path / "training_report.json")
    save_label(tmp_path / "scer_label.svg", inf, rate(inf))
    save_label(tmp_path / "scer_label_training.svg", tr, rate(tr))
    write_html_report(inf, tmp_path / "inference_report.html", rate(inf))
    update_card(tmp_path, tr, rating=rate(tr), label_path="scer_label.svg")
    update_card(tmp_path, inf, rating=rate(inf), label_path="scer_label.svg")
    return tmp_path


def failed(res: object) -> list[str]:
    return [c.name for c in res.failed]  # type: ignore[attr-defined]


def test_everything_people_read_verifies(folder: Path) -> None:
    res = verify(folder)
    assert res.ok, res.describe()
    names = {c.name for c in res.checks if c.ok}
    for where in ("scer_label.svg: label", "inference_report.html: page", "README.md: card section"):
        assert any(n.startswith(where) and "what a person reads" in n for n in names), where


def test_a_tampered_card_total_and_sci_fail_naming_the_line(folder: Path) -> None:
    card = folder / "README.md"
    text = card.read_text(encoding="utf-8")
    tot = re.search(r"\| \*\*Total\*\* \(top-level phases\) \| \| \*\*([^*]+)\*\*", text)
    sci = re.search(r"\*\*SCI\*\* \(SCI 1\.1\): \*\*([0-9.,]+) ", text)
    assert tot and sci
    tampered = text.replace(tot.group(0), tot.group(0).replace(tot.group(1), "2.1 J"), 1)
    tampered = tampered.replace(sci.group(0), sci.group(0).replace(sci.group(1), "7.37"), 1)
    card.write_text(tampered, encoding="utf-8")
    res = verify(card)
    bad = res.failed
    assert not res.ok and len(bad) == 2, res.describe()
    assert all(c.name.startswith("card section line ") for c in bad)
    assert "2.1 J" in str(bad[0].found) and tot.group(1) in str(bad[0].expected)
    assert "7.37" in str(bad[1].found)
    code = CliRunner().invoke(cli, ["verify", str(card)]).exit_code
    assert code == 3


def _edit_svg(path: Path, old: str, new: str) -> None:
    svg = path.read_text(encoding="utf-8")
    assert old in svg, old
    path.write_text(svg.replace(old, new, 1), encoding="utf-8")


def test_a_tampered_label_headline_fails_naming_the_line(folder: Path) -> None:
    lab = folder / "scer_label.svg"
    value = re.search(r'font-size="24" font-weight="bold" fill="#111827" text-anchor="start">([^<]+)<',
                      lab.read_text()).group(1)
    _edit_svg(lab, f">{value}<", ">0.10<")
    res = verify(lab)
    assert len(res.failed) == 1 and res.failed[0].name.startswith("label line "), res.describe()
    assert str(res.failed[0].found).startswith("0.10") and str(res.failed[0].expected).startswith(value)
    assert CliRunner().invoke(cli, ["verify", str(lab)]).exit_code == 3


@pytest.mark.parametrize("what", ["grade tile", "phase row", "grid", "star", "qr"])
def test_every_drawn_part_of_the_label_is_checked(folder: Path, what: str) -> None:
    lab = folder / "scer_label.svg"
    svg = lab.read_text(encoding="utf-8")
    if what == "grade tile":  # the letter and the colour of the tile
        tile = re.search(r'(<rect x="14" y="78" width="64" height="64" rx="8" fill=")([^"]+)"', svg)
        _edit_svg(lab, tile.group(0), tile.group(1) + PALETTE["grade_A"] + '"' if tile.group(2) != PALETTE["grade_A"]
                  else tile.group(1) + PALETTE["grade_C"] + '"')
    elif what == "phase row":
        _edit_svg(lab, ">prefill<", ">prefil<")
    elif what == "grid":
        _edit_svg(lab, "56 gCO2eq per kWh, FRA", "5 gCO2eq per kWh, FRA")
    elif what == "star":
        filled = f'fill="{PALETTE["star"]}"/>'
        if filled in svg:
            _edit_svg(lab, filled, f'fill="{PALETTE["paper"]}"/>')
        else:  # an unrated label has no star: draw one
            _edit_svg(lab, "</svg>", '<polygon points="1,1 2,1 3,1 4,1 5,1 6,1 7,1 8,1 9,1 10,1" '
                                     f'fill="{PALETTE["star"]}"/></svg>')
    else:
        path = re.search(r'<path d="(M[^"]{20})', svg).group(1)
        _edit_svg(lab, path, path[:-1] + ("1" if path[-1] != "1" else "2"))
    res = verify(lab)
    assert not res.ok and all(n.startswith("label line") for n in failed(res)), (what, res.describe())


def test_a_tampered_html_page_fails_naming_the_line(folder: Path) -> None:
    page = folder / "inference_report.html"
    html = page.read_text(encoding="utf-8")
    page.write_text(html.replace("Measured by hardware energy counter", "Published figure, not measured", 1),
                    encoding="utf-8")
    res = verify(page)
    assert not res.ok and failed(res) and all(n.startswith("page line") for n in failed(res)), res.describe()


def test_a_line_added_to_every_output_is_checked_with_no_change_to_verify(folder: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A new fact goes into figures.facts only; the outputs made with it no longer match what verify renders."""
    inf = Report.load(folder / "inference_report.json")
    real = figures.facts

    def with_one_more(d):  # type: ignore[no-untyped-def]
        return real(d) + [figures.Fact("coverage", "Coverage", "97 % of windows measured")]

    monkeypatch.setattr(figures, "facts", with_one_more)
    save_label(folder / "scer_label.svg", inf, rate(inf), overwrite=True)
    write_html_report(inf, folder / "inference_report.html", rate(inf), overwrite=True)
    update_card(folder, inf, rating=rate(inf), label_path="scer_label.svg")
    assert "97 % of windows measured" in (folder / "README.md").read_text()
    assert verify(folder / "scer_label.svg").ok  # rendered by the same code: it matches
    monkeypatch.setattr(figures, "facts", real)  # a verify that does not know the new line
    for name in ("scer_label.svg", "inference_report.html", "README.md"):
        res = verify(folder / name)
        assert not res.ok and any("97 % of windows measured" in str(c.found) for c in res.failed), name


def test_pointers_work_where_they_are_printed(folder: Path) -> None:
    svg = (folder / "scer_label.svg").read_text()
    assert "scer-hf verify scer_label.svg" in " ".join(svg_lines(svg))
    html = " ".join(html_lines((folder / "inference_report.html").read_text()))
    assert "scer-hf verify inference_report.html" in html
    for cmd in ("scer_label.svg", "inference_report.html", "README.md"):  # each runs, in the folder, as printed
        assert verify(folder / cmd).ok
    (folder / "scer_label.svg").rename(folder / "renamed.svg")  # its printed command names another file now
    assert "label: its verify command names this file" in failed(verify(folder / "renamed.svg"))
    res = verify(folder / "README.md")  # the card links scer_label.svg, which is gone
    assert any(n.endswith("label: the linked file is beside the card") for n in failed(res))


# ------------------------------------------------------------------ rating binding ---------
def _llama_rating() -> dict:
    return rate("meta-llama/Llama-2-7b-hf", hub=False).to_dict()


@pytest.mark.parametrize("make", ["label", "card", "html", "verify label", "verify html"])
def test_a_rating_for_another_model_is_refused_everywhere(folder: Path, make: str) -> None:
    inf = Report.load(folder / "inference_report.json")
    with pytest.raises(RatingMismatchError) as ei:
        if make == "label":
            save_label(folder / "x.svg", inf, _llama_rating())
        elif make == "card":
            update_card(folder, inf, rating=_llama_rating())
        elif make == "html":
            write_html_report(inf, folder / "x.html", _llama_rating())
        elif make == "verify label":
            verify(folder / "scer_label.svg", rating=_llama_rating())
        else:
            verify(folder / "inference_report.html", rating=_llama_rating())
    assert ei.value.field == "model" and "Llama-2-7b-hf" in str(ei.value)


def test_the_field_that_differs_is_named(folder: Path) -> None:
    inf, tr = Report.load(folder / "inference_report.json"), Report.load(folder / "training_report.json")
    cases = {
        "boundary": rating(report=training_report()) | {"model": "org/tiny-gpt2"},  # a training rating
        "report_digest": rating(report=inference_report(run="2")),  # another run of the same model
    }
    for field, r in cases.items():
        with pytest.raises(RatingMismatchError) as ei:
            save_label(folder / "x.svg", inf, r)
        assert ei.value.field == field, (field, str(ei.value))
    published = rate("org/tiny-gpt2", hub=False, modelled=False).to_dict()  # the model id's figures, no report
    with pytest.raises(RatingMismatchError) as ei:
        save_label(folder / "x.svg", inf, published)
    assert ei.value.field == "report_digest"
    # the CLI: exit 1, one line naming the field
    rp = folder / "llama.json"
    rp.write_text(json.dumps(_llama_rating()))
    for args in (["label", str(folder / "inference_report.json"), "--rating", str(rp), "-o", str(folder / "y.svg")],
                 ["card", "update", str(folder), "--report", str(folder / "inference_report.json"), "--rating",
                  str(rp)],
                 ["report", str(folder / "inference_report.json"), "--rating", str(rp), "-o", str(folder / "y.html")],
                 ["verify", str(folder / "scer_label.svg"), "--rating", str(rp)]):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 1 and "(field: model)" in res.output.replace("\n", " "), args
    assert not (folder / "y.svg").exists() and not (folder / "y.html").exists()
    assert tr.boundary == "training"


def test_the_card_records_which_report_its_rating_rates(folder: Path) -> None:
    card = folder / "README.md"
    text = card.read_text(encoding="utf-8")
    inf = Report.load(folder / "inference_report.json")
    assert text.count(f"report_digest: {inf.digest()}") == 2  # the figures' and the rating's
    other = "sha256:" + "0" * 64
    i = text.rindex(f"report_digest: {inf.digest()}")
    card.write_text(text[:i] + f"report_digest: {other}" + text[i + len(f"report_digest: {inf.digest()}"):],
                    encoding="utf-8")
    names = failed(verify(card))
    assert "card.scer.rating.inference.report_digest" in names or \
        "card.scer.inference.report_digest" in names, names
