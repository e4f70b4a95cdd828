"""The arguments of a training run: its meters, its configuration checks, and a custom loop's progress."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.meters.base import Meter
from ..errors import CallbackConfigError

__all__ = ["MetersArg", "Progress", "TRAINER_SAMPLES_RULE", "check_meters", "check_config", "make_meters"]

MetersArg = Meter | Sequence[Meter] | Callable[[Sequence[int] | None, bool], Sequence[Meter]] | None
TRAINER_SAMPLES_RULE = "optimizer steps x total batch size, capped per epoch at the dataset size"


@dataclass
class Progress:
    """A custom loop's cumulative counters, with the names ``TrainerState`` uses (``track_training`` fills them)."""

    global_step: int = 0
    max_steps: int | None = None
    num_input_tokens_seen: float = 0.0
    samples_seen: float = 0.0
    total_flos: float = 0.0
    epoch: float | None = None


def check_meters(meters: Any) -> MetersArg:
    """*meters* as a run takes it: None, a Meter, a factory, or a list of Meters."""
    if meters is None or isinstance(meters, Meter) or callable(meters):
        return meters  # a callable is taken to be the factory
    try:
        got = list(meters)
    except TypeError:
        got = [meters]
    kept = [m for m in got if isinstance(m, Meter)]
    if len(kept) != len(got):
        raise CallbackConfigError(f"meters={got!r}: use None (auto), a Meter, a list of Meters, or a "
                                  "factory f(gpu_indices, measure_host) returning Meters")
    return kept


def check_config(training_type: object, projection_after: object, flush_every_s: object, report_path: object) -> None:
    """Raise :class:`~scer_hf.errors.CallbackConfigError` for a bad argument of a run (what to pass instead)."""
    if training_type not in (None, "fine-tuning", "pre-training"):
        raise CallbackConfigError(f"training_type={training_type!r}: use 'fine-tuning', 'pre-training' or None "
                                  "(None: fine-tuning when the model was loaded with from_pretrained)")
    if not (isinstance(projection_after, (int, float)) and 0.0 <= projection_after <= 1.0):
        raise CallbackConfigError(f"projection_after={projection_after!r}: use a share of max_steps in [0, 1]")
    if not (isinstance(flush_every_s, (int, float)) and flush_every_s >= 0):
        raise CallbackConfigError(f"flush_every_s={flush_every_s!r}: use seconds >= 0 (0 flushes at every log)")
    if report_path is not None and not isinstance(report_path, (str, os.PathLike)):
        raise CallbackConfigError(f"report_path={report_path!r}: use a file path, e.g. 'out/scer_report.json'")


def make_meters(arg: MetersArg, gpu_indices: Sequence[int] | None,
                measures_host: bool) -> tuple[list[Meter], dict[str, str] | None]:
    """This rank's meters from a run's *arg* (None: :func:`scer_hf.core.meters.auto`, with node-wide counters on
    local rank 0 only), and the auto choices to report."""
    if arg is None:
        from ..core.meters.auto import auto
        from .distributed import meters_for_rank

        return meters_for_rank(auto(gpu_indices=gpu_indices, host=True), measures_host)
    if isinstance(arg, Meter):
        return [arg], None
    if callable(arg):
        return list(arg(gpu_indices, measures_host)), None
    return list(arg), None
