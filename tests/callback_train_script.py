"""Subprocess training for tests/test_callback.py (interruption and distributed runs).

usage: python tests/callback_train_script.py MODEL_DIR OUTPUT_DIR MAX_STEPS
   or: python -m torch.distributed.run --nproc_per_node 2 tests/callback_train_script.py MODEL_DIR OUTPUT_DIR MAX_STEPS

Meters are replayed constant power traces so expected energy is exact: every rank
has a 50 W "gpu:<local_rank>"; the host ("cpu:0", 20 W) exists only where the
callback asks for host meters (local rank 0). Writes OUTPUT_DIR/done.<rank> (tokens seen)
and, on rank 0, OUTPUT_DIR/log_history.json at the end. SCER_TEST_RAISE_AT=N makes another
callback raise at step N (an uncaught crash).

Meter faults (issue 19), on the rank SCER_TEST_FAIL_RANK (default 0):
SCER_TEST_FAIL=setup   the meter factory raises;
SCER_TEST_FAIL=midrun  the GPU meter raises on every read from its 6th on (it dies);
SCER_TEST_FAIL=hang    the GPU meter's 6th read never returns (a hung driver).
SCER_TEST_FAIL="1:setup,3:midrun" gives each listed rank its own fault.
SCER_TEST_LOG_STEPS=N  log every N steps (default 1).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import transformers as tf
from datasets import Dataset

from scer_hf.hf.tiny import prompt_texts
from scer_hf.hf.callback import SCERCallback
from scer_hf.core.meters import ReplayMeter

GPU_W, HOST_W = 50.0, 20.0


class FaultyGpu(ReplayMeter):
    """The constant 50 W trace, failing as SCER_TEST_FAIL says from its 6th read on."""

    blocking = True  # read under the guard's deadline, in its thread, like a real driver

    def __init__(self, local: int, mode: str) -> None:
        super().__init__({f"gpu:{local}": [(0.0, GPU_W)]}, source="constant 50 W test trace")
        self.mode, self.n = mode, 0

    def read(self):  # noqa: ANN201
        self.n += 1
        if self.n >= 6 and self.mode == "midrun":
            raise RuntimeError("GPU fell off the bus")
        if self.n == 6 and self.mode == "hang":
            threading.Event().wait()  # never returns
        return super().read()


def meters(gpu_indices, measure_host):  # noqa: ANN001 - the SCERCallback factory signature
    local = int(os.environ.get("LOCAL_RANK", "0"))
    rank = int(os.environ.get("RANK", "0"))
    spec = os.environ.get("SCER_TEST_FAIL", "")
    if ":" in spec:
        mode = dict(x.split(":", 1) for x in spec.split(",")).get(str(rank), "")
    else:
        mode = spec if rank == int(os.environ.get("SCER_TEST_FAIL_RANK", "0")) else ""
    if mode == "setup":
        raise RuntimeError(f"NVML init failed on rank {rank}")
    gpu = FaultyGpu(local, mode) if mode else ReplayMeter({f"gpu:{local}": [(0.0, GPU_W)]},
                                                          source="constant 50 W test trace")
    out = [gpu]
    if measure_host:
        out.append(ReplayMeter({"cpu:0": [(0.0, HOST_W)]}, source="constant 20 W test trace"))
    return out


def main() -> None:
    model_dir, out_dir, max_steps = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"pid.{os.environ.get('RANK', '0')}").write_text(str(os.getpid()))  # tests that kill a job kill these
    tok = tf.AutoTokenizer.from_pretrained(model_dir)
    model = tf.AutoModelForCausalLM.from_pretrained(model_dir)
    enc = tok(prompt_texts(32), truncation=True, max_length=24)
    ds = Dataset.from_dict(dict(enc))
    args = tf.TrainingArguments(
        str(out_dir), use_cpu=True, report_to=[], max_steps=max_steps, per_device_train_batch_size=4,
        logging_steps=int(os.environ.get("SCER_TEST_LOG_STEPS", "1")), save_strategy="no", disable_tqdm=True,
        ddp_backend="gloo" if "LOCAL_RANK" in os.environ else None,
    )
    cb = SCERCallback(carbon_intensity_g_per_kwh=100.0, meters=meters, flush_every_s=0)
    callbacks: list = [cb]
    raise_at = int(os.environ.get("SCER_TEST_RAISE_AT", "0"))  # crash the run at this step (uncaught)
    if raise_at:
        class Crash(tf.TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
                if state.global_step == raise_at:
                    raise RuntimeError(f"crash at step {raise_at}")

        callbacks.append(Crash())
    trainer = tf.Trainer(model=model, args=args, train_dataset=ds,
                         data_collator=tf.DataCollatorForLanguageModeling(tok, mlm=False), callbacks=callbacks)
    trainer.train()
    (out_dir / f"done.{args.process_index}").write_text(str(trainer.state.num_input_tokens_seen))
    if args.process_index == 0:
        (out_dir / "log_history.json").write_text(json.dumps(trainer.state.log_history))
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
        # torch's gloo teardown at interpreter exit can abort ("terminate called without an active exception")
        # or hang on a loaded 2-core machine; everything is written, so leave without finalisers
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
