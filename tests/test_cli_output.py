"""What the CLI prints to a person: short options, plurals, option names in hints, error kinds, summaries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.hubserver import FakeHub, use_fake_hub
from tests.builders import training_report
from tests.builders import cli_run


@pytest.mark.parametrize("command", ["label", "report", "estimate", "benchmark"])
def test_out_has_a_short_option(command: str) -> None:
    code, out = cli_run(command, "--help")
    assert code == 0 and "-o, --out" in out


def test_estimate_says_device_hour_in_the_singular_and_names_cli_options() -> None:
    code, out = cli_run("estimate", "--gpu", "T4", "--count", "1", "--hours", "1", "--country", "USA")
    assert code == 0, out
    assert "1 device-hour" in out and "device-hours" not in out
    assert "--embodied '<row" in out and "embodied_hardware=" not in out
    code, out = cli_run("estimate", "--gpu", "T4", "--count", "2", "--hours", "3", "--country", "USA")
    assert "6 device-hours" in out


def test_card_show_reports_a_failed_read_as_a_read_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeHub() as hub:
        use_fake_hub(monkeypatch, hub)
        hub.create_repo("org/m", {"README.md": b"# M\n"})
        hub.fail(r"^/api/models/org/m", 503)
        code, out = cli_run("card", "show", "org/m", "--json")
    assert code == 1
    err = json.loads(out)
    assert err["error"] == "HubReadError" and "reading the model card" in err["message"]


def test_rate_without_reference_group_names_the_task_not_none(tmp_path: Path) -> None:
    from tests.builders import gpu_inference_report as inference_report

    path = inference_report(task="fill-mask").save(tmp_path / "r.json")
    code, out = cli_run("rate", str(path), "--task", "fill-mask")
    assert code == 0, out
    assert "None" not in out.replace("NoneType", ""), out
    assert "no 'fill-mask' task" in out or "no reference group for inference task 'fill-mask'" in out, out


def test_verify_prints_a_summary_and_failures_and_v_lists_every_check(tmp_path: Path) -> None:
    path = training_report().save(tmp_path / "scer_report.json")
    code, out = cli_run("verify", str(path))
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("VERIFIED") and "checks passed" in lines[0]
    assert "[ok" not in out and len(lines) <= 3
    code, verbose = cli_run("verify", str(path), "-v")
    assert code == 0 and verbose.count("[ok  ]") >= 10
    d = json.loads(path.read_text())
    d["energy_j"] *= 2
    path.write_text(json.dumps(d))
    code, out = cli_run("verify", str(path))
    assert code == 3 and "[FAIL] energy_j" in out and "[ok" not in out and "1 failed" in out.splitlines()[0]
