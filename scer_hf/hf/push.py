"""SCER metadata in the card the Trainer pushes, with no extra call.

``SCERCallback.on_push_begin`` calls :func:`on_push_begin`. The catch (transformers
5.x ``Trainer.push_to_hub``): the Trainer fires ``on_push_begin`` *first*, then
``save_model``, then ``self.create_model_card(...)``, which **rewrites**
``output_dir/README.md``, then ``upload_folder(output_dir)``. A README written in the
hook is therefore overwritten before the upload.

What this module does, in the hook:

1. It finds the Trainer that fired the hook: the caller frame whose ``self`` has this
   ``args`` object (identity) and this callback in its ``callback_handler``. The
   callback event carries no trainer reference, but ``on_push_begin`` is always called
   from a Trainer method, so the lookup is exact; nothing global is touched.
2. It wraps **that instance's** ``create_model_card`` (an instance attribute, once):
   the original runs, then :func:`scer_hf.update_card` edits the fresh README.md in
   place. ``upload_folder`` then uploads a card that already carries
   ``co2_eq_emissions``, the ``scer`` block, the tag and the section: one commit, no
   race, no follow-up commit. Other Trainers and the class are untouched.
3. It also edits ``output_dir/README.md`` right away (and writes ``scer_label.svg``
   beside it), which covers checkpoint pushes (``hub_strategy="every_save"``), where the
   Trainer uploads ``output_dir`` without regenerating the card.

If the trainer cannot be found (a future Trainer calling the hook elsewhere), step 3
still runs and a warning says the final card may lack the metadata; then run
``scer_hf.update_card(hub_model_id, report)`` after ``push_to_hub`` (a second commit).
Failures never break ``push_to_hub``: they warn once and the push goes on.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from ..core.warn import WarnOnce
from ..errors import SCERError

if TYPE_CHECKING:
    from transformers import Trainer, TrainerControl, TrainerState, TrainingArguments

    from ..core.report import Report
    from .callback import SCERCallback

__all__ = ["LABEL_NAME", "find_trainer", "install", "on_push_begin", "write_card"]

LABEL_NAME = "scer_label.svg"
_MARK = "_scer_hf_card_wrapper"
_warn_once = WarnOnce(RuntimeWarning, "scer-hf: ", stacklevel=2)


def find_trainer(args: TrainingArguments, callback: SCERCallback, max_depth: int = 16) -> Trainer | None:
    """The Trainer whose ``on_push_begin`` is running: a caller frame's ``self`` that owns *args* and *callback*."""
    frame: FrameType | None = sys._getframe(1)
    for _ in range(max_depth):
        if frame is None:
            return None
        obj = frame.f_locals.get("self")
        handler = getattr(obj, "callback_handler", None)
        if (obj is not None and getattr(obj, "args", None) is args and callable(getattr(obj, "create_model_card", None))
                and callback in getattr(handler, "callbacks", ())):
            return obj
        frame = frame.f_back
    return None


def install(trainer: Any, callback: SCERCallback) -> bool:
    """Wrap *trainer*'s own ``create_model_card`` so the card it writes gets the SCER parts. Idempotent."""
    current = trainer.__dict__.get("create_model_card")
    if current is not None and getattr(current, _MARK, False):
        return False
    original = trainer.create_model_card

    @functools.wraps(original)
    def create_model_card(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        write_card(callback, trainer.args)
        return result

    setattr(create_model_card, _MARK, True)
    trainer.create_model_card = create_model_card
    return True


def write_card(callback: SCERCallback, args: TrainingArguments) -> Path | None:
    """Write the label and the SCER card parts into ``args.output_dir``; never raises."""
    try:
        report, out_dir = callback.report, args.output_dir
        if report is None or not out_dir:
            return None
        out = Path(out_dir)
        rating = callback.card_rating  # set through SCERCallback.rating (deprecated)
        _write_label(out, report, rating)
        from ..publish.card import update_card

        return update_card(out, report, rating=rating, label_path=LABEL_NAME).path
    except (SCERError, OSError) as exc:
        _warn_once(f"card:{type(exc).__name__}", f"could not add SCER metadata to the model card ({exc}); the push "
                   "goes on without it. Fix the cause and run scer_hf.update_card(output_dir or repo id, report)")
    except Exception as exc:  # noqa: BLE001 - last resort: a scer-hf bug must not break push_to_hub
        _warn_once("card:bug", f"model card update failed ({type(exc).__name__}: {exc}); the push goes on without "
                   "SCER metadata (please report this)")
    return None


def _write_label(out: Path, report: Report, rating: Any) -> None:
    from ..publish.label import save_label

    try:
        save_label(out / LABEL_NAME, report, rating, overwrite=True)  # the callback's own label, refreshed each push
    except (SCERError, OSError) as exc:
        _warn_once("label", f"could not write {out / LABEL_NAME} ({exc}); the card will not show the label")


def on_push_begin(callback: SCERCallback, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                  **kwargs: object) -> None:
    """Called by ``SCERCallback.on_push_begin`` (main process only writes)."""
    if not getattr(args, "should_save", True):
        return
    trainer = find_trainer(args, callback)
    if trainer is not None:
        install(trainer, callback)
    else:
        _warn_once("no-trainer", "could not find the Trainer that is pushing; the card it regenerates may lack SCER "
                   "metadata. After push_to_hub, run scer_hf.update_card(args.hub_model_id, callback.report)")
    write_card(callback, args)
