"""A training run's checkpoint state (``scer_state.json`` in each checkpoint folder), and the progress it counts.

:meth:`TrainingRun.save_state <scer_hf.hf.run.TrainingRun.save_state>` writes a :class:`SavedState` with every
checkpoint; a resume reads it back (:func:`read_state`) so totals continue. One file per rank when distributed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, TypedDict

from .. import _read
from .._io import atomic_write_text
from ..core.tracker import Measurement
from ..errors import ReportSchemaError
from . import distributed as dist

__all__ = ["STATE_FILE", "STATE_SCHEMA", "state_file", "SavedPhase", "SavedPhaseDict", "SavedState", "SavedStateDict",
           "read_state", "ProgressLike"]

STATE_FILE = "scer_state.json"  # in each checkpoint folder (scer_state.rank<R>.json per rank when distributed)
STATE_SCHEMA = "scer-hf/callback-state"


class ProgressLike(Protocol):
    """A driver's cumulative progress: a ``TrainerState`` or :class:`~scer_hf.hf.run.Progress`."""

    @property
    def global_step(self) -> int: ...

    @property
    def max_steps(self) -> int | None: ...

    @property
    def epoch(self) -> float | None: ...

    @property
    def num_input_tokens_seen(self) -> float: ...

    @property
    def total_flos(self) -> float: ...


def state_file(rank: dist.RankInfo) -> str:
    """The run's state file in a checkpoint folder: one per rank when distributed."""
    return STATE_FILE if not rank.distributed else f"scer_state.rank{rank.rank}.json"


class SavedPhaseDict(dist.MeasurementDict):
    kind: str
    closed: bool


@dataclass(frozen=True)
class SavedPhase:
    """One phase as saved: its measurement so far, its kind, and whether it had ended."""

    measurement: Measurement
    kind: str = "training"
    closed: bool = False

    @classmethod
    def from_dict(cls, d: SavedPhaseDict) -> SavedPhase:
        return cls(dist.measurement_from_dict(d), str(d.get("kind", "training")), bool(d.get("closed")))

    def to_dict(self) -> SavedPhaseDict:
        return SavedPhaseDict(**dist.measurement_to_dict(self.measurement), kind=self.kind, closed=self.closed)


class SavedStateDict(TypedDict):
    """``scer_state*.json`` as written."""

    schema: str
    version: Literal[1]
    run_id: str
    rank: int
    world_size: int
    global_step: int
    wall_s: float
    phases: list[SavedPhaseDict]
    samples: list[list[float]]
    n_evals: int
    n_predicts: int


@dataclass(frozen=True)
class SavedState:
    """This rank's totals at a checkpoint: the run id, wall time, phases, projection samples and evaluation counts."""

    run_id: str
    rank: int
    world_size: int
    global_step: int
    wall_s: float
    phases: tuple[SavedPhase, ...]
    samples: tuple[tuple[int, float], ...]
    n_evals: int
    n_predicts: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SavedState:
        """The state of a parsed ``scer_state*.json`` (ValueError when it is not one)."""
        if data.get("schema") != STATE_SCHEMA:
            raise ValueError("not a scer-hf callback state")
        try:
            return cls(run_id=str(data.get("run_id") or ""), rank=int(data.get("rank", 0)),
                       world_size=int(data.get("world_size", 1)), global_step=int(data.get("global_step", 0)),
                       wall_s=float(data.get("wall_s", 0.0)),
                       phases=tuple(SavedPhase.from_dict(d) for d in data.get("phases", [])),
                       samples=tuple((int(s), float(e)) for s, e in data.get("samples", [])),
                       n_evals=int(data.get("n_evals", 0)), n_predicts=int(data.get("n_predicts", 0)))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"a damaged scer-hf callback state ({type(exc).__name__}: {exc})") from exc

    def to_dict(self) -> SavedStateDict:
        """The file's JSON object (key order as written since 0.1)."""
        return SavedStateDict(schema=STATE_SCHEMA, version=1, run_id=self.run_id, rank=self.rank,
                              world_size=self.world_size, global_step=self.global_step, wall_s=self.wall_s,
                              phases=[p.to_dict() for p in self.phases], samples=[[s, e] for s, e in self.samples],
                              n_evals=self.n_evals, n_predicts=self.n_predicts)

    def write(self, path: Path) -> None:
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")


def read_state(ckpt: Path, rank: dist.RankInfo) -> SavedState:
    """The state saved in checkpoint folder *ckpt* for *rank* (OSError / ValueError when missing or not one)."""
    data = _read.load_json(ckpt / state_file(rank), what="report", error=ReportSchemaError)  # never blocks on a FIFO
    if not isinstance(data, Mapping):
        raise ValueError("not a scer-hf callback state")
    return SavedState.from_dict(data)
