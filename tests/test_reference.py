"""The shipped reference data: kept as shipped, normalised with written-down arithmetic, filtered."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from scer_hf import reference
from scer_hf.errors import ReferenceDataError

DATA = reference.data_dir()


def shipped(name: str) -> tuple[list[str], list[dict[str, str]]]:
    with open(DATA / name, newline="", encoding="utf-8") as fh:
        r = csv.DictReader(fh)
        rows = list(r)
        return list(r.fieldnames or []), rows


def test_row_counts_and_every_source_column_kept_verbatim() -> None:
    counts = {"training.csv": 49, "inference.csv": 97, "aienergyscore_v1.csv": 166}
    for name, n in counts.items():
        cols, raw = shipped(name)
        assert len(raw) == n
        norm = reference.rows(name, include_secondary=True, include_modelled=True)
        assert len(norm) == n
        for r, o in zip(raw, norm):
            assert {k: o[k] for k in cols} == r  # every column, exact strings
            assert o["source_file"] == name


def test_numeric_source_columns_all_parse() -> None:
    numeric = {"training.csv": ["params_b", "training_tokens_b", "gpu_hours", "energy_mwh", "grid_gco2_per_kwh",
                                "tco2e_operational", "tco2e_total"],
               "inference.csv": ["energy_wh_per_1000_queries", "joules_per_token"],
               "aienergyscore_v1.csv": ["energy_value", "gpu_energy_wh_per_1000_queries", "energy_score_stars"]}
    for name, cols in numeric.items():
        for r in shipped(name)[1]:
            for c in cols:
                if r[c].strip():
                    float(r[c])  # raises if a figure is not a plain number


def test_secondary_and_modelled_rows_excluded_by_default() -> None:
    raw = shipped("inference.csv")[1]
    secondary = [r for r in raw if r["notes"].lstrip().startswith("[secondary")]
    modelled = [r for r in raw if "MODELED" in r["notes"]]
    assert len(secondary) == 7 and len(modelled) == 14  # 6 AI Energy Score v2 press figures + 1 CEO quote
    default = reference.rows("inference.csv")
    assert len(default) == 97 - 7 - 14
    assert not any(r["secondary"] or r["modelled"] for r in default)
    assert len(reference.rows("inference.csv", include_secondary=True)) == 97 - 14
    assert len(reference.rows("inference.csv", include_modelled=True)) == 97 - 7
    train = reference.rows("training")
    assert {r["model_key"] for r in reference.rows("training", include_secondary=True)} - \
        {r["model_key"] for r in train} == {"Gopher-280B", "GLaM-1.2T-64E"}


def test_phase_inference_is_both_inference_files() -> None:
    rows = reference.rows("inference", include_secondary=True, include_modelled=True)
    assert len(rows) == 97 + 166
    assert {r["source_file"] for r in rows} == {"inference.csv", "aienergyscore_v1.csv"}
    assert len({r["ref_id"] for r in rows}) == len(rows)


def test_training_normalisation_arithmetic() -> None:
    bloom = next(r for r in reference.rows("training") if r["model_key"] == "bigscience/bloom")
    # 433.196 MWh / (176.247e9 params * 366e9 tokens), in Wh per 10^15 parameter-tokens
    assert bloom["value"] == pytest.approx(433.196e6 / (176.247e9 * 366e9) * 1e15, rel=1e-12)
    assert bloom["value"] == pytest.approx(6.7156, rel=1e-4)
    assert bloom["co2e_value"] == pytest.approx(24.7e6 / (176.247e9 * 366e9) * 1e15, rel=1e-12)
    assert bloom["value_unit"] == "Wh per 1 quadrillion parameter-tokens"
    small = next(r for r in reference.rows("training") if r["model_key"] == "bigscience/bloom-560m")
    assert small["energy_wh"] == pytest.approx(10.505e6) and small["tokens_b_value"] == 341  # BLOOM paper Table 3
    assert small["value"] == pytest.approx(10.505e6 / (0.559e9 * 341e9) * 1e15, rel=1e-12)


def test_inference_metric_prefers_joules_per_token() -> None:
    rows = reference.rows("inference.csv")
    vicuna = next(r for r in rows if r["model_key"] == "lmsys/vicuna-7B")
    assert (vicuna["value"], vicuna["value_unit"]) == (5.246, "J per token")
    flan = next(r for r in rows if r["model_key"] == "google/flan-t5-base")
    assert (flan["value"], flan["value_unit"]) == (26.0, "Wh per 1,000 queries")
    aies = next(r for r in reference.rows("aienergyscore_v1") if r["model_key"] == "distilbert/distilgpt2")
    assert aies["value"] == pytest.approx(1.313333) and aies["published_stars"] == 5
    assert aies["group"] == "AI Energy Score v1 (Feb 2025) | text_generation | class A"


def test_duplicates_stay_distinct_rows() -> None:
    aies = [r for r in reference.rows("aienergyscore_v1") if r["model_key"] == "facebook/detr-resnet-50-dc5"]
    assert len(aies) == 2 and aies[0]["ref_id"] != aies[1]["ref_id"]
    l31 = [r for r in reference.rows("inference") if r["model_key"] == "meta-llama/Llama-3.1-8B"]
    assert len(l31) == 2 and {r["setting"] for r in l31} == {
        "chat (ShareGPT), saturated: all 2,400 requests sent at once", "chat (ShareGPT), Poisson 1 req/s (low load)"}


def test_extra_rows_are_added_and_validated(tmp_path: Path) -> None:
    mine = {"model_id": "me/tiny", "params_b": "0.1", "training_tokens_b": "2", "energy_mwh": "0.001",
            "source": "my run log", "notes": "[primary] measured"}
    rows = reference.rows("training", extra=[mine])
    r = rows[-1]
    assert r["model_key"] == "me/tiny" and r["source_file"] == "extra:rows"
    assert r["value"] == pytest.approx(0.001 * 1000 / (0.1 * 2))
    assert len(reference.rows("inference", extra=[mine])) == len(reference.rows("inference"))
    with pytest.raises(ReferenceDataError, match="source"):
        reference.rows("training", extra=[{**mine, "source": ""}])
    with pytest.raises(ReferenceDataError, match="columns"):
        reference.rows("training", extra=[{"model_id": "x", "watts": "3", "source": "s"}])
    p = tmp_path / "mine.csv"
    cols = shipped("aienergyscore_v1.csv")[0]
    base = shipped("aienergyscore_v1.csv")[1][0]
    with open(p, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        w.writerow({**base, "model": "me/gen", "gpu_energy_wh_per_1000_queries": "3.5"})
    got = [r for r in reference.rows("inference", extra=p) if r["model_key"] == "me/gen"]
    assert len(got) == 1 and got[0]["source_file"] == "extra:mine.csv" and got[0]["value"] == 3.5
    with open(p, "a", newline="", encoding="utf-8") as fh:  # an edited file is read again
        csv.DictWriter(fh, fieldnames=cols).writerow({**base, "model": "me/gen2", "gpu_energy_wh_per_1000_queries": "4"})
    assert {"me/gen", "me/gen2"} <= {r["model_key"] for r in reference.rows("inference", extra=[p])}
    with pytest.raises(ReferenceDataError, match="does not exist"):
        reference.rows("inference", extra=tmp_path / "missing.csv")
    with pytest.raises(ReferenceDataError, match="is a folder"):
        reference.rows("inference", extra=tmp_path)
    (tmp_path / "bin.csv").write_bytes(b"\x00\xff\xfe")  # was a UnicodeDecodeError traceback
    with pytest.raises(ReferenceDataError, match="not a UTF-8 CSV"):
        reference.rows("inference", extra=tmp_path / "bin.csv")


def test_unknown_reference_name() -> None:
    with pytest.raises(ReferenceDataError, match="training"):
        reference.rows("pretraining")


def test_load_returns_versioned_dataset() -> None:
    datasets = pytest.importorskip("datasets")
    ds = reference.load("training")
    assert isinstance(ds, datasets.Dataset)
    assert ds.num_rows == 47  # 49 minus the two [secondary] rows
    assert set(shipped("training.csv")[0]) <= set(ds.column_names)
    assert reference.REFERENCE_VERSION in ds.info.description
    row = ds[[i for i, m in enumerate(ds["model_id"]) if m == "bigscience/bloom-560m"][0]]
    assert row["energy_mwh"] == "10.505" and row["ref_id"] == "training.csv#25"
    inf = reference.load("inference", include_secondary=True, include_modelled=True)
    assert inf.num_rows == 263
    assert reference.load("aienergyscore_v1").num_rows == 166


def test_loaded_datasets_carry_license_citation_and_version() -> None:
    pytest.importorskip("datasets")
    from scer_hf.rating import reference

    for name, cited in (("training", "arXiv:2211.02001"), ("inference", "Power Hungry Processing"),
                        ("aienergyscore_v1", "AIEnergyScore/Leaderboard")):
        info = reference.load(name).info
        assert info.version is not None and str(info.version) == reference.REFERENCE_VERSION.split()[-1] + ".0"
        assert "Apache-2.0" in info.license and "source" in info.license
        assert cited in info.citation and reference.REFERENCE_VERSION in info.description
    both = reference.load("inference").info.citation
    assert "inference.csv:" in both and "aienergyscore_v1.csv:" in both
