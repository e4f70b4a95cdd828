"""Shared pieces of the adversarial harness: running one case with a deadline and a memory probe, judging it."""

from __future__ import annotations

import json
import os
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

SECRET = "SECRET-CONTENT-5f1e"   # planted in hostile files: it must never appear in an error message or output
TOKEN = "tok-SECRET-9b2c4d"       # a secret header value: it must never reach another origin or a report
#: the first 8 bytes of a planted file read as a safetensors header length: a message quoting it leaks them
SECRET_AS_LENGTH = str(int.from_bytes(SECRET[:8].encode(), "little"))
CASE_TIMEOUT_S = 20.0             # a case still running after this is a hang
MEM_LIMIT_MB = 150.0              # peak Python allocation of one case


@dataclass
class Outcome:
    kind: str                     # ok | typed | untyped | hang
    value: Any = None
    exc: BaseException | None = None
    elapsed_s: float = 0.0
    peak_mb: float = 0.0

    @property
    def message(self) -> str:
        return f"{type(self.exc).__name__}: {self.exc}" if self.exc is not None else ""

    def short(self) -> str:
        m = self.message.replace("\n", " ")
        return f"{self.kind} in {self.elapsed_s:.1f}s, {self.peak_mb:.0f} MB" + (f" ({m[:160]})" if m else "")


@dataclass
class Case:
    name: str
    run: Callable[[], Any]
    check: Callable[[Outcome], str | None]          # None: passed; else why it failed
    timeout_s: float = CASE_TIMEOUT_S
    cleanup: Callable[[], None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _attempt(case: Case) -> Outcome:
    """Run *case* here, with a memory probe; the outcome's kind says how it ended."""
    from scer_hf.errors import SCERError

    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        value = case.run()
    except SCERError as exc:
        out = Outcome("typed", exc=exc)
    except BaseException as exc:  # noqa: BLE001 - the harness records what escaped
        out = Outcome("untyped", exc=exc)
    else:
        out = Outcome("ok", value=value)
    out.elapsed_s = time.perf_counter() - t0
    out.peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return out


def run_case(case: Case) -> tuple[str | None, str]:
    """``(why it failed or None, outcome)``: *case* runs and is judged in a forked child (its own memory, its own
    threads); a child still running at the deadline is a hang and is killed."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)

    def child() -> None:
        o = _attempt(case)
        try:
            why = case.check(o)
        except Exception as exc:  # noqa: BLE001 - a check that cannot read the result is a failure
            why = f"check failed: {type(exc).__name__}: {exc}"[:200]
        send.send((why, o.short()))

    t0 = time.perf_counter()
    proc = ctx.Process(target=child, daemon=True)
    proc.start()
    got = recv.recv() if recv.poll(case.timeout_s) else None
    proc.join(1.0)
    if proc.is_alive():
        proc.kill()
        proc.join()
    if case.cleanup is not None:
        try:
            case.cleanup()
        except Exception:  # noqa: BLE001
            pass
    if got is None:
        return "hangs", f"hang (killed after {time.perf_counter() - t0:.0f} s)"
    return got


def basic(o: Outcome, *, max_s: float = 10.0,
          secrets: tuple[str, ...] = (SECRET, TOKEN, SECRET_AS_LENGTH)) -> str | None:
    """The promises every hostile case shares: no hang, no untyped error, bounded time/memory, nothing leaked."""
    if o.kind == "hang":
        return "hangs"
    if o.kind == "untyped":
        return f"untyped {o.message[:200]}"
    if o.elapsed_s > max_s:
        return f"took {o.elapsed_s:.1f} s"
    if o.peak_mb > MEM_LIMIT_MB:
        return f"peak memory {o.peak_mb:.0f} MB"
    for s in secrets:
        if s in o.message:
            return "error message leaks file content or a secret"
    return None


def typed_only(o: Outcome, **kw: Any) -> str | None:
    """Hostile input: a typed scer-hf error (and the basic promises)."""
    why = basic(o, **kw)
    if why:
        return why
    return None if o.kind == "typed" else "accepted (expected a typed error)"


def no_nan(d: Any) -> str | None:
    try:
        json.dumps(d, allow_nan=False)
    except ValueError:
        return "NaN/Infinity in the output"
    return None


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def release_fifos(folder: Path) -> None:
    """Unblock any reader stuck on a FIFO under *folder* (open the write end, then close: the reader sees EOF)."""
    for p in folder.rglob("*"):
        try:
            if p.is_fifo():
                fd = os.open(p, os.O_WRONLY | os.O_NONBLOCK)
                os.close(fd)
        except OSError:
            pass


def sparse(path: Path, size: int, head: bytes = b"") -> Path:
    with open(path, "wb") as fh:
        fh.write(head)
        fh.truncate(size)
    return path


def deep_json(levels: int = 100_000) -> str:
    return "[" * levels + "]" * levels


def report_file(folder: Path, name: str = "good.json") -> Path:
    """A valid scer-hf report (calculator mode), saved with the API that exists before and after."""
    from scer_hf import estimate

    rep = estimate(hardware="H100 SXM", hours=1.0, country_iso_code="FRA", tokens=1e6, model="org/model")
    p = folder / name
    p.write_text(rep.to_json(), encoding="utf-8")
    return p


_IMMUTABLE: list[Path] = []


def read_only(folder: Path) -> Path:
    """Make *folder* unwritable, for root too (``chattr +i`` where it works); :func:`undo_read_only` reverts."""
    import subprocess

    folder.chmod(0o555)
    if os.geteuid() == 0 and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0:
        _IMMUTABLE.append(folder)
    return folder


def undo_read_only() -> None:
    import subprocess

    while _IMMUTABLE:
        subprocess.run(["chattr", "-i", str(_IMMUTABLE.pop())], capture_output=True)
