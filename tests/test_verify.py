"""``verify``: genuine reports, labels and cards pass; any changed figure is caught; CLI exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import CliRunner

from scer_hf.cli import cli
from scer_hf.errors import VerificationError
from scer_hf.publish.label import save_label
from scer_hf.core.report import Report
from scer_hf.publish.verify import verify, verify_report
from tests.builders import inference_report, rating, training_report


@pytest.mark.parametrize("make", [inference_report, training_report, lambda: inference_report("estimate")])
def test_genuine_reports_verify(make: Callable[[], Report]) -> None:
    res = verify(make())
    assert res.ok, res.describe()
    names = {c.name for c in res.checks}
    assert {"energy_j", "co2e_g", "sci.value", "uncertainty.sci", "provenance.method"} <= names
    d = res.to_dict()
    assert d["ok"] is True and all(set(c) >= {"name", "expected", "found", "ok"} for c in d["checks"])


def _set(path: str, value: Any) -> Callable[[dict], None]:
    def mutate(d: dict) -> None:
        keys = [int(k) if k.isdigit() else k for k in path.split(".")]
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value(d[keys[-1]]) if callable(value) else value
    return mutate


@pytest.mark.parametrize("mutate,failing", [
    (_set("sci.value", lambda v: v * 0.5), "sci.value"),
    (_set("co2e_g", lambda v: v * 0.9), "co2e_g"),
    (_set("energy_j", lambda v: v - 100), "energy_j"),
    (_set("phases.1.energy_j.gpu:0", lambda v: v - 200), "phases[1:decode].energy_j.total"),
    (_set("phases.0.co2e_g", 0.001), "phases[0:prefill].co2e_g"),
    (_set("sci_alternatives.1.value", lambda v: v / 2), "sci_alternatives[1].value"),
    (_set("uncertainty.sci", 0.0), "uncertainty.sci"),
    (_set("carbon.g_per_kwh", 20.0), "co2e_g"),  # a greener grid claimed after the fact
    (_set("phases.0.counts.queries", 80), "phases[0:prefill].coverage.counts.queries"),  # more queries claimed
])
def test_a_changed_figure_is_detected(mutate: Callable[[dict], None], failing: str) -> None:
    d = inference_report().to_dict()
    mutate(d)
    res = verify(d)
    assert not res.ok
    assert failing in {c.name for c in res.failed}, res.describe()


def test_estimate_relabelled_as_measured_is_detected() -> None:
    d = inference_report("estimate").to_dict()
    d["provenance"]["estimated"] = False
    d["provenance"]["method"] = "counter"
    res = verify(d)
    assert {"provenance.method", "provenance.estimated"} <= {c.name for c in res.failed}


def test_expected_digest(tmp_path: Path) -> None:
    rep = inference_report()
    assert verify_report(rep, rep.digest()).ok
    assert not verify_report(rep, "sha256:" + "0" * 64).ok
    a, b = rep.save(tmp_path / "a.json"), inference_report(run="2").save(tmp_path / "b.json")  # another run id
    assert verify(a, a).ok and not verify(a, b).ok


def test_label_verifies_and_tampered_label_does_not(tmp_path: Path) -> None:
    rep = inference_report()
    rep.save(tmp_path / "scer_report.json")
    lab = save_label(tmp_path / "scer_label.svg", rep, rating())
    res = verify(lab, rating=rating())
    assert res.ok, res.describe()
    assert {"label.sci_value", "label.grade", "label.qr", "label.digest"} <= {c.name for c in res.checks if c.ok}
    svg = lab.read_text()
    meta = json.loads(re.search(r'<metadata id="scer-label-data">(.*?)</metadata>', svg).group(1).replace("&quot;", '"'))
    forged = svg.replace(f'"sci_value": {meta["sci_value"]}', '"sci_value": 0.01')
    assert forged != svg
    (tmp_path / "forged.svg").write_text(forged)
    assert "label.sci_value" in {c.name for c in verify(tmp_path / "forged.svg", rating=rating()).failed}
    # a better grade than the rating gives
    better = save_label(tmp_path / "better.svg", rep, rating("A", 5))
    assert {"label.stars"} <= {c.name for c in verify(better, rating=rating()).failed}
    # a label of another report: digest and QR differ
    other = inference_report(run="2")
    save_label(tmp_path / "other.svg", other, rating(report=other))
    assert {"label.digest", "label.qr"} <= {c.name for c in verify(tmp_path / "other.svg", rep).failed}


def test_label_errors(tmp_path: Path) -> None:
    (tmp_path / "x.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    with pytest.raises(VerificationError, match="no scer-hf label metadata"):
        verify(tmp_path / "x.svg", inference_report())
    lab = save_label(tmp_path / "l.svg", inference_report(), rating())
    with pytest.raises(VerificationError, match="--report"):
        verify(lab)


def _card(tmp_path: Path, rep: Report, rat: dict | None) -> Path:
    content = pytest.importorskip("scer_hf.publish.card.content")
    yaml = pytest.importorskip("yaml")
    meta: dict[str, Any] = {"license": "apache-2.0", "scer": content.merge_scer(None, rep, rat, False)}
    co2 = content.co2_entry(rep)
    if co2:
        meta["co2_eq_emissions"] = co2
    p = tmp_path / "README.md"
    p.write_text("---\n" + yaml.safe_dump(meta, sort_keys=False) + "---\n# tiny model\n", encoding="utf-8")
    rep.save(tmp_path / "scer_report.json", overwrite=True)
    return p


def test_card_verifies_and_tampered_card_does_not(tmp_path: Path) -> None:
    rep = training_report()
    card = _card(tmp_path, rep, None)
    res = verify(card)
    assert res.ok, res.describe()
    assert {"card.scer.training.report_digest", "card.scer.training.sci.value",
            "card.co2_eq_emissions.emissions"} <= {c.name for c in res.checks if c.ok}
    text = card.read_text()
    emissions = rep.co2e_g
    card.write_text(text.replace(f"emissions: {emissions!r}", f"emissions: {emissions / 10!r}"))
    assert "card.co2_eq_emissions.emissions" in {c.name for c in verify(card).failed}
    card.write_text(re.sub(r"(\n\s+sci:\n\s+value: )([0-9.e-]+)", r"\g<1>1.0e-09", text, count=1))
    assert "card.scer.training.sci.value" in {c.name for c in verify(card).failed}


def test_card_against_another_report(tmp_path: Path) -> None:
    card = _card(tmp_path, inference_report(), None)
    other = inference_report(run="2")
    res = verify(card, other)
    assert "card.scer.inference.report_digest" in {c.name for c in res.failed}


def test_cli_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    good = inference_report().save(tmp_path / "good.json")
    res = runner.invoke(cli, ["verify", str(good)])
    assert res.exit_code == 0 and res.output.startswith("VERIFIED")
    d = inference_report().to_dict()
    d["sci"]["value"] *= 0.5
    (tmp_path / "bad.json").write_text(json.dumps(d))
    res = runner.invoke(cli, ["verify", str(tmp_path / "bad.json"), "--json"])
    assert res.exit_code == 3
    out = json.loads(res.output)
    assert out["ok"] is False and any(c["name"] == "sci.value" and c["ok"] is False for c in out["checks"])
    (tmp_path / "junk.json").write_text("{not json")
    assert runner.invoke(cli, ["verify", str(tmp_path / "junk.json")]).exit_code == 1
    assert runner.invoke(cli, ["verify", str(tmp_path / "missing.json")]).exit_code == 1
    (tmp_path / "notreport.json").write_text('{"a": 1}')
    res = runner.invoke(cli, ["verify", str(tmp_path / "notreport.json"), "--json"])
    assert res.exit_code == 1 and json.loads(res.output)["error"] == "VerificationError"
    res = runner.invoke(cli, ["verify", str(good), "--rating", str(good)])
    assert res.exit_code == 2 and "label" in res.output  # --rating was silently ignored for a report or card
    for name in ("bin.json", "bin.svg", "README.md"):  # binary files: one error line, no UnicodeDecodeError
        (tmp_path / name).write_bytes(b"\x00\xff\xfe")
        res = runner.invoke(cli, ["verify", str(tmp_path / name)])
        assert res.exit_code == 1 and res.output.startswith("error:") and "utf-8" in res.output.lower()
        assert isinstance(res.exception, SystemExit), res.exception


def test_result_repr_is_short() -> None:
    res = verify(inference_report())
    assert repr(res).startswith("<VerificationResult report ") and "VERIFIED" in repr(res)
    assert "Check(" not in repr(res) and len(repr(res)) < 200  # was every check, dataclass-style
    d = inference_report().to_dict()
    d["sci"]["value"] *= 0.5
    assert "MISMATCH in sci.value" in repr(verify(d))


def test_stored_rating_is_recomputed() -> None:
    rate = pytest.importorskip("scer_hf.rating").rate
    base = inference_report()
    d = base.to_dict()
    d.setdefault("extra", {})["rating"] = rate(base).to_dict()
    res = verify(d)
    assert res.ok, res.describe()
    assert "rating.inference.grade" in {c.name for c in res.checks if c.ok}
    d["extra"]["rating"]["inference"]["grade"] = "A" if d["extra"]["rating"]["inference"]["grade"] != "A" else "C"
    assert "rating.inference.grade" in {c.name for c in verify(d).failed}


def test_card_written_by_update_card_verifies(tmp_path: Path) -> None:
    card_mod = pytest.importorskip("scer_hf.publish.card")
    rate = pytest.importorskip("scer_hf.rating").rate
    rep = inference_report()
    rp = rep.save(tmp_path / "scer_report.json")
    card_mod.update_card(tmp_path, rp, rate(rep))
    res = verify(tmp_path / "README.md")
    assert res.ok, res.describe()
    names = {c.name for c in res.checks if c.ok}
    assert {"card.scer.inference.report_digest", "card.scer.inference.sci.value",
            "card.scer.rating.inference.grade"} <= names
    res = CliRunner().invoke(cli, ["verify", str(tmp_path / "README.md"), "--report", str(rp)])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("fixture", ["bom.README.md", "crlf.README.md", "all-MiniLM-L6-v2.README.md"])
def test_real_and_odd_cards_verify_after_update(tmp_path: Path, fixture: str) -> None:
    """Cards update_card accepts (BOM, CRLF, a real Hub card) must also verify."""
    import shutil

    card_mod = pytest.importorskip("scer_hf.publish.card")
    rep = inference_report()
    rp = rep.save(tmp_path / "scer_report.json")
    shutil.copy(Path(__file__).parent / "fixtures" / "cards" / fixture, tmp_path / "README.md")
    card_mod.update_card(tmp_path, rp)
    res = verify(tmp_path / "README.md", report=rp)
    assert res.ok, res.describe()
    raw = (tmp_path / "README.md").read_bytes()
    assert raw.count(b"report_digest: sha256:") == 2  # the figures' report and the rating's
    (tmp_path / "README.md").write_bytes(raw.replace(b"report_digest: sha256:", b"report_digest: sha256:0"))
    assert not verify(tmp_path / "README.md", report=rp).ok  # a tampered digest shows


def test_label_from_before_the_shown_unit_was_recorded_still_verifies(tmp_path: Path) -> None:
    rep = inference_report()
    rep.save(tmp_path / "scer_report.json")
    lab = save_label(tmp_path / "scer_label.svg", rep, rating())
    svg = lab.read_text()
    old = re.sub(r',?\s*"sci_unit_shown": "[^"]*"', "", svg.replace("&quot;", '"'))
    assert "sci_unit_shown" not in old and old != svg.replace("&quot;", '"')
    (tmp_path / "old").mkdir()
    rep.save(tmp_path / "old" / "scer_report.json")
    (tmp_path / "old" / "scer_label.svg").write_text(old)
    res = verify(tmp_path / "old" / "scer_label.svg", rating=rating())
    assert res.ok, res.describe()
    assert "label.sci_unit_shown" not in {c.name for c in res.checks if c.ok}  # skipped, not passed
    # and a label that records a different unit than its figures is caught
    forged = svg.replace("&quot;", '"').replace('"sci_unit_shown": "', '"sci_unit_shown": "x')
    (tmp_path / "forged.svg").write_text(forged)
    assert "label.sci_unit_shown" in {c.name for c in verify(tmp_path / "forged.svg", rating=rating()).failed}


def test_a_card_boundary_without_its_report_beside_fails_and_no_report_at_all_refuses(tmp_path: Path) -> None:
    from scer_hf.publish.card import update_card

    train, infer = training_report(), inference_report()
    tp, ip = train.save(tmp_path / "training_report.json"), infer.save(tmp_path / "inference_report.json")
    update_card(tmp_path, tp)
    update_card(tmp_path, ip)
    assert verify(tmp_path / "README.md").ok
    tp.unlink()  # the training section stays, its report is gone
    res = verify(tmp_path / "README.md")
    assert "card.scer.training.report" in {c.name for c in res.failed}, res.describe()
    assert any(c.name.startswith("inference report: ") and c.ok for c in res.checks)  # named after its boundary
    ip.unlink()
    with pytest.raises(VerificationError, match="no report to check"):
        verify(tmp_path / "README.md")
