"""The benchmark prompt set shipped with scer-hf (no Hub at run time).

1,000 prompts from databricks-dolly-15k (Databricks, Inc., CC BY-SA 3.0): the first
1,000 records in file order whose instruction (+ blank line + context) is 20-1,500
characters. Provenance and the selection rule: ``scer_hf/data/prompts/SOURCE.md``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any, TypedDict

__all__ = ["load_prompts", "PROMPT_SET", "prompt_set_info", "PromptRecord", "PromptsInfo"]


class PromptRecord(TypedDict):
    """One shipped prompt (a line of ``prompts.jsonl``)."""

    id: str
    prompt: str
    category: str
    source_id: int


class PromptsInfo(TypedDict, total=False):
    """Where a benchmark's prompts come from (the report's ``benchmark.prompts``); ``n``: how many there are."""

    name: str
    source: str
    license: str | None
    license_url: str
    attribution: str
    file: str
    n: int
    used: int
    cut_to_context: int
    cycled: bool


PROMPT_SET = PromptsInfo({
    "name": "scer-hf dolly-1k",
    "source": "databricks-dolly-15k (github.com/databrickslabs/dolly, data/databricks-dolly-15k.jsonl), "
              "first 1,000 records with 20-1,500 characters; see scer_hf/data/prompts/SOURCE.md",
    "license": "CC BY-SA 3.0",
    "license_url": "https://creativecommons.org/licenses/by-sa/3.0/legalcode",
    "attribution": "Copyright (2023) Databricks, Inc.; certain material from Wikipedia, Copyright Wikipedia editors "
                   "and contributors (CC BY-SA 3.0)",
    "file": "scer_hf/data/prompts/prompts.jsonl",
})


@lru_cache(maxsize=1)
def _records() -> tuple[PromptRecord, ...]:
    out: list[PromptRecord] = []
    with resources.files("scer_hf.data").joinpath("prompts/prompts.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                out.append(json.loads(line))
    return tuple(out)


def prompt_set_info(n: int | None = None) -> PromptsInfo:
    """Name, source and license of the shipped set (``n``: how many prompts were used)."""
    out = PROMPT_SET.copy()
    out["n"] = len(_records()) if n is None else int(n)
    return out


def load_prompts(limit: int | None = None, *, as_dataset: bool = False) -> Any:
    """The shipped prompts, in file order.

    Returns a list of records ``{"id", "prompt", "category", "source_id"}``, or with
    ``as_dataset=True`` a :class:`datasets.Dataset` whose ``info`` carries the source
    (description, citation, homepage) and license.
    """
    recs = [dict(r) for r in _records()[:limit]]
    if not as_dataset:
        return recs
    import datasets

    info = datasets.DatasetInfo(
        description=f"{PROMPT_SET['name']}: {PROMPT_SET['source']}. {PROMPT_SET['attribution']}",
        license=PROMPT_SET["license"],
        homepage="https://github.com/databrickslabs/dolly",
        citation="Conover et al. (2023), Free Dolly: Introducing the World's First Truly Open Instruction-Tuned "
                 "LLM, Databricks blog",
    )
    cols = {k: [r[k] for r in recs] for k in ("id", "prompt", "category", "source_id")}
    return datasets.Dataset.from_dict(cols, info=info)
