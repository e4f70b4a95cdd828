"""Finding scer-hf reports on disk by the names the package writes.

scer-hf writes a report as ``scer_report.json`` (SCERCallback, ``Report.save`` into a
folder, the CLI), ``scer_report.<boundary>.json`` (the demo's model folder), or
``training_report.json`` / ``inference_report.json`` (``scer-hf demo``). A command
given a folder, or a label or card whose report sits beside it, looks for these names.

>>> report_paths("scer-demo")          # [.../training_report.json, .../inference_report.json]
>>> find_report("scer-demo")           # one of them: scer_report.json first, then inference, then training
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ReportError

__all__ = ["REPORT_NAMES", "find_report", "report_paths", "input_paths"]

#: the file names scer-hf writes reports under, in the order a folder is searched
REPORT_NAMES = ("scer_report.json", "inference_report.json", "training_report.json")


def report_paths(folder: str | os.PathLike[str]) -> list[Path]:
    """The report files in *folder*: the names in :data:`REPORT_NAMES`, then ``scer_report.*.json``."""
    d = Path(folder)
    found = [d / n for n in REPORT_NAMES if (d / n).is_file()]
    found += [p for p in sorted(d.glob("scer_report.*.json")) if p.is_file() and p not in found]
    return found


def find_report(path: str | os.PathLike[str]) -> Path:
    """*path* itself when it is a file; for a folder, its first report (see :data:`REPORT_NAMES`).

    A folder with no report raises :class:`~scer_hf.errors.ReportError` naming the files looked for.
    """
    p = Path(path)
    if not p.is_dir():
        return p
    found = report_paths(p)
    if not found:
        raise ReportError(f"no report in {p} (looked for {', '.join(REPORT_NAMES)}, scer_report.*.json); measure "
                          "one with SCERCallback, track_pipeline or benchmark, or give the report file")
    return found[0]


def input_paths(*inputs: object) -> list[Path]:
    """The files a writer reads among *inputs* (paths; a folder: it and the report in it), so it never writes
    onto one of them. Inputs that are not paths (a Report, a dict) are skipped."""
    out: list[Path] = []
    for x in inputs:
        if isinstance(x, (str, os.PathLike)):
            p = Path(x)
            out.append(p)
            if p.is_dir():
                out += report_paths(p)[:1]
    return out
