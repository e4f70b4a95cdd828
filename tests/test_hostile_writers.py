"""Library writers follow the CLI, and the CLI on hostile inputs (issue 20).

``write_html_report``, ``save_label``, ``update_card`` and ``Report.save``: no overwrite without
``overwrite=True``, never onto an input or a pipe, through a symbolic link to its target, no missing folder
unless ``parents=True``, and a read-only folder or a full disk is an ``OutputWriteError`` naming the path.
The CLI: a FIFO as input fails at once, ``--rating bomb.json`` is a typed error, absurd numbers are refused,
``-o /missing/dir/x.svg`` creates nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner

from scer_hf import Report
from scer_hf.cli import cli
from scer_hf.errors import OutputExistsError, OutputWriteError, ReportError
from scer_hf.publish.card import update_card
from scer_hf.publish.html import write_html_report
from scer_hf.publish.label import save_label
from tests.builders import inference_report, training_report

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def disk_full(limit: int = 64) -> Iterator[None]:
    """Writes past *limit* bytes fail with EFBIG, as on a full disk (RLIMIT_FSIZE, SIGXFSZ ignored)."""
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old)


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """*folder* unwritable, for root too (``chattr +i``); skipped where neither works."""
    folder.chmod(0o555)
    immutable = os.geteuid() == 0 and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0
    try:
        if os.geteuid() == 0 and not immutable:
            pytest.skip("root ignores folder modes and chattr is not available here")
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
        folder.chmod(0o755)


WRITERS = {
    "write_html_report": lambda rep, p, **kw: write_html_report(rep, p, auto_rate=False, **kw),
    "save_label": lambda rep, p, **kw: save_label(p, rep, auto_rate=False, **kw),
    "Report.save": lambda rep, p, **kw: Report.load(rep).save(p, **kw),
}


@pytest.fixture()
def report_path(tmp_path: Path) -> Path:
    return inference_report().save(tmp_path / "r.json")


@pytest.mark.parametrize("name", WRITERS)
def test_writers_never_overwrite_a_users_file_unless_asked(tmp_path: Path, report_path: Path, name: str) -> None:
    write = WRITERS[name]
    user = tmp_path / ("mine.json" if name == "Report.save" else "logo.svg" if name == "save_label" else "page.html")
    user.write_text("the user's own file")
    with pytest.raises(OutputExistsError, match="overwrite=True"):
        write(report_path, user)
    assert user.read_text() == "the user's own file"
    write(report_path, user, overwrite=True)
    assert user.read_text() != "the user's own file"


@pytest.mark.parametrize("name", ["write_html_report", "save_label"])
def test_writers_never_write_onto_their_own_inputs(tmp_path: Path, name: str) -> None:
    p = inference_report().save(tmp_path / ("r.svg" if name == "save_label" else "r.json"))
    before = p.read_bytes()
    with pytest.raises(OutputExistsError, match="also an input"):
        WRITERS[name](p, p, overwrite=True)  # write_html_report("r.json", "r.json") replaced the report
    assert p.read_bytes() == before
    run = tmp_path / "run"
    run.mkdir()
    inner = inference_report().save(run / ("scer_report.svg" if name == "save_label" else "scer_report.json"))
    if name == "write_html_report":  # a folder given as the report: the report found in it is an input too
        with pytest.raises(OutputExistsError, match="also an input"):
            WRITERS[name](run, inner, overwrite=True)


@pytest.mark.parametrize("name", WRITERS)
def test_writers_create_no_missing_folder_unless_asked(tmp_path: Path, report_path: Path, name: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import scer_hf.publish.html as html
    import scer_hf.publish.label as label

    out = tmp_path / "nonexistent" / "dir" / ("x.svg" if name == "save_label" else "x.html")
    with monkeypatch.context() as m:  # refused before anything is rendered
        m.setattr(html, "render_html", lambda *a, **k: pytest.fail("rendered before the folder was checked"))
        m.setattr(label, "make_label", lambda *a, **k: pytest.fail("rendered before the folder was checked"))
        with pytest.raises(OutputWriteError, match="does not exist") as ei:
            WRITERS[name](report_path, out)
    assert not (tmp_path / "nonexistent").exists() and ei.value.filename == str(out)
    assert WRITERS[name](report_path, out, parents=True).is_file()


@pytest.mark.parametrize("name", WRITERS)
def test_read_only_folder_and_full_disk_are_typed_errors_naming_the_path(tmp_path: Path, report_path: Path,
                                                                        name: str) -> None:
    out = tmp_path / ("full.svg" if name == "save_label" else "full.html")
    with disk_full(), pytest.raises(OutputWriteError, match="free some space") as ei:
        WRITERS[name](report_path, out)
    assert ei.value.filename == str(out) and isinstance(ei.value, OSError) and not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no half-written temporary file
    ro = tmp_path / "ro"
    ro.mkdir()
    with read_only(ro), pytest.raises(OutputWriteError, match="read-only") as ei:
        WRITERS[name](report_path, ro / out.name)
    assert ei.value.filename == str(ro / out.name)


@pytest.mark.parametrize("name", WRITERS)
def test_writers_never_replace_a_pipe_and_write_through_links(tmp_path: Path, report_path: Path, name: str) -> None:
    ext = ".svg" if name == "save_label" else ".html"
    pipe = tmp_path / f"pipe{ext}"
    os.mkfifo(pipe)
    with pytest.raises((OutputExistsError, OutputWriteError), match="pipe"):
        WRITERS[name](report_path, pipe, overwrite=True)
    assert pipe.is_fifo()
    target = tmp_path / f"shared{ext}"
    target.write_text("old")
    link = tmp_path / f"link{ext}"
    link.symlink_to(target)
    WRITERS[name](report_path, link, overwrite=True)
    assert link.is_symlink() and target.read_text() != "old"


def test_update_card_writes_through_a_symlinked_readme(tmp_path: Path) -> None:
    shared = tmp_path / "shared_card.md"
    shared.write_text("---\nlicense: mit\n---\n# shared\n")
    model = tmp_path / "model"
    model.mkdir()
    (model / "README.md").symlink_to(shared)
    res = update_card(model, training_report(), label_path=None)
    assert res.changed and (model / "README.md").is_symlink()
    assert "co2_eq_emissions" in shared.read_text() and "license: mit" in shared.read_text()


def test_update_card_refuses_missing_folders_pipes_inputs_and_names_the_path(tmp_path: Path) -> None:
    rep = training_report()
    with pytest.raises(OutputWriteError, match="does not exist"):
        update_card(tmp_path / "typo" / "README.md", rep)
    assert not (tmp_path / "typo").exists()
    os.mkfifo(tmp_path / "README.md")
    t0 = time.perf_counter()
    with pytest.raises(OutputExistsError, match="pipe"):
        update_card(tmp_path, rep)
    assert time.perf_counter() - t0 < 5.0  # at once: a FIFO read would block forever
    os.unlink(tmp_path / "README.md")
    rp = rep.save(tmp_path / "card.md")
    with pytest.raises(OutputExistsError, match="also an input"):
        update_card(rp, rp)
    (tmp_path / "README.md").write_text("---\nlicense: mit\n---\n# card\n")
    with disk_full(16), pytest.raises(OutputWriteError) as ei:
        update_card(tmp_path, rep, label_path=None)
    assert ei.value.filename == str(tmp_path / "README.md")
    assert (tmp_path / "README.md").read_text() == "---\nlicense: mit\n---\n# card\n"


def test_report_save_still_raises_a_report_error_for_a_different_file(tmp_path: Path) -> None:
    p = training_report().save(tmp_path / "r.json")
    with pytest.raises(ReportError, match="overwrite=True") as ei:  # as before, and an OutputExistsError too
        inference_report().save(p)
    assert isinstance(ei.value, OutputExistsError)


# -- the CLI ---------------------------------------------------------------------------------------
def _cli_process(args: list[str], timeout: float = 20.0) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "scer_hf", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env=env)


@pytest.mark.parametrize("cmd", [["rate"], ["label"], ["report"], ["verify"], ["card", "show"]])
def test_cli_fifo_input_fails_at_once(tmp_path: Path, cmd: list[str]) -> None:
    fifo = tmp_path / ("card.md" if cmd[0] == "card" else "r.json")
    os.mkfifo(fifo)
    t0 = time.perf_counter()
    p = _cli_process([*cmd, str(fifo), *(["-o", str(tmp_path / "out.svg")] if cmd == ["label"] else [])
                 + (["-o", str(tmp_path / "out.html")] if cmd == ["report"] else [])], timeout=15)
    assert p.returncode == 1 and "FIFO" in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert time.perf_counter() - t0 < 10


def test_cli_rating_bomb_and_nan_are_typed_errors(tmp_path: Path, report_path: Path) -> None:
    bomb = tmp_path / "bomb.json"
    bomb.write_text("[" * 100_000 + "]" * 100_000)
    nan = tmp_path / "nan.json"
    nan.write_text('{"training": {"grade": NaN}}')
    runner = CliRunner()
    for cmd, out in (("label", "l.svg"), ("report", "r.html")):
        for rating in (bomb, nan):
            res = runner.invoke(cli, [cmd, str(report_path), "--rating", str(rating), "-o", str(tmp_path / out)])
            assert res.exit_code == 1 and "Traceback" not in res.output, res.output
            text = " ".join(res.output.split())  # the CLI wraps long lines
            assert "nested too deeply" in text or "not a JSON number" in text
            assert not (tmp_path / out).exists()


@pytest.mark.parametrize("args, option", [
    (["--count", str(10**20)], "--count"), (["--intensity", "1e12"], "--intensity"),
    (["--intensity", "nan"], "--intensity"), (["--hours", "1e7"], "--hours"), (["--tokens", "1e40"], "--tokens"),
])
def test_cli_absurd_numbers_are_refused(args: list[str], option: str) -> None:
    argv = ["estimate", "--gpu", "H100 SXM", "--country", "FRA", *args]
    argv += [] if "--hours" in args else ["--hours", "1"]
    res = CliRunner().invoke(cli, argv)
    assert res.exit_code == 1 and option in res.output and "plausible range" in res.output, res.output


def test_cli_output_in_a_missing_folder_creates_nothing(tmp_path: Path, report_path: Path) -> None:
    runner = CliRunner()
    for cmd, name in (("label", "x.svg"), ("report", "x.html")):
        out = tmp_path / "nonexistent" / "dir" / name
        res = runner.invoke(cli, [cmd, str(report_path), "-o", str(out)])
        assert res.exit_code == 1 and "does not exist" in res.output, res.output
        assert not (tmp_path / "nonexistent").exists()
    res = runner.invoke(cli, ["estimate", "--gpu", "H100 SXM", "--hours", "1", "-o", str(tmp_path / "no" / "r.json")])
    assert res.exit_code == 1 and not (tmp_path / "no").exists()


def test_cli_json_errors_name_the_kind(tmp_path: Path) -> None:
    p = tmp_path / "bomb.json"
    p.write_text("[" * 100_000 + "]" * 100_000)
    res = CliRunner().invoke(cli, ["verify", str(p), "--json"])
    assert res.exit_code == 1 and json.loads(res.stdout)["error"] in ("VerificationError", "ReportSchemaError")

