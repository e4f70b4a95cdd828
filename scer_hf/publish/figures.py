"""The headline figures of one report, as every output shows them: label, card, HTML report and CLI.

One place builds the texts (through :mod:`scer_hf.core.fmt`) so the four outputs cannot disagree, and each
text says its scope where two figures differ: IT energy vs with PUE, operational vs with embodied.
Publish layer (reads report and rating dicts; imports only :mod:`scer_hf.core.fmt`).
"""

from __future__ import annotations

from typing import Any, Mapping

from ..core import fmt as _fmt

__all__ = ["scope_texts", "scope_line", "rating_value_text", "coverage_texts"]


def coverage_texts(d: Mapping[str, Any]) -> dict[str, Any]:
    """What every output says about coverage (nothing at full coverage): the measured share, the filled energy,
    and, below the threshold, why there is no headline figure."""
    cov = d.get("coverage") or {}
    frac = cov.get("measured_fraction", 1.0)
    frac = float(frac) if isinstance(frac, (int, float)) else 1.0
    headline = bool(cov.get("headline", d.get("energy_j") is not None))
    filled = float(cov.get("filled_j") or 0.0)
    out: dict[str, Any] = {"coverage": frac, "coverage_pct": _fmt.coverage(frac), "headline": headline,
                           "threshold": float(cov.get("threshold", 0.9)),
                           "coverage_text": None, "coverage_short": None, "no_headline_text": None}
    if frac >= 1.0 and headline:
        return out
    threshold = _fmt.coverage(float(cov.get("threshold", 0.9)))
    measured = f"{_fmt.coverage(frac)} of the run measured"
    if headline:
        fam = _fmt.energy_family(d.get("energy_j"))
        out["coverage_short"] = f"Coverage {_fmt.coverage(frac)}, rest filled"
        out["coverage_text"] = (f"{measured}; {_fmt.energy(filled, fam)} filled at the power measured around the "
                                "gaps (scer-hf fill rule)" if filled > 0 else measured)
    else:
        out["coverage_short"] = f"Coverage {_fmt.coverage(frac)}: no total"
        out["coverage_text"] = (f"{measured}, {threshold} needed for a total" if frac < out["threshold"]
                                else f"{measured}, but a gap cannot be filled")
        out["no_headline_text"] = f"only {_fmt.coverage(frac)} of the run was measured, {threshold} needed" \
            if frac < out["threshold"] else "a part of the run that was never measured cannot be filled"
    return out


def scope_texts(d: Mapping[str, Any]) -> dict[str, Any]:
    """The headline figures of one report as every output shows them (label, card, HTML, CLI).

    One energy family per output (:func:`scer_hf.core.fmt.energy_family` of the total); energy is IT energy,
    CO2eq is operational (PUE applied); embodied emissions and the PUE are named where they apply.
    """
    sci = d.get("sci")
    disp = _fmt.sci_display(sci)
    cov = coverage_texts(d)
    e = d.get("energy_j")
    fam = _fmt.energy_family(e if e is not None else (d.get("coverage") or {}).get("measured_j"))
    pue = float((d.get("carbon") or {}).get("pue") or 1.0)
    emb = d.get("embodied_g")
    total_g = float(d["co2e_g"]) + float(emb or 0.0) if d.get("co2e_g") is not None else None
    unc = (d.get("uncertainty") or {}).get("sci")
    none = cov["no_headline_text"]
    return {
        **cov,
        "energy_family": fam,
        "sci_display": disp,
        "sci_text": disp["text"] if disp else (f"no SCI: {none}" if none else "no SCI: no functional units counted"),
        "sci_unit_shown": disp["unit"] if disp else None,
        "sci_value_text": _fmt.num(disp["value"]) if disp else None,
        "sci_unc_text": (_fmt.num(unc * disp["value"] / sci["value"]) if disp and unc and sci["value"] else None),
        "energy_text": _fmt.energy(e, fam) if e is not None else "not measured",
        "energy_pue_text": _fmt.energy(e * pue, fam) if pue != 1.0 and e is not None else None,
        "pue": pue,
        "co2e_text": _fmt.co2e(d["co2e_g"]) if d.get("co2e_g") is not None else "not measured",
        "embodied_text": _fmt.co2e(emb) if emb is not None else None,
        "total_co2e_g": total_g,
        "total_co2e_text": _fmt.co2e(total_g) if total_g is not None else "not measured",
        "equivalent_scope": "operational + embodied" if emb is not None else "operational",
    }


def scope_line(tx: Mapping[str, Any]) -> str:
    """``11.5 GWh IT energy (12.6 GWh with PUE 1.1), 4,660 tCO2eq operational + 102 tCO2eq embodied``."""
    if not tx.get("headline", True):
        return "no energy or CO2eq total: " + str(tx.get("no_headline_text"))
    s = tx["energy_text"] + (f" IT energy ({tx['energy_pue_text']} with PUE {_fmt.num(tx['pue'])})"
                             if tx["energy_pue_text"] else " energy")
    s += f", {tx['co2e_text']} operational"
    return s + (f" + {tx['embodied_text']} embodied = {tx['total_co2e_text']}" if tx["embodied_text"] else "")


def rating_value_text(pr: Mapping[str, Any], fam: str = "Wh") -> str:
    """A rating's value with its unit, readable: ``739 kWh (training energy with PUE 1.1, not normalised)``."""
    return _fmt.quantity(pr.get("value"), pr.get("unit"), fam)
