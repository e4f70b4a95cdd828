"""Many threads on one tracked pipeline and one tracked model (issue 22): exact per-call counts, per-call energies
that add up to the meter's energy over the union of the calls' windows, and two wrappers that never double count.

The meter is a constant 100 W (real clock), so the meter's energy over any set of windows is 100 W x the length
of their union, and the calls' windows are where the meter was read (the first read of a call to its last).
"""

from __future__ import annotations

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import pytest

pytest.importorskip("transformers")

import scer_hf
from scer_hf.core.attribution import union_s as _union_s
from tests.builders import const_gpu_meter

WATTS = 100.0
PROMPTS = ["Hello there", "The sky is", "Once upon a time", "Energy is measured per phase", "A", "Why"]


@pytest.fixture(scope="module")
def pipe(gpt2: str) -> Any:
    from transformers import pipeline

    return pipeline("text-generation", model=gpt2)


def job(i: int) -> tuple[list[str], int]:
    """Call *i*: 1-3 prompts and 2-5 new tokens (min = max, so every row makes exactly that many)."""
    rows = 1 + i % 3
    return [PROMPTS[(i + k) % len(PROMPTS)] for k in range(rows)], 2 + i % 4


def run_threads(n_threads: int, n_calls: int, fn: Callable[[int], Any]) -> list[Any]:
    start = threading.Barrier(n_threads)

    def worker(t: int) -> list[Any]:
        start.wait()
        return [fn(i) for i in range(t, n_calls, n_threads)]

    with ThreadPoolExecutor(n_threads) as ex:
        return [r for rs in ex.map(worker, range(n_threads)) for r in rs]


def check_energy(calls: list[dict[str, Any]], top: str = "generate") -> float:
    """The sum of per-call energies equals the meter's energy over the union of the calls' windows (1 %)."""
    ms = [c[top] for c in calls]
    assert all(m.measured for m in ms)
    paid = sum(m.total_energy_j for m in ms)
    union = _union_s([(m.start_s, m.end_s) for m in ms])
    overlap = sum(m.duration_s for m in ms) / union
    assert paid == pytest.approx(WATTS * union, rel=0.01), (paid, WATTS * union)
    return overlap


def expected_counts(tok: Any, prompts: list[str], new: int) -> dict[str, int]:
    n_in = sum(len(tok(p)["input_ids"]) for p in prompts)
    return {"queries": len(prompts), "input_tokens": n_in, "output_tokens": new * len(prompts)}


@pytest.mark.slow
@pytest.mark.parametrize("n_threads,n_calls", [(8, 32), (32, 64)])
def test_threads_on_one_tracked_pipeline(pipe: Any, n_threads: int, n_calls: int) -> None:
    tp = scer_hf.track_pipeline(pipe, meters=[const_gpu_meter()])
    got: list[dict[str, Any]] = []
    tp.on_call = got.append
    kw = {"do_sample": False, "batch_size": 3}
    bare = {i: pipe(job(i)[0], max_new_tokens=job(i)[1], min_new_tokens=job(i)[1], **kw) for i in range(n_calls)}

    def call(i: int) -> tuple[int, Any, dict[str, int]]:
        prompts, new = job(i)
        out = tp(prompts, max_new_tokens=new, min_new_tokens=new, **kw)
        c = tp.last_call["generate"].counts  # this thread's latest call: its own
        return i, out, {k: int(c[k]) for k in ("queries", "input_tokens", "output_tokens")}

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no measurement warning: every call measured
        results = run_threads(n_threads, n_calls, call)
    assert len(results) == n_calls == tp.calls == len(got)
    for i, out, counts in results:
        assert out == bare[i]  # outputs untouched
        assert counts == expected_counts(tp.tokenizer, *job(i))  # exact, this call's own
    overlap = check_energy(got)
    assert overlap > 1.5  # the calls really overlapped
    r = tp.report
    g = r.phase("generate")
    want = [expected_counts(tp.tokenizer, *job(i)) for i in range(n_calls)]
    assert g["counts"]["queries"] == sum(w["queries"] for w in want)
    assert g["counts"]["output_tokens"] == sum(w["output_tokens"] for w in want)
    assert r.energy_j == pytest.approx(sum(c["generate"].total_energy_j for c in got), rel=1e-9)
    assert r.phase("prefill")["energy_j"]["total"] + r.phase("decode")["energy_j"]["total"] == pytest.approx(
        g["energy_j"]["total"], rel=1e-9)
    assert "generate" not in vars(pipe.model)  # the hook left with the last call


@pytest.mark.slow
def test_two_wrappers_on_one_pipeline_do_not_double_count(pipe: Any) -> None:
    meter = const_gpu_meter()
    t1, t2 = scer_hf.track_pipeline(pipe, meters=[meter]), scer_hf.track_pipeline(pipe, meters=[meter])
    got: list[dict[str, Any]] = []
    t1.on_call = t2.on_call = got.append

    def call(i: int) -> Any:
        prompts, new = job(i)
        return (t1 if i % 2 else t2)(prompts, max_new_tokens=new, min_new_tokens=new, do_sample=False)

    run_threads(8, 24, call)
    assert t1.calls == t2.calls == 12
    check_energy(got)  # together: the meter's energy over the union, once
    union = _union_s([(c["generate"].start_s, c["generate"].end_s) for c in got])
    assert t1.report.energy_j + t2.report.energy_j == pytest.approx(WATTS * union, rel=0.01)


def test_wrappers_with_default_meters_share_one_reader(pipe: Any) -> None:
    t1, t2 = scer_hf.track_pipeline(pipe), scer_hf.track_pipeline(pipe)
    try:
        assert [s.key for s in t1.tracker.shared] == [s.key for s in t2.tracker.shared]
        assert all(a is b for a, b in zip(t1.tracker.shared, t2.tracker.shared))
    finally:
        t1.close()
        t2.close()


@pytest.mark.slow
@pytest.mark.parametrize("n_threads,n_calls", [(8, 32), (32, 64)])
def test_threads_on_one_tracked_model(gpt2: str, n_threads: int, n_calls: int) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(gpt2).eval()
    tok = AutoTokenizer.from_pretrained(gpt2)
    tok.padding_side = "left"
    tm = scer_hf.track_model(model, meters=[const_gpu_meter()])
    got: list[dict[str, Any]] = []
    tm.on_call = got.append

    def inputs(i: int) -> tuple[dict[str, Any], int]:
        prompts, new = job(i)
        return dict(tok(prompts, return_tensors="pt", padding=True)), new

    def gen(m: Any, i: int) -> Any:
        enc, new = inputs(i)
        with torch.no_grad():
            return m.generate(**enc, max_new_tokens=new, min_new_tokens=new, do_sample=False,
                              pad_token_id=tok.eos_token_id)

    bare = {i: gen(model, i) for i in range(n_calls)}

    def call(i: int) -> tuple[int, Any, Any]:
        out = gen(tm, i)
        return i, out, tm.last_call["generate"].counts

    results = run_threads(n_threads, n_calls, call)
    for i, out, c in results:
        assert torch.equal(out, bare[i])
        assert {k: int(c[k]) for k in ("queries", "input_tokens", "output_tokens")} == \
            expected_counts(tok, *job(i))
    assert tm.calls == n_calls
    assert check_energy(got) > 1.5
    assert "generate" not in vars(model)


@pytest.mark.slow
def test_an_untracked_generation_in_another_thread_is_not_counted(pipe: Any) -> None:
    """The issue's leak: other threads' generations passed through the open call's hook and were counted in it."""
    tp = scer_hf.track_pipeline(pipe, meters=[const_gpu_meter()])
    stop = threading.Event()

    def bare_loop() -> int:
        n = 0
        while not stop.is_set():  # the bare model, from another thread, while tracked calls run
            pipe.model.generate(**pipe.tokenizer("Hi there", return_tensors="pt"), max_new_tokens=3,
                                do_sample=False, pad_token_id=0)
            n += 1
        return n

    with ThreadPoolExecutor(1) as ex:
        fut = ex.submit(bare_loop)
        for _ in range(6):
            tp("The sky is", max_new_tokens=4, min_new_tokens=4, do_sample=False)
            assert tp.last_call["generate"].counts["output_tokens"] == 4
            assert tp.last_call["generate"].counts["queries"] == 1
        stop.set()
        assert fut.result() > 0
