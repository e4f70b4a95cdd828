"""Live grid intensity over a run, from the Electricity Maps API (optional, off by default).

``GET {base_url}/v3/carbon-intensity/latest?zone=ZONE`` with the token in the
``auth-token`` header (Electricity Maps API v3). The answer's ``carbonIntensity``
(g CO2e/kWh), ``datetime``, ``emissionFactorType`` (``lifecycle``/``direct``) and
``isEstimated`` are recorded for every reading. Electricity Maps' carbon intensity is a
location-based *average* (consumption-based) figure, which SCI allows; a response that
declares itself market-based is refused (SCI excludes market-based figures).

Readings are taken at window edges (phase starts and ends) and at report flushes, at most
one per ``min_interval_s``. Each phase's intensity is the time-weighted mean of the
readings over the phase (a reading holds until the next); the run's intensity is the
energy-weighted mean of the top-level phases, so total CO2e = sum of phase CO2e.

Timeouts are short; any failure (unreachable, HTTP error, bad answer, market-based) warns
once and falls back to the annual figure for that reading, and the fallback is recorded.
The token is sent in the header only: it never appears in a report, log, warning or error.
"""

from __future__ import annotations

import json
import math
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
import warnings
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Sequence

from .carbon import CarbonIntensity
from ..errors import LiveIntensityError
from .meters.base import now_s

__all__ = ["LiveIntensity", "make_live", "phase_dicts", "TOKEN_ENV", "DEFAULT_URL"]

TOKEN_ENV = "ELECTRICITYMAPS_API_TOKEN"
DEFAULT_URL = "https://api.electricitymaps.com"
SOURCE = "Electricity Maps API v3 carbon-intensity/latest"


class LiveIntensity:
    """Reads the zone's intensity during a run; see the module docstring.

    Args:
        zone: Electricity Maps zone, e.g. ``"NL"``, ``"DE"``, ``"US-CAL-CISO"``.
        token: API token (default: the ``ELECTRICITYMAPS_API_TOKEN`` environment variable).
        base_url: API root (tests point it at a fake server on 127.0.0.1).
        timeout_s: per-request timeout; min_interval_s: at most one request this often.
    """

    def __init__(self, zone: str, token: str | None = None, *, base_url: str = DEFAULT_URL,
                 timeout_s: float = 2.0, min_interval_s: float = 60.0, emission_factor_type: str | None = None,
                 clock: Any = None) -> None:
        if not isinstance(zone, str) or not zone.strip():
            raise LiveIntensityError(f"zone={zone!r}: name an Electricity Maps zone, e.g. 'NL' or 'US-CAL-CISO'")
        self.zone = zone.strip()
        self._token = token if token is not None else os.environ.get(TOKEN_ENV)
        if not self._token:
            raise LiveIntensityError(f"live intensity needs an Electricity Maps token: pass token=... or set {TOKEN_ENV}")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = float(timeout_s)
        self.min_interval_s = float(min_interval_s)
        self.emission_factor_type = emission_factor_type
        self._clock = clock or now_s
        self.annual: CarbonIntensity | None = None
        self.samples: list[dict[str, Any]] = []
        self.fallbacks: list[dict[str, Any]] = []
        self._warned = False
        self._last_t: float | None = None
        self._lock = threading.Lock()
        self._pending: list[threading.Thread] = []

    def __repr__(self) -> str:  # never the token
        return f"<LiveIntensity zone={self.zone!r} samples={len(self.samples)} fallbacks={len(self.fallbacks)}>"

    # -- reading -------------------------------------------------------------------------
    def _fetch(self) -> dict[str, Any]:
        q = {"zone": self.zone}
        if self.emission_factor_type:
            q["emissionFactorType"] = self.emission_factor_type
        url = f"{self.base_url}/v3/carbon-intensity/latest?{urllib.parse.urlencode(q)}"
        req = urllib.request.Request(url, headers={"auth-token": self._token, "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # noqa: S310 - http(s) only
                body = json.loads(resp.read(65536).decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise LiveIntensityError(f"HTTP {exc.code} from {SOURCE}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise LiveIntensityError(f"{SOURCE} unreachable or unreadable ({type(reason).__name__})") from None
        g = body.get("carbonIntensity") if isinstance(body, dict) else None
        if not isinstance(g, (int, float)) or isinstance(g, bool) or not math.isfinite(g) or g < 0:
            raise LiveIntensityError(f"{SOURCE} gave no usable carbonIntensity")
        kinds = " ".join(str(body.get(k, "")) for k in ("emissionFactorType", "signal", "accountingMethod", "type"))
        if "market" in kinds.lower():
            raise LiveIntensityError(f"{SOURCE} gave a market-based figure; SCI excludes market-based intensity")
        signal = "marginal" if "marginal" in kinds.lower() else "average"
        return {"g_per_kwh": float(g), "datetime": body.get("datetime"), "zone": body.get("zone", self.zone),
                "emission_factor_type": body.get("emissionFactorType"), "is_estimated": body.get("isEstimated"),
                "estimation_method": body.get("estimationMethod"), "signal": signal}

    def observe(self, t_s: float | None = None, *, label: str = "edge", force: bool = False) -> None:
        """Ask for one reading at time *t_s* (rate-limited unless *force*). Never raises, never waits.

        The request runs in a daemon thread: a window edge (a training step, a served call) never waits on the
        network. The reading is stamped with *t_s*; :meth:`settle` (called by :meth:`apply`) waits for it."""
        t = self._clock() if t_s is None else float(t_s)
        with self._lock:
            if not force and self._last_t is not None and t - self._last_t < self.min_interval_s:
                return
            self._last_t = t
            th = threading.Thread(target=self._take, args=(t, label), name="scer-live-intensity", daemon=True)
            self._pending.append(th)
        th.start()

    def settle(self) -> None:
        """Wait for the readings asked for so far (each at most its timeout)."""
        with self._lock:
            pending, self._pending = self._pending, []
        for th in pending:
            th.join(self.timeout_s + 1.0)

    def _take(self, t: float, label: str) -> None:
        at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        try:
            s = self._fetch()
        except LiveIntensityError as exc:
            self._fallback(t, at, label, str(exc))
            return
        except Exception as exc:  # measurement never breaks the run
            self._fallback(t, at, label, f"{type(exc).__name__}")
            return
        self.samples.append({"t_s": t, "read_at": at, "label": label, **s})

    def _fallback(self, t: float, at: str, label: str, why: str) -> None:
        why = why.replace(self._token, "<token>") if self._token else why
        g = self.annual.g_per_kwh if self.annual else None
        self.fallbacks.append({"t_s": t, "read_at": at, "label": label, "reason": why, "g_per_kwh": g})
        if not self._warned:
            self._warned = True
            warnings.warn(f"scer-hf: live grid intensity failed ({why}); using the annual figure "
                          f"({g} g/kWh) where readings are missing; the fallback is recorded in the report",
                          UserWarning, stacklevel=3)

    # -- applying ------------------------------------------------------------------------
    def _points(self) -> list[tuple[float, float]]:
        pts = [(s["t_s"], s["g_per_kwh"]) for s in self.samples]
        if self.annual is not None:
            pts += [(f["t_s"], self.annual.g_per_kwh) for f in self.fallbacks]
        return sorted(pts)

    def phase_g_per_kwh(self, start_s: float, end_s: float) -> float | None:
        """Time-weighted mean intensity over [start_s, end_s] (a reading holds until the next)."""
        pts = self._points()
        if not pts:
            return None
        before = [g for t, g in pts if t <= start_s]
        level = before[-1] if before else pts[0][1]
        if end_s <= start_s:
            inside = [g for t, g in pts if start_s <= t <= end_s]
            return inside[-1] if inside else level
        total, t_prev = 0.0, start_s
        for t, g in pts:
            if t <= start_s:
                continue
            if t >= end_s:
                break
            total += level * (t - t_prev)
            t_prev, level = t, g
        total += level * (end_s - t_prev)
        return total / (end_s - start_s)

    def apply(self, phases: Sequence[Any], annual: CarbonIntensity) -> tuple[CarbonIntensity, dict[str, float]]:
        """(run intensity, {phase name: g/kWh}) for measured phases (Measurements)."""
        self.settle()
        self.annual = annual
        per = {}
        for m in phases:
            g = self.phase_g_per_kwh(m.start_s, m.end_s)
            per[m.name] = annual.g_per_kwh if g is None else g
        top = [m for m in phases if m.parent is None]
        e = sum(m.total_energy_j for m in top)
        run_g = sum(m.total_energy_j * per[m.name] for m in top) / e if e > 0 else (
            sum(per[m.name] for m in top) / len(top) if top else annual.g_per_kwh)
        if not self.samples:
            run_g = annual.g_per_kwh
        kinds = sorted({str(s.get("emission_factor_type")) for s in self.samples if s.get("emission_factor_type")})
        signals = sorted({s["signal"] for s in self.samples})
        block = {
            "source": SOURCE, "zone": self.zone, "samples": sorted(self.samples, key=_t_of),
            "fallbacks": sorted(self.fallbacks, key=_t_of),
            "phases": {k: v for k, v in per.items()}, "annual_g_per_kwh": annual.g_per_kwh,
            "annual_source": annual.source, "signal": "/".join(signals) or None,
            "emission_factor_type": "/".join(kinds) or None,
            "any_estimated": any(bool(s.get("is_estimated")) for s in self.samples),
            "rule": "phase: time-weighted mean of readings over the phase; run: energy-weighted mean of top-level "
                    "phases; missing readings use the annual figure",
        }
        if not self.samples:
            return replace(annual, live=block), per
        sig = block["signal"] or "average"
        ci = replace(annual, g_per_kwh=run_g, source=f"{SOURCE} (zone {self.zone}), energy-weighted over the run",
                     year=None, basis=f"location-based live {sig} intensity"
                     + (f" ({block['emission_factor_type']})" if block["emission_factor_type"] else ""), live=block)
        return ci, per



def _t_of(reading: dict[str, Any]) -> float:
    return reading["t_s"]  # readings arrive from threads, in any order


def make_live(arg: Any, annual: CarbonIntensity) -> LiveIntensity | None:
    """``None``/``False``: off. A zone string: live for that zone (token from the environment). A LiveIntensity: as is."""
    if arg is None or arg is False:
        return None
    live = arg if isinstance(arg, LiveIntensity) else LiveIntensity(str(arg)) if isinstance(arg, str) else None
    if live is None:
        raise LiveIntensityError(f"live_intensity={type(arg).__name__}: pass a zone name ('NL') or "
                                 "scer_hf.core.live_intensity.LiveIntensity(zone, token=...)")
    live.annual = annual
    return live


def phase_dicts(measurements: Sequence[Any], carbon: CarbonIntensity, per: dict[str, float],
                kinds: dict[str, str], boundary: str) -> list[dict[str, Any]]:
    """Report phases, each with its own live intensity (``carbon_g_per_kwh``) behind its CO2e."""
    from .report import phase_from_measurement

    out = []
    for m in measurements:
        g = per.get(m.name, carbon.g_per_kwh)
        d = phase_from_measurement(m, replace(carbon, g_per_kwh=g), kinds.get(m.name, boundary))
        d["carbon_g_per_kwh"] = g
        out.append(d)
    return out
