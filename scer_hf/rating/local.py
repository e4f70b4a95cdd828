"""A local model folder: ``config.json`` and parameters counted from safetensors headers (no torch).

A ``.safetensors`` file starts with an 8-byte little-endian header length and a JSON header mapping each tensor
to its dtype, shape and offsets, so the parameter count is the sum of the shapes' products: the weights are
never read. The folder's base model is the card's ``base_model`` (README.md front matter) or, failing that,
``_name_or_path`` of config.json (what transformers writes: the checkpoint the model was loaded from).
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
from pathlib import Path
from typing import Any

from ..errors import RatingError
from .lineage import Node

__all__ = ["is_model_folder", "safetensors_params", "folder_params", "folder_node"]

_MAX_HEADER = 100 * 1024 * 1024
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_FM = re.compile(r"^\s*---\s*\n(.*?)\n---\s*(\n|$)", re.S)


def is_model_folder(x: Any) -> bool:
    """A folder with config.json and no scer_report.json (a report folder is rated as a report)."""
    try:
        p = Path(x)
        return p.is_dir() and (p / "config.json").is_file() and not (p / "scer_report.json").is_file()
    except (TypeError, ValueError, OSError):
        return False


def safetensors_params(path: str | os.PathLike[str]) -> int:
    """Number of parameters in one ``.safetensors`` file, from its header only."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) != 8:
                raise RatingError(f"{path} is not a safetensors file (shorter than its 8-byte header length)")
            (n,) = struct.unpack("<Q", head)
            if not 2 <= n <= _MAX_HEADER:
                raise RatingError(f"{path} is not a safetensors file (header length {n})")
            header = json.loads(fh.read(n).decode("utf-8"))
    except OSError as exc:
        raise RatingError(f"cannot read {path}: {exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RatingError(f"{path} has an unreadable safetensors header ({exc}); re-save the model") from exc
    if not isinstance(header, dict):
        raise RatingError(f"{path} has an unreadable safetensors header (not a JSON object)")
    total = 0
    for name, t in header.items():
        if name == "__metadata__":
            continue
        shape = t.get("shape") if isinstance(t, dict) else None
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise RatingError(f"{path}: tensor {name!r} has no valid shape in the safetensors header")
        total += math.prod(shape)
    return total


def folder_params(folder: str | os.PathLike[str]) -> tuple[int | None, list[str]]:
    """``(parameters, files counted)``; shards listed in ``model.safetensors.index.json`` when present."""
    p = Path(folder)
    index = p / "model.safetensors.index.json"
    files: list[Path]
    if index.is_file():
        try:
            wm = json.loads(index.read_text(encoding="utf-8")).get("weight_map") or {}
        except (OSError, ValueError) as exc:
            raise RatingError(f"{index} is not readable JSON ({exc})") from exc
        files = [p / f for f in sorted(set(wm.values()))]
    else:
        files = sorted(p.glob("*.safetensors"))
    if not files:
        return None, []
    return sum(safetensors_params(f) for f in files), [f.name for f in files]


def _card_base(folder: Path) -> tuple[str | None, str | None]:
    readme = folder / "README.md"
    if not readme.is_file():
        return None, None
    m = _FM.match(readme.read_text(encoding="utf-8", errors="replace"))
    if not m:
        return None, None
    import yaml  # a dependency of huggingface_hub, which scer-hf requires

    try:
        meta = yaml.safe_load(m.group(1))
    except yaml.YAMLError:
        return None, None
    if not isinstance(meta, dict):
        return None, None
    base, rel = meta.get("base_model"), meta.get("base_model_relation")
    base = base[0] if isinstance(base, list) and base else base
    return (base.strip() if isinstance(base, str) and base.strip() else None), (rel if isinstance(rel, str) else None)


def folder_node(folder: str | os.PathLike[str]) -> Node:
    """The lineage node of a local model folder (raises :class:`RatingError` on an unreadable folder)."""
    p = Path(folder).resolve()
    try:
        config = json.loads((p / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RatingError(f"{p / 'config.json'} is not readable JSON ({exc}); is {p} a saved model folder?") from exc
    if not isinstance(config, dict):
        raise RatingError(f"{p / 'config.json'} is not a JSON object; is {p} a saved model folder?")
    n, files = folder_params(p)
    base, rel = _card_base(p)
    how = "README.md card metadata base_model"
    if base is None:
        name = config.get("_name_or_path")
        if isinstance(name, str) and _HUB_ID.match(name) and "/" in name and not os.path.isabs(name):
            base, rel, how = name, "finetune", "config.json _name_or_path (the checkpoint it was loaded from)"
    arch = config.get("model_type")
    src = [f"local folder {p}"]
    if base:
        src.append(f"base model {base} from {how}")
    if n is not None:
        src.append(f"{n:,} parameters counted from the safetensors header(s) of {', '.join(files)}")
    return Node(model_id=str(p), base_model=base, relation=(rel or "finetune") if base else "pretrained",
                architecture=arch.lower() if isinstance(arch, str) else None,
                params_b=n / 1e9 if n is not None else None, source="; ".join(src),
                notes=f"architectures: {config.get('architectures')}", origin="local folder")
