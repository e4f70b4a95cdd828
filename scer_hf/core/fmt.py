"""Every number a person reads: one formatter for the CLI, label, card, HTML report and badge.

Rules (issue 14):

- 3 significant digits; never an exponent (``5.74e-05`` is written ``0.0000574``, ``2.42e+09`` as
  ``2.42 billion``). JSON keeps full-precision floats; only text goes through here.
- Mass is auto-scaled: µg, mg, g, kg, t CO2eq (:func:`co2e`).
- Energy is auto-scaled within ONE family per output (:func:`energy_family`): the SI family
  mJ/J/kJ/MJ when the output's total is under 1 Wh (a tiny demo run), else the watt-hour family
  Wh/kWh/MWh/GWh. A renderer picks the family once from the report's total energy and uses it for
  every figure it prints, so one output never mixes "3.68 J" with "0.001 Wh".
- The SCI headline follows the SCER template ``[Decimal Value] gCO2eq per [Functional Unit]``, with
  the functional unit scaled (1 / 1,000 / 1 million / 1 billion / 1 trillion) so that the value reads
  between 1 and 1,000 (:func:`sci_display`).

Core layer: standard library only.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

__all__ = ["num", "exact", "count", "duration", "quantity", "unit_text", "co2e", "energy", "energy_family", "percent", "plural", "sci_display", "per_text", "coverage",
           "EXPONENT_RE"]

import re

# what a person must never see: a digit followed by an exponent marker (5.7e-05, 2E+09, 1e6)
EXPONENT_RE = re.compile(r"\d[eE][+-]?\d")

_BIG = ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"))


def _plain(x: float, digits: int) -> str:
    """*x* rounded to *digits* significant digits, positional, thousands separated, no trailing zeros."""
    if x == 0:
        return "0"
    ax = abs(x)
    mag = math.floor(math.log10(ax))
    decimals = max(0, digits - 1 - mag)
    if decimals == 0:  # 273,114 -> 273,000: significant digits, not all the integer digits
        x = round(x, digits - 1 - mag)
    s = f"{x:,.{decimals}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    # rounding can carry into a new digit (999.6 -> "1,000"): fine, still no exponent
    return "0" if s in ("-0", "") else s


def num(x: Any, digits: int = 3) -> str:
    """A number for people: 3 significant digits, never an exponent; "n/a" when not a finite number.

    ``0.0000574``, ``0.12``, ``57.4``, ``273,000``, ``2.42 billion``.
    """
    if x is None or isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return "n/a"
    x = float(x)
    for i, (base, word) in enumerate(_BIG):
        if abs(x) >= base:
            v = _plain(x / base, digits)
            if i > 0 and v.lstrip("-") == "1,000":  # 999.9 million rounds to 1 billion
                return f"{'-' if x < 0 else ''}1 {_BIG[i - 1][1]}"
            return f"{v} {word}"
    if abs(x) >= 1e6 * (1 - 0.5 * 10 ** (-digits)):
        return f"{'-' if x < 0 else ''}1 million"
    return _plain(x, digits)


def exact(x: Any) -> str:
    """A float at full precision, positional (``0.00005722369018235059``): for mismatch messages, where the
    digits matter, still without an exponent. Non-floats as ``repr``."""
    if isinstance(x, bool) or not isinstance(x, float) or not math.isfinite(x):
        return repr(x)
    from decimal import Decimal  # noqa: PLC0415

    s = format(Decimal(repr(x)), "f")
    return s


def count(n: Any) -> str:
    """A whole count with thousands separators (``16,384``); large counts in words (``16.4 million``)."""
    if n is None or isinstance(n, bool) or not isinstance(n, (int, float)) or not math.isfinite(n):
        return "n/a"
    if abs(n) >= 1e6:
        return num(n)
    if float(n).is_integer():
        return f"{int(n):,}"
    return num(n)


def percent(fraction: Any, digits: int = 3) -> str:
    """``0.401`` -> ``"40.1%"``."""
    if fraction is None or not isinstance(fraction, (int, float)) or not math.isfinite(fraction):
        return "n/a"
    return f"{num(100.0 * fraction, digits)}%"


def plural(n: float, word: str, many: str | None = None) -> str:
    """``1 device-hour``, ``2 device-hours`` (the number formatted with :func:`num`)."""
    return f"{num(n)} {word if n == 1 else (many or word + 's')}"


_MASS = ((1e6, "t"), (1e3, "kg"), (1.0, "g"), (1e-3, "mg"), (1e-6, "\u00b5g"))


def co2e(g: Any, suffix: str = "CO2eq") -> str:
    """Grams of CO2e, auto-scaled: ``57.2 µgCO2eq``, ``273 kgCO2eq``, ``4,760 tCO2eq``."""
    if g is None or isinstance(g, bool) or not isinstance(g, (int, float)) or not math.isfinite(g):
        return "n/a"
    if g == 0:
        return f"0 g{suffix}"
    ag = abs(g)
    for base, unit in _MASS:
        if ag >= base * 0.9995 or base == 1e-6:
            return f"{num(g / base)} {unit}{suffix}"
    raise AssertionError("unreachable")


WH_J = 3600.0
_FAMILIES = {
    "J": ((1e12, "TJ"), (1e9, "GJ"), (1e6, "MJ"), (1e3, "kJ"), (1.0, "J"), (1e-3, "mJ")),
    "Wh": ((1e9 * WH_J, "GWh"), (1e6 * WH_J, "MWh"), (1e3 * WH_J, "kWh"), (WH_J, "Wh")),
}


def energy_family(total_j: Any) -> str:
    """The unit family of one output, chosen from its total energy: ``"J"`` under 1 Wh, else ``"Wh"``."""
    if isinstance(total_j, (int, float)) and math.isfinite(total_j) and abs(total_j) >= WH_J:
        return "Wh"
    return "J"


def energy(j: Any, family: str | None = None) -> str:
    """Joules as text in *family* (``"J"`` or ``"Wh"``; default: :func:`energy_family` of *j*).

    Within a family the prefix is auto-scaled: ``3.68 J``, ``672 kWh``, ``12.6 GWh``.
    """
    if j is None or isinstance(j, bool) or not isinstance(j, (int, float)) or not math.isfinite(j):
        return "n/a"
    fam = _FAMILIES[family or energy_family(j)]
    if j == 0:
        return f"0 {fam[-2][1] if len(fam) > 2 and fam[-2][0] == 1.0 else fam[-1][1]}"
    aj = abs(j)
    for base, unit in fam:
        if aj >= base * 0.9995:
            return f"{num(j / base)} {unit}"
    base, unit = fam[-1]
    return f"{num(j / base)} {unit}"


def duration(s: Any) -> str:
    """Seconds for people: ``42.1 s``, ``12.5 min``, ``1,000 h``."""
    if s is None or isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s):
        return "n/a"
    if abs(s) < 120:
        return f"{num(s)} s"
    if abs(s) < 7200:
        return f"{num(s / 60)} min"
    return f"{num(s / 3600)} h"


def unit_text(unit: Any) -> str:
    """A unit as people read it: ``Wh per 10^15 parameter-tokens`` -> ``Wh per 1 quadrillion parameter-tokens``."""
    return "" if unit is None else str(unit).replace("per 10^15 ", "per 1 quadrillion ")


def quantity(value: Any, unit: str | None, family: str | None = None) -> str:
    """A value in a rating unit, readable: ``(12600, "MWh (training energy ...)")`` -> ``12.6 GWh (training ...)``.

    Units starting ``MWh`` are shown as energy (in *family*), ``t CO2e`` as mass; others as ``num unit``.
    """
    unit = str(unit or "")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "n/a"
    if unit.startswith("MWh"):
        return f"{energy(value * 3.6e9, family)}{unit[3:]}"
    if unit.startswith("t CO2e"):
        return f"{co2e(value * 1e6, 'CO2e')}{unit[6:]}"
    return f"{num(value)} {unit_text(unit)}".strip()


# ------------------------------------------------------------------ SCI headline ------
_SCALES = ((1.0, ""), (1e3, "1,000"), (1e6, "1 million"), (1e9, "1 billion"), (1e12, "1 trillion"))
_PLURALS = {"query": "queries", "sample": "samples", "token": "tokens", "training token": "training tokens",
            "output token": "output tokens"}
_SINGULAR = {v: k for k, v in _PLURALS.items()}


def _noun(functional_unit: str, scale: float) -> tuple[str, str] | None:
    """(singular, plural) of one functional unit, or None when it is not a countable noun we can rescale."""
    name = functional_unit.strip()
    for _, words in _SCALES[1:]:
        if name.startswith(words + " "):
            name = name[len(words) + 1:]
            break
    if name in _SINGULAR:
        return _SINGULAR[name], name
    if name in _PLURALS:
        return name, _PLURALS[name]
    return None


def per_text(per: float, singular: str, plural_: str) -> str:
    """``"query"``, ``"1,000 queries"``, ``"1 billion training tokens"``."""
    for s, words in _SCALES:
        if s == per:
            return singular if s == 1.0 else f"{words} {plural_}"
    return f"{num(per)} {plural_}"


def sci_display(sci: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """How the SCI headline is shown: the functional unit rescaled so the value reads 1 to 1,000.

    ``{"value": 57.4 (full precision), "per": 1e9, "functional_unit": "1 billion training tokens",
    "unit": "gCO2eq per 1 billion training tokens", "text": "57.4 gCO2eq per 1 billion training tokens"}``.
    Units that are not a countable noun (``PFLOP``) keep their own scale.
    """
    if not sci or not isinstance(sci.get("value"), (int, float)):
        return None
    value, fu = float(sci["value"]), str(sci.get("functional_unit") or "")
    scale = float(sci.get("scale") or 1.0)
    noun = _noun(fu, scale)
    if noun is None or value <= 0 or not math.isfinite(value):
        disp_fu, disp_v, per = fu, value, scale
    else:
        per_one = value / scale
        per = _SCALES[-1][0]
        for s, _ in _SCALES:
            if per_one * s >= 0.9995:
                per = s
                break
        disp_v, disp_fu = per_one * per, per_text(per, *noun)
    unit = f"gCO2eq per {disp_fu}"
    return {"value": disp_v, "per": per, "functional_unit": disp_fu, "unit": unit, "text": f"{num(disp_v)} {unit}"}


def coverage(fraction: Any) -> str:
    """A measured share: ``92.3%``; floored, so anything short of full coverage never reads ``100%``."""
    if fraction is None or not isinstance(fraction, (int, float)) or not math.isfinite(fraction):
        return "n/a"
    if fraction >= 1.0:
        return "100%"
    pct = math.floor(max(fraction, 0.0) * 1000.0) / 10.0
    return f"{pct:.1f}%".replace(".0%", "%") if pct >= 10 else f"{pct:.1f}%"
