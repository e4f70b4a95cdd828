"""The README's main job: `scer-hf demo OUT` runs the whole journey offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from scer_hf import Report
from scer_hf.cli import cli
from scer_hf.publish.verify import verify

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo")
    res = CliRunner().invoke(cli, ["demo", str(out), "--epochs", "1", "--queries", "12", "--json"])
    assert res.exit_code == 0, res.output
    return out, json.loads(res.output[res.output.index("{"):])


def test_demo_writes_every_artefact(demo: tuple[Path, dict]) -> None:
    out, summary = demo
    for f in ("training_report.json", "inference_report.json", "training_rating.json", "inference_rating.json",
              "scer_label.svg", "scer_label_training.svg", "training_report.html", "inference_report.html",
              "model/README.md", "model/scer_label.svg", "model/config.json"):
        assert (out / f).is_file(), f
        assert f in summary["files"]


def test_demo_reports_are_measured_and_consistent(demo: tuple[Path, dict]) -> None:
    out, summary = demo
    train = Report.load(out / "training_report.json")
    inf = Report.load(out / "inference_report.json")
    names = [p["name"] for p in train.phases]
    assert "train" in names and "epoch 1" in names and any(n.startswith("eval") for n in names)
    assert train.energy_j > 0 and train.phase("train")["counts"]["tokens"] > 0
    assert {p["name"] for p in inf.phases} == {"generate", "prefill", "decode"}
    assert inf.to_dict()["benchmark"]["setting"] == "aienergyscore"
    assert summary["training"]["energy_j"] == pytest.approx(train.energy_j)
    assert summary["inference"]["sci"] == pytest.approx(inf.sci["value"])
    assert train.model["id"] == inf.model["id"] == "scer-hf-demo/tiny-gpt2"
    # this machine has no readable energy counter: the estimate must say so everywhere
    assert train.estimated and inf.estimated and summary["training"]["estimated"]


def test_demo_card_label_and_reports_verify(demo: tuple[Path, dict]) -> None:
    out, _ = demo
    card = (out / "model" / "README.md").read_text(encoding="utf-8")
    meta = yaml.safe_load(card.split("---")[1])
    train = Report.load(out / "training_report.json")
    assert meta["co2_eq_emissions"]["emissions"] == pytest.approx(train.co2e_g)
    assert meta["co2_eq_emissions"]["source"] == "scer-hf" and "scer" in meta["tags"]
    assert set(meta["scer"]) >= {"training", "inference", "rating"}
    assert card.count("<!-- scer-hf:start -->") == 1
    for target, report in ((out / "training_report.json", None), (out / "inference_report.json", None),
                           (out / "scer_label.svg", out / "inference_report.json"),
                           (out / "model" / "README.md", None)):
        res = verify(target, report=report) if report else verify(target)
        assert res.ok, (target, res.describe())
    # the card's two boundaries are each checked against the manifest beside it
    names = {c.name for c in verify(out / "model" / "README.md").checks}
    assert {"card.scer.training.report_digest", "card.scer.inference.report_digest"} <= names


def test_demo_card_verification_catches_a_tampered_manifest(demo: tuple[Path, dict], tmp_path: Path) -> None:
    import shutil

    out, _ = demo
    model = tmp_path / "model"
    shutil.copytree(out / "model", model)
    d = json.loads((model / "scer_report.inference.json").read_text())
    d["phases"][0]["energy_j"]["total"] *= 0.5  # claim half the energy
    (model / "scer_report.inference.json").write_text(json.dumps(d))
    res = verify(model / "README.md")
    assert not res.ok and any(c.name.startswith("inference report") or "inference" in c.name for c in res.failed)


@pytest.mark.parametrize("kind", ["gpt2", "t5", "bert"])
def test_tiny_tokenizer_training_prints_nothing_on_stdout(kind: str, capfd: pytest.CaptureFixture[str]) -> None:
    # the `tokenizers` trainer's progress output wrote blank lines to fd 1, ahead of `scer-hf demo --json`'s JSON
    from scer_hf.hf.tiny import _tokenizer

    _tokenizer(kind, 128)  # type: ignore[arg-type]
    out, _ = capfd.readouterr()
    assert out == ""


def test_demo_bad_inputs_fail_at_once_with_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["demo", str(tmp_path / "a"), "--country", "XXX"])
    assert res.exit_code == 1 and "countries()" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "a").exists()  # refused before building or training anything
    for opt in ("--epochs", "--queries"):
        res = runner.invoke(cli, ["demo", str(tmp_path / "b"), opt, "-1"])
        assert res.exit_code == 2 and "x>=1" in res.output, res.output
    (tmp_path / "afile").write_text("x")
    res = runner.invoke(cli, ["demo", str(tmp_path / "afile" / "out"), "--json"])
    assert res.exit_code == 1, res.output
    err = json.loads(res.stdout)
    assert err["error"] == "NotADirectoryError" and "afile" in err["message"]
    assert "a file where a folder is needed" in err["message"]  # not "[Errno 20] Not a directory" / "File exists"
    assert res.exception is None or isinstance(res.exception, SystemExit)


def test_missing_hf_extra_is_one_line_saying_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "transformers", None)  # as on a core-only install (`pip install scer-hf`)
    res = CliRunner().invoke(cli, ["demo", str(tmp_path / "d")])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.exception
    assert "pip install 'scer-hf[hf]'" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "d").exists()
