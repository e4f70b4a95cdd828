"""What a reference row's source printed, in absolute terms, and who computed it.

A rating compares normalised figures (Wh per 1 quadrillion parameter-tokens, Wh per 1,000 queries). People
also need the totals the source published: a training run's energy, operational and total CO2e,
accelerator-hours, hardware and location; an inference figure's setting. :func:`footprint` gives them, each
as published (never rounded, never derived), with its source.

Provenance has three kinds (:data:`KINDS`): ``measured`` (a scer-hf report), ``published`` (the model's authors'
own figure) and ``third-party estimate`` (a figure someone else computed for the model, e.g. the LLaMA
paper's recomputation of OPT-175B). A row is a third-party estimate when its notes label says so
(``[... third-party estimate]`` in ``training.csv``/``inference.csv``). Third-party rows are kept out of the
peers that grade a measured run unless asked for (``include_third_party=True``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .records import Published
from .reference import _num
from .refrow import ReferenceRow

__all__ = ["KINDS", "provenance_kind", "is_third_party", "footprint", "published_of"]

KINDS = ("measured", "published", "third-party estimate")


def is_third_party(row: ReferenceRow | Mapping[str, Any]) -> bool:
    """True when the row's figure was computed by someone other than the model's authors."""
    evidence = row.evidence if isinstance(row, ReferenceRow) else row.get("evidence")
    return "third-party" in str(evidence or "").lower()


def provenance_kind(row: ReferenceRow | Mapping[str, Any]) -> str:
    """``"third-party estimate"`` or ``"published"`` (the authors' own figure)."""
    return "third-party estimate" if is_third_party(row) else "published"


def _hours_name(hardware: str) -> str:
    return "TPU chip-hours" if "tpu" in hardware.lower() else "GPU-hours"


def footprint(row: ReferenceRow | Mapping[str, Any]) -> dict[str, Any]:
    """The row's absolute figures as its source printed them, with who computed them and where.

    Training: ``energy_mwh``, ``tco2e_operational``, ``tco2e_total``, ``accelerator_hours`` (and
    ``accelerator_hours_unit``), ``hardware``, ``location``, ``grid_g_per_kwh``, ``params_b``,
    ``training_tokens_b``. Inference: ``setting``, ``hardware``, ``batch_size``, ``value`` and ``unit`` as
    published. Always ``provenance``, ``by``, ``source`` and ``ref_id``; absent figures are left out.
    (:func:`published_of`'s JSON.)
    """
    return published_of(ReferenceRow.of(row)).to_dict()


def published_of(row: ReferenceRow) -> Published:
    """The :class:`~scer_hf.rating.records.Published` record of a reference row (:func:`footprint`)."""
    kind = provenance_kind(row)
    who = (kind, _computed_by(kind, row), row.ref_id, row.source or None)
    if row.phase == "training":
        return _training_figures(who, row)
    if row.source_file == "aienergyscore_v1.csv" or "gpu_energy_wh_per_1000_queries" in row.columns:
        return Published(*who, setting=row.setting, hardware=row.hardware,
                         value=_num(row.columns.get("energy_value")), unit=(row.columns.get("unit") or "").strip())
    return _inference_figures(who, row)


def _computed_by(kind: str, row: ReferenceRow) -> str:
    """Who computed a row's figures: a third party, the model's authors (training), or the source (a measurement)."""
    if kind != "published":
        return "a third party, not the model's authors"
    return "the model's authors" if row.phase == "training" else "the source below, a measurement"


def _training_figures(who: tuple[str, str, str, str | None], row: ReferenceRow) -> Published:
    col = row.columns
    hours = _num(col.get("gpu_hours"))
    return Published(
        *who, energy_mwh=_num(col.get("energy_mwh")), tco2e_operational=_num(col.get("tco2e_operational")),
        tco2e_total=_num(col.get("tco2e_total")), accelerator_hours=hours,
        accelerator_hours_unit=_hours_name(row.hardware) if hours is not None else None,
        hardware=row.hardware, location=(col.get("location") or "").strip(),
        grid_g_per_kwh=_num(col.get("grid_gco2_per_kwh")), params_b=_num(col.get("params_b")),
        training_tokens_b=_num(col.get("training_tokens_b")),
    )


def _inference_figures(who: tuple[str, str, str, str | None], row: ReferenceRow) -> Published:
    """An ``inference.csv`` row: J per token where published, else Wh per 1,000 queries."""
    col = row.columns
    jpt, whq = _num(col.get("joules_per_token")), _num(col.get("energy_wh_per_1000_queries"))
    value, unit = (jpt, "J per token") if jpt is not None else (whq, "Wh per 1,000 queries")
    return Published(*who, setting=(col.get("task") or "").strip(), hardware=row.hardware,
                     batch_size=_num(col.get("batch_size")), value=value, unit=unit if value is not None else None)
