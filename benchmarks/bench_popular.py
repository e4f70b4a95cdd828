"""How many of the most downloaded text models get an answer from ``scer_hf.rate`` offline.

    python benchmarks/bench_popular.py [--list]

The ids are ``tests/popular_models.py`` (120 text-generation / text2text-generation models from a public download
ranking; source and rule in that file). Each model is rated with ``hub=False`` (no network). A phase's answer is:

* ``published``: the model's own figure from the reference data (a family total counts, it is published);
* ``inherited``: training rated through the base model (a fine-tune or a quantized copy);
* ``twin``: inference from an architecture twin's published figure;
* ``quantized base``: inference of the unquantized model a quantized copy was made from (labelled, not rated);
* ``modelled``: a modelled inference range (only shown when it narrows the answer);
* ``none``: no figure.

A model is *answered* when either phase has one of the first five. The script runs against whatever ``scer_hf`` is
importable, so ``PYTHONPATH=<old checkout> python benchmarks/bench_popular.py`` measures an older version.
"""

from __future__ import annotations

import collections
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

KINDS = ("published", "inherited", "twin", "quantized base", "modelled")


def kind(pr) -> str:  # noqa: ANN001 - a PhaseRating of any scer_hf version
    if not pr.available:
        return "none"
    basis = getattr(pr, "basis", None)
    if basis == "inherited":
        return "inherited"
    if basis == "twin":
        return "twin"
    if basis == "quantized":
        return "quantized base"
    if str(pr.method or "").startswith("modelled"):
        return "modelled"
    if basis is None and (pr.method or "").startswith(("published", "derived")):
        return "published"
    return "other"


def classify(ids: list[str]) -> list[tuple[str, str, str]]:
    from scer_hf import rate

    out = []
    for mid in ids:
        r = rate(mid, hub=False)
        out.append((mid, kind(r.training), kind(r.inference)))
    return out


def main() -> None:
    from tests.popular_models import IDS, SOURCE

    rows = classify(IDS)
    answered = [m for m, t, i in rows if t in KINDS or i in KINDS]
    import scer_hf

    print(f"scer_hf from {Path(scer_hf.__file__).parent}")
    print(f"{len(answered)} of {len(rows)} popular text models answered offline ({len(answered) / len(rows):.0%}); "
          f"ids: {SOURCE}")
    for phase, col in (("training", 1), ("inference", 2)):
        c = collections.Counter(r[col] for r in rows)
        print(f"  {phase:<9}: " + ", ".join(f"{k} {c[k]}" for k in (*KINDS, "other", "none") if c[k]))
    if "--list" in sys.argv:
        for m, t, i in rows:
            print(f"  {m:<62} training {t:<15} inference {i}")


if __name__ == "__main__":
    main()
