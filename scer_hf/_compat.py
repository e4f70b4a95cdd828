"""Old import paths keep working after the move into layer folders (issue 11).

``scer_hf.tracker``, ``scer_hf.meters.base``, ``scer_hf.pipeline``, ``scer_hf.callback``, ``scer_hf.reference``
and the other flat-layout names are aliases: importing one returns the very module object of its new place
(``scer_hf.core.tracker`` ...), so classes, ``isinstance`` checks and monkeypatching all stay one.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType

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


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target
        self.spec = None

    def create_module(self, spec):
        module = importlib.import_module(self.target)
        self.spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = self.spec  # the import system stamped the alias spec on the shared module; undo it


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith("scer_hf."):
            return None
        new = new_name(fullname)
        if new is None or importlib.util.find_spec(new) is None:
            return None
        is_pkg = hasattr(importlib.import_module(new), "__path__")
        return importlib.util.spec_from_loader(fullname, _AliasLoader(new), is_package=is_pkg)


def install() -> None:
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        # before PathFinder: an aliased package's submodules must not load twice
        sys.meta_path.insert(0, _AliasFinder())
