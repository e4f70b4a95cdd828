"""The ``model.generate`` hook: installed once per model while any tracked call uses it, and each call's own.

A pipeline calls ``self.model.generate`` deep inside; to count a call's tokens, the model's ``generate`` is
replaced on the instance by a function that hands the call to the measured call of the *current context*
(:data:`CURRENT`, a :class:`contextvars.ContextVar`: each thread, and each asyncio task, has its own), so a
generation another thread runs at the same time passes straight through and is counted in its own call, never in
this one. The moment the first new token's logits exist (prefill -> decode) is seen by a forward hook on the
model: the first forward pass a measured ``generate`` makes is its prefill, and when it returns the logits are
there. The hooks are installed when the first tracked call on a model starts and removed when the last one ends
(reference counted under a lock), so an idle model is left as it was; the user's arguments (logits processors,
streamers) are never touched.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import Any, Protocol

__all__ = ["CURRENT", "acquire", "release", "installed"]


class _Measured(Protocol):
    def measures(self, model: Any) -> bool: ...
    def generate(self, bound: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any: ...
    def forward_done(self, model: Any) -> None: ...


#: the measured call of this context (thread or task), if any
CURRENT: ContextVar[Any] = ContextVar("scer_hf_current_call", default=None)

_LOCK = threading.Lock()
_HOOKS: dict[int, "_Hook"] = {}


class _Hook:
    def __init__(self, model: Any) -> None:
        self.model = model
        self.refs = 0
        self.awaiting = 0  # measured generates whose first forward pass has not returned yet
        self.handle: Any = None
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

    def _forward_done(self, module: Any, args: Any, output: Any) -> None:
        call = CURRENT.get()
        if call is not None:
            call.forward_done(module)

    def expect_forward(self) -> None:
        """A measured generate starts: watch for its first forward pass (the forward hook is registered only while
        one is awaited, so decode steps run on PyTorch's hook-free fast path)."""
        with _LOCK:
            self.awaiting += 1
            register = getattr(self.model, "register_forward_hook", None)
            if self.handle is None and callable(register):
                self.handle = register(self._forward_done)

    def forward_seen(self) -> None:
        """A measured generate's first forward pass returned (or it ended without one)."""
        with _LOCK:
            self.awaiting = max(self.awaiting - 1, 0)
            if self.awaiting == 0 and self.handle is not None:
                self.handle.remove()  # safe inside the hook: PyTorch iterates over a copy of the hooks
                self.handle = None

    def remove(self) -> None:
        if self.handle is not None:
            self.handle.remove()
            self.handle = None
        if vars(self.model).get("generate") is not self.fn:
            return  # someone replaced it after us: leave theirs
        if self.had_instance:
            self.model.generate = self.saved
        else:
            try:
                del self.model.generate
            except AttributeError:
                pass


def acquire(model: Any) -> _Hook:
    """One more tracked call uses *model* (installs the hook for the first); the model's hook."""
    with _LOCK:
        h = _HOOKS.get(id(model))
        if h is None or h.model is not model:
            h = _HOOKS[id(model)] = _Hook(model)
        h.refs += 1
        return h


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
