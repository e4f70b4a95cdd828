"""Adversarial harness (issue 20): hostile folders, fake-Hub answers, live-intensity servers, writers and CLI sets.

    python benchmarks/adversarial                       # every surface; prints tried / passed per surface
    python benchmarks/adversarial folders hub -v        # some surfaces; -v lists every case
    PYTHONPATH=/tmp/main-export python benchmarks/adversarial --json before.json    # another checkout's code

Each case runs the public API (or the CLI, one subprocess per argument set) on one hostile input, with a deadline
(a case still running after it is a hang), a peak-memory probe (tracemalloc) and a check: a typed
``scer_hf.errors`` error or a bounded, plausible result; no file content or secret in any message; nothing written
where it must not be. Every server is on 127.0.0.1. Controls (valid inputs) must keep working.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from common import Case, Outcome, run_case  # noqa: E402

SURFACES = ("folders", "hub", "live", "writers", "cli")


def _cases(surface: str, tmp: Path) -> list[Case]:
    mod = __import__(surface)
    return mod.cases(tmp) if surface in ("folders", "writers", "cli") else mod.cases()


def run_surface(surface: str, tmp: Path, verbose: bool) -> dict[str, object]:
    d = tmp / surface
    d.mkdir()
    cases = _cases(surface, d)
    results = []
    if surface == "cli":  # each case is a subprocess already: two at a time, judged here
        def one(c: Case) -> tuple[Case, tuple[str | None, str]]:
            ran = c.run()
            return c, (c.check(Outcome("ok", value=ran)), f"exit {ran.rc} in {ran.elapsed:.1f}s")
        with ThreadPoolExecutor(2) as pool:
            pairs = list(pool.map(one, cases))
    else:
        pairs = [(c, run_case(c)) for c in cases]
    for c, (why, short) in pairs:
        results.append({"case": c.name, "passed": why is None, "why": why, "outcome": short})
        if verbose or why:
            print(f"  {'PASS' if why is None else 'FAIL'} {c.name}: {why or ''} [{results[-1]['outcome']}]",
                  flush=True)
    passed = sum(r["passed"] for r in results)
    print(f"{surface}: {passed} of {len(results)} passed", flush=True)
    return {"tried": len(results), "passed": passed, "cases": results}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("surfaces", nargs="*", metavar="SURFACE", help=f"any of {', '.join(SURFACES)} (default: all)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    bad = [s for s in args.surfaces if s not in SURFACES]
    if bad:
        ap.error(f"unknown surface(s) {bad}; choose from {', '.join(SURFACES)}")
    import scer_hf

    print(f"scer_hf from {Path(scer_hf.__file__).parent}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="scer-adversarial-"))
    out: dict[str, object] = {}
    try:
        for s in args.surfaces or SURFACES:
            out[s] = run_surface(s, tmp, args.verbose)
    finally:
        common.undo_read_only()
        for p in tmp.rglob("*"):  # unblock anything still waiting on a FIFO before removing the tree
            common.release_fifos(p) if p.is_dir() else None
        shutil.rmtree(tmp, ignore_errors=True)
    print("\nsurface   tried  passed")
    for s, r in out.items():
        print(f"{s:<9} {r['tried']:>5}  {r['passed']:>6}")  # type: ignore[index]
    if args.json:
        Path(args.json).write_text(json.dumps({"package": str(Path(scer_hf.__file__).parent), **out}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
