"""``scer-hf verify``: recompute a report's, label's or card's figures; exit 3 on a mismatch."""

from __future__ import annotations

import sys

import click

from ._common import EXIT_MISMATCH, emit, handle_errors, json_option

__all__ = ["command"]


@click.command("verify")
@click.argument("target", type=click.Path(dir_okay=True))
@click.option("--report", "report", type=click.Path(dir_okay=True, exists=True),
              help="The report to check a label or card against (default: the report beside it whose digest "
              "it names: scer_report.json, training_report.json, inference_report.json).")
@click.option("--rating", "rating_path", type=click.Path(exists=True, dir_okay=False),
              help="The rating JSON a label or HTML report was made with; it must rate that report.")
@click.option("-v", "--verbose", is_flag=True, help="List every check, not only the failed and skipped ones.")
@json_option
@handle_errors
def command(target: str, report: str | None, rating_path: str | None, verbose: bool, as_json: bool) -> None:
    """Recompute and check TARGET: a report JSON, a label .svg, an HTML report, a model card README.md, or a folder
    (every report, label, HTML report and card scer-hf wrote in it).

    Prints a one-line summary and the checks that failed or were skipped; -v lists every check.

    Report: phase totals, CO2eq, SCI values, uncertainty and method are derived again from the phases and the
    carbon block. Label, card and HTML report: their recorded figures and the report digest must match the report,
    and every line a person reads is rendered again from the report and compared; a line that differs fails,
    named. Exit codes: 0 all checks pass, 3 a figure does not match, 1 the file cannot be read or the rating
    given is for another model, boundary or report.
    """
    from ..publish.verify import verify

    if rating_path and not target.lower().endswith((".svg", ".html", ".htm")):  # it would be ignored: say so
        raise click.UsageError("--rating is the rating a label or HTML report was made with: give a .svg or .html")
    res = verify(target, report, rating=rating_path)
    emit(res.to_dict(), as_json, lambda: res.describe(verbose=verbose))
    if not res.ok:
        sys.exit(EXIT_MISMATCH)
