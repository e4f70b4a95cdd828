"""Measure a transformers pipeline as it serves: ``scer_hf.track_pipeline``.

>>> pipe = scer_hf.track_pipeline(pipeline("text-generation", model=path), country_iso_code="USA")
>>> out = pipe(["Hello", "The sky is"], max_new_tokens=32)   # exactly what the bare pipeline returns
>>> pipe.report                                            # cumulative over calls

Generation tasks get, per call, a top-level ``generate`` phase with children
``prefill`` (call start -> the first new token's logits exist) and ``decode`` (the
rest). The split edge is one shared meter read, so prefill + decode == generate. The
first-logits moment is observed by a no-op ``LogitsProcessor`` appended to the
``model.generate`` call (the model's ``generate`` is wrapped on the instance while any
tracked call uses it, and each call sees only its own generations: :mod:`._hook`).
Other tasks get one ``forward`` phase per call. Calls from many threads at once are
measured each on its own; calls in flight together share the device's energy
(:data:`scer_hf.core.attribution.ATTRIBUTION_RULE`).

transformers 5 has no ``text2text-generation`` pipeline: :class:`Text2TextPipeline`
is a small stand-in on top of ``model.generate`` for encoder-decoder models (T5).
"""

from ._units import per_unit_figures
from ._wrapper import FUNCTIONAL_UNITS, GENERATION_TASKS, TrackedPipeline, track_pipeline
from .text2text import Text2TextPipeline

__all__ = [
    "track_pipeline",
    "TrackedPipeline",
    "Text2TextPipeline",
    "per_unit_figures",
    "GENERATION_TASKS",
    "FUNCTIONAL_UNITS",
]
