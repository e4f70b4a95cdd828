"""Parameter counts of the model being trained, the full model's even when it is sharded.

A sharded model holds only part of its parameters on each rank, so ``sum(p.numel())`` over the model a callback is
given undercounts it by the world size (FSDP1) or reads 0 (DeepSpeed ZeRO-3). The count here comes from the
model's own sharding metadata:

- DeepSpeed ZeRO-3: each parameter's ``ds_numel`` (its full size; ``numel()`` is 0 on partitioned parameters);
- FSDP1 (``FullyShardedDataParallel``): each ``FlatParameter``'s ``_numels`` (the sizes of the original parameters
  it holds, unsharded and unpadded); with ``use_orig_params=True`` the original parameters it lists
  (``_params``) are not counted again;
- FSDP2 (``fully_shard``): parameters are ``DTensor``s, whose ``numel()`` is already the global size;
- anything else: ``numel()``.

Parameters shared between modules (tied embeddings) are counted once.
"""

from __future__ import annotations

from typing import Any

__all__ = ["full_parameter_count"]


def _flat_params(model: Any) -> list[Any]:
    out: dict[int, Any] = {}
    for mod in model.modules():
        try:
            fp = getattr(mod, "_flat_param", None)  # FSDP1: FullyShardedDataParallel._flat_param
        except Exception:  # noqa: BLE001 - a property of a module in an odd state
            fp = None
        if fp is not None and hasattr(fp, "_numels"):
            out[id(fp)] = fp
    return list(out.values())


def full_parameter_count(model: Any, *, trainable_only: bool = False) -> int | None:
    """The full model's parameter count (see the module docstring); None when *model* has no parameters()."""
    try:
        params = list(model.parameters())
    except (AttributeError, TypeError, RuntimeError):
        return None
    flats = _flat_params(model) if hasattr(model, "modules") else []
    counted: set[int] = set()
    total = 0
    for fp in flats:
        if trainable_only and not fp.requires_grad:
            continue
        total += int(sum(fp._numels))
        counted.add(id(fp))
        counted.update(id(p) for p in (getattr(fp, "_params", None) or ()))
        counted.update(id(p) for p in (getattr(fp, "_shared_params", None) or ()))
    for p in params:
        if id(p) in counted or (trainable_only and not p.requires_grad):
            continue
        counted.add(id(p))
        n = getattr(p, "ds_numel", None)  # DeepSpeed ZeRO-3
        total += int(n) if isinstance(n, int) and n > 0 else int(p.numel())
    return total
