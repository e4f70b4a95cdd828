"""``scer_hf.track_training``: the callback's measurement for training loops without a ``Trainer``.

>>> with scer_hf.track_training(model, accelerator=accelerator, output_dir="out", max_steps=1000) as run:
...     for epoch in range(2):
...         with run.epoch():
...             for batch in loader:
...                 ...                                     # forward, backward, optimizer step
...                 run.step(tokens=batch["attention_mask"].sum(), samples=len(batch["input_ids"]))
...         with run.evaluate():
...             for batch in eval_loader:
...                 ...
...                 run.step(samples=len(batch["input_ids"]))   # inside evaluate(): an evaluation batch
>>> run.report                                              # scer_hf.Report; also out/scer_report.json

It drives the same :class:`~scer_hf.hf.run.TrainingRun` as ``SCERCallback``: the same phases (``train``,
``epoch N``, ``eval N`` pausing ``train``), per-rank meters, lockstep gathers, coverage, projection, reports,
checkpoint state and SIGTERM / exit flushes. Counts are what the loop passes to :meth:`TrainingTracker.step`:
in a distributed run each rank passes its own and they are summed over ranks at every step (one small
``all_reduce``, like the Trainer's token count), so every rank must call ``step`` the same number of times (as
DDP / FSDP loops do) - or pass ``counts="global"`` when the loop already passes world totals.
"""

from __future__ import annotations

import contextlib
import os
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace, TracebackType
from typing import Any, SupportsFloat, TypeVar

from ..core.grid import GridSpec
from ..core.report import Report
from ..core.warn import WarnOnce
from ..errors import CallbackConfigError, ReportSchemaError
from . import distributed as dist
from .identity import model_identity
from .run import MetersArg, Progress, TrainingRun
from .run_report import task_of
from .run_state import read_state

__all__ = ["track_training", "TrainingTracker"]

_COUNTS = ("per-rank", "global")
_T = TypeVar("_T")


def _num(x: SupportsFloat, what: str) -> float:
    """A count from the loop: a number or a 0-d tensor (``batch["attention_mask"].sum()``)."""
    try:
        v = float(x.item() if hasattr(x, "item") else x)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise CallbackConfigError(f"step({what}={x!r}): pass a number or a 0-d tensor") from exc
    if not v >= 0:  # also NaN
        raise CallbackConfigError(f"step({what}={x!r}): counts are >= 0")
    return v


@dataclass
class _EvalCounts:
    """The open evaluation's counts on this rank: batches (``steps``), samples and tokens."""

    steps: float = 0.0
    samples: float = 0.0
    tokens: float = 0.0

    def add(self, *, tokens: float, samples: float) -> None:
        """One evaluation batch."""
        self.steps += 1
        self.samples += samples
        self.tokens += tokens

    def as_dict(self) -> dict[str, float]:
        return {"steps": self.steps, "samples": self.samples, "tokens": self.tokens}


class TrainingTracker:
    """A measured custom training loop (see the module docstring); made by :func:`track_training`."""

    def __init__(self, model: Any = None, *, accelerator: Any = None, output_dir: str | os.PathLike[str] | None = None,
                 model_id: str | None = None, max_steps: int | None = None, log_every: int = 10,
                 counts: str = "per-rank", resume_from: str | os.PathLike[str] | None = None,
                 log_metrics: bool = True, device: Any = None, **run_kwargs: Any) -> None:
        if counts not in _COUNTS:
            raise CallbackConfigError(f"counts={counts!r}: use 'per-rank' (each rank passes its own, summed over "
                                      "ranks) or 'global' (the loop passes world totals)")
        if not (isinstance(log_every, int) and log_every >= 1):
            raise CallbackConfigError(f"log_every={log_every!r}: use a number of steps >= 1")
        if max_steps is not None and not (isinstance(max_steps, int) and max_steps >= 1):
            raise CallbackConfigError(f"max_steps={max_steps!r}: use the planned number of optimizer steps, or None")
        self._run = TrainingRun(driver="scer_hf.track_training", **run_kwargs)
        self._model, self._accelerator, self._device = model, accelerator, device
        self._model_id, self._counts_mode, self.log_every = model_id, counts, log_every
        self.log_metrics = log_metrics
        self._resume = Path(resume_from) if resume_from is not None else None
        out = output_dir if output_dir is not None else getattr(accelerator, "project_dir", None)
        self._run.output_dir = str(out) if out else None
        self._run.tokens_counted = "as passed to step(tokens=...)"
        self.progress = Progress(max_steps=max_steps)
        self._n_epochs = 0
        self._eval: _EvalCounts | None = None  # counts of the open evaluation (this rank's)
        self._warned = WarnOnce(RuntimeWarning, stacklevel=2)

    # -- public -----------------------------------------------------------------------------------
    run = property(lambda self: self._run, doc="The :class:`~scer_hf.hf.run.TrainingRun` behind this loop.")
    run_id = property(lambda self: self._run.run_id)
    carbon = property(lambda self: self._run.carbon)

    @property
    def report(self) -> Report | None:
        """The latest report: complete after :meth:`end`, else a fresh partial one (None before :meth:`start`)."""
        return self._run.report

    def __enter__(self) -> TrainingTracker:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.end()
        else:
            self._abandon(f"{exc_type.__name__} raised in the training loop")

    def start(self) -> TrainingTracker:
        """Pick this rank's meters, record the model and open ``train`` (``with`` does it for you)."""
        run = self._run
        if run.training:
            return self
        rank = self._rank_info()
        run.setup(rank, dist.nvml_indices(SimpleNamespace(device=self._device_of(), n_gpu=1), rank))
        self._guard("start", self._identify)
        if self._resume is not None:
            self.progress.global_step = self._saved_step(self._resume)
        self._guard("start", run.start, self.progress, resume_from=self._resume)
        self._guard("flush", run.flush, force=True)
        return self

    @contextlib.contextmanager
    def epoch(self) -> Iterator[TrainingTracker]:
        """``with run.epoch():`` around one pass over the data: the phase ``epoch N`` inside ``train``."""
        self._n_epochs += 1
        self.progress.epoch = float(self._n_epochs - 1)
        self._guard("epoch", self._run.begin_epoch, self._n_epochs)
        yield self
        self.progress.epoch = float(self._n_epochs)
        self._guard("sync", self._run.sync)  # every rank ends the epoch together: a lockstep point
        self._guard("epoch", self._run.end_epoch)

    @contextlib.contextmanager
    def evaluate(self) -> Iterator[TrainingTracker]:
        """``with run.evaluate():`` around an evaluation: ``eval N``, with ``train`` and the epoch paused.

        :meth:`step` inside it counts evaluation batches, not training steps."""
        self._guard("eval", self._run.begin_eval, pending=False)
        self._eval = _EvalCounts()
        failed = True
        try:
            yield self
            failed = False
        finally:
            ev, self._eval = self._eval, None
            counts = ev.as_dict() if ev is not None else None  # None: end() inside the evaluation closed it
            if failed or counts is None:  # an exception: no collective (the other ranks may be elsewhere)
                self._guard("eval", self._run.end_eval, "eval", counts=counts)
            else:
                self._close_eval(counts)

    def step(self, tokens: SupportsFloat = 0, samples: SupportsFloat = 0, flops: SupportsFloat = 0) -> None:
        """One optimizer step (one batch inside :meth:`evaluate`): its tokens, samples and FLOPs."""
        vals = [_num(tokens, "tokens"), _num(samples, "samples"), _num(flops, "flops")]
        if self._eval is not None:
            self._eval.add(tokens=vals[0], samples=vals[1])
            self._run.eval_batch()
            return
        self._add(self._world(vals))
        step = self.progress.global_step
        if step % self.log_every == 0:
            self._guard("sync", self._run.sync)  # every rank reaches this step: a lockstep point
            self._log()
        self._guard("step", self._run.step_end, step)

    def log_values(self) -> dict[str, float]:
        """The ``scer/*`` figures as logged (energy and CO2e so far, projected totals, coverage)."""
        return self._guard("log", self._run.log_values) or {}

    def save_state(self, checkpoint_dir: str | os.PathLike[str]) -> None:
        """Write the run's totals into *checkpoint_dir* (``scer_state.json``); ``resume_from=`` reads them back."""
        Path(checkpoint_dir).mkdir(parents=True, exist_ok=True)
        self._guard("save", self._run.save_state, Path(checkpoint_dir))

    def end(self) -> Report | None:
        """Close the run: every rank gathers (a collective) and rank 0 writes the complete report."""
        if self._eval is not None:
            self._close_eval(self._eval.as_dict())
            self._eval = None
        self._guard("end", self._run.end)
        return self._run.report

    # -- internals --------------------------------------------------------------------------------
    def _guard(self, key: str, fn: Callable[..., _T], *args: object, **kwargs: object) -> _T | None:
        """Measurement never breaks the loop: a bug here is one warning per kind, and training goes on."""
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - see docstring
            what = f"{key}: {type(exc).__name__}: {exc}"
            self._warned(what, f"scer-hf: track_training {key} failed ({type(exc).__name__}: {exc}); measurement "
                               f"may be incomplete, training continues.\n{traceback.format_exc(limit=3)}")
            return None

    def _rank_info(self) -> dist.RankInfo:
        acc = self._accelerator
        if acc is not None:
            try:
                return dist.RankInfo(int(acc.process_index), int(acc.local_process_index), int(acc.num_processes))
            except (AttributeError, TypeError, ValueError):
                pass
        return dist.rank_info(None)

    def _device_of(self) -> Any:
        if self._device is not None:
            return self._device
        if self._accelerator is not None:
            return getattr(self._accelerator, "device", None)
        try:
            return next(iter(self._model.parameters())).device
        except (AttributeError, StopIteration, TypeError):
            return None

    def _bare_model(self) -> Any:
        model = self._model
        acc = self._accelerator
        if acc is not None and model is not None:
            with contextlib.suppress(Exception):
                return acc.unwrap_model(model)
        return getattr(model, "module", model)  # DDP / DataParallel

    def _identify(self) -> None:
        run, model = self._run, self._bare_model()
        if model is None:
            run.model_info["id"] = self._model_id
            return
        info = model_identity(model, hub_model_id=self._model_id, output_dir=run.output_dir,
                              training_type=run.training_type)
        info["task"] = run.task or task_of(model)
        run.model_info = info

    def _saved_step(self, ckpt: Path) -> int:
        """The step a checkpoint's state was saved at (0 when it cannot be read: the restore warns)."""
        try:
            return max(0, read_state(ckpt, self._run.rank).global_step)
        except (OSError, ValueError, TypeError, AttributeError, ReportSchemaError):
            return 0

    def _world(self, vals: list[float]) -> list[float]:
        """This rank's counts summed over ranks (one small all_reduce) unless the loop passes world totals."""
        if self._counts_mode == "global" or not self._run.rank.distributed:
            return vals
        return dist.all_reduce_sum(vals) or vals

    def _add(self, vals: list[float]) -> None:
        p = self.progress
        p.global_step += 1
        p.num_input_tokens_seen += vals[0]
        p.samples_seen += vals[1]
        p.total_flos += vals[2]

    def _close_eval(self, counts: dict[str, float]) -> None:
        keys = ("steps", "samples", "tokens")
        summed = self._world([counts[k] for k in keys]) if self._counts_mode == "per-rank" else None
        total = dict(zip(keys, summed, strict=True)) if summed is not None else counts
        self._guard("eval", self._run.end_eval, "eval", counts={k: v for k, v in total.items() if v or k == "steps"})

    def _log(self) -> None:
        values = self.log_values() if self.log_metrics else {}
        acc = self._accelerator
        if values and acc is not None:
            self._guard("log", acc.log, values, step=self.progress.global_step)
        self._guard("flush", self._run.flush)

    def _abandon(self, why: str) -> None:
        """The loop raised: write the partial report as of now (no collective: the other ranks may be elsewhere)."""
        run = self._run
        if not run.training:
            return
        run.interrupt(why)
        self._guard("flush", run.flush, force=True)
        run.reporting.die()  # no flush at SIGTERM or exit any more


def track_training(model: Any = None, *, accelerator: Any = None, output_dir: str | os.PathLike[str] | None = None,
                   model_id: str | None = None, max_steps: int | None = None, log_every: int = 10,
                   counts: str = "per-rank", resume_from: str | os.PathLike[str] | None = None,
                   country_iso_code: str | None = None, region: str | None = None,
                   carbon_intensity_g_per_kwh: float | None = None, pue: float = 1.0, meters: MetersArg = None,
                   hardware: str | None = None, projection_after: float = 0.1, flush_every_s: float = 60,
                   report_path: str | os.PathLike[str] | None = None, log_metrics: bool = True,
                   task: str | None = None, training_type: str | None = None, handle_sigterm: bool = True,
                   cloud_provider: str | None = None, cloud_region: str | None = None,
                   live_intensity: Any = None, device: Any = None, grid: GridSpec | None = None) -> TrainingTracker:
    """Measure a training loop written by hand (plain PyTorch or accelerate): see the module docstring.

    Args:
        model: the model being trained (its parameters, PEFT adapter and starting checkpoint go into the report).
        accelerator: an ``accelerate.Accelerator``: ranks, device, ``project_dir`` and ``accelerator.log``
            (the ``scer/*`` figures every ``log_every`` steps).
        output_dir: the report goes to ``output_dir/scer_report.json`` (default: the accelerator's
            ``project_dir``; with neither, nor ``report_path``, it is only in ``.report``). Its name is the
            model's id unless ``model_id`` (the Hub repo you will push to) is given.
        max_steps: the planned optimizer steps (for the projected totals).
        log_every: steps between logs, flushes and gathers of the ranks (a lockstep point).
        counts: ``"per-rank"`` (each rank passes its own counts to ``step``; summed over ranks) or ``"global"``.
        resume_from: a checkpoint folder written by :meth:`TrainingTracker.save_state`: totals continue.
        country_iso_code, region, carbon_intensity_g_per_kwh, pue, cloud_provider, cloud_region, live_intensity,
        meters, hardware, projection_after, flush_every_s, report_path, task, training_type, handle_sigterm:
            as for :class:`scer_hf.SCERCallback`.
        device: the device this rank trains on when there is no accelerator (default: the model's).
        grid: the grid arguments as one :class:`scer_hf.GridSpec` (as for :class:`scer_hf.SCERCallback`).

    Raises ``CallbackConfigError`` / ``UnknownCountryError`` for bad arguments; nothing else ever reaches the loop.
    """
    spec = GridSpec.of(grid, country_iso_code=country_iso_code, region=region,
                       carbon_intensity_g_per_kwh=carbon_intensity_g_per_kwh, pue=pue, cloud_provider=cloud_provider,
                       cloud_region=cloud_region, live_intensity=live_intensity)
    return TrainingTracker(model, accelerator=accelerator, output_dir=output_dir, model_id=model_id,
                           max_steps=max_steps, log_every=log_every, counts=counts, resume_from=resume_from,
                           log_metrics=log_metrics, device=device, meters=meters, hardware=hardware,
                           projection_after=projection_after, flush_every_s=flush_every_s, report_path=report_path,
                           task=task, training_type=training_type, handle_sigterm=handle_sigterm, **spec.keywords())

