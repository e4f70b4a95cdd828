"""scer_hf.core.fmt: every figure a person reads (issue 14).

- the formatter itself: 3 significant digits, scaled units, never an exponent;
- no human-facing output (CLI text, label SVG text, card body, HTML text) of an estimate, a
  benchmark report or the demo contains an exponent;
- one truth: label, card, HTML and CLI of one report give the same headline, energy and CO2e.
"""

from __future__ import annotations

import html
import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from scer_hf.core import fmt
from scer_hf.cli import cli
from scer_hf.core.fmt import EXPONENT_RE
from scer_hf.publish.label import label_fields, make_label, scope_texts
from scer_hf.core.report import Report
from tests.builders import inference_report, rating, training_report

# a 405B-parameter pre-training run, as Llama 3.1 405B reports it: 16k H100 x ~1,000 h, 15.6T tokens
ESTIMATE_405B = ["estimate", "--gpu", "H100 SXM", "--count", "16384", "--hours", "1000", "--country", "USA",
                 "--pue", "1.1", "--model", "meta-llama/Llama-3.1-405B", "--tokens", "15.6e12",
                 "--embodied", "NVIDIA H100 SXM5 80GB (1 of 8 on HGX H100)"]


# ------------------------------------------------------------------ the formatter -----
@pytest.mark.parametrize("x, want", [
    (0, "0"), (5.74e-05, "0.0000574"), (0.000119, "0.000119"), (0.00012, "0.00012"), (57.44, "57.4"),
    (273_114, "273,000"), (1.6384e7, "16.4 million"), (2.42e9, "2.42 billion"), (4.7e13, "47 trillion"),
    (999_999, "1 million"), (-2.5e-7, "-0.00000025"), (None, "n/a"), (math.nan, "n/a"), (True, "n/a"),
])
def test_num_three_significant_digits_no_exponent(x, want) -> None:
    assert fmt.num(x) == want


@pytest.mark.parametrize("exp", range(-15, 22))
def test_no_formatter_ever_writes_an_exponent(exp: int) -> None:
    for mant in (1.0, 2.345, 9.999):
        x = mant * 10.0 ** exp
        for s in (fmt.num(x), fmt.num(-x), fmt.co2e(x), fmt.energy(x), fmt.energy(x, "J"), fmt.energy(x, "Wh"),
                  fmt.count(x), fmt.duration(x), fmt.percent(x)):
            assert not EXPONENT_RE.search(s), s


@pytest.mark.parametrize("g, want", [(5.722e-5, "57.2 \u00b5gCO2eq"), (0.3, "300 mgCO2eq"), (12, "12 gCO2eq"),
                                     (273_114, "273 kgCO2eq"), (4.763e9, "4,760 tCO2eq"), (0, "0 gCO2eq")])
def test_mass_is_auto_scaled(g, want) -> None:
    assert fmt.co2e(g) == want


def test_energy_one_family_per_output() -> None:
    assert fmt.energy_family(3.6) == "J" and fmt.energy_family(2.419e9) == "Wh"
    assert fmt.energy(3.676) == "3.68 J" and fmt.energy(2.4192e9) == "672 kWh" and fmt.energy(4.54e13) == "12.6 GWh"
    # inside one output the family is fixed: a 0.02 J child of a 3.7 kJ run stays in joules
    assert fmt.energy(0.02, "J") == "20 mJ" and fmt.energy(3700, "J") == "3.7 kJ"
    assert fmt.energy(3700, "Wh") == "1.03 Wh"


@pytest.mark.parametrize("value, fu, scale, text", [
    # a report written per 1,000 is shown in the unit's one fixed scale (fmt.FU_SCALES), never rescaled to taste
    (5.74e-5, "1,000 training tokens", 1000.0, "0.0574 gCO2eq per 1 million training tokens"),
    (0.3053, "1,000 training tokens", 1000.0, "305 gCO2eq per 1 million training tokens"),
    (0.0574, "1 million training tokens", 1e6, "0.0574 gCO2eq per 1 million training tokens"),
    (2.3, "query", 1.0, "2,300 gCO2eq per 1,000 queries"),
    (0.023, "1,000 queries", 1000.0, "0.023 gCO2eq per 1,000 queries"),
    (0.000243, "1,000 output tokens", 1000.0, "0.243 gCO2eq per 1 million output tokens"),
    (243.0, "1 million output tokens", 1e6, "243 gCO2eq per 1 million output tokens"),
    (0.5, "PFLOP", 1e15, "0.5 gCO2eq per PFLOP"),  # not a countable noun: its own scale
])
def test_sci_headline_is_shown_in_the_fixed_scale_of_its_functional_unit(value, fu, scale, text) -> None:
    d = fmt.sci_display({"value": value, "functional_unit": fu, "scale": scale})
    assert d["text"] == text and d["unit"] == text.split(" ", 1)[1]
    # the displayed value is the same quantity: value per `scale` units, rescaled
    per_unit = value / scale
    assert d["value"] == pytest.approx(per_unit * d["per"]) if fu != "PFLOP" else d["value"] == value


def test_one_scale_per_functional_unit_in_json_and_display() -> None:
    """A report records SCI in the fixed scale, so the JSON unit is the unit people read (README "Units")."""
    from scer_hf.core.sci import FUNCTIONAL_UNITS

    for key, fu in FUNCTIONAL_UNITS.items():
        disp = fmt.sci_display({"value": 1.0, "functional_unit": fu.name, "scale": fu.scale})
        assert disp["functional_unit"] == fu.name and disp["value"] == 1.0, key
    assert fmt.fu_text("training token") == "1 million training tokens" and fmt.fu_text("query") == "1,000 queries"
    d = training_report().to_dict()
    assert d["sci"]["unit"] == d["sci"]["shown_unit"] == "gCO2eq per 1 million training tokens"


@pytest.mark.parametrize("raw, shown", [
    ("Wh per 10^15 parameter-tokens", "Wh per 1 quadrillion parameter-tokens"),
    ("g CO2e per 1,000 queries", "gCO2eq per 1,000 queries"), ("gCO2e/kWh", "gCO2eq per kWh"),
    ("t CO2e (operational)", "tCO2eq (operational)"), ("gCO2eq per kWh", "gCO2eq per kWh"),
])
def test_one_spelling_per_unit(raw: str, shown: str) -> None:
    assert fmt.unit_text(raw) == shown


def test_published_figures_keep_their_digits() -> None:
    assert [fmt.published(x) for x in (31.22, 184320, 433.196, 1.3e6, 24.7)] == \
        ["31.22", "184,320", "433.196", "1,300,000", "24.7"]


def test_report_records_the_unit_shown_and_verify_checks_it(tmp_path: Path) -> None:
    from scer_hf.publish.verify import verify_report

    d = training_report().to_dict()
    shown = fmt.sci_display(d["sci"])["unit"]
    assert d["sci"]["shown_unit"] == shown
    assert verify_report(d).ok
    d["sci"]["shown_unit"] = "gCO2eq per 1 billion training tokens"  # a unit the figure is not shown in
    res = verify_report(d)
    assert not res.ok and [c.name for c in res.failed] == ["sci.shown_unit"]


def test_equivalent_only_when_it_reads() -> None:
    from scer_hf.core.equivalents import best_equivalent, led_minute

    assert best_equivalent(5.7e-5, g_per_kwh=56.0) is None  # a tiny demo run: no equivalent at all
    assert best_equivalent(60.0)["key"] == "smartphone_charges"  # ~4.8 charges
    assert best_equivalent(273_114)["key"] == "tree_months"  # 298 tree-months, not 1,120 km
    # 10 W x 1 min = 1/6 Wh, times the grid: 56 g/kWh -> 0.00933 g per LED-minute
    assert led_minute(56.0).g_co2e_per_unit == pytest.approx(56.0 / 6000)
    assert best_equivalent(1.0, g_per_kwh=56.0)["key"] == "led_10w_minutes"


# ------------------------------------------------------------------ human-facing text --
def svg_text(svg: str) -> str:
    """Everything a person reads on an SVG label: <text>, <title>, <desc> (not the metadata)."""
    root = ET.fromstring(svg)
    out = []
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] in ("text", "tspan", "title", "desc"):
            out.append("".join(el.itertext()))
    return "\n".join(out)


def html_text(page: str) -> str:
    """An HTML page's visible text (no style, no label metadata, no attributes)."""
    page = re.sub(r"<(style|metadata)\b.*?</\1>", " ", page, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def card_body(readme: Path) -> str:
    text = readme.read_text(encoding="utf-8")
    return text.split("\n---\n", 1)[1] if text.startswith("---\n") else text  # the YAML keeps full floats


_HEX = re.compile(r"[0-9a-f]{8,}")  # digests and run ids ("...c6e4a..."): identifiers, not numbers


def exponents(text: str) -> list[str]:
    text = _HEX.sub("<hex>", text)
    hits = list(EXPONENT_RE.finditer(text)) + list(re.finditer(r"10\^\d", text))  # 5.7e-05, and 10^15 too
    return [text[max(0, m.start() - 30):m.end() + 10] for m in hits]


def outputs_of(report_path: Path, tmp: Path) -> dict[str, str]:
    """CLI text, label SVG text, card body and HTML text of one report file, as a user makes them."""
    run = CliRunner()
    out: dict[str, str] = {}
    for name, args in {"label": ["label", str(report_path), "--out", str(tmp / "l.svg")],
                       "report": ["report", str(report_path), "--out", str(tmp / "r.html")],
                       "rate": ["rate", str(report_path)]}.items():
        res = run.invoke(cli, args)
        assert res.exit_code == 0, res.output
        out[f"cli {name}"] = res.output
    card_dir = tmp / "card"
    card_dir.mkdir()
    res = run.invoke(cli, ["card", "update", str(card_dir), "--report", str(report_path), "--label", ""])
    assert res.exit_code == 0, res.output
    out["cli card update"] = res.output
    out["label"] = svg_text((tmp / "l.svg").read_text(encoding="utf-8"))
    out["html"] = html_text((tmp / "r.html").read_text(encoding="utf-8"))
    out["card"] = card_body(card_dir / "README.md")
    return out


def estimate_405b(tmp: Path) -> tuple[Path, str]:
    path = tmp / "est.json"
    res = CliRunner().invoke(cli, [*ESTIMATE_405B, "--out", str(path)])
    assert res.exit_code == 0, res.output
    return path, res.output


def test_no_exponent_in_any_output_of_the_estimate(tmp_path: Path) -> None:
    path, cli_text = estimate_405b(tmp_path)
    outs = {"cli estimate": cli_text, **outputs_of(path, tmp_path)}
    assert "GWh" in outs["label"] and "tCO2eq" in outs["label"]  # large values scale up, too
    bad = {k: exponents(v) for k, v in outs.items() if exponents(v)}
    assert not bad, bad


@pytest.mark.parametrize("make", [inference_report, training_report], ids=["benchmark-like", "training"])
def test_no_exponent_in_any_output_of_a_tiny_report(make, tmp_path: Path) -> None:
    # shrink every figure ~10^6 times: the demo's micrograms and millijoules
    d = make().to_dict()
    for p in d["phases"]:
        p["energy_j"] = {k: v * 1e-6 for k, v in p["energy_j"].items()}
        p["co2e_g"] = p["co2e_g"] * 1e-6  # recomputed by _rebuild; scaled so the report stays schema-valid
    from scer_hf.publish.verify import _rebuild  # the report as scer-hf would have built it from these phases

    path = _rebuild(d).save(tmp_path / "tiny.json")
    outs = outputs_of(path, tmp_path)
    assert "\u00b5gCO2eq" in outs["label"] or "mgCO2eq" in outs["label"]
    bad = {k: exponents(v) for k, v in outs.items() if exponents(v)}
    assert not bad, bad


def test_no_exponent_in_the_benchmark_text() -> None:
    from scer_hf.cli.benchmark import render_text

    d = inference_report().to_dict()
    d["benchmark"] = {"protocol": "p", "setting": "aienergyscore", "task": "text-generation", "batch_size": 1,
                      "max_new_tokens": 10, "warmup": 1, "queries_run": 30, "stopped_by": "ci", "queries_cap": 40,
                      "ci": {"mean_j_per_query": 1.234e-4, "half_width_j": 5.6e-6, "rel_half_width": 0.045,
                             "confidence": 0.95}}
    d.setdefault("extra", {})["per_unit"] = {"wh_per_1k_queries": 3.4e-5, "j_per_1k_output_tokens": 1.2e-3,
                                             "g_per_1k_output_tokens": 1.9e-8}
    text = render_text(d)
    assert not exponents(text), text


# ------------------------------------------------------------------ one truth ---------
def _numbers(s: str) -> str:
    return re.sub(r"\s+", " ", s)


def test_label_card_html_and_cli_agree_on_headline_energy_and_co2e(tmp_path: Path) -> None:
    path, cli_text = estimate_405b(tmp_path)
    outs = {"cli estimate": cli_text, **outputs_of(path, tmp_path)}
    tx = scope_texts(Report.load(path).to_dict())
    assert tx["sci_text"] == "305 gCO2eq per 1 million training tokens"
    assert (tx["energy_text"], tx["co2e_text"], tx["embodied_text"]) == ("11.5 GWh", "4,660 tCO2eq", "102 tCO2eq")
    for where in ("label", "html", "card", "cli estimate", "cli label"):
        text = _numbers(outs[where])
        if where == "label":  # the big number and its unit sit on two lines
            assert tx["sci_value_text"] in text and tx["sci_unit_shown"] in text, where
        else:
            assert tx["sci_text"] in text or (tx["sci_value_text"] in text and tx["sci_unit_shown"] in text), where
        assert tx["energy_text"] in text, (where, tx["energy_text"])
        assert tx["co2e_text"] in text, (where, tx["co2e_text"])
        assert tx["embodied_text"] in text, (where, tx["embodied_text"])
    # the scope is said where two figures differ: IT energy vs with PUE, operational vs with embodied
    for where in ("html", "cli estimate", "cli label"):
        assert tx["energy_pue_text"] == "12.6 GWh" and "12.6 GWh with PUE 1.1" in _numbers(outs[where]), where
    assert "IT energy" in outs["label"] and "PUE 1.1" in outs["label"]
    # the equivalent counts the same CO2e (operational + embodied) on the label and the page
    eq = "5.19 million tree-months"
    assert eq in _numbers(outs["label"]) and "(incl. embodied)" in _numbers(outs["label"])
    assert eq in _numbers(outs["html"]) and "operational + embodied" in outs["html"]
    assert eq in _numbers(outs["cli estimate"])
    # the rating names its PUE scope, and reads as one sentence
    assert "12.6 GWh (training energy with PUE 1.1, not normalised)." in _numbers(outs["html"])
    assert "; ." not in outs["html"] and " 0 shown" not in outs["html"]
    assert "12.6 GWh (training energy with PUE 1.1, not normalised)" in outs["cli rate"]  # same figure in the CLI


def test_card_names_the_hardware_the_label_names() -> None:
    from scer_hf.publish.card.content import boundary_entry, co2_entry

    rep = training_report()
    f = label_fields(rep, rating(report=rep))
    assert boundary_entry(rep)["hardware"] == f["hardware"] == co2_entry(rep)["hardware_used"]


def test_peer_chart_keeps_the_model_label_clear_of_its_error_bar() -> None:
    from scer_hf.publish.html import distribution_svg

    svg = distribution_svg([{"model": "a", "value": 1.0}, {"model": "b", "value": 10.0}], 3.0, "Wh",
                           uncertainty=1.5, model="org/m")
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    label = next(t for t in root.iter(f"{ns}text") if (t.text or "").startswith("org/m"))
    bar_y = [float(ln.get("y1")) for ln in root.iter(f"{ns}line") if ln.get("y1") == ln.get("y2")
             and ln.get("stroke-width") == "2"]
    assert bar_y, "error bar drawn"
    # 14 px text: its box spans baseline-14 .. baseline+4; the bar and diamond (y 28-52) lie below it
    assert float(label.get("y")) + 4 < min(bar_y) and float(label.get("y")) + 4 < 28


# ------------------------------------------------------------------ the demo ----------
@pytest.mark.slow
def test_no_exponent_in_the_demo_and_its_outputs_agree(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["demo", str(tmp_path / "d")])
    assert res.exit_code == 0, res.output
    out = tmp_path / "d"
    texts = {"cli demo": res.output, "card": card_body(out / "model" / "README.md")}
    for p in out.glob("*.svg"):
        texts[p.name] = svg_text(p.read_text(encoding="utf-8"))
    for p in out.glob("*.html"):
        texts[p.name] = html_text(p.read_text(encoding="utf-8"))
    bad = {k: exponents(v) for k, v in texts.items() if exponents(v)}
    assert not bad, bad
    for boundary, label_name in (("training", "scer_label_training.svg"), ("inference", "scer_label.svg")):
        tx = scope_texts(json.loads((out / f"{boundary}_report.json").read_text(encoding="utf-8")))
        for where in ("cli demo", "card", label_name, f"{boundary}_report.html"):
            t = _numbers(texts[where])
            assert tx["sci_value_text"] in t and tx["sci_unit_shown"] in t, (where, tx["sci_text"])
            assert tx["energy_text"] in t and tx["co2e_text"] in t, (where, tx["energy_text"], tx["co2e_text"])


def test_exact_keeps_every_digit_without_an_exponent() -> None:
    x = 5.722369018235059e-05
    assert fmt.exact(x) == "0.00005722369018235059" and float(fmt.exact(x)) == x
    assert fmt.exact(2.42e9) == "2420000000.0" and fmt.exact(None) == "None" and fmt.exact(3) == "3"
