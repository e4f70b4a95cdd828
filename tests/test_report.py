"""Carbon intensity, embodied emissions, SCI arithmetic and the Report manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scer_hf import Report
from scer_hf.core.carbon import carbon_intensity
from scer_hf.core.embodied import embodied_emissions, find_hardware, hardware_table
from scer_hf.errors import (CarbonIntensityError, OutputWriteError, HardwareNotFoundError, ReportError, ReportSchemaError,
                            UnknownCountryError, UnsupportedSchemaVersionError)
from scer_hf.core.meters import ReplayMeter
from scer_hf.core.sci import sci_value
from scer_hf.core.tracker import PhaseTracker
from tests.builders import Clock


def measured(gpu_w: float = 360.0) -> tuple[PhaseTracker, Clock]:
    clock = Clock()
    meter = ReplayMeter({"gpu:0": [(0, gpu_w)], "cpu:0": [(0, 40.0)]}, clock=clock, relative_uncertainty=0.05)
    tr = PhaseTracker(meter, clock=clock)
    tr.begin("train")
    tr.begin("epoch 1", parent="train")
    clock.t = 50.0
    tr.end("epoch 1", tokens=500_000, samples=1000)
    tr.begin("epoch 2", parent="train")
    clock.t = 100.0
    tr.end("epoch 2", tokens=500_000, samples=1000)
    tr.end("train", tokens=1_000_000, samples=2000)
    tr.begin("eval 1")
    clock.t = 110.0
    tr.end("eval 1", samples=100)
    return tr, clock


# --- carbon ---------------------------------------------------------------------------------
def test_country_intensity_comes_from_codecarbon_with_year() -> None:
    fra = carbon_intensity("fra")
    assert fra.country_iso_code == "FRA" and 20 < fra.g_per_kwh < 150 and fra.year >= 2021
    assert "global_energy_mix" in fra.source


def test_unknown_country_says_how_to_fix() -> None:
    with pytest.raises(UnknownCountryError, match="ISO alpha-3") as ei:
        carbon_intensity("FR")
    assert "carbon_intensity_g_per_kwh" in str(ei.value)
    with pytest.raises(UnknownCountryError, match="FRA"):
        carbon_intensity("France")
    with pytest.raises(UnknownCountryError, match=r"countries\(\)") as ei:  # no close match: no empty guess
        carbon_intensity("XXX")
    assert "Did you mean" not in str(ei.value)


def test_override_region_default_and_bad_pue() -> None:
    assert carbon_intensity(g_per_kwh=100, pue=1.2).co2e_g(3.6e6) == pytest.approx(120.0)
    se = carbon_intensity(region="SE3")
    assert se.region == "SE3" and se.g_per_kwh < 100
    world = carbon_intensity()
    assert world.g_per_kwh == 475.0 and "location not given" in world.source
    with pytest.raises(CarbonIntensityError, match="Power Usage Effectiveness"):
        carbon_intensity("FRA", pue=0.5)
    with pytest.raises(UnknownCountryError):
        carbon_intensity(region="ZZ9")


# --- embodied -------------------------------------------------------------------------------
def test_embodied_hand_computed() -> None:
    row = find_hardware("NVIDIA H100 SXM5 80GB (1 of 8 on HGX H100)")
    assert row.embodied_kgco2e == 164 and row.lifetime_years == 3
    e = embodied_emissions(row.hardware, time_reserved_s=3600.0)
    # 164 kg x 1 h / (3 y x 8766 h/y) = 6.2363 g
    assert e.included and e.embodied_g == pytest.approx(164_000 * 1 / (3 * 8766), rel=1e-9)


def test_embodied_never_guesses() -> None:
    assert not embodied_emissions(None, 10).included
    with pytest.warns(UserWarning, match="embodied emissions not included"):
        unknown = embodied_emissions("Quantum Toaster 3000", 10)
    assert not unknown.included and "no embodied-emissions row" in unknown.reason
    assert "3000'. See" in unknown.reason  # a sentence, not "'...' See"
    no_life = [r for r in hardware_table() if r.lifetime_years is None][0]
    e = embodied_emissions(no_life.hardware, 10)
    assert not e.included and "lifetime" in e.reason
    assert embodied_emissions(no_life.hardware, 10, lifetime_years=4).included
    with pytest.raises(HardwareNotFoundError) as ei:
        find_hardware("H100 SXM5")
    assert ei.value.suggestions


def test_every_embodied_row_keeps_its_source() -> None:
    rows = hardware_table()
    assert len(rows) == 58 and all(r.source.strip() for r in rows)


# --- SCI and the report -----------------------------------------------------------------------
def test_sci_hand_computed_example() -> None:
    # E = 400 W x 110 s = 44,000 J = 0.012222 kWh; I = 100 g/kWh, PUE 1.5; M = 2 g; R = 1,000 units
    v = sci_value(44_000.0, 100.0, 1.5, 2.0, 1000.0)
    assert v == pytest.approx((44_000 / 3.6e6 * 1.5 * 100 + 2.0) / 1000)


def test_report_totals_sci_and_uncertainty() -> None:
    tr, _ = measured()
    carbon = carbon_intensity(g_per_kwh=100.0, pue=1.5)
    emb = embodied_emissions("NVIDIA H100 SXM5 80GB (1 of 8 on HGX H100)", 110.0)
    r = Report.build(tr.measurements, boundary="training", carbon=carbon, provenance=tr.provenance(),
                     embodied=emb, kinds={"eval 1": "evaluation"}, model={"id": "tiny", "parameters": 1000})
    d = r.to_dict()
    # top-level phases only: train (100 s) + eval (10 s) at 400 W; epochs are inside train
    assert d["energy_j"] == pytest.approx(400.0 * 110)
    assert d["co2e_g"] == pytest.approx(44_000 / 3.6e6 * 1.5 * 100)
    assert d["embodied_g"] == pytest.approx(emb.embodied_g)
    # R counts training phases only: 1,000,000 tokens -> 1 unit of 1 million training tokens (the fixed scale)
    assert d["sci"]["functional_unit"] == "1 million training tokens" and d["sci"]["r"] == pytest.approx(1)
    assert d["sci"]["value"] == pytest.approx((d["co2e_g"] + emb.embodied_g) / 1)
    assert d["sci"]["unit"] == "gCO2eq per 1 million training tokens" and d["sci"]["version"] == "SCI 1.1"
    per_sample = [a for a in d["sci_alternatives"] if a["functional_unit"] == "1,000 samples"][0]
    assert per_sample["r"] == 2
    assert d["uncertainty"]["energy_j"] == pytest.approx(0.05 * 44_000)
    assert d["uncertainty"]["relative"] == pytest.approx(0.05)
    assert r.phase("epoch 2")["energy_j"]["gpu:0"] == pytest.approx(360.0 * 50)
    assert not r.estimated


def test_report_round_trip_is_exact(tmp_path: Path) -> None:
    tr, _ = measured()
    r = Report.build(tr.measurements, boundary="training", carbon=carbon_intensity("FRA"),
                     provenance=tr.provenance())
    path = r.save(tmp_path / "out" / "scer_report.json", parents=True)  # a missing folder only when asked
    back = Report.load(path)
    assert back == r and back.to_dict() == r.to_dict()
    assert json.loads(path.read_text()) == r.to_dict()
    assert Report.from_dict(r.to_dict()).digest() == r.digest()
    assert Report.load(tmp_path / "out") == r  # a folder means its scer_report.json


def test_save_never_silently_overwrites(tmp_path: Path) -> None:
    tr, _ = measured()
    a = Report.build(tr.measurements, boundary="training")
    b = Report.build(tr.measurements, boundary="training")  # new run_id: different content
    p = a.save(tmp_path / "r.json")
    a.save(p)  # identical content: fine
    with pytest.raises(ReportError, match="overwrite=True"):
        b.save(p)
    assert Report.load(p) == a
    b.save(p, overwrite=True)
    assert Report.load(p) == b
    assert not [x for x in tmp_path.iterdir() if x.name.endswith(".tmp")]


def test_estimate_reports_say_so() -> None:
    from scer_hf.core.meters import EstimateMeter

    tr = PhaseTracker(EstimateMeter())
    with tr.phase("forward", queries=1):
        sum(range(100_000))
    r = Report.build(tr.measurements, boundary="inference", provenance=tr.provenance())
    d = r.to_dict()
    assert r.estimated and "ESTIMATE" in d["provenance"]["note"]
    assert d["provenance"]["meters"][0]["method"] == "estimate"
    assert "ESTIMATED" in repr(r)


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda d: d.update(schema="other"), r"\$\.schema: must be"),
        (lambda d: d.pop("phases"), "'phases' is required"),
        (lambda d: d["phases"][0]["energy_j"].update(total=-1), r"\$\.phases\[0\]\.energy_j\.total: must be >= 0"),
        (lambda d: d.update(schema_version="1"), r"\$\.schema_version: must be of type integer"),
        (lambda d: d.update(boundary="both"), r"\$\.boundary: must be one of"),
    ],
)
def test_invalid_reports_get_typed_errors(tmp_path: Path, mutate, match) -> None:  # type: ignore[no-untyped-def]
    tr, _ = measured()
    d = Report.build(tr.measurements, boundary="training").to_dict()
    mutate(d)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(d))
    with pytest.raises(ReportSchemaError, match=match):
        Report.load(p)


def test_future_schema_version_is_refused_clearly(tmp_path: Path) -> None:
    tr, _ = measured()
    d = Report.build(tr.measurements, boundary="training").to_dict()
    d["schema_version"] = 99
    with pytest.raises(UnsupportedSchemaVersionError, match="upgrade"):
        Report.from_dict(d)


def test_not_json_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text("{not json")
    with pytest.raises(ReportSchemaError, match="not JSON"):
        Report.load(p)
    with pytest.raises(ReportError, match="no report"):
        Report.load(tmp_path / "missing.json")
    (tmp_path / "bin.json").write_bytes(b"\x00\xff\xfe")  # a binary file: typed error, not UnicodeDecodeError
    with pytest.raises(ReportSchemaError, match="not a text"):
        Report.load(tmp_path / "bin.json")


def test_provenance_names_the_meter_of_each_component() -> None:
    from scer_hf.core.meters import EstimateMeter

    clock = Clock()
    tr = PhaseTracker([ReplayMeter({"gpu:0": [(0, 1.0)]}, clock=clock), EstimateMeter()], clock=clock)
    with tr.phase("forward", queries=1):
        clock.t = 1.0
    d = Report.build(tr.measurements, boundary="inference", provenance=tr.provenance()).to_dict()
    assert d["provenance"]["components"] == {
        "gpu:0": {"meter": "replay", "method": "counter"},
        "cpu:est": {"meter": "estimate", "method": "estimate"},
        "ram": {"meter": "estimate", "method": "estimate"},
    }
    assert d["provenance"]["tool"].startswith("scer-hf ") and d["provenance"]["estimated"]


def test_sci_uncertainty_excludes_embodied() -> None:
    # 1 kWh IT energy, +-10 % meter; 400 g/kWh x PUE 1.5 -> 600 g +- 60 g; M = 200 g (no meter uncertainty);
    # 2 million training tokens -> R = 2: SCI = (600 + 200) / 2 = 400, +- 60 / 2 = 30 (not 400 x 10 % = 40)
    from scer_hf.core.embodied import Embodied
    from scer_hf.core.tracker import Measurement

    m = Measurement("train", 0.0, 10.0, {"gpu:0": 3.6e6}, counts={"tokens": 2_000_000})
    prov = {"meters": [{"meter": "m", "method": "counter", "components": ["gpu:0"], "relative_uncertainty": 0.1}]}
    r = Report.build([m], boundary="training", carbon=carbon_intensity(g_per_kwh=400.0, pue=1.5), provenance=prov,
                     embodied=Embodied(True, 200.0, hardware="x"))
    d = r.to_dict()
    assert d["co2e_g"] == pytest.approx(600.0) and d["sci"]["value"] == pytest.approx(400.0)
    assert d["uncertainty"]["co2e_g"] == pytest.approx(60.0)
    assert d["uncertainty"]["sci"] == pytest.approx(30.0)


def test_saved_files_get_normal_permissions(tmp_path: Path) -> None:
    # atomic writes go through mkstemp (0600): a report, card or label must still be readable like any new file
    import os
    import stat

    from scer_hf._io import atomic_write_text

    mask = os.umask(0o022)
    try:
        p = atomic_write_text(tmp_path / "new.json", "{}")
        assert stat.S_IMODE(p.stat().st_mode) == 0o644
        os.chmod(p, 0o640)  # an existing file keeps the permissions its owner gave it
        atomic_write_text(p, "{ }")
        assert stat.S_IMODE(p.stat().st_mode) == 0o640 and p.read_text() == "{ }"
    finally:
        os.umask(mask)
    with pytest.raises(OutputWriteError) as ei:  # names the path given, not the temporary file
        atomic_write_text(tmp_path, "{}")
    assert ei.value.filename == str(tmp_path)


def test_write_errors_name_the_callers_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # an unwritable folder made messages name the hidden temp file ('/d/.x.json.ab12.tmp'), not the path given
    import tempfile

    from scer_hf._io import atomic_write_bytes
    from tests.builders import inference_report

    assert atomic_write_bytes(tmp_path / "l.png", b"\x89PNG").read_bytes() == b"\x89PNG"

    def denied(*a, **k):  # type: ignore[no-untyped-def]
        raise PermissionError(13, "Permission denied", str(tmp_path / ".x.json.ab12.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(OutputWriteError) as ei:  # an OSError too, typed, with the system's reason and advice
        inference_report().save(tmp_path / "x.json")
    assert ei.value.filename == str(tmp_path / "x.json") and ei.value.errno == 13
    assert isinstance(ei.value, OSError) and "Permission denied" in str(ei.value) and "permissions" in str(ei.value)


def test_unknown_embodied_hardware_warns_instead_of_dropping_silently() -> None:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        e = embodied_emissions("NVIDIA H100 SXM5 80GB typo", 10)
        embodied_emissions("NVIDIA H100 SXM5 80GB typo", 10)  # once per name
    assert not e.included
    msgs = [str(w.message) for w in caught if "embodied emissions not included" in str(w.message)]
    assert len(msgs) == 1 and "did you mean" in msgs[0]
