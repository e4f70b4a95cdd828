"""Model ids as people type them: renamed ids (aliases.csv), legacy names, typos and unknown ids."""

from __future__ import annotations

import csv
import json
from typing import Any

import pytest

from scer_hf import rate, reference
from scer_hf.rating import aliases
from click.testing import CliRunner

from scer_hf.cli import cli

PAIRS = [(r["former_id"], r["current_id"])
         for r in csv.DictReader(open(reference.data_dir() / aliases.ALIASES_FILE, encoding="utf-8"))]


def test_alias_table_is_sourced() -> None:
    rows = list(csv.DictReader(open(reference.data_dir() / aliases.ALIASES_FILE, encoding="utf-8")))
    assert len(rows) >= 30 and all(r["source"].strip() and r["notes"].startswith("[") for r in rows)
    assert all(r["former_id"].lower() != r["current_id"].lower() for r in rows)
    assert {("gpt2", "openai-community/gpt2"), ("bert-base-uncased", "google-bert/bert-base-uncased"),
            ("t5-small", "google-t5/t5-small"),
            ("meta-llama/Meta-Llama-3.1-8B", "meta-llama/Llama-3.1-8B")} <= set(PAIRS)
    assert aliases.canonical("GPT2") == "openai-community/gpt2" and aliases.canonical("x/unrenamed") == "x/unrenamed"
    assert "meta-llama/Meta-Llama-3.1-8B" in aliases.former_ids("meta-llama/llama-3.1-8b")


def _same(d: dict[str, Any]) -> dict[str, Any]:
    """A rating dict without what says which spelling was asked (the rename note and its source)."""
    for phase in ("training", "inference"):
        for p in [d[phase], *d[phase]["alternatives"]]:
            p["notes"] = [n for n in p["notes"] if "is the former id of" not in n]
            p["sources"] = [s for s in p["sources"] if not s.startswith("renamed: ")]
    return d


@pytest.mark.parametrize("former,current", PAIRS)
def test_both_spellings_of_a_renamed_model_give_the_same_answer(former: str, current: str) -> None:
    old, new = rate(former, hub=False), rate(current, hub=False)
    assert _same(old.to_dict()) == _same(new.to_dict())
    assert old.model == new.model == current
    assert any("is the former id of" in n for n in old.inference.notes)
    assert any(s.startswith("renamed: aliases.csv#") for s in old.training.sources)


def test_renamed_llama_gets_both_its_training_row_and_its_stars() -> None:
    """Morrison/Meta list the model as Llama-3.1-8B, AI Energy Score as Meta-Llama-3.1-8B: one model."""
    for mid in ("meta-llama/Llama-3.1-8B", "meta-llama/Meta-Llama-3.1-8B"):
        r = rate(mid, hub=False)
        assert r.training.grade is not None and "training.csv#6" in r.training.sources[0]
        assert r.inference.stars == 3 and "aienergyscore_v1.csv#23" in r.inference.sources[0]


def test_legacy_name_without_namespace_still_resolves() -> None:
    r = rate("bloom-560m", hub=False)
    assert r.model == "bigscience/bloom-560m" and r.known and r.training.grade is not None
    assert "legacy id without namespace" in r.training.notes[0]


@pytest.mark.parametrize("typo,meant", [("bigscience/blom-560m", "bigscience/bloom-560m"),
                                        ("llama-2-7b", "meta-llama/Llama-2-7b-hf"),
                                        ("HuggingFaceH4/zephyr-7b-betta", "HuggingFaceH4/zephyr-7b-beta")])
def test_unknown_ids_say_so_with_close_matches(typo: str, meant: str) -> None:
    r = rate(typo, hub=False)
    assert r.known is False and meant in r.suggestions and len(r.suggestions) <= 5
    assert not r.training.available and not r.inference.available
    assert r.training.reason.startswith(f"unknown model {typo!r}") and "offline" in r.inference.reason
    assert "did you mean" in r.describe() and r.to_dict()["known"] is False


def test_a_made_up_id_is_unknown_and_a_known_one_is_not() -> None:
    r = rate("nobody/qzxv-made-up-9000", hub=False)
    assert r.known is False and r.suggestions == []
    assert rate("nobody/qzxv-made-up-9000", hub=False, parameters=7e9).known  # a count to work with
    assert rate("bigscience/bloom-1b1", hub=False).known  # in the lineage table, no figure of its own
    assert rate("Gopher-280B", hub=False).known  # only a [secondary] row, excluded by default: still known


def test_cli_unknown_id_exit_code_and_json() -> None:
    run = CliRunner().invoke
    p = run(cli, ["rate", "bigscience/blom-560m", "--offline"])
    assert p.exit_code == 4 and "did you mean" in p.output and "bigscience/bloom-560m" in p.output
    j = run(cli, ["rate", "bigscience/blom-560m", "--offline", "--json"])
    d = json.loads(j.output)
    assert j.exit_code == 4 and d["known"] is False and "bigscience/bloom-560m" in d["suggestions"]
    ok = run(cli, ["rate", "gpt2", "--offline", "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["model"] == "openai-community/gpt2"
