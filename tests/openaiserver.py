"""A small OpenAI-compatible server on 127.0.0.1 for the endpoint benchmark's tests, good or misbehaving.

``FakeOpenAI(mode=...)`` serves ``/v1/chat/completions`` and ``/v1/completions`` (streamed with usage, or one JSON
body) in a thread; ``python tests/openaiserver.py [mode]`` runs it in its own process and prints its port.

Modes: ``ok``; ``no-usage`` (no usage chunk: tokens counted from chunks); ``no-stream`` (one JSON body);
``chat-404`` (only /completions); ``404`` (neither); ``401``; ``500``; ``flaky`` (every 3rd request is HTTP 500);
``malformed`` (not JSON); ``malformed-some`` (every 4th stream is broken); ``stream-error`` (an error event);
``slow`` (answers after ``delay`` s); ``huge`` (a body over the client's cap); ``redirect`` (307 to another port);
``die-after`` (closes the connection mid-stream from request ``die_after`` on); ``bad-usage`` (a negative count).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN_S = 0.002  # between streamed tokens


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # each streamed token leaves at once, as a real server's
    server: "_Server"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        srv = self.server
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        with srv.lock:
            srv.n += 1
            n = srv.n
            srv.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        mode = srv.mode
        chat = self.path.endswith("/chat/completions")
        if mode == "404" or (mode == "chat-404" and chat) or not self.path.endswith("completions"):
            return self._send(404, b'{"detail": "Not Found"}')
        if mode == "401":
            return self._send(401, b'{"error": "bad key"}')
        if mode == "500" or (mode == "flaky" and n % 3 == 0):
            return self._send(500, b'{"error": "boom"}')
        if mode == "redirect":
            return self._send(307, b"", Location=f"http://127.0.0.1:{srv.other_port}{self.path}")
        if mode == "malformed" or (mode == "malformed-some" and n % 4 == 0):
            return self._send(200, b"data: {not json\n\n", "text/event-stream")
        if mode == "slow":
            time.sleep(srv.delay)
        if mode == "huge":
            return self._send(200, b"x" * (9 * 1024 * 1024), "text/event-stream")
        k = int(body.get("max_tokens") or 4)
        if mode == "no-stream" or not body.get("stream"):
            return self._final(chat, k, body)
        self._stream(chat, k, n)

    def _final(self, chat: bool, k: int, body: dict) -> None:
        text = "tok " * k
        choice = {"index": 0, "message": {"role": "assistant", "content": text}} if chat else {"index": 0, "text": text}
        out = {"choices": [choice], "usage": {"prompt_tokens": self._prompt_tokens(body), "completion_tokens": k}}
        self._send(200, json.dumps(out).encode())

    @staticmethod
    def _prompt_tokens(body: dict) -> int:
        text = body.get("prompt") or " ".join(m.get("content", "") for m in body.get("messages") or [])
        return len(str(text).split())

    def _stream(self, chat: bool, k: int, n: int) -> None:
        srv = self.server
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def event(d: Any) -> None:
            raw = f"data: {d if isinstance(d, str) else json.dumps(d)}\n\n".encode()
            self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
            self.wfile.flush()

        for i in range(k):
            time.sleep(TOKEN_S)
            if srv.mode == "die-after" and n >= srv.die_after and i == 1:
                self.close_connection = True
                self.wfile.write(b"5\r\ndata:")  # half a chunk, then the socket closes
                self.wfile.flush()
                return
            if srv.mode == "stream-error" and i == 1:
                event({"error": {"message": "out of memory"}})
                break
            event({"choices": [{"index": 0, "delta": {"content": f"t{i} "}} if chat else {"index": 0, "text": f"t{i} "}]})
        if srv.mode not in ("no-usage",):
            bad = srv.mode == "bad-usage"
            event({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": -1 if bad else k}})
        event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:  # a client that left: not news
        pass

    def __init__(self, mode: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode, self.n, self.lock, self.requests = mode, 0, threading.Lock(), []
        self.delay, self.die_after, self.other_port = 1.0, 10**9, 9


class FakeOpenAI:
    """The server in a thread: ``with FakeOpenAI("flaky") as s: s.url``."""

    def __init__(self, mode: str = "ok", **kw: Any) -> None:
        self.srv = _Server(mode)
        for k, v in kw.items():
            setattr(self.srv, k, v)
        self.port = self.srv.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._t = threading.Thread(target=self.srv.serve_forever, daemon=True)

    @property
    def requests(self) -> list[dict]:
        return self.srv.requests

    def __enter__(self) -> "FakeOpenAI":
        self._t.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.srv.shutdown()
        self.srv.server_close()


if __name__ == "__main__":
    s = _Server(sys.argv[1] if len(sys.argv) > 1 else "ok")
    print(s.server_address[1], flush=True)
    s.serve_forever()
