"""The one escaping function for text that reaches a model card's Markdown body.

Text from a report or a card's metadata (model name, hardware, task, phase names,
sources, rating reasons) is data, never markup: ``md_escape`` makes it render as the
literal characters it holds on the Hub (CommonMark + HTML). HTML specials become
entities (no tag, comment or script survives), Markdown punctuation is
backslash-escaped (no heading, link, image, emphasis, table cell or code span), and
line breaks become spaces (no new block can start).
"""

from __future__ import annotations

import html
import re
from typing import Any

__all__ = ["md_escape"]

_MD = re.compile(r"([\\`*_{}\[\]()#!|~])")
_LEAD = re.compile(r"^(\s*)([-+=>]|\d+(?=[.)]))")  # a list marker, setext underline or numbered item at the start
_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")


def md_escape(value: Any) -> str:
    """*value* as inert Markdown/HTML text (one line)."""
    text = _BREAKS.sub(" ", str(value))
    text = html.escape(text, quote=True)  # & < > " ' -> entities; '&' first, so entities stay literal
    text = _MD.sub(r"\\\1", text)
    return _LEAD.sub(lambda m: m.group(1) + ("\\" + m.group(2) if not m.group(2).isdigit() else m.group(2) + "\\"),
                     text, count=1)
