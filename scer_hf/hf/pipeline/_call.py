"""One measured pipeline call: the windows, the ``model.generate`` hook, streamed outputs."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ...core.tracker import Measurement, merge_measurements
from ._units import _count_new_tokens, _first_step_processor

if TYPE_CHECKING:  # pragma: no cover
    from ._wrapper import TrackedPipeline

__all__: list[str] = []

_Entry = dict  # one call as recorded on the hot path: {"generate"|"forward": Measurement, "_parts": {...}}


def _materialise(entry: _Entry) -> dict[str, Measurement]:
    """The phases of one recorded call: prefill/decode segments merged, counts attached."""
    if "_parts" not in entry:
        return dict(entry)
    top: Measurement = entry["generate"]
    c = top.counts
    out = {"generate": top}
    for name, keys in (("prefill", ("queries", "input_tokens")), ("decode", ("output_tokens",))):
        ms = entry["_parts"][name]
        if not ms:  # generate never reached its first step: an empty decode at the end edge
            ms = [Measurement(name, top.end_s, top.end_s, {}, parent="generate", method=top.method,
                              measured=True, duration_s=0.0)]
        m = ms[0]
        for x in ms[1:]:
            m = merge_measurements(m, x)
        counts = {k: c[k] for k in keys if k in c}
        # the call's counts belong to all its segments together: they are a per-unit basis only if all were measured
        out[name] = replace(m, counts=counts, windows=1, coverage=m.cov.counted_as_one(counts))
    return out


class _Call:
    """The windows of one pipeline call (may stay open while a streamed output is consumed)."""

    def __init__(self, owner: TrackedPipeline, queries: int | None) -> None:
        self.o = owner
        self.tr = owner.tracker
        self.gen = owner.generation
        self.queries_in = queries
        self.yielded = 0
        self.counts = {"queries": 0, "input_tokens": 0, "output_tokens": 0, "batches": 0}
        self.parts: dict[str, list[Measurement]] = {"prefill": [], "decode": []}
        self.seg: str | None = None
        self.marked = False
        self.closed = False
        self._saved_generate: Any = None
        self._had_instance_generate = False
        self._installed = False

    def _switch(self, to: str) -> None:
        e = self.tr.read_all()
        if self.seg is not None:
            self.parts[self.seg].append(self.tr.end(self.seg, edge=e))
        self.tr.begin(to, parent="generate", edge=e)
        self.seg = to

    def start(self) -> None:
        e = self.tr.read_all()
        self.tr.begin("generate" if self.gen else "forward", edge=e)
        if self.gen:
            self.tr.begin("prefill", parent="generate", edge=e)
            self.seg = "prefill"
            self._install()

    # generation hooks (guarded: measurement never breaks inference)
    def _guard(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - measurement never breaks inference
            self.o._warn_once("hook", f"scer-hf: prefill/decode split failed ({exc}); this call's split is lost")

    def gen_start(self) -> None:
        self.marked = False
        if self.seg == "decode":
            self._guard(lambda: self._switch("prefill"))

    def first_logits(self) -> None:
        if not self.marked and self.seg == "prefill":
            self.marked = True
            self._guard(lambda: self._switch("decode"))

    def gen_end(self, args: tuple[Any, ...], kwargs: Mapping[str, Any], out: Any) -> None:
        input_ids = kwargs.get("input_ids", args[0] if args else None)
        mask = kwargs.get("attention_mask")
        model = self.o._pipe.model
        self.counts["batches"] += 1
        if input_ids is None:
            self.counts["queries"] += 1
        else:
            self.counts["queries"] += int(input_ids.shape[0])
            self.counts["input_tokens"] += int(mask.sum().item()) if mask is not None else int(input_ids.numel())
        self.counts["output_tokens"] += _count_new_tokens(model, input_ids, out, kwargs)

    def _install(self) -> None:
        model = self.o._pipe.model
        self._had_instance_generate = "generate" in vars(model)
        self._saved_generate = vars(model).get("generate")
        bound = model.generate
        call = self

        from transformers import LogitsProcessorList

        def generate(*args: Any, **kwargs: Any) -> Any:
            call.gen_start()
            kw = dict(kwargs)
            kw["logits_processor"] = LogitsProcessorList(
                [*(kwargs.get("logits_processor") or []), _first_step_processor(call.first_logits)])
            out = bound(*args, **kw)
            try:
                call.gen_end(args, kwargs, out)
            except (AttributeError, TypeError, ValueError, RuntimeError, IndexError) as exc:
                call.o._warn_once("count", f"scer-hf: could not count this call's tokens ({exc}); counts incomplete")
            return out

        model.generate = generate
        self._installed = True

    def _uninstall(self) -> None:
        if not self._installed:
            return
        self._installed = False
        model = self.o._pipe.model
        if self._had_instance_generate:
            model.generate = self._saved_generate
        else:
            with contextlib.suppress(AttributeError):
                del model.generate

    def finish(self, failed: bool = False) -> None:
        """Close the call's windows. *failed*: the call raised in the user's code; its energy was spent, so it is
        counted, as a failed call, and none of its queries or tokens count as answered."""
        if self.closed:
            return
        self.closed = True
        try:
            if self.gen:
                self._uninstall()
            e = self.tr.read_all()
            if self.gen:
                self.parts[self.seg or "prefill"].append(self.tr.end(self.seg or "prefill", edge=e))
                c = dict(self.counts)
                c["tokens"] = c["input_tokens"] + c["output_tokens"]
                if failed:
                    c = {"failed_calls": 1}
                last: _Entry = {"generate": self.tr.end("generate", edge=e, **c), "_parts": self.parts}
            else:
                q = self.queries_in if self.queries_in is not None else self.yielded
                c = {"failed_calls": 1} if failed else {"queries": q}
                last = {"forward": self.tr.end("forward", edge=e, **c)}
            self.o._record(last)
        except Exception as exc:  # noqa: BLE001 - measurement never breaks inference
            self.o._warn_once("finish", f"scer-hf: could not close the measurement of a call ({exc}); not recorded")
            self.abandon()
        finally:
            self.o._busy = False

    def abandon(self) -> None:
        """Leave no window open and no hook installed, so the next call is measured afresh."""
        if self.gen:
            with contextlib.suppress(Exception):
                self._uninstall()
        for name in self.tr.active:
            try:
                self.tr.end(name, cancel=True)
            except Exception:  # noqa: BLE001
                self.tr._open.pop(name, None)


class _Stream:
    """Iterator over a streamed pipeline output; the call's windows close when it is exhausted."""

    def __init__(self, it: Any, call: _Call) -> None:
        self._src = it
        self._it = iter(it)  # transformers' PipelineIterator sets itself up in __iter__
        self._call = call

    def __iter__(self) -> _Stream:
        return self

    def __next__(self) -> Any:
        try:
            item = next(self._it)
        except StopIteration:
            self._call.finish()
            raise
        except BaseException:
            self._call.finish(failed=True)
            raise
        self._call.yielded += 1
        return item

    def __len__(self) -> int:
        return len(self._src)

    def close(self) -> None:
        self._call.finish()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # never raise from a finaliser
            self._call.finish()
