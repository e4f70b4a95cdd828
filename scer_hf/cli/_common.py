"""Shared CLI helpers: ``--json`` output and error handling."""

from __future__ import annotations

import functools
import json
import re
import sys
import textwrap
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from ..errors import SCERError

if TYPE_CHECKING:
    from ..publish.figures import Fact, FactDict

__all__ = ["json_option", "emit", "handle_errors", "cli_words", "tidy", "fact_lines", "verify_command", "EXIT_ERROR",
           "EXIT_MISMATCH", "EXIT_UNKNOWN_MODEL", "LINE_WIDTH"]

EXIT_ERROR = 1
EXIT_MISMATCH = 3
EXIT_UNKNOWN_MODEL = 4  # `rate`: no table knows the model id (the output still says so, with close matches)

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")


LINE_WIDTH = 120
_LABELLED = re.compile(r"^(\s*[^:]{1,40}?\s*:\s)")


def _flat_parens(line: str) -> str:
    """Parentheses inside parentheses (often in quoted sources) become square brackets: one level of each."""
    out, depth = [], 0
    for ch in line:
        if ch == "(":
            depth += 1
            out.append("(" if depth == 1 else "[")
        elif ch == ")" and depth > 0:
            out.append(")" if depth == 1 else "]")
            depth -= 1
        else:
            out.append(ch)
    return "".join(out)


def tidy(text: str, width: int = LINE_WIDTH) -> str:
    """CLI text as people read it: every line at most *width* characters (a long fact wraps under its own
    label, never cut), and no parentheses nested in parentheses."""
    out = []
    for raw in text.split("\n"):
        if raw.startswith(("![", "[![")):  # markdown to copy as it is
            out.append(raw)
            continue
        line = _flat_parens(raw.rstrip())
        if len(line) <= width:
            out.append(line)
            continue
        m = _LABELLED.match(line)
        indent = " " * (len(m.group(1)) if m else len(line) - len(line.lstrip()) + 2)
        out += textwrap.wrap(line, width, subsequent_indent=indent, break_on_hyphens=False) or [line]
    return "\n".join(out)


def verify_command(output: Any, report: Any) -> str:
    """The verify command that works for *output* where it lies: with ``--report`` when its report is not beside
    it (a label or page is matched to the report beside it by digest)."""
    from pathlib import Path

    from ..core.report_files import report_paths

    out, rep = Path(output), Path(report)
    beside = {p.resolve() for p in report_paths(out.parent)}
    return f"scer-hf verify {out}" + ("" if rep.resolve() in beside else f" --report {rep}")


def fact_lines(facts: Sequence[Fact | FactDict], indent: int = 2, width: int = 14) -> list[str]:
    """The facts of ``scer_hf.publish.figures.facts`` (or their dicts) as CLI lines:
    ``  grid          : 56 gCO2eq per kWh, FRA``."""
    from ..publish.figures import Fact

    out = []
    for f in (x if isinstance(x, Fact) else Fact(**x) for x in facts):
        # a long fact wraps under its text, within the 120 columns of every CLI line
        head = f"{' ' * indent}{(f.label if f.label.isupper() else f.label.lower()):<{width}}: "
        out += textwrap.wrap(f.text, 120, initial_indent=head, subsequent_indent=" " * len(head)) or [head]
    return out


def emit(obj: Any, as_json: bool, text: str | Callable[[], str]) -> None:
    """Print *obj* as JSON, or the human *text* (:func:`tidy`)."""
    if as_json:
        click.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))
    else:
        click.echo(tidy(text() if callable(text) else text))


def cli_words(message: str, options: dict[str, str]) -> str:
    """Say the command's options in an API message: ``pass watts=<W>`` -> ``pass --watts <W>``,
    ``include_secondary=True`` -> ``--include-secondary``, ``power_table()`` -> what the options map it to."""
    names = "|".join(re.escape(k) for k in sorted(options, key=len, reverse=True))
    message = re.sub(rf"\b({names})=True\b", lambda m: options[m.group(1)], message)
    message = re.sub(rf"\b({names})= ?", lambda m: options[m.group(1)] + " ", message)
    calls = {k: v for k, v in options.items() if k.endswith("()")}
    for k, v in calls.items():
        message = message.replace(k, v)
    return message


# optional dependencies -> the extra that installs them (pyproject.toml)
_EXTRAS = {"torch": "hf", "transformers": "hf", "accelerate": "hf", "evaluate": "hf", "tokenizers": "hf",
           "resvg_py": "png"}


def _fail(kind: str, message: str, as_json: Any) -> None:
    if as_json:
        click.echo(json.dumps({"error": kind, "message": message}))
    else:
        click.echo(tidy(f"error: {message}"), err=True)
    sys.exit(EXIT_ERROR)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn scer-hf errors into exit code 1 with a one-line message (JSON with --json)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SCERError as exc:
            _fail(type(exc).__name__, str(exc), kwargs.get("as_json"))
        except ModuleNotFoundError as exc:  # an optional dependency of this command is not installed
            top = (exc.name or "").split(".")[0]
            if top not in _EXTRAS:
                raise
            _fail(type(exc).__name__, f"this command needs {top}, which is not installed: pip install "
                  f"'scer-hf[{_EXTRAS[top]}]'" + (" (for a CPU-only torch: pip install torch==2.13.0 first)"
                                                   if _EXTRAS[top] == "hf" else ""), kwargs.get("as_json"))
        except OSError as exc:  # a path that cannot be read or written: say which, no traceback
            where = f" {exc.filename!r}" if exc.filename else ""
            if isinstance(exc, (NotADirectoryError, FileExistsError)):  # mkdir met a file where a folder goes
                msg = f"cannot use{where}: it is a file where a folder is needed; choose another path."
            else:
                msg = f"cannot use{where}: {exc.strerror or exc}. Check the path exists and that you may write/read it."
            _fail(type(exc).__name__, msg, kwargs.get("as_json"))

    return wrapper
