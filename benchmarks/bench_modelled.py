"""Leave-one-out validation of the modelled inference ranges (scer_hf.rating.modelled).

    python benchmarks/bench_modelled.py

Per AI Energy Score v1 task (text generation per regime: weights that fit one 80 GB GPU, or not): the published
figures that have an indexed parameter count (data/model_parameters.csv; how many are [nominal], read from the model
id), the coverage of the interval when each one is left out and predicted from the others (the fit and its
leave-one-out errors recomputed without it), the median absolute log10 error, the median interval width in decades
(log10(high / low)) and in AI Energy Score star classes, and how many of the left-out figures would be shown (the
interval spans at most MAX_STAR_CLASSES star classes). A task is modelled only with >= MIN_POINTS figures and a
coverage inside COVERAGE_OK; the last column says which.

A second table compares, for text generation (the only task whose published rows give tokens), the per-query fit
with the per-output-token model of scer_hf.rating.pertoken: "transferred" (J per token fitted on the rows that
publish it, times the protocol's 10 output tokens, its 95 % prediction interval; every AI Energy Score figure is held
out) and "calibrated" (the per-token slope, the intercept and local interval from the AI Energy Score figures,
leave-one-out).
"""

from __future__ import annotations

from scer_hf.rating import modelled as m
from scer_hf.rating import pertoken as t

TASKS = ("text_generation", "summarization", "extractive_question_answering", "binary_text_classification",
         "semantic_sentence_similarity", "automatic_speech_recognition", "image_classification",
         "object_detection", "image_generation", "image_captioning")


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def main() -> None:
    print(f"{'task':<31} {'regime':<29} {'n':>3} {'nominal':>7} {'coverage':>8} {'med|err|':>8} {'width dex':>9} "
          f"{'stars':>5} {'shown':>6}  modelled")
    for task in TASKS:
        for regime in ((m.SINGLE, m.BEYOND) if task == "text_generation" else (m.ALL,)):
            r = m.leave_one_out(task, regime)
            ok, _why = m.modellable(task, regime)
            nominal = sum(p["nominal"] for p in m.published_points(task, regime))
            shown = f"{r['useful']}/{r['of']}" if r["of"] else "-"
            print(f"{task:<31} {regime:<29} {r['n']:>3} {nominal:>7} {_fmt(r['coverage'], '.0%'):>8} "
                  f"{_fmt(r['median_abs_log10_error'], '.3f'):>8} {_fmt(r['median_width_dex'], '.2f'):>9} "
                  f"{_fmt(r['median_star_classes'], 'g'):>5} {shown:>6}  {'yes' if ok else 'no'}")
    compare()


def _row(name: str, regime: str, r: dict) -> str:
    shown = f"{r['useful']}/{r['of']}" if r["of"] else "-"
    return (f"{name:<24} {regime:<29} {r['n']:>3} {_fmt(r['coverage'], '.0%'):>8} "
            f"{_fmt(r['median_abs_log10_error'], '.3f'):>8} {_fmt(r['median_width_dex'], '.2f'):>9} "
            f"{_fmt(r['median_star_classes'], 'g'):>5} {shown:>6}")


def compare() -> None:
    f = t.token_fit()
    pts = t.token_points()
    print(f"\nper output token: {len(pts)} rows publish J per token at batch size 1 "
          f"({len({p['params_b'] for p in pts})} distinct sizes, {min(p['params_b'] for p in pts):g}-"
          f"{max(p['params_b'] for p in pts):g}B); slope {f.slope:.3f} (per query: "
          f"{m.model_for('text_generation', m.SINGLE).fit.slope:.3f}); x {t.OUTPUT_TOKENS['text_generation']} "
          "output tokens per query")
    print(f"{'model':<24} {'regime':<29} {'n':>3} {'coverage':>8} {'med|err|':>8} {'width dex':>9} {'stars':>5} "
          f"{'shown':>6}")
    for regime in (m.SINGLE, m.BEYOND):
        print(_row("per query (used)", regime, m.leave_one_out("text_generation", regime)))
        print(_row("per token, transferred", regime, t.transfer_check("text_generation", regime)))
        print(_row("per token, calibrated", regime, t.calibrated_leave_one_out("text_generation", regime)))


if __name__ == "__main__":
    main()
