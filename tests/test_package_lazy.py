"""Every ``scer_hf.<name>`` the README names is reachable after a bare ``import scer_hf``, lazily."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_names() -> set[str]:
    return set(re.findall(r"\bscer_hf\.([A-Za-z_]\w*)", README.read_text(encoding="utf-8")))


def test_readme_names_resolve_after_import_scer_hf_without_torch() -> None:
    names = sorted(readme_names() - {"SCERCallback", "callback"})  # the Trainer callback is a transformers class
    assert {"prompts", "equivalents", "quality", "rate", "update_card"} <= set(names)
    code = ("import sys, scer_hf\n"
            f"for n in {names!r}:\n"
            "    getattr(scer_hf, n)\n"
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["False", "False"]  # reaching a submodule loads no torch


def test_lazy_submodules_are_the_modules() -> None:
    import scer_hf
    import scer_hf.core.equivalents
    import scer_hf.hf.prompts
    import scer_hf.hf.quality

    assert scer_hf.hf.prompts is sys.modules["scer_hf.hf.prompts"]
    assert scer_hf.core.equivalents is sys.modules["scer_hf.core.equivalents"]
    assert scer_hf.hf.quality is sys.modules["scer_hf.hf.quality"]
    assert {"prompts", "equivalents", "quality"} <= set(dir(scer_hf))
