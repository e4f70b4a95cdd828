"""The SCER label: required texts, readability, WCAG contrast, a QR code that decodes, PNG, badge, CLI."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from scer_hf.cli import cli
from scer_hf.errors import ReportError
from scer_hf.publish.label import (CONTRAST_PAIRS, GRAPHIC_PAIRS, LABEL_WIDTH, PALETTE, label_fields, make_label,
                           markdown_badge, save_label, svg_to_png)
from tests.builders import inference_report, rating, training_report

SVG_NS = "{http://www.w3.org/2000/svg}"


def _texts(svg: str) -> list[ET.Element]:
    return [el for el in ET.fromstring(svg).iter(f"{SVG_NS}text")]


def _all_text(svg: str) -> str:
    return "\n".join(el.text or "" for el in _texts(svg))


def _luminance(hex_colour: str) -> float:
    # WCAG 2.x relative luminance (https://www.w3.org/TR/WCAG21/#dfn-relative-luminance)
    rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_contrast_formula_matches_known_values() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # the classic just-failing grey


def test_label_has_every_required_field() -> None:
    rep = inference_report()
    svg = make_label(rep, rating())
    text = _all_text(svg)
    f = label_fields(rep, rating())
    assert "org/tiny-gpt2" in text
    assert "Inference \u00b7 text generation" in text
    # "<value> gCO2eq per <unit>", the unit scaled so the value reads 1 to 1,000 (was 0.108 per 1,000)
    assert "108" in text and "gCO2eq per 1 million output tokens" in text
    assert f["sci_text"] == "108 gCO2eq per 1 million output tokens"
    assert f["sci_unit_shown"] == "gCO2eq per 1 million output tokens"
    assert "SCI 1.1" in text
    assert re.search(r"^A$", text, re.M) and "4 of 5" in text  # grade and stars
    assert "better than 92% of 12 peers" in text
    for phase, wh in (("prefill", "502 J"), ("decode", "1.27 kJ")):  # total under 1 Wh: the J family
        assert phase in text and wh in text
    assert "1.77 kJ" in text  # total 1774.5 J
    assert "NVIDIA H100 80GB" in text
    assert rep["created_at"][:10] in text
    assert "Measured by hardware energy counter" in " ".join(text.split())  # a fact wraps, never cut
    assert "56 gCO2eq per kWh, FRA" in text
    assert "1: no data-centre overhead" in text  # the default PUE is said with the figures it shaped


def test_no_slash_in_place_of_per() -> None:
    for rep in (inference_report(), training_report()):
        text = _all_text(make_label(rep, rating(report=rep)))
        assert not re.search(r"gCO2eq ?/", text), "SCER SPEC: '/' shall not be used in place of 'per'"


def test_readable_at_300_px() -> None:
    svg = make_label(inference_report(), rating())
    root = ET.fromstring(svg)
    assert root.get("viewBox").split()[2] == str(LABEL_WIDTH) == "300"
    sizes = [float(el.get("font-size")) for el in _texts(svg)]
    assert sizes and min(sizes) >= 11  # >= 11 px when shown 300 px wide
    assert root.find(f"{SVG_NS}title").text == "SCER label for org/tiny-gpt2"
    assert "108 gCO2eq per 1 million output tokens" in root.find(f"{SVG_NS}desc").text
    assert root.get("role") == "img"


def test_wcag_aa_contrast_of_every_colour_used() -> None:
    for fg, bg in CONTRAST_PAIRS:
        assert contrast(PALETTE[fg], PALETTE[bg]) >= 4.5, (fg, bg)
    for fg, bg in GRAPHIC_PAIRS:
        assert contrast(PALETTE[fg], PALETTE[bg]) >= 3.0, (fg, bg)
    allowed = {PALETTE[fg] for fg, _ in CONTRAST_PAIRS}
    for rep, r in ((inference_report(), rating()), (inference_report("estimate"), None),
                   (training_report(), rating("C", 1, report=training_report()))):
        used = {el.get("fill") for el in _texts(make_label(rep, r, auto_rate=False))}
        assert used <= allowed, used - allowed


def test_estimated_and_unrated_labels_say_so() -> None:
    text = _all_text(make_label(inference_report("estimate"), None, auto_rate=False))
    assert "ESTIMATED: power model, not" in text
    assert "Not" in text and "rated" in text and "No SCER grade" in text
    text = _all_text(make_label(inference_report(), rating(None, None), auto_rate=False))
    assert "no inference measurement in\nthis report" in text  # the rating's reason, wrapped


def test_stars_without_grade_are_shown() -> None:
    r = rating("A", 3)
    r["inference"]["grade"] = None
    text = _all_text(make_label(inference_report(), r))
    assert "3 of 5" in text and "No" in text and "grade" in text


def _decode_qr(png: bytes) -> list[str]:
    zxingcpp = pytest.importorskip("zxingcpp")
    image = pytest.importorskip("PIL.Image")
    img = image.open(io.BytesIO(png)).convert("L")
    return [r.text for r in zxingcpp.read_barcodes(img) if r.format == zxingcpp.BarcodeFormat.QRCode]


def test_qr_decodes_to_report_digest_or_url() -> None:
    pytest.importorskip("resvg_py")
    rep = inference_report()
    assert _decode_qr(svg_to_png(make_label(rep, rating()), 900)) == ["scer-hf:" + rep.digest()]
    url = "https://example.org/models/tiny/scer_report.json"
    assert _decode_qr(svg_to_png(make_label(rep, rating(), url), 900)) == [url]


def test_png_export(tmp_path: Path) -> None:
    pytest.importorskip("resvg_py")
    image = pytest.importorskip("PIL.Image")
    p = save_label(tmp_path / "label.png", inference_report(), rating(), width_px=600)
    data = p.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    img = image.open(io.BytesIO(data))
    assert img.size[0] == 600 and img.size[1] > 600  # portrait
    assert len(set(img.convert("L").getdata())) > 10  # text and QR were drawn, not a blank page


def test_svg_file_and_bad_suffix(tmp_path: Path) -> None:
    p = save_label(tmp_path / "l.svg", inference_report(), rating())
    ET.parse(p)
    with pytest.raises(ReportError, match=r"\.svg or \.png"):
        save_label(tmp_path / "l.jpg", inference_report(), rating())


def test_markdown_badge() -> None:
    rep = inference_report()
    md = markdown_badge(rep, rating())
    assert md == ("![SCER label: SCER grade A, 108 gCO2eq per 1 million output tokens (SCI 1.1, counter)]"
                  "(scer_label.svg)")
    url = "https://example.org/scer_report.json"
    assert markdown_badge(rep, rating(), "img/l.png", url).endswith("(img/l.png)](https://example.org/scer_report.json)")


def test_rating_from_json_file_and_object(tmp_path: Path) -> None:
    rp = tmp_path / "rating.json"
    rp.write_text(json.dumps(rating("B", 3)))

    class R:
        def to_dict(self) -> dict:
            return rating("C", 1)

    assert label_fields(inference_report(), rp)["grade"] == "B"
    assert label_fields(inference_report(), R())["grade"] == "C"
    with pytest.raises(ReportError, match="rating"):
        label_fields(inference_report(), 42)
    # a JSON that is not a rating (a report, any dict) was silently drawn as "not rated"
    (tmp_path / "report.json").write_text(inference_report().to_json())
    for bad in (tmp_path / "report.json", {"a": 1}):
        with pytest.raises(ReportError, match="not a rating"):
            label_fields(inference_report(), bad)


def test_manifest_url_must_be_a_url(tmp_path: Path) -> None:
    # a label made with --url notaurl failed its own `scer-hf verify` (the QR did not recompute)
    with pytest.raises(ReportError, match="https://"):
        label_fields(inference_report(), None, "notaurl", auto_rate=False)
    rp = inference_report().save(tmp_path / "scer_report.json")
    res = CliRunner().invoke(cli, ["label", str(rp), "--url", "example.org/r.json"])
    assert res.exit_code == 1 and "https://" in res.output
    res = CliRunner().invoke(cli, ["label", str(rp), "--width", "-5", "--out", str(tmp_path / "l.png")])
    assert res.exit_code == 2 and "--width" in res.output  # was an OverflowError traceback


def test_cli_label_svg_and_json(tmp_path: Path) -> None:
    rep = inference_report()
    rp = rep.save(tmp_path / "scer_report.json")
    ratp = tmp_path / "rating.json"
    ratp.write_text(json.dumps(rating()))
    out = tmp_path / "label.svg"
    res = CliRunner().invoke(cli, ["label", str(rp), "--rating", str(ratp), "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["label"] == str(out) and out.exists()
    assert d["fields"]["grade"] == "A" and d["fields"]["qr"] == "scer-hf:" + rep.digest()
    assert d["badge"].startswith("![SCER label: SCER grade A")
    res = CliRunner().invoke(cli, ["label", str(rp), "--out", str(tmp_path / "x.gif")])
    assert res.exit_code == 1 and ".svg or .png" in res.output


def test_nested_phases_are_not_counted_twice() -> None:
    from scer_hf.core.carbon import carbon_intensity
    from scer_hf.publish.html import render_html
    from scer_hf.core.meters import ReplayMeter
    from scer_hf.core.report import Report
    from scer_hf.core.tracker import PhaseTracker
    from tests.builders import Clock

    clock = Clock()
    tr = PhaseTracker([ReplayMeter({"gpu:0": [(0, 100), (100, 100)]}, clock=clock)], clock=clock)
    tr.begin("train")
    with tr.phase("epoch-1", parent="train"):
        clock.t += 36
    tr.end("train", tokens=1000)
    rep = Report.build(tr.measurements, boundary="training", carbon=carbon_intensity(g_per_kwh=100.0),
                       model={"id": "m"})
    f = label_fields(rep, None, auto_rate=False)
    # epoch-1 is shown under train (indented detail), but the total counts train once
    assert [(p["name"], p["parent"]) for p in f["phases"]] == [("train", None), ("epoch-1", "train")]
    text = _all_text(make_label(rep, None, auto_rate=False))
    assert f["energy_j"] == 3600.0
    assert text.count("1 Wh") == 3  # train row, epoch-1 row (all of train's 36 s) and the total, not 2 Wh
    assert "(in train)" in render_html(rep, None, auto_rate=False)


def test_not_comparable_rating_is_flagged_on_the_label() -> None:
    rep = inference_report()
    r = rating()
    assert "indicative only" not in _all_text(make_label(rep, r))
    graded = make_label(rep, r)
    r["inference"]["comparable"] = False
    r["inference"]["notes"] = ["not comparable: batch size 8 (AI Energy Score uses 1)"]
    svg = make_label(rep, r)
    text = _all_text(svg)
    # no headline grade, no stars and no indicative position (that lives in the HTML's rating section only)
    assert "Not\nrated" in text and "better than" not in text and "of 5" not in text
    assert f'fill="{PALETTE["star"]}"' in graded and f'fill="{PALETTE["star"]}"' not in svg
    assert "indicative" not in text and "not comparable" in text
    assert "\u2606" not in "".join(ln for ln in __import__("scer_hf.publish.visible", fromlist=["x"]).svg_lines(svg))
    f = label_fields(rep, r)
    assert f["grade"] is None and f["stars"] is None and f["indicative"].startswith("indicative: ")
    assert "batch size 8" in f["rating_reason"]


def test_grade_without_stars_shows_the_percentile() -> None:
    """Training ratings have a SCER grade but no AI Energy Score stars."""
    rep = training_report()
    r = rating(stars=None, report=rep)
    r["training"] = {**r["training"], "stars": None, "percentile": 37.5, "peers": 9}
    text = _all_text(make_label(rep, r))
    assert "better than 38% of 9 peers" in text and "no rating given" not in text and "of 5" not in text
