"""Optional, offline-tolerant Hub lookup of a model: one ``model_info`` request (card data, safetensors, config).

The card's ``co2_eq_emissions`` (:func:`card_emissions`) and its lineage (``lineage.hub_node``) are both read from
that one answer. Never raises and never waits longer than ``timeout_s`` (+0.5 s): the request runs in a daemon
thread that is abandoned at the deadline. Skipped when ``HF_HUB_OFFLINE`` is set.
"""

from __future__ import annotations

import os
import threading
from typing import Any

__all__ = ["card_emissions", "model_info", "card_field", "hub_offline", "DEFAULT_TIMEOUT_S"]

DEFAULT_TIMEOUT_S = 3.0


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _parse(co2: Any) -> dict[str, Any] | None:
    """``co2_eq_emissions`` is a number (grams) or a mapping with ``emissions`` (grams)."""
    if isinstance(co2, (int, float)) and not isinstance(co2, bool):
        return {"co2e_g": float(co2)}
    if isinstance(co2, dict) and isinstance(co2.get("emissions"), (int, float)):
        out = {"co2e_g": float(co2["emissions"])}
        for k in ("source", "training_type", "geographical_location", "hardware_used"):
            if co2.get(k) is not None:
                out[k] = str(co2[k])
        return out
    return None


def model_info(model_id: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[Any, dict[str, Any]]:
    """``(ModelInfo or None, status)``: one Hub request for the card data, safetensors and config of *model_id*.

    ``status`` is ``{"checked": True}`` or ``{"checked": False, "error": ...}``. Never raises; returns within
    ``timeout_s`` (+0.5 s): the request runs in a daemon thread that is abandoned at the deadline.
    """
    if hub_offline():
        return None, {"checked": False, "error": "HF_HUB_OFFLINE is set"}
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            from huggingface_hub import HfApi

            # a fresh HfApi reads the current endpoint (the module-level one keeps the endpoint of its import)
            expand = ["cardData", "safetensors", "config", "siblings"]  # siblings: is it an adapter repo?
            box["info"] = HfApi().model_info(model_id, timeout=timeout_s, expand=expand)
        # Any failure of an optional network lookup (no network, DNS, HTTP 401/404, a changed
        # response shape) must not break rating; the error is reported in the rating.
        except Exception as exc:  # noqa: BLE001
            box["error"] = f"{type(exc).__name__}: {exc}"[:300]

    t = threading.Thread(target=work, name="scer-hub-info", daemon=True)
    t.start()
    t.join(timeout_s + 0.5)
    if t.is_alive():
        return None, {"checked": False, "error": f"Hub did not answer within {timeout_s} s"}
    if "error" in box:
        return None, {"checked": False, "error": box["error"]}
    return box.get("info"), {"checked": True}


def card_field(info: Any, key: str) -> Any:
    """A key of the card metadata of a ModelInfo (None when absent)."""
    card = getattr(info, "card_data", None)
    return card.get(key) if hasattr(card, "get") else getattr(card, key, None)


def card_emissions(model_id: str, timeout_s: float = DEFAULT_TIMEOUT_S,
                   lookup: tuple[Any, dict[str, Any]] | None = None) -> dict[str, Any]:
    """``{"checked": bool, "co2e_g": float?, ..., "error": str?}`` for *model_id*'s Hub card.

    *lookup*: the result of :func:`model_info` already made for this model (no second request)."""
    info, status = lookup if lookup is not None else model_info(model_id, timeout_s)
    if not status.get("checked"):
        return dict(status)
    try:
        co2 = _parse(card_field(info, "co2_eq_emissions"))
    except Exception as exc:  # noqa: BLE001 - a changed response shape must not break rating
        return {"checked": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"checked": True, **(co2 or {})}
