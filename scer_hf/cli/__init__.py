"""The ``scer-hf`` command line.

Every subcommand lives in its own module (``scer_hf/cli/<name>.py``, exposing a click
command called ``command``) and is imported only when run, so ``scer-hf rate`` never
pays for torch. Exit codes: 0 success; 1 a scer-hf error (message on stderr, or a
JSON ``{"error": ...}`` with ``--json``); 2 bad usage; 3 ``verify`` found a mismatch; 4 ``rate`` was
given a model id that no table knows (it prints the close matches).
"""

from __future__ import annotations

import importlib
import importlib.util
import warnings
from typing import Any

import click

from .._version import __version__

__all__ = ["main", "cli"]

COMMANDS = {
    "demo": "Run the whole journey offline on an embedded tiny model.",
    "rate": "Rate a model (published figures) or a measured report.",
    "benchmark": "Run the standard inference benchmark on a model.",
    "estimate": "Estimate emissions from hardware x time x location (no run).",
    "grid": "Show a location's grid intensity (cloud region, state, province), or --list them.",
    "label": "Write the SVG/PNG label for a report.",
    "report": "Write the self-contained HTML report for a report.",
    "card": "Write SCER metadata into a model card (local or on the Hub).",
    "verify": "Recompute a report's or card's figures and check they match.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n in COMMANDS if importlib.util.find_spec(f"scer_hf.cli.{n}") is not None)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS or importlib.util.find_spec(f"scer_hf.cli.{name}") is None:
            return None
        return importlib.import_module(f"scer_hf.cli.{name}").command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(n, COMMANDS[n]) for n in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="scer-hf")
def cli() -> None:
    """scer-hf: carbon efficiency of language models, measured, rated and labelled.

    Exit codes: 0 ok, 1 error, 2 usage error, 3 verification mismatch, 4 unknown model id (rate).
    """


def _one_line_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                      file: Any = None, line: str | None = None) -> None:
    """Warnings as one ``warning:`` line on stderr (the default shows a source path and line, like a crash)."""
    click.echo(f"warning: {str(message).removeprefix('scer-hf: ')}", err=True)


def main() -> None:
    warnings.showwarning = _one_line_warning  # the console command only; importing scer_hf changes nothing
    cli(prog_name="scer-hf")
