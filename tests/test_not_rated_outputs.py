"""A rating that is not comparable shows no headline grade or stars in any output (HTML, CLI, label, card):
"not rated" and the reasons; the indicative position only in the HTML report's rating section (and the JSON)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from scer_hf.cli import cli
from scer_hf.publish.html import render_html
from scer_hf.rating import rate
from tests.builders import inference_report, rating
from tests.builders import constant_training_report


def _not_comparable() -> dict:
    r = rating()
    r["inference"]["comparable"] = False
    r["inference"]["notes"] = ["not comparable: batch size 8 (AI Energy Score uses 1)"]
    return r


def test_html_not_comparable_has_no_grade_tile() -> None:
    graded = render_html(inference_report(), rating())
    g = rating()["inference"]["grade"]
    assert f'class="grade g{g}"' in graded
    html = render_html(inference_report(), _not_comparable())
    assert f'class="grade g{g}"' not in html and "of 5 stars" not in html
    assert "Not rated" in html and "batch size 8" in html
    # the position appears once, in the rating section, said to be no rating; each reason appears once
    assert html.count("Indicative position only, not a rating: A, percentile 92") == 1
    rating_section = html.split("<h2>Rating</h2>")[1]
    assert "Indicative position" in rating_section and "Indicative position" not in html.split("<h2>Rating</h2>")[0]
    assert html.count("batch size 8") == 1


def test_cli_rate_cpu_training_report_says_not_rated(tmp_path) -> None:
    path = constant_training_report({"cpu:0": 50.0}, method="estimate").save(tmp_path / "scer_report.json")
    res = CliRunner().invoke(cli, ["rate", str(path)])
    assert res.exit_code == 0, res.output
    block = res.output.split("\ntraining\n")[1].split("\ninference\n")[0]
    assert "not rated: not comparable" in block and "SCER " not in block and "indicative" not in block
    assert "estimated" in block and "not measured on a GPU" in block
    d = json.loads(CliRunner().invoke(cli, ["rate", str(path), "--json"]).output)
    assert d["training"]["comparable"] is False and d["training"]["grade"] is None
    assert d["training"]["indicative"]["grade"] == "C"


def test_cli_no_modelled(tmp_path) -> None:
    on = json.loads(CliRunner().invoke(cli, ["rate", "allenai/OLMo-7B", "--offline", "--json"]).output)
    off = json.loads(CliRunner().invoke(cli, ["rate", "allenai/OLMo-7B", "--offline", "--json",
                                              "--no-modelled"]).output)
    assert on["inference"]["method"].startswith("modelled") and on["inference"]["stars_range"]
    assert not off["inference"]["available"]
    given = json.loads(CliRunner().invoke(cli, ["rate", "nobody/new", "--offline", "--json", "--parameters", "7e9",
                                                "--task", "text-generation"]).output)
    assert given["inference"]["method"].startswith("modelled")


def test_measured_not_comparable_rating_flows_to_the_label() -> None:
    from scer_hf.publish.label import label_fields

    rep = constant_training_report({"cpu:0": 50.0}, method="estimate")
    f = label_fields(rep, rate(rep).to_dict())
    assert f["grade"] is None and f["stars"] is None and f["indicative"].startswith("indicative: C")
