"""Who is being trained: the ``model`` block of a training report.

- ``id``: the model this run produces: ``hub_model_id`` when set, else the name of the output folder (a fine-tune
  of ``gpt2`` written to ``out/gpt2-poems`` is ``gpt2-poems``, not ``gpt2``); ``id_basis`` says which.
- ``base_model``: the checkpoint training started from: a PEFT adapter's ``base_model_name_or_path``, else the
  config's ``_name_or_path`` (what ``from_pretrained`` records; empty for a model built from a config).
  ``base_model_local`` is true when that was a folder on this machine (the card then does not name it: the Hub's
  ``base_model`` is a Hub id).
- ``parameters`` (the full model, sharded or not, :mod:`scer_hf.hf.params`), ``parameters_trainable`` and, for a
  PEFT adapter, ``adapter``: its method (``LORA``, ``IA3``, ...), its own parameter count (the tensors PEFT saves in
  ``adapter_model.safetensors``), name and main settings.
- ``training_type``: given, else ``fine-tuning`` when there is a base model, else ``pre-training``.
- ``library_name``: ``peft`` for an adapter, else ``transformers`` (the card's field, written only where missing).
"""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Any, Literal, TypedDict

from .params import full_parameter_count

__all__ = ["model_identity", "adapter_info", "base_model_of", "ModelInfo", "AdapterInfo"]

Setting = str | int | float | bool | list["Setting"] | None  # a JSON-safe adapter setting (:func:`_plain`)


class AdapterInfo(TypedDict, total=False):
    """A PEFT adapter in the ``model`` block: method, name, own parameter count, library and main settings."""

    method: Setting
    name: str
    parameters: int | None
    library: str
    library_version: str
    r: Setting
    lora_alpha: Setting
    lora_dropout: Setting
    target_modules: Setting
    task_type: Setting
    bias: Setting
    use_dora: Setting


class ModelInfo(TypedDict, total=False):
    """A training report's ``model`` block (see the module docstring; ``task`` is the pipeline task)."""

    id: str | None
    id_basis: str | None
    parameters: int | None
    parameters_trainable: int | None
    task: str | None
    training_type: str
    training_type_basis: str
    library_name: str
    base_model: str
    base_model_basis: str | None
    base_model_local: bool
    adapter: AdapterInfo

_SettingName = Literal["r", "lora_alpha", "lora_dropout", "target_modules", "task_type", "bias", "use_dora"]
_ADAPTER_SETTINGS: tuple[_SettingName, ...] = ("r", "lora_alpha", "lora_dropout", "target_modules", "task_type",
                                               "bias", "use_dora")


def _plain(v: object) -> Setting:
    """A JSON-safe copy of an adapter setting (sets and enums become lists and strings)."""
    if isinstance(v, enum.Enum):
        return _plain(v.value)
    if isinstance(v, (set, frozenset, tuple, list)):
        if isinstance(v, (set, frozenset)):
            return [*sorted(str(x) for x in v)]
        return [_plain(x) for x in v]
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(getattr(v, "value", v))


def _peft_config(model: Any) -> tuple[str, Any] | None:
    """(adapter name, its PEFT config) of a ``PeftModel``; None for any other model."""
    configs = getattr(model, "peft_config", None)
    if not isinstance(configs, dict) or not configs:
        return None
    name = getattr(model, "active_adapter", None)
    name = name if isinstance(name, str) and name in configs else next(iter(configs))
    return name, configs[name]


def _adapter_parameters(model: Any, name: str) -> int | None:
    try:
        from peft import get_peft_model_state_dict

        return int(sum(t.numel() for t in get_peft_model_state_dict(model, adapter_name=name).values()))
    except Exception:  # noqa: BLE001 - PEFT's API moves; the count is optional
        return None


def adapter_info(model: Any) -> AdapterInfo | None:
    """Method, parameter count, name and settings of a PEFT model's active adapter; None for a plain model."""
    found = _peft_config(model)
    if found is None:
        return None
    name, cfg = found
    out = AdapterInfo(method=_plain(getattr(cfg, "peft_type", None)), name=name,
                      parameters=_adapter_parameters(model, name), library="peft")
    try:
        import peft

        out.update({"library_version": peft.__version__})
    except ImportError:  # pragma: no cover - a PeftModel without peft importable
        pass
    for k in _ADAPTER_SETTINGS:
        if getattr(cfg, k, None) is not None:
            out[k] = _plain(getattr(cfg, k))
    return out


def base_model_of(model: Any) -> tuple[str | None, str | None]:
    """(the starting checkpoint, where that was read); (None, None) for a model built from a config."""
    found = _peft_config(model)
    if found is not None:
        base = getattr(found[1], "base_model_name_or_path", None)
        if isinstance(base, str) and base.strip():
            return base.strip(), "PEFT adapter config base_model_name_or_path"
    name = getattr(getattr(model, "config", None), "_name_or_path", None)
    if isinstance(name, str) and name.strip():
        return name.strip(), "config._name_or_path (the checkpoint from_pretrained loaded)"
    return None, None


def _own_id(hub_model_id: str | None, output_dir: str | os.PathLike[str] | None) -> tuple[str | None, str | None]:
    if isinstance(hub_model_id, str) and hub_model_id.strip():
        return hub_model_id.strip(), "hub_model_id"
    if output_dir:
        name = Path(os.path.abspath(output_dir)).name
        if name:
            return name, "the output folder's name (set hub_model_id to name the Hub repo)"
    return None, None


def model_identity(model: Any, *, hub_model_id: str | None = None,
                   output_dir: str | os.PathLike[str] | None = None, training_type: str | None = None,
                   params_at_init: int | None = None) -> ModelInfo:
    """The report's ``model`` block for *model* being trained (see the module docstring)."""
    own, basis = _own_id(hub_model_id, output_dir)
    base, base_basis = base_model_of(model)
    counted = full_parameter_count(model)
    adapter = adapter_info(model)
    info = ModelInfo(
        id=own or base, id_basis=basis or ("the starting checkpoint (no output folder given)" if base else None),
        parameters=max(counted or 0, params_at_init or 0) or None,
        parameters_trainable=full_parameter_count(model, trainable_only=True),
        training_type=training_type or ("fine-tuning" if base or adapter else "pre-training"),
        training_type_basis="given" if training_type else "inferred from the starting checkpoint "
                                                          "(config._name_or_path or the PEFT adapter's base)",
        library_name="peft" if adapter else "transformers",
    )
    if base:
        info.update({"base_model": base, "base_model_basis": base_basis, "base_model_local": os.path.isdir(base)})
    if adapter:
        info.update({"adapter": adapter})
    return info
