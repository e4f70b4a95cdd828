"""What a training run writes and tells: live log figures, gathers of the ranks, reports, flushes, the report file
it holds, and the SIGTERM / exit flushes.

:class:`RunReporter` is a collaborator :class:`scer_hf.hf.run.TrainingRun` holds (``run.reporting``). It reads the
run only through the small typed contract :class:`ReportedRun` (the phase book, the rank, the progress, the counts
of an open phase, ...) and keeps its own state: the report file it claimed, the ranks' latest payloads, the phase
rows already made, the flush clock. :mod:`scer_hf.hf.run_guard` sees it as a :class:`~scer_hf.hf.run_guard.Guarded`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import time
import uuid
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypedDict

from .. import _read
from .._io import atomic_write_text, file_lock
from ..core.carbon import CarbonIntensity
from ..core.coverage import COVERAGE_THRESHOLD
from ..core.embodied import embodied_emissions
from ..core.live_intensity import LiveIntensity, phase_dicts
from ..core.phasebook import Edge, PhaseBook
from ..core.report import PhaseRows, Report
from ..core.tracker import Measurement
from ..core.warn import WarnOnce
from ..errors import ReportError, ReportSchemaError
from . import distributed as dist
from . import run_guard as _run_guard
from .identity import ModelInfo
from .run_state import STATE_FILE, STATE_SCHEMA, ProgressLike, state_file
from .run_world import PROJECTION_BASIS, World, project

__all__ = ["RunReporter", "ReportSettings", "ReportedRun", "TrainerExtra", "ReportingMixin", "STATE_FILE",
           "STATE_SCHEMA", "task_of", "state_file"]


def task_of(model: Any) -> str | None:
    """The pipeline task a model class is for, from its class name (None if unknown)."""
    name = type(model).__name__
    for suffix, task in (("ForCausalLM", "text-generation"), ("LMHeadModel", "text-generation"),
                         ("ForSequenceClassification", "text-classification"), ("ForMaskedLM", "fill-mask"),
                         ("ForTokenClassification", "token-classification"),
                         ("ForQuestionAnswering", "question-answering"),
                         ("ForConditionalGeneration", "text2text-generation"), ("Seq2SeqLM", "text2text-generation")):
        if name.endswith(suffix):
            return task
    return None


@dataclass(frozen=True)
class ReportSettings:
    """How a run reports: grid intensity (and live intensity), embodied hardware, projection, flushes, where."""

    carbon: CarbonIntensity
    live: LiveIntensity | None = None
    hardware: str | None = None
    projection_after: float = 0.1
    flush_every_s: float = 60.0
    report_path: Path | None = None
    handle_sigterm: bool = True
    driver: str = "transformers.Trainer"


class ReportedRun(Protocol):
    """What the reporter reads of the run it reports on (:class:`~scer_hf.hf.run.TrainingRun`)."""

    run_id: str
    model_info: ModelInfo
    output_dir: str | None  # the default report folder (``output_dir/scer_report.json``)
    tokens_counted: str

    @property
    def book(self) -> PhaseBook | None: ...

    @property
    def rank(self) -> dist.RankInfo: ...

    @property
    def training(self) -> bool: ...

    @property
    def progress(self) -> ProgressLike | None: ...

    @property
    def samples(self) -> Sequence[tuple[int, float]]:
        """(optimizer step, train energy J) points of the projection."""

    @property
    def setup_failed(self) -> str | None: ...

    @property
    def resumed_from(self) -> int | None: ...

    @property
    def samples_rule(self) -> str: ...

    def wall_s(self) -> float: ...

    def open_counts(self, name: str) -> dict[str, float] | None:
        """An open phase's counts so far (None: the run does not count that phase)."""

    def halt(self) -> None:
        """The loop is over without an end (it raised, or the process dies): no more training."""


class TrainerExtra(TypedDict):
    """The report's ``extra.trainer``: what drove the run, its progress and its counting rules."""

    loop: str
    global_step: int | None
    max_steps: int | None
    epoch: float | None
    tokens_counted: str
    wall_s: float
    resumed_from_step: int | None
    interrupted: str | None
    samples_rule: str
    evaluation_in_training: str


class _ExtraBase(TypedDict):
    trainer: TrainerExtra
    distributed: dist.DistributedDetail


class _Extra(_ExtraBase, total=False):
    projection: dist.ProjectionDict


class RunReporter:
    """Reports of one :class:`ReportedRun` (see the module docstring)."""

    def __init__(self, run: ReportedRun, settings: ReportSettings, warn_once: WarnOnce) -> None:
        self.run = run
        self.settings = settings
        self.warn_once = warn_once
        self.report: Report | None = None  # the last complete report
        self._exit_hook: Callable[[], None] | None = None  # the atexit flush, while registered
        self._train_token: _run_guard.TrainToken | None = None
        self.reset()

    def reset(self) -> None:
        """A new run: give back the report file the last one held (if its loop raised, it still does)."""
        _run_guard.release(self)
        self._target: Path | None = None  # this run's report file, once claimed (see _save)
        self._path_checked = False
        self._last_flush = -float("inf")
        self.interrupted: str | None = None  # why the run stopped early (``extra.trainer.interrupted``)
        self._world = World()
        self._sent: dict[str, Measurement | None] = {}  # closed phases already sent in a sync (name -> final)
        self._rows = PhaseRows()  # finished phases' report rows, made once (flushes cost what is new)

    # -- the guard's view (run_guard.Guarded) ----------------------------------------------------
    @property
    def training(self) -> bool:
        return self.run.training

    @property
    def train_token(self) -> _run_guard.TrainToken | None:
        return self._train_token

    def drop(self) -> None:
        self.run.halt()
        self._train_token = None

    def on_sigterm(self) -> None:
        self.interrupted = "SIGTERM"
        self.flush(force=True, urgent=True)

    def die(self) -> None:
        self.run.halt()
        self.unguard()

    # -- the ranks and the logs ------------------------------------------------------------------
    def sync(self) -> None:
        """A lockstep point: every rank calls this at the same hooks, whatever its meters did, and makes exactly one
        collective (``all_gather_object`` of a small payload: the phases that changed since the last sync and the
        live figures). Rank 0 keeps the other ranks' phases, so partial reports and logs carry the world's energy."""
        payload = self._sync_payload()  # never raises: a rank that failed still takes part
        got = dist.gather_to_all(payload)
        if got is not None:
            self._world.gathered(got, self.run.rank, self.settings.carbon)

    @property
    def world_logs(self) -> dict[str, float]:
        """The ``scer/*`` figures of every rank as of the last sync."""
        return dict(self._world.live)

    def _sync_payload(self, *, final: bool = False) -> dist.RankPayload:
        run = self.run
        try:
            book = run.book
            if book is None:
                return dist.failed_payload(run.rank, run.setup_failed or "no measurement on this rank")
            edge = book.edge()
            if not final:
                book.tick(edge)
            energy = book.top_level_energy_j(edge)
            proj = self.projection(edge) if energy is not None else None
            live = dist.LiveFigures(energy, book.coverage(edge).measured_fraction, proj)
            return self._payload(edge, changed_only=True, live=live)
        except Exception as exc:  # noqa: BLE001 - the collective must happen on every rank
            return dist.failed_payload(run.rank, f"{type(exc).__name__}: {exc}")

    def live_metrics(self, edge: Edge) -> dict[str, float]:
        """Energy so far (measured + filled) for the logs; only a coverage figure when there is no true total."""
        book = self.run.book
        assert book is not None
        cov = book.coverage(edge).measured_fraction
        total = book.top_level_energy_j(edge)
        out: dict[str, float] = {} if cov >= 1.0 else {"scer/coverage": cov}
        if total is None or cov < COVERAGE_THRESHOLD:
            return out
        out.update({"scer/energy_j": total, "scer/co2e_g": self.settings.carbon.co2e_g(total)})
        proj = self.projection(edge)
        if proj is not None:
            out.update({f"scer/{k}": v for k, v in proj.figures().items()})
        return out

    def projection(self, edge: Edge) -> dist.Projection | None:
        """Projected end-of-run energy (after ``projection_after`` of ``max_steps``), or None."""
        run, book, st = self.run, self.run.book, self.run.progress
        if st is None or book is None or not run.training:
            return None
        max_steps, step = int(st.max_steps or 0), int(st.global_step)
        if max_steps <= 0 or step < self.settings.projection_after * max_steps:
            return None
        e_train = book.energy_j("train", edge)
        so_far = book.top_level_energy_j(edge)
        if e_train is None or so_far is None:
            return None
        return project(run.samples, step, max_steps, e_train, so_far, self.settings.carbon)

    # -- reports ---------------------------------------------------------------------------------
    def local_phases(self, edge: Edge, *, changed_only: bool = False) -> list[Measurement]:
        """This rank's phases as of *edge* (open ones with their counts so far). *changed_only*: the open phases and
        those closed since the last call with it (what a sync sends)."""
        book = self.run.book
        assert book is not None
        out = []
        for name, ph in book.phases.items():
            if name == "_eval" or (changed_only and ph.closed and self._sent.get(name) is ph.final):
                continue
            m = book.snapshot(name, edge, self.run.open_counts(name) if not ph.closed else None)
            if m is None:
                continue
            if changed_only and ph.closed:
                self._sent[name] = ph.final
            out.append(m)
        return out

    def _payload(self, edge: Edge, *, changed_only: bool = False,
                 live: dist.LiveFigures | None = None) -> dist.RankPayload:
        """What this rank sends at a sync (and keeps for its own partial reports)."""
        rank, book = self.run.rank, self.run.book
        assert book is not None
        phases = tuple(dist.measurement_to_dict(m) for m in self.local_phases(edge, changed_only=changed_only))
        return dist.RankPayload(rank.rank, rank.local_rank, rank.measures_host, book.has_meters, phases,
                                dist.provenance_of(book.provenance()), self.run.setup_failed or None, live)

    def _distributed(self, edge: Edge, gathered: list[dist.RankPayload] | None
                     ) -> tuple[list[Measurement], dist.Provenance, dist.DistributedDetail]:
        note = None
        if gathered is None:
            self._world.absorb(self._payload(edge, changed_only=True), self.run.rank)
            gathered = self._world.payloads(self.run.rank)
            note = ("ranks other than this one as of the last sync (log steps, epoch ends); all ranks are gathered "
                    "at train end")
        phases, provenance, detail = dist.combine_ranks(gathered)
        if note:
            detail["note"] = note
        return phases, provenance, detail

    def build(self, status: str, gathered: list[dist.RankPayload] | None = None) -> Report:
        """The report from every rank's payload (*gathered*), or from this process's alone. A single process's
        finished phases are converted once (:class:`~scer_hf.core.report.PhaseRows`): a flush costs what is new."""
        run, s = self.run, self.settings
        book = run.book
        assert book is not None
        edge = book.edge()
        final: Callable[[Measurement], bool] | None = None
        if run.rank.distributed:
            phases, provenance, detail = self._distributed(edge, gathered)
        else:
            phases = self.local_phases(edge)
            provenance = dist.provenance_of(book.provenance())
            if run.setup_failed:
                provenance = provenance.failed("setup", run.setup_failed)
            detail = dist.DistributedDetail(world_size=1)
            final = self._is_final
        embodied = embodied_emissions(s.hardware, run.wall_s(), count=run.rank.world_size) if s.hardware else None
        extra = _Extra(trainer=self._driver_extra(), distributed=detail)
        proj = self.projection(edge)
        if proj is not None:
            extra["projection"] = proj.to_dict(PROJECTION_BASIS)
        kinds = {m.name: book.phases[m.name].kind if m.name in book.phases else "training" for m in phases}
        carbon, rows = s.carbon, None
        if s.live is not None:  # live grid intensity: each phase its own, the run energy-weighted; re-weighted
            s.live.observe(label=f"report:{status}")  # each time, so no row is kept
            carbon, per = s.live.apply(phases, s.carbon)
            rows, final = phase_dicts(phases, carbon, per, kinds, "training"), None
        return Report.build(rows if rows is not None else phases, boundary="training", carbon=carbon,
                            model=run.model_info, provenance=provenance.to_dict(), embodied=embodied, kinds=kinds,
                            status=status, run_id=run.run_id, extra=extra, rows=self._rows if final else None,
                            final=final)

    def _driver_extra(self) -> TrainerExtra:
        """``extra.trainer``: what drove the run (the Trainer or a custom loop), its progress and its counting rules."""
        run, st = self.run, self.run.progress
        return TrainerExtra(
            loop=self.settings.driver, global_step=int(st.global_step) if st else None,
            max_steps=int(st.max_steps) if st and st.max_steps is not None else None,
            epoch=float(st.epoch) if st and st.epoch is not None else None,
            tokens_counted=run.tokens_counted, wall_s=run.wall_s(), resumed_from_step=run.resumed_from,
            interrupted=self.interrupted, samples_rule=run.samples_rule,
            evaluation_in_training="excluded from train: train/epoch windows pause while an evaluation runs")

    def _is_final(self, m: Measurement) -> bool:
        """Whether *m* is a finished phase's last word (its row can be kept for later reports)."""
        book = self.run.book
        ph = book.phases.get(m.name) if book is not None else None
        return ph is not None and ph.closed and ph.final is m

    def finalize(self) -> None:
        """Gather every rank (a collective, on every rank whatever happened to it) and write the complete report."""
        run = self.run
        gathered = None
        if run.rank.distributed:
            got = dist.gather_to_all(self._sync_payload(final=True))
            if got is not None:
                self._world.gathered(got, run.rank, None)
                gathered = self._world.payloads(run.rank)
        if run.rank.rank != 0 or run.book is None:
            return
        self.report = self.build("complete", gathered)
        self._save(self.report)
        if not run.training:
            _run_guard.release(self)  # the run is over: the next one may write this file

    def flush(self, *, force: bool = False, urgent: bool = False) -> None:
        """Write the partial report (at most every ``flush_every_s`` unless *force*). *urgent*: from a signal
        handler, which may have interrupted a save of this very file: write without waiting for its lock."""
        if self.run.rank.rank != 0 or self.run.book is None:
            return
        now = time.monotonic()
        if not force and now - self._last_flush < self.settings.flush_every_s:
            return
        self._last_flush = now
        self._save(self.build("partial"), urgent=urgent)

    # -- the report file -------------------------------------------------------------------------
    def path(self) -> Path | None:
        """This run's report file: the one it claimed, else ``report_path``, else ``output_dir/scer_report.json``."""
        if self._target is not None:
            return self._target
        if self.settings.report_path is not None:
            return self.settings.report_path
        out = self.run.output_dir
        return Path(out) / "scer_report.json" if out else None

    def _save(self, report: Report, *, urgent: bool = False) -> None:
        path = self.path()
        if path is None:
            return
        try:
            if not self._path_checked:
                self._path_checked = True
                path = self._target = self._claim(path)
            elif not _run_guard.holds(self) and self._claimed_by_another(path):
                path = self._target = self._renamed(path)  # after train end: another run took the file
            if urgent and self._path_checked:  # this run holds the file (its run lock): atomic, no lock wait
                atomic_write_text(path, report.to_json(), parents=True)
            else:
                report.save(path, overwrite=True, parents=True)  # under the file's lock (Report.save); makes output_dir
        except (OSError, ReportError) as exc:
            self.warn_once("save", f"could not write the report to {path} ({exc}); cb.report still has it")

    def _renamed(self, path: Path) -> Path:
        alt = path.with_name(f"{path.stem}.{self.run.run_id}{path.suffix}")
        self.warn_once("taken", f"{path} is the report of another training run that is still going (another "
                                f"SCERCallback, or another process, with the same report path); this run's "
                                f"report is written to {alt} instead")
        return alt

    def _claim(self, path: Path) -> Path:
        """Hold *path* for this run (an inter-process lock until train end), else write elsewhere."""
        if _run_guard.claim(self, path) is None:
            return self._renamed(path)
        with file_lock(path):
            return self._move_aside_foreign(path)

    def _run_id_in(self, path: Path) -> str | None:
        """The run id of the report in *path* (ValueError when it is not a readable report)."""
        data = _read.load_json(path, what="report", error=ReportSchemaError)
        if not isinstance(data, dict):
            raise ValueError("not a report")
        rid = data.get("run_id")
        return str(rid) if rid is not None else None

    def _claimed_by_another(self, path: Path) -> bool:
        if not path.exists():
            return False
        try:
            return self._run_id_in(path) != self.run.run_id
        except (OSError, ValueError):
            return True

    def _move_aside_foreign(self, path: Path) -> Path:
        """Keep a report of another run: rename it to ``scer_report.<its run_id>.json``."""
        if not path.exists():
            return path
        try:
            other = self._run_id_in(path)
        except (OSError, ValueError):
            other = None
        if other == self.run.run_id:
            return path
        tag = str(other) if other else f"unreadable-{int(time.time())}"
        aside = path.with_name(f"{path.stem}.{tag}{path.suffix}")
        if aside.exists():
            aside = path.with_name(f"{path.stem}.{tag}.{uuid.uuid4().hex[:8]}{path.suffix}")
        os.replace(path, aside)
        self.warn_once("aside", f"{path} held a report of another run; kept it as {aside.name}")
        return path

    # -- SIGTERM and exit ------------------------------------------------------------------------
    def guard(self, token: _run_guard.TrainToken | None = None) -> None:
        """While the loop runs: flush on SIGTERM (then behave as before) and at interpreter exit (a crash).
        *token*: what tells whether the loop is still running (:func:`scer_hf.hf.run_guard.train_token`)."""
        if self._exit_hook is None:
            ref = weakref.ref(self)

            def flush_at_exit() -> None:
                rep = ref()
                if rep is not None and rep.training:
                    path = rep.path()
                    if path is not None and path.parent.is_dir():  # never recreate a deleted folder
                        rep.interrupted = rep.interrupted or "process exited during training"
                        with contextlib.suppress(Exception):  # exiting; the previous flush stays
                            rep.flush(force=True)

            self._exit_hook = flush_at_exit
            atexit.register(flush_at_exit)
        self._train_token = token  # (thread, the frame whose end means the run was abandoned), or None
        if self.settings.handle_sigterm:
            _run_guard.register(self)

    def unguard(self) -> None:
        hook = self._exit_hook
        if hook is not None:
            atexit.unregister(hook)
            self._exit_hook = None
        self._train_token = None  # it holds the Trainer.train frame
        _run_guard.unregister(self)


ReportingMixin = RunReporter  # the name of 0.1 (scer_hf.hf.callback_report re-exports it); no longer a mixin
