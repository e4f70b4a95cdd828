"""scer-hf: measure, rate and label the carbon efficiency of Hugging Face models.

The core (meters, phase tracker, report, SCI, rating) imports without torch or
transformers; the Trainer callback and the pipeline wrapper load them when used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import SCERError
from .core.report import Report

__all__ = [
    "__version__",
    "SCERError",
    "Report",
    "SCERCallback",
    "track_pipeline",
    "benchmark",
    "estimate",
    "rate",
    "reference",
    "update_card",
    "PhaseTracker",
    "carbon_intensity",
    "meters",
    "errors",
]

# public name -> (module, attribute or None for the module itself); loaded on first use
_LAZY: dict[str, tuple[str, str | None]] = {
    "SCERCallback": ("scer_hf.callback", "SCERCallback"),
    "track_pipeline": ("scer_hf.pipeline", "track_pipeline"),
    "benchmark": ("scer_hf.protocol", "benchmark"),
    "estimate": ("scer_hf.calculator", "estimate"),
    "rate": ("scer_hf.rating", "rate"),
    "reference": ("scer_hf.reference", None),
    "update_card": ("scer_hf.card", "update_card"),
    "PhaseTracker": ("scer_hf.tracker", "PhaseTracker"),
    "carbon_intensity": ("scer_hf.carbon", "carbon_intensity"),
    "meters": ("scer_hf.meters", None),
    "errors": ("scer_hf.errors", None),
}


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'scer_hf' has no attribute {name!r}") from None
    mod = importlib.import_module(module)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover
    from . import errors
    from .core import meters
    from .rating import reference
    from .hf.benchmark import benchmark
    from .core.calculator import estimate
    from .hf.callback import SCERCallback
    from .publish.card import update_card
    from .core.carbon import carbon_intensity
    from .hf.pipeline import track_pipeline
    from .rating import rate
    from .core.tracker import PhaseTracker
