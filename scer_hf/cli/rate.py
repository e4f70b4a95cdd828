"""``scer-hf rate MODEL_OR_REPORT``: SCER grade, AI Energy Score stars and peers, per phase.

Imports no torch/transformers/datasets: the reference CSVs are read with the csv module.
"""

from __future__ import annotations

import sys

import click

from ._common import EXIT_UNKNOWN_MODEL, cli_words, emit, handle_errors, json_option

__all__ = ["command"]

# rate()'s argument names -> this command's options, for the text it prints
_OPTIONS = {"task": "--task", "include_secondary": "--include-secondary", "include_modelled": "--include-modelled",
            "include_derived": "--include-derived", "include_third_party": "--include-third-party",
            "parameters": "--parameters", "extra": "--extra", "modelled=False": "--no-modelled",
            "hub=False": "--offline"}


@click.command("rate")
@click.argument("target")
@click.option("--task", default=None, help="Pipeline tag (e.g. text-generation) to restrict or set the task.")
@click.option("--include-secondary", is_flag=True, help="Add [secondary] reference rows to the peers.")
@click.option("--include-modelled", is_flag=True, help="Add modelled (estimated) reference rows to the peers.")
@click.option("--include-derived", is_flag=True,
              help="Add training energy derived from GPU-hours by the calculator to the peers.")
@click.option("--extra", "extra", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Your own reference CSV (columns of a shipped file); repeatable.")
@click.option("--offline", is_flag=True, help="Never look up the Hub model card.")
@click.option("--no-modelled", "no_modelled", is_flag=True,
              help="No modelled inference range (regression on parameters) when no figure is published.")
@click.option("--parameters", type=float, default=None,
              help="The model's parameter count (e.g. 7e9), for a modelled range when the data has none.")
@click.option("--include-third-party", is_flag=True,
              help="Rank a measured report among third-party estimates too (figures not computed by the model's "
                   "authors).")
@json_option
@handle_errors
def command(target: str, task: str | None, include_secondary: bool, include_modelled: bool, include_derived: bool,
            extra: tuple[str, ...], offline: bool, no_modelled: bool, parameters: float | None,
            include_third_party: bool, as_json: bool) -> None:
    """Rate TARGET: a Hub model id (published figures, offline), a local model folder, a scer-hf report JSON or a
    folder of reports (scer-hf demo's). A local folder is read before a Hub id of the same name; hf://ORG/NAME is
    always the Hub id.

    Prints the normalised figure that is rated and, beside it, the absolute footprint the source published
    (energy, CO2eq, accelerator-hours, hardware, location; an inference figure's setting) with its source.
    A model with no figure of its own is rated through its lineage; the output says so (basis, sources).
    A model id that no table knows (nor the Hub, when online) prints the close matches and exits with 4.
    """
    from ..rating import rate

    r = rate(target, task=task, include_secondary=include_secondary, include_modelled=include_modelled,
             include_derived=include_derived, extra=list(extra) or None, hub=False if offline else None,
             modelled=not no_modelled, parameters=parameters, include_third_party=include_third_party)
    emit(r.to_dict(), as_json, lambda: cli_words(r.describe(), _OPTIONS))
    if not r.known:
        sys.exit(EXIT_UNKNOWN_MODEL)
