"""Human equivalents (sourced factors) and the ``scer-hf estimate`` command."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from scer_hf import Report
from scer_hf.cli import cli
from scer_hf.core.equivalents import DEFAULT_KEYS, equivalence_factors, equivalents, format_equivalents
from scer_hf.errors import EstimateInputError


def test_factors_are_sourced_with_year() -> None:
    table = equivalence_factors()
    assert set(DEFAULT_KEYS) <= set(table)
    for e in table.values():
        assert e.g_co2e_per_unit > 0 and "http" in e.source and 2000 <= e.year <= 2030


def test_values_divide_by_the_factor() -> None:
    out = {e["key"]: e for e in equivalents(244.2 * 10, keys="all")}
    assert out["km_car_us"]["value"] == pytest.approx(10)
    assert out["miles_car_us"]["value"] == pytest.approx(244.2 * 10 / 393)
    # EPA: 3.93e-4 t/mile; per km is our conversion (1 mile = 1.609344 km)
    assert equivalence_factors()["km_car_us"].g_co2e_per_unit == pytest.approx(393 / 1.609344, abs=0.05)
    phone = equivalents(12.4, keys=["smartphone_charges"])[0]
    assert phone["value"] == pytest.approx(1) and phone["year"] == 2024 and "EPA" in phone["source"]
    assert equivalents(917)[2]["value"] == pytest.approx(1)  # one tree-month (Green Algorithms)
    assert equivalents(0)[0]["value"] == 0


def test_format_lines() -> None:
    lines = format_equivalents(1e6)
    assert len(lines) == len(DEFAULT_KEYS)
    assert lines[0].startswith("~4,100 km driven") and "2024" in lines[0]  # 3 significant digits


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf, "5", True])
def test_bad_co2e(bad) -> None:
    with pytest.raises(EstimateInputError):
        equivalents(bad)


def test_unknown_key() -> None:
    with pytest.raises(EstimateInputError, match="available"):
        equivalents(1.0, keys=["flights_to_mars"])


# --- CLI ---------------------------------------------------------------------------------------
def _estimate(*args: str):
    return CliRunner().invoke(cli, ["estimate", *args])


def test_cli_human_output() -> None:
    res = _estimate("--gpu", "H100 SXM", "--count", "8", "--hours", "120", "--country", "USA", "--pue", "1.1")
    assert res.exit_code == 0, res.output
    out = res.output
    assert "ESTIMATE (calculator)" in out and "8 x NVIDIA H100 SXM5 80GB" in out
    assert "672 kWh IT energy" in out and "739 kWh with PUE 1.1" in out  # 8 x 700 W x 120 h
    assert "960 device-hours" in out
    assert "embodied" in out and "about the same as" in out and "tree-months" in out  # the one that reads best
    assert "assumptions:" in out and "utilisation" in out


def test_cli_json_and_out(tmp_path) -> None:
    p = tmp_path / "r.json"
    res = _estimate("--gpu", "A100 SXM4 80GB", "--gpu-hours", "184320", "--intensity", "385", "--pue", "1.1",
              "--tokens", "2e12", "--out", str(p), "--json")
    assert res.exit_code == 0, res.output
    obj = json.loads(res.output)
    assert obj["report"]["co2e_g"] == pytest.approx(31.223808e6)
    assert obj["report"]["extra"]["method"] == "estimate (calculator)"
    assert [e["key"] for e in obj["equivalents"]] == list(DEFAULT_KEYS)
    r = Report.load(p)
    assert r.estimated and r.to_dict() == obj["report"]


def test_cli_errors() -> None:
    res = _estimate("--gpu", "H100", "--hours", "1")
    assert res.exit_code == 1 and "ambiguous" in res.output
    res = _estimate("--gpu", "T4", "--hours", "-3", "--json")
    assert res.exit_code == 1 and json.loads(res.output)["error"] == "EstimateInputError"
    assert _estimate("--gpu", "T4", "--hours", "1", "--count", "two").exit_code == 2
    # messages name this command's options, not estimate()'s Python arguments
    res = _estimate("--gpu", "Quantum Toaster", "--hours", "1")
    assert res.exit_code == 1 and "--watts <board power W>" in res.output and "watts=" not in res.output
    res = _estimate("--gpu", "T4")
    assert "--hours <wall-clock hours> or --gpu-hours <device-hours>" in res.output
    res = _estimate("--gpu", "T4", "--hours", "1", "--country", "XXX")
    assert "--intensity <g CO2e per kWh>" in res.output and "carbon_intensity_g_per_kwh" not in res.output
