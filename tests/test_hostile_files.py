"""Hostile files (issue 20): one safe reader (``scer_hf._read``) behind every file the package reads.

The quoted cases of ``rate(path)`` on hostile model folders, plus a hypothesis fuzz per reader: only typed
``scer_hf.errors`` errors, bounded time and memory, and no byte of a file in any message.
"""

from __future__ import annotations

import functools
import json
import os
import struct
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scer_hf import _read, rate
from scer_hf.errors import InputFileError, RatingError, ReportError, SCERError, VerificationError
from scer_hf.rating.local import folder_node, folder_params, safetensors_params

SECRET = "SECRET-5f1e-do-not-echo"
CONFIG = json.dumps({"model_type": "gpt2"})
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def st_file(header: Any, data: bytes = b"", raw: bytes | None = None) -> bytes:
    h = raw if raw is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def tensor(shape: list[int], dtype: str = "F32", begin: int = 0) -> dict[str, Any]:
    n = 1
    for d in shape:
        n *= d
    width = {"F32": 4, "F16": 2, "BF16": 2, "I8": 1}[dtype]
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, begin + n * width]}


def model(tmp_path: Path, files: dict[str, Any], name: str = "m") -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "config.json").write_text(CONFIG)
    for fname, content in files.items():
        p = d / fname
        if content == "FIFO":
            os.mkfifo(p)
        else:
            p.write_bytes(content.encode() if isinstance(content, str) else content)
    return d


def fails_fast(fn: Any, error: type[Exception] = SCERError, match: str | None = None, limit_s: float = 5.0) -> str:
    """*fn* raises *error* (never hangs: a FIFO read would block forever; the limit is generous for a loaded
    machine) and the message quotes nothing of the file."""
    t0 = time.perf_counter()
    with pytest.raises(error, match=match) as ei:
        fn()
    assert time.perf_counter() - t0 < limit_s
    assert SECRET not in str(ei.value)
    return str(ei.value)


# -- the quoted cases ------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["config.json", "model.safetensors", "model.safetensors.index.json"])
def test_deep_nesting_is_a_rating_error_not_a_recursion_error(tmp_path: Path, where: str) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    files = {"model.safetensors": st_file(None, raw=deep.encode())} if where == "model.safetensors" else \
        {where: deep}
    d = model(tmp_path, files)
    fails_fast(lambda: rate(str(d)), RatingError, "nested too deeply")


@pytest.mark.parametrize("index, match", [
    ('{"weight_map": ["a.safetensors"]}', "not a safetensors index"),
    ("[1, 2]", "not a safetensors index"),
    ('{"weight_map": {"w": 1, "v": 2}}', "shard name in model.safetensors.index.json is int"),
    ('{"weight_map": {"w": "a\\u0000.safetensors"}}', "points outside"),
])
def test_malformed_index_is_a_rating_error(tmp_path: Path, index: str, match: str) -> None:
    d = model(tmp_path, {"model.safetensors.index.json": index})
    fails_fast(lambda: rate(str(d)), RatingError, match)


def test_shapes_that_cannot_be_are_refused(tmp_path: Path) -> None:
    cases = {
        "3000-dims": st_file({"w": {"dtype": "F32", "shape": [1] * 3000, "data_offsets": [0, 4]}}, b"\0" * 4),
        "1e15x1e15": st_file({"w": {"dtype": "F32", "shape": [10**15, 10**15], "data_offsets": [0, 4]}}, b"\0" * 4),
        "offsets-lie": st_file({"w": {"dtype": "F32", "shape": [1000, 1000], "data_offsets": [0, 4]}}, b"\0" * 4),
        "bool-dim": st_file({"w": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}}, b"\0" * 4),
        "10-bytes-claiming-100MB": struct.pack("<Q", 100 * 1024 * 1024) + b"{}",
    }
    for name, content in cases.items():
        d = model(tmp_path, {"model.safetensors": content}, name)
        fails_fast(lambda d=d: rate(str(d)), RatingError)


def test_a_fifo_is_refused_at_once_never_waited_on(tmp_path: Path) -> None:
    d = model(tmp_path, {"model.safetensors": "FIFO"})
    assert "FIFO" in fails_fast(lambda: rate(str(d)), RatingError)
    d = model(tmp_path, {"model.safetensors.index.json": '{"weight_map": {"w": "s.safetensors"}}',
                         "s.safetensors": "FIFO"}, "sharded")
    fails_fast(lambda: rate(str(d)), RatingError, "FIFO")
    d = model(tmp_path, {"README.md": "FIFO", "model.safetensors": st_file({"w": tensor([4])}, b"\0" * 16)}, "card")
    t0 = time.perf_counter()
    assert folder_node(d).params_b == 4e-9 and time.perf_counter() - t0 < 5.0  # an unreadable card gives no base


def test_an_index_pointing_outside_the_folder_is_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    big = st_file({"w": tensor([70_000, 100_000])})
    with open(outside / "big.safetensors", "wb") as fh:  # 7 billion parameters, sparse: no disk used
        fh.write(big)
        fh.truncate(len(big) + 4 * 7_000_000_000)
    (outside / "passwd").write_text(SECRET * 3)
    for i, target in enumerate([str(outside / "big.safetensors"), "../outside/big.safetensors",
                                "sub/../../outside/big.safetensors", str(outside / "passwd")]):
        d = model(tmp_path, {"model.safetensors.index.json": json.dumps({"weight_map": {"w": target}})}, f"m{i}")
        msg = fails_fast(lambda d=d: rate(str(d)), RatingError, "points outside")
        assert str(int.from_bytes(SECRET[:8].encode(), "little")) not in msg  # not the file's first 8 bytes
    assert safetensors_params(outside / "big.safetensors") == 7_000_000_000  # the file itself is valid


def test_hf_cache_symlinks_and_shards_still_count(tmp_path: Path) -> None:
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    (blobs / "x").write_bytes(st_file({"a": tensor([3, 7]), "b": tensor([2], begin=84)}, b"\0" * 92))
    snap = model(tmp_path, {}, "snapshot")
    (snap / "model.safetensors").symlink_to(os.path.relpath(blobs / "x", snap))
    assert folder_params(snap) == (23, ["model.safetensors"])
    d = model(tmp_path, {"a.safetensors": st_file({"a": tensor([6])}, b"\0" * 24),
                         "b.safetensors": st_file({"b": tensor([4], "BF16")}, b"\0" * 8),
                         "model.safetensors.index.json": json.dumps({"weight_map": {"a": "a.safetensors",
                                                                                   "b": "b.safetensors"}})}, "s")
    assert folder_params(d) == (10, ["a.safetensors", "b.safetensors"])


def test_huge_files_are_refused_by_size_before_reading(tmp_path: Path) -> None:
    p = tmp_path / "huge.json"
    with open(p, "wb") as fh:
        fh.write(b"{")
        fh.truncate(3 << 30)
    tracemalloc.start()
    try:
        fails_fast(lambda: _read.load_json(p, what="report"), InputFileError, "over the")
        assert tracemalloc.get_traced_memory()[1] < 10 << 20
    finally:
        tracemalloc.stop()
    fails_fast(lambda: _read.read_bytes("/dev/zero"), InputFileError, "character device")
    fails_fast(lambda: _read.read_bytes(tmp_path), InputFileError, "folder")


# -- fuzz: one per reader --------------------------------------------------------------------------
_json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=12),
                       st.just(SECRET))
_json = st.recursive(_json_leaf, lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(st.text(max_size=6), c,
                                                                                               max_size=4)),
                     max_leaves=20)
_raw_text = st.one_of(
    st.binary(max_size=200).map(lambda b: b + SECRET.encode()),
    _json.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 5000).map(lambda n: (SECRET + "[" * n + "]" * n).encode()),
    st.integers(1, 5000).map(lambda n: ('{"a":' * n + "1" + "}" * n).encode()),
    st.sampled_from([b"NaN", b"[Infinity]", b"1e400", b"1" * 5000, b'"\\ud800"', SECRET.encode()]),
)


@FUZZ
@given(raw=_raw_text)
def test_fuzz_json_reader(tmp_path_factory: pytest.TempPathFactory, raw: bytes) -> None:
    p = tmp_path_factory.mktemp("j") / "x.json"
    p.write_bytes(raw)
    t0 = time.perf_counter()
    try:
        v = _read.load_json(p, what="report")
    except InputFileError as exc:
        assert SECRET not in str(exc)
    else:
        assert json.dumps(v, allow_nan=False)  # finite numbers only, and within the depth cap
    assert time.perf_counter() - t0 < 2.0  # bounded: a few KB never take long


_dims = st.lists(st.one_of(st.integers(0, 10**16), st.integers(-3, 3), st.booleans(), st.floats(), st.text(max_size=2)),
                 max_size=70)
_entry = st.one_of(
    st.fixed_dictionaries({"dtype": st.sampled_from(["F32", "F16", "BF16", "I8", "F4", "ZZ", 7]), "shape": _dims,
                           "data_offsets": st.lists(st.integers(-5, 10**6), max_size=3)}),
    _json)


@FUZZ
@given(header=st.one_of(st.dictionaries(st.text(max_size=8), _entry, max_size=5), _json),
       length=st.one_of(st.none(), st.integers(0, 2**64 - 1)), data=st.integers(0, 4096))
def test_fuzz_safetensors_header_reader(tmp_path_factory: pytest.TempPathFactory, header: Any, length: int | None,
                                        data: int) -> None:
    raw = json.dumps(header).encode() + SECRET.encode() * (length == 7)
    p = tmp_path_factory.mktemp("s") / "model.safetensors"
    p.write_bytes(struct.pack("<Q", len(raw) if length is None else length) + raw + b"\0" * data)
    t0 = time.perf_counter()
    try:
        n = safetensors_params(p)
    except RatingError as exc:
        assert SECRET not in str(exc)
    else:
        assert isinstance(n, int) and 0 <= n <= 1e14 and n <= data * 8
    assert time.perf_counter() - t0 < 2.0  # bounded: a few KB never take long


_shard = st.one_of(st.sampled_from(["a.safetensors", "../a.safetensors", "/etc/passwd", "sub/../../x", "C:\\x",
                                    "a\0b", "", " ", "x/./a.safetensors", "b.safetensors"]), st.text(max_size=10),
                   st.integers(), st.none(), st.lists(st.text(max_size=3), max_size=2))


@FUZZ
@given(index=st.one_of(st.fixed_dictionaries({"weight_map": st.one_of(st.dictionaries(st.text(max_size=4), _shard,
                                                                                      max_size=4), _json)}), _json))
def test_fuzz_shard_index_reader(tmp_path_factory: pytest.TempPathFactory, index: Any) -> None:
    d = tmp_path_factory.mktemp("idx")
    (d / "a.safetensors").write_bytes(st_file({"w": tensor([5])}, b"\0" * 20))
    (d / "model.safetensors.index.json").write_text(json.dumps(index))
    try:
        n, files = folder_params(d)
    except RatingError as exc:
        assert SECRET not in str(exc)
    else:
        assert n in (None, 5) and all(not f.startswith(("/", "..")) for f in files)


@functools.lru_cache(maxsize=1)
def _report() -> Any:
    from tests.builders import inference_report

    return inference_report()


@FUZZ
@given(raw=_raw_text)
def test_fuzz_rating_file_reader(tmp_path_factory: pytest.TempPathFactory, raw: bytes) -> None:
    from scer_hf.rating import resolve_rating

    p = tmp_path_factory.mktemp("r") / "rating.json"
    p.write_bytes(raw)
    try:
        r = resolve_rating(_report(), p)
    except ReportError as exc:
        assert SECRET not in str(exc)
    else:
        assert r is not None and json.dumps(r, allow_nan=False)


@FUZZ
@given(body=st.one_of(st.binary(max_size=200), _json.map(lambda v: "---\n" + json.dumps(v) + "\n---\n").map(str.encode),
                      st.integers(1, 3000).map(lambda n: b"---\nscer: " + b"[" * n + b"\n---\n"),
                      st.just(b"---\na: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nscer: [*b, *b]\n---\n")),
       as_label=st.booleans())
def test_fuzz_card_and_label_readers(tmp_path_factory: pytest.TempPathFactory, body: bytes, as_label: bool) -> None:
    from scer_hf.publish.verify import _front_matter, _label_meta

    d = tmp_path_factory.mktemp("c")
    p = d / ("x.svg" if as_label else "README.md")
    p.write_bytes(body + SECRET.encode())
    try:
        text, meta = _label_meta(p) if as_label else _front_matter(p)  # (the file's text, its metadata)
    except VerificationError as exc:
        assert SECRET not in str(exc)
    else:
        assert isinstance(meta, dict) and isinstance(text, str)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode),
                     st.just(b"model_id,energy_wh_per_1000_queries\n" + SECRET.encode() + b",x\n")))
def test_fuzz_csv_reader(tmp_path_factory: pytest.TempPathFactory, raw: bytes) -> None:
    from scer_hf.errors import ReferenceDataError
    from scer_hf.rating import reference

    p = tmp_path_factory.mktemp("csv") / "extra.csv"
    p.write_bytes(raw)
    try:
        reference.rows("inference", extra=p)
    except ReferenceDataError as exc:
        assert SECRET not in str(exc)


def _alias_bomb(levels: int = 8) -> str:
    lines = ["---", "a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines + [f"scer: {{training: *a{levels}}}", "---", "# card", ""])


@pytest.mark.parametrize("card", [_alias_bomb(), "---\nscer: &s {training: *s}\n---\n",
                                  "---\nscer: " + "[" * 20_000 + "\n---\n"])
def test_card_yaml_bombs_are_card_errors_at_once(tmp_path: Path, card: str) -> None:
    from click.testing import CliRunner

    from scer_hf.cli import cli
    from scer_hf.errors import CardError
    from scer_hf.publish.card import update_card
    from tests.builders import training_report

    (tmp_path / "README.md").write_text(card)
    fails_fast(lambda: update_card(tmp_path, training_report(), label_path=None), CardError)
    t0 = time.perf_counter()
    res = CliRunner().invoke(cli, ["card", "show", str(tmp_path / "README.md"), "--json"])
    assert res.exit_code == 1 and json.loads(res.stdout)["error"] == "CardError" and time.perf_counter() - t0 < 5


def test_card_show_json_is_valid_json_and_refuses_implausible_emissions(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scer_hf.cli import cli

    p = tmp_path / "README.md"
    p.write_text("---\nco2_eq_emissions: .nan\nscer: {training: {energy_j: .inf}}\n---\n")
    res = CliRunner().invoke(cli, ["card", "show", str(p), "--json"])
    out = json.loads(res.stdout, parse_constant=lambda c: pytest.fail(f"{c} in --json output"))
    assert res.exit_code == 0 and out["co2_eq_emissions"] is None and "plausible range" in out["refused"][0]
    assert out["scer"]["training"]["energy_j"] is None
