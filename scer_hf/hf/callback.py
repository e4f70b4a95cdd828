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

The callback is a thin adapter: it translates the Trainer's hooks into calls on a
:class:`scer_hf.hf.run.TrainingRun`, the same machinery ``scer_hf.track_training`` drives.
"""

from __future__ import annotations

import functools
import math
import os
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback
from transformers import TrainerControl as Control
from transformers import TrainerState as State
from transformers import TrainingArguments as Args

from .._version import REMOVAL
from ..core.grid import GridSpec
from ..core.phasebook import PhaseBook
from ..core.report import Report
from . import distributed as dist
from . import run_guard as _run_guard
from .identity import model_identity
from .params import full_parameter_count
from .run import MetersArg, TrainingRun
from .run_report import STATE_FILE, task_of

__all__ = ["SCERCallback", "STATE_FILE", "task_of"]


_RATING_DEPRECATED = (
    f"SCERCallback.rating is deprecated and will be removed in scer-hf {REMOVAL}: it was never the run's rating "
    "(None unless you set it). Rate the run with scer_hf.rate(cb.report); to put a rating of your own in the model "
    "card, call scer_hf.update_card(output_dir, cb.report, rating=...)")


def _safe(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Last-resort guard: a bug in scer-hf must not stop a training run. Warns once per hook and per error."""

    @functools.wraps(fn)
    def wrapper(self: SCERCallback, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - see docstring
            what = f"{type(exc).__name__}: {exc}"
            if self._run.warn_once.first(fn.__name__, what):
                warnings.warn(
                    f"scer-hf: SCERCallback.{fn.__name__} failed ({type(exc).__name__}: {exc}); measurement may be "
                    f"incomplete, training continues.\n{traceback.format_exc(limit=3)}", RuntimeWarning, stacklevel=2)
            return None

    return wrapper


class SCERCallback(TrainerCallback):
    """Measures training energy per phase and reports CO2e and SCI (see the module docstring).

    Args:
        country_iso_code, region, carbon_intensity_g_per_kwh, pue: grid intensity, see
            :func:`scer_hf.carbon_intensity` (bad values raise at construction).
        meters: ``None`` (:func:`scer_hf.core.meters.auto`: this rank's GPU; node-wide counters on local rank 0
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
            ``config._name_or_path`` is set, as ``from_pretrained`` does) or is a PEFT adapter, ``"pre-training"``
            when it was built from a bare config (random weights, ``_name_or_path`` empty). A model built with
            ``from_config(AutoConfig.from_pretrained(name))`` carries that name: pass ``"pre-training"``.
        handle_sigterm: on SIGTERM during training, write the partial report, then die as before.
        cloud_provider, cloud_region: the cloud region's grid figure (e.g. ``"gcp", "europe-west4"``).
        live_intensity: ``None`` (off) or an Electricity Maps zone / :class:`scer_hf.core.live_intensity.LiveIntensity`.
        grid: the grid arguments above as one :class:`scer_hf.GridSpec` (either way works; a keyword that
            disagrees with *grid* raises :class:`~scer_hf.errors.GridConflictError`).
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
        grid: GridSpec | None = None,
    ) -> None:
        spec = GridSpec.of(grid, country_iso_code=country_iso_code, region=region,
                           carbon_intensity_g_per_kwh=carbon_intensity_g_per_kwh, pue=pue,
                           cloud_provider=cloud_provider, cloud_region=cloud_region, live_intensity=live_intensity)
        self._run = TrainingRun(meters=meters, hardware=hardware, projection_after=projection_after,
                                flush_every_s=flush_every_s, report_path=report_path, task=task,
                                handle_sigterm=handle_sigterm, training_type=training_type,
                                driver="transformers.Trainer", **spec.keywords())
        self.log_metrics = log_metrics
        self._card_rating: Any = None  # set through the deprecated ``rating``; None: rated when the card is written
        self._params_at_init: int | None = None

    # -- public ----------------------------------------------------------------------------
    run = property(lambda self: self._run, doc="The :class:`~scer_hf.hf.run.TrainingRun` this callback drives.")
    carbon = property(lambda self: self._run.carbon, doc="The grid intensity the run's CO2e uses.")
    run_id = property(lambda self: self._run.run_id, doc="The run's id (kept across a resume).")

    @property
    def rating(self) -> Any:
        """Deprecated (removed in scer-hf 0.2.0): never the run's rating, only one you set for the card written
        on push. Rate the report with ``scer_hf.rate(cb.report)``; put a rating of your own in the card with
        ``scer_hf.update_card(output_dir, cb.report, rating=...)``."""
        warnings.warn(_RATING_DEPRECATED, DeprecationWarning, stacklevel=2)
        return self._card_rating

    @rating.setter
    def rating(self, value: Any) -> None:
        warnings.warn(_RATING_DEPRECATED, DeprecationWarning, stacklevel=2)
        self._card_rating = value  # still honoured on push until the removal

    @property
    def card_rating(self) -> Any:
        """The rating set for the card written on push (through the deprecated ``rating``), or None: the card is
        rated when written. Reading it does not warn."""
        return self._card_rating

    @property
    def report(self) -> Report | None:
        """The latest report: final after train end, else a fresh partial one (None before training)."""
        return self._run.report

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
    def _setup(self, args: Args) -> PhaseBook | None:
        run = self._run
        if run.book is None:
            rank = dist.rank_info(args)
            run.setup(rank, dist.nvml_indices(args, rank))
        return run.book

    def _identify(self, args: Args, model: Any) -> None:
        run = self._run
        info = model_identity(model, hub_model_id=getattr(args, "hub_model_id", None),
                              output_dir=getattr(args, "output_dir", None), training_type=run.training_type,
                              params_at_init=self._params_at_init)
        info["task"] = run.task or task_of(model)
        run.model_info = info

    # -- training --------------------------------------------------------------------------
    @_safe
    def on_init_end(self, args: Args, state: State, control: Control, model: Any = None, **kwargs: object) -> None:
        self._setup(args)  # pick meters while the Trainer is built, not inside train()
        if model is not None:  # before FSDP wraps (and shards) it in train()
            self._params_at_init = full_parameter_count(model)

    @_safe
    def on_train_begin(self, args: Args, state: State, control: Control, model: Any = None,
                       train_dataloader: Any = None, **kwargs: object) -> None:
        run = self._run
        if run.finished or run.training:
            run.reset()
        # first, before anything that could fail: every rank must switch the Trainer's token count on alike (it
        # gathers over ranks), or the job desynchronises
        if args.include_num_input_tokens_seen in ("no", False, None):
            args.include_num_input_tokens_seen = "non_padding"
        run.tokens_counted = "all" if args.include_num_input_tokens_seen in ("all", True) else "non_padding"
        run.output_dir = getattr(args, "output_dir", None)
        run.samples_per_step = int(args.train_batch_size) * int(args.gradient_accumulation_steps) * int(args.world_size)
        self._setup(args)
        if model is not None:
            self._identify(args, model)
        ckpt = _checkpoint(args, state) if state.global_step > 0 else None
        edge = run.start(state, n_examples=_dataset_len(train_dataloader), resume_from=ckpt,
                         token=_run_guard.train_token())
        if getattr(args, "eval_on_start", False):  # the Trainer evaluates right after this hook
            run.begin_eval(edge, pending=True)
        run.flush(force=True)

    @_safe
    def on_epoch_begin(self, args: Args, state: State, control: Control, **kwargs: object) -> None:
        self._run.begin_epoch(math.floor(float(state.epoch or 0) + 1e-9) + 1)

    @_safe
    def on_step_begin(self, args: Args, state: State, control: Control, **kwargs: object) -> None:
        run = self._run
        if run.evaluating and run.training:  # an expected evaluation did not happen
            run.end_eval("eval", cancelled=run.eval_pending)

    @_safe
    def on_step_end(self, args: Args, state: State, control: Control, **kwargs: object) -> None:
        if control.should_log:
            self._run.sync()  # every rank is here in lockstep (the Trainer gathers the loss next)
        self._run.step_end(int(state.global_step), evaluate_next=bool(control.should_evaluate))

    @_safe
    def on_epoch_end(self, args: Args, state: State, control: Control, **kwargs: object) -> None:
        self._run.sync()  # all ranks end the epoch together; feeds the final train log
        self._run.end_epoch(evaluate_next=bool(control.should_evaluate))

    # -- evaluation ------------------------------------------------------------------------
    @_safe
    def on_prediction_step(self, args: Args, state: State, control: Control, **kwargs: object) -> None:
        run = self._run
        self._setup(args)
        if not run.evaluating:
            run.output_dir = run.output_dir or getattr(args, "output_dir", None)
            run.adopt_progress(state)
            run.begin_eval(pending=False)
        run.eval_batch()

    @_safe
    def on_evaluate(self, args: Args, state: State, control: Control, eval_dataloader: Any = None,
                    **kwargs: object) -> None:
        self._after_eval("eval", eval_dataloader)

    @_safe
    def on_predict(self, args: Args, state: State, control: Control, eval_dataloader: Any = None,
                   **kwargs: object) -> None:
        self._after_eval("predict", eval_dataloader)

    def _after_eval(self, what: str, eval_dataloader: Any) -> None:
        run = self._run
        if not run.evaluating:
            return
        run.end_eval(what, samples=_dataset_len(eval_dataloader))
        run.after_eval()

    # -- logs, saves, end --------------------------------------------------------------------
    @_safe
    def on_log(self, args: Args, state: State, control: Control, logs: dict[str, float] | None = None,
               **kwargs: object) -> None:
        run = self._run
        if run.book is None:
            return
        if logs is not None and self.log_metrics:
            extra = run.log_values(state)
            logs.update(extra)
            hist = state.log_history
            if hist and isinstance(hist[-1], dict) and hist[-1].get("step") == state.global_step and \
                    all(k in hist[-1] for k in logs if k not in extra):
                hist[-1].update(extra)  # the Trainer appended a copy of logs before on_log
        if run.training:
            run.flush()

    @_safe
    def on_save(self, args: Args, state: State, control: Control, **kwargs: object) -> None:
        ckpt = _checkpoint(args, state)
        if ckpt is not None:
            self._run.save_state(ckpt)

    @_safe
    def on_train_end(self, args: Args, state: State, control: Control, **kwargs: object) -> None:
        self._run.end()

    @_safe
    def on_push_begin(self, args: Args, state: State, control: Control, **kwargs: object) -> None:
        """Hook for model-card metadata: ``scer_hf.hf.push.on_push_begin(self, args, state, control, **kw)``.
        ``Trainer.push_to_hub`` rewrites README.md *after* this hook."""
        from . import push as card_push

        card_push.on_push_begin(self, args, state, control, **kwargs)


def _checkpoint(args: Args, state: State) -> Path | None:
    """The Trainer's checkpoint folder of this step (None without an output folder: nothing is saved)."""
    return Path(args.output_dir) / f"checkpoint-{state.global_step}" if args.output_dir else None


def _dataset_len(loader: Any) -> int | None:
    try:
        return len(loader.dataset)
    except (AttributeError, TypeError):
        return None
