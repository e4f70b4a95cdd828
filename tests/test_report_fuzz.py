"""Hostile report files: ``Report.load`` lets only ``SCERError`` out, and what it accepts every command reads.

A valid report (training, inference, estimate; with a stored rating) is mutated by
hypothesis: values replaced by other types, huge/negative/NaN/inf numbers, giant
ints, deep nesting; keys deleted or added. ``Report.load`` must either accept the
file or raise a ``SCERError`` subclass (``ReportSchemaError`` naming the field), and
``label``, ``report``, ``verify``, ``rate`` and ``card update`` on an accepted mutant
exit 0, 1 or 3 without a traceback.
"""

from __future__ import annotations

import copy
import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scer_hf.core.calculator import estimate
from scer_hf.cli import cli
from scer_hf.errors import ReportSchemaError, SCERError
from scer_hf.core.report import Report
from tests.builders import inference_report, rating, training_report


def _bases() -> list[dict[str, Any]]:
    inf = inference_report().to_dict()
    rated = dict(inf, rating=rating())  # a report with its rating stored (verify recomputes it)
    est = estimate("NVIDIA H100 SXM5 80GB", hours=2, country_iso_code="FRA", tokens=1e6, model="org/m").to_dict()
    partial = dict(training_report().to_dict(), status="partial")
    return [training_report().to_dict(), inf, rated, est, partial]


BASES = _bases()
DEEP = 10_000  # far past Python's recursion limit once nested


def _paths(x: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(x, dict):
        for k, v in x.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            out += _paths(v, prefix + (i,))
    return out


HOSTILE = st.one_of(
    st.sampled_from([-1.0, -1, 0, 1e308, -1e308, 10**400, 2**63, True, False, None, "", "x", "1", [], {}, [1],
                     {"a": 1}, float("nan"), float("inf"), -float("inf"), 1e-320, "💥" * 3, "<script>", "# h"]),
    st.integers(), st.floats(), st.text(max_size=20),
    st.recursive(st.none() | st.integers() | st.text(max_size=5),
                 lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                 max_leaves=8),
)
MUTATION = st.tuples(st.sampled_from(["set", "delete", "add", "deep"]), st.integers(0, 10**6), HOSTILE)


def _mutate(d: dict[str, Any], ops: list[tuple[str, int, Any]]) -> str:
    deep = False
    for op, pick, value in ops:
        value = copy.deepcopy(value)  # never the same object twice (no cycles)
        paths = _paths(d)
        path = paths[pick % len(paths)]
        parent: Any = d
        for k in path[:-1]:
            parent = parent[k]
        if not path:  # the root
            if op == "set":
                d = value  # type: ignore[assignment]
                break
            continue
        key = path[-1]
        if op == "set":
            parent[key] = value
        elif op == "delete":
            del parent[key]
        elif op == "add" and isinstance(parent[key], dict):
            parent[key]["zz_added"] = value
        elif op == "deep":
            parent[key] = "@DEEP@"
            deep = True
    text = json.dumps(d)
    if deep:
        text = text.replace('"@DEEP@"', "[" * DEEP + "]" * DEEP, 1)
    return text


def _case(tmp: Path, base: int, ops: list) -> tuple[Path, str]:
    d = json.loads(json.dumps(BASES[base % len(BASES)]))
    text = _mutate(d, ops)
    p = tmp / "scer_report.json"
    p.write_text(text, encoding="utf-8")
    return p, text


STATS = {"tried": 0, "accepted": 0, "rejected": 0}
ACCEPTED: list[str] = []


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(base=st.integers(0, 4), ops=st.lists(MUTATION, min_size=1, max_size=3))
def _fuzz_load(tmp: Path, base: int, ops: list) -> None:
    p, text = _case(tmp, base, ops)
    STATS["tried"] += 1
    try:
        rep = Report.load(p)
    except SCERError as exc:  # the only thing allowed out
        STATS["rejected"] += 1
        assert str(exc)
        return
    STATS["accepted"] += 1
    rep.to_dict(), rep.digest(), repr(rep)
    if len(ACCEPTED) < 400 and text not in ACCEPTED:
        ACCEPTED.append(text)


def test_load_lets_only_scer_errors_out_and_commands_never_crash(tmp_path: Path) -> None:
    _fuzz_load(tmp_path)
    assert STATS["tried"] >= 1000 and STATS["rejected"] > 0 and STATS["accepted"] > 0, STATS
    print("report fuzz:", STATS)
    runner = CliRunner()
    rnd = random.Random(13)
    sample = rnd.sample(ACCEPTED, min(25, len(ACCEPTED)))
    crashes = []
    for i, text in enumerate(sample):
        d = tmp_path / f"m{i}"
        d.mkdir()
        rp = d / "scer_report.json"
        rp.write_text(text, encoding="utf-8")
        (d / "README.md").write_text("---\nlicense: mit\n---\n# Model\n\nBody.\n", encoding="utf-8")
        for args in (["label", str(rp), "--out", str(d / "label.svg")],
                     ["report", str(rp), "--out", str(d / "report.html")],
                     ["verify", str(rp)], ["rate", str(rp), "--json"],
                     ["card", "update", str(d / "README.md"), "--report", str(rp)],
                     ["verify", str(d / "README.md"), "--report", str(rp)]):
            r = runner.invoke(cli, args)
            if r.exit_code not in (0, 1, 3) or "Traceback" in r.output or (
                    r.exception is not None and not isinstance(r.exception, SystemExit)):
                crashes.append((args[0], text[:200], repr(r.exception), r.output[-300:]))
    assert not crashes, crashes[:3]


def test_each_hostile_kind_is_named_by_its_path(tmp_path: Path) -> None:
    cases = {
        ("model",): (-1.0, r"\$\.model: must be of type object"),
        ("counts_tokens",): ("12", r"\$\.phases\[0\]\.counts\.tokens: must be of type number"),
        ("pue",): ("1.2", r"\$\.carbon\.pue: must be of type number"),
        ("nan",): (float("nan"), "NaN is not a JSON number"),
        ("big",): (10**400, r"\$\.energy_j: must be of type number"),
    }
    for (what,), (value, match) in cases.items():
        d = training_report().to_dict()
        if what == "model":
            d["model"] = value
        elif what == "counts_tokens":
            d["phases"][0]["counts"]["tokens"] = value
        elif what == "pue":
            d["carbon"]["pue"] = value
        else:
            d["energy_j"] = value
        p = tmp_path / f"{what}.json"
        p.write_text(json.dumps(d), encoding="utf-8")
        with pytest.raises(ReportSchemaError, match=match):
            Report.load(p)
    p = tmp_path / "deep.json"
    d = training_report().to_dict()
    d["extra"] = "@"
    p.write_text(json.dumps(d).replace('"@"', "[" * 100_000 + "]" * 100_000), encoding="utf-8")
    with pytest.raises(ReportSchemaError, match="nested"):
        Report.load(p)
    d["extra"] = {"a": [[[[[[[[]]]]]]]]}
    for _ in range(80):
        d["extra"] = {"a": d["extra"]}
    with pytest.raises(ReportSchemaError, match=r"\$\.extra\.a.*nested deeper"):
        Report.from_dict(d)


@pytest.mark.parametrize("base", range(len(BASES)))
def test_every_report_the_package_writes_fits_the_schema(base: int) -> None:
    d = BASES[base]
    assert Report.from_dict(d).to_dict() == d
    assert math.isfinite(Report.from_dict(d).energy_j)
