"""Shared CLI helpers: ``--json`` output and error handling."""

from __future__ import annotations

import functools
import json
import sys
from typing import Any, Callable

import click

from ..errors import SCERError

__all__ = ["json_option", "emit", "handle_errors", "EXIT_ERROR", "EXIT_MISMATCH"]

EXIT_ERROR = 1
EXIT_MISMATCH = 3

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")


def emit(obj: Any, as_json: bool, text: str | Callable[[], str]) -> None:
    """Print *obj* as JSON, or the human *text*."""
    if as_json:
        click.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))
    else:
        click.echo(text() if callable(text) else text)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn scer-hf errors into exit code 1 with a one-line message (JSON with --json)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SCERError as exc:
            if kwargs.get("as_json"):
                click.echo(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
            else:
                click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_ERROR)

    return wrapper
