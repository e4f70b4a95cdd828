"""``scer-hf label``: write the SCER label (SVG or PNG) for a report, and its markdown badge."""

from __future__ import annotations

import click

from ._common import emit, handle_errors, json_option, verify_command

__all__ = ["command"]


@click.command("label")
@click.argument("report", type=click.Path(dir_okay=True, exists=True))
@click.option("--rating", "rating_path", type=click.Path(exists=True, dir_okay=False),
              help="Rating JSON (from `scer-hf rate --json`). Default: rate the report when rating is installed.")
@click.option("-o", "--out", "out", default="scer_label.svg", show_default=True,
              help="Output file: .svg, or .png (PNG needs resvg: pip install 'scer-hf[png]').")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
@click.option("--url", "url", help="Public URL of the manifest (report JSON); the QR code links to it. "
              "Without it the QR code holds the report digest (scer-hf:sha256:...).")
@click.option("--width", "width_px", default=900, show_default=True, type=click.IntRange(min=16),
              help="PNG width in pixels.")
@json_option
@handle_errors
def command(report: str, rating_path: str | None, out: str, overwrite: bool, url: str | None, width_px: int,
            as_json: bool) -> None:
    """Write the SCER label for REPORT (a report JSON or its folder).

    A folder is searched for scer_report.json, inference_report.json, training_report.json (in that
    order; `scer-hf demo` writes the last two): give the file to choose another one.

    The label shows the SCI value ("<value> gCO2eq per <functional unit>"), the SCI
    version, the SCER grade and stars when rated, energy per phase, hardware, date,
    the measurement method and a QR code. Check it later with `scer-hf verify LABEL`.
    """
    from .._io import refuse_overwrite
    from ..core.report import load_report
    from ..core.report_files import find_report
    from ..publish.fields import label_view
    from ..publish.figures import scope_line
    from ..publish.label import markdown_badge, save_label
    from ..rating import resolve_rating

    source = find_report(report)  # a folder: its report (scer_report.json, inference_report.json, ...)
    refuse_overwrite(out, overwrite=overwrite, inputs=[report, source, rating_path])
    rep = load_report(source)
    rating = resolve_rating(rep, rating_path)  # once: rates the report when no --rating is given
    path = save_label(out, rep, rating, url, width_px=width_px, auto_rate=False, overwrite=overwrite)
    f = label_view(rep, rating, url, auto_rate=False)
    badge = markdown_badge(rep, rating, image_path=path.name, manifest_url=url, auto_rate=False)
    def text() -> str:
        rated = (f"SCER grade {f.grade}" if f.grade else
                 "not rated: not comparable with the reference" if f.comparable is False else
                 f"not rated: {f.rating_reason}")
        lines = [f"label written : {path}", f"from report   : {source}",
                 f"SCI           : {f.sci_text}, {f.sci_version}", f"rating        : {rated}",
                 f"figures       : {scope_line(f.texts)}",
                 *([f"coverage      : {f.texts.coverage_text}"] if f.texts.coverage_text else []),
                 f"QR code       : {f.qr}",
                 f"check it      : {verify_command(path, source)}" if path.suffix.lower() == ".svg" else
                 f"check it      : scer-hf verify {source}",
                 "markdown for your model card:", badge]
        return "\n".join(lines)

    emit({"label": str(path), "report": str(source), "badge": badge, "fields": f.to_dict()}, as_json, text)
