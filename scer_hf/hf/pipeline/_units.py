"""Counting helpers of the pipeline wrapper: first-step marker, new tokens, inputs, per-unit figures."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict

from ...core.carbon import J_PER_KWH, CarbonIntensity
from ...core.coverage import Coverage
from ...core.tracker import Measurement
from ...core.views import top_level

__all__ = ["per_unit_figures", "PerUnitFigures"]

_PROCESSOR_CLASS: Any = None


def _scores_only(input_ids: Any, scores: Any) -> Any:
    return scores


_scores_only.__signature__ = inspect.signature(_scores_only)  # type: ignore[attr-defined]


def _first_step_processor(callback: Callable[[], None]) -> Any:
    """A no-op ``LogitsProcessor`` that calls *callback* once, when the first logits exist.

    ``LogitsProcessorList`` runs ``inspect.signature(processor.__call__)`` for every
    processor at every step (~8 us for a method); the instance attribute ``__call__``
    (a function with a precomputed ``__signature__``) makes that ~1 us. Calls still go
    through the class's ``__call__``.
    """
    global _PROCESSOR_CLASS
    if _PROCESSOR_CLASS is None:
        from transformers import LogitsProcessor

        class _FirstStep(LogitsProcessor):
            def __init__(self, cb: Callable[[], None]) -> None:
                self.cb: Callable[[], None] | None = cb
                # what LogitsProcessorList inspects (an instance attribute shadows the method): same parameters
                self.__call__ = _scores_only  # type: ignore[method-assign]

            def __call__(self, input_ids: Any, scores: Any) -> Any:
                if self.cb is not None:
                    cb, self.cb = self.cb, None
                    cb()
                return scores

        _PROCESSOR_CLASS = _FirstStep
    return _PROCESSOR_CLASS(callback)


def _eos_ids(model: Any, kwargs: Mapping[str, Any]) -> list[int]:
    eos = kwargs.get("eos_token_id")
    if eos is None:
        cfg = kwargs.get("generation_config") or getattr(model, "generation_config", None)
        eos = getattr(cfg, "eos_token_id", None)
    if eos is None:
        return []
    if hasattr(eos, "tolist"):
        eos = eos.tolist()
    return [int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos])]


def _count_new_tokens(model: Any, input_ids: Any, out: Any, kwargs: Mapping[str, Any]) -> int:
    """New tokens per row up to and including the first EOS (what follows is padding)."""
    import torch

    seqs = getattr(out, "sequences", out)
    if not isinstance(seqs, torch.Tensor) or seqs.dim() != 2:
        return 0
    if getattr(getattr(model, "config", None), "is_encoder_decoder", False):
        new = seqs[:, 1:]  # drop decoder_start_token_id
    else:
        new = seqs[:, (input_ids.shape[1] if input_ids is not None else 0):]
    if new.shape[1] == 0:
        return 0
    eos = _eos_ids(model, kwargs)
    if not eos:
        return int(new.numel())
    is_eos = torch.isin(new, torch.tensor(eos, device=new.device))
    if not bool(is_eos.any()):
        return int(new.numel())
    first = is_eos.int().argmax(dim=1)
    lengths = torch.where(is_eos.any(dim=1), first + 1, torch.full_like(first, new.shape[1]))
    return int(lengths.sum().item())


def _count_inputs(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    """Queries in one pipeline call; None for a streamed input (counted while it streams)."""
    x = args[0] if args else next((kwargs[k] for k in ("inputs", "text_inputs", "sequences", "text", "question")
                                   if k in kwargs), None)
    if x is None or isinstance(x, (str, bytes, dict)):
        return 1
    if isinstance(x, (list, tuple)):
        if x and all(isinstance(m, dict) and "role" in m for m in x):
            return 1  # one chat conversation
        return len(x)
    return None


class PerUnitFigures(TypedDict):
    """A tracked pipeline's ``extra.per_unit``: counts, and energy / CO2e per query and per 1,000 output tokens."""

    queries: int
    output_tokens: int
    failed_calls: int
    failed_requests: int
    queries_measured: int
    output_tokens_measured: int
    energy_j: float
    coverage: float
    j_per_query: float | None
    g_per_query: float | None
    wh_per_1k_queries: float | None
    gpu_wh_per_1k_queries: float | None
    j_per_1k_output_tokens: float | None
    g_per_1k_output_tokens: float | None
    kwh_per_query: float | None
    note: str


def per_unit_figures(measurements: Sequence[Measurement], carbon: CarbonIntensity) -> PerUnitFigures:
    """Per-query and per-token figures of the top-level phases, from the fully measured calls only: energy and
    counts of the same calls (None where the count is 0, or below the coverage threshold)."""
    top = top_level(measurements)
    cov = Coverage()
    for m in top:
        cov = cov.merge(m.cov)
    basis = cov.energy_j
    energy_j = float(sum(basis.values()))
    gpu_j = sum(v for k, v in basis.items() if k.startswith("gpu"))
    has_gpu = any(k.startswith("gpu") for m in top for k in (*m.energy_j, *m.cov.gap_s))
    queries = float(cov.counts.get("queries", 0))
    out_tokens = float(cov.counts.get("output_tokens", 0))
    co2e_g = carbon.co2e_g(energy_j)
    q = queries or math.nan  # measured-only figures are measured facts at any coverage; the coverage says how many
    o = out_tokens or math.nan

    def fin(x: float) -> float | None:
        return float(x) if math.isfinite(x) else None

    return {
        "queries": int(sum(float(m.counts.get("queries", 0)) for m in top)),
        "output_tokens": int(sum(float(m.counts.get("output_tokens", 0)) for m in top)),
        "failed_calls": int(sum(float(m.counts.get("failed_calls", 0)) for m in top)),
        "failed_requests": int(sum(float(m.counts.get("failed_requests", 0)) for m in top)),
        "queries_measured": int(queries),
        "output_tokens_measured": int(out_tokens),
        "energy_j": energy_j,
        "coverage": cov.measured_fraction,
        "j_per_query": fin(energy_j / q),
        "g_per_query": fin(co2e_g / q),
        "wh_per_1k_queries": fin(energy_j / q * 1000.0 / 3600.0),
        "gpu_wh_per_1k_queries": fin(gpu_j / q * 1000.0 / 3600.0) if has_gpu else None,
        "j_per_1k_output_tokens": fin(energy_j / o * 1000.0),
        "g_per_1k_output_tokens": fin(co2e_g / o * 1000.0),
        "kwh_per_query": fin(energy_j / q / J_PER_KWH),
        "note": "IT energy of the fully measured calls (all components) over the queries and tokens of the same "
                "calls; calls that raised count as spent energy, not as answered queries; g CO2e with the "
                "report's grid intensity and PUE",
    }
