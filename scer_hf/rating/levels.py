"""Which level of a served benchmark matches which reference setting: like is compared only with like.

An endpoint benchmark (``benchmark.mode == "endpoint"``) measures a curve: one top-level phase per concurrency
level. The shipped reference data has one setting for inference, AI Energy Score v1: one query at a time (batch
1, no concurrency), exactly 10 new tokens, GPU energy. So only the ``concurrency 1`` level is rated against it,
and only when its responses had the setting's token budget; the other levels are shown, never rated (no
reference measures them). A report whose energy was not measured on this machine has nothing to rate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..core.report_views import BenchmarkView, EndpointView, LevelView
from ..core.views import PhaseView

__all__ = ["REFERENCE_CONCURRENCY", "endpoint_phases"]

#: the concurrency of the one inference reference setting shipped (AI Energy Score v1: one query at a time)
REFERENCE_CONCURRENCY = 1


def endpoint_phases(bench: BenchmarkView, phases: Sequence[PhaseView]) -> tuple[list[PhaseView], list[str], str | None]:
    """(the phases to rate, notes, a reason not to rate) for an endpoint report; other reports pass through."""
    if not bench.served:
        return list(phases), [], None
    if not bench.endpoint.measured_here:
        return [], [], _remote_reason(bench.endpoint)
    levels = {lv.concurrency: lv for lv in bench.levels}
    notes = _unrated_levels_notes(levels)
    ref = levels.get(REFERENCE_CONCURRENCY)
    if ref is None:
        return [], notes, ("not rated: no level matches a reference setting; AI Energy Score v1 measures one "
                           "query at a time, so add concurrency 1 (CLI: --concurrency 1,8,32)")
    rated = [p for p in phases if p.name == ref.phase]
    head = (f"rated: the level at concurrency {REFERENCE_CONCURRENCY}, which matches the AI Energy Score "
            "setting (one query at a time), measured through the server's HTTP API")
    return rated, [head, *notes, *_token_budget(ref, bench.max_new_tokens)], None


def _remote_reason(ep: EndpointView) -> str:
    """Why an endpoint measured elsewhere (a remote server's energy) is not rated, and what to do."""
    return (f"not rated: the energy was not measured here ({ep.energy or 'a remote server'}); "
            "run the benchmark on the server's machine against 127.0.0.1")


def _unrated_levels_notes(levels: Mapping[int, LevelView]) -> list[str]:
    """A note on the levels no reference measures (any concurrency but the reference's): shown, not rated."""
    others = sorted(c for c in levels if c != REFERENCE_CONCURRENCY)
    return [(f"levels at concurrency {', '.join(map(str, others))}: shown, not rated (no reference "
             "measures them; AI Energy Score v1 measures one query at a time)")] if others else []


def _token_budget(ref: LevelView, budget: int | None) -> list[str]:
    """Not comparable when the responses did not have the setting's token budget."""
    per = ref.output_tokens_per_response
    if budget and per is not None and abs(per - float(budget)) > 1e-9:
        return [(f"not comparable: responses averaged {per:.3g} output tokens; AI Energy Score generates "
                f"exactly {budget} (the server may stop early at an end-of-sequence token)")]
    return []
