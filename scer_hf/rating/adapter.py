"""A PEFT adapter (LoRA, IA3, ...) is rated through its base model, and says so.

An adapter folder, or a Hub repo, holds ``adapter_config.json`` (``base_model_name_or_path``, ``peft_type``) and the
adapter's own weights (``adapter_model.safetensors``), not a model. It runs on its base model: serving it runs the
base's forward pass (plus the adapter's low-rank products, or nothing more once merged), and training it needed the
base's pre-training. So both phases come from the base model's rating (its own figure, or its lineage), labelled
"adapter on <base>" with the adapter's parameter count beside it. The adapter's own fine-tuning is not included: add
``scer_hf.SCERCallback()`` (or ``track_training``) to measure it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import RatingError, SCERError
from . import lineage as _lin
from .engine import inference_how_to, training_how_to
from .hub import HubLookup, file_names, safetensors_total
from .hubrecords import AdapterInfo, LineageInfo
from .local import safetensors_params
from .result import PhaseRating, Rating

__all__ = ["ADAPTER_CONFIG", "Adapter", "AdapterConfig", "is_adapter_folder", "folder_adapter", "hub_adapter",
           "rate_adapter", "read_adapter_config"]

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
_MAX_CONFIG_BYTES = 1 << 20


@dataclass(frozen=True)
class Adapter:
    """What an adapter is made of: its name, base model, method and parameter count, and where that was read."""

    model_id: str
    base_model: str
    method: str | None
    parameters: int | None
    source: str
    origin: str  # "local adapter folder" | "Hub"

    def node(self) -> _lin.Node:
        return _lin.Node(model_id=self.model_id, base_model=self.base_model, relation="adapter",
                         params_b=None, source=self.source, origin=self.origin,
                         notes=f"{self.method or 'PEFT'} adapter" + (f", {self.parameters:,} parameters"
                                                                     if self.parameters else ""))

    def to_dict(self) -> dict[str, Any]:
        return self.info().to_dict()

    def info(self) -> AdapterInfo:
        """The adapter as a rating carries it (``Rating.lineage.adapter``)."""
        return AdapterInfo(model_id=self.model_id, base_model=self.base_model, method=self.method,
                           parameters=self.parameters, source=self.source, origin=self.origin)


def read_adapter_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``adapter_config.json`` as a dict (the one place it is read; RatingError when it is not one)."""
    p = Path(path)
    try:
        if not p.is_file() or p.stat().st_size > _MAX_CONFIG_BYTES:
            raise RatingError(f"{p} is not a readable adapter config (a regular file under 1 MiB)")
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RatingError(f"{p} is not readable JSON ({exc}); is it a PEFT adapter folder?") from exc
    if not isinstance(data, dict):
        raise RatingError(f"{p} is not a JSON object; is it a PEFT adapter folder?")
    return data


@dataclass(frozen=True)
class AdapterConfig:
    """What scer-hf reads of an ``adapter_config.json``: the base model and the PEFT type."""

    base_model: str | None  # base_model_name_or_path, when it is a non-empty text
    peft_type: str | None  # when it is a non-empty text
    peft_type_text: str  # as the file has it, for the source line ("None" when absent)

    @classmethod
    def of(cls, cfg: Mapping[str, Any]) -> AdapterConfig:
        base, peft = cfg.get("base_model_name_or_path"), cfg.get("peft_type")
        return cls(base_model=base.strip() if isinstance(base, str) and base.strip() else None,
                   peft_type=_str(peft), peft_type_text=f"{peft}")


def _base_of(cfg: AdapterConfig, where: str) -> str:
    if cfg.base_model is None:
        raise RatingError(f"{where} names no base_model_name_or_path; an adapter is rated through its base model")
    return cfg.base_model


def is_adapter_folder(x: Any) -> bool:
    """A folder holding ``adapter_config.json`` (what PEFT's ``save_pretrained`` writes)."""
    try:
        return Path(x).is_dir() and (Path(x) / ADAPTER_CONFIG).is_file()
    except (TypeError, ValueError, OSError):
        return False


def folder_adapter(folder: str | os.PathLike[str]) -> Adapter:
    p = Path(folder).resolve()
    cfg = AdapterConfig.of(read_adapter_config(p / ADAPTER_CONFIG))
    base = _base_of(cfg, str(p / ADAPTER_CONFIG))
    n = safetensors_params(p / ADAPTER_WEIGHTS) if (p / ADAPTER_WEIGHTS).is_file() else None
    src = f"{p / ADAPTER_CONFIG}: base_model_name_or_path {base}, peft_type {cfg.peft_type_text}"
    if n is not None:
        src += f"; {n:,} adapter parameters counted from the header of {ADAPTER_WEIGHTS}"
    return Adapter(str(p), base, cfg.peft_type, n, src, "local adapter folder")


def _str(x: Any) -> str | None:
    return str(x) if isinstance(x, str) and x else None


def _fetch_config(repo_id: str, timeout_s: float) -> AdapterConfig | None:
    """A Hub repo's ``adapter_config.json`` (downloaded to a temporary folder, read, removed) within *timeout_s*;
    None on any failure."""
    box: list[AdapterConfig] = []
    failed: list[str] = []  # why there is none (an optional lookup never breaks the rating)
    tmp = tempfile.mkdtemp(prefix="scer-hf-adapter-")

    def work() -> None:
        try:
            from huggingface_hub import HfApi

            path = HfApi().hf_hub_download(repo_id, ADAPTER_CONFIG, local_dir=tmp, etag_timeout=timeout_s)
            box.append(AdapterConfig.of(read_adapter_config(path)))
        except Exception as exc:  # noqa: BLE001 - an optional lookup never breaks the rating
            failed.append(f"{type(exc).__name__}: {exc}"[:300])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    t = threading.Thread(target=work, name="scer-hub-adapter", daemon=True)
    t.start()
    t.join(timeout_s + 0.5)
    return box[0] if box else None


def hub_adapter(repo_id: str, lookup: HubLookup, timeout_s: float = 3.0) -> Adapter | None:
    """The adapter a Hub repo holds (from its ``adapter_config.json``), or None when it holds none.

    *lookup*: the repo's :func:`scer_hf.rating.hub.model_info` answer (its file list says whether it is an adapter).
    """
    info, status = lookup
    if not status.get("checked") or ADAPTER_CONFIG not in file_names(info):
        return None
    cfg = _fetch_config(repo_id, timeout_s)
    base = _hub_base(repo_id, cfg)
    if cfg is None or base is None:
        return None
    n = safetensors_total(info)
    return Adapter(repo_id, base, cfg.peft_type, int(n) if n else None,
                   _hub_source(repo_id, base, cfg, n), "Hub")


def _hub_source(repo_id: str, base: str, cfg: AdapterConfig, n: Any) -> str:
    """Where a Hub adapter's facts come from: its config's base model and PEFT type, the Hub's parameter count."""
    return (f"https://huggingface.co/{repo_id}/blob/main/{ADAPTER_CONFIG}: base_model_name_or_path {base}, "
            f"peft_type {cfg.peft_type_text}"
            + (f"; {n:,} adapter parameters (Hub safetensors metadata)" if n else ""))


def _hub_base(repo_id: str, cfg: AdapterConfig | None) -> str | None:
    """The base model a Hub adapter's fetched config names; None when there is no config or it names none usable."""
    if cfg is None:
        return None
    try:
        return _base_of(cfg, f"{repo_id}/{ADAPTER_CONFIG}")
    except RatingError:
        return None


def _label(ad: Adapter, phase: str, pr: PhaseRating) -> str:
    own = (f"{ad.base_model}'s {pr.basis_label}" if pr.basis_label else f"{ad.base_model}'s own figure")
    what = ("the pre-training it runs on; the adapter's own fine-tuning is not included" if phase == "training"
            else "the base model's forward pass; the adapter's own parameters"
                 + (f" ({ad.parameters:,})" if ad.parameters else "") + " are not included")
    return f"adapter on base model {ad.base_model}: {own} ({what})"


def _mark(ad: Adapter, pr: PhaseRating, phase: str) -> PhaseRating:
    """Label a rating of the base model as the adapter's (its figure stays the base's, and says so)."""
    how = training_how_to(ad.model_id) if phase == "training" else inference_how_to(ad.model_id, None)
    edge = f"lineage: {ad.model_id} is an adapter on {ad.base_model} ({ad.origin}: {ad.source})"
    for p in (pr, *pr.alternatives):
        label = _label(ad, phase, p)
        p.via_model = p.via_model or ad.base_model
        p.basis, p.basis_label = "adapter", label
        if p.available:
            p.method = f"adapter base: {p.method}"
            p.notes.insert(0, label)
            p.sources.insert(0, edge)
        else:
            p.reason = f"adapter on base model {ad.base_model}, which has no {phase} figure: {p.reason}"
        p.how_to_measure = how
    return pr


def _unrated(ad: Adapter, why: str) -> Rating:
    def pr(phase: str) -> PhaseRating:
        how = training_how_to(ad.model_id) if phase == "training" else inference_how_to(ad.model_id, None)
        return PhaseRating(phase=phase, reason=f"adapter on base model {ad.base_model}, which cannot be rated: {why}",
                           how_to_measure=how)

    return Rating(model=ad.model_id, reference_version="", training=pr("training"), inference=pr("inference"))


def rate_adapter(ad: Adapter, rate: Callable[..., Rating], **flags: Any) -> Rating:
    """Rate adapter *ad* through its base model (*rate*: :func:`scer_hf.rate`; *flags*: its keyword arguments)."""
    base: Rating | None = None
    try:
        base = rate(ad.base_model, **flags)
    except SCERError as exc:
        out = _unrated(ad, str(exc))
        from .reference import REFERENCE_VERSION

        out.reference_version = REFERENCE_VERSION
    else:
        out = Rating(model=ad.model_id, reference_version=base.reference_version,
                     training=_mark(ad, base.training, "training"), inference=_mark(ad, base.inference, "inference"),
                     hub=base.hub)
    out.lineage = LineageInfo(node=ad.node().info(), adapter=ad.info(),
                              base=base.lineage if base is not None else None)
    return out
