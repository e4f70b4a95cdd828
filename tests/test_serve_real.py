"""`transformers serve` on 127.0.0.1 with a tiny local model on the CPU, measured by `scer-hf benchmark --endpoint`.

Slow (the server takes tens of seconds to start here); skipped with the reason when transformers' serving extras
(FastAPI, Uvicorn: ``pip install "scer-hf[serve]"``) are not installed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers")


def _serve_available() -> bool:
    try:
        from transformers.utils.import_utils import is_serve_available
    except ImportError:
        return False
    return bool(is_serve_available())


pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not _serve_available(), reason="transformers serve needs its serving extras: pip install 'scer-hf[serve]'")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def served(gpt2: str, tmp_path: Path) -> Any:
    port = _free_port()
    exe = Path(sys.executable).with_name("transformers")
    cmd = [str(exe), "serve", gpt2, "--host", "127.0.0.1", "--port", str(port), "--device", "cpu",
           "--log-level", "warning"]
    log = (tmp_path / "serve.log").open("w")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if p.poll() is not None:
                pytest.fail(f"transformers serve exited: {(tmp_path / 'serve.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:  # noqa: S310
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("transformers serve did not come up in 240 s")
        yield p, port
    finally:
        p.terminate()  # the server this test started, by its own handle
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
        log.close()


def test_transformers_serve_measured_at_two_levels(served: Any, gpt2: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scer_hf.cli import cli
    from scer_hf.core.report import Report

    proc, port = served
    out = tmp_path / "served.json"
    res = CliRunner().invoke(cli, [
        "benchmark", "--endpoint", f"http://127.0.0.1:{port}/v1", "--model", gpt2, "--concurrency", "1,4",
        "--queries", "16", "--min-queries", "6", "--warmup", "2", "--no-progress", "--intensity", "100", "-o", str(out)])
    assert res.exit_code == 0, res.output
    r = Report.load(out)
    b = r["benchmark"]
    assert b["endpoint"]["api"] == "completions"  # the tiny model has no chat template: auto fell back
    assert b["endpoint"]["server_pid"] == proc.pid and b["endpoint"]["measured_here"] is True
    lv = {x["concurrency"]: x for x in b["levels"]}
    assert set(lv) == {1, 4}
    for c, x in lv.items():
        # the tiny model's context is 512 of its tokens: the longest shipped prompts are refused (HTTP 400) and
        # counted as failed requests, never as answers
        assert x["responses"] >= 6 and x["output_tokens_source"] == "usage"
        assert x["failed"] == x["failures"].get("http 4xx", 0)
        assert 0 < x["output_tokens"] <= 10 * x["responses"]
        assert x["j_per_response"] > 0 and x["j_per_1k_output_tokens"] > 0 and x["ttft_s"]["p50"] > 0
        ph = r.phase(f"c={c}")
        assert ph["counts"]["queries"] == x["responses"] and ph["counts"]["output_tokens"] == x["output_tokens"]
        assert ph["counts"].get("failed_requests", 0) == x["failed"]
    assert any(m["meter"] == "estimate-server" for m in r["provenance"]["meters"])
    lab = CliRunner().invoke(cli, ["label", str(out), "-o", str(tmp_path / "label.svg")])
    rep = CliRunner().invoke(cli, ["report", str(out), "-o", str(tmp_path / "report.html")])
    assert lab.exit_code == 0 and rep.exit_code == 0, lab.output + rep.output
    assert "c=4" in (tmp_path / "label.svg").read_text()
    assert "Served: energy and speed by concurrency" in (tmp_path / "report.html").read_text()
    json.loads(out.read_text())
