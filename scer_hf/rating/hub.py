"""Optional, offline-tolerant lookup of a model card's ``co2_eq_emissions`` on the Hub.

Never raises and never waits longer than ``timeout_s`` (+0.5 s): the request runs in a
daemon thread that is abandoned at the deadline. Skipped when ``HF_HUB_OFFLINE`` is set.
"""

from __future__ import annotations

import os
import threading
from typing import Any

__all__ = ["card_emissions", "hub_offline", "DEFAULT_TIMEOUT_S"]

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


def card_emissions(model_id: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
    """``{"checked": bool, "co2e_g": float?, ..., "error": str?}`` for *model_id*'s Hub card."""
    if hub_offline():
        return {"checked": False, "error": "HF_HUB_OFFLINE is set"}
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            from huggingface_hub import HfApi

            # a fresh HfApi reads the current endpoint (the module-level one keeps the endpoint of its import)
            info = HfApi().model_info(model_id, timeout=timeout_s)
            card = getattr(info, "card_data", None)
            co2 = card.get("co2_eq_emissions") if hasattr(card, "get") else getattr(card, "co2_eq_emissions", None)
            box["co2"] = _parse(co2)
        # Any failure of an optional network lookup (no network, DNS, HTTP 401/404, a changed
        # response shape) must not break rating; the error is reported in Rating.hub.
        except Exception as exc:  # noqa: BLE001
            box["error"] = f"{type(exc).__name__}: {exc}"[:300]

    t = threading.Thread(target=work, name="scer-hub-card", daemon=True)
    t.start()
    t.join(timeout_s + 0.5)
    if t.is_alive():
        return {"checked": False, "error": f"Hub did not answer within {timeout_s} s"}
    if "error" in box:
        return {"checked": False, "error": box["error"]}
    return {"checked": True, **(box.get("co2") or {})}
