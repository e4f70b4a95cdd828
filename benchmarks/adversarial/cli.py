"""The ``scer-hf`` command line on hostile files, numbers and output paths (one subprocess per argument set)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from common import SECRET, TOKEN, Case, Outcome, deep_json, fifo, report_file, sparse

CLI_TIMEOUT_S = 15.0


class Ran:
    def __init__(self, argv: list[str], rc: int | None, out: str, err: str, elapsed: float) -> None:
        self.argv, self.rc, self.out, self.err, self.elapsed = argv, rc, out, err, elapsed


def _run(argv: list[str], cwd: Path, release: Path) -> Ran:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "scer_hf", *argv], cwd=cwd, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=CLI_TIMEOUT_S)
        return Ran(argv, p.returncode, out, err, time.perf_counter() - t0)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return Ran(argv, None, out, err, time.perf_counter() - t0)


def refused(r: Ran) -> str | None:
    """A hostile argument set: exit 1 (scer-hf error) or 2 (usage), a one-line error, no traceback, no leak."""
    if r.rc is None:
        return "hangs"
    if "Traceback" in r.err:
        last = [ln for ln in r.err.strip().splitlines() if ln.strip()][-1:]
        return f"traceback: {last[0][:150] if last else ''}"
    if SECRET in r.out + r.err or TOKEN in r.out + r.err:
        return "leaks file content"
    if r.rc == 0:
        return "exit 0 (accepted)"
    if r.rc not in (1, 2):
        return f"exit {r.rc}"
    return None


def not_stuck(r: Ran) -> str | None:
    """A text file that is a valid (empty) card may be shown; but never a hang, a traceback or a leak."""
    why = refused(r)
    return None if why == "exit 0 (accepted)" else why


def valid_json(r: Ran) -> str | None:
    """``--json``: whatever happened, stdout is one valid JSON document (no NaN), and nothing hangs or leaks."""
    why = not_stuck(r)
    if why:
        return why
    try:
        json.loads(r.out, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    except ValueError:
        return "--json printed invalid JSON (NaN/Infinity or none)"
    return None


def succeeded(r: Ran) -> str | None:
    if r.rc != 0:
        return f"exit {r.rc}: {(r.err or r.out).strip()[-150:]}"
    return None


def cases(tmp: Path) -> list[Case]:
    out: list[Case] = []
    work = tmp / "cli"
    work.mkdir()
    good = report_file(work)
    good_text = good.read_bytes()
    fix = work / "files"
    fix.mkdir()

    def add(name: str, argv: list[str], check: Callable[[Ran], str | None], after: Callable[[], str | None] = None):
        def run(argv: list[str] = argv) -> Ran:
            return _run(argv, work, fix)

        def judge(o: Outcome, check: Any = check, after: Any = after) -> str | None:
            if o.kind != "ok":
                return f"harness: {o.kind} {o.message[:100]}"
            why = check(o.value)
            later = after() if after else None  # always: it also removes what a failing case created
            return why or later

        out.append(Case(f"cli:{name}", run, judge, timeout_s=CLI_TIMEOUT_S + 10))

    # hostile input files, each under the names the commands expect
    def make(stem: str, ext: str) -> str:
        p = fix / f"{stem}{ext}"
        if p.exists() or p.is_symlink():
            return str(p)
        if stem == "fifo":
            fifo(p)
        elif stem == "bomb":
            p.write_text(deep_json())
        elif stem == "huge":
            sparse(p, 3 << 30, b"{")
        elif stem == "devzero":
            p.symlink_to("/dev/zero")
        elif stem == "devnull":
            p.symlink_to("/dev/null")
        elif stem == "badutf8":
            p.write_bytes(b"\xff\xfe" + SECRET.encode())
        elif stem == "list":
            p.write_text("[1, 2, 3]")
        elif stem == "nan":
            p.write_text('{"training": {"grade": NaN}, "schema": NaN}')
        elif stem == "marker":
            p.write_text(SECRET * 3)
        elif stem == "loop":
            p.symlink_to(p)
        elif stem == "empty":
            p.write_text("")
        elif stem == "yamldeep":
            p.write_text("---\nscer: " + "[" * 20000 + "\n---\n")
        elif stem == "yamlbomb":  # nine levels of nine aliases: 9^9 values once written out
            lines = ["---", "a0: &a0 [x, x, x, x, x, x, x, x, x]"]
            lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
            p.write_text("\n".join(lines + ["scer: {training: *a8}", "---", "# card", ""]))
        elif stem == "yamlself":
            p.write_text("---\nscer: &s {training: *s}\n---\n")
        elif stem == "yamlnan":
            p.write_text("---\nco2_eq_emissions: .nan\nscer: {training: {energy_j: .inf}}\n---\n")
        elif stem == "dirfifo":
            p.mkdir()
            fifo(p / "scer_report.json")
        elif stem == "dirbomb":
            p.mkdir()
            (p / "scer_report.json").write_text(deep_json())
        return str(p)

    stems = ["fifo", "bomb", "huge", "devzero", "devnull", "badutf8", "list", "nan", "marker", "loop", "empty"]
    for stem in stems + ["dirfifo", "dirbomb"]:
        j = make(stem, "" if stem.startswith("dir") else ".json")
        add(f"rate {stem}.json", ["rate", j], refused)
        add(f"label {stem}.json", ["label", j, "-o", str(work / f"l-{stem}.svg")], refused)
        add(f"report {stem}.json", ["report", j, "-o", str(work / f"r-{stem}.html")], refused)
        add(f"verify {stem}.json", ["verify", j], refused)
    for stem in stems:
        j = make(stem, ".json")
        add(f"label --rating {stem}", ["label", str(good), "--rating", j, "-o", str(work / f"lr-{stem}.svg")], refused)
        add(f"report --rating {stem}", ["report", str(good), "--rating", j, "-o", str(work / f"rr-{stem}.html")],
            refused)
        add(f"card update --report {stem}", ["card", "update", str(work), "--report", j], refused)
        add(f"verify x.svg --report {stem}", ["verify", make(stem, ".svg"), "--report", j], refused)
    for stem in stems + ["yamldeep", "yamlbomb", "yamlself", "yamlnan"]:
        md = make(stem, ".md")
        add(f"card show {stem}.md", ["card", "show", md], not_stuck)
        add(f"card show {stem}.md --json", ["card", "show", md, "--json"], valid_json)
        add(f"verify {stem}.md", ["verify", md], refused)
    for stem in ("fifo", "bomb", "huge", "devzero", "badutf8", "marker"):
        add(f"rate --extra {stem}", ["rate", "bigscience/bloom-560m", "--offline", "--extra", make(stem, ".csv")],
            refused)
    # absurd numbers
    base = ["estimate", "--gpu", "H100 SXM", "--country", "FRA"]
    numbers = [
        ["--count", "100000000000000000000", "--hours", "1"], ["--count", "1e20", "--hours", "1"],
        ["--count", "0", "--hours", "1"], ["--count", "-3", "--hours", "1"],
        ["--hours", "1", "--intensity", "1e12"], ["--hours", "1", "--intensity", "-1"],
        ["--hours", "1", "--intensity", "nan"], ["--hours", "1", "--intensity", "inf"],
        ["--hours", "1", "--intensity", "2500"], ["--hours", "1e300"], ["--hours", "nan"], ["--hours", "inf"],
        ["--hours", "-1"], ["--hours", "10000000"], ["--gpu-hours", "1e300"], ["--gpu-hours", "nan"],
        ["--hours", "1", "--pue", "nan"], ["--hours", "1", "--pue", "0"], ["--hours", "1", "--pue", "1e9"],
        ["--hours", "1", "--watts", "1e9"], ["--hours", "1", "--watts", "nan"],
        ["--hours", "1", "--tokens", "1e40"], ["--hours", "1", "--tokens", "nan"], ["--hours", "1", "--tokens", "-5"],
        ["--hours", "1", "--queries", "1e30"], ["--hours", "1", "--samples", "inf"],
        ["--hours", "1", "--memory-gb", "1e15"], ["--hours", "1", "--servers", "1e12"],
        ["--hours", "1", "--lifetime-years", "1e9"], ["--hours", "1", "--utilisation", "2"],
        ["--hours", "1", "--cpu-watts", "1e12"],
    ]
    for extra in numbers:
        add("estimate " + " ".join(extra), base + extra, refused)
    add("rate --parameters 1e40", ["rate", "org/unknown-model", "--offline", "--parameters", "1e40"], refused)
    add("rate --parameters -7", ["rate", "org/unknown-model", "--offline", "--parameters", "-7"], refused)
    add("rate --parameters nan", ["rate", "org/unknown-model", "--offline", "--parameters", "nan"], refused)
    # output paths: each case its own missing folder at the root (removed again if a case creates it)
    def missing(tag: str) -> Path:
        return Path(f"/nonexistent-scer-adversarial-{tag}")

    def no_missing_folder(tag: str) -> Callable[[], str | None]:
        def check() -> str | None:
            m = missing(tag)
            if m.exists():
                import shutil

                shutil.rmtree(m, ignore_errors=True)
                return f"created {m}"
            return None
        return check

    for cmd, ext in (("label", ".svg"), ("report", ".html")):
        add(f"{cmd} -o /nonexistent/dir/x{ext}", [cmd, str(good), "-o", str(missing(cmd) / "dir" / f"x{ext}")],
            refused, no_missing_folder(cmd))
        user = work / f"user{ext}"
        user.write_text("mine")
        add(f"{cmd} -o existing", [cmd, str(good), "-o", str(user)], refused,
            lambda u=user: None if u.read_text() == "mine" else "overwrote the user's file")
        add(f"{cmd} -o its input", [cmd, str(good), "-o", str(good)], refused,
            lambda: None if good.read_bytes() == good_text else "overwrote the report")
        add(f"{cmd} -o a folder", [cmd, str(good), "-o", str(work)], refused)
        add(f"{cmd} -o an existing fifo", [cmd, str(good), "-o", make("fifo", ext)], refused)
    add("estimate -o /nonexistent/dir/r.json", base + ["--hours", "1", "-o", str(missing("est") / "dir" / "r.json")],
        refused, no_missing_folder("est"))
    add("card update /nonexistent", ["card", "update", str(missing("card") / "m"), "--report", str(good)], refused,
        no_missing_folder("card"))
    # controls
    add("control rate report", ["rate", str(good)], succeeded)
    add("control label", ["label", str(good), "-o", str(work / "ok.svg")], succeeded)
    add("control report", ["report", str(good), "-o", str(work / "ok.html")], succeeded)
    add("control verify", ["verify", str(good)], succeeded)
    add("control estimate", base + ["--hours", "1"], succeeded)
    return out
