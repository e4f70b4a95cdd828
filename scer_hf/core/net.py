"""Bounded HTTP for the two network clients (the Hub lookup of ``rating.hub``, live grid intensity).

What they share: a response body is read in chunks against a byte cap and a total deadline (not only a timeout per
read), a compressed body is inflated with the same cap (a gzip bomb stops at the cap), and a redirect is followed
only to the same origin (scheme, host, port), so a secret header (``auth-token``, ``Authorization``) never goes to
another host. :func:`get` is the standard-library client (``urllib``, no redirect handler) the core uses; the Hub
lookup drives huggingface_hub's own session with :func:`read_body` and :func:`same_origin`.

Every refusal raises :class:`RefusedAnswer` with a short reason that quotes nothing from the response.
"""

from __future__ import annotations

import functools
import http.client
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

__all__ = ["RefusedAnswer", "origin", "same_origin", "read_body", "get", "REDIRECTS"]

REDIRECTS = (301, 302, 303, 307, 308)
_PORTS = {"http": 80, "https": 443}


class RefusedAnswer(Exception):
    """A response that was not used (too large, too slow, compressed oddly, redirected off-origin, HTTP error)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


def origin(url: str) -> tuple[str, str, int]:
    u = urllib.parse.urlsplit(url)
    scheme = (u.scheme or "").lower()
    return scheme, (u.hostname or "").lower(), u.port or _PORTS.get(scheme, 0)


def same_origin(a: str, b: str) -> bool:
    return origin(a) == origin(b)


def _inflater(encoding: str | None) -> Any:
    enc = (encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        return None
    if enc in ("gzip", "x-gzip", "deflate"):
        return zlib.decompressobj(47 if enc != "deflate" else zlib.MAX_WBITS)
    raise RefusedAnswer(f"the answer is compressed with {enc[:20]!r}, which is not read")


def read_body(chunks: Iterable[bytes], *, encoding: str | None, max_bytes: int, deadline: float) -> bytes:
    """The body from raw *chunks*, inflated (gzip/deflate) within *max_bytes*, before *deadline* (``monotonic``)."""
    inflate = _inflater(encoding)
    out, n = [], 0
    for raw in chunks:
        data = raw
        if inflate is not None:
            data = inflate.decompress(raw, max_bytes + 1 - n)
            if inflate.unconsumed_tail:  # more output is waiting than the cap allows
                n = max_bytes + 1
        n += len(data)
        out.append(data)
        if n > max_bytes:
            raise RefusedAnswer(f"the answer is larger than {max_bytes:,} bytes")
        if time.monotonic() > deadline:
            raise RefusedAnswer("the answer did not arrive in time")
    return b"".join(out)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # every redirect surfaces as an HTTPError
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def get(url: str, headers: Mapping[str, str], *, timeout_s: float, max_bytes: int,
        max_redirects: int = 3) -> bytes:
    """The body of ``GET url``: total time *timeout_s*, at most *max_bytes*, redirects to the same origin only."""
    deadline = time.monotonic() + timeout_s
    for _ in range(max_redirects + 1):
        left = deadline - time.monotonic()
        if left <= 0:
            raise RefusedAnswer("no answer in time")
        req = urllib.request.Request(url, headers={**headers, "Accept-Encoding": "gzip"})
        try:
            with _OPENER.open(req, timeout=left) as resp:  # http(s) URLs given by the caller
                chunks: Iterator[bytes] = iter(functools.partial(resp.read1, 65536), b"")
                return read_body(chunks, encoding=resp.headers.get("Content-Encoding"), max_bytes=max_bytes,
                                 deadline=deadline)
        except urllib.error.HTTPError as exc:
            location = exc.headers.get("Location") if exc.code in REDIRECTS and exc.headers else None
            exc.close()
            if location is None:
                raise RefusedAnswer(f"HTTP {exc.code}", exc.code) from None
            target = urllib.parse.urljoin(url, location)
            if not same_origin(url, target):
                raise RefusedAnswer(f"HTTP {exc.code} redirect to another host, not followed", exc.code) from None
            url = target
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            raise RefusedAnswer(f"unreachable or unreadable ({type(reason).__name__})") from None
    raise RefusedAnswer(f"more than {max_redirects} redirects")
