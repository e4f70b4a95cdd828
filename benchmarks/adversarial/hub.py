"""``rate(model_id)`` against hostile fake-Hub answers on 127.0.0.1 (the ``model_info`` request)."""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any, Iterator

from common import TOKEN, Case, Outcome, basic, no_nan
from hostileserver import Answer, HostileServer

MAX_PARAMS = 1e14
MAX_G = 1e12


@contextlib.contextmanager
def pointed_at(url: str) -> Iterator[None]:
    """huggingface_hub (and scer-hf's lookups) talk to *url*, with HF_TOKEN set to the secret."""
    from huggingface_hub import constants

    saved_env = {k: os.environ.get(k) for k in ("HF_ENDPOINT", "HF_TOKEN", "HF_HUB_OFFLINE", "HF_HUB_DISABLE_XET")}
    saved = (constants.ENDPOINT, constants.HUGGINGFACE_CO_URL_TEMPLATE)
    os.environ.update(HF_ENDPOINT=url, HF_TOKEN=TOKEN, HF_HUB_DISABLE_XET="1")
    os.environ.pop("HF_HUB_OFFLINE", None)
    constants.ENDPOINT = url
    constants.HUGGINGFACE_CO_URL_TEMPLATE = url + "/{repo_id}/resolve/{revision}/{filename}"
    try:
        yield
    finally:
        constants.ENDPOINT, constants.HUGGINGFACE_CO_URL_TEMPLATE = saved
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def info(card: Any = None, safetensors: Any = None, config: Any = None, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"id": "org/model", "modelId": "org/model", "sha": "0" * 40, "private": False, **extra}
    if card is not None:
        d["cardData"] = card
    if safetensors is not None:
        d["safetensors"] = safetensors
    if config is not None:
        d["config"] = config
    return d


def judged(o: Outcome, other: HostileServer | None = None) -> str | None:
    why = basic(o, max_s=6.0)
    if why:
        return why
    if o.kind != "ok":
        return None if o.kind == "typed" else "failed"
    d = o.value.to_dict()
    why = no_nan(d)
    if why:
        return why
    if TOKEN in json.dumps(d, default=str):
        return "the token is in the rating"
    t = d.get("training") or {}
    if t.get("method") == "hub card":
        v = t.get("value")
        if not isinstance(v, (int, float)) or not 0 <= v <= MAX_G:
            return f"card emissions {v!r} accepted as the training figure"
    node = ((d.get("lineage") or {}).get("node") or {})
    pb = node.get("params_b")
    if pb is not None and not (isinstance(pb, (int, float)) and 0 < pb * 1e9 <= MAX_PARAMS):
        return f"parameter count {pb!r} billion accepted"
    if other is not None and other.log:
        return "followed a redirect to another origin" + (" and sent the token there" if other.secret_seen(TOKEN)
                                                           else "")
    return None


def cases() -> list[Case]:
    from scer_hf import rate

    out: list[Case] = []

    def hub_case(name: str, answer: Any, *, redirect_other: bool = False, check: Any = None) -> None:
        def run() -> Any:
            with HostileServer() as srv, HostileServer() as other:
                other.answer = Answer.json(info(card={"co2_eq_emissions": 5.0},
                                                safetensors={"parameters": {"F32": 7 * 10**9}, "total": 7 * 10**9}))
                srv.answer = (Answer.redirect(other.url + "/api/models/org/model") if redirect_other
                              else answer)
                run.other = other  # type: ignore[attr-defined]
                with pointed_at(srv.url):
                    return rate("org/model")

        def judge(o: Outcome) -> str | None:
            return (check or judged)(o, getattr(run, "other", None) if redirect_other else None)

        out.append(Case(f"hub:{name}", run, judge))

    st = lambda total: info(safetensors={"parameters": {"F32": 1}, "total": total})  # noqa: E731
    for label, total in [("seven-billion", "seven billion"), ("negative", -5), ("1e30", 1e30), ("float", 1.5),
                         ("bool", True), ("list", [1]), ("dict", {"a": 1}), ("huge-int", 10**400),
                         ("zero", 0)]:
        hub_case(f"safetensors.total={label}", Answer.raw(json.dumps(st(total)).encode() if label != "huge-int"
                                                          else b'{"id":"org/model","safetensors":{"total":1' +
                                                          b"0" * 400 + b"}}"))
    hub_case("safetensors-not-object", Answer.json(info(safetensors="lots")))
    co2 = lambda v: info(card={"co2_eq_emissions": v})  # noqa: E731
    for label, v in [("-100", -100), ("-3.5", -3.5), ("1e308", 1e308), ("string", "12 kg"),
                     ("emissions-negative", {"emissions": -1}), ("emissions-string", {"emissions": "12"}),
                     ("emissions-1e20", {"emissions": 1e20}), ("list", [1, 2])]:
        hub_case(f"co2_eq_emissions={label}", Answer.json(co2(v)))
    for label, raw in [("NaN", b"NaN"), ("Infinity", b"Infinity"), ("1e400", b"1e400"),
                       ("emissions-NaN", b'{"emissions": NaN}')]:
        hub_case(f"co2_eq_emissions={label}", Answer.raw(b'{"id":"org/model","cardData":{"co2_eq_emissions":' + raw
                                                         + b"}}"))
    hub_case("card-not-object", Answer.json(info(card=[1, 2, 3])))
    hub_case("base_model-1MB", Answer.json(info(card={"base_model": "a/" + "b" * (1 << 20)})))
    hub_case("base_model-dict", Answer.json(info(card={"base_model": {"x": 1}})))
    hub_case("config-not-object", Answer.json(info(config="gpt2")))
    hub_case("model_type-1MB", Answer.json(info(config={"model_type": "x" * (1 << 20)},
                                               safetensors={"parameters": {"F32": 1000}, "total": 1000})))
    hub_case("body-200MB", Answer(200, b'{"id":"org/model","x":"' + b"a" * 100, {"Content-Type": "application/json"},
                                  stream_mb=200))
    hub_case("body-deep", Answer.raw(b'{"id":"org/model","cardData":' + b"[" * 100_000 + b"]" * 100_000 + b"}"))
    hub_case("body-slow-1-byte-per-s", Answer.raw(json.dumps(info(card={"co2_eq_emissions": 5.0})).encode(),
                                                  drip_s=1.0))
    hub_case("body-not-json", Answer.raw(b"<html>" + TOKEN.encode() + b"</html>"))
    hub_case("body-bad-utf8", Answer.raw(b'{"id": "\xff\xfe"}'))
    hub_case("gzip-bomb", Answer.gzip_bomb(512))
    hub_case("hang", Answer(hang=True))
    hub_case("redirect-other-origin", None, redirect_other=True)
    hub_case("redirect-loop", Answer.redirect("/api/models/org/model"))
    hub_case("http-500-echoing-token", Answer.json({"error": f"bad token {TOKEN}"}, status=500))
    hub_case("http-401", Answer.json({"error": "unauthorized"}, status=401))

    def valid(o: Outcome) -> str | None:
        why = judged(o)
        if why:
            return why
        if o.kind != "ok" or o.value.training.method != "hub card" or o.value.training.value != 1234.5:
            return "a valid card's emissions were not used"
        return None

    hub_case("control-valid", Answer.json(info(card={"co2_eq_emissions": {"emissions": 1234.5}},
                                               safetensors={"parameters": {"F32": 124_000_000},
                                                            "total": 124_000_000})), check=lambda o, _=None: valid(o))
    return out

