"""The load generator of the endpoint benchmark: N concurrent clients at one level, stopped by the protocol's rule.

At concurrency N, N client threads each keep one request in flight (a closed loop, as ML.ENERGY and LLM-Perf
drive a server): a client sends its next prompt as soon as its answer is complete. Each request is a call on the
shared meters (:mod:`scer_hf.core.attribution`): ``prefill`` until the first streamed token, ``decode`` after
it, so the requests in flight share the energy and the level's per-response energies add up to the meter's energy
over the time the level ran. After ``warmup`` unmeasured requests (at least N, one per client), requests are
measured until the interval of the mean energy per response is within the target (the protocol's rule, counting
responses as it counts queries) or the cap; requests in flight then finish and count. A level that keeps failing
(:data:`MAX_CONSECUTIVE_FAILURES` in a row) stops early and says so. Nothing here imports torch.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.calls import CallHandle, CallTracker
from ..core.endpoint import Answer, Client
from .protocol import Interval

__all__ = ["Level", "run_level", "MAX_CONSECUTIVE_FAILURES"]

MAX_CONSECUTIVE_FAILURES = 20  # a level whose requests keep failing stops (a server that went away)


@dataclass
class Level:
    """What one concurrency level saw (bounded by its cap: one float per request)."""

    concurrency: int
    name: str
    responses: int = 0
    failed: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    latency_s: list[float] = field(default_factory=list)
    ttft_s: list[float] = field(default_factory=list)
    output_tokens: int = 0
    input_tokens: int = 0
    token_sources: set[str] = field(default_factory=set)
    energies_j: list[float] = field(default_factory=list)  # per fully measured response: the rule's samples
    start_s: float = math.inf
    end_s: float = -math.inf
    stopped_by: str = "cap"
    warmup_ok: int = 0
    warmup_failed: int = 0


class _State:
    def __init__(self, level: Level, cap: int, need: int, rel_ci: float, confidence: float,
                 ci: Callable[[Sequence[float], float], Interval]) -> None:
        self.level, self.cap, self.need = level, cap, need
        self.rel_ci, self.confidence, self.ci = rel_ci, confidence, ci
        self.lock = threading.Lock()
        self.issued = 0
        self.stop = False
        self.in_a_row = 0

    def take(self) -> int | None:
        with self.lock:
            if self.stop or self.issued >= self.cap:
                return None
            self.issued += 1
            return self.issued - 1

    def failed(self, ans: Answer) -> None:
        lv = self.level
        lv.failed += 1
        lv.failures[ans.kind] = lv.failures.get(ans.kind, 0) + 1
        lv.reasons.setdefault(ans.kind, ans.reason)
        self.in_a_row += 1
        if self.in_a_row >= MAX_CONSECUTIVE_FAILURES:
            self.stop, lv.stopped_by = True, "failures"

    def answered(self, ans: Answer, energy_j: float | None) -> None:
        lv = self.level
        self.in_a_row = 0
        lv.responses += 1
        lv.latency_s.append(ans.latency_s)
        if ans.ttft_s is not None:
            lv.ttft_s.append(ans.ttft_s)
        lv.output_tokens += ans.output_tokens
        lv.input_tokens += int(ans.prompt_tokens or 0)
        lv.token_sources.add(ans.token_source)
        if energy_j is None:
            return
        lv.energies_j.append(energy_j)
        n = len(lv.energies_j)
        if not self.stop and n >= self.need and n >= 2:
            rel = self.ci(lv.energies_j, self.confidence).rel_half_width
            if rel is not None and rel <= self.rel_ci:
                self.stop, lv.stopped_by = True, "ci"


def _counts(ans: Answer) -> dict[str, float]:
    if not ans.ok:
        return {"failed_requests": 1}
    n_in, n_out = float(ans.prompt_tokens or 0), float(ans.output_tokens)
    return {"queries": 1.0, "input_tokens": n_in, "output_tokens": n_out, "tokens": n_in + n_out}


def _one(client: Client, prompt: str, tracker: CallTracker | None, state: _State | None,
         record: Callable[[Any, Answer], float | None] | None) -> Answer:
    h: CallHandle | None = tracker.start("prefill") if tracker is not None else None
    first = (lambda: h.switch("decode")) if h is not None else None
    try:
        ans = client.request(prompt, on_first_token=first)
    except Exception as exc:  # noqa: BLE001 - a client bug is a failed request, never a crash of the run
        ans = Answer(ok=False, kind="client error", reason=f"{type(exc).__name__}")
        client.close()
    energy = None
    if h is not None:
        res = h.finish()
        if record is not None:
            energy = record(res, ans)
    if state is not None:
        with state.lock:
            lv = state.level
            if h is not None:
                lv.start_s, lv.end_s = min(lv.start_s, h.start_s), max(lv.end_s, h.end_s)
            state.answered(ans, energy) if ans.ok else state.failed(ans)
    return ans


def run_level(make_client: Callable[[], Client], texts: Sequence[str], concurrency: int, *, name: str,
              tracker: CallTracker, record: Callable[[Any, Answer], float | None], warmup: int, cap: int,
              need: int, rel_ci: float, confidence: float, ci: Callable[[Sequence[float], float], Interval],
              offset: int = 0, progress: Any = None) -> Level:
    """Run one level (see the module docstring). *record(call_energy, answer)* files a measured request and
    returns its energy per response when fully measured (else None)."""
    level = Level(concurrency, name)
    clients = [make_client() for _ in range(concurrency)]
    n = len(texts)
    try:
        warm = _State(Level(concurrency, name), max(warmup, concurrency), 1, 0.0, confidence, ci)

        def warm_loop(client: Client) -> None:
            while (i := warm.take()) is not None:
                ans = _one(client, texts[(offset + i) % n], None, None, None)
                with warm.lock:
                    warm.answered(ans, None) if ans.ok else warm.failed(ans)

        _threads(warm_loop, clients)
        level.warmup_ok, level.warmup_failed = warm.level.responses, warm.level.failed
        if warm.stop:  # the warm-up kept failing: the level is not measured
            level.stopped_by, level.failures, level.reasons = "failures", warm.level.failures, warm.level.reasons
            return level
        state = _State(level, cap, need, rel_ci, confidence, ci)
        base = offset + warm.issued

        def loop(client: Client) -> None:
            while (i := state.take()) is not None:
                _one(client, texts[(base + i) % n], tracker, state, record)
                if progress is not None:
                    progress.update(1)

        _threads(loop, clients)
        return level
    finally:
        for c in clients:
            c.close()


def _threads(fn: Callable[[Client], None], clients: list[Client]) -> None:
    ts = [threading.Thread(target=fn, args=(c,), daemon=True, name=f"scer-client-{i}") for i, c in enumerate(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
