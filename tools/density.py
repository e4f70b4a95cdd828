"""How much of the package's data travels as untyped dicts (issue 25): two densities per 1,000 lines.

- ``dict[str, Any]``: the untyped record, spelled ``dict[str, Any]`` / ``Dict[str, Any]``, and separately with its
  read-only spelling ``Mapping[str, Any]`` added, counted in the source text;
- string-key lookups: ``x["key"]`` subscripts with a string literal and ``x.get("key")`` / ``.setdefault`` / ``.pop``
  calls whose first argument is a string literal, counted with :mod:`ast` (so text in strings and comments is not);
- bare ``Any``: parameters, returns and attributes annotated ``Any`` (so retyping a record as ``Any`` shows).

A name assigned the record (``Row = dict[str, Any]``) counts as the record wherever it is used.

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
# a name given to the untyped record (``JSON = dict[str, Any]``, ``Row: TypeAlias = Mapping[str, Any]``) counts
# as the record wherever it is used, so renaming it does not lower the density
_ALIAS = re.compile(r"^\s*(\w+)\s*(?::\s*TypeAlias\s*)?=\s*(?:typing\.)?(?:[Dd]ict|(?:Mutable)?Mapping)\[str,\s*Any\]",
                    re.M)


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


def _bare_any(tree: ast.AST) -> int:
    """Parameters, returns and attributes annotated with a bare ``Any`` (a record retyped as ``Any`` is worse)."""
    notes = [a.annotation for n in ast.walk(tree) if isinstance(n, ast.arg) for a in [n] if a.annotation]
    notes += [n.returns for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.returns]
    notes += [n.annotation for n in ast.walk(tree) if isinstance(n, ast.AnnAssign)]
    return sum(1 for a in notes if (isinstance(a, ast.Name) and a.id == "Any")
               or (isinstance(a, ast.Constant) and a.value == "Any"))


def _aliases(root: Path) -> set[str]:
    package = root if (root / "__init__.py").exists() and root.name == "scer_hf" else Path("scer_hf")
    return {m.group(1) for p in package.rglob("*.py") for m in _ALIAS.finditer(p.read_text(encoding="utf-8"))}


def measure(root: Path) -> tuple[int, int, int, int, int]:
    """(lines, dict[str, Any], dict or Mapping[str, Any], string-key lookups, bare ``Any`` annotations) over the
    ``*.py`` files under *root*; a use of an alias of the record counts as the record."""
    lines = dicts = records = keys = bare = 0
    alias = re.compile(r"\b(?:" + "|".join(sorted(_aliases(root))) + r")\b") if _aliases(root) else None
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines += len(text.splitlines())
        uses = len(alias.findall(_ALIAS.sub("", text))) if alias else 0
        dicts += len(_DICT_ANY.findall(text)) + uses
        records += len(_DICT_ANY.findall(text)) + len(_MAPPING_ANY.findall(text)) + uses
        tree = ast.parse(text)
        keys += _string_keys(tree)
        bare += _bare_any(tree)
    return lines, dicts, records, keys, bare


def _row(name: str, root: Path) -> str:
    lines, dicts, records, keys, bare = measure(root)
    per = lambda n: 1000 * n / lines if lines else 0.0  # noqa: E731
    return (f"| {name} | {lines} | {dicts} | {per(dicts):.1f} | {records} | {per(records):.1f} | {keys} | "
            f"{per(keys):.1f} | {bare} | {per(bare):.1f} |")


def main(argv: list[str]) -> None:
    roots = [Path(a) for a in argv] or [Path("scer_hf"), *sorted(p for p in Path("scer_hf").iterdir()
                                                                 if p.is_dir() and any(p.rglob("*.py")))]
    roots = [r for r in roots if measure(r)[0]]
    print("| path | lines | dict[str, Any] | per 1,000 | + Mapping[str, Any] | per 1,000 | string-key lookups "
          "| per 1,000 | bare Any | per 1,000 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for root in roots:
        print(_row(str(root), root))


if __name__ == "__main__":
    main(sys.argv[1:])
