"""A scriptable, hostile HTTP server on 127.0.0.1 for tests and ``benchmarks/adversarial`` (no traffic leaves).

Each request is answered by ``server.answer`` (a :class:`Answer` or a callable ``(path, headers) -> Answer``):
a JSON body, raw bytes, a redirect, a body sent one byte at a time, a gzip bomb, a huge body streamed in
chunks, or a connection that is accepted and never answered. Every request's path and headers are logged in
``server.log``, so a test can tell whether a secret header reached this origin.

    with HostileServer() as a, HostileServer() as b:
        a.answer = Answer.redirect(b.url + "/v3/carbon-intensity/latest")   # another origin (another port)
        b.answer = Answer.json({"carbonIntensity": 100})
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

__all__ = ["Answer", "HostileServer"]


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drip_s: float = 0.0          # > 0: send the body one byte at a time, this long between bytes
    stream_mb: int = 0           # > 0: send this many MiB of `body` repeated (no Content-Length), in 1 MiB chunks
    hang: bool = False           # accept and never answer (until the server stops)

    @classmethod
    def json(cls, obj: Any, status: int = 200, **kw: Any) -> "Answer":
        return cls(status, json.dumps(obj).encode(), {"Content-Type": "application/json"}, **kw)

    @classmethod
    def raw(cls, body: bytes, status: int = 200, **kw: Any) -> "Answer":
        return cls(status, body, {"Content-Type": "application/json"}, **kw)

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> "Answer":
        return cls(status, b"", {"Location": location})

    @classmethod
    def gzip_bomb(cls, mb: int = 256) -> "Answer":
        """A small gzip body that inflates to *mb* MiB of spaces (a JSON whitespace prefix of an object)."""
        raw = gzip.compress(b" " * (mb << 20) + b"{}", compresslevel=9)
        return cls(200, raw, {"Content-Type": "application/json", "Content-Encoding": "gzip"})


class HostileServer:
    def __init__(self) -> None:
        self.answer: Answer | Callable[[str, dict[str, str]], Answer] = Answer.json({})
        self.log: list[tuple[str, dict[str, str]]] = []
        self._stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.log.append((self.path, headers))
                a = outer.answer(self.path, headers) if callable(outer.answer) else outer.answer
                try:
                    outer._send(self, a)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass

            do_HEAD = do_GET

        self._srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._srv.daemon_threads = True
        self._srv.handle_error = lambda request, address: None  # a client that hangs up is expected here
        self.url = f"http://127.0.0.1:{self._srv.server_address[1]}"
        self._thread = threading.Thread(target=self._srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def _send(self, h: BaseHTTPRequestHandler, a: Answer) -> None:
        if a.hang:
            self._stop.wait(120)
            return
        h.send_response(a.status)
        for k, v in a.headers.items():
            h.send_header(k, v)
        if a.stream_mb:
            h.send_header("Connection", "close")
            h.end_headers()
            chunk = (a.body or b" ") * max(1, (1 << 20) // max(1, len(a.body or b" ")))
            for _ in range(a.stream_mb):
                if self._stop.is_set():
                    return
                h.wfile.write(chunk)
            return
        h.send_header("Content-Length", str(len(a.body)))
        h.end_headers()
        if h.command == "HEAD":
            return
        if a.drip_s > 0:
            for i in range(len(a.body)):
                if self._stop.wait(a.drip_s):
                    return
                h.wfile.write(a.body[i:i + 1])
                h.wfile.flush()
            return
        h.wfile.write(a.body)

    def secret_seen(self, secret: str) -> bool:
        """Whether *secret* reached this server in any header or path."""
        return any(secret in p or any(secret in v for v in hs.values()) for p, hs in self.log)

    def __enter__(self) -> "HostileServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._srv.shutdown()
        self._srv.server_close()
        time.sleep(0)  # let dripping handlers see the stop flag
