"""Edit a model card's front matter and body without re-serialising what is not ours.

``huggingface_hub`` re-dumps the *whole* YAML block whenever it writes a card
(``RepoCard.content`` / ``metadata_save``), which loses comments, anchors, quoting,
flow style and key formatting. To keep every byte that is not an SCER part:

1. the card is split with ``huggingface_hub.repocard.REGEX_YAML_BLOCK`` (the regex the
   Hub server itself uses), so "front matter" means exactly what it means on the Hub;
2. the YAML is parsed once and checked as ``huggingface_hub.ModelCard`` checks it, and composed with
   PyYAML (``yaml.compose``, the parser ``huggingface_hub`` uses) only to learn *where*
   each top-level key's text starts;
3. only the SCER keys (``co2_eq_emissions``, ``scer``, and ``tags`` when it lacks the
   tag) are serialised, each on its own by ``ModelCardData(**{key: value}).to_yaml()``,
   and spliced into the original text in place of the previous SCER keys (new keys go
   at the end of the block); a missing tag is inserted as one ``- scer`` line (block
   list) or ``, scer`` (flow list) so the other tags keep their formatting;
4. the result is parsed again and every non-SCER key must compare equal to the
   original; otherwise a :class:`~scer_hf.errors.CardError` is raised and nothing is
   written.

The markdown section lives between ``<!-- scer-hf:start -->`` and
``<!-- scer-hf:end -->``; a re-run replaces it. Line endings (LF, CRLF, CR) and a UTF-8
BOM are kept; inserted lines use the card's own line ending.
"""

from __future__ import annotations

import gc
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import yaml
from huggingface_hub import ModelCardData
from huggingface_hub.repocard import REGEX_YAML_BLOCK

from ... import _read
from ...errors import CardError

__all__ = [
    "REMOVE",
    "SECTION_END",
    "SECTION_START",
    "SplitCard",
    "put_section",
    "occurrences",
    "same_value",
    "splice_front_matter",
    "split_card",
]

SECTION_START = "<!-- scer-hf:start -->"
SECTION_END = "<!-- scer-hf:end -->"
_BREAK = re.compile(r"\r\n|[\n\r\x85\u2028\u2029]")  # what PyYAML counts as a line break
_FIRST_BREAK = re.compile(r"\r\n|\n|\r")
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class SplitCard:
    """A card cut at the Hub's front-matter boundaries (``head + yaml + tail + body``)."""

    bom: str
    head: str  # leading whitespace and the opening ``---`` line, "" without front matter
    yaml: str
    tail: str  # the closing ``---`` line (with its line break unless at end of file)
    body: str
    newline: str
    has_front_matter: bool
    data: dict[str, Any] = field(default_factory=dict)

    def join(self, yaml_text: str | None = None, body: str | None = None) -> str:
        y = self.yaml if yaml_text is None else yaml_text
        b = self.body if body is None else body
        nl = self.newline
        if self.has_front_matter:
            return self.bom + self.head + y + self._tail(y, b) + b
        if yaml_text is None:
            return self.bom + b
        return self.bom + "---" + nl + y + nl + "---" + nl + b

    def _tail(self, y: str, b: str) -> str:
        """The closing ``---`` line, with the line breaks that new keys (*y*) or new text after it (*b*) need."""
        tail = self.tail
        if y and not tail.startswith(("\n", "\r")):
            tail = self.newline + tail  # the block was empty ('---' right after '---') and now holds keys
        if b and not tail.endswith(("\n", "\r")) and not b.startswith(("\n", "\r")):
            tail += self.newline  # the closing '---' was at end of file and we now add text after it
        return tail


def _parse(y: str) -> dict[str, Any]:
    """The front matter's data, checked as ``huggingface_hub.ModelCard`` checks it, parsed once.

    Same steps as ``RepoCard.content`` (a mapping, then ``ModelCardData(**data)``), but with
    libyaml when built (``CSafeLoader``) and the garbage collector paused: a 5 MB block
    of 90k keys took ~60 s through PyYAML's pure-Python loader, parsed five times, with
    full GC passes over the growing graph.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        data = yaml.load(y, Loader=_FAST_LOADER)
    except yaml.YAMLError as exc:
        raise CardError(f"the card's YAML front matter does not parse ({_short(exc)}); fix the YAML and "
                        "re-run") from None
    except RecursionError:  # PyYAML's pure-Python loader on deep nesting (libyaml stops it itself)
        raise CardError("the card's YAML front matter is nested too deeply; fix the YAML and re-run") from None
    finally:
        if enabled:
            gc.enable()
    # an alias bomb ('a: &a [x, x] / b: [*a, *a] ...') loads as a few shared lists but expands to billions of values
    # wherever it is written out (JSON, the card again): refused here, with the depth and self-reference checks
    _read.check_tree(data, where="the card's YAML front matter", what="card metadata", error=CardError)
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise CardError("the card's front matter is not a mapping of string keys (repo card metadata block should "
                        "be a dict); the Hub needs 'key: value' lines between the '---' markers")
    try:
        ModelCardData(**data, ignore_metadata_errors=True)
    except (ValueError, TypeError) as exc:
        raise CardError(f"the card's front matter is not a mapping of string keys ({_short(exc)}); the Hub needs "
                        "'key: value' lines between the '---' markers") from None
    return data


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def split_card(text: str) -> SplitCard:
    """Split *text* like the Hub does; raise :class:`CardError` if huggingface_hub can't read it."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    t = text[len(bom):]
    m = REGEX_YAML_BLOCK.search(t)
    if m is None:
        first = _FIRST_BREAK.search(t)
        return SplitCard(bom, "", "", "", t, first.group(0) if first else "\n", False, {})
    data = _parse(m.group(2))
    head, y, tail = m.group(1), m.group(2), m.group(3)
    if not y and head.endswith("\r") and tail.startswith("\n"):  # '---\r\n---': the regex cuts the CRLF in two
        head, tail = head + "\n", tail[1:]
    nl = _FIRST_BREAK.search(head).group(0)  # type: ignore[union-attr]
    return SplitCard(bom, head, y, tail, t[m.end():], nl, True, data)


# ---------------------------------------------------------------------- front matter ----
def _line_start(y: str, idx: int) -> int:
    i = idx
    while i > 0 and y[i - 1] not in "\n\r\x85\u2028\u2029":
        i -= 1
    return i if y[i:idx].strip() in ("", "?") else idx


def _lines(y: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of each line in y[start:end], ends including the break."""
    out, pos = [], start
    for m in _BREAK.finditer(y, start, end):
        out.append((pos, m.end()))
        pos = m.end()
    if pos < end:
        out.append((pos, end))
    return out


def _trim(y: str, start: int, end: int, col: int) -> int:
    """Drop trailing blank lines and comments at or left of the key's column from a key's span."""
    lines = _lines(y, start, end)
    while len(lines) > 1:
        s, e = lines[-1]
        text = y[s:e]
        stripped = text.strip()
        indent = len(text) - len(text.lstrip(" \t"))
        if stripped == "" or (stripped.startswith("#") and indent <= col):
            lines.pop()
        else:
            break
    return lines[-1][1]


# a plain float scalar with a negative exponent, as the whole value of a mapping key or list item
_SCI_FLOAT = re.compile(r"^(\s*(?:- |[\w.-]+: ))(-?\d+(?:\.\d+)?[eE]-\d+)[ \t]*(?=\r?$)", re.M)


def _positional(m: re.Match[str]) -> str:
    """``2.4e-05`` -> ``0.000024``: the same float, written so that regex readers of numbers see its value.

    The Hub's ``emissions_thresholds`` filter takes the first number it finds in
    ``co2_eq_emissions``; in ``2.4e-05`` that is 2.4, a 100,000-fold error.
    """
    text = format(Decimal(m.group(2)), "f")
    return m.group(1) + (text if "." in text else text + ".0")


#: a value for :func:`splice_front_matter` that removes the key (e.g. scer-hf's own ``co2_eq_emissions`` when the
#: new report has no figure to publish)
REMOVE = object()


def _dump(key: str, value: Any, nl: str, indent: int) -> str:
    """One top-level key serialised by huggingface_hub's card API, indented to the root column."""
    if value is REMOVE:
        return ""
    text = ModelCardData(**{key: value}).to_yaml(line_break=nl)
    text = _SCI_FLOAT.sub(_positional, text)  # plain floats only: YAML still reads them as the same number
    pad = " " * indent
    return "".join(pad + line + nl if line.strip() else line + nl for line in text.split(nl))


def _key(node: yaml.Node) -> Any:
    return node.value if isinstance(node, yaml.ScalarNode) else None


@dataclass(frozen=True)
class _Keys:
    """The front matter's YAML text and its top-level keys: each key's line span, at the root column."""

    y: str
    nl: str
    pairs: list[tuple[yaml.Node, yaml.Node]]
    starts: list[int]
    ends: list[int]
    col: int

    @classmethod
    def parse(cls, card: SplitCard) -> _Keys:
        nl = card.newline
        y = card.yaml + nl if card.has_front_matter and card.yaml else ""
        root = _block_mapping(y)
        pairs = list(root.value) if root is not None else []
        starts = [_line_start(y, k.start_mark.index) for k, _ in pairs]
        return cls(y, nl, pairs, starts, [*starts[1:], len(y)], pairs[0][0].start_mark.column if pairs else 0)

    def names(self) -> list[Any]:
        return [_key(k) for k, _ in self.pairs]

    def span(self, i: int) -> tuple[int, int]:
        """Where key *i*'s text starts and ends (its trailing comments and blank lines kept for the next key)."""
        return self.starts[i], _trim(self.y, self.starts[i], self.ends[i], self.col)

    def dump(self, key: str, value: Any) -> str:
        return _dump(key, value, self.nl, self.col)


def _block_mapping(y: str) -> yaml.MappingNode | None:
    """The composed front matter (None when empty); a :class:`CardError` unless it is one block-style mapping."""
    try:
        root = yaml.compose(y, Loader=_FAST_LOADER)
    except yaml.YAMLError as exc:  # safe_load accepted it above, so this is unexpected
        raise CardError(f"the card's YAML front matter does not parse ({_short(exc)})") from None
    if root is not None and not isinstance(root, yaml.MappingNode):
        raise CardError("the card's front matter is not a mapping; the Hub needs 'key: value' lines")
    if root is not None and root.flow_style:
        raise CardError("the card's front matter is one flow-style mapping ('{a: 1, ...}'); scer-hf edits "
                        "block-style front matter only: write it as one 'key: value' per line and re-run")
    return root


_Edit = tuple[int, int, str]  # replace y[start:end] with text


def splice_front_matter(card: SplitCard, values: dict[str, Any], tag: str | None = None) -> str:
    """The new YAML text: *values* (key -> value) replace those keys (:data:`REMOVE` deletes one), *tag* is added
    to ``tags``."""
    keys = _Keys.parse(card)
    todo = dict(values)
    tags = card.data.get("tags") if card.has_front_matter else None
    if tag is not None and "tags" not in keys.names():  # no tags yet: written like any other value
        todo.setdefault("tags", [tag])
    edits, done = _replace_keys(keys, todo)
    if tag is not None:
        edits += _add_tag(keys, tag, tags)
    edits.append((len(keys.y), len(keys.y), _new_keys(keys, todo, done)))  # new keys go last
    return _without_last_newline(_apply(keys.y, edits), keys.nl, card.has_front_matter)


def _new_keys(keys: _Keys, todo: Mapping[str, Any], done: set[str]) -> str:
    """The keys of *todo* the front matter did not have (those to remove left out), as YAML text."""
    return "".join(keys.dump(n, val) for n, val in todo.items() if n not in done and val is not REMOVE)


def _without_last_newline(out: str, nl: str, had_front_matter: bool) -> str:
    """The front matter's text as a card holds it between its markers: without the last line break."""
    if had_front_matter:
        if not out.endswith(nl):  # pragma: no cover - every edit is line-based
            raise CardError("internal error splicing the front matter; the card was not changed (please report)")
        return out[: -len(nl)]
    return out.removesuffix(nl)


def _replace_keys(keys: _Keys, todo: Mapping[str, Any]) -> tuple[list[_Edit], set[str]]:
    """Each key of *todo* the front matter has, rewritten in place at its first occurrence; later duplicates are
    dropped (YAML would keep only the last)."""
    edits: list[_Edit] = []
    done: set[str] = set()
    for i, name in enumerate(keys.names()):
        if not isinstance(name, str) or name not in todo:
            continue
        start, end = keys.span(i)
        edits.append((start, end, "" if name in done else keys.dump(name, todo[name])))
        done.add(name)
    return edits, done


def _add_tag(keys: _Keys, tag: str, tags: Any) -> list[_Edit]:
    """*tag* added to the existing ``tags`` (none when there are no ``tags`` or the tag is in them already): one
    more line of a block list, one more item of a flow list, or (an alias, a scalar) the key rewritten with every
    earlier duplicate dropped."""
    if not _lacks_tag(keys, tag, tags):
        return []
    idx = max(i for i, name in enumerate(keys.names()) if name == "tags")  # the one safe_load keeps
    k, v = keys.pairs[idx]
    if isinstance(v, yaml.SequenceNode) and v.start_mark.index >= k.start_mark.index:  # a list, not an alias
        return [_flow_tag(keys.y, v, tag) if v.flow_style else _block_tag(keys, idx, v, tag)]
    return _rewrite_tags(keys, idx, tags, tag)


def _lacks_tag(keys: _Keys, tag: str, tags: Any) -> bool:
    """Whether the front matter has ``tags`` without *tag*."""
    return "tags" in keys.names() and not (isinstance(tags, list) and tag in tags)


def _tag_list(tags: list[Any] | str | None) -> list[Any]:
    """The tags as a list (one tag given as a string, or none)."""
    if isinstance(tags, list):
        return list(tags)
    return [tags] if isinstance(tags, str) else []


def _block_tag(keys: _Keys, idx: int, v: yaml.SequenceNode, tag: str) -> _Edit:
    """*tag* as one more ``- tag`` line at the end of the block list of key *idx*, at the list's indent."""
    end = keys.span(idx)[1]
    return end, end, " " * v.start_mark.column + "- " + tag + keys.nl


def _rewrite_tags(keys: _Keys, idx: int, tags: Any, tag: str) -> list[_Edit]:
    """Key *idx* (``tags``) rewritten with *tag* added; earlier duplicates of ``tags`` would win nothing, so they
    go. Tags that are neither a list, a string nor null are left as they are."""
    if not (isinstance(tags, (list, str)) or tags is None):
        return []
    edits = [(*keys.span(idx), keys.dump("tags", [*_tag_list(tags), tag]))]
    return edits + [(*keys.span(j), "") for j, name in enumerate(keys.names()) if j != idx and name == "tags"]


def _flow_tag(y: str, v: yaml.SequenceNode, tag: str) -> _Edit:
    """*tag* appended inside a flow list ``[a, b]``, before its closing bracket."""
    at = v.end_mark.index - 1
    trailing_comma = y[v.start_mark.index + 1:at].rstrip().endswith(",")
    return at, at, (" " if trailing_comma else ", " if v.value else "") + tag


def _apply(y: str, edits: list[_Edit]) -> str:
    """*edits* applied from the end of the text; at one position, edits listed earlier end up first."""
    out = y
    for s, e, _, text in sorted(((s, e, n, t) for n, (s, e, t) in enumerate(edits)), reverse=True):
        out = out[:s] + text + out[e:]
    return out


def occurrences(card: SplitCard, key: str) -> list[Any]:
    """The value of every top-level *key* in the front matter, duplicates included (YAML keeps only the last)."""
    if not card.has_front_matter or not card.yaml or card.yaml.count(key) < 2:
        return [card.data.get(key)] if key in card.data else []
    root = yaml.compose(card.yaml + card.newline, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        return []
    loader = yaml.SafeLoader("")
    try:
        return [loader.construct_object(v, deep=True) for k, v in root.value if _key(k) == key]
    finally:
        loader.dispose()


def _is_nan(x: Any) -> bool:
    return isinstance(x, float) and math.isnan(x)


def _same_dict(a: dict[Any, Any], b: dict[Any, Any]) -> bool:
    return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)


def _same_list(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(same_value(x, z) for x, z in zip(a, b, strict=True))


#: how two containers of one kind compare, item by item
_CONTAINERS: tuple[tuple[type, Callable[[Any, Any], bool]], ...] = ((dict, _same_dict), (list, _same_list))


def same_value(a: Any, b: Any) -> bool:
    """Deep equality where NaN equals NaN (YAML ``.nan``)."""
    if _is_nan(a) and _is_nan(b):
        return True
    for kind, same in _CONTAINERS:
        if isinstance(a, kind) and isinstance(b, kind):
            return same(a, b)
    return type(a) is type(b) and a == b


# ---------------------------------------------------------------------- body ------------
def _paired(starts: list[int], ends: list[int]) -> bool:
    """Whether the markers pair up: as many ends as starts, each end after its start and before the next start."""
    return len(starts) == len(ends) and all(e > s for s, e in zip(starts, ends, strict=True)) and \
        all(s2 >= e for e, s2 in zip(ends[:-1], starts[1:], strict=True))


def _section_spans(body: str) -> list[tuple[int, int]]:
    """(start, end) of each SCER section in *body*; a :class:`CardError` when the markers do not pair up."""
    starts = [m.start() for m in re.finditer(re.escape(SECTION_START), body)]
    ends = [m.end() for m in re.finditer(re.escape(SECTION_END), body)]
    if not _paired(starts, ends):
        raise CardError(f"the card has unbalanced '{SECTION_START}' / '{SECTION_END}' markers; delete the broken "
                        "SCER section by hand (or restore both markers) and re-run")
    return list(zip(starts, ends, strict=True))


def _replace_sections(body: str, spans: Sequence[tuple[int, int]], section: str) -> str:
    """*body* with the first SCER section replaced by *section* and any later (duplicate) ones removed."""
    out, pos = [], 0
    for n, (s, e) in enumerate(spans):
        out.append(body[pos:s])
        if n == 0:
            out.append(section)
        pos = e
    out.append(body[pos:])
    return "".join(out)


def put_section(body: str, section: str, nl: str) -> str:
    """*body* with the SCER section replaced (or appended after one blank line)."""
    spans = _section_spans(body)
    if spans:
        return _replace_sections(body, spans, section)
    if not body.strip():
        return body + section + nl
    sep = "" if body.endswith(("\n", "\r")) else nl
    return body + sep + nl + section + nl
