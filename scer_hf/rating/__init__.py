"""``scer_hf.rate``: SCER ratings of a model (published figures) or of a measured report.

Two schemes, both per category (phase, task, size class, hardware class, setting):

* SCER v0.1 percentile (``percentile.py``): A/B/C from the rank among peers;
* AI Energy Score stars (``stars.py``): 1-5 from five equal-width energy bands, for
  inference figures in an AI Energy Score v1 task (and class for text generation).

The absolute value, its unit and uncertainty, the category, the number of peers, the
nearest peers and the sources come with every rating.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypedDict

from ..core.bounds import PARAMETERS, check
from ..core.report import Report
from ..core.report_files import REPORT_NAMES, report_paths
from ..errors import ModelIdError, RatingError
from .adapter import folder_adapter, hub_adapter, is_adapter_folder, rate_adapter
from .categories import validate_model_id
from .engine import rate_model
from .hub import hub_offline, model_info
from .local import folder_node, is_model_folder
from .measured import rate_report, rate_reports
from .resolve import resolve_rating
from .result import PhaseRating, Rating

__all__ = ["rate", "resolve_rating", "Rating", "PhaseRating", "RATE_STEPS"]


def _looks_like_id(x: str) -> bool:
    try:
        validate_model_id(x)
    except ModelIdError:
        return False
    return True


def _is_report_path(x: str) -> bool:
    """A ``.json`` name, an existing file, or a folder holding ``scer_report.json``.

    A folder without a report (e.g. a saved model called like its Hub id) is not a report.
    """
    return x.endswith(".json") or os.path.isfile(x) or os.path.isfile(os.path.join(x, "scer_report.json"))


def rate(
    x: Any,
    *,
    task: str | None = None,
    include_secondary: bool = False,
    include_modelled: bool = False,
    include_derived: bool = False,
    extra: Any = None,
    hub: bool | None = None,
    modelled: bool = True,
    parameters: float | None = None,
    include_third_party: bool = False,
) -> Rating:
    """Rate a model id (``"bigscience/bloom-560m"``) or a report (``Report``, dict or path).

    * model id: offline, from the shipped reference data (training from training.csv,
      inference from aienergyscore_v1.csv and inference.csv); a phase with no figure
      says so and gives the command that would measure it. ``hub=None`` (default) also
      reads the Hub card's ``co2_eq_emissions`` when no training row exists and
      ``HF_HUB_OFFLINE`` is unset (3 s limit; never fails); ``hub=False`` never does.
    * report: rated within its category; estimated energy gives ``estimated=True``.
    * PEFT adapter (a folder or Hub repo with adapter_config.json): rated through its base model
      (``base_model_name_or_path``), labelled "adapter on base model ..." (``basis="adapter"``).
    * local model folder (config.json, no scer_report.json): its parameters are counted from the
      safetensors headers (no torch) and it is rated through its lineage (card ``base_model`` or
      config ``_name_or_path``): an inherited training rating and an architecture twin's inference figure.

    A model with no figure of its own is rated through its lineage (``scer_hf/data/lineage.csv``, and,
    online, the Hub card's ``base_model`` and safetensors parameter count): training inherited from its
    base model, inference from an architecture twin; ``basis``/``via_model``/``basis_label`` say so.

    ``task`` restricts (model) or sets (report) the task. ``include_secondary`` /
    ``include_modelled`` add [secondary] and modelled rows to the peers;
    ``include_derived`` adds training energy derived by ``scer_hf.core.calculator`` from
    GPU-hours; ``extra`` adds your own rows (CSV path(s) or row dicts, see
    :func:`scer_hf.rating.reference.rows`).

    ``modelled`` (model id only): a model with a known parameter count but no published
    inference figure gets a modelled range (``scer_hf.rating.modelled``: predicted value, 95 %
    prediction interval, stars as a range, never a grade); ``modelled=False`` turns it off.
    ``parameters``: the model's parameter count (e.g. ``7e9``) when the data has none.
    ``include_third_party``: rank a measured report among third-party estimates too (figures computed by
    someone other than the model's authors, e.g. the LLaMA paper's OPT-175B; off by default).

    A local folder wins over a Hub id of the same name: a folder holding reports (``scer-hf demo``'s
    ``training_report.json`` and ``inference_report.json``) is rated from them, one phase each; a model
    folder through its lineage; a folder with neither is read as the Hub id of its name, with a note saying so
    (not an id: :class:`RatingError`). ``hf://org/name`` is always the Hub id. A rating of reports is bound to them
    (``Rating.reports``).

    Raises ``ModelIdError`` (malformed id), ``UnknownTaskError``, ``ReportSchemaError``.
    """
    if parameters is not None:  # a count from outside: within scer_hf.core.bounds.PARAMETERS
        parameters = check(PARAMETERS, parameters, name="parameters", error=RatingError,
                           hint="; give the model's parameter count, e.g. 7e9")
    flags = _Flags(task=task, include_secondary=include_secondary, include_modelled=include_modelled,
                   include_derived=include_derived, extra=extra)
    asked = _Asked(flags, hub, modelled, parameters, include_third_party)
    for step in RATE_STEPS:
        rating = step(x, asked)
        if rating is not None:
            return rating
    raise AssertionError("model_id always answers")  # pragma: no cover


class _Flags(TypedDict):
    """The options of :func:`rate` that every kind of rating takes (passed on as keywords)."""

    task: str | None
    include_secondary: bool
    include_modelled: bool
    include_derived: bool
    extra: Any  # reference.rows(extra=): a path or rows


@dataclass(frozen=True)
class _Asked:
    """The options of one :func:`rate` call, as each step passes them on."""

    flags: _Flags
    hub: bool | None
    modelled: bool
    parameters: float | None
    include_third_party: bool

    def model(self, model_id: str, **kw: Any) -> Rating:
        return rate_model(model_id, hub=self.hub, modelled=self.modelled, parameters=self.parameters, **kw,
                          **self.flags)

    def adapter(self, adapter: Any) -> Rating:
        return rate_adapter(adapter, rate, hub=self.hub, modelled=self.modelled, **self.flags)


def _is_path(x: Any) -> bool:
    return isinstance(x, (str, os.PathLike))


def hub_uri(x: Any, a: _Asked) -> Rating | None:
    """``hf://org/name``: always the Hub id, whatever is on disk."""
    return a.model(x.removeprefix("hf://")) if isinstance(x, str) and x.startswith("hf://") else None


def adapter_folder(x: Any, a: _Asked) -> Rating | None:
    """A local PEFT adapter: rated through its base model."""
    return a.adapter(folder_adapter(x)) if _is_path(x) and is_adapter_folder(x) else None


def model_folder(x: Any, a: _Asked) -> Rating | None:
    """A local model folder: rated through its lineage (card base_model, config _name_or_path)."""
    if not (_is_path(x) and is_model_folder(x)):
        return None
    return rate_model(str(x), hub=a.hub, node=folder_node(x), **a.flags)


def report_folder(x: Any, a: _Asked) -> Rating | None:
    """A folder of reports (one phase each); a folder with neither reports nor a model is read as a Hub id."""
    if not (_is_path(x) and os.path.isdir(x)):
        return None
    found = report_paths(x)
    if found:
        return rate_reports(found, include_third_party=a.include_third_party, **a.flags)
    if not isinstance(x, str) or not _looks_like_id(x):
        raise RatingError(f"{x} is a local folder with no scer-hf report ({', '.join(REPORT_NAMES)}) and no model "
                          "(config.json); give a report or a model folder")
    r = a.model(x)
    for pr in (r.training, r.inference):  # say which one was read: the folder holds nothing to rate
        pr.notes.insert(0, f"the local folder {x} holds no report or model, so the Hub id {x} was rated")
    return r


def measured_report(x: Any, a: _Asked) -> Rating | None:
    """A measured report: a Report, its dict, or a path to one."""
    if isinstance(x, (Report, dict, os.PathLike)) or (isinstance(x, str) and _is_report_path(x)):
        return rate_report(x, include_third_party=a.include_third_party, **a.flags)
    return None


def model_id(x: Any, a: _Asked) -> Rating:
    """A model id: an adapter repo on the Hub through its base, else from the reference data and lineage."""
    lookup = _hub_lookup(x, a.hub)
    adapter = hub_adapter(x, lookup) if lookup is not None else None
    return a.adapter(adapter) if adapter is not None else a.model(x, lookup=lookup)


#: What :func:`rate` takes its argument for, in order: the first step that recognises it answers.
RATE_STEPS: tuple[Callable[[Any, _Asked], Rating | None], ...] = (
    hub_uri, adapter_folder, model_folder, report_folder, measured_report, model_id,
)


def _hub_lookup(x: Any, hub: bool | None) -> Any:
    """The Hub's answer about a model id the shipped data does not know (an adapter repo shows itself there), made
    once and shared with the rest of the rating; None offline, with ``hub=False``, or for a known model."""
    if hub is False or hub_offline() or not isinstance(x, str) or _known(x):
        return None
    from .categories import validate_model_id

    return model_info(validate_model_id(x))


def _known(model_id: str) -> bool:
    """Whether the shipped data knows *model_id* (under its current name): then no Hub request is needed up front."""
    from . import aliases as _ali
    from . import lineage as _lin
    from . import reference as _ref

    key = _ali.canonical(model_id).lower()
    return _lin.shipped().get(key) is not None or any(
        r.matches(key) for phase in ("training", "inference") for r in _ref.reference_rows(phase))
