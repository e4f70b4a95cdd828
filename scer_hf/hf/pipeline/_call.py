"""One measured call (of a pipeline, or of ``model.generate``): its edges, its counts, its streamed output.

Each call is a :class:`~scer_hf.core.calls.CallHandle` on the wrapper's shared meters: it starts in
``prefill`` (generation) or ``forward``, moves to ``decode`` when the first new token's logits exist (a no-op
logits processor sees the first step), and back to
``prefill`` when the same call runs another ``generate`` (a pipeline batch). Calls in flight at the same time
share the energy by :data:`~scer_hf.core.attribution.ATTRIBUTION_RULE`. The ``model.generate`` hook
(:mod:`._hook`) finds the call through :data:`._hook.CURRENT`, so each call counts only its own tokens.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...core.calls import TOP, CallEnergy, CallHandle, CallTracker
from ...core.tracker import Measurement
from ...core.warn import WarnOnce
from . import _hook
from ._units import _count_new_tokens, _first_step_processor

__all__: list[str] = []

_COUNT_ERRORS = (AttributeError, TypeError, ValueError, RuntimeError, IndexError)


class _Entry:
    """One finished call as recorded: what it was attributed and its phases as ``(name, key, counts, parent)``.
    Its :class:`Measurement` objects are built only when someone looks (``last_call``, ``on_call``); the totals sum
    the calls of a phase in one pass (:func:`scer_hf.core.calls.aggregate`)."""

    __slots__ = ("_ms", "res", "specs")

    def __init__(self, res: CallEnergy, specs: list[tuple[str, str, dict[str, float], str | None]]) -> None:
        self.res, self.specs = res, specs
        self._ms: dict[str, Measurement] | None = None

    def measurements(self) -> dict[str, Measurement]:
        if self._ms is None:
            self._ms = {n: self.res.measurement(n, k, counts=c, parent=p) for n, k, c, p in self.specs}
        return dict(self._ms)

    def top_energy_j(self) -> float | None:
        """The call's energy when it was fully measured, else None."""
        r = self.res.raw(TOP)
        return float(sum(r.energy.values())) if r.full else None


def call_entry(res: CallEnergy, gen: bool, counts: Mapping[str, float], top: str = "generate",
               prefix: str = "") -> _Entry:
    """The phases of one finished call: its top-level phase and, for generation, ``prefill`` and ``decode``
    (named *prefix* + segment; their counts are a per-unit basis only where that segment was measured)."""
    c = dict(counts)
    specs: list[tuple[str, str, dict[str, float], str | None]] = [(top, TOP, c, None)]
    if gen:
        for seg, keys in (("prefill", ("queries", "input_tokens")), ("decode", ("output_tokens",))):
            specs.append((prefix + seg, seg, {k: c[k] for k in keys if k in c}, top))
    return _Entry(res, specs)


@dataclass
class GenCounts:
    """What one call's ``generate`` runs counted: prompts (queries), their tokens, new tokens, ``generate`` calls."""

    queries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    batches: int = 0

    def as_counts(self) -> dict[str, float]:
        """The call's counts, with ``tokens`` = input + output (the order the phases record them in)."""
        return {"queries": self.queries, "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "batches": self.batches, "tokens": self.input_tokens + self.output_tokens}


@dataclass(frozen=True)
class CallSink:
    """What a call needs from the wrapper that makes it: the tracker its windows open on, where its finished
    :class:`_Entry` goes, and the wrapper's warn-once (so a failure that repeats at every call warns once)."""

    tracker: CallTracker
    record: Callable[[_Entry], None]
    warn: WarnOnce


class _Call:
    """The measurement of one call (may stay open while a streamed output is consumed)."""

    def __init__(self, sink: CallSink, model: Any, gen: bool, queries: int | None) -> None:
        self.sink = sink
        self.model = model
        self.gen = gen
        self.queries_in = queries
        self.yielded = 0
        self.counts = GenCounts()
        self.h: CallHandle | None = None
        self.marked = False
        self.closed = False
        self._hooked = False

    # -- the call's edges ------------------------------------------------------------------------------
    def start(self) -> None:
        self.h = self.sink.tracker.start("prefill" if self.gen else "forward")
        if self.gen and self.model is not None:
            _hook.acquire(self.model)
            self._hooked = True

    def measures(self, model: Any) -> bool:
        return model is self.model and not self.closed

    def _guard(self, what: str, fn: Any) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - measurement never breaks inference
            self.sink.warn("hook", f"scer-hf: {what} failed ({exc}); this call's split is lost")

    def first_logits(self) -> None:
        """The first new token's logits of this call's ``generate`` exist (its no-op logits processor ran)."""
        if not self.marked:
            self.marked = True
            h = self.h
            if h is not None and h.segment == "prefill":
                self._guard("the prefill/decode split", lambda: h.switch("decode"))

    def _gen_start(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        self.marked = False
        h = self.h
        if h is None:
            return
        if h.segment == "decode":
            self._guard("the prefill/decode split", lambda: h.switch("prefill"))
        ids = kwargs.get("input_ids", args[0] if args else None)
        rows = getattr(ids, "shape", (1,))[0] if ids is not None else 1
        self._guard("weighing the call", lambda: h.weigh(float(rows)))

    def gen_end(self, args: tuple[Any, ...], kwargs: Mapping[str, Any], out: Any) -> None:
        input_ids = kwargs.get("input_ids", args[0] if args else None)
        mask = kwargs.get("attention_mask")
        c = self.counts
        c.batches += 1
        if input_ids is None:
            c.queries += 1
        else:
            c.queries += int(input_ids.shape[0])
            c.input_tokens += int(mask.sum().item()) if mask is not None else int(input_ids.numel())
        c.output_tokens += _count_new_tokens(self.model, input_ids, out, kwargs)

    def generate(self, bound: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """``model.generate`` run for this call (from the hook): split, weighed and counted."""
        from transformers import LogitsProcessorList

        self._gen_start(args, kwargs)
        kw = dict(kwargs)  # the user's processors first, untouched; ours only watches for the first step
        kw["logits_processor"] = LogitsProcessorList(
            [*(kwargs.get("logits_processor") or []), _first_step_processor(self.first_logits)])
        out = bound(*args, **kw)
        try:
            self.gen_end(args, kwargs, out)
        except _COUNT_ERRORS as exc:
            self.sink.warn("count", f"scer-hf: could not count this call's tokens ({exc}); counts incomplete")
        return out

    def _unhook(self) -> None:
        if self._hooked:
            self._hooked = False
            _hook.release(self.model)

    def finish(self, failed: bool = False) -> None:
        """Close the call. *failed*: the call raised in the user's code; its energy was spent, so it is counted,
        as a failed call, and none of its queries or tokens count as answered."""
        if self.closed:
            return
        self.closed = True
        try:
            self._unhook()
            assert self.h is not None
            res = self.h.finish()
            c = self.counts.as_counts() if self.gen else {
                "queries": self.queries_in if self.queries_in is not None else self.yielded}
            self.sink.record(call_entry(res, self.gen, {"failed_calls": 1} if failed else c,
                                        "generate" if self.gen else "forward"))
        except Exception as exc:  # noqa: BLE001 - measurement never breaks inference
            self.sink.warn("finish", f"scer-hf: could not close the measurement of a call ({exc}); not recorded")
            self.abandon()

    def abandon(self) -> None:
        """Leave no call in flight and no hook installed, so the next call is measured afresh."""
        self.closed = True
        with contextlib.suppress(Exception):  # abandoning never raises
            self._unhook()
        if self.h is not None:
            self.h.abandon()


class _Stream:
    """Iterator over a streamed pipeline output; the call stays in flight until it is exhausted."""

    def __init__(self, it: Any, call: _Call) -> None:
        self._src = it
        self._call = call
        token = _hook.CURRENT.set(call)
        try:
            self._it = iter(it)  # transformers' PipelineIterator sets itself up in __iter__
        finally:
            _hook.CURRENT.reset(token)

    def __iter__(self) -> _Stream:
        return self

    def __next__(self) -> Any:
        token = _hook.CURRENT.set(self._call)  # the generations this next() runs are this call's
        try:
            item = next(self._it)
        except StopIteration:
            self._call.finish()
            raise
        except BaseException:
            self._call.finish(failed=True)
            raise
        finally:
            _hook.CURRENT.reset(token)
        self._call.yielded += 1
        return item

    def __len__(self) -> int:
        return len(self._src)

    def close(self) -> None:
        self._call.finish()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # never raise from a finaliser
            self._call.finish()
