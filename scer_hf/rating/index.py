"""The parameter index: what is known about the text models people use, every row sourced.

``scer_hf/data/model_parameters.csv``: one row per model with ``params_b`` (total parameters, billions),
``active_params_b`` (mixture-of-experts models, where published), ``architecture`` (config ``model_type``),
``pipeline_tag``, ``base_model`` and ``relation`` (the Hub's lineage tag), ``source`` and ``notes`` (the evidence label:
``[primary]``, ``[hub-metadata]``, ``[secondary]``, ``[nominal]`` = read from the model id). SOURCES.md says how the
rows were made. Used offline by the modelled ranges, the architecture twins and the task a parameter count implies;
online, the Hub's safetensors count of the rated model wins (``lineage.hub_node``).
"""

from __future__ import annotations

import collections
import functools
from dataclasses import dataclass
from typing import Any

from . import aliases as _ali
from . import reference as _ref

__all__ = ["PARAMS_FILE", "MOE_ARCHITECTURES", "Entry", "table", "lookup", "architecture_task"]

PARAMS_FILE = "model_parameters.csv"
# config model_types of mixture-of-experts models: their energy per token follows the active parameters
MOE_ARCHITECTURES = frozenset({"mixtral", "deepseek_v2", "deepseek_v3", "qwen2_moe", "qwen3_moe", "olmoe", "dbrx",
                               "jamba", "phimoe", "granitemoe", "llama4", "switch_transformers", "nllb_moe",
                               "gpt_oss"})


@dataclass(frozen=True)
class Entry:
    """One indexed model."""

    model_id: str
    params_b: float
    active_params_b: float | None
    architecture: str | None
    pipeline_tag: str | None
    base_model: str | None
    relation: str | None
    source: str
    notes: str
    ref: str  # "model_parameters.csv#12"

    @property
    def effective_b(self) -> float:
        """The parameters one token goes through: active for a mixture of experts, else total."""
        return self.active_params_b or self.params_b

    @property
    def nominal(self) -> bool:
        return "[nominal]" in self.notes

    @property
    def moe_without_active(self) -> bool:
        return self.architecture in MOE_ARCHITECTURES and self.active_params_b is None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("model_id", "params_b", "active_params_b", "architecture",
                                              "pipeline_tag", "base_model", "relation", "source", "notes", "ref")}


def _text(r: dict[str, str], key: str) -> str | None:
    v = (r.get(key) or "").strip()
    return v or None


@functools.lru_cache(maxsize=1)
def table() -> dict[str, Entry]:
    """Canonical lower-case model id -> :class:`Entry`."""
    rows = _ref._read_csv(str(_ref.data_dir() / PARAMS_FILE))[1]
    entries = (_entry(r, i) for i, r in enumerate(rows, start=1))
    return {_ali.canonical(e.model_id).lower(): e for e in entries if e is not None}


def _entry(r: dict[str, str], i: int) -> Entry | None:
    """Row *i* of the parameter index; None for a row without a model id or a parameter count."""
    mid, params = _text(r, "model_id"), _ref._num(r.get("params_b"))
    if not mid or not params:
        return None
    arch = _text(r, "architecture")
    return Entry(model_id=mid, params_b=params, active_params_b=_ref._num(r.get("active_params_b")),
                 architecture=arch.lower() if arch else None, pipeline_tag=_text(r, "pipeline_tag"),
                 base_model=_text(r, "base_model"), relation=_text(r, "relation"), source=_text(r, "source") or "",
                 notes=_text(r, "notes") or "", ref=f"{PARAMS_FILE}#{i}")


def lookup(model_id: str) -> Entry | None:
    """The index entry of *model_id* (any of its names), or None."""
    return table().get(_ali.canonical(model_id).lower())


@functools.cache
def architecture_task(architecture: str | None) -> tuple[str, int, int] | None:
    """``(task, n, of)``: the commonest pipeline tag among the indexed models of *architecture* (n of them)."""
    if not architecture:
        return None
    tags = collections.Counter(e.pipeline_tag for e in table().values()
                               if e.architecture == architecture.lower() and e.pipeline_tag)
    if not tags:
        return None
    (task, n), = tags.most_common(1)
    return task, n, sum(tags.values())
