"""``scer_hf.update_card``: write SCER figures into a Hugging Face model card.

>>> update_card("out/", "out/scer_report.json")             # out/README.md (created if missing)
>>> update_card("org/model", report, create_pr=True)       # read, edit, push to the Hub

What is written (see :mod:`scer_hf.publish.card.content`): ``co2_eq_emissions`` (training
reports only, grams, the Hub's field), a namespaced ``scer`` block (both phases,
ratings, report digest), the tag ``scer``, and a markdown section between
``<!-- scer-hf:start -->`` / ``<!-- scer-hf:end -->``. Everything else in the card is
kept byte for byte (see :mod:`scer_hf.publish.card.splice` for how). Re-running with the
same report gives byte-identical output; a ``co2_eq_emissions`` scer-hf did not write
is only replaced with ``overwrite=True``.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ... import _read
from ..._io import atomic_write_text, file_lock, refuse_overwrite
from ...core.report import Report, load_report
from ...core.report_files import input_paths
from ...errors import CardError, SCERError
from ...rating.result import Rating
from ..inputs import rating_of
from . import content as _c
from . import hub as _hub
from .entry import Co2Entry
from .meta import CardMeta
from .splice import (
    REMOVE,
    SplitCard,
    occurrences,
    put_section,
    same_value,
    splice_front_matter,
    split_card,
)

__all__ = ["CardResult", "edit_card_text", "is_repo_id", "update_card"]

_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")
DEFAULT_COMMIT_MESSAGE = "Add SCER carbon-efficiency metadata (scer-hf)"


@dataclass(frozen=True)
class CardResult:
    """What :func:`update_card` did. ``content`` is the new card text."""

    target: str
    changed: bool
    path: Path | None = None
    repo_id: str | None = None
    pushed: bool = False
    commit_url: str | None = None
    pr_url: str | None = None
    url: str | None = None
    content: str = field(default="", repr=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("content")
        d["path"] = str(self.path) if self.path else None
        return d


def is_repo_id(target: str | os.PathLike[str]) -> bool:
    """True when *target* means a Hub repo: ``hf://x/y``, or ``namespace/name`` that is not a local path."""
    if isinstance(target, os.PathLike):
        return False
    s = str(target)
    if s.startswith("hf://"):
        return True
    if Path(s).exists() or s.endswith((".md", "/", os.sep)) or s.startswith((".", "/", "~")) or "\\" in s:
        return False
    return _REPO_ID.fullmatch(s) is not None and ".." not in s


def _label_candidates(label_path: str | None, boundary: str) -> list[str]:
    """``scer_label_<boundary>.svg`` before ``scer_label.svg``: each section shows its own boundary's label."""
    if not label_path:
        return []
    stem, dot, ext = str(label_path).rpartition(".")
    own = f"{stem}_{boundary}.{ext}" if dot and not stem.endswith(f"_{boundary}") else None
    return [own, str(label_path)] if own else [str(label_path)]


def _svg_digest(raw: bytes) -> str | None:
    """The report digest a scer-hf label embeds, or None (not a scer-hf label)."""
    m = re.search(rb'<metadata id="scer-label-data">(.*?)</metadata>', raw, re.S)
    if not m:
        return None
    try:
        meta = json.loads(html.unescape(m.group(1).decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return meta.get("digest") if isinstance(meta, dict) else None


def _label_ref(label_path: str | None, report: Report, folder: Path | None = None,
               files: set[str] | None = None) -> str | None:
    """The label the report's section shows: a URL as given, else a file the card has (beside it / in the repo).

    A local scer-hf label made from another report (e.g. the inference label next to a training card) is skipped.
    """
    if label_path and _is_url(str(label_path)):
        return str(label_path)
    return next((n for n in _label_candidates(label_path, report.boundary) if _has_label(n, report, folder, files)),
                None)


def _is_url(ref: str) -> bool:
    return re.match(r"https?://", ref) is not None


def _has_label(name: str, report: Report, folder: Path | None, files: set[str] | None) -> bool:
    """Whether the card has label *name* to show: a file beside a local card (made from this report), or a file
    of the repo."""
    if folder is not None and (folder / name).is_file():
        return _shows_this_report(folder / name, report)
    return files is not None and name in files


def _shows_this_report(path: Path, report: Report) -> bool:
    """Whether a label file beside the card may be shown for *report*: readable, and not an scer-hf label made
    from another report (a label without our digest is the user's, shown as given)."""
    try:
        raw = _read.read_bytes(path, what="label", error=CardError)
    except CardError:  # not a regular file, or too large: not a label to show
        return False
    digest = _svg_digest(raw) if path.name.lower().endswith(".svg") else None
    return digest is None or digest == report.digest()


def _manifest_ref(report: Report, folder: Path) -> str | None:
    """The report file beside a local card that holds exactly this report (the card then links it)."""
    from ...core.report_files import report_paths

    for p in report_paths(folder):
        try:
            if Report.load(p).digest() == report.digest():
                return p.name
        except SCERError:
            continue
    return None


def edit_card_text(text: str, report: Report, rating: Rating | Mapping[str, Any] | None = None, *,
                   overwrite: bool = False, label: str | None = None, manifest: str | None = None) -> str:
    """The card *text* with SCER metadata and section (pure function, no I/O).

    *label* (an image path relative to the card, or a URL) and *manifest* (the report file beside the
    card) are recorded in ``scer.<boundary>`` and shown in that boundary's section only.
    """
    if "\r" in text and "\n" not in text:
        raise CardError("the card uses CR-only line endings (classic Mac); the Hub finds no YAML metadata in such a "
                        "card. Convert it to LF or CRLF line endings and re-run")
    card = split_card(text)
    meta = CardMeta.from_yaml(card.data)
    co2 = _co2_value(card, meta, report, overwrite)
    scer = _c.merge_scer(meta.scer_written, report, rating, overwrite)
    scer[report.boundary].update({k: v for k, v in (("label", label), ("manifest", manifest)) if v})
    values = _new_values(card.data, report, co2, scer)
    new_yaml = splice_front_matter(card, values, tag=_c.TAG)
    section = _c.render_section(scer, _shown_co2(meta, co2)).replace("\n", card.newline)
    new_text = card.join(new_yaml, put_section(card.body, section, card.newline))
    _check_preserved(card, new_text, values)
    return new_text


def _new_values(data: Mapping[str, Any], report: Report, co2: Any, scer: dict[str, Any]) -> dict[str, Any]:
    """The front-matter keys to write: ``co2_eq_emissions`` when it changes, ``scer``, and the lineage fields the
    card lacks (never the user's)."""
    values: dict[str, Any] = {} if co2 is None else {"co2_eq_emissions": co2}
    values["scer"] = scer
    values.update({k: v for k, v in _c.identity_entries(report).items() if k not in data})
    return values


def _shown_co2(meta: CardMeta, co2: Any) -> Any:
    """The ``co2_eq_emissions`` the section states: the card's when unchanged, none when removed, else ours."""
    if co2 is None:
        return meta.co2
    return None if co2 is REMOVE else co2


def _co2_value(card: SplitCard, meta: CardMeta, report: Report, overwrite: bool) -> Any:
    """What the card's ``co2_eq_emissions`` becomes: this training report's figure (someone else's kept unless
    *overwrite*), :data:`REMOVE` for our earlier figure when this report has none to publish, else None (unchanged).
    """
    entry = Co2Entry.of(report)
    if entry is not None:
        for old in occurrences(card, "co2_eq_emissions") or [None]:  # a duplicate key is checked too
            _c.check_co2(old, entry, overwrite)
        return entry.to_dict()
    if report.boundary == "training" and _c.is_ours_co2(meta.co2):
        return REMOVE  # our earlier figure no longer stands: this report has none to publish
    return None


def _check_preserved(old: SplitCard, new_text: str, values: Mapping[str, Any]) -> None:
    """Re-parse the result: every key we did not own must be unchanged, ours as intended."""
    new = split_card(new_text)
    problems = [] if new.has_front_matter else ["front matter not found after the edit"]
    problems += _others_kept(old.data, new.data, values)
    problems += _ours_written(new.data, values)
    problems += _tags_problems(old.data.get("tags"), new.data.get("tags"))
    extra = set(new.data) - set(old.data) - set(values) - {"tags"}
    if extra:
        problems.append(f"unexpected keys {sorted(extra)}")
    if problems:
        raise CardError("scer-hf could not edit this card without changing other metadata ("
                        + "; ".join(problems) + "); the card was left unchanged. Please report it with the card's "
                        "front matter attached")


def _others_kept(old: Mapping[str, Any], new: Mapping[str, Any], values: Mapping[str, Any]) -> list[str]:
    """Every key scer-hf does not write is unchanged."""
    return [f"key {k!r} changed" for k, v in old.items()
            if k not in values and k != "tags" and (k not in new or not same_value(v, new[k]))]


def _ours_written(new: Mapping[str, Any], values: Mapping[str, Any]) -> list[str]:
    """Every key scer-hf writes holds what it meant to write (or is gone, for :data:`REMOVE`)."""
    out = []
    for k, v in values.items():
        if v is REMOVE:
            if k in new:
                out.append(f"key {k!r} not removed")
        elif not same_value(_plain(v), new.get(k)):
            out.append(f"key {k!r} not written as intended")
    return out


def _tags_problems(old: Any, new: Any) -> list[str]:
    """``tags`` gained scer-hf's tag (a list or a single tag) or, when it is something else, is unchanged."""
    if not (old is None or isinstance(old, (list, str))):
        return [] if same_value(old, new) else ["key 'tags' changed"]
    want = list(old) if isinstance(old, list) else [old] if isinstance(old, str) else []
    if _c.TAG not in want:
        want.append(_c.TAG)
    return [] if new == want else ["tags not updated as intended"]


def _plain(v: Any) -> Any:
    return json.loads(json.dumps(v))


def _read_local(path: Path) -> str | None:
    """The card's text, or None when there is none (a regular file only, at most ``_read.LIMITS["card"]`` bytes)."""
    raw = _read.read_bytes(path, what="card", error=CardError, if_missing=None)
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CardError(f"{path} is not UTF-8 ({exc.reason} at byte {exc.start}); the Hub expects UTF-8 "
                        "model cards: re-save it as UTF-8") from None


def update_card(
    target: str | os.PathLike[str],
    report: Report | Mapping[str, Any] | str | os.PathLike[str],
    rating: Any = None,
    overwrite: bool = False,
    create_pr: bool = False,
    push: bool | str | None = None,
    token: str | None = None,
    label_path: str | None = "scer_label.svg",
    commit_message: str | None = None,
    parent_commit: str | None = None,
    *,
    endpoint: str | None = None,
    revision: str | None = None,
) -> CardResult:
    """Write the report's SCER metadata and section into a model card.

    target: a ``README.md`` path, a folder (its ``README.md``; a minimal card is created
        if there is none), or a Hub repo ``"namespace/name"`` (or ``"hf://namespace/name"``).
    report: a :class:`~scer_hf.Report`, its dict, or a path to ``scer_report.json``.
    rating: ``scer_hf.rate(...)`` result, its ``to_dict()``, or a JSON path; ``None``
        rates the report with :func:`scer_hf.rate` when available.
    push: for a Hub repo, ``None``/``True`` commits and ``False`` only computes the new
        card (``result.content``). For a local card, a repo id pushes the written
        README.md (and the label file, if present) to that repo.
    parent_commit: commit the edit only if the branch is still at this commit. For a Hub
        repo it defaults to the commit the card was read at, so a concurrent edit is
        never overwritten (HubPushError, re-run).
    label_path: the label image referenced by the report's section (relative to the card), shown
        only when that file exists next to the card / in the repo, or when it is a URL.
        ``scer_label_<boundary>.svg`` is preferred when present, and a local scer-hf label made
        from another report is never shown, so each section shows its own boundary's label.
    endpoint: Hub URL (default: ``HF_ENDPOINT`` at call time, else huggingface.co).

    A local card is edited in place: its folder must exist (nothing is created; a missing one raises
    OutputWriteError), a ``README.md`` that is a symbolic link is edited at its target and stays a link, a card
    that is a pipe or device, or is the report or rating file itself, is refused (OutputExistsError); a write the
    system refuses (read-only folder, full disk) raises OutputWriteError naming the card.

    Raises CardConflictError (different ``co2_eq_emissions`` and not ``overwrite``),
    CardError (unreadable card), HubPushError (network, 401/403, 5xx; local files are
    kept and the token is never in the message), ReportError (bad report or rating).
    """
    rep = load_report(report)
    rating_d = rating_of(rep, rating)
    message = commit_message or DEFAULT_COMMIT_MESSAGE
    if is_repo_id(target):
        return _update_remote(str(target).removeprefix("hf://"), rep, rating_d, overwrite, create_pr, push, token,
                              label_path, message, parent_commit, endpoint, revision)
    path = _card_path(target)
    refuse_overwrite(path, overwrite=True, inputs=input_paths(report, rating))  # never an input, a pipe or a device
    new, changed, label = _edit_local(path, rep, rating_d, overwrite, label_path)
    if not push:
        return CardResult(str(target), changed, path=path, content=new)
    if push is True:
        raise CardError("push=True needs a Hub repo for a local card: pass push='namespace/name' "
                        "(CLI: --push --repo namespace/name); the local card was written")
    repo_id = str(push).removeprefix("hf://")
    api = _hub.make_api(endpoint, token)
    info = _hub.commit_files(api, repo_id, _files_to_push(path, new, label), message=message, create_pr=create_pr,
                             parent_commit=parent_commit, revision=revision, token=token)
    return CardResult(str(target), changed, path=path, repo_id=repo_id, pushed=True, commit_url=info.commit_url,
                      pr_url=info.pr_url, url=f"{api.endpoint}/{repo_id}", content=new)


def _card_path(target: str | os.PathLike[str]) -> Path:
    """The local card: *target* when it names a ``.md`` file, else the ``README.md`` in it."""
    path = Path(target).expanduser()
    return path / "README.md" if path.is_dir() or path.suffix.lower() != ".md" else path


def _edit_local(path: Path, rep: Report, rating: Any, overwrite: bool,
                label_path: str | None) -> tuple[str, bool, str | None]:
    """(the new card, whether it changed, the label it shows): read, edit and write as one step under the card's
    lock, so a concurrent update of the other boundary is kept; a missing card starts from a minimal one."""
    with file_lock(path):
        original = _read_local(path)
        text = _c.minimal_card(rep.model_view.id) if original is None else original
        label = _label_ref(label_path, rep, folder=path.parent)
        new = edit_card_text(text, rep, rating, overwrite=overwrite, label=label,
                             manifest=_manifest_ref(rep, path.parent))
        changed = new != original
        if changed:  # through a symbolic link to its target; never a missing folder (OutputWriteError)
            atomic_write_text(path, new, newline="", parents=False)
    return new, changed, label


def _files_to_push(path: Path, new: str, label: str | None) -> dict[str, bytes]:
    """The card and, when it shows a label file (not a URL), that file."""
    files = {"README.md": new.encode("utf-8")}
    if label and not _is_url(label):
        files[Path(label).as_posix()] = _read.read_bytes(path.parent / label, what="label", error=CardError)
    return files


def _update_remote(repo_id: str, rep: Report, rating_d: Rating | None, overwrite: bool, create_pr: bool,
                   push: bool | str | None, token: str | None, label_path: str | None, message: str,
                   parent_commit: str | None, endpoint: str | None, revision: str | None) -> CardResult:
    if isinstance(push, str):
        raise CardError(f"target {repo_id!r} is already a Hub repo; use push=True/False, not a repo id")
    api = _hub.make_api(endpoint, token)
    text, sha, files = _hub.fetch_card(api, repo_id, revision, token)
    original = text
    if text is None:
        text = _c.minimal_card(rep.model_view.id or repo_id)
    label = _label_ref(label_path, rep, files=files)
    new = edit_card_text(text, rep, rating_d, overwrite=overwrite, label=label)
    changed = new != original
    url = f"{api.endpoint}/{repo_id}"
    if not changed or push is False:
        return CardResult(repo_id, changed, repo_id=repo_id, url=url, content=new)
    info = _hub.commit_files(api, repo_id, {"README.md": new.encode("utf-8")}, message=message,
                             create_pr=create_pr, parent_commit=parent_commit or sha, revision=revision, token=token)
    return CardResult(repo_id, True, repo_id=repo_id, pushed=True, commit_url=info.commit_url, pr_url=info.pr_url,
                      url=url, content=new)
