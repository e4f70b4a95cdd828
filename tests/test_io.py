"""scer_hf._io: orphan temporary files of a killed writer are cleaned; a live writer's never."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scer_hf._io import atomic_write_text, clean_stale_temps, refuse_overwrite
from scer_hf.errors import OutputExistsError
from tests.builders import inference_report


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid  # reaped: no such process (unless the pid is reused at once, which a test cannot rule out)


def test_a_kill_9_orphan_is_removed_by_the_next_save(tmp_path: Path) -> None:
    """A writer killed between mkstemp and rename leaves ``.r.json.<pid>.<random>.tmp``: the next save removes it."""
    code = ("import os, sys, tempfile; fd, t = tempfile.mkstemp(prefix='.r.json.%d.' % os.getpid(), suffix='.tmp', "
            "dir=sys.argv[1]); os.write(fd, b'half'); print(t, flush=True); os.kill(os.getpid(), 9)")
    p = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True)
    assert p.returncode == -signal.SIGKILL
    orphan = Path(p.stdout.strip())
    assert orphan.exists()
    inference_report().save(tmp_path / "r.json")
    assert not orphan.exists()
    assert sorted(x.name for x in tmp_path.iterdir()) == ["r.json"]


def test_only_our_pattern_and_only_stale_files_are_removed(tmp_path: Path) -> None:
    dead, live = _dead_pid(), os.getppid()  # our parent is alive
    names = {
        f".r.json.{dead}.abcd_123.tmp": False,       # ours, writer dead: removed
        f".r.json.{live}.abcd_123.tmp": True,        # ours, writer alive and young: kept
        f".r.json.{os.getpid()}.abcd_123.tmp": True,  # this process's own (another thread's write): kept
        ".r.json.abcd_123.tmp": True,                # an earlier version's (no pid), young: kept
        f".r.json.{dead}.abcd_123.tmp.bak": True,    # not our pattern
        f".other.json.{dead}.abcd_123.tmp": True,    # another file's
        f".r.json.{dead}.ABCD_123.tmp": True,        # mkstemp never makes upper case
        f"r.json.{dead}.abcd_123.tmp": True,         # not hidden: a user's file
        f".r.json.{dead}.abcd_12.tmp": True,         # 7 random characters: not mkstemp's
    }
    for n in names:
        (tmp_path / n).write_text("x")
    removed = clean_stale_temps(tmp_path / "r.json")
    assert sorted(p.name for p in removed) == [n for n, keep in names.items() if not keep]
    assert {p.name for p in tmp_path.iterdir()} == {n for n, keep in names.items() if keep}
    old = time.time() - 3600  # an hour old: stale whatever its pid says (another machine on a shared disk)
    for n in (f".r.json.{live}.abcd_123.tmp", ".r.json.abcd_123.tmp"):
        os.utime(tmp_path / n, (old, old))
    atomic_write_text(tmp_path / "r.json", "new\n")
    assert (tmp_path / "r.json").read_text() == "new\n"
    assert {p.name for p in tmp_path.iterdir()} == {n for n, keep in names.items() if keep} - {
        f".r.json.{live}.abcd_123.tmp", ".r.json.abcd_123.tmp"} | {"r.json"}


def test_a_live_concurrent_writers_temp_file_survives(tmp_path: Path) -> None:
    """A writer that is alive mid-write (its temp file exists, young) is not disturbed by another save."""
    code = ("import os, sys, tempfile, time; fd, t = tempfile.mkstemp(prefix='.r.json.%d.' % os.getpid(), "
            "suffix='.tmp', dir=sys.argv[1]); print(t, flush=True); time.sleep(30)")
    p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        tmp = Path(p.stdout.readline().strip())  # type: ignore[union-attr]
        inference_report().save(tmp_path / "r.json")
        assert tmp.exists()
    finally:
        p.kill()
        p.wait()
    inference_report().save(tmp_path / "r.json", overwrite=True)  # now its writer is dead: removed
    assert not tmp.exists()


def test_refuse_overwrite(tmp_path: Path) -> None:
    a = tmp_path / "a.json"
    a.write_text("{}")
    assert refuse_overwrite(tmp_path / "new.html", overwrite=False, inputs=[a]) == tmp_path / "new.html"
    with pytest.raises(OutputExistsError, match="already exists; pass --overwrite"):
        refuse_overwrite(a, overwrite=False)
    refuse_overwrite(a, overwrite=True)
    with pytest.raises(OutputExistsError, match="also an input"):
        refuse_overwrite(tmp_path / "sub" / ".." / "a.json", overwrite=True, inputs=[a])
    with pytest.raises(OutputExistsError, match="folder"):
        refuse_overwrite(tmp_path, overwrite=True)
    assert isinstance(OutputExistsError("x"), FileExistsError)
