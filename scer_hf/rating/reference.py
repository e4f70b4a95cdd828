"""The shipped reference data: published energy/carbon figures of language models.

Three CSV files in ``scer_hf/data`` (sources in ``scer_hf/data/SOURCES.md``), kept as
shipped, every column: ``training.csv`` (pre-training runs), ``inference.csv`` (per-query
figures from papers, leaderboards and disclosures) and ``aienergyscore_v1.csv`` (the AI
Energy Score v1 leaderboard, Feb 2025, GPU energy per 1,000 queries on an H100).

:func:`load` gives a ``datasets.Dataset``; :func:`rows` gives the same rows as plain
dicts without importing ``datasets`` (what the rating engine uses). Each row keeps its
source columns as strings, plus derived columns that never clash with them:

``ref_id`` ("training.csv#21"), ``source_file``, ``phase``, ``model_key`` (the model id
whatever the file calls it), ``members`` (the lower-case current ids the row is about: one, or each model of a
"family total" row such as ``google/gemma-2b|google/gemma-7b (family total)``; renamed ids resolved through
``aliases.csv``), ``family_total``, ``evidence`` (the note's [label]), ``secondary``,
``modelled``, ``derived``, ``task_key`` (pipeline tag), ``setting``, ``size_class``,
``hardware_class``, ``params_b_value``, ``tokens_b_value``, ``energy_wh``, ``group`` (the peer category),
``value``/``value_unit`` (the normalised figure that is rated), ``co2e_value``/``co2e_unit``, ``published_stars``.

Normalisation (the arithmetic, written down):

* training: ``value = energy_mwh * 1e6 Wh / (params_b * 1e9 * training_tokens_b * 1e9) * 1e15``
  = ``energy_mwh * 1000 / (params_b * training_tokens_b)`` Wh per 10^15 parameter-tokens,
  so models of different sizes and token budgets compare; emissions the same way,
  ``co2e_value = tco2e_operational * 1000 / (params_b * training_tokens_b)`` g CO2e per
  10^15 parameter-tokens. Rows lacking energy, parameters or tokens get ``value`` None.
* inference.csv: J per token where published (``joules_per_token``), else Wh per 1,000
  queries (``energy_wh_per_1000_queries``), as SOURCES.md advises.
* aienergyscore_v1.csv: ``gpu_energy_wh_per_1000_queries`` (= published kWh x 1000).

Excluded by default (``include_secondary`` / ``include_modelled`` bring them back):
rows whose note label says ``[secondary ...]`` and rows marked MODELED. Duplicate models
(several sources or settings) stay separate rows, never averaged.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .. import _read
from ..errors import ReferenceDataError, SCERError
from .categories import hardware_class, size_class
from .refrow import Normalised, ReferenceRow

__all__ = [
    "REFERENCE_VERSION",
    "AIES_EDITION",
    "FILES",
    "load",
    "rows",
    "reference_rows",
    "ReferenceRow",
    "raw_rows",
    "data_dir",
    "derive_training_value",
    "derive_training_row",
    "matches",
    "members_of",
    "dataset_info",
    "CITATIONS",
]

REFERENCE_VERSION = "scer-hf-reference 2026.12"
AIES_EDITION = "AI Energy Score v1 (Feb 2025)"
FILES = ("training.csv", "inference.csv", "aienergyscore_v1.csv")
_PHASES = {"training": ("training.csv",), "inference": ("inference.csv", "aienergyscore_v1.csv")}
TRAINING_UNIT = "Wh per 1 quadrillion parameter-tokens"  # 10^15; one spelling in JSON and text
TRAINING_CO2E_UNIT = "gCO2eq per 1 quadrillion parameter-tokens"
AIES_SETTING = "AI Energy Score v1: 1,000 queries, batch size 1, GPU energy only, NVIDIA H100 80GB"


def data_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "data"


def _num(text: Any) -> float | None:
    if text is None:
        return None
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    s = str(text).strip().replace(",", "")
    if not s:
        return None
    try:
        return float(s)
    except ValueError:
        return None


def _evidence(notes: str) -> tuple[str, bool, bool]:
    """(label, secondary, modelled) from a note such as '[primary transcription, MODELED] ...'."""
    m = re.match(r"\s*\[([^\]]*)\]", notes or "")
    label = m.group(1).strip() if m else ""
    secondary = "secondary" in label.lower()
    modelled = bool(re.search(r"\bMODELL?ED\b", notes or "")) or any(w in label.lower()
                                                                     for w in ("modelled", "modeled"))
    return label, secondary, modelled


@functools.lru_cache(maxsize=64)
def _read_csv(path: str, stamp: tuple[int, int] = (0, 0)) -> tuple[tuple[str, ...], tuple[dict[str, str], ...]]:
    """Header and rows of a CSV; *stamp* (mtime_ns, size) re-reads a user file that changed."""
    raw = _read.read_bytes(path, what="CSV", error=ReferenceDataError)  # a regular file only, size cap
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:  # a user's extra= file that is not UTF-8
        raise ReferenceDataError(f"reference file {path} is not a UTF-8 CSV (invalid byte at offset {exc.start}); "
                                 "save it as CSV, UTF-8") from None
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        data = tuple(dict(r) for r in reader)
        return tuple(reader.fieldnames or ()), data
    except csv.Error as exc:  # a user's extra= file that is not a CSV
        raise ReferenceDataError(f"reference file {path} is not a CSV (line {reader.line_num}: "
                                 f"{type(exc).__name__}); save it as CSV, UTF-8") from None


def raw_rows(name: str) -> list[dict[str, str]]:
    """The rows of one shipped file exactly as shipped (all columns, strings)."""
    if name not in FILES:
        raise ReferenceDataError(f"unknown reference file {name!r}; shipped files: {', '.join(FILES)}")
    return [dict(r) for r in _read_csv(str(data_dir() / name))[1]]


# -- normalisation of one row ---------------------------------------------------------------
def _per_parameter_token(total: float | None, param_tokens: float | None) -> float | None:
    """A published total (MWh or tCO2e) per parameter-token, in the training unit; None when either is unknown."""
    return total * 1000.0 / param_tokens if param_tokens and total is not None else None


def _wh_of_mwh(mwh: float | None) -> float | None:
    return mwh * 1e6 if mwh is not None else None


def _int_or_none(x: float | None) -> int | None:
    return int(x) if x is not None else None


def _unit_of(value: float | None, unit: str) -> str | None:
    """*unit* for a value that exists; None for a missing one."""
    return unit if value is not None else None


def _training(raw: Mapping[str, str]) -> Normalised:
    params_b, tokens_b = _num(raw.get("params_b")), _num(raw.get("training_tokens_b"))
    energy_mwh, tco2e = _num(raw.get("energy_mwh")), _num(raw.get("tco2e_operational"))
    pt = params_b * tokens_b if params_b and tokens_b else None
    value, co2e = _per_parameter_token(energy_mwh, pt), _per_parameter_token(tco2e, pt)
    label, secondary, modelled = _evidence(raw.get("notes", ""))
    return {
        "model_key": (raw.get("model_id") or "").strip(), "phase": "training", "evidence": label,
        "secondary": secondary, "modelled": modelled, "derived": False, "task_key": "pre-training",
        "setting": "pre-training (final run, as published)", "size_class": size_class(params_b),
        "hardware_class": hardware_class(raw.get("hardware")), "params_b_value": params_b,
        "tokens_b_value": tokens_b, "energy_wh": _wh_of_mwh(energy_mwh),
        "value": value, "value_unit": _unit_of(value, TRAINING_UNIT),
        "co2e_value": co2e, "co2e_unit": _unit_of(co2e, TRAINING_CO2E_UNIT),
        "group": "training | pre-training | energy per parameter-token", "published_stars": None,
        "derivation": None,
    }


def _inference(raw: Mapping[str, str]) -> Normalised:
    params_b = _num(raw.get("params_b"))
    task = (raw.get("task") or "").strip()
    setting = task.split("; host:")[0].strip()
    jpt, whq = _num(raw.get("joules_per_token")), _num(raw.get("energy_wh_per_1000_queries"))
    value, unit = (jpt, "J per token") if jpt is not None else (whq, "Wh per 1,000 queries")
    unit_or_none = unit if value is not None else None
    label, secondary, modelled = _evidence(raw.get("notes", ""))
    return {  # a Normalised
        "model_key": (raw.get("model_id") or "").strip(), "phase": "inference", "evidence": label,
        "secondary": secondary, "modelled": modelled, "derived": False,
        "task_key": "zero-shot-mixed" if "zero-shot" in task.lower() else "text-generation",
        "setting": setting, "size_class": size_class(params_b),
        "hardware_class": hardware_class(raw.get("hardware")), "params_b_value": params_b,
        "tokens_b_value": None, "energy_wh": None, "value": value, "value_unit": unit_or_none,
        "co2e_value": None, "co2e_unit": None,
        "group": f"inference | {(raw.get('source') or '').strip()} | {setting} | {unit_or_none}",
        "published_stars": None, "derivation": None,
    }


def _aies(raw: Mapping[str, str]) -> Normalised:
    task = (raw.get("task") or "").strip()
    cls = (raw.get("model_class") or "").strip() or None
    value = _num(raw.get("gpu_energy_wh_per_1000_queries"))
    stars = _num(raw.get("energy_score_stars"))
    return {
        "model_key": (raw.get("model") or "").strip(), "phase": "inference",
        "evidence": "primary data (leaderboard CSV via public mirror)", "secondary": False,
        "modelled": False, "derived": False, "task_key": (raw.get("hf_pipeline_tag") or "").strip(),
        "setting": AIES_SETTING, "size_class": cls, "hardware_class": hardware_class(raw.get("hardware")),
        "params_b_value": None, "tokens_b_value": None, "energy_wh": None, "value": value,
        "value_unit": _unit_of(value, "Wh per 1,000 queries (GPU)"),
        "co2e_value": None, "co2e_unit": None, "group": aies_group(task, cls),
        "published_stars": _int_or_none(stars), "derivation": None,
    }


def aies_group(task: str, model_class: str | None) -> str:
    """Peer group name of an AI Energy Score v1 task (and class, for text generation)."""
    return f"{AIES_EDITION} | {task}" + (f" | class {model_class}" if task == "text_generation" and model_class else "")


_NORMALISE = {"training.csv": _training, "inference.csv": _inference, "aienergyscore_v1.csv": _aies}


def _kind_of(columns: Iterable[str]) -> str:
    cols = set(columns)
    if "gpu_energy_wh_per_1000_queries" in cols:
        return "aienergyscore_v1.csv"
    if cols & {"training_tokens_b", "energy_mwh", "tco2e_operational"}:
        return "training.csv"
    if cols & {"energy_wh_per_1000_queries", "joules_per_token"}:
        return "inference.csv"
    raise ReferenceDataError(
        f"extra reference rows have {len(cols)} column(s), none a value column of a shipped file (their names "
        "are not repeated here: a file's content never goes into a message); use the columns of one shipped file "
        f"(training.csv: model_id, params_b, training_tokens_b, energy_mwh, ..., source, notes; inference.csv: "
        f"model_id, energy_wh_per_1000_queries or joules_per_token, ..., source, notes; aienergyscore_v1.csv)"
    )


_FAMILY = re.compile(r"\s*\(family total\)\s*$", re.IGNORECASE)


def members_of(model_key: str) -> tuple[tuple[str, ...], bool]:
    """``(lower-case current ids, family_total)`` of a row's model key.

    ``"google/gemma-2b|google/gemma-7b (family total)"`` -> both ids and True; a single id -> itself (resolved
    through the alias table, so a renamed model matches under either name) and False.
    """
    from .aliases import canonical  # aliases reads its table through this module

    family = bool(_FAMILY.search(model_key))
    names = [n.strip() for n in _FAMILY.sub("", model_key).split("|") if n.strip()]
    return tuple(canonical(n).lower() for n in names), family and len(names) > 1


def matches(row: ReferenceRow | Mapping[str, Any], key: str) -> bool:
    """Whether reference *row* (a :class:`ReferenceRow` or its dict) is about the model whose current lower-case id
    is *key*."""
    if isinstance(row, ReferenceRow):
        return row.matches(key)
    members = row.get("members")
    if members is None:
        members = members_of(str(row.get("model_key") or ""))[0]
    return key in members


def _row(kind: str, raw: Mapping[str, object], source_file: str, number: int) -> ReferenceRow:
    """Source row *number* of *source_file*, normalised as a row of the shipped file *kind*: its columns as text
    ("" for a missing value), then the derived columns."""
    columns = {k: "" if v is None else str(v) for k, v in raw.items()}
    norm = _NORMALISE[kind](columns)
    members, family_total = members_of(norm["model_key"])
    return ReferenceRow(**norm, source_file=source_file, ref_id=f"{source_file}#{number}", members=members,
                        family_total=family_total, columns=columns)


@functools.cache
def _shipped(name: str) -> tuple[ReferenceRow, ...]:
    return tuple(_row(name, r, name, i) for i, r in enumerate(_read_csv(str(data_dir() / name))[1], start=1))


def derive_training_value(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """A copy of a training row dict whose energy comes from ``scer_hf.core.calculator.derive_training_energy``
    (:func:`derive_training_row` on the dict's :class:`ReferenceRow`), or None."""
    derived = derive_training_row(ReferenceRow.from_dict(row))
    if derived is None:
        return None
    return {**row, **{k: v for k, v in derived.to_dict().items() if k not in derived.columns}}


def derive_training_row(row: ReferenceRow) -> ReferenceRow | None:
    """A copy of a training row whose energy comes from ``scer_hf.core.calculator.derive_training_energy``.

    Only for rows with no published energy. None when the calculator declines the row, or the row lacks
    parameters/tokens. Marked ``derived=True``.
    """
    if row.phase != "training" or row.energy_wh is not None:
        return None
    derived = _calculator_energy(row)
    if derived is None:
        return None
    energy_mwh, derivation = derived
    params_b, tokens_b = row.params_b_value, row.tokens_b_value
    out = dataclasses.replace(row, derived=True, energy_wh=energy_mwh * 1e6, derivation=derivation,
                              evidence=f"{row.evidence}; energy derived (calculator)".lstrip("; "))
    if params_b and tokens_b:
        out = dataclasses.replace(out, value=energy_mwh * 1000.0 / (params_b * tokens_b), value_unit=TRAINING_UNIT)
    return out


def _calculator_energy(row: ReferenceRow) -> tuple[float, str] | None:
    """(energy in MWh, how it was derived) from the calculator; None when it declines the row."""
    from ..core.calculator import derive_training_energy

    try:
        out = derive_training_energy(row.to_dict())
    except (SCERError, ValueError, KeyError, TypeError, LookupError):  # the calculator declined this row
        return None
    if not out or _num(out.get("energy_mwh_derived")) is None:
        return None
    return float(out["energy_mwh_derived"]), str(out.get("derivation", ""))


def _extra_items(extra: Any) -> list[Any]:
    """*extra* as a list of sources: CSV paths and lists of row dicts (a single path, row or list of rows too)."""
    if isinstance(extra, (str, os.PathLike)):
        return [extra]
    if isinstance(extra, Mapping):
        return [[extra]]
    items = list(extra)
    return [items] if items and all(isinstance(x, Mapping) for x in items) else items


def _extra_file(item: str | os.PathLike[str]) -> tuple[tuple[str, ...], tuple[Any, ...], str]:
    """(columns, rows, name) of an extra CSV file (through the cached CSV reader, keyed on its mtime and size)."""
    p = Path(item)
    if not p.is_file():
        raise ReferenceDataError(f"extra reference file {p} "
                                 f"{'is a folder, not a CSV file' if p.is_dir() else 'does not exist'}")
    st = p.stat()
    cols, data = _read_csv(str(p.resolve()), (st.st_mtime_ns, st.st_size))
    return cols, data, f"extra:{p.name}"


def _extra_source(item: Any, k: int, n: int) -> tuple[tuple[str, ...], tuple[Any, ...], str]:
    """(columns, rows, name) of the *k*-th of *n* extra sources: a CSV file or a list of row dicts."""
    if isinstance(item, (str, os.PathLike)):
        return _extra_file(item)
    data = tuple(dict(r) for r in item)
    cols = tuple(dict.fromkeys(c for r in data for c in r))
    return cols, data, f"extra:rows{k + 1}" if n > 1 else "extra:rows"


def _extra_row(raw: Mapping[str, Any], kind: str, name: str, i: int) -> ReferenceRow:
    """One extra row, normalised as the shipped rows of its kind; it must name a model and a source."""
    model = (raw.get("model") or raw.get("model_id") or "").strip()
    if not model or not str(raw.get("source") or "").strip():
        raise ReferenceDataError(f"{name} row {i}: every extra row needs a model id and a 'source' saying where "
                                 "the figure comes from")
    return _row(kind, raw, name, i)


def _extra_rows(extra: Any) -> list[ReferenceRow]:
    if extra is None:
        return []
    items = _extra_items(extra)
    out: list[ReferenceRow] = []
    for k, item in enumerate(items):
        cols, data, name = _extra_source(item, k, len(items))
        kind = _kind_of(cols)
        out += [_extra_row(raw, kind, name, i) for i, raw in enumerate(data, start=1)]
    return out


def _files_for(name: str) -> tuple[str, ...]:
    if name in _PHASES:
        return _PHASES[name]
    stem = name if name.endswith(".csv") else f"{name}.csv"
    if stem in FILES and name not in ("training", "inference"):
        return (stem,)
    raise ReferenceDataError(
        f"unknown reference {name!r}; use a phase ('training', 'inference') or a file "
        f"({', '.join(FILES)}; 'aienergyscore_v1' also works)"
    )


def rows(
    name: str = "inference",
    *,
    include_secondary: bool = False,
    include_modelled: bool = False,
    include_derived: bool = False,
    extra: Any = None,
) -> list[dict[str, Any]]:
    """Normalised reference rows as dicts (fast: csv module only, cached): :func:`reference_rows`'s rows, each
    ``ReferenceRow.to_dict()``.

    *name* is a phase ("training" = training.csv, "inference" = inference.csv +
    aienergyscore_v1.csv) or one shipped file. *extra*: a CSV path, a list of paths,
    or a list of row dicts with the columns of one shipped file; extra rows of the
    other phase are ignored.
    """
    return [r.to_dict() for r in reference_rows(name, include_secondary=include_secondary,
                                                include_modelled=include_modelled, include_derived=include_derived,
                                                extra=extra)]


def reference_rows(
    name: str = "inference",
    *,
    include_secondary: bool = False,
    include_modelled: bool = False,
    include_derived: bool = False,
    extra: Any = None,
) -> list[ReferenceRow]:
    """The rows of :func:`rows` as typed :class:`ReferenceRow` (what the rating engine reads)."""
    files = _files_for(name)
    phase = "training" if files == ("training.csv",) else "inference"
    out = _shipped_rows(files, derived=include_derived)
    out += [r for r in _extra_rows(extra) if r.phase == phase]
    return [r for r in out if _included(r, secondary=include_secondary, modelled=include_modelled)]


def _included(r: ReferenceRow, *, secondary: bool, modelled: bool) -> bool:
    """Whether a row is kept: primary, measured rows always; secondary and modelled ones when asked for."""
    return (secondary or not r.secondary) and (modelled or not r.modelled)


def _shipped_rows(files: Iterable[str], *, derived: bool) -> list[ReferenceRow]:
    """The shipped rows of *files*, training values derived where asked for (:func:`_with_derived`)."""
    return [_with_derived(r) if derived else r for f in files for r in _shipped(f)]


def _with_derived(r: ReferenceRow) -> ReferenceRow:
    """A shipped row, a training row with its value derived where the source allows it."""
    return (derive_training_row(r) or r) if r.phase == "training" else r


def load(
    name: str = "inference",
    include_secondary: bool = False,
    include_modelled: bool = False,
    extra: Any = None,
    *,
    include_derived: bool = False,
) -> Any:
    """The reference rows of a phase or file as a ``datasets.Dataset`` (see :func:`rows`).

    Every source column is kept (strings, "" where the source published nothing; None
    where the row comes from another file), plus the derived columns listed in the
    module docstring. ``ds.info`` carries the reference version, license, citation and description.
    """
    import datasets  # heavy; only here

    data = rows(name, include_secondary=include_secondary, include_modelled=include_modelled,
                include_derived=include_derived, extra=extra)
    columns = list(dict.fromkeys(c for r in data for c in r))
    table = {c: [r.get(c) for r in data] for c in columns}
    return datasets.Dataset.from_dict(table, info=datasets.DatasetInfo(**dataset_info(name)))


# What each shipped file compiles (SOURCES.md has the table and row of every figure); a row's own source column
# names the one behind it.
CITATIONS = {
    "training.csv": (
        "Touvron et al. 2023, LLaMA: Open and Efficient Foundation Language Models, arXiv:2302.13971 (Table 15); "
        "Meta Llama model cards (github.com/meta-llama/llama, meta-llama/llama-models); Luccioni, Viguier and "
        "Ligozat 2022, Estimating the Carbon Footprint of BLOOM, arXiv:2211.02001; Le Scao et al. 2022, BLOOM, "
        "arXiv:2211.05100; Patterson et al. 2021, Carbon Emissions and Large Neural Network Training, "
        "arXiv:2104.10350 (Table 4); Morrison et al. 2025, Holistically Evaluating the Environmental Impact of "
        "Creating Language Models, ICLR 2025, arXiv:2503.05804 (Table 2); Luccioni, Jernite and Strubell 2024, "
        "Power Hungry Processing, FAccT '24 (Table 5); Brown et al. 2020, arXiv:2005.14165; "
        "Raffel et al. 2020, arXiv:1910.10683; "
        "Zhang et al. 2022, arXiv:2205.01068; the Gemma and Gemma 2 technical reports"),
    "inference.csv": (
        "Luccioni, Jernite and Strubell 2024, Power Hungry Processing: Watts Driving the Cost of AI Deployment?, "
        "FAccT '24 (Table 3); the ML.ENERGY Leaderboard data (2023 CSV, 2024 vLLM files, v3 blog); Morrison et al. "
        "2025, arXiv:2503.05804 (Table 4); Google 2025, arXiv:2508.15734; Jegham et al. 2025, How Hungry is AI? "
        "(modelled rows)"),
    "aienergyscore_v1.csv": (
        "AI Energy Score v1 leaderboard (February 2025), Hugging Face, "
        "https://huggingface.co/spaces/AIEnergyScore/Leaderboard (data/energy/*.csv)"),
}
LICENSE = ("scer-hf reference compilation: Apache-2.0 (as scer-hf); each figure is a published fact of the source "
           "its row cites, whose own terms apply to the source documents")


def dataset_info(name: str) -> dict[str, Any]:
    """``datasets.DatasetInfo`` fields of :func:`load` (*name*): description, version, license, citation, homepage."""
    files = _files_for(name)
    return {
        "description": f"{REFERENCE_VERSION}: {name} reference rows shipped with scer-hf ({', '.join(files)}; "
                       "every row cites its source, see scer_hf/data/SOURCES.md)",
        "version": REFERENCE_VERSION.split()[-1] + ".0",  # datasets wants x.y.z
        "license": LICENSE,
        "citation": "\n".join(f"{f}: {CITATIONS[f]}" for f in files),
        "homepage": "https://huggingface.co/spaces/AIEnergyScore/Leaderboard" if files == ("aienergyscore_v1.csv",)
        else "",
    }
