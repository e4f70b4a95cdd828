"""Atomic file writes: a crash or kill leaves the old file or the new one, never half.

Also the other promises every writer keeps: :func:`refuse_overwrite` (an existing
file, or an input, is never replaced unless asked; a FIFO, device or folder never) and
:func:`file_lock` (a read-modify-write of one file by two processes never loses either's
change). A write goes through a symbolic link to its target (the link stays a link),
creates a missing folder only when asked (``parents=True``), and a system refusal
(read-only folder, full disk) is an :class:`~scer_hf.errors.OutputWriteError` naming the path.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import filelock

from .errors import OutputExistsError, OutputWriteError

__all__ = ["atomic_write_text", "atomic_write_bytes", "file_lock", "try_file_lock", "refuse_overwrite",
           "clean_stale_temps", "write_error", "require_folder"]

# an orphan temporary file (a writer killed between mkstemp and rename) is removed by the next write of the same
# file when its writer's pid is dead, or whatever the pid says once it is this old (a pid from another machine or
# container on a shared disk); no atomic write of a report, card or label takes this long
STALE_TMP_S = 600.0


# the process umask, read once: os.umask() can only be read by setting it, which races with other threads
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _mode_for(p: Path) -> int:
    """An existing file's permissions, else what ``open()`` would give a new file (0666 minus the umask)."""
    try:
        return stat.S_IMODE(os.stat(p).st_mode)
    except OSError:
        return 0o666 & ~_UMASK


def atomic_write_text(path: str | os.PathLike[str], text: str, *, newline: str | None = None,
                      parents: bool = True) -> Path:
    """Write *text* as UTF-8, line endings as given; ``newline="\r\n"`` (say) replaces each ``"\n"``."""
    if newline not in (None, "", "\n"):
        text = text.replace("\n", newline)
    return atomic_write_bytes(path, text.encode("utf-8"), parents=parents)


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT there: only the age rule applies
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, another user's
        return True
    return True


def clean_stale_temps(path: str | os.PathLike[str], *, max_age_s: float = STALE_TMP_S) -> list[Path]:
    """Remove orphan temporary files of :func:`atomic_write_bytes` for *path*; return those removed.

    Only names of our exact pattern are touched: ``.<name>.<pid>.<8 random>.tmp`` (this
    version; removed when that pid is dead, or after *max_age_s*) and ``.<name>.<8 random>.tmp``
    (earlier versions, no pid; removed after *max_age_s*). A live writer's file is kept: its
    pid is alive (this process's own threads included) and its file is young.
    """
    p = Path(path)
    name = re.escape(p.name)
    ours = re.compile(rf"\.{name}\.(\d+)\.[a-z0-9_]{{8}}\.tmp")
    legacy = re.compile(rf"\.{name}\.[a-z0-9_]{{8}}\.tmp")
    removed: list[Path] = []
    try:
        entries = list(os.scandir(p.parent))
    except OSError:
        return removed
    now = time.time()
    for e in entries:
        m = ours.fullmatch(e.name)
        if m is None and legacy.fullmatch(e.name) is None:
            continue
        try:
            st = e.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        old = now - st.st_mtime > max_age_s
        if not (old or (m is not None and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))))):
            continue
        try:
            os.unlink(e.path)
            removed.append(Path(e.path))
        except OSError:
            pass
    return removed


def _lock_path(path: str | os.PathLike[str], kind: str = "write") -> str:
    """The lock file for *path*: in a per-user folder of the temp dir, keyed by the real path, so
    user folders (pushed to the Hub as they are) get no lock files."""
    real = os.path.realpath(os.path.abspath(os.fspath(path)))
    folder = Path(tempfile.gettempdir()) / f"scer-hf-locks-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return str(folder / (hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:40] + f".{kind}.lock"))


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str], *, timeout_s: float = 120.0) -> Iterator[None]:
    """Hold an exclusive inter-process lock on *path* (a ``filelock`` lock) for a read-modify-write.

    Processes on one machine that edit the same file (a README's training and inference
    boundaries, a report) take turns. Raises ``TimeoutError`` naming the file after *timeout_s*.
    """
    lock = filelock.FileLock(_lock_path(path), thread_local=False)
    try:
        lock.acquire(timeout=timeout_s)
    except filelock.Timeout:
        raise TimeoutError(errno.ETIMEDOUT, f"another process held the lock for over {timeout_s:g} s; try again",
                           str(path)) from None
    try:
        yield
    finally:
        lock.release()


def try_file_lock(path: str | os.PathLike[str], kind: str = "run") -> filelock.BaseFileLock | None:
    """A long-held lock of *path* (not :func:`file_lock`'s), acquired now, or ``None`` when someone (this
    process included) holds it. The caller releases it (``.release()``); so does the process's end."""
    lock = filelock.FileLock(_lock_path(path, kind), thread_local=False)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        return None
    return lock


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def refuse_overwrite(out: str | os.PathLike[str], *, overwrite: bool, inputs: Iterable[object] = (),
                     flag: str = "--overwrite") -> Path:
    """Check before writing *out*: never one of *inputs* (even with *overwrite*; inputs that are not paths are
    skipped), never a folder, FIFO, socket or device, never an existing file unless *overwrite*.
    Raises :class:`~scer_hf.errors.OutputExistsError`."""
    p = Path(out)
    for i in inputs:
        if isinstance(i, (str, os.PathLike)) and _same_file(p, Path(i)):
            raise OutputExistsError(f"{p} is also an input of this command; writing it would destroy that input. "
                                    "Choose another output path")
    if p.is_dir():
        raise OutputExistsError(f"{p} is a folder; give a file path to write")
    _refuse_special(p)
    if not overwrite and (p.exists() or p.is_symlink()):
        raise OutputExistsError(f"{p} already exists; pass {flag} to replace it, or choose another path")
    return p


def _refuse_special(p: Path) -> None:
    """An existing output (or a link's target) that is not a regular file is never replaced."""
    try:
        mode = os.stat(p).st_mode
    except OSError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise OutputExistsError(f"{p} is a pipe, socket or device, not a regular file; scer-hf never writes onto "
                                "one. Choose a file path")


_ADVICE = {errno.EACCES: "the folder is read-only or not yours: choose another path, or fix its permissions",
           errno.EPERM: "the folder is read-only or not yours: choose another path, or fix its permissions",
           errno.EROFS: "the file system is read-only: choose another path",
           errno.ENOSPC: "the disk is full: free some space and run it again",
           errno.EDQUOT: "the disk quota is used up: free some space and run it again",
           errno.EFBIG: "the file is over a size limit (a full disk or a quota): free some space and run it again",
           errno.ENOTDIR: "a file stands where a folder is needed: choose another path",
           errno.ENAMETOOLONG: "the path is too long: choose a shorter one"}


def write_error(path: str | os.PathLike[str], exc: OSError) -> OutputWriteError:
    """The typed error for a failed write of *path*: what the system said and what to do."""
    if isinstance(exc, OutputWriteError):
        return exc
    advice = _ADVICE.get(exc.errno or 0) or "check the path and that you may write there"
    why = exc.strerror or type(exc).__name__
    return OutputWriteError(path, f"cannot write {path}: {why}; {advice}. Nothing was changed", exc.errno)


def atomic_write_bytes(path: str | os.PathLike[str], content: bytes, *, parents: bool = True) -> Path:
    """Write *content* to *path* atomically (a symbolic link: to its target, the link kept); returns *path*.

    A missing folder is created only with *parents*; a failure is an :class:`~scer_hf.errors.OutputWriteError`
    naming *path* (an ``OSError``)."""
    given = Path(path)
    if given.is_dir():  # else os.replace fails naming our temporary file, not the path the caller gave
        raise OutputWriteError(given, f"cannot write {given}: it is a folder; give a file path", errno.EISDIR)
    p = Path(os.path.realpath(given)) if given.is_symlink() else given  # write through a link to its target
    try:
        _refuse_special(p)
    except OutputExistsError as exc:
        raise OutputWriteError(given, str(exc), errno.EEXIST) from None
    if not p.parent.is_dir():
        require_folder(given, parents=parents)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(given, exc) from None
    try:
        _replace_atomically(p, content)
    except OSError as exc:  # name the caller's path, not the temporary file's
        raise write_error(given, exc) from None
    return given


def require_folder(path: str | os.PathLike[str], *, parents: bool) -> Path:
    """*path*, when its folder exists or *parents* allows creating it; else :class:`OutputWriteError` (checked
    before anything is computed, so a mistyped folder fails at once and nothing is created)."""
    p = Path(path)
    real = Path(os.path.realpath(p)) if p.is_symlink() else p
    if not parents and not real.parent.is_dir():
        raise OutputWriteError(p, f"cannot write {p}: the folder {real.parent} does not exist; create it first "
                               "(from Python, parents=True creates it)", errno.ENOENT)
    return p


def _replace_atomically(p: Path, content: bytes) -> None:
    clean_stale_temps(p)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.{os.getpid()}.", suffix=".tmp", dir=p.parent)
    try:
        os.fchmod(fd, _mode_for(p))  # mkstemp makes 0600; a report or card must be as readable as any file
        with os.fdopen(fd, "wb") as fb:
            fb.write(content)
            fb.flush()
            os.fsync(fb.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    try:  # make the rename durable
        dfd = os.open(p.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
