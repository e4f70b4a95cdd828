"""Live grid intensity (``LiveIntensity``) against hostile Electricity Maps servers on 127.0.0.1."""

from __future__ import annotations

import json
import warnings
from typing import Any

from common import TOKEN, Case, Outcome, basic
from hostileserver import Answer, HostileServer

PATH = "/v3/carbon-intensity/latest"
MAX_G = 2000.0


def em(g: Any = 100.0, **extra: Any) -> dict[str, Any]:
    return {"zone": "NL", "carbonIntensity": g, "datetime": "2026-12-01T23:00:00.000Z", "emissionFactorType":
            "lifecycle", "isEstimated": True, "estimationMethod": "TIME_SLICER_AVERAGE", **extra}


class _Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


def _two_phases(url: str) -> dict[str, Any]:
    """Two phases, four readings (each window edge), then the report: what a run does."""
    from scer_hf import Report
    from scer_hf.core.carbon import carbon_intensity
    from scer_hf.core.live_intensity import LiveIntensity, phase_dicts
    from scer_hf.core.meters import ReplayMeter
    from scer_hf.core.tracker import PhaseTracker

    clock = _Clock()
    live = LiveIntensity("NL", token=TOKEN, base_url=url, min_interval_s=0, timeout_s=2.0, clock=clock)
    tr = PhaseTracker(ReplayMeter({"gpu:0": [(0.0, 100.0)]}, clock=clock), clock=clock, sync_cuda=False)
    tr.on_edge = live.observe
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tr.begin("a")
        clock.t = 10.0
        a = tr.end("a")
        clock.t = 20.0
        tr.begin("b")
        clock.t = 50.0
        b = tr.end("b")
        ci, per = live.apply([a, b], carbon_intensity("NLD"))
        rep = Report.build(phase_dicts([a, b], ci, per, {}, "training"), boundary="training", carbon=ci)
    return rep.to_dict()


def judged(o: Outcome, *, want_sample: bool, other: HostileServer | None = None,
           expect_g: float | None = None) -> str | None:
    why = basic(o, max_s=6.0)
    if why:
        return why
    if o.kind != "ok":
        return f"no report ({o.message[:120]})"
    d = o.value
    text = json.dumps(d)
    if TOKEN in text:
        return "the token is in the saved report"
    g = d["carbon"]["g_per_kwh"]
    if not 0 <= g <= MAX_G:
        return f"grid intensity {g} g/kWh accepted"
    live = d["carbon"].get("live") or {}
    n_s, n_f = len(live.get("samples", [])), len(live.get("fallbacks", []))
    if n_s + n_f < 4 and live.get("sample_count", n_s) + live.get("fallback_count", n_f) < 4:
        return f"readings lost: {n_s} samples + {n_f} fallbacks recorded for 4 asked"
    if not want_sample and n_s:
        return f"a refused answer was used ({n_s} samples)"
    if want_sample and not n_s:
        return "a valid answer was not used"
    if expect_g is not None and abs(g - expect_g) > 1e-9:
        return f"intensity {g}, expected {expect_g}"
    if other is not None and other.log:
        return "followed a redirect to another origin" + (" and sent the auth-token there"
                                                           if other.secret_seen(TOKEN) else "")
    return None


def cases() -> list[Case]:
    out: list[Case] = []

    def live_case(name: str, answer: Any, *, want_sample: bool = False, redirect: str | None = None,
                  expect_g: float | None = None) -> None:
        def run() -> Any:
            with HostileServer() as srv, HostileServer() as other:
                other.answer = Answer.json(em(123.0))
                run.other = other  # type: ignore[attr-defined]
                if redirect == "other":
                    srv.answer = Answer.redirect(other.url + PATH + "?zone=NL")
                elif redirect == "same":
                    srv.answer = lambda path, h: (Answer.json(em(150.0)) if path.startswith("/moved")
                                                  else Answer.redirect("/moved" + PATH + "?zone=NL"))
                else:
                    srv.answer = answer
                return _two_phases(srv.url)

        def judge(o: Outcome) -> str | None:
            return judged(o, want_sample=want_sample, other=getattr(run, "other", None) if redirect == "other"
                          else None, expect_g=expect_g)

        out.append(Case(f"live:{name}", run, judge))

    for label, g in [("1e9", 1e9), ("1e308", 1e308), ("negative", -1), ("2001", 2001.0), ("string", "100"),
                     ("bool", True), ("null", None), ("list", [100])]:
        live_case(f"carbonIntensity={label}", Answer.json(em(g)))
    for label, raw in [("NaN", b"NaN"), ("Infinity", b"Infinity"), ("1e400", b"1e400")]:
        live_case(f"carbonIntensity={label}", Answer.raw(b'{"zone":"NL","carbonIntensity":' + raw + b"}"))
    live_case("redirect-other-origin", None, redirect="other")
    live_case("echo-token-in-fields", Answer.json(em(100.0, zone=TOKEN, datetime=TOKEN, estimationMethod=TOKEN,
                                                     emissionFactorType="lifecycle " + TOKEN)), want_sample=True)
    live_case("echo-token-everywhere", lambda path, h: Answer.json(em(100.0, zone=h.get("auth-token", ""),
                                                                       datetime=h.get("auth-token", ""))),
              want_sample=True)
    live_case("slow-1-byte-per-s", Answer.raw(json.dumps(em(100.0)).encode(), drip_s=1.0))
    live_case("body-200MB", Answer(200, b'{"carbonIntensity": 100, "x": "' + b"a" * 100, stream_mb=200))
    live_case("body-deep", Answer.raw(b'{"carbonIntensity": 100, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"))
    live_case("gzip-bomb", Answer.gzip_bomb(512))
    live_case("hang", Answer(hang=True))
    live_case("not-json", Answer.raw(b"<html>" + TOKEN.encode()))
    live_case("control-valid", Answer.json(em(100.0)), want_sample=True, expect_g=100.0)
    live_case("control-redirect-same-origin", None, redirect="same", want_sample=True, expect_g=150.0)
    return out
