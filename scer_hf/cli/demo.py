"""``scer-hf demo OUT_DIR``: the whole journey offline on an embedded tiny model."""

from __future__ import annotations

import click

from ._common import emit, handle_errors, json_option


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
        t, i = s["training"], s["inference"]

        def rated(x: dict, stars: bool) -> str:
            if x.get("comparable") is False:  # no headline grade or stars: "not rated", the position in words
                why = "; ".join(x.get("not_comparable") or []) or "not comparable with the reference setting"
                return f"not rated ({why})" + (f"; {x['indicative']}" if x.get("indicative") else "")
            g = f"grade {x.get('grade') or '-'}"
            return g + (f", stars {x.get('stars') or '-'}" if stars else "")

        def sci(x: dict) -> str:
            return x["sci_display"]["text"] if x.get("sci_display") else "not computed"

        est = " (ESTIMATED: no energy counter readable here)" if t["estimated"] or i["estimated"] else ""
        lines = [
            f"scer-hf demo written to {s['out_dir']}{est}",
            f"  training : {fmt.energy(t['energy_j'])}, {fmt.co2e(t['co2e_g'])}, SCI {sci(t)}, "
            f"{rated(t, False)}",
            f"  inference: {fmt.energy(i['energy_j'])}, {fmt.co2e(i['co2e_g'])} over {fmt.count(i['queries'])} queries, "
            f"SCI {sci(i)}, "
            f"{rated(i, True)}",
            f"  check it : scer-hf verify {s['out_dir']}/model/README.md",
            "  files:",
        ] + [f"    {f}" for f in s["files"]]
        return "\n".join(lines)

    emit(s, as_json, text)
