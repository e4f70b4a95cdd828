"""The headline figures of one report, as every output shows them: label, card, HTML report and CLI.

One place builds the texts (through :mod:`scer_hf.core.fmt`) so the four outputs cannot disagree, and each
text says its scope where two figures differ: IT energy vs with PUE, operational vs with embodied.
Publish layer (reads report and rating dicts; imports only :mod:`scer_hf.core.fmt`).
"""

from __future__ import annotations

from typing import Any, Mapping

from ..core import fmt as _fmt

__all__ = ["scope_texts", "scope_line", "rating_value_text"]


def scope_texts(d: Mapping[str, Any]) -> dict[str, Any]:
    """The headline figures of one report as every output shows them (label, card, HTML, CLI).

    One energy family per output (:func:`scer_hf.core.fmt.energy_family` of the total); energy is IT energy,
    CO2eq is operational (PUE applied); embodied emissions and the PUE are named where they apply.
    """
    sci = d.get("sci")
    disp = _fmt.sci_display(sci)
    fam = _fmt.energy_family(d["energy_j"])
    pue = float((d.get("carbon") or {}).get("pue") or 1.0)
    emb = d.get("embodied_g")
    total_g = float(d["co2e_g"]) + float(emb or 0.0)
    unc = (d.get("uncertainty") or {}).get("sci")
    return {
        "energy_family": fam,
        "sci_display": disp,
        "sci_text": disp["text"] if disp else "no SCI: no functional units counted",
        "sci_unit_shown": disp["unit"] if disp else None,
        "sci_value_text": _fmt.num(disp["value"]) if disp else None,
        "sci_unc_text": (_fmt.num(unc * disp["value"] / sci["value"]) if disp and unc and sci["value"] else None),
        "energy_text": _fmt.energy(d["energy_j"], fam),
        "energy_pue_text": _fmt.energy(d["energy_j"] * pue, fam) if pue != 1.0 else None,
        "pue": pue,
        "co2e_text": _fmt.co2e(d["co2e_g"]),
        "embodied_text": _fmt.co2e(emb) if emb is not None else None,
        "total_co2e_g": total_g,
        "total_co2e_text": _fmt.co2e(total_g),
        "equivalent_scope": "operational + embodied" if emb is not None else "operational",
    }


def scope_line(tx: Mapping[str, Any]) -> str:
    """``11.5 GWh IT energy (12.6 GWh with PUE 1.1), 4,660 tCO2eq operational + 102 tCO2eq embodied``."""
    s = tx["energy_text"] + (f" IT energy ({tx['energy_pue_text']} with PUE {_fmt.num(tx['pue'])})"
                             if tx["energy_pue_text"] else " energy")
    s += f", {tx['co2e_text']} operational"
    return s + (f" + {tx['embodied_text']} embodied = {tx['total_co2e_text']}" if tx["embodied_text"] else "")


def rating_value_text(pr: Mapping[str, Any], fam: str = "Wh") -> str:
    """A rating's value with its unit, readable: ``739 kWh (training energy with PUE 1.1, not normalised)``."""
    return _fmt.quantity(pr.get("value"), pr.get("unit"), fam)
