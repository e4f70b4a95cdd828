"""Every ```python block of README.md runs as written, offline, on a tiny model.

The README's snippets use the folder `scer-hf demo scer-demo` writes (its tiny model ``scer-demo/model`` and
its reports). The test builds an equivalent folder cheaply (a tiny GPT-2 and the fixture reports) instead of
running the demo, then runs each block in a fresh namespace in that working directory. A block preceded by
``<!-- not-run: reason -->`` (Hub-only snippets) is skipped; there may be only a few.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("torch")

from tests.builders import inference_report, training_report  # noqa: E402
from tests.openaiserver import FakeOpenAI  # noqa: E402

pytestmark = pytest.mark.slow
README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"(?:<!--\s*not-run:\s*(?P<reason>.*?)\s*-->\s*\n)?```python\n(?P<code>.*?)```", re.S)


def blocks() -> list[tuple[int, str, str | None]]:
    """(line, code, not-run reason or None) for each ```python block of the README."""
    text = README.read_text(encoding="utf-8")
    return [(text[:m.start("code")].count("\n"), m.group("code"), m.group("reason")) for m in _BLOCK.finditer(text)]


def test_readme_blocks_are_found_and_few_are_skipped() -> None:
    found = blocks()
    assert len(found) >= 8
    skipped = [b for b in found if b[2]]
    assert len(skipped) <= 2, [f"line {n}: {r}" for n, _, r in skipped]
    assert all("Hub" in r for _, _, r in skipped)  # only Hub-only snippets may be marked


@pytest.fixture(scope="module")
def demo_like(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir) -> Path:  # type: ignore[no-untyped-def]
    """A working directory holding ``scer-demo/`` as `scer-hf demo scer-demo` leaves it (the parts the README uses):
    the tiny model, both reports, their labels and HTML pages, each made as the demo makes them."""
    from scer_hf.publish.html import write_html_report
    from scer_hf.publish.label import save_label
    from scer_hf.rating import rate

    cwd = tmp_path_factory.mktemp("readme")
    demo = cwd / "scer-demo"
    shutil.copytree(tiny_model_dir("gpt2"), demo / "model")
    for rep, label in ((training_report(), "scer_label_training.svg"), (inference_report(), "scer_label.svg")):
        rep.save(demo / f"{rep.boundary}_report.json")
        save_label(demo / label, rep, rate(rep))
        write_html_report(rep, demo / f"{rep.boundary}_report.html", rate(rep))
    return cwd


_BASH = re.compile(r"```bash\n(?P<code>.*?)```", re.S)


def cli_lines() -> list[tuple[int, str]]:
    """(block line, command) for each ``scer-hf`` line of the README's ```bash blocks, with the ``cd`` before it
    (``cd DIR; scer-hf ...``). Install lines and the demo itself (run by test_demo) are left out."""
    text = README.read_text(encoding="utf-8")
    out = []
    for m in _BASH.finditer(text):
        line_no, cwd = text[:m.start("code")].count("\n") + 1, None
        for line in m.group("code").splitlines():
            cmd = line.split("  #")[0].strip()
            if cmd.startswith("cd "):
                cwd = cmd[3:]
            elif cmd.startswith("scer-hf ") and not cmd.startswith("scer-hf demo"):
                out += [(line_no, f"cd {cwd}; {c}" if cwd else c) for c in cmd.split(" && ")]
    return out


_SERVER = "http://127.0.0.1:8000/v1"  # the README's server: the test serves a fake one and runs short levels


def _served(cmd: str, url: str) -> str:
    """A README command that measures the server at :data:`_SERVER`, pointed at the fake one, with short levels."""
    if _SERVER not in cmd:
        return cmd
    return cmd.replace(_SERVER, url) + " --queries 12 --min-queries 4 --warmup 1 --no-progress"


def test_every_readme_command_runs_where_it_is_printed(demo_like: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's `scer-hf` lines, in order, in the folder the demo leaves: each exits 0 (verify: VERIFIED).
    The lines that measure a server run against a fake OpenAI-compatible one on 127.0.0.1, with short levels."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    lines = cli_lines()
    assert len(lines) >= 12 and any(_SERVER in cmd for _, cmd in lines)
    with FakeOpenAI() as server:
        for line_no, cmd in lines:
            _run_line(line_no, _served(cmd, server.url), demo_like, monkeypatch)


def _run_line(line_no: int, cmd: str, demo_like: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One README command in its folder: exit 0, its output written where it says; verify says VERIFIED."""
    import shlex

    from click.testing import CliRunner

    from scer_hf.cli import cli

    cwd = demo_like
    if cmd.startswith("cd "):
        where, cmd = cmd[3:].split("; ", 1)
        cwd = demo_like / where
    monkeypatch.chdir(cwd)
    argv, _, target = cmd.partition(" > ")
    res = CliRunner().invoke(cli, shlex.split(argv)[1:])
    assert res.exit_code == 0, f"README.md line {line_no}: {cmd}\n{res.output}"
    if target:
        Path(target.strip()).write_text(res.output, encoding="utf-8")
    if " verify " in f" {cmd} ":
        assert res.output.startswith("VERIFIED"), f"README.md line {line_no}: {cmd}\n{res.output}"


@pytest.mark.parametrize("line,code,reason", blocks(), ids=[f"line{n}" for n, _, _ in blocks()])
def test_readme_block_runs(line: int, code: str, reason: str | None, demo_like: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    if reason:
        pytest.skip(f"README line {line} is marked not-run: {reason}")
    monkeypatch.chdir(demo_like)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    for leftover in ("scer_report.json", "my_label.svg", "my_report.html"):  # a re-run starts clean
        (demo_like / leftover).unlink(missing_ok=True)
    try:
        exec(compile(code, f"README.md:{line}", "exec"), {"__name__": "__readme__"})  # noqa: S102
    except Exception as exc:  # noqa: BLE001 - name the README line in the failure
        pytest.fail(f"README.md block at line {line} raised {type(exc).__name__}: {exc}")
