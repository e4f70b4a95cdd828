"""A tiny Hub-compatible HTTP server on 127.0.0.1 for tests (no traffic leaves the machine).

It implements only the routes the real ``huggingface_hub`` 2.x client calls to create a
repo, read repo info, download a file, and commit (preupload + NDJSON commit, PRs as
``refs/pr/N``), plus ``/api/validate-yaml`` and ``/api/whoami-v2``. Routes were read from
``huggingface_hub/hf_api.py``, ``_commit_api.py`` and ``file_download.py`` (2.4.0).

Usage::

    with FakeHub() as hub:                      # or FakeHub(tokens={"hf_w": "write"})
        use_fake_hub(monkeypatch, hub)          # HF_ENDPOINT + huggingface_hub constants
        hub.create_repo("org/model", {"README.md": b"..."})
        hub.fail("/commit/", status=500)        # inject failures (or drop=True)

Every request is logged in ``hub.log`` as ``(method, path, status)``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

__all__ = ["FakeHub", "use_fake_hub"]

_FM = re.compile(r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))")


def _git_hash(data: bytes) -> str:
    return hashlib.sha1(b"blob " + str(len(data)).encode() + b"\0" + data).hexdigest()


@dataclass
class _Failure:
    pattern: str
    method: str | None
    status: int
    times: int | None
    drop: bool
    message: str


@dataclass
class _Repo:
    refs: dict[str, str] = field(default_factory=dict)            # branch -> commit sha
    commits: dict[str, dict[str, Any]] = field(default_factory=dict)
    prs: int = 0


class FakeHub:
    """In-memory model repos behind a loopback HTTP server."""

    def __init__(self, tokens: dict[str, str] | None = None) -> None:
        self.tokens = tokens  # token -> "read" | "write"; None = accept anything
        self.repos: dict[str, _Repo] = {}
        self.log: list[tuple[str, str, int]] = []
        self.bodies: list[bytes] = []
        self._failures: list[_Failure] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            fake = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test helpers ----------------------------------------------------------------------
    def create_repo(self, repo_id: str, files: dict[str, bytes] | None = None) -> str:
        with self._lock:
            self.repos[repo_id] = _Repo()
            return self._commit(repo_id, "main", dict(files or {}), "initial commit", None)

    def file(self, repo_id: str, path: str, revision: str = "main") -> bytes | None:
        repo = self.repos[repo_id]
        sha = repo.refs.get(revision, revision)
        return repo.commits[sha]["files"].get(path) if sha in repo.commits else None

    def head(self, repo_id: str, revision: str = "main") -> str:
        return self.repos[repo_id].refs[revision]

    def history(self, repo_id: str, revision: str = "main") -> list[dict[str, Any]]:
        repo, out = self.repos[repo_id], []
        sha: str | None = repo.refs[revision]
        while sha:
            out.append({"oid": sha, **repo.commits[sha]})
            sha = repo.commits[sha]["parent"]
        return out

    def fail(self, pattern: str, status: int = 500, *, method: str | None = None, times: int | None = None,
             drop: bool = False, message: str = "injected failure") -> None:
        """Answer requests whose path matches regex *pattern* with *status* (or drop the connection)."""
        with self._lock:
            self._failures.append(_Failure(pattern, method, status, times, drop, message))

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()

    # -- internals -------------------------------------------------------------------------
    def _commit(self, repo_id: str, branch: str, files: dict[str, bytes], summary: str, parent: str | None) -> str:
        body = json.dumps([summary, parent, sorted((k, _git_hash(v)) for k, v in files.items()), time.time_ns()])
        sha = hashlib.sha1(body.encode()).hexdigest()
        self.repos[repo_id].commits[sha] = {"files": files, "parent": parent, "summary": summary}
        self.repos[repo_id].refs[branch] = sha
        return sha

    def _failure_for(self, method: str, path: str) -> _Failure | None:
        with self._lock:
            for f in self._failures:
                if (f.method is None or f.method == method) and re.search(f.pattern, path):
                    if f.times is not None:
                        f.times -= 1
                        if f.times <= 0:
                            self._failures.remove(f)
                    return f
        return None


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # keep pytest output quiet
        pass

    # -- plumbing --------------------------------------------------------------------------
    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None,
              error_code: str | None = None) -> None:
        if isinstance(body, (dict, list)):
            raw, ctype = json.dumps(body).encode(), "application/json"
        elif isinstance(body, str):
            raw, ctype = body.encode(), "text/plain"
        else:
            raw, ctype = body or b"", "application/octet-stream"
        self.fake.log.append((self.command, self.path, status))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(raw)))
        if error_code:
            self.send_header("X-Error-Code", error_code)
        if status >= 400 and isinstance(body, dict) and "error" in body:
            self.send_header("X-Error-Message", str(body["error"]))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)

    def _body(self) -> bytes:
        if getattr(self, "_consumed", False):
            return b""
        self._consumed = True
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n) if n else b""
        self.fake.bodies.append(data)
        return data

    def _drain(self) -> None:
        """Read a request body no route read (errors, injected failures), so a kept-alive connection stays in
        step: an unread body would be parsed as the next request and the client would see a dropped connection."""
        if not getattr(self, "_consumed", False) and not self.close_connection:
            self._consumed = True
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)

    def _auth(self, write: bool) -> bool:
        tokens = self.fake.tokens
        if tokens is None:
            return True
        auth = self.headers.get("Authorization", "")
        role = tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
        if role is None:
            self._send(401, {"error": "Invalid credentials in Authorization header"})
            return False
        if write and role != "write":
            self._send(403, {"error": "You don't have the rights to write to this repo"})
            return False
        return True

    def _dispatch(self) -> None:
        self._consumed = False
        try:
            self._dispatch_inner()
        finally:
            self._drain()

    def _dispatch_inner(self) -> None:
        split = urlsplit(self.path)
        path, query = split.path, parse_qs(split.query)
        fail = self.fake._failure_for(self.command, path)
        if fail is not None:
            if fail.drop:
                self.fake.log.append((self.command, self.path, 0))
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self._send(fail.status, {"error": fail.message})
            return
        segs = [unquote(s) for s in path.strip("/").split("/")]
        try:
            self._route(segs, query)
        except Exception as exc:  # a server bug must not hang the client
            self._send(500, {"error": f"fake hub bug: {exc!r}"})

    do_GET = do_POST = do_HEAD = do_PUT = _dispatch

    # -- routes ----------------------------------------------------------------------------
    def _route(self, s: list[str], q: dict[str, list[str]]) -> None:
        m = self.command
        if s[:2] == ["api", "whoami-v2"] and m == "GET":
            if self._auth(False):
                self._send(200, {"type": "user", "name": "tester", "auth": {"type": "access_token"}})
        elif s[:3] == ["api", "repos", "create"] and m == "POST":
            self._create(json.loads(self._body() or b"{}"))
        elif s[:2] == ["api", "validate-yaml"] and m == "POST":
            self._validate(json.loads(self._body() or b"{}"))
        elif len(s) >= 4 and s[:2] == ["api", "models"]:
            repo_id, rest = f"{s[2]}/{s[3]}", s[4:]
            if repo_id not in self.fake.repos:
                self._body()
                self._send(404, {"error": "Repository not found"}, error_code="RepoNotFound")
            elif not rest or rest[0] == "revision":
                self._info(repo_id, rest[1] if len(rest) > 1 else "main")
            elif rest[0] == "tree":
                self._tree(repo_id, rest[1] if len(rest) > 1 else "main")
            elif rest[0] == "paths-info" and m == "POST":
                self._paths_info(repo_id, rest[1], self._body())
            elif rest[0] == "preupload" and m == "POST":
                self._preupload(repo_id, rest[1], json.loads(self._body()))
            elif rest[0] == "commit" and m == "POST":
                self._commit(repo_id, rest[1], self._body(), q)
            else:
                self._send(404, {"error": f"no route {self.path}"})
        elif len(s) >= 5 and s[2] == "resolve" and m in ("GET", "HEAD"):
            self._resolve(f"{s[0]}/{s[1]}", s[3], "/".join(s[4:]))
        else:
            self._body()
            self._send(404, {"error": f"no route {self.command} {self.path}"})

    def _rev(self, repo_id: str, revision: str) -> str | None:
        repo = self.fake.repos[repo_id]
        if revision in repo.refs:
            return repo.refs[revision]
        return revision if revision in repo.commits else None

    def _rev_or_404(self, repo_id: str, revision: str) -> str | None:
        """The commit of *revision*, or None after answering 404 RevisionNotFound."""
        sha = self._rev(repo_id, revision)
        if sha is None:
            self._send(404, {"error": "Invalid rev id"}, error_code="RevisionNotFound")
        return sha

    def _create(self, body: dict[str, Any]) -> None:
        if not self._auth(True):
            return
        repo_id = f"{body.get('organization') or 'tester'}/{body['name']}"
        with self.fake._lock:
            if repo_id in self.fake.repos:
                self._send(409, {"error": "You already created this model repo", "url": f"{self.fake.url}/{repo_id}"})
                return
            self.fake.create_repo(repo_id, {".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"})
        self._send(200, {"url": f"{self.fake.url}/{repo_id}", "name": repo_id})

    def _validate(self, body: dict[str, Any]) -> None:
        m = _FM.search(body.get("content", ""))
        try:
            data = yaml.safe_load(m.group(2)) if m else {}
        except yaml.YAMLError as exc:
            self._send(400, {"errors": [{"message": f"Invalid YAML: {exc}"}]})
            return
        if data is not None and not isinstance(data, dict):
            self._send(400, {"errors": [{"message": "metadata must be a mapping"}]})
            return
        co2 = (data or {}).get("co2_eq_emissions")
        em = co2.get("emissions") if isinstance(co2, dict) else co2
        if co2 is not None and (not isinstance(em, (int, float)) or isinstance(em, bool)):
            self._send(400, {"errors": [{"message": '"co2_eq_emissions.emissions" must be a number'}]})
            return
        self._send(200, {"errors": [], "warnings": []})

    def _info(self, repo_id: str, revision: str) -> None:
        if not self._auth(False):
            return
        sha = self._rev_or_404(repo_id, revision)
        if sha is None:
            return
        files = self.fake.repos[repo_id].commits[sha]["files"]
        card = None
        readme = files.get("README.md")
        if readme is not None:
            fm = _FM.search(readme.decode("utf-8-sig", "replace"))
            try:
                card = yaml.safe_load(fm.group(2)) if fm else None
            except yaml.YAMLError:
                card = None
        info = {"_id": sha[:24], "id": repo_id, "modelId": repo_id, "sha": sha, "private": False,
                "tags": list((card or {}).get("tags") or []) if isinstance(card, dict) else [],
                "siblings": [{"rfilename": p} for p in sorted(files)],
                "cardData": card if isinstance(card, dict) else None}
        info.update(_model_extras(files))
        self._send(200, info)

    def _entries(self, files: dict[str, bytes], paths: list[str] | None) -> list[dict[str, Any]]:
        return [{"type": "file", "path": p, "size": len(b), "oid": _git_hash(b)}
                for p, b in sorted(files.items()) if paths is None or p in paths]

    def _tree(self, repo_id: str, revision: str) -> None:
        sha = self._rev_or_404(repo_id, revision)
        if sha is None:
            return
        self._send(200, self._entries(self.fake.repos[repo_id].commits[sha]["files"], None))

    def _paths_info(self, repo_id: str, revision: str, raw: bytes) -> None:
        sha = self._rev(repo_id, revision)
        form = parse_qs(raw.decode()) if raw and not raw.startswith(b"{") else {}
        paths = form.get("paths") or (json.loads(raw).get("paths", []) if raw.startswith(b"{") else [])
        files = self.fake.repos[repo_id].commits[sha]["files"] if sha else {}
        self._send(200, self._entries(files, list(paths)))

    def _resolve(self, repo_id: str, revision: str, path: str) -> None:
        if repo_id not in self.fake.repos:
            self._send(404, {"error": "Repository not found"}, error_code="RepoNotFound")
            return
        if not self._auth(False):
            return
        sha = self._rev_or_404(repo_id, revision)
        if sha is None:
            return
        data = self.fake.repos[repo_id].commits[sha]["files"].get(path)
        if data is None:
            self._send(404, {"error": "Entry not found"}, error_code="EntryNotFound",
                       headers={"X-Repo-Commit": sha})
            return
        self._send(200, data, headers={"X-Repo-Commit": sha, "ETag": f'"{_git_hash(data)}"'})

    def _preupload(self, repo_id: str, revision: str, body: dict[str, Any]) -> None:
        if not self._auth(True):
            return
        sha = self._rev(repo_id, revision)
        files = self.fake.repos[repo_id].commits[sha]["files"] if sha else {}
        out = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                "oid": _git_hash(files[f["path"]]) if f["path"] in files else None} for f in body.get("files", [])]
        self._send(200, {"files": out, "commitOid": sha})

    def _commit(self, repo_id: str, revision: str, raw: bytes, q: dict[str, list[str]]) -> None:
        if not self._auth(True):
            return
        lines = [json.loads(x) for x in raw.splitlines() if x.strip()]
        header = next((x["value"] for x in lines if x["key"] == "header"), {})
        create_pr = q.get("create_pr", ["0"])[0] in ("1", "true")
        with self.fake._lock:
            repo = self.fake.repos[repo_id]
            head = self._rev(repo_id, revision)
            if head is None:
                self._send(404, {"error": "Invalid rev id"}, error_code="RevisionNotFound")
                return
            parent = header.get("parentCommit")
            if parent and parent != head and not create_pr:
                self._send(412, {"error": "A commit has happened since. Please refresh and try again."})
                return
            if parent and parent not in repo.commits:
                self._send(400, {"error": f"Invalid parent commit {parent}"})
                return
            base = parent or head
            files = dict(repo.commits[base]["files"])
            for item in lines:
                k, v = item["key"], item.get("value", {})
                if k == "file":
                    files[v["path"]] = base64.b64decode(v["content"]) if v.get("encoding") == "base64" \
                        else v["content"].encode()
                elif k == "deletedFile":
                    files.pop(v["path"], None)
                elif k == "deletedFolder":
                    files = {p: b for p, b in files.items() if not p.startswith(v["path"].rstrip("/") + "/")}
                elif k == "lfsFile":
                    self._send(400, {"error": "this fake hub only accepts regular files"})
                    return
            if create_pr:
                repo.prs += 1
                branch = f"refs/pr/{repo.prs}"
            else:
                branch = revision if revision in repo.refs else "main"
            sha = self.fake._commit(repo_id, branch, files, header.get("summary", ""), base)
        out = {"commitUrl": f"{self.fake.url}/{repo_id}/commit/{sha}", "commitOid": sha, "success": True}
        if create_pr:
            out["pullRequestUrl"] = f"{self.fake.url}/{repo_id}/discussions/{repo.prs}"
        self._send(200, out)


def _model_extras(files: dict[str, bytes]) -> dict[str, Any]:
    """``config`` (config.json) and ``safetensors`` ({"parameters": {dtype: n}, "total": n}, from the headers of
    the repo's .safetensors files) as the real Hub returns them for ``expand=["config", "safetensors"]``."""
    out: dict[str, Any] = {}
    if "config.json" in files:
        try:
            out["config"] = json.loads(files["config.json"])
        except ValueError:
            pass
    per: dict[str, int] = {}
    for name, data in files.items():
        if name.endswith(".safetensors") and len(data) >= 8:
            n = int.from_bytes(data[:8], "little")
            for key, t in json.loads(data[8:8 + n]).items():
                if key != "__metadata__":
                    size = 1
                    for d in t["shape"]:
                        size *= d
                    per[t["dtype"]] = per.get(t["dtype"], 0) + size
    if per:
        out["safetensors"] = {"parameters": per, "total": sum(per.values())}
    return out


def use_fake_hub(monkeypatch: Any, hub: FakeHub) -> None:
    """Point huggingface_hub (and transformers' shared HfApi) at *hub* for one test.

    ``huggingface_hub.constants.ENDPOINT`` is read once at import, so besides
    ``HF_ENDPOINT`` the constants are patched for the duration of the test.
    """
    from huggingface_hub import constants

    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setattr(constants, "ENDPOINT", hub.url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.url + "/{repo_id}/resolve/{revision}/{filename}")
    th = sys.modules.get("transformers.utils.hub")  # built later, it reads the patched constants
    if th is not None:
        monkeypatch.setattr(th, "_hf_api", None)  # its shared HfApi caches the endpoint when first built
