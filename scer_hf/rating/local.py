"""A local model folder: ``config.json`` and parameters counted from safetensors headers (no torch).

A ``.safetensors`` file starts with an 8-byte little-endian header length and a JSON header mapping each tensor
to its dtype, shape and byte offsets, so the parameter count is the sum of the shapes' products: the weights are
never read. The folder's base model is the card's ``base_model`` (README.md front matter) or, failing that,
``_name_or_path`` of config.json (what transformers writes: the checkpoint the model was loaded from).

Every file is read through :mod:`scer_hf._read` (regular files only, size and nesting caps, no content in
messages). A header is checked as the safetensors format defines it: the header fits in the file, each tensor's
shape matches its byte range, the byte ranges lie inside the file; dimensions and counts pass
:mod:`scer_hf.core.bounds`. Shards named by ``model.safetensors.index.json`` must lie inside the folder.
"""

from __future__ import annotations

import math
import os
import re
import struct
from pathlib import Path
from typing import Any

from .._read import confined, load_json, loads_json, open_regular, read_text
from ..core.bounds import PARAMETERS, TENSOR_NDIM
from ..errors import RatingError
from .lineage import Node

__all__ = ["is_model_folder", "safetensors_params", "folder_params", "folder_node"]

_MAX_HEADER = 100_000_000  # the safetensors format's own header limit
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_FM = re.compile(r"^\s*---\s*\n(.*?)\n---\s*(\n|$)", re.S)
# bits per element of each safetensors dtype (safetensors' Dtype enum); an unknown dtype needs at least 1 bit
_BITS = {"BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8,
         "F8_E8M0": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "C64": 64,
         "F64": 64, "I64": 64, "U64": 64}
_RESAVE = "re-save the model (save_pretrained) or download it again"


def is_model_folder(x: Any) -> bool:
    """A folder with config.json and no scer_report.json (a report folder is rated as a report)."""
    try:
        p = Path(x)
        return p.is_dir() and (p / "config.json").is_file() and not (p / "scer_report.json").is_file()
    except (TypeError, ValueError, OSError):
        return False


def _nth(i: int) -> str:
    return f"tensor #{i + 1} of the header"


def _whole(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_shape(shape: Any, i: int, path: str) -> None:
    """Refuse a shape that is not a list of whole numbers >= 0, or has more dimensions than any library allows."""
    if not isinstance(shape, list) or not all(_whole(d) and d >= 0 for d in shape):
        raise RatingError(f"{path}: {_nth(i)} has no valid shape (a list of whole numbers >= 0); {_RESAVE}")
    if len(shape) > TENSOR_NDIM.high:
        raise RatingError(f"{path}: {_nth(i)} has {len(shape):,} dimensions, more than the "
                          f"{TENSOR_NDIM.high:g} any tensor library allows; {_RESAVE}")


def _elements(shape: Any, i: int, path: str) -> int:
    """Elements of a tensor's shape: a list of whole numbers >= 0, within any tensor library's limits."""
    _check_shape(shape, i, path)
    n = 1
    for d in shape:
        n *= d
        if n > PARAMETERS.high:
            raise RatingError(f"{path}: {_nth(i)} claims more than {PARAMETERS.high:g} elements, beyond any real "
                              f"model; {_RESAVE}")
    return n


def _data_size(offs: Any, i: int, path: str, data_len: int) -> int:
    """Bytes of a tensor's data: its two offsets, inside the file's data."""
    if not (isinstance(offs, list) and len(offs) == 2 and all(_whole(o) for o in offs)
            and 0 <= offs[0] <= offs[1] <= data_len):
        raise RatingError(f"{path}: {_nth(i)} has data offsets outside the file ({data_len:,} bytes of data); the "
                          f"file is truncated or not a safetensors file; {_RESAVE}")
    return int(offs[1] - offs[0])


def _tensor_elements(t: Any, i: int, path: str, data_len: int) -> int:
    """Elements of one header entry, checked against its dtype and byte range (never the tensor's name)."""
    n = _elements(t.get("shape") if isinstance(t, dict) else None, i, path)
    size = _data_size(t.get("data_offsets"), i, path, data_len)
    bits = _BITS.get(t.get("dtype")) if isinstance(t.get("dtype"), str) else None
    if (math.ceil(n * bits / 8) != size) if bits else (n > size * 8):
        raise RatingError(f"{path}: {_nth(i)} has a shape of {n:,} elements that does not match its {size:,} bytes "
                          f"of data; {_RESAVE}")
    return n


def safetensors_params(path: str | os.PathLike[str], *, shown: str | None = None) -> int:
    """Number of parameters in one ``.safetensors`` file, from its header only (checked, see the module doc).

    *shown* names the file in messages instead of its path."""
    p = shown or os.fspath(path)
    raw, data_len = _header_bytes(path, p, shown)
    header = loads_json(raw, where=p, what="safetensors header", error=RatingError)
    if not isinstance(header, dict):
        raise RatingError(f"{p} has an unreadable safetensors header (not a JSON object); {_RESAVE}")
    return _header_params(header, p, data_len)


def _header_bytes(path: str | os.PathLike[str], p: str, shown: str | None) -> tuple[bytes, int]:
    """(the JSON header of a safetensors file, the length of its data after it), the header length checked."""
    with open_regular(path, what="safetensors file", error=RatingError, max_bytes=1 << 62, shown=shown) as (fh, size):
        head = fh.read(8)
        if len(head) != 8:
            raise RatingError(f"{p} is not a safetensors file (shorter than its 8-byte header length); {_RESAVE}")
        (n,) = struct.unpack("<Q", head)
        if not 2 <= n <= _MAX_HEADER or 8 + n > size:
            raise RatingError(f"{p} is not a safetensors file: its header length does not fit the file's "
                              f"{size:,} bytes (or the format's {_MAX_HEADER:,}-byte limit); {_RESAVE}")
        return fh.read(n), size - 8 - n


def _header_params(header: dict[str, Any], p: str, data_len: int) -> int:
    """The parameters a safetensors header lists (each tensor checked against the data it claims)."""
    total = 0
    for i, (name, t) in enumerate(header.items()):
        if name == "__metadata__":
            continue
        total += _tensor_elements(t, i, p, data_len)
        if total > PARAMETERS.high:
            raise RatingError(f"{p} claims more than {PARAMETERS.high:g} parameters, beyond any real model; {_RESAVE}")
    return total


def _weight_map(index: Path) -> dict[str, Any]:
    """The ``weight_map`` of a safetensors index ({} when it has none); refused when the index is not one."""
    data = load_json(index, what="index", error=RatingError)
    wm = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not (wm is None or isinstance(wm, dict)):
        raise RatingError(f"{index} is not a safetensors index (a JSON object whose weight_map maps tensor names to "
                          f"shard files); {_RESAVE}")
    return wm or {}


def _shards(folder: Path, index: Path) -> list[Path]:
    """The shard files an index names: inside *folder* only."""
    names = set()
    for v in _weight_map(index).values():
        confined(folder, v, what="shard", error=RatingError, source=index.name)
        names.add(v)
    return [folder / f for f in sorted(names)]


def folder_params(folder: str | os.PathLike[str]) -> tuple[int | None, list[str]]:
    """``(parameters, files counted)``; shards listed in ``model.safetensors.index.json`` when present."""
    p = Path(folder)
    index = p / "model.safetensors.index.json"
    listed = os.path.lexists(index)
    files = _shards(p, index) if listed else sorted(p.glob("*.safetensors"))
    if not files:
        return None, []
    total = 0
    for k, f in enumerate(files, 1):
        # a shard's name comes from inside the index: messages name it by its place there, never by the name
        total += safetensors_params(f, shown=f"shard {k} of {len(files)} listed in {index}" if listed else None)
        if total > PARAMETERS.high:
            raise RatingError(f"{p} claims more than {PARAMETERS.high:g} parameters over its shards, beyond any real "
                              f"model; {_RESAVE}")
    return total, [str(f.relative_to(p)) for f in files]


def _card_base(folder: Path) -> tuple[str | None, str | None]:
    """The card's ``base_model`` and relation; an unreadable card (or card metadata) gives none."""
    meta = _card_metadata(folder)
    if meta is None:
        return None, None
    rel = meta.get("base_model_relation")
    return _first_base(meta.get("base_model")), (rel if isinstance(rel, str) and len(rel) <= 40 else None)


def _first_base(raw: Any) -> str | None:
    """The (first) base model the card names, when it is a plausible name (1 to 200 characters)."""
    base = raw[0] if isinstance(raw, list) and raw else raw
    name = base.strip() if isinstance(base, str) else ""
    return name if 0 < len(name) <= 200 else None


def _card_metadata(folder: Path) -> dict[str, Any] | None:
    """The card's YAML metadata as a mapping; None for no card, no metadata or unreadable metadata."""
    try:
        text = read_text(folder / "README.md", what="card", error=RatingError, if_missing="")
    except RatingError:
        return None
    m = _FM.match(text)
    if not m:
        return None
    import yaml  # a dependency of huggingface_hub, which scer-hf requires

    try:
        meta = yaml.load(m.group(1), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (yaml.YAMLError, RecursionError):
        return None
    return meta if isinstance(meta, dict) else None


def _config_base(config: dict[str, Any]) -> str | None:
    """The checkpoint a model was loaded from (config ``_name_or_path``), when it is a Hub id."""
    name = config.get("_name_or_path")
    ok = isinstance(name, str) and _HUB_ID.match(name) and "/" in name and not os.path.isabs(name)
    return name if ok and isinstance(name, str) else None


def _short_str(x: Any) -> bool:
    return isinstance(x, str) and len(x) <= 100


def folder_node(folder: str | os.PathLike[str]) -> Node:
    """The lineage node of a local model folder (raises :class:`RatingError` on an unreadable folder)."""
    p = Path(folder).resolve()
    config = load_json(p / "config.json", what="config", error=RatingError, finite=False)
    if not isinstance(config, dict):
        raise RatingError(f"{p / 'config.json'} is not a JSON object; is {p} a saved model folder?")
    n, files = folder_params(p)
    base, rel, how = _folder_base(p, config)
    arch = config.get("model_type")
    src = _folder_sources(p, base, how, n, files)
    return Node(model_id=str(p), base_model=base, relation=(rel or "finetune") if base else "pretrained",
                architecture=str(arch).lower() if _short_str(arch) else None,
                params_b=n / 1e9 if n is not None else None, source="; ".join(src),
                notes=f"architectures: {_architectures(config)}", origin="local folder")


def _folder_sources(p: Path, base: str | None, how: str, n: int | None, files: list[str]) -> list[str]:
    """Where a folder node's facts come from: the folder, where its base model was read, the files counted."""
    src = [f"local folder {p}"] + ([f"base model {base} from {how}"] if base else [])
    if n is not None:
        src.append(f"{n:,} parameters counted from the safetensors header(s) of {', '.join(files)}")
    return src


def _folder_base(p: Path, config: dict[str, Any]) -> tuple[str | None, str | None, str]:
    """(base model, relation, where it was read): the card's ``base_model``, else the checkpoint the config was
    loaded from (a fine-tune)."""
    base, rel = _card_base(p)
    if base is None and _config_base(config):
        return _config_base(config), "finetune", "config.json _name_or_path (the checkpoint it was loaded from)"
    return base, rel, "README.md card metadata base_model"


def _architectures(config: dict[str, Any]) -> list[str] | None:
    """The config's ``architectures`` (short strings, at most 8), None when it has no list."""
    archs = config.get("architectures")
    return [a for a in archs if _short_str(a)][:8] if isinstance(archs, list) else None
