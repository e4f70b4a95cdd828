"""Shared CLI helpers: ``--json`` output and error handling."""

from __future__ import annotations

import functools
import json
import re
import sys
from typing import Any, Callable

import click

from ..errors import SCERError

__all__ = ["json_option", "emit", "handle_errors", "cli_words", "EXIT_ERROR", "EXIT_MISMATCH", "EXIT_UNKNOWN_MODEL"]

EXIT_ERROR = 1
EXIT_MISMATCH = 3
EXIT_UNKNOWN_MODEL = 4  # `rate`: no table knows the model id (the output still says so, with close matches)

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")


def emit(obj: Any, as_json: bool, text: str | Callable[[], str]) -> None:
    """Print *obj* as JSON, or the human *text*."""
    if as_json:
        click.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))
    else:
        click.echo(text() if callable(text) else text)


def cli_words(message: str, options: dict[str, str]) -> str:
    """Say the command's options in an API error message: ``pass watts=<W>`` -> ``pass --watts <W>``."""
    names = "|".join(re.escape(k) for k in sorted(options, key=len, reverse=True))
    return re.sub(rf"\b({names})=", lambda m: options[m.group(1)] + " ", message)


# optional dependencies -> the extra that installs them (pyproject.toml)
_EXTRAS = {"torch": "hf", "transformers": "hf", "accelerate": "hf", "evaluate": "hf", "tokenizers": "hf",
           "resvg_py": "png"}


def _fail(kind: str, message: str, as_json: Any) -> None:
    if as_json:
        click.echo(json.dumps({"error": kind, "message": message}))
    else:
        click.echo(f"error: {message}", err=True)
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
