"""Old import paths keep working after the move into layer folders (issue 11), with a deprecation warning.

``scer_hf.tracker``, ``scer_hf.pipeline``, ``scer_hf.callback`` and the other flat-layout module paths are aliases:
importing one returns the very module object of its new place (``scer_hf.core.tracker`` ...), so classes,
``isinstance`` checks and monkeypatching all stay one. Importing one by its old path warns once per alias
(``DeprecationWarning``, naming the new path and :data:`REMOVAL`). ``scer_hf.meters`` and ``scer_hf.reference`` are
public names of the package face (``scer_hf.__all__``): they stay, silently, as do the lazy attributes
``scer_hf.prompts``, ``scer_hf.quality`` ... (``scer_hf.__getattr__``).

Type checkers see the aliases through stub files next to this module (``scer_hf/tracker.pyi``,
``scer_hf/meters/base.pyi`` ...), written by :func:`stub_files` and kept in step by ``tests/test_compat.py``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import pkgutil
import sys
from types import FrameType, ModuleType

from ._version import REMOVAL
from .core.warn import WarnOnce

__all__ = ["MOVED", "PUBLIC", "REMOVAL", "new_name", "deprecation_message", "stub_files", "install"]


#: old dotted name -> new dotted name (a package maps its submodules too)
MOVED: dict[str, str] = {
    "scer_hf.meters": "scer_hf.core.meters",
    "scer_hf.tracker": "scer_hf.core.tracker",
    "scer_hf.carbon": "scer_hf.core.carbon",
    "scer_hf.sci": "scer_hf.core.sci",
    "scer_hf.embodied": "scer_hf.core.embodied",
    "scer_hf.equivalents": "scer_hf.core.equivalents",
    "scer_hf.report": "scer_hf.core.report",
    "scer_hf.calculator": "scer_hf.core.calculator",
    "scer_hf.reference": "scer_hf.rating.reference",
    "scer_hf.card": "scer_hf.publish.card",
    "scer_hf.cardlib": "scer_hf.publish.card",
    "scer_hf.label": "scer_hf.publish.label",
    "scer_hf.html_report": "scer_hf.publish.html",
    "scer_hf.verify": "scer_hf.publish.verify",
    "scer_hf.callback": "scer_hf.hf.callback",
    "scer_hf.pipeline": "scer_hf.hf.pipeline",
    "scer_hf.protocol": "scer_hf.hf.benchmark",
    "scer_hf.prompts": "scer_hf.hf.prompts",
    "scer_hf.quality": "scer_hf.hf.quality",
    "scer_hf.card_push": "scer_hf.hf.push",
    "scer_hf.demo": "scer_hf.hf.demo",
}


def new_name(old: str) -> str | None:
    """The new dotted name of an old one (``scer_hf.meters.base`` -> ``scer_hf.core.meters.base``), or None."""
    parts = old.split(".")
    for i in range(len(parts), 1, -1):
        prefix = ".".join(parts[:i])
        if prefix in MOVED:
            return ".".join([MOVED[prefix], *parts[i:]])
    return None


#: flat names that are the package face's public API (``scer_hf.__all__``): aliases that stay and never warn
PUBLIC = ("scer_hf.meters", "scer_hf.reference")

_warn = WarnOnce(DeprecationWarning)  # once per alias per process (an import binds the name once anyway)
_IMPORTLIB = (f"importlib{os.sep}__init__.py", "importlib/__init__.py")  # importlib.import_module


def _public(old: str) -> bool:
    return any(old == p or old.startswith(p + ".") for p in PUBLIC)


def deprecation_message(old: str) -> str:
    """The warning an old import path gives: what to import instead, and when the old path goes."""
    return (f"{old} is deprecated: import {new_name(old)} instead (the old path is an alias of the same module "
            f"and will be removed in scer-hf {REMOVAL})")


def _importer_level() -> int:
    """The ``stacklevel``, for a warning issued by this function's caller, of the code that ran the import: the
    first frame outside this module and ``importlib`` (so the default filters show it in ``__main__``). Like
    :func:`warnings.warn`, it does not count the import system's own frames (``importlib._bootstrap``)."""
    frame: FrameType | None = sys._getframe(2)  # the caller's caller: level 2 for a warning issued by the caller
    level = 2
    while frame is not None:
        name = frame.f_code.co_filename
        internal = "importlib" in name and "_bootstrap" in name  # skipped by warnings.warn itself
        if not internal and name != __file__ and not name.endswith(_IMPORTLIB):
            break
        level += 0 if internal else 1
        frame = frame.f_back
    return level


def _deprecated(old: str) -> None:
    if not _public(old):
        _warn(old, deprecation_message(old), stacklevel=_importer_level())


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, old: str, target: str) -> None:
        self.old = old
        self.target = target
        self.spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.target)
        self.spec = module.__spec__
        _deprecated(self.old)
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = self.spec  # the import system stamped the alias spec on the shared module; undo it


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: object = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith("scer_hf."):
            return None
        new = new_name(fullname)
        if new is None or importlib.util.find_spec(new) is None:
            return None
        is_pkg = hasattr(importlib.import_module(new), "__path__")
        return importlib.util.spec_from_loader(fullname, _AliasLoader(fullname, new), is_package=is_pkg)


def install() -> None:
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        # before PathFinder: an aliased package's submodules must not load twice
        sys.meta_path.insert(0, _AliasFinder())


def _public_submodules(package: str) -> list[str]:
    """The public submodules of a (new) package, by name, without importing them."""
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return sorted(m.name for m in pkgutil.iter_modules(locations) if not m.name.startswith("_"))


def stub_files() -> dict[str, str]:
    """The type stubs that show type checkers each alias: relative path under ``scer_hf/`` -> its text."""
    out: dict[str, str] = {}
    for old, new in MOVED.items():
        rel = old.split(".", 1)[1].replace(".", "/")
        is_pkg = hasattr(importlib.import_module(new), "__path__")
        pairs = [(f"{rel}/__init__.pyi" if is_pkg else f"{rel}.pyi", old, new)]
        if is_pkg:
            pairs += [(f"{rel}/{sub}.pyi", f"{old}.{sub}", f"{new}.{sub}") for sub in _public_submodules(new)]
        for path, o, n in pairs:
            what = ("a public name of scer_hf, kept" if _public(o)
                    else f"deprecated, removed in scer-hf {REMOVAL}: import the new path")
            out[path] = (f"# {o}\n#   is an alias of {n}\n#   ({what}).\n"
                         "# Generated by scer_hf._compat.stub_files(); tests/test_compat.py keeps it in step.\n"
                         f"from {n} import *  # noqa: F403 - the alias re-exports the module's public names\n")
    return out
