"""``scer-hf verify``: recompute a report's, label's or card's figures; exit 3 on a mismatch."""

from __future__ import annotations

import sys

import click

from ._common import EXIT_MISMATCH, emit, handle_errors, json_option

__all__ = ["command"]


@click.command("verify")
@click.argument("target", type=click.Path(dir_okay=True))
@click.option("--report", "report", type=click.Path(dir_okay=True, exists=True),
              help="The report to check a label or card against (default: scer_report.json next to it).")
@click.option("--rating", "rating_path", type=click.Path(exists=True, dir_okay=False),
              help="Rating JSON to check a label's grade and stars against.")
@json_option
@handle_errors
def command(target: str, report: str | None, rating_path: str | None, as_json: bool) -> None:
    """Recompute and check TARGET: a scer_report.json, a label .svg, or a model card README.md.

    Report: phase totals, CO2e, SCI values, uncertainty and method are derived again
    from the phases and the carbon block. Label and card: their figures and the report
    digest must match the report. Exit codes: 0 all checks pass, 3 a figure does not
    match, 1 the file cannot be read.
    """
    from ..publish.verify import verify

    if rating_path and not target.lower().endswith(".svg"):  # it would be ignored: say so
        raise click.UsageError("--rating checks a label's grade and stars: give a label .svg as TARGET")
    res = verify(target, report, rating=rating_path)
    emit(res.to_dict(), as_json, res.describe)
    if not res.ok:
        sys.exit(EXIT_MISMATCH)
