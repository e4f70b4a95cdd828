"""``SCERCallback``: per-phase training energy and emissions for the Hugging Face Trainer.

>>> cb = SCERCallback(country_iso_code="FRA")
>>> trainer = Trainer(model=..., args=..., train_dataset=..., callbacks=[cb])
>>> trainer.train()
>>> cb.report                       # scer_hf.Report, also saved as output_dir/scer_report.json

Phases: ``train`` (top level), ``epoch N`` (inside ``train``) and one top-level
``eval N`` per evaluation. An evaluation that runs inside training *pauses* the
``train`` (and current ``epoch``) window: its segment is ended with the same meter
read that starts the evaluation, a new one begins with the read that ends it, and
the segments are summed (``merge_measurements``). So ``train`` never contains
evaluation energy and the report's total (top-level phases) counts each joule once.

Counts: ``tokens`` from ``state.num_input_tokens_seen`` (the callback switches
``args.include_num_input_tokens_seen`` to ``"non_padding"`` when it is ``"no"``: the
Trainer then sums each batch's ``attention_mask``, gathered over ranks, which is the
cheapest exact count the Trainer offers to a callback); ``steps`` (optimizer steps);
``samples`` (steps x total batch, capped per epoch at the dataset size); ``flops``
(``state.total_flos`` delta, ``train`` only: the Trainer updates it at log time).

Coverage: every meter read the callback makes (about 20 projection samples a run, each log, save, epoch and
evaluation edge) ends the running windows and begins new ones, so a failed or stuck read costs the coverage of
the two windows around it, not the run (:mod:`scer_hf.core.coverage`: gaps are filled by a documented rule and
labelled; below the threshold there is no headline).

Distributed: every rank makes the same collective calls whatever its meters did (a logging step's
``on_step_end``, ``on_epoch_end`` and train end), so a rank whose meters failed never desynchronises the job; it
is a coverage gap in the report, never zero energy.

Hot path: ``on_step_end`` does no file I/O; it reads the meters every
``max_steps / 20`` steps for the projection. Reports are written (atomically) from
``on_log`` / ``on_save`` at most every ``flush_every_s``, always on save and at train end.
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
import traceback
import uuid
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

from transformers import TrainerCallback

from . import distributed as dist
from . import run_guard as _run_guard
from .._io import atomic_write_text
from .callback_report import STATE_FILE, STATE_SCHEMA, ReportingMixin, _fields, task_of
from ..core.phasebook import PhaseBook
from ..core.carbon import carbon_intensity
from ..core.live_intensity import make_live
from ..errors import CallbackConfigError
from ..core.meters.base import Meter
from ..core.report import PhaseRows, Report
from ..core.tracker import Measurement
from .params import full_parameter_count

__all__ = ["SCERCallback", "STATE_FILE"]

_PROJECTION_WINDOWS = 20  # meter reads for the projection per run (at most one per optimizer step)

MetersArg = Meter | Sequence[Meter] | Callable[[Sequence[int] | None, bool], Sequence[Meter]] | None


def _safe(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Last-resort guard: a bug in scer-hf must not stop a training run. Warns once per hook and per error."""

    @functools.wraps(fn)
    def wrapper(self: "SCERCallback", *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - see docstring
            what = f"{type(exc).__name__}: {exc}"
            if fn.__name__ not in self._hook_warned and what not in self._hook_warned:
                self._hook_warned.update((fn.__name__, what))
                warnings.warn(
                    f"scer-hf: SCERCallback.{fn.__name__} failed ({type(exc).__name__}: {exc}); measurement may be "
                    f"incomplete, training continues.\n{traceback.format_exc(limit=3)}", RuntimeWarning, stacklevel=2)
            return None

    return wrapper


class SCERCallback(ReportingMixin, TrainerCallback):
    """Measures training energy per phase and reports CO2e and SCI (see the module docstring).

    Args:
        country_iso_code, region, carbon_intensity_g_per_kwh, pue: grid intensity, see
            :func:`scer_hf.carbon_intensity` (bad values raise at construction).
        meters: ``None`` (:func:`scer_hf.core.meters.auto`: this rank's GPU; RAPL counters on local rank 0
            only; process-scoped CPU/RAM estimates on every rank), meters to use as given, or a
            factory ``f(gpu_indices, measure_host) -> meters`` (``measure_host``: local rank 0).
        hardware: a row of :func:`scer_hf.core.embodied.hardware_table` for embodied emissions
            (one unit per process, reserved for the wall time of the run).
        projection_after: share of ``max_steps`` after which projected totals are logged.
        flush_every_s: minimum seconds between partial reports written from ``on_log``.
        report_path: report file (default ``args.output_dir/scer_report.json``).
        log_metrics: add ``scer/*`` keys to the Trainer's logs.
        task: model task for the report (default: guessed from the model class).
        training_type: ``"fine-tuning"`` or ``"pre-training"`` (the Hub's ``co2_eq_emissions.training_type``).
            Default: ``"fine-tuning"`` when the model was loaded from pretrained weights (its
            ``config._name_or_path`` is set, as ``from_pretrained`` does), ``"pre-training"`` when it was
            built from a bare config (random weights, ``_name_or_path`` empty). A model built with
            ``from_config(AutoConfig.from_pretrained(name))`` carries that name: pass ``"pre-training"``.
        handle_sigterm: on SIGTERM during training, write the partial report, then die as before.
        cloud_provider, cloud_region: the cloud region's grid figure (e.g. ``"gcp", "europe-west4"``).
        live_intensity: ``None`` (off) or an Electricity Maps zone / :class:`scer_hf.core.live_intensity.LiveIntensity`.
    """

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
        log_metrics: bool = True,
        *,
        task: str | None = None,
        handle_sigterm: bool = True,
        training_type: str | None = None,
        cloud_provider: str | None = None,
        cloud_region: str | None = None,
        live_intensity: Any = None,
    ) -> None:
        if training_type not in (None, "fine-tuning", "pre-training"):
            raise CallbackConfigError(f"training_type={training_type!r}: use 'fine-tuning', 'pre-training' or None "
                                      "(None: fine-tuning when the model was loaded with from_pretrained)")
        if not (isinstance(projection_after, (int, float)) and 0.0 <= projection_after <= 1.0):
            raise CallbackConfigError(f"projection_after={projection_after!r}: use a share of max_steps in [0, 1]")
        if not (isinstance(flush_every_s, (int, float)) and flush_every_s >= 0):
            raise CallbackConfigError(f"flush_every_s={flush_every_s!r}: use seconds >= 0 (0 flushes at every log)")
        if not (meters is None or isinstance(meters, Meter) or callable(meters)):
            try:
                meters = list(meters)
            except TypeError:
                meters = [meters]
            if not all(isinstance(m, Meter) for m in meters):
                raise CallbackConfigError(f"meters={meters!r}: use None (auto), a Meter, a list of Meters, or a "
                                          "factory f(gpu_indices, measure_host) returning Meters")
        if report_path is not None and not isinstance(report_path, (str, os.PathLike)):
            raise CallbackConfigError(f"report_path={report_path!r}: use a file path, e.g. 'out/scer_report.json'")
        self.carbon = carbon_intensity(country_iso_code, region, g_per_kwh=carbon_intensity_g_per_kwh, pue=pue,
                                        cloud_provider=cloud_provider, cloud_region=cloud_region)
        self._live = make_live(live_intensity, self.carbon)
        self._meters_arg = meters
        self.hardware = hardware
        self.projection_after = float(projection_after)
        self.flush_every_s = float(flush_every_s)
        self.report_path = Path(report_path) if report_path is not None else None
        self.log_metrics = log_metrics
        self.task = task
        self.training_type = training_type
        self.handle_sigterm = handle_sigterm
        self.rating: Any = None  # filled by the rating/card integration (issue 5/6), None until then
        self._hook_warned: set[str] = set()
        self._setup_failed: str | None = None
        self._params_at_init: int | None = None
        self._book: PhaseBook | None = None
        self._rank = dist.RankInfo()
        self._report: Report | None = None
        self._reset_run()

    # -- public ----------------------------------------------------------------------------
    @property
    def report(self) -> Report | None:
        """The latest report: final after train end, else a fresh partial one (None before training)."""
        if self._report is not None and self._finished:
            return self._report
        if self._book is None or not any(n != "_eval" for n in self._book.phases):
            return self._report
        return self._build(status="partial")

    def attach(self, trainer: Any) -> Any:
        """Put this callback right after ``DefaultFlowCallback`` so reporting integrations
        (TensorBoard, W&B, ...) that run before user callbacks also see the ``scer/*`` keys."""
        from transformers.trainer_callback import DefaultFlowCallback

        cbs = trainer.callback_handler.callbacks
        if self in cbs:
            cbs.remove(self)
        at = next((i + 1 for i, c in enumerate(cbs) if isinstance(c, DefaultFlowCallback)), 0)
        cbs.insert(at, self)
        return trainer

    # -- setup -----------------------------------------------------------------------------
    def _reset_run(self) -> None:
        _run_guard.release(self)  # a previous run that raised out of train() still held its report file
        self._target: Path | None = None  # this run's report file, once claimed (see _save)
        self.run_id = uuid.uuid4().hex
        self._finished = False
        self._training = False
        self._base: dict[str, dict[str, float]] = {}
        self._restored_counts: dict[str, dict[str, float]] = {}
        self._epoch_name: str | None = None
        self._eval_name: str | None = None  # open evaluation window (internal name)
        self._eval_steps = 0
        self._eval_pending = False  # opened on should_evaluate, no prediction step yet
        self._paused: list[str] = []
        self._n_evals = 0
        self._n_predicts = 0
        self._samples: list[tuple[int, float]] = []  # (global_step, train energy J) projection points
        self._next_sample_step = 0
        self._window_steps = 1
        self._last_flush = -math.inf
        self._path_checked = False
        self._interrupted: str | None = None
        self._resumed_from: int | None = None
        self._wall0 = time.monotonic()
        self._wall_prev_s = 0.0
        self._model_info: dict[str, Any] = {"id": None, "parameters": None, "task": self.task}
        if getattr(self, "training_type", None):
            self._model_info["training_type"] = self.training_type
        self._args: Any = None
        self._state: Any = None
        self._n_examples: int | None = None
        self._tokens_counted = "non_padding"
        self._world_live: dict[str, float] = {}
        self._world: dict[int, dict[str, Any]] = {}  # rank -> its latest phases (by name) and meta, from the syncs
        self._sent: dict[str, Any] = {}  # closed phases already sent in a sync (name -> the Measurement sent)
        self._rows = PhaseRows()  # finished phases' report rows, made once (flushes cost what is new)
        self._restored_epoch: dict[str, Measurement] = {}

    def _setup(self, args: Any) -> PhaseBook:
        """This rank's meters, once. Never raises: a rank whose meters cannot be set up measures nothing and is a
        coverage gap in the report, and still makes every collective call the other ranks make."""
        if self._book is not None:
            return self._book
        self._rank = dist.rank_info(args)
        try:
            meters, choices = self._make_meters(args)
            nothing = self._rank.distributed and not meters
        except Exception as exc:  # noqa: BLE001 - measurement never breaks training
            meters, choices, nothing = [], None, False
            self._setup_failed = f"meter setup failed ({type(exc).__name__}: {exc})"
            self._warn_once("setup", f"{self._setup_failed}; this rank's energy is a coverage gap, training continues")
        self._book = PhaseBook(meters, choices, nothing_by_design=nothing, counters=self._segment_counters)
        if self._live is not None and self._rank.rank == 0:  # live intensity read at window edges
            self._book.tracker.on_edge = self._live.observe
        return self._book

    def _make_meters(self, args: Any) -> tuple[list[Meter], dict[str, str] | None]:
        gpu_indices = dist.nvml_indices(args, self._rank)
        arg = self._meters_arg
        if arg is None:
            from ..core.meters.auto import auto

            return dist.meters_for_rank(auto(gpu_indices=gpu_indices, host=True), self._rank.measures_host)
        if isinstance(arg, Meter):
            return [arg], None
        if callable(arg):
            return list(arg(gpu_indices, self._rank.measures_host)), None
        return list(arg), None

    def _segment_counters(self) -> dict[str, float]:
        """The Trainer's cumulative counters, for the counts of each measured window."""
        s = self._state
        if s is None:
            return {}
        return {"tokens": float(s.num_input_tokens_seen or 0), "steps": float(s.global_step)}

    def _samples_per_step(self) -> int:
        a = self._args
        return int(a.train_batch_size) * int(a.gradient_accumulation_steps) * int(a.world_size)

    def _counters(self) -> dict[str, float]:
        s = self._state
        return {"tokens": float(s.num_input_tokens_seen or 0), "steps": float(s.global_step),
                "flops": float(s.total_flos or 0)}

    def _counts(self, name: str) -> dict[str, float]:
        now = self._counters()
        base = self._base.get(name, now)
        out = dict(self._restored_counts.get(name, {}))
        keys = ("tokens", "steps", "flops") if name == "train" else ("tokens", "steps")
        for k in keys:
            out[k] = out.get(k, 0) + now[k] - base[k]
        if name == "train":
            book = self._book
            ep = book.children("train") if book else []
            out["samples"] = sum(self._counts(n)["samples"] if book.is_open(n) else
                                 float(book.phases[n].final.counts.get("samples", 0)) for n in ep)  # type: ignore[union-attr]
        else:
            new = (now["steps"] - base["steps"]) * self._samples_per_step()
            samples = self._restored_counts.get(name, {}).get("samples", 0) + new
            out["samples"] = min(samples, self._n_examples) if self._n_examples else samples
        return {k: (int(v) if float(v).is_integer() else v) for k, v in out.items()}

    # -- training --------------------------------------------------------------------------
    @_safe
    def on_init_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self._setup(args)  # pick meters while the Trainer is built, not inside train()
        if model is not None:  # before FSDP wraps (and shards) it in train()
            self._params_at_init = full_parameter_count(model)

    @_safe
    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, train_dataloader: Any = None,
                       **kwargs: Any) -> None:
        if self._finished or self._training:  # a new train() call: a new run (evaluations before it are kept)
            self._reset_run()
            if self._book is not None:
                self._book.clear()
        # first, before anything that could fail: every rank must switch the Trainer's token count on alike (it
        # gathers over ranks), or the job desynchronises
        if args.include_num_input_tokens_seen in ("no", False, None):
            args.include_num_input_tokens_seen = "non_padding"
        self._tokens_counted = "all" if args.include_num_input_tokens_seen in ("all", True) else "non_padding"
        self._args, self._state, self._training = args, state, True
        book = self._setup(args)
        if model is not None:
            cfg = getattr(model, "config", None)
            counted = full_parameter_count(model)
            self._model_info = {
                "id": getattr(args, "hub_model_id", None) or getattr(cfg, "_name_or_path", None) or None,
                "parameters": max(counted or 0, self._params_at_init or 0) or None,
                "task": self.task or task_of(model),
                "training_type": self.training_type or (
                    "fine-tuning" if getattr(cfg, "_name_or_path", None) else "pre-training"),
                "training_type_basis": "given" if self.training_type else "inferred from config._name_or_path",
            }
        try:
            self._n_examples = len(train_dataloader.dataset)  # type: ignore[union-attr]
        except (AttributeError, TypeError):
            self._n_examples = None
        max_steps = int(state.max_steps or 0)
        self._window_steps = max(1, max_steps // _PROJECTION_WINDOWS)
        self._wall0 = time.monotonic()
        restored: dict[str, Measurement] = {}
        if state.global_step > 0:
            restored = self._restore(args, state)
        edge = book.edge()
        now = self._counters()
        self._base["train"] = now
        book.open("train", parent=None, kind="training", edge=edge, restored=restored.get("train"))
        self._sample(int(state.global_step), edge)
        if getattr(args, "eval_on_start", False):  # the Trainer evaluates right after this hook
            self._begin_eval(edge, pending=True)
        self._install_interrupt_handlers()
        self._flush(force=True)

    @_safe
    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        book = self._book
        if book is None or not self._training:
            return
        n = math.floor(float(state.epoch or 0) + 1e-9) + 1
        name = f"epoch {n}"
        self._settle_restored_epochs(keep=name)
        edge = book.edge()
        self._base[name] = self._counters()
        book.open(name, parent="train", kind="training", edge=edge, restored=self._restored_epoch.pop(name, None))
        self._epoch_name = name

    @_safe
    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._eval_name is not None and self._training:  # an expected evaluation did not happen
            self._end_eval(state, "eval", cancelled=self._eval_pending)

    @_safe
    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if control.should_log and self._rank.distributed:
            self._sync_world(state)  # every rank is here in lockstep (the Trainer gathers the loss next)
        book = self._book
        if book is None or not self._training:
            return
        step = int(state.global_step)
        if control.should_evaluate:
            edge = self._tick()
            self._sample(step, edge)
            self._begin_eval(edge, pending=True)
        elif step >= self._next_sample_step:
            self._sample(step, self._tick())

    def _tick(self) -> Any:
        """One meter read that ends the running windows and begins the next ones (see the module docstring)."""
        book = self._book
        assert book is not None
        edge = book.edge()
        book.tick(edge)
        return edge

    @_safe
    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._rank.distributed:
            self._sync_world(state)  # all ranks end the epoch together; feeds the final train log
        book = self._book
        if book is None or not self._training or self._epoch_name is None:
            return
        edge = book.edge()
        if self._eval_name is not None:  # should not happen; keep windows consistent
            self._end_eval(state, "eval", cancelled=self._eval_pending, edge=edge)
        book.close(self._epoch_name, edge, self._counts(self._epoch_name))
        self._epoch_name = None
        if control.should_evaluate:
            self._begin_eval(edge, pending=True)

    def _settle_restored_epochs(self, keep: str | None = None) -> None:
        """An epoch open in the checkpoint that this run does not continue (the checkpoint was
        saved on its last step, before ``on_epoch_end``) is finished: keep it as saved."""
        for name in [n for n in self._restored_epoch if n != keep]:
            m = self._restored_epoch.pop(name)
            self._book.restore_closed(  # type: ignore[union-attr]
                Measurement(**{**_fields(m), "counts": self._restored_counts.pop(name, {})}), "training")

    def _sample(self, step: int, edge: Any) -> None:
        e = self._book.energy_j("train", edge) if self._book else None  # type: ignore[union-attr]
        if e is not None and (not self._samples or step > self._samples[-1][0]):
            self._samples.append((step, e))
        self._next_sample_step = step + self._window_steps

    # -- evaluation ------------------------------------------------------------------------
    def _begin_eval(self, edge: Any, *, pending: bool) -> None:
        book = self._book
        assert book is not None
        if self._eval_name is not None:
            return
        self._paused = [n for n in ("train", self._epoch_name) if n and book.pause(n, edge)]
        self._eval_name = "_eval"
        self._eval_steps = 0
        self._eval_pending = pending
        book.open("_eval", parent=None, kind="evaluation", edge=edge)

    def _end_eval(self, state: Any, what: str, *, cancelled: bool = False, edge: Any = None,
                  eval_dataloader: Any = None) -> None:
        book = self._book
        if book is None or self._eval_name is None:
            return
        if cancelled:  # give the time back to training: resume it from where the evaluation began
            edge = book.cancel(self._eval_name)
        else:
            edge = edge or book.edge()
            counts: dict[str, float] = {"steps": self._eval_steps}
            try:
                counts["samples"] = len(eval_dataloader.dataset)  # type: ignore[union-attr]
            except (AttributeError, TypeError):
                pass
            if what == "eval":
                self._n_evals += 1
                name, kind = f"eval {self._n_evals}", "evaluation"
            else:
                self._n_predicts += 1
                name, kind = f"predict {self._n_predicts}", "inference"
            book.close(self._eval_name, edge, counts, rename=name, kind=kind)
        self._eval_name = None
        self._eval_pending = False
        if self._paused:
            edge = edge or book.edge()
            for n in self._paused:
                book.resume(n, edge)
        self._paused = []

    @_safe
    def on_prediction_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        book = self._setup(args)
        if self._eval_name is None:
            self._args, self._state = self._args or args, self._state or state
            self._begin_eval(book.edge(), pending=False)
        self._eval_pending = False
        self._eval_steps += 1

    @_safe
    def on_evaluate(self, args: Any, state: Any, control: Any, eval_dataloader: Any = None, **kwargs: Any) -> None:
        self._after_eval(args, state, "eval", eval_dataloader)

    @_safe
    def on_predict(self, args: Any, state: Any, control: Any, eval_dataloader: Any = None, **kwargs: Any) -> None:
        self._after_eval(args, state, "predict", eval_dataloader)

    def _after_eval(self, args: Any, state: Any, what: str, eval_dataloader: Any) -> None:
        if self._eval_name is None:
            return
        self._end_eval(state, what, eval_dataloader=eval_dataloader)
        if not self._training and self._finished:
            self._finalize(args, state)  # an evaluation after train(): add it to the saved report

    # -- logs, saves, end --------------------------------------------------------------------
    @_safe
    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        book = self._book
        if book is None or logs is None or not self.log_metrics:
            if book is not None and self._training:
                self._flush()
            return
        if self._rank.distributed:  # all ranks' sum as of the last lockstep point (no collective in on_log)
            extra = dict(self._world_live)
        else:
            extra = self._live_metrics(state, self._tick())
        logs.update(extra)
        hist = state.log_history
        if hist and isinstance(hist[-1], dict) and hist[-1].get("step") == state.global_step and \
                all(k in hist[-1] for k in logs if k not in extra):
            hist[-1].update(extra)  # the Trainer appended a copy of logs before on_log
        if self._training:
            self._flush()

    @_safe
    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._book is None or not self._training:
            return
        ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if ckpt.is_dir():
            name = STATE_FILE if not self._rank.distributed else f"scer_state.rank{self._rank.rank}.json"
            payload = {"schema": STATE_SCHEMA, "version": 1, "run_id": self.run_id, "rank": self._rank.rank,
                       "world_size": self._rank.world_size, "global_step": int(state.global_step),
                       "wall_s": self._wall_s(), **self._state_payload(self._book.edge())}
            try:
                atomic_write_text(ckpt / name, json.dumps(payload, indent=1) + "\n")
            except OSError as exc:
                self._warn_once("state", f"could not write {ckpt / name} ({exc}); a resume will restart totals")
        self._flush(force=True)

    @_safe
    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        try:
            ended = self._end_run(state)
        except Exception as exc:  # noqa: BLE001 - the gather below must still happen on every rank
            ended = True
            self._warn_once("end", f"closing the run's phases failed ({type(exc).__name__}: {exc}); the report "
                                   "marks what was not measured")
        if ended or self._rank.distributed:
            self._training = False
            self._finished = True
            self._remove_interrupt_handlers()
            self._finalize(args, state)

    def _end_run(self, state: Any) -> bool:
        """Close this run's open phases at train end; False if no run was going on here."""
        book = self._book
        if book is None or not self._training:
            return False
        edge = book.edge()
        if self._eval_name is not None:
            self._end_eval(state, "eval", cancelled=self._eval_pending, edge=edge)
        if self._epoch_name is not None:
            book.close(self._epoch_name, edge, self._counts(self._epoch_name))
            self._epoch_name = None
        self._settle_restored_epochs()
        book.close("train", edge, self._counts("train"))
        self._wall_prev_s = self._wall_s()
        return True

    @_safe
    def on_push_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Hook for model-card metadata: ``scer_hf.hf.push.on_push_begin(self, args, state, control, **kw)``
        when that module exists. ``Trainer.push_to_hub`` rewrites README.md *after* this hook."""
        try:
            from . import push as card_push  # type: ignore[attr-defined]
        except ImportError:
            return
        card_push.on_push_begin(self, args, state, control, **kwargs)
