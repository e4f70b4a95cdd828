"""The one safe reader for every file scer-hf reads from outside the package.

Reports, ratings, ``config.json``, safetensors headers, shard indexes, model cards, labels and CSVs all come
through here, with the same promises:

* **regular files only.** The file is opened with ``O_NONBLOCK`` and checked with ``fstat`` on the opened
  descriptor, so a FIFO, socket or device is refused at once (never waited on) and a path swapped after a check
  cannot slip through. Symbolic links are followed (the Hugging Face cache links every file into ``blobs/``).
* **a size cap** per kind of file (:data:`LIMITS`), checked before a byte is read; never more than the cap is read.
* **a nesting cap** for JSON (:data:`MAX_DEPTH`): a document that would exhaust the parser's stack is refused
  with a typed error, never a ``RecursionError``; NaN and infinities are refused where asked (``finite=True``).
* **names confined to their folder** (:func:`confined`): a name read from inside a file (an index's
  ``weight_map``) may not be absolute or climb out with ``..``.
* **no content in messages.** An error names the file and what is wrong (a byte offset, a line and column), never
  the bytes it read.

Every failure raises the *error* the caller names (its own kind: ``ReportSchemaError`` for a report,
``RatingError`` for a model folder, ...), :class:`~scer_hf.errors.InputFileError` by default.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, BinaryIO

from .errors import InputFileError

__all__ = ["LIMITS", "MAX_DEPTH", "MAX_NODES", "open_regular", "read_bytes", "read_text", "load_json", "loads_json",
           "check_tree", "confined", "MISSING"]

MiB = 1 << 20
#: size cap per kind of file, in bytes
LIMITS = {
    "report": 256 * MiB,        # a long run's report: thousands of phases
    "rating": 16 * MiB,
    "config": 16 * MiB,         # a model's config.json
    "index": 64 * MiB,          # model.safetensors.index.json: one entry per tensor
    "header": 100_000_000,      # a safetensors header (the safetensors format's own limit)
    "card": 16 * MiB,           # a model card README.md
    "label": 16 * MiB,
    "csv": 64 * MiB,
    "file": 64 * MiB,
}
#: deepest JSON nesting read (a report is about 8 deep; a safetensors header 3)
MAX_DEPTH = 64
#: most values a parsed document may expand to (YAML aliases can make a few lines expand to billions)
MAX_NODES = 1_000_000

MISSING: Any = object()  # ``if_missing=`` default: a missing file is an error
_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0) \
    | getattr(os, "O_BINARY", 0)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def _cap(what: str, max_bytes: int | None) -> int:
    return max_bytes if max_bytes is not None else LIMITS.get(what, LIMITS["file"])


@contextlib.contextmanager
def open_regular(path: str | os.PathLike[str], *, what: str = "file", error: type[Exception] = InputFileError,
                 max_bytes: int | None = None, shown: str | None = None) -> Iterator[tuple[BinaryIO, int]]:
    """``(binary file, size)`` of the regular file *path*, refused at once when it is anything else or over the cap.

    The caller reads at most ``size`` bytes (a file that grows while read is cut at the cap by :func:`read_bytes`).
    *shown* names the file in messages instead of its path (a path built from a name read inside another file).
    """
    fd = _open(os.fspath(path), what, error, shown or os.fspath(path))
    p = shown or os.fspath(path)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{p} is {_kind(st.st_mode)}; scer-hf reads a {what} from a regular file only: give the file "
                        "itself, not a pipe, socket, device or folder")
        cap = _cap(what, max_bytes)
        if st.st_size > cap:
            raise error(f"{p} is {st.st_size:,} bytes, over the {cap:,}-byte limit for a {what}; is it the right "
                        "file?")
        fh = os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise
    with fh:
        yield fh, st.st_size


def _open(path: str, what: str, error: type[Exception], shown: str) -> int:
    try:
        return os.open(path, _FLAGS)
    except FileNotFoundError:
        raise error(f"no such file: {shown}; check the path") from None
    except OSError as exc:
        raise error(_os_message(shown, what, exc)) from None


def _os_message(p: str, what: str, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return f"cannot read {p}: a symbolic link loop; point it at a real {what}"
    if exc.errno == errno.ENXIO:
        return f"{p} is a socket or a device, not a regular file; give the {what} itself"
    if exc.errno == errno.EISDIR:
        return f"{p} is a folder; give a {what} file"
    if isinstance(exc, PermissionError):
        return f"cannot read {p}: permission denied; check its permissions"
    return f"cannot read {p}: {exc.strerror or type(exc).__name__}; check the path"


def read_bytes(path: str | os.PathLike[str], *, what: str = "file", max_bytes: int | None = None,
               error: type[Exception] = InputFileError, if_missing: Any = MISSING) -> Any:
    """The bytes of the regular file *path* (see the module docstring); *if_missing* is returned when it does not
    exist, if given."""
    if if_missing is not MISSING and not os.path.lexists(os.fspath(path)):
        return if_missing
    cap = _cap(what, max_bytes)
    with open_regular(path, what=what, error=error, max_bytes=cap) as (fh, _):
        try:
            data = _read_upto(fh, cap + 1)
        except OSError as exc:
            raise error(_os_message(os.fspath(path), what, exc)) from None
    if len(data) > cap:
        raise error(f"{os.fspath(path)} grew past the {cap:,}-byte limit for a {what} while it was read")
    return data


def _read_upto(fh: BinaryIO, n: int) -> bytes:
    chunks, left = [], n
    while left > 0:
        b = fh.read(min(left, 1 << 20))
        if not b:
            break
        chunks.append(b)
        left -= len(b)
    return b"".join(chunks)


def _decode(data: bytes, where: str, what: str, error: type[Exception]) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{where} is not a text (UTF-8) file: invalid byte at offset {exc.start}; is it a {what}? "
                    "Save it as UTF-8") from None


def read_text(path: str | os.PathLike[str], *, what: str = "file", max_bytes: int | None = None,
              error: type[Exception] = InputFileError, if_missing: Any = MISSING) -> Any:
    """The UTF-8 text of the regular file *path* (strict: a non-UTF-8 byte is an error naming its offset)."""
    data = read_bytes(path, what=what, max_bytes=max_bytes, error=error, if_missing=if_missing)
    return data if data is if_missing else _decode(data, os.fspath(path), what, error)


class _NotFinite(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NotFinite(name)


def _finite_float(s: str) -> float:
    f = float(s)
    if not math.isfinite(f):
        raise _NotFinite(s if len(s) <= 20 else "a number too large for a float")
    return f


def _too_deep(d: Any, max_depth: int) -> bool:
    stack: list[tuple[Any, int]] = [(d, 0)]
    while stack:
        x, depth = stack.pop()
        if isinstance(x, dict):
            if depth >= max_depth and x:
                return True
            stack.extend((v, depth + 1) for v in x.values())
        elif isinstance(x, list):
            if depth >= max_depth and x:
                return True
            stack.extend((v, depth + 1) for v in x)
    return False


def loads_json(text: str | bytes, *, where: str = "the document", what: str = "JSON document",
               error: type[Exception] = InputFileError, max_depth: int = MAX_DEPTH, finite: bool = True) -> Any:
    """Parse JSON *text* safely: nesting past *max_depth* and (with *finite*) NaN/Infinity are typed errors."""
    if isinstance(text, bytes):
        text = _decode(text, where, what, error)
    kw: dict[str, Any] = {"parse_constant": _refuse_constant, "parse_float": _finite_float} if finite else {}
    try:
        data = json.loads(text, **kw)
    except RecursionError:
        raise error(f"{where}: JSON nested too deeply (more than {max_depth} levels); is it a {what}?") from None
    except _NotFinite as exc:
        raise error(f"{where}: {exc} is not a JSON number; a {what} holds finite numbers only") from None
    except json.JSONDecodeError as exc:
        raise error(f"{where} is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); is it a "
                    f"{what}?") from None
    except ValueError as exc:  # an integer with more digits than Python converts
        raise error(f"{where} is not usable JSON ({type(exc).__name__}: a number is too long); is it a "
                    f"{what}?") from None
    if _too_deep(data, max_depth):
        raise error(f"{where}: JSON nested too deeply (more than {max_depth} levels); is it a {what}?")
    return data


def check_tree(data: Any, *, where: str, what: str, error: type[Exception] = InputFileError,
               max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> Any:
    """*data* (parsed YAML or JSON) unless it nests deeper than *max_depth*, refers to itself, or expands to more
    than *max_nodes* values once shared parts (YAML aliases) are counted each time they are used. Iterative:
    never recurses, and each shared part is sized once."""
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Any, int, bool]] = [(data, 0, False)]
    while stack:
        x, depth, done = stack.pop()
        kids = list(x.values()) if isinstance(x, dict) else x if isinstance(x, list) else None
        if kids is None:
            continue
        i = id(x)
        if done:
            on_path.discard(i)
            size[i] = 1 + len(kids) + sum(size.get(id(k), 0) for k in kids if isinstance(k, (dict, list)))
            if size[i] > max_nodes:
                raise error(f"{where}: the {what} expands to more than {max_nodes:,} values (YAML aliases or a huge "
                            "document); is it the right file?")
            continue
        if i in size:
            continue
        if i in on_path:
            raise error(f"{where}: the {what} refers to itself (a recursive YAML alias); remove the alias")
        if depth >= max_depth:
            raise error(f"{where}: the {what} is nested too deeply (more than {max_depth} levels)")
        on_path.add(i)
        stack.append((x, depth, True))
        stack.extend((k, depth + 1, False) for k in kids if isinstance(k, (dict, list)) and id(k) not in size)
    return data


def load_json(path: str | os.PathLike[str], *, what: str = "file", max_bytes: int | None = None,
              error: type[Exception] = InputFileError, max_depth: int = MAX_DEPTH, finite: bool = True) -> Any:
    """The parsed JSON of the regular file *path*: every promise of :func:`read_bytes` and :func:`loads_json`."""
    data = read_bytes(path, what=what, max_bytes=max_bytes, error=error)
    return loads_json(data, where=os.fspath(path), what=what, error=error, max_depth=max_depth, finite=finite)


def confined(folder: str | os.PathLike[str], name: Any, *, what: str = "file",
             error: type[Exception] = InputFileError, source: str = "") -> Path:
    """``folder / name`` for a *name* read from inside a file; refused unless it is a plain relative path that
    stays in *folder* (not absolute, no ``..``, no drive, no NUL byte)."""
    src = f" in {source}" if source else ""
    if not isinstance(name, str) or not name.strip():
        raise error(f"a {what} name{src} is {type(name).__name__ if not isinstance(name, str) else 'empty'}, not a "
                    "file name; re-save the model")
    if "\0" in name or PurePosixPath(name).is_absolute() or PureWindowsPath(name).anchor \
            or ".." in PurePosixPath(name.replace("\\", "/")).parts:
        raise error(f"a {what} name{src} is absolute or climbs out with '..': it points outside {os.fspath(folder)}, "
                    "and only files inside the folder are read. Re-save the model (save_pretrained) to rewrite it")
    return Path(folder) / name
