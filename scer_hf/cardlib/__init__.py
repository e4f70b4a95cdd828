"""Internals of :func:`scer_hf.update_card`: front-matter splicing (``splice``), what is
written (``content``) and the Hub round trip (``hub``). Use :mod:`scer_hf.card`."""

from __future__ import annotations

__all__: list[str] = []
