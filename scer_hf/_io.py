"""Atomic file writes: a crash or kill leaves the old file or the new one, never half."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["atomic_write_text", "atomic_write_bytes"]


def _mode_for(p: Path) -> int:
    """An existing file's permissions, else what ``open()`` would give a new file (0666 minus the umask)."""
    try:
        return stat.S_IMODE(os.stat(p).st_mode)
    except OSError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o666 & ~mask


def atomic_write_text(path: str | os.PathLike[str], text: str, *, newline: str | None = None) -> Path:
    return _atomic_write(path, text, newline)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    return _atomic_write(path, data, None)


def _atomic_write(path: str | os.PathLike[str], content: str | bytes, newline: str | None) -> Path:
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
        if isinstance(content, bytes):
            with os.fdopen(fd, "wb") as fb:
                fb.write(content)
                fb.flush()
                os.fsync(fb.fileno())
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as fh:
                fh.write(content)
                fh.flush()
                os.fsync(fh.fileno())
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
