"""The result of ``verify``: one :class:`Check` per recomputed figure or visible line, and their summary."""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Check", "VerificationResult", "same", "check", "compare_lines", "REL_TOL"]

REL_TOL = 1e-9


@dataclass
class Check:
    """One recomputed figure: what the file says (``found``) against the recomputation (``expected``)."""

    name: str
    expected: Any
    found: Any
    ok: bool | None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "expected": self.expected, "found": self.found, "ok": self.ok, "note": self.note}

    def line(self) -> str:
        """The check as ``describe`` lists it: its mark and name, what differs when it failed, its note."""
        line = f"  [{_MARKS[self.ok]}] {self.name}"
        if self.ok is False:
            line += f": file says {self.found!r}, recomputed {self.expected!r}"
        if self.note:
            line += f" ({self.note})"
        return line


_MARKS = {True: "ok  ", False: "FAIL", None: "skip"}


@dataclass
class VerificationResult:
    """``ok`` is True when no check failed and at least one check ran."""

    target: str
    kind: str
    checks: list[Check] = field(default_factory=list)
    digest: str | None = None

    @property
    def ok(self) -> bool:
        return any(c.ok for c in self.checks) and not any(c.ok is False for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.ok is False]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "target": self.target, "kind": self.kind, "digest": self.digest,
                "checks": [c.to_dict() for c in self.checks]}

    def __repr__(self) -> str:  # the dataclass repr printed every check (~100 for a card)
        bad = self.failed
        what = f"MISMATCH in {', '.join(c.name for c in bad[:3])}{', ...' if len(bad) > 3 else ''}" if bad else (
            "VERIFIED" if self.ok else "nothing checked")
        return f"<VerificationResult {self.kind} {self.target}: {what} ({len(self.checks)} checks; .describe())>"

    def describe(self, verbose: bool = False) -> str:
        """A one-line summary, then the failed and skipped checks (*verbose*: every check)."""
        n_ok = sum(c.ok is True for c in self.checks)
        lines = [f"{'VERIFIED' if self.ok else 'MISMATCH'}: {self._counts(n_ok)}",
                 f"  checked: {self.target}, {_KINDS.get(self.kind, self.kind)}"]
        lines += [c.line() for c in self.checks if verbose or c.ok is not True]
        if not verbose and n_ok:
            lines.append(f"  ({n_ok} passing checks not shown; -v lists every check)")
        return "\n".join(lines)

    def _counts(self, n_ok: int) -> str:
        """'9 of 12 checks passed, 1 failed, 2 skipped' (failed and skipped only when there are some)."""
        n_skip = sum(c.ok is None for c in self.checks)
        failed = f", {len(self.failed)} failed" if self.failed else ""
        return f"{n_ok} of {len(self.checks)} checks passed{failed}" + (f", {n_skip} skipped" if n_skip else "")


#: what ``describe`` calls each kind of target
_KINDS = {"report": "a report", "label": "a label", "card": "a model card", "html": "an HTML report",
          "folder": "a folder"}


def same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=1e-12)
    return a == b


def check(checks: list[Check], name: str, expected: Any, found: Any, note: str = "") -> None:
    checks.append(Check(name, expected, found, same(expected, found), note))


def _differing_lines(where: str, exp: list[str], got: list[str], b1: int, note: str) -> list[Check]:
    """One failed check per line of a differing block (*got* starts at line ``b1 + 1`` of what was read)."""
    out = []
    for k in range(max(len(exp), len(got))):
        e = exp[k] if k < len(exp) else None
        g = got[k] if k < len(got) else None
        line = (b1 + k + 1) if g is not None else (b1 + 1)
        what = "missing line" if g is None else "extra line" if e is None else "line differs"
        out.append(Check(f"{where} line {line}: {what}", e, g, False, note))
    return out


def compare_lines(where: str, expected: Sequence[str], found: Sequence[str], note: str = "") -> list[Check]:
    """What a person reads in *where* against a re-rendering: one failed check per line that differs, named by
    its line number and the text it should have; one passing check when every line matches."""
    out: list[Check] = []
    sm = difflib.SequenceMatcher(a=list(expected), b=list(found), autojunk=False)
    for op, a1, a2, b1, b2 in sm.get_opcodes():
        if op == "equal":
            continue
        out += _differing_lines(where, list(expected[a1:a2]), list(found[b1:b2]), b1, note)
    if not out:
        out.append(Check(f"{where}: what a person reads", f"{len(expected)} lines", f"{len(found)} lines", True,
                         "every visible line re-rendered from the report matches"))
    return out
