"""One measured training run: the machinery behind ``SCERCallback`` and ``scer_hf.track_training``.

A :class:`TrainingRun` owns this rank's meters (a rank whose meters fail measures nothing and is a coverage gap),
the :class:`~scer_hf.core.phasebook.PhaseBook` of phases (``train``; ``epoch N`` inside it; one top-level
``eval N`` / ``predict N`` per evaluation, which *pauses* ``train`` and the epoch), the counts per phase from the
driver's cumulative progress (a ``TrainerState`` or :class:`Progress`), the projection samples and the checkpoint
state (:mod:`scer_hf.hf.run_state`). Its reports, the lockstep gathers of distributed runs and the SIGTERM / exit
flushes are its reporter's (:class:`~scer_hf.hf.run_report.RunReporter`, ``run.reporting``).

The driver calls :meth:`start`, :meth:`begin_epoch` / :meth:`end_epoch`, :meth:`step_end`, :meth:`begin_eval` /
:meth:`end_eval`, :meth:`log_values`, :meth:`save_state` and :meth:`end`; the Trainer adapter translates its hooks,
``track_training`` its own calls. Nothing here raises into the user's loop except bad arguments at construction.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..core.carbon import carbon_intensity
from ..core.live_intensity import make_live
from ..core.phasebook import Edge, PhaseBook
from ..core.report import Report
from ..core.tracker import Measurement
from ..core.warn import WarnOnce
from . import distributed as dist
from .identity import ModelInfo
from .run_args import TRAINER_SAMPLES_RULE, MetersArg, Progress, check_config, check_meters, make_meters
from .run_report import ReportSettings, RunReporter
from .run_state import ProgressLike, SavedPhase, SavedState, read_state, state_file

__all__ = ["TrainingRun", "Progress", "MetersArg", "PROJECTION_WINDOWS"]

PROJECTION_WINDOWS = 20  # meter reads for the projection per run (at most one per optimizer step)

class TrainingRun:
    """The state and machinery of one measured training run (see the module docstring).

    Its reports are written by a :class:`~scer_hf.hf.run_report.RunReporter` it holds (:attr:`reporting`), which
    reads the run through :class:`~scer_hf.hf.run_report.ReportedRun` only."""

    def __init__(
        self,
        country_iso_code: str | None = None,
        region: str | None = None,
        carbon_intensity_g_per_kwh: float | None = None,
        pue: float = 1.0,
        meters: MetersArg = None,
        hardware: str | None = None,
        projection_after: float = 0.1,
        flush_every_s: float = 60,
        report_path: str | os.PathLike[str] | None = None,
        *,
        task: str | None = None,
        handle_sigterm: bool = True,
        training_type: str | None = None,
        cloud_provider: str | None = None,
        cloud_region: str | None = None,
        live_intensity: Any = None,
        driver: str = "transformers.Trainer",
    ) -> None:
        check_config(training_type, projection_after, flush_every_s, report_path)
        self._meters_arg = check_meters(meters)
        carbon = carbon_intensity(country_iso_code, region, g_per_kwh=carbon_intensity_g_per_kwh, pue=pue,
                                  cloud_provider=cloud_provider, cloud_region=cloud_region)
        settings = ReportSettings(carbon, make_live(live_intensity, carbon), hardware, float(projection_after),
                                  float(flush_every_s), Path(report_path) if report_path is not None else None,
                                  handle_sigterm, driver)
        self.task = task
        self.training_type = training_type
        self.output_dir: str | None = None  # the default report folder (``output_dir/scer_report.json``)
        self.samples_per_step: int | None = None  # the Trainer's samples rule; None: the loop counts samples itself
        self.tokens_counted = "non_padding"  # how the driver counts tokens (``extra.trainer.tokens_counted``)
        self.warn_once = WarnOnce(RuntimeWarning, "scer-hf: ", stacklevel=2)  # one warning per kind of trouble
        self._setup_failed: str | None = None
        self._book: PhaseBook | None = None
        self._rank = dist.RankInfo()
        # the report's ``model`` block; the driver fills it from the model (``scer_hf.hf.identity``)
        self.model_info = ModelInfo(id=None, parameters=None, task=task)
        if training_type:
            self.model_info["training_type"] = training_type
        self.reporting = RunReporter(self, settings, self.warn_once)
        self.reset()

    # -- settings (the reporter's) ------------------------------------------------------------------
    carbon = property(lambda self: self.reporting.settings.carbon, doc="The grid intensity the run's CO2e uses.")
    hardware = property(lambda self: self.reporting.settings.hardware, doc="Embodied emissions' hardware row.")
    projection_after = property(lambda self: self.reporting.settings.projection_after)
    flush_every_s = property(lambda self: self.reporting.settings.flush_every_s)
    report_path = property(lambda self: self.reporting.settings.report_path)
    handle_sigterm = property(lambda self: self.reporting.settings.handle_sigterm)
    driver = property(lambda self: self.reporting.settings.driver)

    # -- state ----------------------------------------------------------------------------------
    def reset(self) -> None:
        """A new run on the same meters: a new run id, no phases, no totals."""
        self.reporting.reset()  # a previous run that raised out of its loop still held its report file
        self.run_id = uuid.uuid4().hex
        self._finished = False
        self._training = False
        self._base: dict[str, dict[str, float]] = {}
        self._restored_counts: dict[str, dict[str, float]] = {}
        self._epoch_name: str | None = None
        self._eval_name: str | None = None  # open evaluation window (internal name)
        self._eval_steps = 0
        self._eval_pending = False  # opened before its first batch, which may not come
        self._paused: list[str] = []
        self._n_evals = 0
        self._n_predicts = 0
        self._samples: list[tuple[int, float]] = []  # (global_step, train energy J) projection points
        self._next_sample_step = 0
        self._window_steps = 1
        self._resumed_from: int | None = None
        self._wall0 = time.monotonic()
        self._wall_prev_s = 0.0
        self._state: Any = None  # the driver's progress (TrainerState or Progress)
        self._n_examples: int | None = None
        self._restored_epoch: dict[str, Measurement] = {}
        if self._book is not None:
            self._book.clear()

    @property
    def training(self) -> bool:
        return self._training

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def book(self) -> PhaseBook | None:
        return self._book

    @property
    def rank(self) -> dist.RankInfo:
        return self._rank

    @property
    def progress(self) -> ProgressLike | None:
        """The driver's progress (a ``TrainerState`` or :class:`Progress`), once the run started or evaluated."""
        return self._state

    def adopt_progress(self, progress: Any) -> None:
        """The driver's progress for an evaluation outside training (kept when a run already has one)."""
        self._state = self._state or progress

    @property
    def samples(self) -> Sequence[tuple[int, float]]:
        """(optimizer step, train energy J) points of the projection."""
        return tuple(self._samples)

    @property
    def setup_failed(self) -> str | None:
        return self._setup_failed

    @property
    def resumed_from(self) -> int | None:
        """The step this run resumed at from a checkpoint's state, or None."""
        return self._resumed_from

    @property
    def samples_rule(self) -> str:
        return TRAINER_SAMPLES_RULE if self.samples_per_step is not None else "samples passed to step(samples=...)"

    def open_counts(self, name: str) -> dict[str, float] | None:
        """Phase *name*'s counts so far, or None when the run does not count it (an evaluation counts its own)."""
        return self._counts(name) if name in self._base else None

    def halt(self) -> None:
        """The loop is over without an end (it raised, or the process dies): no flush at SIGTERM or exit."""
        self._training = False

    def interrupt(self, why: str) -> None:
        """Note why the run stops early (the first reason stays): ``extra.trainer.interrupted``."""
        self.reporting.interrupted = self.reporting.interrupted or why

    def flush(self, *, force: bool = False) -> None:
        """Write the partial report now (at most every ``flush_every_s`` unless *force*)."""
        self.reporting.flush(force=force)

    # -- setup ----------------------------------------------------------------------------------
    def setup(self, rank: dist.RankInfo, gpu_indices: Sequence[int] | None) -> PhaseBook:
        """This rank's meters, once. Never raises: a rank whose meters cannot be set up measures nothing and is a
        coverage gap in the report, and still makes every collective call the other ranks make."""
        if self._book is not None:
            return self._book
        self._rank = rank
        try:
            meters, choices = make_meters(self._meters_arg, gpu_indices, rank.measures_host)
            nothing = rank.distributed and not meters
        except Exception as exc:  # noqa: BLE001 - measurement never breaks training
            meters, choices, nothing = [], None, False
            self._setup_failed = f"meter setup failed ({type(exc).__name__}: {exc})"
            self.warn_once("setup", f"{self._setup_failed}; this rank's energy is a coverage gap, training continues")
        self._book = PhaseBook(meters, choices, nothing_by_design=nothing, counters=self._segment_counters)
        live = self.reporting.settings.live
        if live is not None and rank.rank == 0:  # live intensity read at window edges
            self._book.tracker.on_edge = live.observe
        return self._book

    # -- counts ---------------------------------------------------------------------------------
    def _counters(self) -> dict[str, float]:
        s = self._state
        flops = self.samples_per_step is not None or s.total_flos  # a loop that passes no FLOPs counts none (not 0)
        return {"tokens": float(s.num_input_tokens_seen or 0), "steps": float(s.global_step),
                **({"flops": float(s.total_flos or 0)} if flops else {}),
                **({"samples": float(getattr(s, "samples_seen", 0) or 0)} if self.samples_per_step is None else {})}

    def _segment_counters(self) -> dict[str, float]:
        """The driver's cumulative counters, for the counts of each measured window."""
        if self._state is None:
            return {}
        return {k: v for k, v in self._counters().items() if k != "flops"}

    def _counts(self, name: str) -> dict[str, float]:
        now = self._counters()
        base = self._base.get(name, now)
        out = dict(self._restored_counts.get(name, {}))
        keys = [k for k in now if k != "flops" or name == "train"]
        for k in keys:
            out[k] = out.get(k, 0) + now[k] - base.get(k, 0.0)
        if self.samples_per_step is not None:
            out["samples"] = self._rule_samples(name, now, base)
        return {k: (int(v) if float(v).is_integer() else v) for k, v in out.items()}

    def _epoch_samples(self, book: PhaseBook, name: str) -> float:
        if book.is_open(name):
            return self._counts(name)["samples"]
        final = book.phases[name].final
        return float(final.counts.get("samples", 0)) if final is not None else 0.0

    def _rule_samples(self, name: str, now: dict[str, float], base: dict[str, float]) -> float:
        """The Trainer's samples: steps x total batch, capped per epoch at the dataset size; train sums its epochs."""
        book = self._book
        if name == "train":
            assert book is not None
            return float(sum(self._epoch_samples(book, n) for n in book.children("train")))
        new = (now["steps"] - base["steps"]) * (self.samples_per_step or 0)
        samples = self._restored_counts.get(name, {}).get("samples", 0) + new
        return min(samples, self._n_examples) if self._n_examples else samples

    # -- training ---------------------------------------------------------------------------------
    def start(self, progress: Any, *, n_examples: int | None = None, resume_from: Path | None = None,
              token: Any = None) -> Edge:
        """Begin the run: ``train`` opens at one meter read (returned); *resume_from*: a checkpoint folder with the
        state; *token*: what tells the SIGTERM handler the loop is still running (:mod:`scer_hf.hf.run_guard`)."""
        if self._finished or self._training:  # a new run (evaluations before it are kept)
            self.reset()
        self._state, self._training = progress, True
        book = self._book
        assert book is not None, "setup() first"
        self._n_examples = n_examples
        self._window_steps = max(1, int(progress.max_steps or 0) // PROJECTION_WINDOWS)
        self._wall0 = time.monotonic()
        restored = self._restore(resume_from, int(progress.global_step)) if resume_from is not None else {}
        edge = book.edge()
        self._base["train"] = self._counters()
        book.open("train", parent=None, kind="training", edge=edge, restored=restored.get("train"))
        self._sample(int(progress.global_step), edge)
        self.reporting.guard(token)
        return edge

    def begin_epoch(self, n: int) -> None:
        book = self._book
        if book is None or not self._training:
            return
        name = f"epoch {n}"
        self._settle_restored_epochs(keep=name)
        edge = book.edge()
        self._base[name] = self._counters()
        book.open(name, parent="train", kind="training", edge=edge, restored=self._restored_epoch.pop(name, None))
        self._epoch_name = name

    def end_epoch(self, *, evaluate_next: bool = False) -> None:
        book = self._book
        if book is None or not self._training or self._epoch_name is None:
            return
        edge = book.edge()
        if self._eval_name is not None:  # should not happen; keep windows consistent
            self.end_eval("eval", cancelled=self._eval_pending, edge=edge)
        book.close(self._epoch_name, edge, self._counts(self._epoch_name))
        self._epoch_name = None
        if evaluate_next:
            self.begin_eval(edge, pending=True)

    def step_end(self, step: int, *, evaluate_next: bool = False) -> None:
        """After an optimizer step: a projection sample now and then, and the read an evaluation starts at."""
        book = self._book
        if book is None or not self._training:
            return
        if evaluate_next:
            edge = self.tick()
            self._sample(step, edge)
            self.begin_eval(edge, pending=True)
        elif step >= self._next_sample_step:
            self._sample(step, self.tick())

    def tick(self) -> Edge:
        """One meter read that ends the running windows and begins the next ones."""
        book = self._book
        assert book is not None
        edge = book.edge()
        book.tick(edge)
        return edge

    def _settle_restored_epochs(self, keep: str | None = None) -> None:
        """An epoch open in the checkpoint that this run does not continue (the checkpoint was
        saved on its last step, before the epoch ended) is finished: keep it as saved."""
        for name in [n for n in self._restored_epoch if n != keep]:
            m = self._restored_epoch.pop(name)
            self._book.restore_closed(  # type: ignore[union-attr]
                replace(m, counts=self._restored_counts.pop(name, {})), "training")

    def _sample(self, step: int, edge: Edge) -> None:
        e = self._book.energy_j("train", edge) if self._book else None
        if e is not None and (not self._samples or step > self._samples[-1][0]):
            self._samples.append((step, e))
        self._next_sample_step = step + self._window_steps

    # -- evaluation -------------------------------------------------------------------------------
    @property
    def evaluating(self) -> bool:
        return self._eval_name is not None

    @property
    def eval_pending(self) -> bool:
        return self._eval_pending

    def begin_eval(self, edge: Edge | None = None, *, pending: bool) -> None:
        """Open an evaluation (pausing train and the epoch); *pending*: opened before its first batch."""
        book = self._book
        if book is None or self._eval_name is not None:
            return
        edge = edge or book.edge()
        self._paused = [n for n in ("train", self._epoch_name) if n and book.pause(n, edge)]
        self._eval_name = "_eval"
        self._eval_steps = 0
        self._eval_pending = pending
        book.open("_eval", parent=None, kind="evaluation", edge=edge)

    def eval_batch(self) -> None:
        """One evaluation batch (the evaluation is no longer pending)."""
        self._eval_pending = False
        self._eval_steps += 1

    def end_eval(self, what: str = "eval", *, cancelled: bool = False, edge: Edge | None = None,
                 samples: int | None = None, counts: dict[str, float] | None = None) -> None:
        """Close the open evaluation as ``eval N`` (``predict N``), or give its time back to training.

        Its counts: *counts* as given, else the batches seen (``steps``) and *samples*."""
        book = self._book
        if book is None or self._eval_name is None:
            return
        if cancelled:  # give the time back to training: resume it from where the evaluation began
            edge = book.cancel(self._eval_name)
        else:
            edge = edge or book.edge()
            if counts is None:
                counts = {"steps": self._eval_steps, **({"samples": samples} if samples is not None else {})}
            name, kind = self._eval_label(what)
            book.close(self._eval_name, edge, counts, rename=name, kind=kind)
        self._eval_name = None
        self._eval_pending = False
        if self._paused:
            edge = edge or book.edge()
            for n in self._paused:
                book.resume(n, edge)
        self._paused = []

    def _eval_label(self, what: str) -> tuple[str, str]:
        if what == "eval":
            self._n_evals += 1
            return f"eval {self._n_evals}", "evaluation"
        self._n_predicts += 1
        return f"predict {self._n_predicts}", "inference"

    def after_eval(self) -> None:
        """An evaluation outside training, after the run ended: add it to the saved report."""
        if not self._training and self._finished:
            self.reporting.finalize()

    # -- logs, saves, end ---------------------------------------------------------------------------
    def log_values(self, progress: Any = None) -> dict[str, float]:
        """The ``scer/*`` log keys: the world's as of the last sync when distributed, else this process's now."""
        progress = progress if progress is not None else self._state
        if self._book is None or progress is None:
            return {}
        if self._rank.distributed:  # no collective here: the sum as of the last lockstep point
            return self.reporting.world_logs
        return self.reporting.live_metrics(self.tick())

    def sync(self) -> None:
        """A lockstep point of a distributed run (every rank calls it at the same place, whatever its meters did)."""
        if self._rank.distributed:
            self.reporting.sync()

    def save_state(self, ckpt: Path) -> None:
        """Write this rank's totals into checkpoint folder *ckpt* (a resume reads them back), then flush."""
        if self._book is None or not self._training:
            return
        if ckpt.is_dir():
            self._write_state(ckpt)
        self.reporting.flush(force=True)

    def end(self) -> None:
        """End of training: close the open phases, gather every rank (a collective) and write the final report."""
        try:
            ended = self._end_run()
        except Exception as exc:  # noqa: BLE001 - the gather below must still happen on every rank
            ended = True
            self.warn_once("end", f"closing the run's phases failed ({type(exc).__name__}: {exc}); the report "
                                  "marks what was not measured")
        if ended or self._rank.distributed:
            self._training = False
            self._finished = True
            self.reporting.unguard()
            self.reporting.finalize()

    def _end_run(self) -> bool:
        """Close this run's open phases; False if no run was going on here."""
        book = self._book
        if book is None or not self._training:
            return False
        edge = book.edge()
        if self._eval_name is not None:
            self.end_eval("eval", cancelled=self._eval_pending, edge=edge)
        if self._epoch_name is not None:
            book.close(self._epoch_name, edge, self._counts(self._epoch_name))
            self._epoch_name = None
        self._settle_restored_epochs()
        book.close("train", edge, self._counts("train"))
        self._wall_prev_s = self.wall_s()
        return True

    # -- public view ----------------------------------------------------------------------------------
    @property
    def report(self) -> Report | None:
        """The latest report: final after the run ended, else a fresh partial one (None before training)."""
        last = self.reporting.report
        if last is not None and self._finished:
            return last
        if self._book is None or not any(n != "_eval" for n in self._book.phases):
            return last
        return self.reporting.build("partial")

    # -- checkpoint state ------------------------------------------------------------------------------
    def wall_s(self) -> float:
        """Wall seconds of training so far (across a resume)."""
        return self._wall_prev_s + (time.monotonic() - self._wall0 if self._training else 0.0)

    def _write_state(self, ckpt: Path) -> None:
        """This rank's totals in checkpoint folder *ckpt* (``scer_state.json``, one per rank when distributed)."""
        book = self._book
        assert book is not None, "setup() first"
        phases = tuple(SavedPhase(m, book.phases[m.name].kind, book.phases[m.name].closed)
                       for m in self.reporting.local_phases(book.edge()))
        state = SavedState(self.run_id, self._rank.rank, self._rank.world_size, int(self._state.global_step),
                           self.wall_s(), phases, tuple(self._samples), self._n_evals, self._n_predicts)
        try:
            state.write(ckpt / state_file(self._rank))
        except OSError as exc:
            self.warn_once("state", f"could not write {ckpt / state_file(self._rank)} ({exc}); a resume will "
                                    "restart totals")

    def _restore(self, ckpt: Path, step: int) -> dict[str, Measurement]:
        """Totals saved with the checkpoint this run resumes from (``<ckpt>/scer_state*.json``)."""
        try:
            saved = read_state(ckpt, self._rank)
        except (OSError, ValueError) as exc:
            self.warn_once("restore", f"resuming at step {step} without {ckpt / state_file(self._rank)} ({exc}); "
                                      "energy before the checkpoint is not in this run's totals")
            return {}
        book = self._book
        assert book is not None
        self.run_id = saved.run_id or self.run_id
        self._wall_prev_s, self._samples = saved.wall_s, list(saved.samples)
        self._n_evals, self._n_predicts, self._resumed_from = saved.n_evals, saved.n_predicts, int(step)
        out: dict[str, Measurement] = {}
        for ph in saved.phases:
            m = ph.measurement
            if ph.closed:
                book.restore_closed(m, ph.kind)
            else:
                self._restored_counts[m.name] = dict(m.counts)
                m = replace(m, counts={})
                (self._restored_epoch if m.parent == "train" else out)[m.name] = m
        return out
