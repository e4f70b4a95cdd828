"""What people read cannot mislead: a run stopped at the query cap says so everywhere, the defaults that shaped a
figure are printed with it, one unit scale and one spelling per unit, and the CLI prints one fact per line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from scer_hf.cli import cli
from scer_hf.cli.benchmark import render_text as bench_text
from scer_hf.cli.estimate import render_text as estimate_text
from scer_hf.core.report import Report
from scer_hf.publish.card import update_card
from scer_hf.publish.html import render_html
from scer_hf.publish.label import make_label
from scer_hf.publish.visible import html_lines, markdown_lines, svg_lines
from scer_hf.rating import rate
from tests.builders import fixed, inference_report, training_report

CAP_TEXT = "stopped at the 40-query cap: ±52.7 % at 95 % confidence, target ±5 %"


def capped_benchmark() -> Report:
    """An inference report as the benchmark writes it, stopped at a 40-query cap at ±52.7 %."""
    d = inference_report().to_dict()
    d["benchmark"] = {"protocol": "scer-hf-bench/2", "setting": "aienergyscore", "task": "text-generation",
                      "batch_size": 1, "max_new_tokens": 10, "warmup": 10, "queries_cap": 40, "queries_run": 40,
                      "queries_measured": 40, "stopped_by": "cap", "stopping_rule": "scer-hf-stop/2",
                      "ci": {"mean_j_per_query": 0.254, "half_width_j": 0.134, "rel_half_width": 0.527,
                             "confidence": 0.95, "quantile_level": 0.97, "target_rel_half_width": 0.05},
                      "hardware": "NVIDIA H100 80GB"}
    d.setdefault("extra", {})["per_unit"] = {"wh_per_1k_queries": 0.07, "j_per_1k_output_tokens": 25.4,
                                             "g_per_1k_output_tokens": 0.0004}
    return fixed(Report.from_dict(d))


def _norm(lines: list[str]) -> str:
    return " ".join(" ".join(lines).split())


def test_a_run_stopped_at_the_cap_says_so_with_its_interval_in_every_output(tmp_path: Path) -> None:
    rep = capped_benchmark()
    d = rep.to_dict()
    assert d["benchmark"]["stopped_by"] == "cap" and d["benchmark"]["ci"]["rel_half_width"] == 0.527  # the report
    r = rate(rep)
    outs = {
        "label": _norm(svg_lines(make_label(rep, r))),
        "html": _norm(html_lines(render_html(rep, r))),
        "card": _norm(markdown_lines(update_card(tmp_path, rep, rating=r).content)),
        "cli": _norm([bench_text(d)]),
    }
    for where, text in outs.items():
        assert CAP_TEXT in text, where
    ci = dict(d["benchmark"], stopped_by="ci", queries_measured=92,
              ci={**d["benchmark"]["ci"], "rel_half_width": 0.048})
    assert "stopped at ±4.8 % at 95 % confidence after 92 queries, target ±5 %" in bench_text({**d, "benchmark": ci})


def test_defaults_that_shape_a_figure_are_printed_with_it() -> None:
    """No --country: the world average, said; no --pue: PUE 1, said (benchmark, estimate, label)."""
    from scer_hf.core.calculator import estimate
    from scer_hf.core.carbon import carbon_intensity

    rep = capped_benchmark().to_dict()
    rep["carbon"] = carbon_intensity(detect=False).to_dict()
    text = bench_text(rep)
    assert "grid          : 475 gCO2eq per kWh, world average: no location given" in text
    assert "PUE           : 1: no data-centre overhead counted" in text
    e = estimate(hardware="H100 SXM", hours=1).to_dict()
    text = estimate_text(e, [])
    assert "world average: no location given" in text and "PUE           : 1: no data-centre" in text
    label = _norm(svg_lines(make_label(Report.from_dict(rep), None, auto_rate=False)))
    assert "world average: no location given" in label and "no data-centre overhead counted" in label


# ------------------------------------------------------------------ units ----------------
BAD_SPELLINGS = re.compile(r"gCO2e/kWh|gCO2eq/kWh|g CO2e\b|\bt CO2e\b|10\^15|per 1 billion|per 1 trillion|"
                           r"per query\b|per sample\b|per 1,000 (training |output )?tokens")


def test_one_scale_and_one_spelling_per_unit_in_every_output(tmp_path: Path) -> None:
    outs: dict[str, str] = {}
    for rep in (inference_report(), training_report(), capped_benchmark()):
        r = rate(rep)
        outs[f"label {rep.boundary}"] = "\n".join(svg_lines(make_label(rep, r)))
        outs[f"html {rep.boundary}"] = "\n".join(html_lines(render_html(rep, r)))
        (tmp_path / rep.boundary).mkdir(exist_ok=True)  # update_card creates no folder (issue 20)
        outs[f"card {rep.boundary}"] = update_card(tmp_path / rep.boundary, rep, rating=r).content
    run = CliRunner().invoke
    for args in (["rate", "meta-llama/Llama-2-7b-hf", "--offline"], ["rate", "bigscience/bloom", "--offline"],
                 ["rate", "OPT-175B", "--offline"], ["grid", "--country", "FRA"],
                 ["estimate", "--gpu", "H100 SXM", "--hours", "2", "--tokens", "1e9"]):
        outs[" ".join(args)] = run(cli, args).output
    for where, text in outs.items():
        assert not BAD_SPELLINGS.search(text), (where, BAD_SPELLINGS.search(text).group(0))
    assert "gCO2eq per 1 million output tokens" in outs["label inference"]
    assert "gCO2eq per 1 million training tokens" in outs["card training"]
    assert "gCO2eq per 1 quadrillion parameter-tokens" in outs["rate meta-llama/Llama-2-7b-hf --offline"]
    assert "gCO2eq per kWh" in outs["grid --country FRA"]


# ------------------------------------------------------------------ CLI text -------------
def _nested(line: str) -> bool:
    depth = 0
    for ch in line:
        depth += ch == "("
        if depth > 1:
            return True
        depth -= ch == ")" and depth > 0
    return False


PYTHON_NAMES = re.compile(r"\b(include_secondary|include_modelled|include_third_party|country_iso_code|"
                          r"carbon_intensity_g_per_kwh|embodied_hardware|lifetime_years|task)=|\w+_table\(\)")


@pytest.mark.parametrize("args", [
    ["rate", "meta-llama/Llama-2-7b-hf", "--offline"], ["rate", "bigscience/bloom", "--offline"],
    ["rate", "OPT-175B", "--offline"], ["rate", "distilbert/distilgpt2", "--offline"],
    ["rate", "meta-llama/Llama-3.1-405B", "--offline"], ["rate", "nobody/new-model", "--offline"],
    ["grid", "--list"], ["grid"], ["grid", "--cloud", "aws", "--region", "us-east-1"],
    ["estimate", "--gpu", "H100 SXM", "--count", "8", "--hours", "120"],
    ["estimate", "--gpu", "A100 SXM4 80GB", "--gpu-hours", "1082990", "--count", "384", "--country", "FRA",
     "--idle-watts", "64000", "--infrastructure-watts", "27000", "--lifetime-usage", "0.85"],
    ["estimate", "--gpu", "H100", "--hours", "1"],
])
def test_cli_text_one_fact_per_line_short_no_nested_parentheses_flags_not_python_names(args: list[str]) -> None:
    res = CliRunner().invoke(cli, args)
    assert res.exit_code in (0, 1, 4), res.output  # 4: rate of a model id no table knows (documented)
    lines = res.output.splitlines()
    assert lines and max(len(line) for line in lines) <= 120, max(lines, key=len)
    assert not [line for line in lines if _nested(line)], [line for line in lines if _nested(line)]
    assert not PYTHON_NAMES.search(res.output), PYTHON_NAMES.search(res.output).group(0)


def test_cli_text_of_reports_labels_pages_and_verify(tmp_path: Path) -> None:
    rep = capped_benchmark()
    rp = rep.save(tmp_path / "inference_report.json")
    training_report().save(tmp_path / "training_report.json")
    run = CliRunner().invoke
    outs = [run(cli, ["rate", str(tmp_path)]).output, run(cli, ["rate", str(rp)]).output,
            run(cli, ["label", str(rp), "-o", str(tmp_path / "scer_label.svg")]).output,
            run(cli, ["report", str(rp), "-o", str(tmp_path / "inference_report.html")]).output,
            run(cli, ["verify", str(tmp_path)]).output, bench_text(rep.to_dict())]
    from scer_hf.cli._common import tidy

    for text in outs:
        text = tidy(text)
        for line in text.splitlines():
            assert len(line) <= 120 and not _nested(line), line
        assert not PYTHON_NAMES.search(text), PYTHON_NAMES.search(text).group(0)
    assert "VERIFIED" in outs[4]
