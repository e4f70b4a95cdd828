"""A fake Electricity Maps API v3 on 127.0.0.1 for tests (``/v3/carbon-intensity/latest`` only).

``server.g`` is the intensity it answers now; ``server.fail_next`` makes the next N
requests answer 500; ``server.extra`` adds fields to the answer (e.g. a market-based
``emissionFactorType``). Every request's path and ``auth-token`` header is logged.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["FakeElectricityMaps", "TOKEN"]

TOKEN = "em-test-token-7f3a9c1e5b"


class FakeElectricityMaps:
    def __init__(self, token: str = TOKEN) -> None:
        self.token, self.g, self.fail_next = token, 100.0, 0
        self.extra: dict[str, Any] = {}
        self.log: list[tuple[str, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                u = urlsplit(self.path)
                outer.log.append((self.path, self.headers.get("auth-token")))
                if u.path != "/v3/carbon-intensity/latest":
                    return self._send(404, {"error": "not found"})
                if self.headers.get("auth-token") != outer.token:
                    return self._send(401, {"error": "bad token"})
                if outer.fail_next > 0:
                    outer.fail_next -= 1
                    return self._send(500, {"error": "server error"})
                zone = parse_qs(u.query).get("zone", ["?"])[0]
                self._send(200, {"zone": zone, "carbonIntensity": outer.g, "datetime": "2026-12-01T23:00:00.000Z",
                                 "updatedAt": "2026-12-01T23:10:00.000Z", "emissionFactorType": "lifecycle",
                                 "isEstimated": True, "estimationMethod": "TIME_SLICER_AVERAGE", **outer.extra})

            def _send(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self._srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._srv.server_address[1]}"
        self._thread = threading.Thread(target=self._srv.serve_forever, daemon=True)

    def __enter__(self) -> "FakeElectricityMaps":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._srv.shutdown()
        self._srv.server_close()
