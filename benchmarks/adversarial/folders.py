"""``rate(path)`` on hostile local model folders (config.json, safetensors headers, the shard index, the card)."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

from common import SECRET, Case, Outcome, basic, deep_json, fifo, no_nan, release_fifos, sparse, typed_only

CONFIG = json.dumps({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]})


def st_bytes(header: Any, data: bytes | None = None, raw_header: bytes | None = None) -> bytes:
    raw = raw_header if raw_header is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + (data or b"")


def valid_st(shapes: dict[str, list[int]]) -> bytes:
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    off = 0
    for name, shape in shapes.items():
        n = 1
        for d in shape:
            n *= d
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + 4 * n]}
        off += 4 * n
    return st_bytes(header, b"\0" * off)


def _params(r: Any) -> float | None:
    node = ((r.to_dict().get("lineage") or {}).get("node") or {})
    return node.get("params_b")


def cases(tmp: Path) -> list[Case]:
    from scer_hf import rate

    out: list[Case] = []
    outside = tmp / "outside"
    outside.mkdir()
    # a valid file outside every folder that claims 7 billion parameters (sparse data: no disk used)
    big = {"w": [70_000, 100_000]}
    hdr = json.dumps({"w": {"dtype": "F32", "shape": big["w"], "data_offsets": [0, 4 * 7_000_000_000]}}).encode()
    sparse(outside / "big.safetensors", 8 + len(hdr) + 4 * 7_000_000_000, struct.pack("<Q", len(hdr)) + hdr)
    (outside / "secret.txt").write_text(SECRET * 4)

    def folder(name: str, files: dict[str, Any], *, config: str | bytes | None = CONFIG) -> Path:
        d = tmp / name
        d.mkdir()
        if config is not None:
            (d / "config.json").write_bytes(config.encode() if isinstance(config, str) else config)
        for fname, content in files.items():
            p = d / fname
            p.parent.mkdir(parents=True, exist_ok=True)
            if content == "FIFO":
                fifo(p)
            elif isinstance(content, tuple) and content[0] == "SPARSE":
                sparse(p, content[1], content[2] if len(content) > 2 else b"")
            elif isinstance(content, tuple) and content[0] == "LINK":
                p.symlink_to(content[1])
            else:
                p.write_bytes(content.encode() if isinstance(content, str) else content)
        return d

    def hostile(name: str, files: dict[str, Any], *, config: str | bytes | None = CONFIG,
                check: Any = None) -> None:
        d = folder(name, files, config=config)
        out.append(Case(f"folder:{name}", lambda d=d: rate(str(d)), check or typed_only,
                        cleanup=lambda d=d: release_fifos(d)))

    def not_counted(o: Outcome) -> str | None:
        """An index that points outside the folder: a typed error, or that shard is not counted."""
        why = basic(o)
        if why:
            return why
        if o.kind == "ok" and (_params(o.value) or 0) > 1:
            return f"followed: rated as {_params(o.value)} billion parameters"
        return None

    def ok_or_typed(o: Outcome) -> str | None:
        why = basic(o)
        return why or (no_nan(o.value.to_dict()) if o.kind == "ok" else None)

    def counted(n: int) -> Any:
        def check(o: Outcome) -> str | None:
            why = basic(o)
            if why:
                return why
            if o.kind != "ok":
                return f"a valid folder failed: {o.message[:150]}"
            got = _params(o.value)
            return None if got is not None and round(got * 1e9) == n else f"counted {got} billion, expected {n}"
        return check

    # config.json
    hostile("config-deep", {}, config=deep_json())
    hostile("config-list", {}, config="[1, 2]")
    hostile("config-bad-utf8", {}, config=b"\xff\xfe{" + SECRET.encode())
    hostile("config-not-json", {}, config=SECRET)
    hostile("config-huge", {"config.json": ("SPARSE", 3 << 30, b"{")}, config=None)
    hostile("config-fifo", {"config.json": "FIFO"}, config=None, check=ok_or_typed)
    hostile("config-nan", {}, config='{"model_type": NaN, "architectures": [Infinity]}', check=ok_or_typed)
    # one safetensors file
    hostile("st-fifo", {"model.safetensors": "FIFO"})
    hostile("st-dev-zero", {"model.safetensors": ("LINK", "/dev/zero")})
    hostile("st-header-deep", {"model.safetensors": st_bytes(None, raw_header=deep_json(50_000).encode())})
    hostile("st-header-list", {"model.safetensors": st_bytes([1, 2, 3])})
    hostile("st-3000-dims", {"model.safetensors": st_bytes({"w": {"dtype": "F32", "shape": [1] * 3000,
                                                                   "data_offsets": [0, 4]}}, b"\0" * 4)})
    hostile("st-shape-1e15", {"model.safetensors": st_bytes({"w": {"dtype": "F32", "shape": [10**15, 10**15],
                                                                    "data_offsets": [0, 4]}}, b"\0" * 4)})
    hostile("st-shape-negative", {"model.safetensors": st_bytes({"w": {"dtype": "F32", "shape": [-4, 2],
                                                                        "data_offsets": [0, 4]}})})
    hostile("st-shape-float", {"model.safetensors": st_bytes({"w": {"dtype": "F32", "shape": [2.5],
                                                                     "data_offsets": [0, 10]}})})
    hostile("st-shape-bool", {"model.safetensors": st_bytes({"w": {"dtype": "F32", "shape": [True],
                                                                    "data_offsets": [0, 4]}})})
    hostile("st-offsets-lie", {"model.safetensors": st_bytes({"w": {"dtype": "F32", "shape": [1000, 1000],
                                                                     "data_offsets": [0, 4]}}, b"\0" * 4)})
    hostile("st-claims-100MB-header", {"model.safetensors": struct.pack("<Q", 100 * 1024 * 1024) + b"{}"})
    hostile("st-header-length-2^63", {"model.safetensors": struct.pack("<Q", 2**63) + b"{}"})
    hostile("st-empty", {"model.safetensors": b""})
    hostile("st-bad-utf8", {"model.safetensors": st_bytes(None, raw_header=b"\xff" + SECRET.encode())})
    hostile("st-not-json", {"model.safetensors": st_bytes(None, raw_header=SECRET.encode())})
    hostile("st-tensor-not-object", {"model.safetensors": st_bytes({"w": [1, 2]})})
    hostile("st-is-a-folder", {"model.safetensors/x": "x"})
    # the shard index
    idx = "model.safetensors.index.json"
    hostile("index-deep", {idx: deep_json()})
    hostile("index-list", {idx: "[1, 2]"})
    hostile("index-weight-map-list", {idx: json.dumps({"weight_map": ["a.safetensors"]})})
    hostile("index-values-int", {idx: json.dumps({"weight_map": {"w": 1, "v": 2}})})
    hostile("index-fifo", {idx: "FIFO"})
    hostile("index-huge", {idx: ("SPARSE", 3 << 30, b"{")})
    hostile("index-absolute-escape", {idx: json.dumps({"weight_map": {"w": str(outside / "big.safetensors")}})},
            check=not_counted)
    hostile("index-dotdot-escape", {idx: json.dumps({"weight_map": {"w": "../outside/big.safetensors"}})},
            check=not_counted)
    hostile("index-system-file", {idx: json.dumps({"weight_map": {"w": str(outside / "secret.txt")}})},
            check=not_counted)
    hostile("index-missing-shard", {idx: json.dumps({"weight_map": {"w": "nope.safetensors"}})})
    hostile("index-shard-fifo", {idx: json.dumps({"weight_map": {"w": "s.safetensors"}}), "s.safetensors": "FIFO"})
    hostile("index-nul-in-name", {idx: json.dumps({"weight_map": {"w": "a\u0000.safetensors"}})})
    # the card
    hostile("readme-fifo", {"README.md": "FIFO", "model.safetensors": valid_st({"w": [4, 4]})}, check=ok_or_typed)
    hostile("readme-deep-yaml", {"README.md": "---\nbase_model: " + "[" * 20000 + "\n---\n",
                                 "model.safetensors": valid_st({"w": [4, 4]})}, check=ok_or_typed)
    hostile("readme-huge", {"README.md": ("SPARSE", 3 << 30, b"---\n"), "model.safetensors": valid_st({"w": [4]})},
            check=ok_or_typed)
    hostile("readme-alias-bomb", {"README.md": "---\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, "
                                  "*a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                                  "base_model: [*c, *c]\n---\n",
                                  "model.safetensors": valid_st({"w": [4]})}, check=ok_or_typed)
    # controls: what must keep working
    d = folder("control-valid", {"model.safetensors": valid_st({"a": [10, 20], "b": [5]})})
    out.append(Case("folder:control-valid", lambda d=d: rate(str(d)), counted(205)))
    d = folder("control-hf-cache", {"blobs/x": valid_st({"a": [3, 7]})})
    snap = d / "snapshots" / "abc"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(CONFIG)
    (snap / "model.safetensors").symlink_to(os.path.relpath(d / "blobs" / "x", snap))
    out.append(Case("folder:control-hf-cache-symlink", lambda s=snap: rate(str(s)), counted(21)))
    d = folder("control-sharded", {"a.safetensors": valid_st({"a": [6]}), "b.safetensors": valid_st({"b": [4]}),
                                   idx: json.dumps({"weight_map": {"a": "a.safetensors", "b": "b.safetensors"}})})
    out.append(Case("folder:control-sharded", lambda d=d: rate(str(d)), counted(10)))
    return out
