"""``scer-hf card``: write SCER metadata into a model card (local or on the Hub), or show it.

    scer-hf card update out/ --report out/scer_report.json
    scer-hf card update out/ --report r.json --push --repo org/model [--create-pr]
    scer-hf card update org/model --report r.json            # dry run: what would change
    scer-hf card update org/model --report r.json --push     # commit it
    scer-hf card show out/README.md

The token comes from ``HF_TOKEN`` or ``hf auth login`` (never a command-line flag, so
it does not end up in shell history); the Hub URL from ``HF_ENDPOINT``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

from .. import _read
from ..core import fmt
from ..core.bounds import EMISSIONS_G, within
from ..errors import CardError, HubReadError
from ..publish.card.meta import BOUNDARIES, CardBoundary, CardMeta, CardRating
from ._common import emit, handle_errors, json_option

__all__ = ["command"]


@click.group("card")
def command() -> None:
    """Write SCER metadata into a model card (local or on the Hub), or show it."""


def _default_report(target: str) -> str:
    p = Path(target)
    folder = p if p.is_dir() else p.parent
    cand = folder / "scer_report.json"
    if cand.is_file():
        return str(cand)
    raise CardError("no --report given and no scer_report.json next to the card; pass --report scer_report.json")


def _finite(x: Any) -> Any:
    """*x* with every NaN or infinity (YAML ``.nan``, ``.inf``) as None: the JSON printed is valid JSON."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    return x


def _num(x: Any) -> str:
    """3 significant digits for people (scer_hf.core.fmt); the card and --json keep the exact value."""
    return fmt.num(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else str(x)


@command.command("update")
@click.argument("target")
@click.option("--report", "report_path", type=click.Path(dir_okay=True), default=None,
              help="scer_report.json (default: next to a local card).")
@click.option("--rating", "rating_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Rating JSON (`scer-hf rate --json`); default: rate the report.")
@click.option("--push", is_flag=True, help="Commit to the Hub (a repo TARGET, or --repo for a local card).")
@click.option("--repo", default=None, help="Hub repo to push a local card to (namespace/name).")
@click.option("--overwrite", is_flag=True, help="Replace a co2_eq_emissions/scer block scer-hf did not write.")
@click.option("--create-pr", is_flag=True, help="Open a pull request instead of committing to the branch.")
@click.option("--label", "label_path", default="scer_label.svg", show_default=True,
              help="Label image the section shows (if it exists next to the card / in the repo); '' for none.")
@click.option("--message", "commit_message", default=None, help="Commit message.")
@click.option("--parent-commit", default=None, help="Commit only if the branch is still at this commit.")
@json_option
@handle_errors
def update(target: str, report_path: str | None, rating_path: str | None, push: bool, repo: str | None,
           overwrite: bool, create_pr: bool, label_path: str, commit_message: str | None,
           parent_commit: str | None, as_json: bool) -> None:
    """Add or refresh the SCER metadata and section of TARGET (README.md, folder, or namespace/name)."""
    from ..publish.card import is_repo_id, update_card

    remote = is_repo_id(target)
    if not remote:  # a mistyped folder or repo id must not quietly become a new folder with a new card
        t = Path(target).expanduser()
        folder = t.parent if t.suffix.lower() == ".md" and not t.is_dir() else t
        if not folder.is_dir():
            raise CardError(f"no folder {str(folder)!r}: give an existing model folder or its README.md, or a Hub "
                            "repo id namespace/name")
    if repo and remote:
        raise click.UsageError("--repo is for local cards; TARGET is already a Hub repo")
    if push and not remote and not repo:
        raise click.UsageError("--push with a local card needs --repo namespace/name")
    if create_pr and not push:
        raise click.UsageError("--create-pr needs --push")
    report = report_path or _default_report(target)
    push_arg: bool | str | None = (repo if push and not remote else push)
    res = update_card(target, report, rating=rating_path, overwrite=overwrite, create_pr=create_pr,
                      push=push_arg, label_path=label_path or None, commit_message=commit_message,
                      parent_commit=parent_commit)
    dry_run = remote and not push
    d = {**res.to_dict(), "dry_run": dry_run}

    def text() -> str:
        where = str(res.path) if res.path else res.repo_id
        lines = [f"{where}: {'updated' if res.changed else 'already up to date'}"]
        if dry_run and res.changed:
            lines.append("dry run: nothing was pushed; add --push to commit (or --push --create-pr)")
        if res.pr_url:
            lines.append(f"pull request: {res.pr_url}")
        elif res.commit_url:
            lines.append(f"commit: {res.commit_url}")
        return "\n".join(lines)

    emit(d, as_json, text)


@command.command("show")
@click.argument("target")
@json_option
@handle_errors
def show(target: str, as_json: bool) -> None:
    """Print the SCER metadata (co2_eq_emissions, scer block) of a card."""
    from ..publish.card import hub, is_repo_id
    from ..publish.card.splice import split_card

    if is_repo_id(target):
        repo_id = target.removeprefix("hf://")
        text, _, _ = hub.fetch_card(hub.make_api(None, None), repo_id, None, None, error=HubReadError)
        if text is None:
            raise CardError(f"{repo_id} has no README.md")
    else:
        p = Path(target)
        p = p / "README.md" if p.is_dir() else p
        text = _read.read_text(p, what="model card", error=CardError, if_missing=None)  # regular file, size cap
        if text is None:
            raise CardError(f"no model card at {str(p)!r}: give a README.md, its folder, or a Hub repo id "
                            "namespace/name")
    meta = CardMeta.from_yaml(split_card(text).data)
    g = meta.co2_emissions
    refused = ([f"co2_eq_emissions ({str(g)[:40]}) is outside the plausible range {EMISSIONS_G.describe()}"]
               if g is not None and not within(EMISSIONS_G, g) else [])  # card metadata is outside input
    out: dict[str, Any] = {"co2_eq_emissions": None if refused else _finite(meta.co2),
                           "scer": _finite(meta.scer_written), "tagged": meta.tagged}
    if refused:  # shown only when plausible
        out.update(refused=refused)
    shown = CardMeta.from_yaml(out)  # what is printed: NaN and infinity read as None, a refused figure as none
    emit(out, as_json, lambda: _human(shown, refused))


def _human(card: CardMeta, refused: list[str]) -> str:
    """``card show`` for people: the Hub figure, then each boundary's figures and rating."""
    scer = card.scer
    if scer is None or not scer.written:
        return "no SCER metadata in this card; add it with `scer-hf card update`"
    lines = [f"refused: {r}" for r in refused]
    if card.co2 is not None:
        g = card.co2_emissions
        lines.append(f"co2_eq_emissions: {fmt.co2e(g) if isinstance(g, (int, float)) else g}")
    for b in BOUNDARIES:
        e = scer.boundary(b)
        if e is not None:
            lines += _boundary_lines(b, e)
        lines += _rating_lines(scer.ratings.get(b))
    return "\n".join(lines)


def _boundary_lines(b: str, e: CardBoundary) -> list[str]:
    sci = e.sci
    if sci is not None and "shown_unit" in sci.keys:
        shown = f"{_num(sci.shown_value)} {sci.shown_unit}"
    else:  # cards before shown_unit
        unit = sci.unit if sci is not None and "unit" in sci.keys else ""
        shown = f"{_num(sci.value if sci is not None else None)} {unit}"
    return [f"{b}: {fmt.energy(e.energy_j)}, {fmt.co2e(e.co2e_g)}, SCI {shown}",
            f"  report digest: {e.report_digest}"]


def _rating_lines(r: CardRating | None) -> list[str]:
    if r is not None and r.grade:
        return [f"  rating: SCER {r.grade}, percentile {_num(r.percentile)} of {r.peers} references"]
    if r is not None and r.comparable is False:
        return ["  rating: not rated: not comparable with the reference"]
    return []
