"""The self-contained HTML report: content, no network, plots, Pareto, CLI, and a headless-Chromium render."""

from __future__ import annotations

import io
from html import unescape
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from scer_hf.errors import RatingMismatchError
from click.testing import CliRunner

from scer_hf.cli import cli
from scer_hf.publish.html import distribution_svg, pareto_front, render_html, write_html_report
from scer_hf.core.report import Report
from tests.builders import inference_report, rating, training_report

REFERENCE = [{"model": "ref/a", "value": 0.3, "quality": 500.0}, {"model": "ref/b", "value": 1.2, "quality": 300.0},
             {"model": "ref/c", "value": 2.0, "quality": 600.0}]


def with_quality(rep: Report) -> Report:
    d = rep.to_dict()
    d["quality"] = {"metric": "perplexity", "value": 812.0, "higher_is_better": False, "n": 32,
                    "source": "evaluate (test)", "score": 1 / 812.0}
    d["co2e_g_per_quality_unit"] = {"value": d["sci"]["value"] * 812.0,
                                    "unit": "gCO2eq per 1,000 output tokens at full quality", "note": "test"}
    return Report.from_dict(d)


def test_self_contained_no_network() -> None:
    q = with_quality(inference_report())
    html = render_html(q, rating(report=q), REFERENCE)
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\(", html, re.I)
    # no attribute can fetch anything: the only URL inside a tag is the SVG namespace (source URLs are plain text)
    assert not re.search(r"(src|href)\s*=", html, re.I)
    in_tags = {u for tag in re.findall(r"<[^>]+>", html) for u in re.findall(r"https?://[^\s\"'>]+", tag)}
    assert in_tags <= {"http://www.w3.org/2000/svg"}


def test_phases_totals_uncertainty_and_method() -> None:
    rep = inference_report()
    html = unescape(render_html(rep, rating()))
    # total under 1 Wh: the whole page uses the J family (scer_hf.core.fmt.energy_family)
    for s in ("prefill", "decode", "502 J \u00b1 25.1 J", "1.27 kJ \u00b1 63.6 J", "1.77 kJ",
              "108", "gCO2eq per 1 million output tokens", "SCI 1.1", "Measured by hardware energy counter",
              "codecarbon global_energy_mix.json", rep.digest()):
        assert s in html, s
    assert 'role="alert"' not in html  # measured: no estimate banner


def test_estimate_banner() -> None:
    html = render_html(inference_report("estimate"), None, auto_rate=False)
    assert 'role="alert"' in html and "ESTIMATE:" in html
    assert "No rating was given" in html


def test_rating_distribution_marks_the_model() -> None:
    html = render_html(inference_report(), rating(), REFERENCE)
    assert "better than 92% of 12 peers" in html
    svg = re.search(r'<svg[^>]*aria-label="Reference distribution: 3 peers and this model".*?</svg>', html, re.S)
    assert svg, "distribution plot missing"
    assert svg.group(0).count("<circle") == 3 and "org/tiny-gpt2: 0.108" in svg.group(0)


def test_distribution_default_peers_come_from_the_rating() -> None:
    html = render_html(inference_report(), rating())  # nearest_peers of the rating (no group in category)
    assert "Reference distribution: 5 peers" in html and "microsoft/phi-2" in html


def test_distribution_bands_and_log_axis() -> None:
    bands = [{"stars": 5, "from": 0.1, "to": 1.0}, {"stars": 1, "from": 1.0, "to": 10.0}]
    svg = distribution_svg([{"model": "m", "value": 2.0}], 0.5, "Wh per 1,000 queries", 0.1, "me", bands)
    assert svg.count("<rect") == 2 and "5\u2605" in svg and "1\u2605" in svg
    assert ">0.1<" in svg and ">1<" in svg and ">10<" in svg  # decade ticks


def test_pareto_front_by_hand() -> None:
    pts = [{"model": "a", "x": 1.0, "y": 10.0}, {"model": "b", "x": 2.0, "y": 5.0},
           {"model": "c", "x": 3.0, "y": 8.0}, {"model": "d", "x": 0.5, "y": 20.0}]
    # lower y (perplexity) is better: c is dominated by b (cheaper and better)
    assert [p["model"] for p in pareto_front(pts, higher_is_better=False)] == ["d", "a", "b"]
    # higher y (accuracy) is better: d dominates everything
    assert [p["model"] for p in pareto_front(pts, higher_is_better=True)] == ["d"]


def test_quality_section_and_pareto_view() -> None:
    q = with_quality(inference_report())
    html = render_html(q, rating(report=q), REFERENCE)
    assert "Quality-normalised efficiency" in html and "perplexity = <strong>812</strong>" in html
    pareto = re.search(r'<svg[^>]*aria-label="Energy-quality Pareto view".*?</svg>', html, re.S)
    assert pareto and pareto.group(0).count("<circle") == 4 and "<polyline" in pareto.group(0)
    assert "Quality-normalised" not in render_html(inference_report(), rating())


def test_training_report_and_write(tmp_path: Path) -> None:
    rep = training_report()
    with pytest.raises(RatingMismatchError) as ei:  # an inference rating is refused for a training report
        write_html_report(rep, tmp_path / "t.html", rating(), auto_rate=False)
    assert ei.value.field == "model" and not (tmp_path / "t.html").exists()
    r = rating(None, None, report=rep)
    p = write_html_report(rep, tmp_path / "t.html", r, auto_rate=False)
    html = p.read_text(encoding="utf-8")
    assert "train" in html and "eval" in html and "gCO2eq per 1 million training tokens" in html
    assert "Not rated for training: no training measurement in this report" in html


def test_cli_report(tmp_path: Path) -> None:
    rp = inference_report().save(tmp_path / "scer_report.json")
    out = tmp_path / "r.html"
    res = CliRunner().invoke(cli, ["report", str(rp), "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["html"] == str(out) and out.read_text().startswith("<!DOCTYPE html>")


def _chromium() -> str | None:
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


@pytest.mark.browser
def test_renders_in_headless_chromium(tmp_path: Path) -> None:
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    image = pytest.importorskip("PIL.Image")
    q = with_quality(inference_report())
    page = write_html_report(q, tmp_path / "report.html", rating(report=q), REFERENCE)
    shot = tmp_path / "report.png"
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'ud'}",
           f"--screenshot={shot}", "--window-size=1200,1600", page.resolve().as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=90, check=False)
    assert shot.exists(), "chromium produced no screenshot"
    img = image.open(io.BytesIO(shot.read_bytes())).convert("RGB")
    assert img.size == (1200, 1600)
    # the dark-green header band is drawn at the top, and the page is not blank below it
    assert img.getpixel((600, 20)) == (0x14, 0x53, 0x2D)
    assert len(set(img.crop((0, 200, 1200, 1600)).convert("L").getdata())) > 20


def test_human_equivalents_with_sources() -> None:
    eq = pytest.importorskip("scer_hf.core.equivalents")
    rep = inference_report()
    html = unescape(render_html(rep, rating()))
    best = eq.best_equivalent(rep.co2e_g, g_per_kwh=rep.to_dict()["carbon"]["g_per_kwh"])
    assert best  # the one the label shows too, with its source
    assert best["label"] in html and best["source"] in html
    for e in eq.equivalents(rep.co2e_g):
        if e["key"] != best["key"]:
            assert e["label"] not in html


def test_training_rating_without_stars_never_prints_none_stars() -> None:
    rep = training_report()
    r = rating(stars=None, report=rep)
    html = render_html(rep, r)
    assert "None of 5" not in html and "None" not in re.sub(r"<[^>]+>", " ", html).split()


def test_child_phases_follow_their_parent() -> None:
    from scer_hf.publish.html import _phase_rows

    d = {"phases": [{"name": n, "parent": p, "kind": "training", "energy_j": {"total": 1.0}, "duration_s": 1.0,
                     "counts": {}, "measured": True} for n, p in
                    [("epoch 1", "train"), ("eval 1", None), ("epoch 2", "train"), ("train", None)]]}
    assert [r["name"] for r in _phase_rows(d)] == ["eval 1", "train", "epoch 1", "epoch 2"]
