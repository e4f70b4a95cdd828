"""Measuring an OpenAI-compatible server (issue 22): levels, figures, and every way a server can fail.

A fake server on 127.0.0.1 (tests/openaiserver.py) answers well or badly; the meter is a constant 100 W, so the
per-request energies of a level must add up to 100 W x the union of the requests' windows.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

import scer_hf
from scer_hf.core.attribution import union_s as _union_s
from scer_hf.core.endpoint import Client, Endpoint
from scer_hf.core.report import Report
from scer_hf.errors import (BenchmarkSettingsError, EndpointError, EndpointResponseError, EndpointUnreachableError,
                            RemoteEndpointError)
from scer_hf.hf.serving import level_name

from openaiserver import FakeOpenAI
from tests.builders import const_gpu_meter

HERE = Path(__file__).parent
FAST = {"warmup": 2, "progress": False, "queries": 24, "min_queries": 5}


def _bench(url: str, conc: Any = (1, 4), **kw: Any) -> Report:
    args = {**FAST, "meters": [const_gpu_meter()], "carbon_intensity_g_per_kwh": 100.0, **kw}
    return scer_hf.benchmark(endpoint=url, model="tiny", concurrency=conc, **args)


def levels(r: Report) -> dict[int, dict[str, Any]]:
    return {lv["concurrency"]: lv for lv in r["benchmark"]["levels"]}


# --- the URL ------------------------------------------------------------------------------------
def test_endpoint_urls_are_parsed_and_checked() -> None:
    ep = Endpoint.parse("http://127.0.0.1:8000/v1/")
    assert (ep.url, ep.route("chat"), ep.api) == ("http://127.0.0.1:8000/v1", "/v1/chat/completions", None)
    assert Endpoint.parse("http://localhost:9/v1/completions").api == "completions"
    assert Endpoint.parse("https://[::1]/v1").url == "https://[::1]:443/v1"
    for bad in ("ftp://x/v1", "127.0.0.1:8000", "http://user:pw@host/v1", "http://h/v1?key=1", "http://h:99999/v1", ""):
        with pytest.raises(EndpointError):
            Endpoint.parse(bad)
    assert Endpoint.parse("http://127.0.0.1:1/v1").is_local() and Endpoint.parse("http://localhost:1/").is_local()
    assert not Endpoint.parse("http://192.0.2.7:8000/v1").is_local()  # TEST-NET-1: never this machine


# --- a good server --------------------------------------------------------------------------------
def test_levels_counts_figures_and_energy_adding_up() -> None:
    with FakeOpenAI("ok") as s:
        calls: list[dict] = []
        r = _bench(s.url, (1, 4), api="chat")
    b = r["benchmark"]
    assert b["mode"] == "endpoint" and b["concurrency"] == [1, 4] and b["endpoint"]["api"] == "chat"
    assert b["endpoint"]["measured_here"] is True and b["endpoint"]["url"] == s.url
    lv = levels(r)
    for c in (1, 4):
        x = lv[c]
        assert x["responses"] >= 5 and x["failed"] == 0 and x["stopped_by"] in ("ci", "cap")
        assert x["output_tokens"] == 10 * x["responses"] and x["output_tokens_source"] == "usage"
        assert x["ttft_s"]["p50"] > 0 and x["latency_s"]["p90"] >= x["latency_s"]["p50"] > 0
        assert x["throughput_output_tokens_per_s"] > 0 and x["coverage"] == 1.0
        ph = r.phase(level_name(c))
        assert ph["counts"]["queries"] == x["responses"] and ph["parent"] is None
        assert x["j_per_response"] == pytest.approx(ph["energy_j"]["total"] / x["responses"])
        assert x["j_per_1k_output_tokens"] == pytest.approx(ph["energy_j"]["total"] / x["output_tokens"] * 1000)
        pre, dec = r.phase(f"{level_name(c)} prefill"), r.phase(f"{level_name(c)} decode")
        assert pre["energy_j"]["total"] + dec["energy_j"]["total"] == pytest.approx(ph["energy_j"]["total"])
        assert x["ci"]["mean_j_per_response"] == pytest.approx(x["j_per_response"])
        assert x["ci"]["quantile_level"] == 0.97  # the same rule as in-process (scer-hf-stop/2): the 97 % quantile
    # 4 requests in flight share the device: each gets less than it would alone
    assert lv[4]["j_per_response"] < lv[1]["j_per_response"]
    assert Report.from_dict(r.to_dict()) == r
    assert calls == []


def test_per_request_energies_add_up_to_the_union_of_their_windows() -> None:
    got: list[Any] = []
    import scer_hf.hf.serving as serving

    orig = serving.call_entry

    def spy(res: Any, *a: Any, **k: Any) -> Any:
        e = orig(res, *a, **k)
        got.append(next(iter(e.measurements().values())))
        return e

    serving.call_entry = spy
    try:
        with FakeOpenAI("ok") as s:
            _bench(s.url, (8,), queries=40, min_queries=40)
    finally:
        serving.call_entry = orig
    union = _union_s([(m.start_s, m.end_s) for m in got])
    assert sum(m.duration_s for m in got) / union > 2  # they overlapped
    assert sum(m.total_energy_j for m in got) == pytest.approx(100.0 * union, rel=0.01)


def test_auto_api_falls_back_to_completions_and_tokens_from_chunks() -> None:
    with FakeOpenAI("chat-404") as s:
        r = _bench(s.url, 2)
        assert all(q["path"].endswith("/completions") for q in s.requests[1:])
    assert r["benchmark"]["endpoint"]["api"] == "completions"
    with FakeOpenAI("no-usage") as s:
        r = _bench(s.url, 1)
    lv = levels(r)[1]
    assert lv["output_tokens_source"] == "streamed chunks" and lv["output_tokens"] == 10 * lv["responses"]
    with FakeOpenAI("no-stream") as s:
        r = _bench(s.url, 1)
    assert levels(r)[1]["responses"] > 0 and levels(r)[1]["ttft_s"]["mean"] is None  # not streamed: no TTFT


def test_the_api_key_goes_to_the_endpoint_only() -> None:
    with FakeOpenAI("ok") as s:
        _bench(s.url, 1, api_key="sk-secret")
        assert {q["auth"] for q in s.requests} == {"Bearer sk-secret"}
    with FakeOpenAI("ok") as other, FakeOpenAI("redirect", other_port=0) as s:
        s.srv.other_port = other.port
        with pytest.raises(EndpointResponseError, match="redirect"):
            _bench(s.url, 1, api_key="sk-secret")
        assert other.requests == []  # a redirect is never followed: the key never left for another origin


# --- servers that fail --------------------------------------------------------------------------------
def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("mode,error,match", [
    ("404", EndpointResponseError, "HTTP 404"), ("401", EndpointResponseError, "api_key"),
    ("500", EndpointResponseError, "HTTP 500|OpenAI"), ("malformed", EndpointResponseError, "malformed"),
    ("stream-error", EndpointResponseError, "stream error"), ("huge", EndpointResponseError, "too large"),
    ("bad-usage", EndpointResponseError, "malformed"),
])
def test_a_server_that_answers_badly_is_a_typed_error(mode: str, error: type, match: str) -> None:
    with FakeOpenAI(mode) as s, pytest.raises(error, match=match):
        _bench(s.url, 1)


def test_no_server_is_a_typed_error_that_says_to_start_one() -> None:
    with pytest.raises(EndpointUnreachableError, match="start yours first"):
        _bench(f"http://127.0.0.1:{_closed_port()}/v1", 1)


def test_a_timeout_is_a_typed_error_at_the_start_and_a_failed_request_later() -> None:
    with FakeOpenAI("slow", delay=1.0) as s, pytest.raises(EndpointUnreachableError, match="no answer"):
        _bench(s.url, 1, timeout_s=0.2)


def test_failures_during_a_level_are_counted_never_a_crash_or_a_false_figure() -> None:
    with FakeOpenAI("flaky") as s:  # every 3rd request is HTTP 500
        r = _bench(s.url, (1, 4))
    for c, lv in levels(r).items():
        assert lv["failed"] > 0 and lv["failures"] == {"http 5xx": lv["failed"]} and lv["responses"] > 0
        ph = r.phase(level_name(c))
        assert ph["counts"]["failed_requests"] == lv["failed"] and ph["counts"]["queries"] == lv["responses"]
        # energy per response: all energy spent (failed requests included) over the answered responses
        assert lv["j_per_response"] == pytest.approx(ph["energy_j"]["total"] / lv["responses"])
    assert r["extra"]["per_unit"]["failed_requests"] == sum(lv["failed"] for lv in levels(r).values())
    with FakeOpenAI("malformed-some") as s:
        r = _bench(s.url, 2)
    assert levels(r)[2]["failures"].get("malformed", 0) > 0


def test_a_server_that_dies_mid_level_stops_the_level() -> None:
    with FakeOpenAI("die-after", die_after=8) as s:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = _bench(s.url, (2, 4), queries=200, min_queries=150)
    lv = levels(r)
    assert lv[2]["stopped_by"] == "failures" and lv[2]["failed"] >= 20 and lv[2]["responses"] > 0
    assert lv[4]["responses"] == 0 and lv[4]["j_per_response"] is None  # nothing answered: no figure, never 0


# --- settings and the remote rule -----------------------------------------------------------------
def test_bad_settings_are_typed_errors() -> None:
    with FakeOpenAI("ok") as s:
        for kw in ({"concurrency": 0}, {"concurrency": [1, 1]}, {"concurrency": [1.5]}, {"api": "grpc"},
                   {"batch_size": 4}, {"model_or_path": "x"}):
            with pytest.raises(BenchmarkSettingsError):
                args = {"endpoint": s.url, "model": "tiny", "concurrency": 1, **FAST, **kw}
                scer_hf.benchmark(**args)
        with pytest.raises(BenchmarkSettingsError, match="endpoint"):
            scer_hf.benchmark(concurrency=[1, 8])
        with pytest.raises(TypeError):
            scer_hf.benchmark(endpoint=s.url, model="tiny", colour="red")


def test_a_remote_endpoint_is_refused_unless_its_hardware_is_stated(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RemoteEndpointError, match="hardware"):
        scer_hf.benchmark(endpoint="http://192.0.2.7:8000/v1", model="m", concurrency=1, progress=False)
    monkeypatch.setattr(Endpoint, "is_local", lambda self: False)  # the fake server stands in for a remote one
    with FakeOpenAI("ok") as s:
        r = scer_hf.benchmark(endpoint=s.url, model="tiny", concurrency=[1, 2], hardware="1x NVIDIA H100 80GB",
                              **FAST)
    b = r["benchmark"]
    assert b["endpoint"]["measured_here"] is False and "not measured here" in b["endpoint"]["energy"]
    assert b["hardware"] == "1x NVIDIA H100 80GB" and b["hardware_basis"] == "stated"
    assert r.energy_j is None and r["sci"] is None  # nothing measured here: no figure
    for lv in b["levels"]:
        assert lv["responses"] > 0 and lv["j_per_response"] is None and lv["latency_s"]["mean"] > 0
    assert r["provenance"]["choices"]["all"].startswith("not measured here")


# --- the client alone -------------------------------------------------------------------------------
def test_client_bounds_a_slow_stream_by_its_total_deadline() -> None:
    with FakeOpenAI("slow", delay=0.6) as s:
        c = Client(Endpoint.parse(s.url), model="m", timeout_s=0.3)
        ans = c.request("hi")
        assert not ans.ok and ans.kind == "timeout" and ans.latency_s < 0.6
        c.close()


# --- the command line, against a server in its own process ----------------------------------------------
@pytest.fixture()
def server_process() -> Any:
    p = subprocess.Popen([sys.executable, str(HERE / "openaiserver.py"), "ok"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(p.stdout.readline())  # type: ignore[union-attr]
        yield p, port
    finally:
        p.kill()
        p.wait()


def test_cli_benchmark_endpoint(server_process: Any, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scer_hf.cli import cli

    proc, port = server_process
    out = tmp_path / "r.json"
    res = CliRunner().invoke(cli, ["benchmark", "--endpoint", f"http://127.0.0.1:{port}/v1", "--model", "tiny",
                                   "--concurrency", "1,2", "--queries", "12", "--min-queries", "4", "--warmup", "1",
                                   "--no-progress", "--intensity", "100", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "concurrency 1" in res.output and "concurrency 2" in res.output
    for fact in ("  SCI ", "  grid ", "  method ", "  interval      : c=1 stopped"):  # the facts every output shows
        assert fact in res.output, res.output
    assert max(map(len, res.output.splitlines())) <= 120
    r = Report.load(out)
    b = r["benchmark"]
    assert [lv["concurrency"] for lv in b["levels"]] == [1, 2]
    assert b["endpoint"]["server_pid"] == proc.pid  # the server's own process is metered (estimate)
    assert any(m["meter"] == "estimate-server" for m in r["provenance"]["meters"])
    assert all(lv["j_per_response"] and lv["j_per_response"] > 0 for lv in b["levels"])
    bad = CliRunner().invoke(cli, ["benchmark", "--endpoint", f"http://127.0.0.1:{_closed_port()}/v1", "--model",
                                   "x", "--concurrency", "1", "--json"])
    assert bad.exit_code == 1 and json.loads(bad.output)["error"] == "EndpointUnreachableError"
    usage = CliRunner().invoke(cli, ["benchmark", "--endpoint", "http://127.0.0.1:1/v1", "--concurrency", "1,x"])
    assert usage.exit_code == 2


# --- the rating: like with like ------------------------------------------------------------------------
def test_the_rating_rates_only_the_level_that_matches_a_reference_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAI("ok") as s:
        r = _bench(s.url, (1, 4))
        only4 = _bench(s.url, (4,))
    pr = scer_hf.rate(r).inference
    lv1 = r.phase(level_name(1))
    basis = lv1["coverage"]
    want = basis["energy_j"]["total"] / 3600.0 / basis["counts"]["queries"] * 1000.0
    assert pr.value == pytest.approx(want)  # the level at concurrency 1 alone, not the whole curve
    assert any(n.startswith("rated: the level at concurrency 1") for n in pr.notes)
    assert any("concurrency 4: shown, not rated" in n for n in pr.notes)
    p4 = scer_hf.rate(only4).inference
    assert p4.value is None and "no level matches a reference setting" in p4.reason
    monkeypatch.setattr(Endpoint, "is_local", lambda self: False)
    with FakeOpenAI("ok") as s:
        remote = scer_hf.benchmark(endpoint=s.url, model="tiny", concurrency=1, hardware="1x NVIDIA H100 80GB",
                                   **FAST)
    assert "not measured here" in scer_hf.rate(remote).inference.reason


# --- the curve in the label and the HTML report ----------------------------------------------------------
def test_label_and_html_draw_the_curve(tmp_path: Path) -> None:
    from scer_hf.publish.html import render_html
    from scer_hf.publish.label import make_label

    with FakeOpenAI("ok") as s:
        r = _bench(s.url, (1, 4))
    svg, html = make_label(r), render_html(r)
    lv = levels(r)
    for text in ("J per 1,000 output tokens, by concurrency", "c=1", "c=4", "tok/s"):
        assert text in svg
    assert "Served: energy and speed by concurrency" in html and "<polyline" in html
    from scer_hf.core import fmt

    assert f"{fmt.num(lv[4]['j_per_1k_output_tokens'])} J" in html and f"{fmt.num(lv[1]['j_per_1k_output_tokens'])} J" in svg
    import xml.dom.minidom

    xml.dom.minidom.parseString(svg)  # still well-formed
    assert len(r.to_dict()["phases"]) == 6 and "+ 1 more phase: see the report" in svg  # 5 rows drawn, 1 counted
    # the interval, per level, on the label and page (a served benchmark has no single interval)
    from scer_hf.publish.figures import stopping_text

    text, _ = stopping_text(r.to_dict()["benchmark"])
    assert text.startswith("c=1 stopped") and "; c=4 stopped" in text and "no interval" not in text
    assert "c=4 stopped" in html
    from scer_hf.publish.curve import curve_levels, curve_svg

    assert curve_levels({"benchmark": {"batch_size": 1}}) == [] and curve_svg([]) == ""
    no_fig = [{**lv[1], "j_per_1k_output_tokens": None}]
    assert "n/a" in curve_svg(no_fig) and "<circle" not in curve_svg(no_fig)  # no figure: a gap, never a zero


def test_a_remote_report_says_not_measured_here_on_the_label_and_page(monkeypatch: pytest.MonkeyPatch) -> None:
    from scer_hf.publish.html import render_html
    from scer_hf.publish.label import make_label

    monkeypatch.setattr(Endpoint, "is_local", lambda self: False)
    with FakeOpenAI("ok") as s:
        r = scer_hf.benchmark(endpoint=s.url, model="tiny", concurrency=[1, 2], hardware="1x NVIDIA H100 80GB", **FAST)
    svg, html = make_label(r), render_html(r)
    assert "NOT MEASURED HERE (remote server)" in svg and "energy not measured here" in svg and "meters failed" not in svg
    assert "NOT MEASURED HERE: the server runs on another machine" in html and "n/a" in html
