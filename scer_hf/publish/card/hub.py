"""Reading and committing a model card on the Hub through ``huggingface_hub.HfApi``.

The endpoint is resolved at call time (``endpoint=`` > ``HF_ENDPOINT`` >
``huggingface_hub.constants.ENDPOINT``), because huggingface_hub reads ``HF_ENDPOINT``
once, at import. Every failure becomes :class:`~scer_hf.errors.HubPushError` whose
message never contains the token (it is scrubbed, and the original exception is not
chained, since its text may carry request headers).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

from ... import _read
from ..._version import __version__
from ...errors import CardError, HubPushError

__all__ = ["commit_files", "fetch_card", "hub_errors", "make_api", "resolve_endpoint", "scrub"]

_TOKEN_LIKE = re.compile(r"\bhf_[A-Za-z0-9]{6,}\b|(Bearer\s+)\S+")


def resolve_endpoint(endpoint: str | None = None) -> str:
    from huggingface_hub import constants

    return (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def make_api(endpoint: str | None, token: str | None) -> Any:
    from huggingface_hub import HfApi

    return HfApi(endpoint=resolve_endpoint(endpoint), token=token, library_name="scer-hf",
                 library_version=__version__)


def scrub(text: str, *tokens: str | None) -> str:
    """*text* without any of *tokens*, ``hf_...`` tokens or ``Bearer ...`` values."""
    for t in tokens:
        if t:
            text = text.replace(t, "***")
    return _TOKEN_LIKE.sub(lambda m: (m.group(1) or "") + "***", text)


def _env_token() -> str | None:
    try:
        from huggingface_hub import get_token

        return get_token()
    except Exception:  # noqa: BLE001 - only used to scrub messages
        return None


def _network_errors() -> tuple[type[BaseException], ...]:
    """OSError plus the base error of whichever HTTP client huggingface_hub uses (httpx2 in 2.x, httpx in 1.x,
    requests in 0.x)."""
    errs: list[type[BaseException]] = [OSError]
    for mod, attr in (("httpx2", "HTTPError"), ("httpx", "HTTPError"), ("requests", "RequestException")):
        cls = getattr(sys.modules.get(mod), attr, None)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            errs.append(cls)
    return tuple(errs)


@contextlib.contextmanager
def hub_errors(action: str, repo_id: str, token: str | None,
               error: type[CardError] = HubPushError) -> Iterator[None]:
    """Turn huggingface_hub / network failures into *error* (:class:`HubPushError`; token-free)."""
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        yield
    except RepositoryNotFoundError:
        msg = (f"{action}: repository {repo_id!r} was not found (or this token cannot see it); create it "
               "(huggingface_hub.create_repo) or pass a token with access (token=..., HF_TOKEN, `hf auth login`)")
    except RevisionNotFoundError:
        msg = f"{action}: revision not found in {repo_id!r}; check parent_commit / revision"
    except HfHubHTTPError as exc:
        msg = _http_message(action, repo_id, exc)
    except ValueError as exc:  # HfApi._validate_yaml: the Hub rejected the metadata
        msg = f"{action}: the Hub rejected the card's metadata: {exc}"
    except _network_errors() as exc:
        msg = (f"{action}: network error talking to the Hub ({type(exc).__name__}: {exc}); check the connection "
               "(HF_ENDPOINT / proxies) and retry")
    else:
        return
    raise error(scrub(msg, token, _env_token())) from None


def _http_message(action: str, repo_id: str, exc: Any) -> str:
    """What an HTTP error from the Hub means, by status, and what to do."""
    status = exc.response.status_code if exc.response is not None else None
    server = getattr(exc, "server_message", None) or ""
    known = {
        401: "the Hub refused the credentials (401); pass a valid token with write access (token=..., HF_TOKEN or "
             "`hf auth login`)",
        403: f"the token has no write access to {repo_id!r} (403); use a token with the 'write' role or "
             "create_pr=True on a repo you may open PRs on",
        412: f"{repo_id!r} changed since the card was read (412, parent_commit is stale); re-run to read the new card",
    }
    if status in known:
        return f"{action}: {known[status]}"
    if status is not None and status >= 500:
        return f"{action}: Hub server error {status} ({server or 'no detail'}); nothing was changed, retry later"
    return f"{action}: Hub error {status} ({server or exc})"


def fetch_card(api: Any, repo_id: str, revision: str | None, token: str | None,
               error: type[CardError] = HubPushError) -> tuple[str | None, str, set[str]]:
    """(README.md text or None, commit sha it was read at, file names at that commit).

    A failure raises *error*: :class:`HubPushError` when reading is the first step of a push (``update_card``),
    :class:`~scer_hf.errors.HubReadError` when only reading (``scer-hf card show``).
    """
    with hub_errors("reading the model card", repo_id, token, error):
        info = api.model_info(repo_id, revision=revision)
        files = {s.rfilename for s in (info.siblings or [])}
        if "README.md" not in files:
            return None, info.sha, files
        with tempfile.TemporaryDirectory(prefix="scer-card-") as tmp:
            path = api.hf_hub_download(repo_id, "README.md", revision=info.sha, cache_dir=tmp)
            raw = _read.read_bytes(path, what="model card", error=error)  # size cap: a card is a few KB
    try:
        return raw.decode("utf-8"), info.sha, files
    except UnicodeDecodeError as exc:
        raise CardError(f"README.md of {repo_id!r} is not UTF-8 ({exc.reason} at byte {exc.start}); "
                        "the Hub expects UTF-8 model cards") from None


def commit_files(api: Any, repo_id: str, files: dict[str, bytes], *, message: str, create_pr: bool,
                 parent_commit: str | None, revision: str | None, token: str | None) -> Any:
    """One commit adding *files*; returns huggingface_hub's ``CommitInfo``."""
    from huggingface_hub import CommitOperationAdd

    ops = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=b) for p, b in files.items()]
    with hub_errors("pushing the model card", repo_id, token):
        return api.create_commit(repo_id, ops, commit_message=message, create_pr=create_pr,
                                 parent_commit=parent_commit, revision=revision)
