"""The card's metadata entries, typed (scer_hf.publish.card.entry): what each writes, and what it leaves out."""

from __future__ import annotations

import dataclasses

import pytest

from scer_hf.core.report import Report
from scer_hf.publish.card.content import boundary_entry, co2_entry
from scer_hf.publish.card.entry import BoundaryEntry, Co2Entry, PhaseEntry
from tests.builders import inference_report, training_report


def test_the_boundary_entry_writes_the_report_figures_in_order() -> None:
    rep = inference_report()
    e = BoundaryEntry.of(rep)
    d = e.to_dict()
    assert d == boundary_entry(rep)
    assert list(d) == ["report_digest", "model", "task", "status", "method", "estimated", "energy_j", "co2e_g",
                       "sci", "grid", "hardware", "phases", "facts", "sources"]  # None fields left out
    assert d["energy_j"] == rep.energy_j and d["sci"]["value"] == rep.sci["value"]
    assert d["report_digest"] == rep.digest()
    assert d["grid"] == {"g_per_kwh": rep.carbon.g_per_kwh, "pue": 1.0, "location": "France"}
    assert [p["name"] for p in d["phases"]] == ["prefill", "decode"] and "measured" not in d["phases"][0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.status = "x"  # type: ignore[misc]


def test_a_phase_entry_says_only_what_differs() -> None:
    p = inference_report().phase_views()[0]
    assert PhaseEntry.of(p, "counter").to_dict() == {"name": "prefill", "kind": "inference", "energy_j": 502.0,
                                                     "co2e_g": p.co2e_g, "duration_s": 2.0}
    assert PhaseEntry.of(p, "estimate").to_dict()["method"] == "counter"


def test_the_co2_entry_is_for_a_training_report_with_a_figure() -> None:
    rep = training_report()
    c = Co2Entry.of(rep)
    assert c is not None and c.to_dict() == co2_entry(rep) and c.emissions == rep.co2e_g and c.source == "scer-hf"
    assert Co2Entry.of(inference_report()) is None
    d = rep.to_dict()
    d["model"]["base_model"] = "org/base"
    fine_tuned = Co2Entry.of(Report.from_dict(d))
    assert fine_tuned is not None and fine_tuned.training_type == "fine-tuning"
