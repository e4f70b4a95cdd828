"""Atomic file writes: a crash or kill leaves the old file or the new one, never half."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["atomic_write_text", "atomic_write_bytes"]


# the process umask, read once: os.umask() can only be read by setting it, which races with other threads
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _mode_for(p: Path) -> int:
    """An existing file's permissions, else what ``open()`` would give a new file (0666 minus the umask)."""
    try:
        return stat.S_IMODE(os.stat(p).st_mode)
    except OSError:
        return 0o666 & ~_UMASK


def atomic_write_text(path: str | os.PathLike[str], text: str, *, newline: str | None = None) -> Path:
    """Write *text* as UTF-8, line endings as given; ``newline="\r\n"`` (say) replaces each ``"\n"``."""
    if newline not in (None, "", "\n"):
        text = text.replace("\n", newline)
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike[str], content: bytes) -> Path:
    p = Path(path)
    if p.is_dir():  # else os.replace fails naming our temporary file, not the path the caller gave
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a file path", str(p))
    p.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    except OSError as exc:  # name the caller's path, not the temporary file's
        raise type(exc)(exc.errno, exc.strerror, str(p)) from exc
    try:
        os.fchmod(fd, _mode_for(p))  # mkstemp makes 0600; a report or card must be as readable as any file
        with os.fdopen(fd, "wb") as fb:
            fb.write(content)
            fb.flush()
            os.fsync(fb.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename durable
        dfd = os.open(p.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return p
