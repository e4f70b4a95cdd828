"""Every CLI writer refuses to replace a user's file without --overwrite, and never writes over its input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from scer_hf.cli import cli
from tests.builders import inference_report, rating


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    rp = inference_report().save(tmp_path / "scer_report.json")
    ratp = tmp_path / "rating.json"
    ratp.write_text(json.dumps(rating()))
    return {"report": rp, "rating": ratp, "dir": tmp_path}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _refused(args: list[str], folder: Path, words: str) -> None:
    before = _snapshot(folder)
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1, res.output
    assert words in res.output and "Traceback" not in res.output
    assert _snapshot(folder) == before  # nothing changed, nothing added
    res = CliRunner().invoke(cli, [*args, "--json"])
    assert res.exit_code == 1 and json.loads(res.stdout)["error"] == "OutputExistsError"
    assert _snapshot(folder) == before


@pytest.mark.parametrize("command", ["report", "label"])
def test_output_equal_to_an_input_is_refused_even_with_overwrite(command: str, files: dict[str, Path]) -> None:
    rp, ratp, d = files["report"], files["rating"], files["dir"]
    rate = ["--rating", str(ratp)]
    for out in (rp, d / "." / "scer_report.json", ratp):  # the manifest, the same by another name, the rating
        _refused([command, str(rp), *rate, "--out", str(out), "--overwrite"], d, "also an input")
    _refused([command, str(d), *rate, "--out", str(rp), "--overwrite"], d, "also an input")  # REPORT as its folder
    link = d / "link.json"
    os.symlink(rp, link)
    _refused([command, str(rp), *rate, "--out", str(link), "--overwrite"], d, "also an input")


@pytest.mark.parametrize("command,name", [("report", "r.html"), ("label", "l.svg")])
def test_existing_output_needs_overwrite(command: str, name: str, files: dict[str, Path]) -> None:
    rp, d = files["report"], files["dir"]
    out = d / name
    out.write_text("the user's own file\n")
    args = [command, str(rp), "--rating", str(files["rating"]), "--out", str(out)]
    _refused(args, d, "already exists; pass --overwrite")
    res = CliRunner().invoke(cli, [*args, "--overwrite"])
    assert res.exit_code == 0, res.output
    assert out.read_text() != "the user's own file\n"
    new = d / ("new_" + name)  # a new path needs no flag
    res = CliRunner().invoke(cli, [command, str(rp), "--rating", str(files["rating"]), "--out", str(new)])
    assert res.exit_code == 0 and new.is_file()


def test_demo_refuses_before_running_when_it_would_replace_a_users_file(tmp_path: Path) -> None:
    from scer_hf.hf.demo import DEMO_OUTPUTS

    for name in [n for n in DEMO_OUTPUTS if not n.endswith("/")] + ["model/README.md"]:
        d = tmp_path / name.replace("/", "_")
        (d / name).parent.mkdir(parents=True)
        (d / name).write_text("mine\n")
        _refused(["demo", str(d), "--epochs", "1", "--queries", "2"], d, "--overwrite")
        assert (d / name).read_text() == "mine\n" and not (d / "tiny-gpt2-base").exists()
    empty = tmp_path / "empty_model_dir"
    (empty / "model").mkdir(parents=True)  # an empty folder holds nothing to lose: no refusal from the check
    from scer_hf.hf.demo import _check_outputs

    _check_outputs(empty, overwrite=False)


def test_estimate_and_benchmark_still_refuse(tmp_path: Path) -> None:
    out = tmp_path / "e.json"
    out.write_text("{}")
    est = ["estimate", "--gpu", "H100 SXM", "--hours", "1", "--country", "FRA", "--out", str(out)]
    res = CliRunner().invoke(cli, est)
    assert res.exit_code == 1 and "--overwrite" in res.output and out.read_text() == "{}"
    res = CliRunner().invoke(cli, ["benchmark", "some/model", "--out", str(out)])
    assert res.exit_code == 1 and "--overwrite" in res.output and out.read_text() == "{}"
