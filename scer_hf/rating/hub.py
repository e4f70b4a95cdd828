"""Optional, offline-tolerant Hub lookup of a model: one ``model_info`` request (card data, safetensors, config).

The card's ``co2_eq_emissions`` (:func:`card_emissions`) and its lineage (``lineage.hub_node``) are both read from
that one answer. Never raises and never waits longer than ``timeout_s`` (+0.5 s); skipped when ``HF_HUB_OFFLINE``
is set.

The request goes through huggingface_hub's own HTTP session (its endpoint, token, proxies and certificates) with
the limits of :mod:`scer_hf.core.net`: at most :data:`MAX_BODY_BYTES` (inflated), a total deadline, redirects to
the same origin only (the token never goes to another host). From the answer only the fields scer-hf uses are
kept (:class:`HubModel`), each checked: the safetensors parameter count and the card's emissions must pass
:mod:`scer_hf.core.bounds`, strings are length-capped. A field that fails is dropped, and the reason is recorded
(``refused``); an error never quotes the response.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, TypedDict

from .._read import loads_json
from ..core.bounds import EMISSIONS_G, PARAMETERS, number, within
from ..core.net import REDIRECTS, RefusedAnswer, read_body, same_origin
from ..errors import InputFileError
from .hubrecords import CO2_TEXTS, HubCard

__all__ = ["card_emissions", "hub_card", "HubStatus", "HubLookup", "model_info", "card_field", "file_names",
           "safetensors_total", "hub_offline", "HubModel", "DEFAULT_TIMEOUT_S", "MAX_BODY_BYTES"]

DEFAULT_TIMEOUT_S = 3.0
MAX_BODY_BYTES = 8 << 20  # a model_info answer with card data is tens of KB; big eval tables ~1 MB
_MAX_STR = 200


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class _SafeTensors:
    total: int | None


@dataclass(frozen=True)
class HubModel:
    """The checked fields of one ``model_info`` answer (the attribute names of huggingface_hub's ``ModelInfo``)."""

    card_data: dict[str, Any] = field(default_factory=dict)  # base_model, base_model_relation, co2_eq_emissions
    safetensors: _SafeTensors | None = None
    config: dict[str, Any] = field(default_factory=dict)     # model_type, quantization_config (presence only)
    tags: tuple[str, ...] = ()  # the repo's tags (base_model:quantized:..., gguf, awq ...), at most _MAX_LIST
    siblings: tuple[_Sibling, ...] = ()  # the repo's file names (a .gguf file marks a quantized copy)
    refused: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Sibling:
    rfilename: str


_MAX_LIST = 512  # tags or files kept from one answer


def _text(x: Any) -> str | None:
    return x.strip() if isinstance(x, str) and 0 < len(x.strip()) <= _MAX_STR else None


def _obj(data: dict[str, Any], key: str) -> dict[str, Any]:
    v = data.get(key)
    return v if isinstance(v, dict) else {}


def _items(data: dict[str, Any], key: str) -> list[Any]:
    v = data.get(key)
    return v[:_MAX_LIST] if isinstance(v, list) else []


def _card_fields(card: dict[str, Any]) -> dict[str, Any]:
    base = card.get("base_model")
    bases = [b for b in (base if isinstance(base, list) else [base])[:16] if _text(b)]
    kept: dict[str, Any] = {"base_model": bases or None, "base_model_relation": _text(card.get("base_model_relation"))}
    if card.get("co2_eq_emissions") is not None:
        kept["co2_eq_emissions"] = card["co2_eq_emissions"]  # checked by _parse, which records a refusal
    return kept


def _config_fields(cfg: dict[str, Any]) -> dict[str, Any]:
    mt = _text(cfg.get("model_type"))
    config: dict[str, Any] = {"model_type": mt} if mt else {}
    quant = cfg.get("quantization_config")
    if isinstance(quant, dict):
        config["quantization_config"] = {"quant_method": _text(quant.get("quant_method"))}
    return config


def _parameters(total: Any, refused: list[str]) -> _SafeTensors | None:
    if total is None:
        return None
    if not within(PARAMETERS, total):
        refused.append(f"safetensors.total refused: not a parameter count ({PARAMETERS.describe()})")
        return None
    return _SafeTensors(int(total))


def _checked(data: Any) -> HubModel:
    """Keep the fields scer-hf reads, each only when it passes its type, length and plausibility bound."""
    if not isinstance(data, dict):
        raise RefusedAnswer("the answer is not a JSON object")
    refused: list[str] = []
    tags = tuple(t for t in (_text(x) for x in _items(data, "tags")) if t)
    return HubModel(card_data=_card_fields(_obj(data, "cardData")),
                    safetensors=_parameters(_obj(data, "safetensors").get("total"), refused),
                    config=_config_fields(_obj(data, "config")), tags=tags,
                    siblings=_siblings(data), refused=tuple(refused))


def _siblings(data: dict[str, Any]) -> tuple[_Sibling, ...]:
    """The repo's files of a ``model_info`` answer whose names are short text."""
    names = (_text(x.get("rfilename")) if isinstance(x, dict) else None for x in _items(data, "siblings"))
    return tuple(_Sibling(f) for f in names if f)


#: what a user can do about an HTTP error of the Hub
_HTTP_HINTS = {401: " (not authorized: set HF_TOKEN for a gated or private model)", 404: " (no such model on the Hub)"}


def _same_host_redirect(r: Any) -> str | None:
    """Where a redirect answer points (None for any other answer); refused when it points to another host."""
    if r.status_code not in REDIRECTS or not r.headers.get("Location"):
        return None
    target = urllib.parse.urljoin(str(r.url), r.headers["Location"])
    if not same_origin(str(r.url), target):
        raise RefusedAnswer(f"HTTP {r.status_code} redirect to another host, not followed")
    return target


def _fetch(model_id: str, timeout_s: float) -> HubModel:
    from huggingface_hub import HfApi
    from huggingface_hub.utils import build_hf_headers, get_session

    deadline = time.monotonic() + timeout_s
    # a fresh HfApi reads the current endpoint (the module-level one keeps the endpoint of its import)
    url = f"{HfApi().endpoint.rstrip('/')}/api/models/{urllib.parse.quote(model_id, safe='/')}"
    params: Any = [("expand", "cardData"), ("expand", "safetensors"), ("expand", "config"), ("expand", "tags"),
                   ("expand", "siblings")]
    headers = {**build_hf_headers(), "Accept-Encoding": "gzip"}
    for _ in range(4):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        with get_session().stream("GET", url, params=params, headers=headers, timeout=left,
                                  follow_redirects=False) as r:
            target = _same_host_redirect(r)
            if target is not None:
                url, params = target, None
                continue
            if r.status_code >= 400:
                raise RefusedAnswer(f"HTTP {r.status_code}{_HTTP_HINTS.get(r.status_code, '')}")
            body = read_body(r.iter_raw(), encoding=r.headers.get("Content-Encoding"), max_bytes=MAX_BODY_BYTES,
                             deadline=deadline)
        try:
            return _checked(loads_json(body, where="the Hub's answer", what="model_info answer", finite=False))
        except InputFileError as exc:
            raise RefusedAnswer(str(exc)) from None
    raise RefusedAnswer("too many redirects, or no answer in time")


class HubStatus(TypedDict, total=False):
    """How a :func:`model_info` request went: ``checked`` (the Hub answered), else ``error`` (why not); ``refused``:
    the fields of the answer dropped, and why."""

    checked: bool
    error: str
    refused: list[str]


#: a :func:`model_info` answer: the checked fields (or None) and how the request went
HubLookup = tuple[Any, HubStatus]


def model_info(model_id: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[HubModel | None, HubStatus]:
    """``(HubModel or None, status)``: one Hub request for the card data, safetensors and config of *model_id*.

    ``status`` is ``{"checked": True}`` (plus ``refused``: fields dropped and why) or ``{"checked": False,
    "error": ...}``. Never raises; returns within ``timeout_s`` (+0.5 s): the request runs in a daemon thread that
    keeps the same deadline itself.
    """
    if hub_offline():
        return None, {"checked": False, "error": "HF_HUB_OFFLINE is set"}
    box = _Answer()

    def work() -> None:
        try:
            box.info = _fetch(model_id, timeout_s)
        except RefusedAnswer as exc:
            box.error = f"the Hub's answer was not used: {exc}"
        # Any other failure of an optional network lookup (no network, DNS, TLS, a changed response shape) must
        # not break rating; it is reported in the rating by type only (a message may quote the request).
        except Exception as exc:  # noqa: BLE001
            box.error = f"Hub unreachable ({type(exc).__name__})"

    t = threading.Thread(target=work, name="scer-hub-info", daemon=True)
    t.start()
    t.join(timeout_s + 0.5)
    if t.is_alive():
        return None, {"checked": False, "error": f"Hub did not answer within {timeout_s} s"}
    if box.error is not None or box.info is None:
        return None, {"checked": False, "error": (box.error or "no answer")[:300]}
    status: HubStatus = {"checked": True}
    if box.info.refused:
        status["refused"] = list(box.info.refused)
    return box.info, status


@dataclass
class _Answer:
    """What the request thread of :func:`model_info` leaves: the checked answer, or why there is none."""

    info: HubModel | None = None
    error: str | None = None


def card_field(info: Any, key: str) -> Any:
    """A key of the card metadata of a :class:`HubModel` (or a huggingface_hub ``ModelInfo``); None when absent."""
    card = getattr(info, "card_data", None)
    get = getattr(card, "get", None)
    return get(key) if callable(get) else getattr(card, key, None)


def safetensors_total(info: Any) -> Any:
    """The parameter total of the safetensors metadata of a :class:`HubModel` (or ``ModelInfo``); None when absent."""
    st = getattr(info, "safetensors", None)
    return getattr(st, "total", None) if st is not None else None


def file_names(info: Any) -> list[str]:
    """The file names of the repo of a :class:`HubModel` (or ``ModelInfo``)."""
    return [getattr(f, "rfilename", "") or "" for f in (getattr(info, "siblings", None) or [])]


def _parse(co2: Any) -> dict[str, Any] | None:
    """:func:`_co2_card`'s figure as its JSON, without ``checked``: ``{"co2e_g", ...texts}`` or ``{"refused"}``."""
    card = _co2_card(co2)
    return None if card is None else {k: v for k, v in card.to_dict().items() if k != "checked"}


def _co2_card(co2: Any) -> HubCard | None:
    """``co2_eq_emissions`` is a number (grams) or a mapping with ``emissions`` (grams); refused (and why) when
    the figure is outside :data:`scer_hf.core.bounds.EMISSIONS_G` (negative, NaN, infinite, absurd) or not a number.
    """
    g = co2.get("emissions") if isinstance(co2, dict) else co2
    if g is None:
        return None
    if not within(EMISSIONS_G, g):
        return HubCard(checked=True, refused=(_implausible_emissions(g),))
    return HubCard(True, float(g), *(_co2_texts(co2) if isinstance(co2, dict) else (None, None, None, None)))


def _implausible_emissions(g: Any) -> str:
    """Why a card's ``co2_eq_emissions`` figure is refused (outside :data:`EMISSIONS_G`, or not a number)."""
    f = number(g)
    shown = f"{f:g} g" if f is not None else f"a {type(g).__name__}, not a number of grams"
    return (f"co2_eq_emissions ({shown}) is outside the plausible range {EMISSIONS_G.describe()}; "
            "the card's figure is not used")


def _co2_texts(co2: dict[str, Any]) -> tuple[str | None, str | None, str | None, str | None]:
    """The descriptive fields of a ``co2_eq_emissions`` mapping (:data:`CO2_TEXTS`: source, training type,
    location, hardware), each when it is text (or a number, written as text)."""
    source, training_type, location, hardware = (_text(_as_text(co2.get(k))) for k in CO2_TEXTS)
    return source, training_type, location, hardware


def _as_text(v: Any) -> Any:
    """A finite number as its text (a location or hardware given as a number); anything else as it is."""
    if isinstance(v, (int, float)) and not isinstance(v, bool) and number(v) is not None:
        return str(v)
    return v


def card_emissions(model_id: str, timeout_s: float = DEFAULT_TIMEOUT_S,
                   lookup: HubLookup | None = None) -> dict[str, Any]:
    """``{"checked": bool, "co2e_g": float?, ..., "refused": [str]?, "error": str?}`` for *model_id*'s Hub card
    (:func:`hub_card`'s JSON).

    *lookup*: the result of :func:`model_info` already made for this model (no second request)."""
    return hub_card(model_id, timeout_s, lookup).to_dict()


def hub_card(model_id: str, timeout_s: float = DEFAULT_TIMEOUT_S,
             lookup: HubLookup | None = None) -> HubCard:
    """What *model_id*'s Hub card says about emissions (:func:`card_emissions`), typed."""
    info, status = lookup if lookup is not None else model_info(model_id, timeout_s)
    if not status.get("checked"):
        return HubCard.from_dict(dict(status))
    try:
        co2 = _co2_card(card_field(info, "co2_eq_emissions"))
    except Exception as exc:  # noqa: BLE001 - a changed response shape must not break rating
        return HubCard(checked=False, error=f"co2_eq_emissions unreadable ({type(exc).__name__})")
    refused = _texts_of(status.get("refused")) + (co2.refused if co2 else ())
    return dataclasses.replace(co2 or HubCard(checked=True), refused=refused)


def _texts_of(items: object) -> tuple[str, ...]:
    return tuple(str(x) for x in items) if isinstance(items, (list, tuple)) else ()
