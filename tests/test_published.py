"""`rate` shows the absolute footprint a source published beside the normalised figure, says who computed it,
and keeps third-party estimates out of the peers that grade a measured run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from scer_hf.cli import cli
from scer_hf.rating import rate
from scer_hf.rating import reference
from scer_hf.rating.published import KINDS, footprint, is_third_party
from tests.builders import constant_training_report


def rate_cli(*args: str) -> tuple[str, dict]:
    run = CliRunner().invoke
    text = run(cli, ["rate", *args, "--offline"])
    js = run(cli, ["rate", *args, "--offline", "--json"])
    assert text.exit_code == 0 and js.exit_code == 0, text.output
    return re.sub(r" +: ", ": ", text.output), json.loads(js.output)


def test_llama_2_7b_published_totals_in_text_and_json() -> None:
    text, d = rate_cli("meta-llama/Llama-2-7b-hf")
    pub = d["training"]["published"]
    assert pub["tco2e_operational"] == 31.22 and pub["accelerator_hours"] == 184320
    assert pub["accelerator_hours_unit"] == "GPU-hours" and pub["provenance"] == "published"
    assert "A100-80GB" in pub["hardware"] and pub["location"] == "Meta RSC + production clusters"
    assert "MODEL_CARD.md" in pub["source"] and "energy_mwh" not in pub  # Meta publishes no energy figure
    assert "CO2eq operational: 31.22 tCO2eq" in text and "GPU-hours: 184,320" in text
    assert "energy: not published" in text
    assert "2.23 gCO2eq per 1 quadrillion parameter-tokens" in text  # the normalised figure beside it
    inf = d["inference"]["published"]  # inference: the setting it was published in
    assert "batch size 1" in inf["setting"] and inf["hardware"] == "NVIDIA H100 80GB"


def test_bloom_published_energy_and_both_totals() -> None:
    text, d = rate_cli("bigscience/bloom")
    pub = d["training"]["published"]
    assert (pub["energy_mwh"], pub["tco2e_operational"], pub["tco2e_total"]) == (433.196, 24.7, 50.5)
    assert pub["grid_g_per_kwh"] == 57 and pub["accelerator_hours"] == 1082990 and "Jean Zay" in pub["location"]
    for line in ("energy: 433.196 MWh", "CO2eq operational: 24.7 tCO2eq", "CO2eq total: 50.5 tCO2eq",
                 "GPU-hours: 1,082,990", "grid: 57 gCO2eq per kWh"):
        assert line in text, line


def test_opt_175b_recomputation_is_a_third_party_estimate_and_the_authors_figure_leads() -> None:
    rows = [r for r in reference.rows("training") if r["model_key"] == "OPT-175B"]
    third = [r for r in rows if is_third_party(r)]
    own = [r for r in rows if not is_third_party(r)]
    assert len(third) == 1 and len(own) == 1
    assert footprint(third[0])["provenance"] == "third-party estimate" and "Touvron" in third[0]["source"]
    assert footprint(own[0])["tco2e_operational"] == 75 and "2205.01068" in own[0]["source"]
    assert "75 tons" in own[0]["notes"]  # the quote, as the source states it
    text, d = rate_cli("OPT-175B")
    t = d["training"]
    assert t["method"] == "published" and t["published"]["tco2e_operational"] == 75  # the authors' own figure
    alt = t["alternatives"][0]
    assert alt["method"] == "third-party estimate" and alt["estimated"] is True
    assert (alt["published"]["energy_mwh"], alt["published"]["tco2e_operational"]) == (356, 137)
    assert "third-party estimate, computed by a third party, not the model's authors" in text
    assert set(KINDS) == {"measured", "published", "third-party estimate"}


def test_third_party_estimates_do_not_grade_a_measured_run_unless_asked() -> None:
    opt_third = next(r["ref_id"] for r in reference.rows("training") if is_third_party(r))
    big = constant_training_report({"gpu:0": 100.0}, params=175e9)  # OPT-175B's size class

    def peers(**kw: object) -> set[str]:
        return {p["ref_id"] for p in rate(big, **kw).training.peer_values}  # type: ignore[arg-type]

    default, asked = peers(), peers(include_third_party=True)
    assert opt_third not in default and opt_third in asked and asked - default == {opt_third}
    res = CliRunner().invoke(cli, ["rate", "--help"])
    assert "--include-third-party" in res.output


def test_a_rating_of_a_report_is_bound_to_it(tmp_path: Path) -> None:
    rep = constant_training_report({"gpu:0": 100.0})
    r = rate(rep).to_dict()
    assert r["reports"] == [{"model": rep.model["id"], "boundary": "training", "report_digest": rep.digest()}]
    assert rate("meta-llama/Llama-2-7b-hf", hub=False).to_dict()["reports"] == []


def test_a_local_folder_wins_over_a_hub_id_of_the_same_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.builders import inference_report
    from tests.builders import training_report as tr_report

    demo = tmp_path / "scer-demo"
    demo.mkdir()
    inf, tr = inference_report(), tr_report()
    inf.save(demo / "inference_report.json")
    tr.save(demo / "training_report.json")
    monkeypatch.chdir(tmp_path)
    r = rate("scer-demo")
    assert {b["boundary"]: b["report_digest"] for b in r.reports} == {"inference": inf.digest(),
                                                                      "training": tr.digest()}
    assert r.training.available and r.inference.available  # each phase from its own report
    assert rate("hf://scer-demo", hub=False).reports == []  # hf:// is always the Hub id
    res = CliRunner().invoke(cli, ["rate", "scer-demo"])
    assert res.exit_code == 0 and "rated report" in res.output
