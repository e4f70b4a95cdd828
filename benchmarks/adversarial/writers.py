"""Library writers (``write_html_report``, ``save_label``, ``update_card``, ``Report.save``) on hostile paths."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
from pathlib import Path
from typing import Any, Callable, Iterator

from common import Case, Outcome, basic, fifo, read_only, release_fifos, report_file


@contextlib.contextmanager
def disk_full(limit: int = 512) -> Iterator[None]:
    """Writes past *limit* bytes fail with EFBIG, as on a full disk (RLIMIT_FSIZE; SIGXFSZ ignored)."""
    old_sig = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_sig)


def cases(tmp: Path) -> list[Case]:
    from scer_hf import Report
    from scer_hf.publish.card import update_card
    from scer_hf.publish.html import write_html_report
    from scer_hf.publish.label import save_label

    out: list[Case] = []
    n = [0]

    def fresh() -> Path:
        n[0] += 1
        d = tmp / f"w{n[0]}"
        d.mkdir()
        return d

    def refused_and_kept(path: Path, before: bytes | None) -> Callable[[Outcome], str | None]:
        def check(o: Outcome) -> str | None:
            why = basic(o)
            if why:
                return why
            if o.kind != "typed":
                return "wrote without asking" if before is not None else "accepted (expected a typed error)"
            if before is not None and path.read_bytes() != before:
                return "the file was changed"
            return None
        return check

    def refused_no_folder(folder: Path) -> Callable[[Outcome], str | None]:
        def check(o: Outcome) -> str | None:
            why = basic(o)
            if why:
                return why
            if folder.exists():
                return f"created the missing folder {folder}"
            return None if o.kind == "typed" else "accepted (expected a typed error)"
        return check

    def typed_naming(path: Path) -> Callable[[Outcome], str | None]:
        def check(o: Outcome) -> str | None:
            why = basic(o)
            if why:
                return why
            if o.kind != "typed":
                return "accepted" if o.kind == "ok" else f"{o.kind}"
            return None if str(path) in str(o.exc) else "the error does not name the path"
        return check

    # -- overwrite of a user's file, and of an input ---------------------------------------------------
    for name, write in (("write_html_report", lambda r, p: write_html_report(r, p, auto_rate=False)),
                        ("save_label", lambda r, p: save_label(p, r, auto_rate=False))):
        ext = ".html" if name == "write_html_report" else ".svg"
        d = fresh()
        rep = report_file(d)
        user = d / f"mine{ext}"
        user.write_text("<p>the user's own page</p>")
        out.append(Case(f"writers:{name}-overwrites-user-file", lambda w=write, r=rep, u=user: w(r, u),
                        refused_and_kept(user, user.read_bytes())))
        d = fresh()
        rep = report_file(d, f"r{ext}")  # a report saved under the writer's own extension
        out.append(Case(f"writers:{name}-onto-its-input", lambda w=write, r=rep: w(r, r),
                        refused_and_kept(rep, rep.read_bytes())))
        d = fresh()
        inner = report_file(d, "scer_report.json")
        out.append(Case(f"writers:{name}-onto-the-report-in-its-input-folder", lambda w=write, d=d, i=inner: w(d, i),
                        refused_and_kept(inner, inner.read_bytes())))
        d = fresh()
        rep = report_file(d)
        miss = d / "nonexistent" / "deeper"
        out.append(Case(f"writers:{name}-missing-parent", lambda w=write, r=rep, m=miss, e=ext: w(r, m / f"x{e}"),
                        refused_no_folder(d / "nonexistent")))
        d = fresh()
        rep = report_file(d)
        ro = d / "ro"
        ro.mkdir()
        read_only(ro)
        out.append(Case(f"writers:{name}-read-only-folder", lambda w=write, r=rep, ro=ro, e=ext: w(r, ro / f"x{e}"),
                        typed_naming(ro / f"x{ext}")))
        d = fresh()
        rep = report_file(d)

        def full(w: Any = write, r: Path = rep, p: Path = d / f"full{ext}") -> Any:
            with disk_full():
                return w(r, p)
        out.append(Case(f"writers:{name}-disk-full", full, typed_naming(d / f"full{ext}")))
        d = fresh()
        rep = report_file(d)
        fp = fifo(d / f"pipe{ext}")
        out.append(Case(f"writers:{name}-onto-a-fifo", lambda w=write, r=rep, f=fp: w(r, f),
                        refused_and_kept(fp, None), cleanup=lambda d=d: release_fifos(d)))
    # -- Report.save ------------------------------------------------------------------------------
    d = fresh()
    rep_path = report_file(d)
    miss = d / "nonexistent"
    out.append(Case("writers:Report.save-missing-parent",
                    lambda r=rep_path, m=miss: Report.load(r).save(m / "deeper" / "r.json"), refused_no_folder(miss)))
    d = fresh()
    rep_path = report_file(d)
    ro = d / "ro"
    ro.mkdir()
    read_only(ro)
    out.append(Case("writers:Report.save-read-only-folder",
                    lambda r=rep_path, ro=ro: Report.load(r).save(ro / "r.json"),
                    typed_naming(ro / "r.json")))
    d = fresh()
    rep_path = report_file(d)

    def save_full(r: Path = rep_path, p: Path = d / "full.json") -> Any:
        rep = Report.load(r)
        with disk_full():
            return rep.save(p)
    out.append(Case("writers:Report.save-disk-full", save_full, typed_naming(d / "full.json")))
    # -- update_card ------------------------------------------------------------------------------
    d = fresh()
    rep_path = report_file(d)
    shared = d / "shared_card.md"
    shared.write_text("---\nlicense: mit\n---\n# shared card\n")
    model = d / "model"
    model.mkdir()
    (model / "README.md").symlink_to(shared)

    def through_link(o: Outcome, m: Path = model, s: Path = shared) -> str | None:
        why = basic(o)
        if why:
            return why
        link = m / "README.md"
        if not link.is_symlink():
            return "replaced the symlink with a regular file"
        if o.kind == "ok" and "scer" not in s.read_text():
            return "the link's target was not updated"
        return None if o.kind in ("ok", "typed") else o.kind
    out.append(Case("writers:update_card-symlinked-README",
                    lambda m=model, r=rep_path: update_card(m, r, rating=None, label_path=None), through_link))
    d = fresh()
    rep_path = report_file(d)
    out.append(Case("writers:update_card-missing-folder",
                    lambda d=d, r=rep_path: update_card(d / "nonexistent" / "README.md", r, label_path=None),
                    refused_no_folder(d / "nonexistent")))
    d = fresh()
    rep_path = report_file(d)
    ro = d / "ro"
    ro.mkdir()
    read_only(ro)
    out.append(Case("writers:update_card-read-only-folder",
                    lambda ro=ro, r=rep_path: update_card(ro, r, label_path=None), typed_naming(ro / "README.md")))
    d = fresh()
    rep_path = report_file(d)
    fifo(d / "README.md")
    out.append(Case("writers:update_card-README-is-a-fifo", lambda d=d, r=rep_path: update_card(d, r, label_path=None),
                    refused_and_kept(d / "README.md", None), cleanup=lambda d=d: release_fifos(d)))
    d = fresh()
    rep_path = report_file(d)
    (d / "README.md").write_text("---\nlicense: mit\n---\n# card\n")

    def card_full(d: Path = d, r: Path = rep_path) -> Any:
        with disk_full(16):
            return update_card(d, r, label_path=None)
    out.append(Case("writers:update_card-disk-full", card_full, typed_naming(d / "README.md")))
    # -- controls ---------------------------------------------------------------------------------
    d = fresh()
    rep_path = report_file(d)

    def control(d: Path = d, r: Path = rep_path) -> Any:
        p = write_html_report(r, d / "new.html", auto_rate=False)
        q = save_label(d / "new.svg", r, auto_rate=False)
        c = update_card(d, r, label_path=None)
        s = Report.load(r).save(d / "copy.json")
        return p, q, c, s

    def control_ok(o: Outcome) -> str | None:
        return basic(o) or (None if o.kind == "ok" else f"a plain write failed: {o.message[:150]}")
    out.append(Case("writers:control-new-files", control, control_ok))
    return out
