"""Moved to :mod:`scer_hf.hf.run_report` (the run machinery shared by ``SCERCallback`` and ``track_training``)."""

from __future__ import annotations

import warnings

from .run_report import STATE_FILE, STATE_SCHEMA, ReportingMixin, task_of

__all__ = ["ReportingMixin", "STATE_FILE", "STATE_SCHEMA", "task_of"]

warnings.warn("scer_hf.hf.callback_report moved to scer_hf.hf.run_report", DeprecationWarning, stacklevel=2)
