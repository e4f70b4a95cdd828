"""The ``model.generate`` hook: installed once per model while any tracked call uses it, and each call's own.

A pipeline calls ``self.model.generate`` deep inside; to count a call's tokens and see its first logits (a no-op
logits processor appended to that ``generate``), the model's ``generate`` is replaced on the instance. The hook
measures only the call of the
*current context* (:data:`CURRENT`, a :class:`contextvars.ContextVar`: each thread, and each asyncio task, has
its own), so a generation another thread runs at the same time passes straight through and is counted in its
own call, never in this one. The hook is installed when the first tracked call on a model starts and removed
when the last one ends (reference counted under a lock), so an idle model is left as it was.
"""

from __future__ import annotations

import contextlib
import threading
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ._call import _Call

__all__ = ["CURRENT", "acquire", "release", "installed"]


#: the measured call of this context (thread or task), if any
CURRENT: ContextVar[_Call | None] = ContextVar("scer_hf_current_call", default=None)

_LOCK = threading.Lock()
_HOOKS: dict[int, _Hook] = {}


class _Hook:
    def __init__(self, model: Any) -> None:
        self.model = model
        self.refs = 0
        self.had_instance = "generate" in vars(model)
        self.saved = vars(model).get("generate")
        bound = model.generate

        def generate(*args: Any, **kwargs: Any) -> Any:
            call = CURRENT.get()
            if call is None or not call.measures(model):  # another thread's, or an untracked use
                return bound(*args, **kwargs)
            return call.generate(bound, args, kwargs)

        generate.__wrapped__ = bound  # type: ignore[attr-defined]
        self.fn = generate
        model.generate = generate

    def remove(self) -> None:
        if vars(self.model).get("generate") is not self.fn:
            return  # someone replaced it after us: leave theirs
        if self.had_instance:
            self.model.generate = self.saved
        else:
            with contextlib.suppress(AttributeError):
                del self.model.generate


def acquire(model: Any) -> None:
    """One more tracked call uses *model* (installs the hook for the first)."""
    with _LOCK:
        h = _HOOKS.get(id(model))
        if h is None or h.model is not model:
            h = _HOOKS[id(model)] = _Hook(model)
        h.refs += 1


def release(model: Any) -> None:
    """A tracked call on *model* ended (the last one removes the hook)."""
    with _LOCK:
        h = _HOOKS.get(id(model))
        if h is None or h.model is not model:
            return
        h.refs -= 1
        if h.refs <= 0:
            del _HOOKS[id(model)]
            h.remove()


def installed(model: Any) -> bool:
    with _LOCK:
        h = _HOOKS.get(id(model))
        return h is not None and h.model is model
