"""The flat-layout import paths (issue 11's aliases) warn, stay the very same modules, and are seen by type checkers
(issue 25)."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import scer_hf
from scer_hf import _compat

ROOT = Path(__file__).resolve().parents[1]


def _forget(old: str) -> None:
    """Make *old* importable afresh: no sys.modules entry (nor its submodules'), not warned about yet."""
    for name in [m for m in sys.modules if m == old or m.startswith(old + ".")]:
        del sys.modules[name]
    _compat._warn.clear()


@pytest.fixture
def fresh() -> Iterator[None]:
    _compat._warn.clear()
    yield
    _compat._warn.clear()


@pytest.mark.parametrize("old, new", [
    ("scer_hf.tracker", "scer_hf.core.tracker"),
    ("scer_hf.label", "scer_hf.publish.label"),
    ("scer_hf.card.splice", "scer_hf.publish.card.splice"),
    ("scer_hf.cardlib", "scer_hf.publish.card"),
    ("scer_hf.protocol", "scer_hf.hf.benchmark"),
])
def test_an_old_path_warns_once_naming_the_new_path_and_the_removal(old: str, new: str, fresh: None) -> None:
    _forget(old)
    with pytest.warns(DeprecationWarning) as got:
        mod = importlib.import_module(old)
    mine = [w for w in got if str(w.message).startswith(f"{old} ")]  # (a package's old path warns for itself too)
    assert [str(w.message) for w in mine] == [
        (f"{old} is deprecated: import {new} instead (the old path is an alias of the same module and will be removed "
        f"in scer-hf {_compat.REMOVAL})")]
    assert mine[0].filename == __file__  # pointed at the import, not at the import machinery
    assert mod is importlib.import_module(new) and mod.__spec__.name == new
    sys.modules.pop(old)  # imported again by this old path: still one warning per alias
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert importlib.import_module(old) is mod


def test_the_readme_quotes_the_warning_as_it_is() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert " ".join(_compat.deprecation_message("scer_hf.tracker").split()) in " ".join(readme.split())


def test_the_removal_is_the_next_minor_release() -> None:
    major, minor, _ = (int(x) for x in scer_hf.__version__.split("."))
    assert f"{major}.{minor + 1}.0" == _compat.REMOVAL


def test_old_paths_give_the_same_objects(fresh: None) -> None:
    _forget("scer_hf.tracker")
    _forget("scer_hf.pipeline")
    with pytest.warns(DeprecationWarning):
        from scer_hf.pipeline import track_pipeline
        from scer_hf.tracker import PhaseTracker
    from scer_hf.core.tracker import PhaseTracker as New
    from scer_hf.hf.pipeline import track_pipeline as new_track

    assert PhaseTracker is New and track_pipeline is new_track


def test_every_deprecated_alias_warns_the_same_way() -> None:
    """Every flat path in MOVED (but the public ones) warns with its own new path, in a fresh process."""
    old = sorted(o for o in _compat.MOVED if not o.startswith(_compat.PUBLIC))
    code = ("import importlib, warnings\n"
            "warnings.simplefilter('always')\n"
            f"for o in {old!r}:\n"
            "    with warnings.catch_warnings(record=True) as w:\n"
            "        warnings.simplefilter('always')\n"
            "        importlib.import_module(o)\n"
            "    print(o, '|', [str(x.message) for x in w if x.category is DeprecationWarning])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = dict(line.split(" | ", 1) for line in out.stdout.splitlines())
    for o in old:
        assert lines[o] == repr([_compat.deprecation_message(o)]), o
        assert f"import {_compat.MOVED[o]} instead" in _compat.deprecation_message(o)


def test_the_default_filters_show_it_to_a_script() -> None:
    """No -W flag: Python shows a DeprecationWarning only when it is attributed to ``__main__``."""
    out = subprocess.run([sys.executable, "-c", "import scer_hf.sci"], capture_output=True, text=True, cwd=ROOT,
                         timeout=60)
    assert out.returncode == 0
    assert "DeprecationWarning: scer_hf.sci is deprecated: import scer_hf.core.sci instead" in out.stderr


def test_public_flat_names_stay_silent(fresh: None) -> None:
    """``scer_hf.meters`` and ``scer_hf.reference`` are the package face's public names, and the lazy attributes
    (``scer_hf.quality``...) are what the README shows: none of them warns."""
    for old in ("scer_hf.meters", "scer_hf.meters.base", "scer_hf.reference"):
        _forget(old)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        import scer_hf.meters.base
        import scer_hf.reference
        from scer_hf import prompts, reference

        assert scer_hf.meters.base is importlib.import_module("scer_hf.core.meters.base")
        assert reference is importlib.import_module("scer_hf.rating.reference")
        assert prompts is importlib.import_module("scer_hf.hf.prompts")


def test_every_alias_has_its_stub_in_step() -> None:
    """Type checkers see each alias through a stub next to the package; none is missing, stale or left over."""
    want = _compat.stub_files()
    assert "tracker.pyi" in want and "meters/base.pyi" in want and "card/splice.pyi" in want
    for rel, text in want.items():
        path = ROOT / "scer_hf" / rel
        assert path.is_file() and path.read_text(encoding="utf-8") == text, (
            f"scer_hf/{rel} is missing or stale; write the stubs again: python -c \"from pathlib import Path; "
            "from scer_hf._compat import stub_files; [(Path('scer_hf', r).parent.mkdir(parents=True, "
            "exist_ok=True), Path('scer_hf', r).write_text(t)) for r, t in stub_files().items()]\"")
    on_disk = {p.relative_to(ROOT / "scer_hf").as_posix() for p in (ROOT / "scer_hf").rglob("*.pyi")}
    assert on_disk == set(want)


def test_the_stubs_ship_with_the_package() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = data["tool"]["setuptools"]["package-data"]["scer_hf"]
    assert "*.pyi" in patterns and "*/*.pyi" in patterns


@pytest.mark.slow
def test_mypy_sees_the_aliases(tmp_path: Path) -> None:
    """mypy resolves an old path to the new module's names (a name it lacks is an error, not Any). Fast after
    ``.ci/run``'s own ``mypy`` run (the same cache)."""
    api = pytest.importorskip("mypy.api")
    snip = tmp_path / "snip.py"
    snip.write_text("from scer_hf.core.tracker import PhaseTracker as New\n"
                    "from scer_hf.label import no_such_name\n"
                    "from scer_hf.meters.base import Reading\n"
                    "from scer_hf.tracker import PhaseTracker\n"
                    "reveal_type(PhaseTracker)\n"
                    "reveal_type(Reading)\n"
                    "same: type[New] = PhaseTracker\n", encoding="utf-8")
    out, _err, _ = api.run(["--config-file", str(ROOT / "pyproject.toml"), str(snip)])
    mine = [line for line in out.splitlines() if "snip.py:" in line]
    assert any(':2: error: Module "scer_hf.label" has no attribute "no_such_name"' in x for x in mine), out
    assert any(":5: note: Revealed type is" in x and "-> scer_hf.core.tracker.PhaseTracker" in x for x in mine)
    assert any(":6: note: Revealed type is" in x and "-> scer_hf.core.meters.base.Reading" in x for x in mine)
    assert len([x for x in mine if ": error:" in x]) == 1, mine  # the assignment type-checks
