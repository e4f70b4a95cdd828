"""Validate a report against the shipped JSON Schema (``scer_hf/data/report.schema.json``) with jsonschema.

One schema, one door: :class:`scer_hf.Report` calls :func:`validate` for every report it
is built from, loaded from or given as a dict. Errors are :class:`ReportSchemaError`
naming the field by its JSON path (``$.phases[0].energy_j.total``). JSON numbers are
finite here (NaN and Infinity are refused), and nesting deeper than :data:`MAX_DEPTH`
is refused before anything recurses into it.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from importlib import resources
from typing import Any

from ..errors import ReportSchemaError

__all__ = ["MAX_DEPTH", "schema", "validate", "loads"]

MAX_DEPTH = 64
_HINT = " (is this a scer-hf report? regenerate it with scer-hf)"


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The report JSON Schema shipped with the package."""
    return json.loads(resources.files("scer_hf.data").joinpath("report.schema.json").read_text(encoding="utf-8"))


def _finite_number(checker: Any, x: Any) -> bool:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    try:
        return math.isfinite(float(x))
    except OverflowError:  # an int too big for a float
        return False


def _integer(checker: Any, x: Any) -> bool:
    return _finite_number(checker, x) and (isinstance(x, int) or float(x).is_integer())


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft202012Validator, validators  # only when a report is read

    types = Draft202012Validator.TYPE_CHECKER.redefine_many({"number": _finite_number, "integer": _integer})
    cls = validators.extend(Draft202012Validator, type_checker=types)
    return cls(schema())


def _depth_path(d: Any) -> str | None:
    """The JSON path of the first value nested deeper than MAX_DEPTH, or None (iterative: never recurses)."""
    stack: list[tuple[Any, str, int]] = [(d, "$", 0)]
    while stack:
        x, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            return path
        if isinstance(x, dict):
            stack.extend((v, f"{path}.{k}", depth + 1) for k, v in x.items())
        elif isinstance(x, (list, tuple)):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(x))
    return None


def loads(text: str | bytes, *, where: str = "the report") -> Any:
    """Parse report JSON strictly (:func:`scer_hf._read.loads_json`): UTF-8, no NaN/Infinity, no nesting deeper
    than :data:`MAX_DEPTH`; a failure is a :class:`ReportSchemaError` naming *where*, never quoting the file."""
    from .. import _read

    return _read.loads_json(text, where=where, what="scer-hf report", error=ReportSchemaError, max_depth=MAX_DEPTH)


def validate(d: Any) -> None:
    """Raise :class:`ReportSchemaError` (naming the JSON path) unless *d* is a valid report."""
    if not isinstance(d, dict):
        raise ReportSchemaError(f"a report must be a JSON object, got {type(d).__name__}" + _HINT)
    deep = _depth_path(d)
    if deep is not None:
        raise ReportSchemaError(f"{deep}: nested deeper than {MAX_DEPTH} levels" + _HINT)
    from jsonschema.exceptions import best_match

    err = best_match(_validator().iter_errors(d))
    if err is not None:
        got = repr(err.instance)
        got = got if len(got) <= 80 else got[:77] + "..."
        raise ReportSchemaError(f"{err.json_path}: {_message(err)} (got {got})" + _HINT)


_BOUNDS = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">"}


def _type_message(v: Any) -> str:
    """'must be of type number (finite)': the type(s) a value must have, finite for numbers."""
    finite = " (finite)" if "number" in str(v) or "integer" in str(v) else ""
    return f"must be of type {' or '.join(v) if isinstance(v, list) else v}{finite}"


def _message(err: Any) -> str:
    """A schema error in a few words: what the value must be."""
    v, kw = err.validator_value, err.validator
    if kw == "type":
        return _type_message(v)
    if kw == "required":
        return str(err.message).replace("is a required property", "is required")
    if kw in _BOUNDS:
        return f"must be {_BOUNDS[kw]} {v}"
    if kw == "enum":
        return f"must be one of {v!r}"
    if kw == "const":
        return f"must be {v!r}"
    return str(err.message)
