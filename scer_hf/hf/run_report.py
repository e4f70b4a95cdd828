"""Live log metrics, projection, reports, checkpoint state, flushes and SIGTERM of one training run (a mixin of
:class:`scer_hf.hf.run.TrainingRun`, which ``SCERCallback`` and ``track_training`` both drive).

Split from ``run.py`` to keep modules short; every method here works on the run's own attributes (``_book``,
``_rank``, ``_state``: the progress, a ``TrainerState`` or the loop's own counters, ...).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import math
import os
import statistics
import time
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import _read
from .._io import atomic_write_text, file_lock
from ..core.carbon import CarbonIntensity
from ..core.coverage import COVERAGE_THRESHOLD
from ..core.embodied import embodied_emissions
from ..core.live_intensity import LiveIntensity, phase_dicts
from ..core.phasebook import PhaseBook
from ..core.report import PhaseRows, Report
from ..core.tracker import Measurement
from ..core.warn import WarnOnce
from ..errors import ReportError, ReportSchemaError
from . import distributed as dist
from . import run_guard as _run_guard

__all__ = ["ReportingMixin", "STATE_FILE", "STATE_SCHEMA", "task_of", "state_file"]

STATE_FILE = "scer_state.json"  # in each checkpoint folder (scer_state.rank<R>.json per rank when distributed)
STATE_SCHEMA = "scer-hf/callback-state"


def state_file(rank: dist.RankInfo) -> str:
    """The run's state file in a checkpoint folder: one per rank when distributed."""
    return STATE_FILE if not rank.distributed else f"scer_state.rank{rank.rank}.json"


def _fields(m: Measurement) -> dict[str, Any]:
    return {k: getattr(m, k) for k in m.__dataclass_fields__}


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


class ReportingMixin:
    """Everything a training run writes or reads back.

    The state it works on is :class:`~scer_hf.hf.run.TrainingRun`'s, declared here so that the contract between the
    two halves is explicit and type-checked (``TrainingRun.__init__`` and ``reset`` set every one of these)."""

    # configuration (TrainingRun.__init__)
    carbon: CarbonIntensity
    hardware: str | None
    projection_after: float
    flush_every_s: float
    report_path: Path | None
    handle_sigterm: bool
    driver: str
    output_dir: str | None
    model_info: dict[str, Any]
    _live: LiveIntensity | None
    _setup_failed: str | None
    _book: PhaseBook | None
    _rank: dist.RankInfo
    _report: Report | None
    warn_once: WarnOnce
    # one run's state (TrainingRun.reset)
    run_id: str
    _target: Path | None
    _training: bool
    _state: Any  # the driver's progress: a TrainerState or a Progress
    _base: dict[str, dict[str, float]]
    _restored_counts: dict[str, dict[str, float]]
    _restored_epoch: dict[str, Measurement]
    _samples: list[tuple[int, float]]
    _n_evals: int
    _n_predicts: int
    _last_flush: float
    _path_checked: bool
    _interrupted: str | None
    _resumed_from: int | None
    _wall0: float
    _wall_prev_s: float
    _tokens_counted: str
    _world_live: dict[str, float]
    _world: dict[int, dict[str, Any]]
    _sent: dict[str, Any]
    _rows: PhaseRows
    _exit_hook: Callable[[], None] | None = None  # the atexit flush, while registered
    _train_token: Any = None  # what tells the SIGTERM handler the loop is still running (run_guard)
    _run_lock: Any = None  # the report file's inter-process lock while this run holds it (run_guard.claim)

    def _counts(self, name: str) -> dict[str, float]:
        raise NotImplementedError  # TrainingRun's: this phase's counts so far

    def _samples_rule_text(self) -> str:
        raise NotImplementedError  # TrainingRun's: how samples are counted

    def _sync_world(self, state: Any) -> None:
        """A lockstep point: every rank calls this at the same hooks, whatever its meters did, and makes exactly one
        collective (``all_gather_object`` of a small payload: the phases that changed since the last sync and the
        live figures). Rank 0 keeps the other ranks' phases, so partial reports and logs carry the world's energy."""
        payload = self._sync_payload(state)  # never raises: a rank that failed still takes part
        got = dist.gather_to_all(payload)
        if got is None:
            return
        for p in got:
            self._absorb(p)
        self._world_live = self._world_logs(got)

    def _sync_payload(self, state: Any, *, final: bool = False) -> dict[str, Any]:
        try:
            book = self._book
            if book is None:
                return dist.failed_payload(self._rank, self._setup_failed or "no measurement on this rank")
            edge = book.edge()
            if not final:
                book.tick(edge)
            payload = self._payload(edge, changed_only=True)
            live = {"energy_j": book.top_level_energy_j(edge), "coverage": book.coverage(edge).measured_fraction}
            proj = self._projection(state, edge) if state is not None and live["energy_j"] is not None else None
            if proj is not None:
                live.update(proj)
            payload["live"] = live
            return payload
        except Exception as exc:  # noqa: BLE001 - the collective must happen on every rank
            return dist.failed_payload(self._rank, f"{type(exc).__name__}: {exc}")

    def _absorb(self, p: dict[str, Any]) -> None:
        """Keep rank *p*'s latest phases (by name) and meta for reports built on this rank (rank 0 keeps all)."""
        r = int(p["rank"])
        if r != self._rank.rank and self._rank.rank != 0:
            return
        kept = self._world.setdefault(r, {"phases": {}})
        for d in p.get("phases", ()):
            kept["phases"][str(d["name"])] = d
        kept.update({k: v for k, v in p.items() if k not in ("phases", "live")})

    def _world_payloads(self) -> list[dict[str, Any]]:
        """Every rank's payload as last gathered (this rank's: as of now); a rank never heard from is a gap."""
        out = [{**kept, "phases": list(kept["phases"].values())} for _, kept in sorted(self._world.items())]
        seen = {int(p["rank"]) for p in out}
        for r in range(self._rank.world_size):  # a rank not heard from yet: a gap, never zero
            if r not in seen:
                out.append(dist.failed_payload(dist.RankInfo(r, -1, self._rank.world_size),
                                               "not gathered yet (ranks are gathered at log steps and train end)"))
        for p in out:
            p.setdefault("local_rank", -1)
            p.setdefault("measures_host", False)
        return out

    def _world_logs(self, got: list[dict[str, Any]]) -> dict[str, float]:
        lives: list[dict[str, Any]] = [x if isinstance(x := p.get("live"), dict) else {} for p in got]
        if any(x.get("energy_j") is None for x in lives):
            return {"scer/coverage": min(float(x.get("coverage", 0.0)) for x in lives)}  # no total to show
        total = sum(float(x["energy_j"]) for x in lives)
        out = {"scer/energy_j": total, "scer/co2e_g": self.carbon.co2e_g(total)}
        cov = min(float(x.get("coverage", 1.0)) for x in lives)
        if cov < 1.0:
            out["scer/coverage"] = cov
        if all("projected_energy_j" in x for x in lives):
            # uncertainties add linearly (worst case: ranks' errors are not independent)
            pe = sum(float(x["projected_energy_j"]) for x in lives)
            pu = sum(float(x["projected_energy_uncertainty_j"]) for x in lives)
            out.update({"scer/projected_energy_j": pe, "scer/projected_co2e_g": self.carbon.co2e_g(pe),
                        "scer/projected_energy_uncertainty_j": pu,
                        "scer/projected_co2e_uncertainty_g": self.carbon.co2e_g(pu)})
        return out

    def _live_metrics(self, state: Any, edge: Any) -> dict[str, float]:
        """Energy so far (measured + filled) for the logs; only a coverage figure when there is no true total."""
        book = self._book
        assert book is not None
        cov = book.coverage(edge).measured_fraction
        total = book.top_level_energy_j(edge)
        out: dict[str, float] = {} if cov >= 1.0 else {"scer/coverage": cov}
        if total is None or cov < COVERAGE_THRESHOLD:
            return out
        out.update({"scer/energy_j": total, "scer/co2e_g": self.carbon.co2e_g(total)})
        proj = self._projection(state, edge)
        if proj is not None:
            out.update({f"scer/{k}": v for k, v in proj.items() if k != "windows"})
        return out

    def _projection(self, state: Any, edge: Any) -> dict[str, float] | None:
        """Projected end-of-run energy from the spread of per-step energies over step windows."""
        book = self._book
        max_steps = int(state.max_steps or 0)
        step = int(state.global_step)
        if book is None or not self._training or max_steps <= 0 or step < self.projection_after * max_steps:
            return None
        e_train = book.energy_j("train", edge)
        so_far = book.top_level_energy_j(edge)
        pts = list(self._samples)
        if e_train is None or so_far is None or not pts:
            return None
        if step > pts[-1][0]:
            pts.append((step, e_train))
        per_step = [(e1 - e0) / (s1 - s0) for (s0, e0), (s1, e1) in itertools.pairwise(pts) if s1 > s0]
        if len(per_step) < 2:
            return None
        mean = (pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0])
        remaining = max(0, max_steps - step)
        sem = statistics.stdev(per_step) / math.sqrt(len(per_step))
        total = so_far + mean * remaining
        unc = sem * remaining
        return {"projected_energy_j": total, "projected_co2e_g": self.carbon.co2e_g(total),
                "projected_energy_uncertainty_j": unc, "projected_co2e_uncertainty_g": self.carbon.co2e_g(unc),
                "windows": len(per_step)}

    # -- reports -----------------------------------------------------------------------------
    def _wall_s(self) -> float:
        return self._wall_prev_s + (time.monotonic() - self._wall0 if self._training else 0.0)

    def _local_phases(self, edge: Any, *, changed_only: bool = False) -> list[Measurement]:
        """This rank's phases as of *edge* (open ones with their counts so far). *changed_only*: the open phases and
        those closed since the last call with it (what a sync sends)."""
        book = self._book
        assert book is not None
        out = []
        for name, ph in book.phases.items():
            if name == "_eval" or (changed_only and ph.closed and self._sent.get(name) is ph.final):
                continue
            m = book.snapshot(name, edge, self._counts(name) if not ph.closed and name in self._base else None)
            if m is None:
                continue
            if changed_only and ph.closed:
                self._sent[name] = ph.final
            out.append(m)
        return out

    def _state_payload(self, edge: Any) -> dict[str, Any]:
        book = self._book
        assert book is not None
        return {
            "phases": [dict(dist.measurement_to_dict(m), kind=book.phases[m.name].kind,
                            closed=book.phases[m.name].closed) for m in self._local_phases(edge)],
            "samples": self._samples, "n_evals": self._n_evals, "n_predicts": self._n_predicts,
        }

    def _restore(self, ckpt: Path, step: int) -> dict[str, Measurement]:
        """Totals saved with the checkpoint this run resumes from (``<ckpt>/scer_state*.json``)."""
        name = state_file(self._rank)
        try:
            data = _read.load_json(ckpt / name, what="report", error=ReportSchemaError)  # never blocks on a FIFO
            if not isinstance(data, dict) or data.get("schema") != STATE_SCHEMA:
                raise ValueError("not a scer-hf callback state")
        except (OSError, ValueError) as exc:
            self.warn_once("restore", f"resuming at step {step} without {ckpt / name} ({exc}); "
                                      "energy before the checkpoint is not in this run's totals")
            return {}
        book = self._book
        assert book is not None
        self.run_id = str(data.get("run_id") or self.run_id)
        self._wall_prev_s = float(data.get("wall_s", 0.0))
        self._samples = [(int(s), float(e)) for s, e in data.get("samples", [])]
        self._n_evals = int(data.get("n_evals", 0))
        self._n_predicts = int(data.get("n_predicts", 0))
        self._resumed_from = int(step)
        out: dict[str, Measurement] = {}
        for d in data.get("phases", []):
            m = dist.measurement_from_dict(d)
            if d.get("closed"):
                book.restore_closed(m, str(d.get("kind", "training")))
            else:
                self._restored_counts[m.name] = dict(m.counts)
                m = Measurement(**{**_fields(m), "counts": {}})
                (self._restored_epoch if m.parent == "train" else out)[m.name] = m
        return out

    def _payload(self, edge: Any, *, changed_only: bool = False) -> dict[str, Any]:
        book = self._book
        assert book is not None
        out = {"rank": self._rank.rank, "local_rank": self._rank.local_rank,
               "measures_host": self._rank.measures_host, "has_meters": book.has_meters,
               "phases": [dist.measurement_to_dict(m) for m in self._local_phases(edge, changed_only=changed_only)],
               "provenance": book.provenance()}
        if self._setup_failed:
            out["failed"] = self._setup_failed
        return out

    def _build(self, *, status: str, gathered: list[dict[str, Any]] | None = None, state: Any = None) -> Report:
        """The report from every rank's payload (*gathered*), or from this process's alone. A single process's
        finished phases are converted once (:class:`~scer_hf.core.report.PhaseRows`): a flush costs what is new."""
        book = self._book
        assert book is not None
        edge = book.edge()
        final: Any = None
        if self._rank.distributed:
            note = None
            if gathered is None:
                self._absorb(self._payload(edge, changed_only=True))
                gathered = self._world_payloads()
                note = ("ranks other than this one as of the last sync (log steps, epoch ends); all ranks are "
                        "gathered at train end")
            phases, provenance, detail = dist.combine_ranks(gathered)
            if note:
                detail = dict(detail, note=note)
        else:
            phases = self._local_phases(edge)
            provenance = book.provenance()
            if self._setup_failed:
                provenance["failed_meters"] = {**provenance.get("failed_meters", {}), "setup": self._setup_failed}
            detail = {"world_size": 1}
            final = self._is_final
        st = state or self._state
        embodied = None
        if self.hardware:
            embodied = embodied_emissions(self.hardware, self._wall_s(), count=self._rank.world_size)
        extra = {"trainer": self._driver_extra(st), "distributed": detail}
        if st is not None and self._training:
            proj = self._projection(st, edge)
            if proj is not None:
                extra["projection"] = dict(proj, basis="energy so far + mean energy per optimizer step x remaining "
                                                       "steps; uncertainty = 1 standard error from the spread of "
                                                       "per-step-window energies")
        kinds = {m.name: book.phases[m.name].kind if m.name in book.phases else "training" for m in phases}
        carbon = self.carbon
        rows: Sequence[Measurement | Mapping[str, Any]] = phases
        final = final if self._live is None else None  # live intensity re-weights every phase each time
        if self._live is not None:  # live grid intensity: each phase its own, the run energy-weighted
            self._live.observe(label=f"report:{status}")
            carbon, per = self._live.apply(phases, self.carbon)
            rows = phase_dicts(phases, carbon, per, kinds, "training")
        return Report.build(rows, boundary="training", carbon=carbon, model=self.model_info,
                            provenance=provenance, embodied=embodied, kinds=kinds, status=status,
                            run_id=self.run_id, extra=extra, rows=self._rows if final else None, final=final)

    def _driver_extra(self, st: Any) -> dict[str, Any]:
        """``extra.trainer``: what drove the run (the Trainer or a custom loop), its progress and its counting rules."""
        return {
            "loop": self.driver, "global_step": int(st.global_step) if st else None,
            "max_steps": int(st.max_steps) if st and st.max_steps is not None else None,
            "epoch": float(st.epoch) if st and st.epoch is not None else None,
            "tokens_counted": self._tokens_counted, "wall_s": self._wall_s(),
            "resumed_from_step": self._resumed_from, "interrupted": self._interrupted,
            "samples_rule": self._samples_rule_text(),
            "evaluation_in_training": "excluded from train: train/epoch windows pause while an evaluation runs",
        }

    def _is_final(self, m: Measurement) -> bool:
        """Whether *m* is a finished phase's last word (its row can be kept for later reports)."""
        ph = self._book.phases.get(m.name) if self._book is not None else None
        return ph is not None and ph.closed and ph.final is m

    def finalize(self) -> None:
        """Gather every rank (a collective, on every rank whatever happened to it) and write the complete report."""
        gathered = None
        state = self._state
        if self._rank.distributed:
            got = dist.gather_to_all(self._sync_payload(state, final=True))
            if got is not None:
                for p in got:
                    self._absorb(p)
                gathered = self._world_payloads()
        if self._rank.rank != 0 or self._book is None:
            return
        self._report = self._build(status="complete", gathered=gathered, state=state)
        self._save(self._report)
        if not self._training:
            _run_guard.release(self)  # the run is over: the next one may write this file

    def _write_state(self, ckpt: Path) -> None:
        """This rank's totals in checkpoint folder *ckpt* (``scer_state.json``, one per rank when distributed)."""
        name = state_file(self._rank)
        book = self._book
        assert book is not None, "setup() first"
        payload = {"schema": STATE_SCHEMA, "version": 1, "run_id": self.run_id, "rank": self._rank.rank,
                   "world_size": self._rank.world_size, "global_step": int(self._state.global_step),
                   "wall_s": self._wall_s(), **self._state_payload(book.edge())}
        try:
            atomic_write_text(ckpt / name, json.dumps(payload, indent=1) + "\n")
        except OSError as exc:
            self.warn_once("state", f"could not write {ckpt / name} ({exc}); a resume will restart totals")

    def _flush(self, *, force: bool = False, urgent: bool = False) -> None:
        """Write the partial report (at most every ``flush_every_s`` unless *force*). *urgent*: from a signal
        handler, which may have interrupted a save of this very file: write without waiting for its lock."""
        if self._rank.rank != 0 or self._book is None:
            return
        now = time.monotonic()
        if not force and now - self._last_flush < self.flush_every_s:
            return
        self._last_flush = now
        self._save(self._build(status="partial"), urgent=urgent)

    def _path(self) -> Path | None:
        if self._target is not None:  # this run's file, once claimed
            return self._target
        if self.report_path is not None:
            return self.report_path
        out = self.output_dir
        return Path(out) / "scer_report.json" if out else None

    def _save(self, report: Report, *, urgent: bool = False) -> None:
        path = self._path()
        if path is None:
            return
        try:
            if not self._path_checked:
                self._path_checked = True
                path = self._target = self._claim(path)
            elif self._run_lock is None and self._claimed_by_another(path):
                path = self._target = self._renamed(path)  # after train end: another run took the file
            if urgent and self._path_checked:  # this run holds the file (its run lock): atomic, no lock wait
                atomic_write_text(path, report.to_json(), parents=True)
            else:
                report.save(path, overwrite=True, parents=True)  # under the file's lock (Report.save); makes output_dir
        except (OSError, ReportError) as exc:
            self.warn_once("save", f"could not write the report to {path} ({exc}); cb.report still has it")

    def _renamed(self, path: Path) -> Path:
        alt = path.with_name(f"{path.stem}.{self.run_id}{path.suffix}")
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

    def _claimed_by_another(self, path: Path) -> bool:
        if not path.exists():
            return False
        try:
            return _read.load_json(path, what="report", error=ReportSchemaError).get("run_id") != self.run_id
        except (OSError, ValueError, AttributeError):
            return True

    def _move_aside_foreign(self, path: Path) -> Path:
        """Keep a report of another run: rename it to ``scer_report.<its run_id>.json``."""
        if not path.exists():
            return path
        try:
            other = _read.load_json(path, what="report", error=ReportSchemaError).get("run_id")
        except (OSError, ValueError, AttributeError):
            other = None
        if other == self.run_id:
            return path
        tag = str(other) if other else f"unreadable-{int(time.time())}"
        aside = path.with_name(f"{path.stem}.{tag}{path.suffix}")
        if aside.exists():
            aside = path.with_name(f"{path.stem}.{tag}.{uuid.uuid4().hex[:8]}{path.suffix}")
        os.replace(path, aside)
        self.warn_once("aside", f"{path} held a report of another run; kept it as {aside.name}")
        return path

    # -- SIGTERM and exit ------------------------------------------------------------------
    def _install_interrupt_handlers(self, token: Any = None) -> None:
        """During train(): flush on SIGTERM (then behave as before) and at interpreter exit (a crash)."""
        if self._exit_hook is None:
            ref = weakref.ref(self)

            def flush_at_exit() -> None:
                cb = ref()
                if cb is not None and cb._training:
                    path = cb._path()
                    if path is not None and path.parent.is_dir():  # never recreate a deleted folder
                        cb._interrupted = cb._interrupted or "process exited during training"
                        with contextlib.suppress(Exception):  # exiting; the previous flush stays
                            cb._flush(force=True)

            self._exit_hook = flush_at_exit
            atexit.register(flush_at_exit)
        self._train_token = token  # (thread, the frame whose end means the run was abandoned), or None
        if self.handle_sigterm:
            _run_guard.register(self)

    def _remove_interrupt_handlers(self) -> None:
        hook = self._exit_hook
        if hook is not None:
            atexit.unregister(hook)
            self._exit_hook = None
        self._train_token = None  # it holds the Trainer.train frame
        _run_guard.unregister(self)
