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

from .reference import _num

__all__ = ["KINDS", "provenance_kind", "is_third_party", "footprint"]

KINDS = ("measured", "published", "third-party estimate")


def is_third_party(row: Mapping[str, Any]) -> bool:
    """True when the row's figure was computed by someone other than the model's authors."""
    return "third-party" in str(row.get("evidence") or "").lower()


def provenance_kind(row: Mapping[str, Any]) -> str:
    """``"third-party estimate"`` or ``"published"`` (the authors' own figure)."""
    return "third-party estimate" if is_third_party(row) else "published"


def _hours_name(hardware: str) -> str:
    return "TPU chip-hours" if "tpu" in hardware.lower() else "GPU-hours"


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in (None, "")}


def footprint(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row's absolute figures as its source printed them, with who computed them and where.

    Training: ``energy_mwh``, ``tco2e_operational``, ``tco2e_total``, ``accelerator_hours`` (and
    ``accelerator_hours_unit``), ``hardware``, ``location``, ``grid_g_per_kwh``, ``params_b``,
    ``training_tokens_b``. Inference: ``setting``, ``hardware``, ``batch_size``, ``value`` and ``unit`` as
    published. Always ``provenance``, ``by``, ``source`` and ``ref_id``; absent figures are left out.
    """
    kind = provenance_kind(row)
    out: dict[str, Any] = {"provenance": kind, "by": _computed_by(kind, row), "ref_id": row.get("ref_id"),
                           "source": _text(row.get("source")) or None}
    return {**out, **_clean(_figures(row, _text(row.get("hardware"))))}


def _text(x: Any) -> str:
    return str(x or "").strip()


def _computed_by(kind: str, row: Mapping[str, Any]) -> str:
    """Who computed a row's figures: a third party, the model's authors (training), or the source (a measurement)."""
    if kind != "published":
        return "a third party, not the model's authors"
    return "the model's authors" if row.get("phase") == "training" else "the source below, a measurement"


def _figures(row: Mapping[str, Any], hardware: str) -> dict[str, Any]:
    """The absolute figures of a training, AI Energy Score or ``inference.csv`` row."""
    if row.get("phase") == "training":
        return _training_figures(row, hardware)
    if row.get("source_file") == "aienergyscore_v1.csv" or "gpu_energy_wh_per_1000_queries" in row:
        return {"setting": row.get("setting"), "hardware": hardware, "value": _num(row.get("energy_value")),
                "unit": _text(row.get("unit"))}
    return _inference_figures(row, hardware)


def _training_figures(row: Mapping[str, Any], hardware: str) -> dict[str, Any]:
    hours = _num(row.get("gpu_hours"))
    return {
        "energy_mwh": _num(row.get("energy_mwh")), "tco2e_operational": _num(row.get("tco2e_operational")),
        "tco2e_total": _num(row.get("tco2e_total")), "accelerator_hours": hours,
        "accelerator_hours_unit": _hours_name(hardware) if hours is not None else None,
        "hardware": hardware, "location": str(row.get("location") or "").strip(),
        "grid_g_per_kwh": _num(row.get("grid_gco2_per_kwh")), "params_b": _num(row.get("params_b")),
        "training_tokens_b": _num(row.get("training_tokens_b")),
    }


def _inference_figures(row: Mapping[str, Any], hardware: str) -> dict[str, Any]:
    """An ``inference.csv`` row: J per token where published, else Wh per 1,000 queries."""
    jpt, whq = _num(row.get("joules_per_token")), _num(row.get("energy_wh_per_1000_queries"))
    value, unit = (jpt, "J per token") if jpt is not None else (whq, "Wh per 1,000 queries")
    return {"setting": str(row.get("task") or "").strip(), "hardware": hardware,
            "batch_size": _num(row.get("batch_size")), "value": value, "unit": unit if value is not None else None}
