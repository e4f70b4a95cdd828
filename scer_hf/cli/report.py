"""``scer-hf report``: write the self-contained HTML report for a measured report."""

from __future__ import annotations

import click

from ._common import emit, handle_errors, json_option, verify_command

__all__ = ["command"]


@click.command("report")
@click.argument("report", type=click.Path(dir_okay=True, exists=True))
@click.option("--rating", "rating_path", type=click.Path(exists=True, dir_okay=False),
              help="Rating JSON (from `scer-hf rate --json`). Default: rate the report when rating is installed.")
@click.option("-o", "--out", "out", default="scer_report.html", show_default=True, help="Output HTML file.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
@click.option("--url", "url", help="Public URL of the manifest, for the embedded label's QR code.")
@json_option
@handle_errors
def command(report: str, rating_path: str | None, out: str, overwrite: bool, url: str | None, as_json: bool) -> None:
    """Write one self-contained HTML file for REPORT, a report JSON or its folder (no network, no scripts).

    It shows energy and CO2e per phase with uncertainty, the SCI values, the rating
    with the reference distribution and the model's position, quality-normalised
    efficiency when the report has a quality block, the label, method and sources.
    """
    from .._io import refuse_overwrite
    from ..core.report import load_report
    from ..core.report_files import find_report
    from ..publish.figures import coverage_view
    from ..publish.html import write_html_report
    from ..rating import resolve_rating

    source = find_report(report)  # a folder: its report (scer_report.json, inference_report.json, ...)
    refuse_overwrite(out, overwrite=overwrite, inputs=[report, source, rating_path])
    rep = load_report(source)
    path = write_html_report(rep, out, resolve_rating(rep, rating_path), manifest_url=url, auto_rate=False,
                             overwrite=overwrite)
    cov = coverage_view(rep).coverage_text
    emit({"html": str(path), "report": str(source), "digest": rep.digest(), "bytes": path.stat().st_size}, as_json,
         f"HTML report   : {path}\nfrom report   : {source}\n"
         + (f"coverage      : {cov}\n" if cov else "")
         + "open it in any browser: it loads nothing from the network\n"
         f"check it      : {verify_command(path, source)}")
