"""``scer-hf demo OUT_DIR``: the whole journey offline on an embedded tiny model."""

from __future__ import annotations

import click

from ._common import emit, fact_lines, handle_errors, json_option


@click.command("demo")
@click.argument("out_dir", type=click.Path(file_okay=False), default="scer-demo")
@click.option("--country", default="FRA", show_default=True, help="ISO alpha-3 code for grid intensity.")
@click.option("--epochs", type=click.IntRange(min=1), default=2, show_default=True,
              help="Training epochs on the tiny model.")
@click.option("--queries", type=click.IntRange(min=1), default=40, show_default=True, help="Benchmark query cap.")
@click.option("--overwrite", is_flag=True, help="Replace files a previous demo (or you) left in OUT_DIR.")
@json_option
@handle_errors
def command(out_dir: str, country: str, epochs: int, queries: int, overwrite: bool, as_json: bool) -> None:
    """Train with SCERCallback, benchmark, rate, and write labels, card and HTML reports into OUT_DIR.

    Runs offline on a tiny GPT-2 built from a config (random weights); needs scer-hf[hf].
    """
    import logging
    import os
    import warnings
    from pathlib import Path

    from ..hf.demo import _check_outputs

    _check_outputs(Path(out_dir), overwrite)  # before importing transformers or anything else runs

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", module="transformers")
    logging.getLogger("transformers").setLevel(logging.ERROR)
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    from ..core import fmt
    from ..hf.demo import run_demo

    s = run_demo(out_dir, country=country, epochs=epochs, queries=queries, progress=not as_json,
                 overwrite=overwrite)

    def text() -> str:
        lines = [f"scer-hf demo written to {s['out_dir']}"]
        for b in ("training", "inference"):
            x = s[b]
            lines.append(b)
            queries = f" over {fmt.count(x['queries'])} queries" if x.get("queries") else ""
            energy = fmt.energy(x["energy_j"]) + queries
            lines.append(f"  energy        : {energy}")
            lines.append(f"  CO2eq         : {fmt.co2e(x['co2e_g'])} operational")
            sd = x["sci_display"]
            lines.append(f"  SCI           : {sd['text'] if sd else 'not computed'}")
            if x.get("comparable") is False:  # no grade, no stars; the position is in the HTML report
                lines.append("  rating        : not rated: not comparable with the reference")
                lines += [f"  why           : {why}" for why in x.get("not_comparable") or []]
            else:
                lines.append(f"  rating        : grade {x.get('grade') or 'none'}"
                             + (f", {x['stars']} of 5 stars" if x.get("stars") else ""))
            lines += fact_lines([f for f in x.get("facts", []) if f["key"] != "date"])
        lines += ["check it", f"  every file    : scer-hf verify {s['out_dir']}",
                  f"  the card      : scer-hf verify {s['out_dir']}/model/README.md", "files"]
        return "\n".join(lines + [f"  {f}" for f in s["files"]])

    emit(s, as_json, text)
