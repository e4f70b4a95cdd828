"""What :class:`scer_hf.SCERCallback` holds while ``train()`` runs, and gives back after.

* **One SIGTERM handler for every callback.** The first callback to start training
  installs :func:`_dispatch` (keeping the handler it replaced); each callback registers
  and unregisters; the last one out restores the original handler. Callbacks leave in
  any order (two callbacks on one Trainer used to leave the first one's handler behind,
  so a later SIGTERM rewrote its complete report as partial).
* **Whether train() is still running.** :func:`train_token` notes the ``Trainer.train``
  frame a run started in; :func:`train_alive` tells, from that thread, whether it is
  still on the stack. A ``train()`` that raised (the user caught the exception) leaves
  no ``on_train_end``: the dispatcher then drops that callback and, when no callback
  is training, hands SIGTERM straight to the original handler.
* **One run per report file.** :func:`claim` takes an inter-process lock on the report
  path for the run's duration (:func:`scer_hf._io.try_file_lock`); a second run, in this
  process or another, gets ``None`` and writes elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from types import CodeType, FrameType
from typing import Any, Protocol

from filelock import BaseFileLock

from .._io import try_file_lock

__all__ = ["Guarded", "TrainToken", "register", "unregister", "train_token", "train_alive", "claim", "release",
           "holds"]

TrainToken = tuple[int, FrameType]  # (thread, the ``Trainer.train`` frame the run started in)


class Guarded(Protocol):
    """What the guard needs of a run it routes SIGTERM to and lets hold a report file (the run's reporter)."""

    @property
    def training(self) -> bool:
        """Whether the run's loop is going on."""

    @property
    def train_token(self) -> TrainToken | None:
        """What tells whether the loop is still running (:func:`train_token`), or None (not knowable)."""

    def drop(self) -> None:
        """Its ``train()`` is over without saying so (it raised): nothing to flush at SIGTERM or exit any more."""

    def on_sigterm(self) -> None:
        """SIGTERM arrived while it trains: write the partial report now, without waiting on any lock."""

    def die(self) -> None:
        """The process dies now: nothing more to flush at exit."""


_lock = threading.RLock()
_active: list[weakref.ref[Guarded]] = []
_original: Callable[[int, FrameType | None], Any] | int | None = None  # the SIGTERM handler before ours
_installed = False


# -- train() liveness ---------------------------------------------------------------------
def _train_code() -> CodeType | None:
    try:
        from transformers import Trainer
    except ImportError:  # pragma: no cover - the callback needs transformers
        return None
    return getattr(Trainer.train, "__code__", None)


def train_token() -> TrainToken | None:
    """(thread, the ``Trainer.train`` frame) of the call on this stack, or None (not under a Trainer).

    The frame itself, not its id: a freed frame's address is soon reused by the next ``train()``
    call's frame, with the same code. The callback drops the token when the run ends."""
    code = _train_code()
    f: FrameType | None = sys._getframe(1)
    while f is not None:
        if f.f_code is code:
            return threading.get_ident(), f
        f = f.f_back
    return None


def train_alive(token: TrainToken | None, frame: FrameType | None = None) -> bool:
    """False only when, on the run's own thread, its ``Trainer.train`` frame is gone (train() raised)."""
    if token is None or threading.get_ident() != token[0]:
        return True  # not knowable from here: assume it runs
    f: FrameType | None = frame if frame is not None else sys._getframe(1)
    while f is not None:
        if f is token[1]:
            return True
        f = f.f_back
    return False


def _training(cb: Guarded, frame: FrameType | None = None) -> bool:
    return cb.training and train_alive(cb.train_token, frame)


# -- SIGTERM ------------------------------------------------------------------------------
def register(cb: Guarded) -> bool:
    """Route SIGTERM to *cb* while it trains (main thread only). True when registered."""
    global _original, _installed
    if threading.current_thread() is not threading.main_thread():
        return False
    with _lock:
        # a run whose train() raised never unregistered: it has nothing to flush any more
        _active[:] = [r for r in _active if (c := r()) is not None and _training(c)]
        try:
            cur = signal.getsignal(signal.SIGTERM)
            if not _installed or cur is not _dispatch:  # also when the handler was replaced since we installed
                if cur is not _dispatch:
                    _original = cur
                signal.signal(signal.SIGTERM, _dispatch)
                _installed = True
        except (ValueError, OSError):
            return False
        if not any(r() is cb for r in _active):
            _active.append(weakref.ref(cb))
    return True


def unregister(cb: Guarded) -> None:
    """Stop routing SIGTERM to *cb*; the last one out restores the original handler."""
    with _lock:
        _active[:] = [r for r in _active if r() is not None and r() is not cb]
        if not _active:
            _restore()


def _restore() -> None:
    global _installed
    if not _installed:
        return
    try:
        if signal.getsignal(signal.SIGTERM) is _dispatch:  # a handler the user set after ours stays
            signal.signal(signal.SIGTERM, _original if _original is not None else signal.SIG_DFL)
        _installed = False
    except (ValueError, OSError):  # not the main thread: the dispatcher passes SIGTERM on when nobody trains
        pass


def _dispatch(signum: int, frame: FrameType | None) -> None:
    with _lock:
        cbs = [c for c in (r() for r in _active) if c is not None]
    live = [cb for cb in cbs if _training(cb, frame)]
    for cb in cbs:
        if cb not in live:  # its train() is over (it raised, or never said so): it has nothing to flush
            cb.drop()  # nor anything to write at exit
            unregister(cb)
    for cb in live:
        with contextlib.suppress(Exception):  # we may be dying; the previous flush stays
            cb.on_sigterm()  # never waits on a lock a save we interrupted holds
    prev = _original
    if callable(prev):  # e.g. a graceful-stop handler: if training goes on, so does measurement
        prev(signum, frame)
        return
    if prev == signal.SIG_IGN:
        return
    for cb in live:  # we die now: nothing more to flush at exit
        cb.die()
    with _lock:
        _active.clear()
        _restore()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


# -- one run per report file --------------------------------------------------------------
# report path -> the run of this process holding it, and its inter-process lock
_holders: dict[str, tuple[weakref.ref[Guarded], BaseFileLock]] = {}


def _key(path: Path) -> str:
    return os.path.realpath(os.path.abspath(path))


def _holder(key: str) -> Guarded | None:
    held = _holders.get(key)
    return held[0]() if held is not None else None


def claim(cb: Guarded, path: Path) -> BaseFileLock | None:
    """The run lock of report *path* for *cb* (held until :func:`release`), or None when another run is writing it.

    A holder in this process whose ``train()`` raised (so never ended) gives its lock up."""
    key = _key(path)
    with _lock:
        _release_where(_gone)  # holders that are gone give their locks back
        lock = try_file_lock(path)
        if lock is None:
            other = _holder(key)
            if other is not None and other is not cb and not _training(other):
                other.drop()  # its train() raised: no flush at exit or SIGTERM may write this file
                unregister(other)
                release(other)
                lock = try_file_lock(path)
        if lock is not None:
            _holders[key] = (weakref.ref(cb), lock)
            weakref.finalize(cb, _release_where, _gone)  # a run dropped without release frees its file
        return lock


def holds(cb: Guarded) -> bool:
    """Whether *cb* holds the run lock of a report file."""
    with _lock:
        return any(r() is cb for r, _ in _holders.values())


def release(cb: Guarded) -> None:
    """Give up *cb*'s run lock, if it holds one (and the locks of holders that are gone)."""
    _release_where(lambda r: r() is cb or r() is None)


def _gone(r: weakref.ref[Guarded]) -> bool:
    return r() is None


def _release_where(which: Callable[[weakref.ref[Guarded]], bool]) -> None:
    with _lock:
        for k, (r, lock) in list(_holders.items()):
            if which(r):
                del _holders[k]
                with contextlib.suppress(Exception):  # the lock file went away; nothing is held
                    lock.release(force=True)
