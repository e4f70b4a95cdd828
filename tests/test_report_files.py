"""`scer-hf label / report / verify` accept a folder laid out like `scer-hf demo`'s, and its files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scer_hf.errors import ReportError
from scer_hf.publish.label import save_label
from scer_hf.core.report import Report
from scer_hf.core.report_files import REPORT_NAMES, find_report, report_paths
from scer_hf.publish.verify import verify
from tests.builders import inference_report, training_report
from tests.builders import cli_run


@pytest.fixture()
def demo(tmp_path: Path) -> Path:
    """training_report.json + inference_report.json, scer_label.svg (inference) and scer_label_training.svg."""
    train, infer = training_report(), inference_report()
    train.save(tmp_path / "training_report.json")
    infer.save(tmp_path / "inference_report.json")
    save_label(tmp_path / "scer_label.svg", infer)  # rated here, so verify recomputes the same grade
    save_label(tmp_path / "scer_label_training.svg", train)
    return tmp_path


def test_find_report_by_the_names_the_package_writes(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    assert REPORT_NAMES == ("scer_report.json", "inference_report.json", "training_report.json")
    assert [p.name for p in report_paths(demo)] == ["inference_report.json", "training_report.json"]
    assert find_report(demo).name == "inference_report.json"
    assert Report.load(demo).boundary == "inference"  # Report.load of the demo folder no longer says "no report"
    training_report().save(demo / "scer_report.json")
    assert find_report(demo).name == "scer_report.json"
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(ReportError, match="no report in .*training_report.json"):
        Report.load(empty)


def test_verify_a_label_finds_its_report_beside_it_by_digest(demo: Path) -> None:
    for label, boundary in (("scer_label.svg", "inference"), ("scer_label_training.svg", "training")):
        res = verify(demo / label)
        assert res.ok, res.describe()
        assert res.digest == Report.load(demo / f"{boundary}_report.json").digest()
    code, out = cli_run("verify", str(demo / "scer_label.svg"))
    assert code == 0 and out.startswith("VERIFIED"), out


def test_verify_a_label_whose_report_changed_is_a_mismatch(demo: Path) -> None:
    d = json.loads((demo / "inference_report.json").read_text())
    d["energy_j"] *= 2  # the label's report, edited: no digest matches, the boundary does
    (demo / "inference_report.json").write_text(json.dumps(d))
    code, out = cli_run("verify", str(demo / "scer_label.svg"))
    assert code == 3 and "[FAIL] label.digest" in out, out


def test_verify_a_label_whose_report_is_not_beside_it_says_so(demo: Path) -> None:
    (demo / "inference_report.json").unlink()
    training_report().save(demo / "scer_report.json")  # two reports, neither the label's
    code, out = cli_run("verify", str(demo / "scer_label.svg"))
    assert code == 1 and "no report beside" in out and "--report" in out


def test_verify_the_demo_folder_checks_every_report(demo: Path) -> None:
    res = verify(demo)
    assert res.ok and res.kind == "folder"
    names = {c.name.split(":")[0] for c in res.checks}  # every report, and every label scer-hf wrote there
    assert names == {"inference_report.json", "training_report.json", "scer_label.svg", "scer_label_training.svg"}
    d = json.loads((demo / "training_report.json").read_text())
    d["co2e_g"] *= 2
    (demo / "training_report.json").write_text(json.dumps(d))
    code, out = cli_run("verify", str(demo))
    assert code == 3 and "training_report.json: co2e_g" in out


def test_label_and_report_commands_accept_the_folder_and_its_files(demo: Path, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    out_dir = tmp_path_factory.mktemp("out")
    code, out = cli_run("label", str(demo), "-o", str(out_dir / "l.svg"), "--json")
    assert code == 0, out
    assert json.loads(out)["report"].endswith("inference_report.json") and (out_dir / "l.svg").is_file()
    code, out = cli_run("label", str(demo / "training_report.json"), "-o", str(out_dir / "t.svg"))
    assert code == 0 and "training_report.json" in out, out
    code, out = cli_run("report", str(demo), "-o", str(out_dir / "r.html"))
    assert code == 0 and (out_dir / "r.html").is_file() and "inference_report.json" in out, out
    assert cli_run("verify", str(out_dir / "l.svg"), "--report", str(demo / "inference_report.json"))[0] == 0
