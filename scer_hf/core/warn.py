"""Warn once per kind of trouble: the one helper every part of scer-hf uses for its "once" warnings.

Measurement never breaks the user's run, so a failure in it is a warning; but a failure that repeats at every step
or call must not flood the log. A :class:`WarnOnce` remembers the keys it has warned about (thread-safe) and stays
silent for a key it has seen.
"""

from __future__ import annotations

import threading
import warnings

__all__ = ["WarnOnce"]


class WarnOnce:
    """``warn(key, message)`` warns the first time *key* is seen, then never again for this object.

    *category*: the warning class; *prefix*: put before each message (e.g. ``"scer-hf: "``). Callable from any
    thread. ``stacklevel`` counts from the caller of ``warn`` (1: the line that called it; 2: the caller of the
    function that called it); the one given at construction is the default.
    """

    def __init__(self, category: type[Warning] = RuntimeWarning, prefix: str = "", stacklevel: int = 1) -> None:
        self.category = category
        self.prefix = prefix
        self.stacklevel = stacklevel
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def first(self, *keys: str) -> bool:
        """Mark *keys* seen; True when none of them had been (the caller should warn)."""
        with self._lock:
            fresh = not any(k in self._seen for k in keys)
            self._seen.update(keys)
        return fresh

    def __call__(self, key: str, message: str, *, stacklevel: int | None = None,
                 category: type[Warning] | None = None) -> bool:
        """Warn with *message* unless *key* was warned about before; True when it warned."""
        if not self.first(key):
            return False
        level = self.stacklevel if stacklevel is None else stacklevel
        warnings.warn(self.prefix + message, category or self.category, stacklevel=level + 1)
        return True

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._seen

    def clear(self) -> None:
        """Forget every key (the next warning of each kind is shown again)."""
        with self._lock:
            self._seen.clear()
