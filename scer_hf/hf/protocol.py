"""The benchmark protocol's settings: token budgets, caps and warm-up, the prompts, the stopping rule's interval.

Shared by :func:`scer_hf.benchmark` (a model in this process) and :func:`scer_hf.hf.serving.benchmark_endpoint`
(a running server); :class:`RunSettings` is one in-process run's checked settings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from ..core import stopping as _stopping
from ..errors import BenchmarkSettingsError, EmptyPromptsError
from .prompts import PromptsInfo, load_prompts, prompt_set_info

__all__ = ["PROTOCOL_VERSION", "SETTINGS", "DEFAULT_QUERIES", "DEFAULT_WARMUP", "DEFAULT_MIN_QUERIES",
           "RunSettings", "prompt_texts", "sequential_ci", "GenerationSetting",
           "GenerationSettingDict", "GENERATION", "Interval", "interval_of"]

PROTOCOL_VERSION = "scer-hf-bench/2"  # /2: the stopping rule scer-hf-stop/2 (min 50, 97 % t quantile)
# Generation budgets. aienergyscore: AI Energy Score v1 text_generation config (optimum-benchmark energy_star:
# max_new_tokens = min_new_tokens = 10, batch_size 1, greedy). long: LLM-Perf leaderboard GENERATE_KWARGS
# (huggingface/llm-perf-backend llm_perf/common/utils.py: max_new_tokens = min_new_tokens = 64, batch_size 1).
class GenerationSettingDict(TypedDict):
    max_new_tokens: int
    batch_size: int
    source: str


@dataclass(frozen=True)
class GenerationSetting:
    """One protocol setting: the generation budget per prompt, the batch, and where they come from."""

    max_new_tokens: int
    batch_size: int
    source: str

    def to_dict(self) -> GenerationSettingDict:
        return GenerationSettingDict(max_new_tokens=self.max_new_tokens, batch_size=self.batch_size,
                                     source=self.source)


GENERATION: dict[str, GenerationSetting] = {
    "aienergyscore": GenerationSetting(
        10, 1, "AI Energy Score v1 (optimum-benchmark energy_star text_generation config)"),
    "long": GenerationSetting(64, 1, "LLM-Perf leaderboard (huggingface/llm-perf-backend GENERATE_KWARGS)"),
}
SETTINGS: dict[str, GenerationSettingDict] = {k: g.to_dict() for k, g in GENERATION.items()}  # as published
DEFAULT_QUERIES = 1000  # AI Energy Score: num_samples 1000 per task
DEFAULT_WARMUP = 10  # optimum-benchmark energy_star warmup_runs default; LLM-Perf warmup_runs=10
# Our protocol choice (not from a source), chosen by simulation: see scer_hf.core.stopping
DEFAULT_MIN_QUERIES = _stopping.DEFAULT_MIN_QUERIES


@dataclass(frozen=True)
class RunSettings:
    """The checked settings of one benchmark: the protocol, the cap, the batch and the stopping rule."""

    setting: str
    cap: int
    batch_size: int
    min_queries: int
    warmup: int
    rel_ci: float
    confidence: float

    @classmethod
    def checked(cls, setting: str, queries: int | None, batch_size: int, min_queries: int, warmup: int,
                rel_ci: float, confidence: float) -> RunSettings:
        if setting not in SETTINGS:
            raise BenchmarkSettingsError(f"setting {setting!r} is unknown; use one of {', '.join(SETTINGS)}")
        cap = DEFAULT_QUERIES if queries is None else int(queries)
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise BenchmarkSettingsError(f"batch_size={batch_size!r}: need a whole number of prompts per call, >= 1 "
                                         "(1 is the AI Energy Score setting)")
        if cap < 1 or warmup < 0 or min_queries < 2 or not 0 < rel_ci < 1 or not 0 < confidence < 1:
            raise BenchmarkSettingsError(
                f"invalid settings (queries={cap}, warmup={warmup}, min_queries={min_queries}, rel_ci={rel_ci}, "
                f"confidence={confidence}); need queries >= 1, warmup >= 0, min_queries >= 2, 0 < rel_ci < 1 "
                "(0.05 = +-5 %) and 0 < confidence < 1 (0.95)")
        return cls(setting, cap, batch_size, min_queries, warmup, rel_ci, confidence)

    @property
    def calls(self) -> int:
        """Calls the cap allows (the last one may pass the cap by less than a batch)."""
        return -(-self.cap // self.batch_size)

    @property
    def need(self) -> int:
        """Measured calls the stopping rule waits for (never more than the cap allows)."""
        return min(self.min_queries, self.calls)


_USER_PROMPTS = PromptsInfo(name="user prompts", source="user-supplied", license=None)


def _dataset_texts(prompts: Any) -> tuple[list[Any], PromptsInfo]:
    """The ``prompt`` (else ``text``) column of a ``datasets.Dataset``, with its description and license."""
    col = next((c for c in ("prompt", "text") if c in prompts.column_names), None)
    if col is None:
        raise EmptyPromptsError(f"the prompts dataset has no 'prompt' or 'text' column (has {prompts.column_names})")
    return list(prompts[col]), PromptsInfo(name="user dataset",
                                           source=getattr(prompts.info, "description", "") or "user-supplied",
                                           license=getattr(prompts.info, "license", "") or None)


def prompt_texts(prompts: Any) -> tuple[list[str], PromptsInfo]:
    """The prompts to run and where they come from: the shipped set, a dataset, a string, or a list."""
    if prompts is None:
        recs = load_prompts()
        return [r["prompt"] for r in recs], prompt_set_info(len(recs))
    if hasattr(prompts, "column_names"):  # a datasets.Dataset
        texts, info = _dataset_texts(prompts)
    elif isinstance(prompts, str):
        texts, info = [prompts], _USER_PROMPTS.copy()
    else:
        texts, info = [p["prompt"] if isinstance(p, dict) else p for p in prompts], _USER_PROMPTS.copy()
    texts = [t for t in texts if isinstance(t, str) and t.strip()]
    if not texts:
        raise EmptyPromptsError("no non-empty prompts to benchmark with; pass prompts=None for the shipped set "
                                "or a list of strings")
    info["n"] = len(texts)
    return texts, info


def sequential_ci(values: Sequence[float], confidence: float = 0.95) -> dict[str, float | None]:
    """Mean and half-width of the stopping rule's interval of *values* (None below two values): a Student-t
    interval at :func:`scer_hf.core.stopping.quantile_level` of *confidence* (0.97 for 0.95)."""
    rule = _stopping.SequentialStop(confidence=confidence)
    for v in values:
        rule.add(v)
    return rule.interval()


def _opt(x: object) -> float | None:
    return float(x) if isinstance(x, (int, float)) else None


@dataclass(frozen=True)
class Interval:
    """The stopping rule's interval of the energy per query (:func:`sequential_ci`'s dict, typed once)."""

    n: int
    mean_j_per_query: float | None
    half_width_j: float | None
    rel_half_width: float | None
    confidence: float
    quantile_level: float

    @classmethod
    def of(cls, d: Mapping[str, Any]) -> Interval:
        """From :meth:`scer_hf.core.stopping.SequentialStop.interval`'s dict."""
        return cls(int(d["n"]), _opt(d["mean_j_per_query"]), _opt(d["half_width_j"]), _opt(d["rel_half_width"]),
                   float(d["confidence"]), float(d["quantile_level"]))


def interval_of(values: Sequence[float], confidence: float = 0.95) -> Interval:
    """:func:`sequential_ci` of *values*, typed."""
    return Interval.of(sequential_ci(values, confidence))
