"""Every number a person reads: one formatter for the CLI, label, card, HTML report and badge.

Rules (issue 14):

- 3 significant digits; never an exponent (``5.74e-05`` is written ``0.0000574``, ``2.42e+09`` as
  ``2.42 billion``). JSON keeps full-precision floats; only text goes through here.
- Mass is auto-scaled: µg, mg, g, kg, t CO2eq (:func:`co2e`).
- Energy is auto-scaled within ONE family per output (:func:`energy_family`): the SI family
  mJ/J/kJ/MJ when the output's total is under 1 Wh (a tiny demo run), else the watt-hour family
  Wh/kWh/MWh/GWh. A renderer picks the family once from the report's total energy and uses it for
  every figure it prints, so one output never mixes "3.68 J" with "0.001 Wh".
- The SCI headline follows the SCER template ``[Decimal Value] gCO2eq per [Functional Unit]``, each
  functional unit in ONE fixed scale (:data:`FU_SCALES`: per 1 million training, output or other tokens,
  per 1,000 queries or samples, per PFLOP), the scale the report's JSON records too; a report written
  with another scale is shown converted to it (:func:`sci_display`).
- One spelling per unit: ``gCO2eq``, ``tCO2eq``, ``gCO2eq per kWh``, ``per 1 quadrillion`` (:func:`unit_text`
  turns the other spellings found in data into these).

Core layer: standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["num", "exact", "count", "duration", "quantity", "unit_text", "co2e", "energy", "energy_family", "percent",
           "plural", "sci_display", "per_text", "published", "grid", "fu_text", "coverage", "FU_SCALES", "GRID_UNIT",
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


def _finite(x: Any) -> bool:
    """Whether *x* is a finite int or float (None, a bool or a string is not a figure)."""
    return not isinstance(x, bool) and isinstance(x, (int, float)) and math.isfinite(x)


def num(x: Any, digits: int = 3) -> str:
    """A number for people: 3 significant digits, never an exponent; "n/a" when not a finite number.

    ``0.0000574``, ``0.12``, ``57.4``, ``273,000``, ``2.42 billion``.
    """
    if not _finite(x):
        return "n/a"
    x = float(x)
    return _in_words(x, digits) or _plain(x, digits)


def _in_words(x: float, digits: int) -> str | None:
    """*x* as a number of millions, billions, ... (``2.42 billion``); None under a million once rounded."""
    for i, (base, word) in enumerate(_BIG):
        if abs(x) >= base:
            v = _plain(x / base, digits)
            if i > 0 and v.lstrip("-") == "1,000":  # 999.9 million rounds to 1 billion
                return f"{'-' if x < 0 else ''}1 {_BIG[i - 1][1]}"
            return f"{v} {word}"
    if abs(x) >= 1e6 * (1 - 0.5 * 10 ** (-digits)):
        return f"{'-' if x < 0 else ''}1 million"
    return None


def exact(x: Any) -> str:
    """A float at full precision, positional (``0.00005722369018235059``): for mismatch messages, where the
    digits matter, still without an exponent. Non-floats as ``repr``."""
    if isinstance(x, bool) or not isinstance(x, float) or not math.isfinite(x):
        return repr(x)
    from decimal import Decimal

    return format(Decimal(repr(x)), "f")


def count(n: Any) -> str:
    """A whole count with thousands separators (``16,384``); large counts in words (``16.4 million``)."""
    if not _finite(n):
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
    if not _finite(g):
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
    if not _finite(j):
        return "n/a"
    fam = _FAMILIES[family or energy_family(j)]
    if j == 0:
        return f"0 {_zero_unit(fam)}"
    base, unit = next(((b, u) for b, u in fam if abs(j) >= b * 0.9995), fam[-1])
    return f"{num(j / base)} {unit}"


def _zero_unit(fam: Sequence[tuple[float, str]]) -> str:
    """The unit a zero is shown in: the family's base unit (J) when it has one below it, else its smallest."""
    return fam[-2][1] if len(fam) > 2 and fam[-2][0] == 1.0 else fam[-1][1]


def duration(s: Any) -> str:
    """Seconds for people: ``42.1 s``, ``12.5 min``, ``1,000 h``."""
    if not _finite(s):
        return "n/a"
    if abs(s) < 120:
        return f"{num(s)} s"
    if abs(s) < 7200:
        return f"{num(s / 60)} min"
    return f"{num(s / 3600)} h"


GRID_UNIT = "gCO2eq per kWh"
#: other spellings found in data and older files -> the one spelling people see
_SPELLINGS = ((re.compile(r"\bper 10\^15 "), "per 1 quadrillion "),
              (re.compile(r"(?<![A-Za-z])([µmk]?g) ?CO2e?(?:q)?(?: ?/ ?| per )kWh\b"), r"\1CO2eq per kWh"),
              (re.compile(r"(?<![A-Za-z])([µmkt]?g) CO2e(?:q)?\b"), r"\1CO2eq"),
              (re.compile(r"(?<![A-Za-z])t CO2e(?:q)?\b"), "tCO2eq"),
              (re.compile(r"(?<![A-Za-z])([µmkt]?g)CO2e(?!q)\b"), r"\1CO2eq"))


def unit_text(unit: Any) -> str:
    """A unit as people read it, in the one spelling: ``Wh per 10^15 parameter-tokens`` -> ``Wh per 1 quadrillion
    parameter-tokens``, ``g CO2e per 1,000 queries`` -> ``gCO2eq per 1,000 queries``, ``gCO2e/kWh`` ->
    ``gCO2eq per kWh``."""
    if unit is None:
        return ""
    s = str(unit)
    for pattern, repl in _SPELLINGS:
        s = pattern.sub(repl, s)
    return s


def grid(g_per_kwh: Any) -> str:
    """A grid intensity: ``56 gCO2eq per kWh``."""
    return f"{num(g_per_kwh)} {GRID_UNIT}"


def published(x: Any) -> str:
    """A published figure with the digits its source gives (never rounded: a quote), thousands separated and
    never an exponent: ``31.22``, ``184,320``, ``433.196``, ``1,300,000``; "n/a" when not a number."""
    if not _finite(x):
        return "n/a"
    from decimal import Decimal

    s = format(Decimal(repr(float(x))), ",f")
    return s.rstrip("0").rstrip(".") if "." in s else s


_MASS_UNIT = re.compile(r"^(?:t CO2e|tCO2eq|tCO2e)(?![A-Za-z])")
_GRAM_UNIT = re.compile(r"^(?:g CO2e|gCO2eq|gCO2e)(?![A-Za-z])")


def quantity(value: Any, unit: str | None, family: str | None = None) -> str:
    """A value in a rating unit, readable: ``(12600, "MWh (training energy ...)")`` -> ``12.6 GWh (training ...)``.

    Units starting ``MWh`` are shown as energy (in *family*), ``tCO2eq``/``gCO2eq`` totals as mass; others as
    ``num unit``, in the one spelling (:func:`unit_text`).
    """
    unit = str(unit or "")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "n/a"
    if unit.startswith("MWh"):
        return f"{energy(value * 3.6e9, family)}{unit_text(unit[3:])}"
    for pattern, grams in ((_MASS_UNIT, 1e6), (_GRAM_UNIT, 1.0)):
        m = pattern.match(unit)
        if m and not unit[m.end():].lstrip().startswith("per "):  # a total, not a figure per unit
            return f"{co2e(value * grams)}{unit_text(unit[m.end():])}"
    return f"{num(value)} {unit_text(unit)}".strip()


# ------------------------------------------------------------------ SCI headline ------
_SCALES = ((1.0, ""), (1e3, "1,000"), (1e6, "1 million"), (1e9, "1 billion"), (1e12, "1 trillion"))
_PLURALS = {"query": "queries", "sample": "samples", "token": "tokens", "training token": "training tokens",
            "output token": "output tokens"}
_SINGULAR = {v: k for k, v in _PLURALS.items()}
#: THE scale of each functional unit, in the JSON (``scer_hf.core.sci.FUNCTIONAL_UNITS``) and every display:
#: tokens per 1 million (a fine-tune on one GPU and a pre-training run both read 0.01 to 1,000 g), queries and
#: samples per 1,000 (the AI Energy Score convention: Wh per 1,000 queries), FLOPs per PFLOP.
FU_SCALES: dict[str, float] = {"training token": 1e6, "output token": 1e6, "token": 1e6, "query": 1e3,
                               "sample": 1e3}


def _noun(functional_unit: str) -> tuple[str, str] | None:
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
    """``"query"``, ``"1,000 queries"``, ``"1 million training tokens"``."""
    for s, words in _SCALES:
        if s == per:
            return singular if s == 1.0 else f"{words} {plural_}"
    return f"{num(per)} {plural_}"


def fu_text(singular: str) -> str:
    """The functional unit in its fixed scale: ``fu_text("query")`` -> ``"1,000 queries"``."""
    return per_text(FU_SCALES.get(singular, 1.0), singular, _PLURALS.get(singular, singular + "s"))


def sci_display(sci: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """How the SCI headline is shown: in the functional unit's fixed scale (:data:`FU_SCALES`).

    ``{"value": 0.0574 (full precision), "per": 1e6, "functional_unit": "1 million training tokens",
    "unit": "gCO2eq per 1 million training tokens", "text": "0.0574 gCO2eq per 1 million training tokens"}``.
    A report written at that scale is shown as recorded; one written at another (``1,000 training tokens``)
    is converted. Units that are not a countable noun (``PFLOP``) keep their own scale.
    """
    if not sci or not isinstance(sci.get("value"), (int, float)):
        return None
    value, fu = float(sci["value"]), str(sci.get("functional_unit") or "")
    scale = float(sci.get("scale") or 1.0)
    noun = _noun(fu)
    if noun is None or not math.isfinite(value):
        disp_fu, disp_v, per = fu, value, scale
    else:
        per = FU_SCALES.get(noun[0], scale)
        disp_v, disp_fu = value / scale * per, per_text(per, *noun)
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
