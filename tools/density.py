"""How much of the package's data travels as untyped dicts (issue 25): two densities per 1,000 lines.

- ``dict[str, Any]``: the untyped record, spelled ``dict[str, Any]`` / ``Dict[str, Any]``, and separately with its
  read-only spelling ``Mapping[str, Any]`` added, counted in the source text;
- string-key lookups: ``x["key"]`` subscripts with a string literal and ``x.get("key")`` / ``.setdefault`` / ``.pop``
  calls whose first argument is a string literal, counted with :mod:`ast` (so text in strings and comments is not).

Lines are physical lines of ``*.py`` files. Run from the repository root::

    python tools/density.py            # the whole package and each layer folder
    python tools/density.py scer_hf/publish
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

_DICT_ANY = re.compile(r"\b[Dd]ict\[str,\s*Any\]")
_MAPPING_ANY = re.compile(r"\b(?:Mutable)?Mapping\[str,\s*Any\]")
_KEY_METHODS = {"get", "setdefault", "pop"}


def _is_str(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _is_key_lookup(node: ast.AST) -> bool:
    """``x["key"]``, or ``x.get("key")`` / ``.setdefault("key", ...)`` / ``.pop("key")``."""
    if isinstance(node, ast.Subscript):
        return _is_str(node.slice)
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _KEY_METHODS
            and bool(node.args) and _is_str(node.args[0]))


def _string_keys(tree: ast.AST) -> int:
    return sum(1 for node in ast.walk(tree) if _is_key_lookup(node))


def measure(root: Path) -> tuple[int, int, int, int]:
    """(lines, dict[str, Any], dict or Mapping[str, Any], string-key lookups) over the ``*.py`` files under *root*."""
    lines = dicts = records = keys = 0
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines += len(text.splitlines())
        dicts += len(_DICT_ANY.findall(text))
        records += len(_DICT_ANY.findall(text)) + len(_MAPPING_ANY.findall(text))
        keys += _string_keys(ast.parse(text))
    return lines, dicts, records, keys


def _row(name: str, root: Path) -> str:
    lines, dicts, records, keys = measure(root)
    per = lambda n: 1000 * n / lines if lines else 0.0  # noqa: E731
    return (f"| {name} | {lines} | {dicts} | {per(dicts):.1f} | {records} | {per(records):.1f} | {keys} | "
            f"{per(keys):.1f} |")


def main(argv: list[str]) -> None:
    roots = [Path(a) for a in argv] or [Path("scer_hf"), *sorted(p for p in Path("scer_hf").iterdir()
                                                                 if p.is_dir() and any(p.rglob("*.py")))]
    roots = [r for r in roots if measure(r)[0]]
    print("| path | lines | dict[str, Any] | per 1,000 | + Mapping[str, Any] | per 1,000 | string-key lookups "
          "| per 1,000 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for root in roots:
        print(_row(str(root), root))


if __name__ == "__main__":
    main(sys.argv[1:])
