"""The one grid-intensity resolver: cloud regions, sub-national grids, detection, provenance, `scer-hf grid`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from scer_hf import Report
from scer_hf.core.carbon import carbon_intensity, detect_location
from scer_hf.cli import cli
from scer_hf.errors import CarbonIntensityError, UnknownCountryError, UnknownRegionError
from scer_hf.core.grid_regions import LBS_PER_MWH_TO_G_PER_KWH, available
from scer_hf.core.meters.estimate import _codecarbon_data_dir
from scer_hf.core.tracker import Measurement
from scer_hf.publish.verify import verify_report

DATA = _codecarbon_data_dir()
pytestmark = pytest.mark.skipif(DATA is None, reason="codecarbon's data files are not installed")


@pytest.fixture(autouse=True)
def _no_cloud_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_REGION", "FUNCTION_REGION"):
        monkeypatch.delenv(var, raising=False)


def test_every_row_of_codecarbon_impact_csv_resolves_to_its_own_value() -> None:
    rows = list(csv.DictReader((DATA / "cloud" / "impact.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert len(rows) >= 40
    for r in rows:
        ci = carbon_intensity(cloud_provider=r["provider"], cloud_region=r["region"])
        assert ci.g_per_kwh == float(r["impact"]), r["region"]
        assert r["source"] in ci.source and r["region"] in ci.source
        assert ci.data_file == "codecarbon/data/cloud/impact.csv" and ci.codecarbon_version
        assert ci.location == "given" and ci.cloud_provider == r["provider"]


def test_us_state_is_egrid_lbs_per_mwh_converted_to_g_per_kwh() -> None:
    usa = json.loads((DATA / "private_infra" / "2023" / "usa_emissions.json").read_text())
    assert usa["_unit"]["emissions"] == "lbs/MWh"
    ci = carbon_intensity("USA", region="California")
    assert ci.g_per_kwh == pytest.approx(usa["california"]["emissions"] * 0.45359237)
    assert ci.g_per_kwh == pytest.approx(179.064, abs=1e-3) and LBS_PER_MWH_TO_G_PER_KWH == 0.45359237
    assert ci.year == 2023 and "eGRID2023" in ci.source and ci.data_file.endswith("2023/usa_emissions.json")
    assert carbon_intensity("usa", region="CA").g_per_kwh == ci.g_per_kwh  # the state code works too
    assert carbon_intensity("USA").g_per_kwh != ci.g_per_kwh  # not the national average


def test_provinces_zones_and_aws_by_location() -> None:
    china = json.loads((DATA / "private_infra" / "2023" / "china_provincial_emissions.json").read_text())
    assert carbon_intensity("CHN", region="Beijing").g_per_kwh == china["data"]["CN-BJ"]["emission_factor"]
    on = carbon_intensity("CAN", region="Ontario")
    assert on.g_per_kwh == pytest.approx(0.086 / 1.001 * 743 + 0.001 / 1.001 * 816) and "MODELLED" in on.basis
    assert carbon_intensity(region="SE3").g_per_kwh == carbon_intensity("SWE", region="se3").g_per_kwh
    aws = carbon_intensity(cloud_provider="AWS", cloud_region="us-east-1")
    assert aws.g_per_kwh == pytest.approx(539.599 * 0.45359237)  # Virginia, eGRID2023
    assert "N. Virginia" in aws.source and "documented location" in aws.basis and aws.cloud_region == "us-east-1"


def test_bad_input_says_close_matches() -> None:
    with pytest.raises(UnknownRegionError, match="Did you mean 'us-east-1'"):
        carbon_intensity(cloud_provider="aws", cloud_region="us-east1")
    with pytest.raises(UnknownRegionError, match="europe-west4"):
        carbon_intensity(cloud_provider="gcp", cloud_region="europe-west44")
    with pytest.raises(UnknownRegionError, match="'california'"):
        carbon_intensity("USA", region="Californa")
    with pytest.raises(UnknownCountryError, match="no sub-national"):
        carbon_intensity("FRA", region="Bretagne")
    with pytest.raises(UnknownRegionError, match="'gcp'"):
        carbon_intensity(cloud_provider="gpc", cloud_region="us-east1")
    with pytest.raises(CarbonIntensityError, match="pass both"):
        carbon_intensity(cloud_provider="gcp")


def test_region_detected_only_from_environment_and_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    assert carbon_intensity().location == "unknown" and carbon_intensity().g_per_kwh == 475.0
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    assert detect_location() == ("aws", "eu-west-3", "AWS_REGION")
    ci = carbon_intensity()
    assert ci.location == "detected" and ci.detected_from == "AWS_REGION" and ci.country_iso_code == "FRA"
    assert carbon_intensity(detect=False).location == "unknown"
    assert carbon_intensity("DEU").location == "given"  # what the user says wins
    monkeypatch.setenv("AWS_REGION", "mars-north-1")
    with pytest.warns(UserWarning, match="world average"):
        assert carbon_intensity().location == "unknown"


def _report(ci) -> Report:  # type: ignore[no-untyped-def]
    m = Measurement(name="train", start_s=0.0, end_s=10.0, energy_j={"gpu:0": 3.6e6}, measured=True,
                    method="counter", counts={"samples": 10})
    return Report.build([m], boundary="training", carbon=ci, model={"id": "org/m"})


def test_verify_recomputes_from_the_recorded_figure_not_todays_install(monkeypatch: pytest.MonkeyPatch) -> None:
    d = _report(carbon_intensity("USA", region="California")).to_dict()
    assert d["co2e_g"] == pytest.approx(179.064, abs=1e-3)
    assert d["carbon"]["data_sha256"] and d["carbon"]["codecarbon_version"]
    import scer_hf.core.grid_data as g

    monkeypatch.setattr(g, "_codecarbon_data_dir", lambda: None)  # codecarbon gone (or changed) today
    g._file.cache_clear()
    try:
        assert verify_report(d).ok
    finally:
        g._file.cache_clear()


def test_must_show_california_in_report_card_and_html(tmp_path: Path) -> None:
    from scer_hf.publish.card import update_card
    from scer_hf.publish.html import write_html_report

    rep = _report(carbon_intensity("USA", region="California"))
    html = write_html_report(rep, tmp_path / "r.html", auto_rate=False).read_text()
    assert "179 gCO2eq per kWh (california, USA)" in html and "eGRID2023" in html and "usa_emissions.json" in html
    update_card(tmp_path, rep, label_path=None)
    card = (tmp_path / "README.md").read_text()
    assert "california" in card and "eGRID2023" in card


def test_cli_grid_list_and_one_location() -> None:
    run = CliRunner().invoke
    r = run(cli, ["grid", "--list", "--json"])
    assert r.exit_code == 0, r.output
    av = json.loads(r.output)
    figures = av.pop("figures")
    assert av == json.loads(json.dumps(available()))
    fra = next(f for f in figures if f["name"] == "FRA")  # names with their values, never bare codes
    assert fra["place"] == "France" and fra["g_per_kwh"] > 0 and fra["flags"] == "--country FRA"
    text = run(cli, ["grid", "--list"]).output
    assert max(len(line) for line in text.splitlines()) <= 120
    assert any(line.split()[:1] == ["FRA"] and "France" in line for line in text.splitlines())
    assert "europe-west4" in av["cloud"]["gcp"] and "us-east-1" in av["cloud"]["aws"]
    assert "california" in av["regions"]["USA"] and "ontario" in av["regions"]["CAN"] and "FRA" in av["countries"]
    r = run(cli, ["grid", "--cloud", "gcp", "--region", "europe-west4", "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["g_per_kwh"] == 236.0
    r = run(cli, ["grid", "--cloud", "aws", "--region", "us-east1"])
    assert r.exit_code == 1 and "Did you mean 'us-east-1'" in r.output
    assert "--intensity" in r.output  # the CLI's own option names


def test_cli_estimate_cloud_region_in_report_card_and_html(tmp_path: Path) -> None:
    run = CliRunner().invoke
    out = tmp_path / "est.json"
    r = run(cli, ["estimate", "--gpu", "H100 SXM", "--hours", "10", "--cloud", "aws", "--region", "us-east-1",
                  "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "aws us-east-1" in r.output and "245 gCO2eq per kWh" in r.output  # 244.758, shown to 3 digits
    d = json.loads(out.read_text())
    c = d["carbon"]
    assert c["cloud_provider"] == "aws" and c["cloud_region"] == "us-east-1"
    assert c["g_per_kwh"] == pytest.approx(244.758, abs=1e-3) and "eGRID2023" in c["source"]
    assert d["co2e_g"] == pytest.approx(7.0 * c["g_per_kwh"])  # 700 W x 10 h = 7 kWh
    r = run(cli, ["report", str(out), "--out", str(tmp_path / "r.html")])
    assert r.exit_code == 0, r.output
    html = (tmp_path / "r.html").read_text()
    assert "aws us-east-1" in html and "N. Virginia" in html
    r = run(cli, ["card", "update", str(tmp_path), "--report", str(out), "--label", ""])
    assert r.exit_code == 0, r.output
    card = (tmp_path / "README.md").read_text()
    assert "aws us-east-1" in card and "eGRID2023" in card
