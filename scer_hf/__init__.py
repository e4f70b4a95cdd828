"""scer-hf: measure, rate and label the carbon efficiency of Hugging Face models.

The core (meters, phase tracker, report, SCI, rating) imports without torch or
transformers; the Trainer callback and the pipeline wrapper load them when used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import _compat
from ._version import __version__
from .core.report import Report
from .errors import SCERError

_compat.install()  # the flat-layout paths (scer_hf.tracker, scer_hf.meters, ...) stay importable

__all__ = [
    "__version__",
    "SCERError",
    "Report",
    "SCERCallback",
    "track_training",
    "track_pipeline",
    "track_model",
    "benchmark",
    "estimate",
    "rate",
    "reference",
    "update_card",
    "PhaseTracker",
    "carbon_intensity",
    "GridSpec",
    "meters",
    "errors",
]

# public name -> (module, attribute or None for the module itself); loaded on first use
_LAZY: dict[str, tuple[str, str | None]] = {
    "SCERCallback": ("scer_hf.hf.callback", "SCERCallback"),
    "track_training": ("scer_hf.hf.training", "track_training"),
    "track_pipeline": ("scer_hf.hf.pipeline", "track_pipeline"),
    "track_model": ("scer_hf.hf.model", "track_model"),
    "benchmark": ("scer_hf.hf.benchmark", "benchmark"),
    "estimate": ("scer_hf.core.calculator", "estimate"),
    "rate": ("scer_hf.rating", "rate"),
    "reference": ("scer_hf.rating.reference", None),
    "update_card": ("scer_hf.publish.card", "update_card"),
    "PhaseTracker": ("scer_hf.core.tracker", "PhaseTracker"),
    "carbon_intensity": ("scer_hf.core.carbon", "carbon_intensity"),
    "GridSpec": ("scer_hf.core.grid", "GridSpec"),
    "meters": ("scer_hf.core.meters", None),
    "errors": ("scer_hf.errors", None),
}


_LAYERS = ("core", "rating", "publish", "hf", "cli")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
    elif f"scer_hf.{name}" in _compat.MOVED:  # a submodule by its flat-layout name: scer_hf.prompts, .quality, ...
        module, attr = _compat.MOVED[f"scer_hf.{name}"], None
    elif name in _LAYERS:  # scer_hf.core, scer_hf.publish, ... before their first import
        module, attr = f"scer_hf.{name}", None
    else:
        raise AttributeError(f"module 'scer_hf' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    flat = {m.split(".", 1)[1] for m in _compat.MOVED if m.count(".") == 1}  # scer_hf.prompts, scer_hf.label...
    return sorted(set(globals()) | set(__all__) | set(_LAZY) | flat | set(_LAYERS))


if TYPE_CHECKING:  # pragma: no cover
    from . import errors
    from .core import meters
    from .core.calculator import estimate
    from .core.carbon import carbon_intensity
    from .core.grid import GridSpec
    from .core.tracker import PhaseTracker
    from .hf.benchmark import benchmark
    from .hf.callback import SCERCallback
    from .hf.model import track_model
    from .hf.pipeline import track_pipeline
    from .hf.training import track_training
    from .publish.card import update_card
    from .rating import rate, reference
