"""Leave-one-out validation of the modelled inference ranges (scer_hf.rating.modelled).

    python benchmarks/bench_modelled.py

Per AI Energy Score v1 task: the published figures that have a sourced parameter count
(data/model_parameters.csv), the coverage of the 95 % prediction interval when each one
is left out and predicted from the others, and the median absolute log10 error of the
prediction. A task is modelled only with >= MIN_POINTS figures and a coverage inside
COVERAGE_OK; the last column says which.
"""

from __future__ import annotations

from scer_hf.rating import modelled as m

TASKS = ("text_generation", "summarization", "extractive_question_answering", "binary_text_classification",
         "semantic_sentence_similarity", "automatic_speech_recognition", "image_classification",
         "object_detection", "image_generation", "image_captioning")


def main() -> None:
    print(f"{'task':<31} {'n':>3} {'coverage 95% PI':>16} {'median |log10 err|':>19}  modelled")
    for task in TASKS:
        r = m.leave_one_out(task)
        ok, _why = m.modellable(task)
        cov = f"{r['coverage']:.1%}" if r["coverage"] is not None else "-"
        med = f"{r['median_abs_log10_error']:.3f}" if r["median_abs_log10_error"] is not None else "-"
        fit = m.fit_task(task)
        slope = f" (slope {fit.slope:.2f}, s {fit.s:.2f} dex)" if fit else ""
        print(f"{task:<31} {r['n']:>3} {cov:>16} {med:>19}  {'yes' if ok else 'no'}{slope}")


if __name__ == "__main__":
    main()
