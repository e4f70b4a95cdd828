"""A bounded client for OpenAI-compatible inference servers (``transformers serve``, vLLM, TGI, SGLang).

One request = ``POST {base}/chat/completions`` (or ``/completions``) with ``"stream": true`` and
``stream_options.include_usage``: the time to the first streamed token is the time to first token (TTFT), the
end of the stream the latency, and the server's ``usage`` the token counts (or, when it sends none, the streamed
chunks that carried text: labelled so).

What a server can do to the client is bounded: a connection and each read time out; a whole request has a total
deadline; a body (or a stream) is read in pieces against a byte cap and a line-length cap; a redirect is never
followed (it is a failed request), so the API key, sent in ``Authorization`` to the endpoint's own origin only,
never goes anywhere else; a URL with credentials, a query or a fragment is refused. Nothing here imports torch.

Every request ends as a :class:`Answer`: ``ok`` with its figures, or a failure ``kind`` (``refused``,
``timeout``, ``http 5xx``, ``http 4xx``, ``redirect``, ``malformed``, ``too large``, ``stream error``) with a short
reason that quotes nothing from the response.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import json
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import EndpointError

__all__ = ["Endpoint", "Client", "Answer", "APIS", "MAX_BODY_BYTES", "MAX_LINE_BYTES", "MAX_TOKENS_PLAUSIBLE"]

APIS = ("chat", "completions")
MAX_BODY_BYTES = 8 * 1024 * 1024  # one response or stream; a 10-token answer is a few kB
MAX_LINE_BYTES = 1024 * 1024  # one SSE line
MAX_TOKENS_PLAUSIBLE = 10_000_000  # a token count above this in `usage` is not believed
_PATHS = {"chat": "/chat/completions", "completions": "/completions"}
_RESOLVE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Endpoint:
    """A parsed endpoint URL: ``http(s)://host:port/base`` (``/v1`` usually)."""

    url: str
    scheme: str
    host: str
    port: int
    base_path: str
    api: str | None = None  # given by the URL when it names a route (…/chat/completions, …/completions)

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        if not isinstance(url, str) or not url.strip():
            raise EndpointError("endpoint: pass the server's base URL, e.g. http://127.0.0.1:8000/v1")
        u = urllib.parse.urlsplit(url.strip())
        scheme = (u.scheme or "").lower()
        if scheme not in ("http", "https") or not u.hostname:
            raise EndpointError(f"endpoint {url!r}: need an http:// or https:// URL with a host, "
                                "e.g. http://127.0.0.1:8000/v1")
        if u.username or u.password:
            raise EndpointError("endpoint URL carries credentials; pass the key as api_key (CLI: --api-key-env "
                                "VAR), never in the URL")
        if u.query or u.fragment:
            raise EndpointError(f"endpoint {url!r}: a base URL has no query or fragment; e.g. "
                                "http://127.0.0.1:8000/v1")
        try:
            port = u.port or (443 if scheme == "https" else 80)
        except ValueError as exc:
            raise EndpointError(f"endpoint {url!r}: the port is not a number from 1 to 65535") from exc
        path, api = u.path.rstrip("/"), None
        for name, route in sorted(_PATHS.items(), key=lambda kv: -len(kv[1])):
            if path.endswith(route):
                path, api = path[: -len(route)], name
                break
        host = u.hostname.lower()
        shown = f"[{host}]" if ":" in host else host
        return cls(f"{scheme}://{shown}:{port}{path}", scheme, host, port, path, api)

    def route(self, api: str) -> str:
        return self.base_path + _PATHS[api]

    def is_local(self) -> bool:
        """Whether the host is this machine: a loopback address, or an address of one of its interfaces."""
        for addr in _resolve(self.host):
            try:
                ip = ipaddress.ip_address(addr.split("%", 1)[0])
            except ValueError:
                continue
            if ip.is_loopback:
                return True
            fam = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
            try:
                with socket.socket(fam, socket.SOCK_STREAM) as s:
                    s.bind((addr, 0))  # only an address this machine owns can be bound
                return True
            except OSError:
                continue
        return False


def _resolve(host: str) -> list[str]:
    """The addresses of *host*, within a few seconds (a hung resolver is not waited for)."""
    out: list[str] = []

    def run() -> None:
        with contextlib.suppress(OSError, UnicodeError):
            out.extend(sorted({str(ai[4][0]) for ai in socket.getaddrinfo(host, None)}))

    th = threading.Thread(target=run, daemon=True, name="scer-resolve")
    th.start()
    th.join(_RESOLVE_TIMEOUT_S)
    return list(out)


@dataclass
class Answer:
    """One request's outcome."""

    ok: bool
    kind: str = ""  # the failure kind ("" when ok)
    reason: str = ""
    status: int | None = None
    ttft_s: float | None = None
    latency_s: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    chunks: int = 0  # streamed chunks that carried text
    token_source: str = "usage"  # "usage" (the server's counts) or "chunks" (text chunks counted)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def output_tokens(self) -> int:
        return int(self.completion_tokens if self.completion_tokens is not None else self.chunks)


class _Fail(Exception):
    def __init__(self, kind: str, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.kind, self.reason, self.status = kind, reason, status


class Client:
    """One connection to the endpoint (one per concurrent client thread), reused between requests."""

    def __init__(self, endpoint: Endpoint, *, model: str, api: str = "chat", api_key: str | None = None,
                 max_tokens: int = 10, timeout_s: float = 120.0, connect_timeout_s: float = 10.0,
                 max_body_bytes: int = MAX_BODY_BYTES, extra_body: Mapping[str, Any] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if api not in APIS:
            raise EndpointError(f"api={api!r}: use one of {', '.join(APIS)}")
        self.ep, self.model, self.api = endpoint, model, api
        self._key = api_key
        self.max_tokens = int(max_tokens)
        self.timeout_s = float(timeout_s)
        self.connect_timeout_s = float(connect_timeout_s)
        self.max_body_bytes = int(max_body_bytes)
        self.extra_body = dict(extra_body or {})
        self.clock = clock
        self._conn: http.client.HTTPConnection | None = None

    # -- the wire ---------------------------------------------------------------------------------------
    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self.ep.scheme == "https":
                self._conn = http.client.HTTPSConnection(self.ep.host, self.ep.port, timeout=self.connect_timeout_s,
                                                         context=ssl.create_default_context())
            else:
                self._conn = http.client.HTTPConnection(self.ep.host, self.ep.port, timeout=self.connect_timeout_s)
            self._conn.connect()
            if self._conn.sock is not None:  # a request goes out at once (no Nagle wait): latency is the server's
                self._conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def body(self, prompt: str) -> dict[str, Any]:
        b: dict[str, Any] = {"model": self.model, "max_tokens": self.max_tokens, "temperature": 0, "stream": True,
                             "stream_options": {"include_usage": True}}
        if self.api == "chat":
            b["messages"] = [{"role": "user", "content": prompt}]
        else:
            b["prompt"] = prompt
        b.update(self.extra_body)
        return b

    def request(self, prompt: str, on_first_token: Callable[[], None] | None = None) -> Answer:
        """Send one prompt; never raises for what the server does (the answer says)."""
        t0 = self.clock()
        deadline = t0 + self.timeout_s
        ans = Answer(ok=False)
        try:
            self._send(prompt)
            resp = self._response(deadline)
            ans.status = resp.status
            self._read_stream(resp, ans, t0, deadline, on_first_token)
            ans.ok = True
            ans.token_source = "usage" if ans.completion_tokens is not None else "chunks"
        except _Fail as f:
            ans.kind, ans.reason, ans.status = f.kind, f.reason, f.status if f.status is not None else ans.status
            self.close()
        except (ConnectionRefusedError, ConnectionResetError, BrokenPipeError) as exc:
            ans.kind, ans.reason = "refused", f"connection failed ({type(exc).__name__})"
            self.close()
        except TimeoutError:
            ans.kind, ans.reason = "timeout", f"no answer within {self.timeout_s:g} s"
            self.close()
        except (OSError, http.client.HTTPException, ValueError) as exc:
            ans.kind, ans.reason = "refused", f"connection failed ({type(exc).__name__})"
            self.close()
        ans.latency_s = self.clock() - t0
        return ans

    def _send(self, prompt: str) -> None:
        data = json.dumps(self.body(prompt)).encode()
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream", "Accept-Encoding": "identity"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"  # the endpoint's own origin only: no redirect followed
        conn = self._connection()
        try:
            conn.request("POST", self.ep.route(self.api), body=data, headers=headers)
        except (http.client.CannotSendRequest, BrokenPipeError, ConnectionResetError):
            self.close()  # a kept-alive connection the server closed: one fresh try
            self._connection().request("POST", self.ep.route(self.api), body=data, headers=headers)

    def _response(self, deadline: float) -> http.client.HTTPResponse:
        conn = self._connection()
        if conn.sock is not None:
            conn.sock.settimeout(max(0.001, min(self.timeout_s, deadline - self.clock())))
        resp = conn.getresponse()
        if 300 <= resp.status < 400:
            resp.read(0)
            raise _Fail("redirect", f"HTTP {resp.status} redirect, not followed", resp.status)
        if resp.status >= 400:
            self._drain(resp, deadline)
            kind = "http 5xx" if resp.status >= 500 else "http 4xx"
            raise _Fail(kind, f"HTTP {resp.status}", resp.status)
        return resp

    def _drain(self, resp: http.client.HTTPResponse, deadline: float) -> None:
        n = 0
        while self.clock() < deadline and n <= 65536:
            b = resp.read1(4096) if hasattr(resp, "read1") else resp.read(4096)
            if not b:
                return
            n += len(b)
        self.close()

    def _lines(self, resp: http.client.HTTPResponse, deadline: float) -> Any:
        total = 0
        while True:
            left = deadline - self.clock()
            if left <= 0:
                raise _Fail("timeout", f"the answer took longer than {self.timeout_s:g} s")
            sock = self._conn.sock if self._conn is not None else None
            if sock is not None:
                sock.settimeout(left)  # each read waits at most what is left of the request's deadline
            line = resp.readline(MAX_LINE_BYTES + 1)
            if not line:
                return
            total += len(line)
            if len(line) > MAX_LINE_BYTES or total > self.max_body_bytes:
                raise _Fail("too large", f"the answer is larger than {self.max_body_bytes:,} bytes (or a line over "
                                         f"{MAX_LINE_BYTES:,})")
            yield line

    def _read_stream(self, resp: http.client.HTTPResponse, ans: Answer, t0: float, deadline: float,
                     on_first_token: Callable[[], None] | None) -> None:
        ctype = (resp.getheader("Content-Type") or "").lower()
        if "text/event-stream" not in ctype:  # a server that ignored "stream": one JSON body
            body = b"".join(self._lines(resp, deadline))
            self._final(_json(body), ans, t0, on_first_token)
            return
        done = False
        for raw in self._lines(resp, deadline):  # to the end of the response, so the connection can be reused
            line = raw.strip()
            if done or not line.startswith(b"data:"):
                continue  # comments, event names, blank separators, anything after [DONE]
            payload = line[5:].strip()
            if payload == b"[DONE]":
                done = True
                continue
            self._chunk(_json(payload), ans, t0, on_first_token)
        if not done and ans.completion_tokens is None and ans.chunks == 0:
            raise _Fail("malformed", "the stream ended without a token or [DONE]")

    def _chunk(self, d: Any, ans: Answer, t0: float, on_first_token: Callable[[], None] | None) -> None:
        if not isinstance(d, dict):
            raise _Fail("malformed", "a streamed event is not a JSON object")
        if d.get("error") is not None:
            raise _Fail("stream error", "the server reported an error in the stream")
        self._usage(d.get("usage"), ans)
        for ch in d.get("choices") or []:
            if not isinstance(ch, dict):
                raise _Fail("malformed", "a streamed choice is not a JSON object")
            delta = d if isinstance(d := ch.get("delta"), dict) else {}
            text = delta.get("content") if self.api == "chat" else ch.get("text")
            if text is None and self.api == "chat":
                text = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(text, str) and text:
                if ans.ttft_s is None:
                    ans.ttft_s = self.clock() - t0
                    if on_first_token is not None:
                        on_first_token()
                ans.chunks += 1

    def _final(self, d: Any, ans: Answer, t0: float, on_first_token: Callable[[], None] | None) -> None:
        if not isinstance(d, dict) or not isinstance(d.get("choices"), list):
            raise _Fail("malformed", "the answer is not a completion (no choices)")
        self._usage(d.get("usage"), ans)
        for ch in d["choices"]:
            msg = ch.get("message") if isinstance(ch, dict) else None
            text = (msg or {}).get("content") if self.api == "chat" else (ch or {}).get("text")
            if isinstance(text, str) and text:
                ans.chunks += 1
        if ans.chunks and on_first_token is not None:
            on_first_token()  # not streamed: the first token is known only with the last

    def _usage(self, u: Any, ans: Answer) -> None:
        if u is None:
            return
        if not isinstance(u, dict):
            raise _Fail("malformed", "usage is not a JSON object")
        for key, attr in (("prompt_tokens", "prompt_tokens"), ("completion_tokens", "completion_tokens")):
            v = u.get(key)
            if v is None:
                continue
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MAX_TOKENS_PLAUSIBLE:
                raise _Fail("malformed", f"usage.{key} is not a plausible token count")
            setattr(ans, attr, v)


def _json(b: bytes) -> Any:
    try:
        return json.loads(b)
    except (ValueError, UnicodeDecodeError):
        raise _Fail("malformed", "the answer is not valid JSON") from None
