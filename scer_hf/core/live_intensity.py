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

Every request has a total deadline (``timeout_s``, the whole answer, not each read), reads at most
:data:`MAX_BODY_BYTES`, and follows a redirect only to the same origin, so the token never goes to another host.
An intensity outside :data:`scer_hf.core.bounds.GRID_G_PER_KWH` is refused. Any failure (unreachable, slow, HTTP
error, bad or implausible answer, market-based) warns once and falls back to the annual figure for that reading,
and the fallback is recorded; a report waits at most ``timeout_s`` + 0.5 s in all for readings still under way
(those are recorded as fallbacks). Only checked fields of an answer are kept (a number, a bool, an ISO time,
names of known form); the token never appears in a report, log, warning or error.

While serving, the state stays bounded (:mod:`scer_hf.core.live_series`): the readings are a downsampled step
series plus counts, the report lists at most 256 samples and 256 fallbacks (an even spread; ``sample_count`` and
``fallback_count`` say how many there were), and finished request threads are not kept.
"""

from __future__ import annotations

import os
import re
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, TypedDict

from .. import _read
from ..errors import InputFileError, LiveIntensityError
from .bounds import GRID_G_PER_KWH, within
from .carbon import CarbonIntensity
from .live_series import Kept, Series
from .meters.base import now_s
from .net import RefusedAnswer, get
from .records import FallbackRecord, LiveBlock, PhaseRecord, SampleRecord
from .views import top_level
from .warn import WarnOnce

__all__ = ["LiveIntensity", "LiveReading", "ReadingRecord", "LiveSample", "LiveFallback", "make_live", "phase_dicts",
           "TOKEN_ENV", "DEFAULT_URL", "MAX_BODY_BYTES", "MAX_IN_FLIGHT"]

TOKEN_ENV = "ELECTRICITYMAPS_API_TOKEN"
DEFAULT_URL = "https://api.electricitymaps.com"
SOURCE = "Electricity Maps API v3 carbon-intensity/latest"
MAX_BODY_BYTES = 64 * 1024   # an answer is a few hundred bytes
MAX_IN_FLIGHT = 8            # requests under way at once; an edge past that is not read (counted)
_ZONE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_ .-]{0,63}")
_FACTOR_TYPES = ("lifecycle", "direct")


class ReadingRecord(TypedDict):
    """The checked fields of one Electricity Maps answer (every other field of it is dropped)."""

    g_per_kwh: float
    datetime: str | None
    zone: str
    emission_factor_type: str | None  # "lifecycle" or "direct"
    is_estimated: bool | None
    estimation_method: str | None
    signal: str  # "average" or "marginal"


@dataclass(frozen=True)
class LiveReading:
    """One reading: the checked fields of an answer (:class:`ReadingRecord`), typed."""

    g_per_kwh: float
    datetime: str | None
    zone: str
    emission_factor_type: str | None
    is_estimated: bool | None
    estimation_method: str | None
    signal: str

    @classmethod
    def from_dict(cls, d: ReadingRecord) -> LiveReading:
        return cls(**d)


@dataclass(frozen=True)
class LiveSample:
    """One reading taken: when it was asked for (*t_s*, the run's clock), when it came, at which edge."""

    t_s: float
    read_at: str
    label: str
    reading: LiveReading

    def to_dict(self) -> SampleRecord:
        r = self.reading
        return {"t_s": self.t_s, "read_at": self.read_at, "label": self.label, "g_per_kwh": r.g_per_kwh,
                "datetime": r.datetime, "zone": r.zone, "emission_factor_type": r.emission_factor_type,
                "is_estimated": r.is_estimated, "estimation_method": r.estimation_method, "signal": r.signal}


@dataclass(frozen=True)
class LiveFallback:
    """One reading that failed, and why; *g_per_kwh* is the annual figure used (None while it is not known)."""

    t_s: float
    read_at: str
    label: str
    reason: str
    g_per_kwh: float | None

    def to_dict(self) -> FallbackRecord:
        return {"t_s": self.t_s, "read_at": self.read_at, "label": self.label, "reason": self.reason,
                "g_per_kwh": self.g_per_kwh}


class _Request:
    __slots__ = ("closed", "label", "t", "thread")

    def __init__(self, t: float, label: str) -> None:
        self.t, self.label, self.closed = t, label, False
        self.thread: threading.Thread | None = None


class LiveIntensity:
    """Reads the zone's intensity during a run; see the module docstring.

    Args:
        zone: Electricity Maps zone, e.g. ``"NL"``, ``"DE"``, ``"US-CAL-CISO"``.
        token: API token (default: the ``ELECTRICITYMAPS_API_TOKEN`` environment variable).
        base_url: API root (tests point it at a fake server on 127.0.0.1).
        timeout_s: total time for one request; min_interval_s: at most one request this often.
    """

    def __init__(self, zone: str, token: str | None = None, *, base_url: str = DEFAULT_URL,
                 timeout_s: float = 2.0, min_interval_s: float = 60.0, emission_factor_type: str | None = None,
                 clock: Any = None) -> None:
        if not isinstance(zone, str) or not _ZONE.fullmatch(zone.strip()):
            raise LiveIntensityError(f"zone={zone!r}: name an Electricity Maps zone, e.g. 'NL' or 'US-CAL-CISO'")
        self.zone = zone.strip()
        found = token if token is not None else os.environ.get(TOKEN_ENV)
        if not found:
            raise LiveIntensityError("live intensity needs an Electricity Maps token: pass token=... or set "
                                     f"{TOKEN_ENV}")
        self._token: str = found
        if urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):
            raise LiveIntensityError(f"base_url={base_url!r} must be an http(s) URL")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = float(timeout_s)
        self.min_interval_s = float(min_interval_s)
        self.emission_factor_type = emission_factor_type
        self._clock = clock or now_s
        self.annual: CarbonIntensity | None = None
        self._series = Series()
        self._samples: Kept[LiveSample] = Kept()
        self._fallbacks: Kept[LiveFallback] = Kept()
        self._kinds: set[str] = set()
        self._signals: set[str] = set()
        self._any_estimated = False
        self._skipped = 0
        self._warn = WarnOnce(UserWarning, "scer-hf: ")  # one warning per run, the fallbacks all recorded
        self._last_t: float | None = None
        self._lock = threading.Lock()
        self._pending: list[_Request] = []

    def __repr__(self) -> str:  # never the token
        return f"<LiveIntensity zone={self.zone!r} samples={len(self._samples)} fallbacks={len(self._fallbacks)}>"

    @property
    def samples(self) -> list[SampleRecord]:
        """The sample records kept for the report (at most 256: an even spread of all readings)."""
        return [s.to_dict() for s in self._samples.items]

    @property
    def fallbacks(self) -> list[FallbackRecord]:
        """The fallback records kept for the report (at most 256)."""
        return [f.to_dict() for f in self._fallbacks.items]

    # -- reading -------------------------------------------------------------------------
    def _fetch(self) -> ReadingRecord:
        q = {"zone": self.zone}
        if self.emission_factor_type:
            q["emissionFactorType"] = self.emission_factor_type
        url = f"{self.base_url}/v3/carbon-intensity/latest?{urllib.parse.urlencode(q)}"
        try:
            raw = get(url, {"auth-token": self._token, "Accept": "application/json"}, timeout_s=self.timeout_s,
                      max_bytes=MAX_BODY_BYTES)
            body = _read.loads_json(raw, where=f"the answer of {SOURCE}", what="carbon-intensity answer",
                                    finite=False, max_depth=8)
        except RefusedAnswer as exc:
            raise LiveIntensityError(f"{SOURCE}: {exc}") from None
        except InputFileError:
            raise LiveIntensityError(f"{SOURCE} gave an unreadable answer (not a small JSON object)") from None
        return self._checked(body)

    def _checked(self, body: Any) -> ReadingRecord:
        """The fields kept from one answer, each checked; a bad intensity refuses the whole reading."""
        if not isinstance(body, dict):
            body = {}
        g = _intensity(body)
        kinds = _kinds(body)
        if "market" in kinds:
            raise LiveIntensityError(f"{SOURCE} gave a market-based figure; SCI excludes market-based intensity")
        factor, estimated = body.get("emissionFactorType"), body.get("isEstimated")
        return {"g_per_kwh": g, "datetime": _iso_time(body.get("datetime")), "zone": self._zone_of(body.get("zone")),
                "emission_factor_type": factor if factor in _FACTOR_TYPES else None,
                "is_estimated": estimated if isinstance(estimated, bool) else None,
                "estimation_method": _name(body.get("estimationMethod"), self._clean),
                "signal": "marginal" if "marginal" in kinds else "average"}

    def _zone_of(self, zone: Any) -> str:
        """The zone the answer names when it is a zone name (and holds no token), else the zone asked for."""
        return zone if isinstance(zone, str) and _ZONE.fullmatch(zone) and self._clean(zone) else self.zone

    def _clean(self, s: str) -> bool:
        return self._token not in s

    def observe(self, t_s: float | None = None, *, label: str = "edge", force: bool = False) -> None:
        """Ask for one reading at time *t_s* (rate-limited unless *force*). Never raises, never waits.

        The request runs in a daemon thread: a window edge (a training step, a served call) never waits on the
        network. The reading is stamped with *t_s*; :meth:`settle` (called by :meth:`apply`) waits for it."""
        t = self._clock() if t_s is None else float(t_s)
        with self._lock:
            if not force and self._last_t is not None and t - self._last_t < self.min_interval_s:
                return
            self._pending = [r for r in self._pending if not r.closed]  # finished requests are not kept
            if len(self._pending) >= MAX_IN_FLIGHT:
                self._skipped += 1
                return
            self._last_t = t
            req = _Request(t, str(label)[:60])
            req.thread = threading.Thread(target=self._take, args=(req,), name="scer-live-intensity", daemon=True)
            self._pending.append(req)
        req.thread.start()

    def settle(self) -> None:
        """Wait for the readings asked for so far: ``timeout_s`` + 0.5 s in all, however many there are. A reading
        still under way then is recorded as a fallback (its late answer is dropped)."""
        deadline = time.monotonic() + self.timeout_s + 0.5
        with self._lock:
            pending = list(self._pending)
        for req in pending:
            if req.thread is not None:
                req.thread.join(max(0.0, deadline - time.monotonic()))
        for req in pending:
            self._close(req, None, f"no answer within {self.timeout_s:g} s")
        with self._lock:
            self._pending = [r for r in self._pending if not r.closed]

    def _take(self, req: _Request) -> None:
        try:
            s = LiveReading.from_dict(self._fetch())
        except LiveIntensityError as exc:
            self._close(req, None, str(exc))
        except Exception as exc:  # noqa: BLE001 - measurement never breaks the run
            self._close(req, None, f"{type(exc).__name__}")
        else:
            self._close(req, s, "")

    def _close(self, req: _Request, sample: LiveReading | None, why: str) -> None:
        """Record *req* once: its sample, or a fallback with *why* (a second close of it is ignored)."""
        at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._lock:
            if req.closed:
                return
            req.closed = True
            if sample is not None:
                self._series.add(req.t, sample.g_per_kwh)
                self._samples.add(LiveSample(req.t, at, req.label, sample))
                if sample.emission_factor_type:
                    self._kinds.add(sample.emission_factor_type)
                self._signals.add(sample.signal)
                self._any_estimated |= bool(sample.is_estimated)
                return
            why = why.replace(self._token, "<token>")[:200]
            g = self.annual.g_per_kwh if self.annual else None
            self._series.add(req.t, None)
            self._fallbacks.add(LiveFallback(req.t, at, req.label, why, g))
        self._warn("failed", f"live grid intensity failed ({why}); using the annual figure ({g} g/kWh) where "
                   "readings are missing; the fallback is recorded in the report", stacklevel=3)

    # -- applying ------------------------------------------------------------------------
    def phase_g_per_kwh(self, start_s: float, end_s: float) -> float | None:
        """Time-weighted mean intensity over [start_s, end_s] (a reading holds until the next)."""
        with self._lock:
            pts = self._series.levels(self.annual.g_per_kwh if self.annual else None)
        if not pts:
            return None
        level = _level_at(pts, start_s)
        if end_s <= start_s:  # an instant: the last reading at it, else the level holding then
            inside = [g for t, g in pts if start_s <= t <= end_s]
            return inside[-1] if inside else level
        return _step_integral(pts, level, start_s, end_s) / (end_s - start_s)

    def apply(self, phases: Sequence[Any], annual: CarbonIntensity) -> tuple[CarbonIntensity, dict[str, float]]:
        """(run intensity, {phase name: g/kWh}) for measured phases (Measurements)."""
        self.settle()
        self.annual = annual
        per = {}
        for m in phases:
            g = self.phase_g_per_kwh(m.start_s, m.end_s)
            per[m.name] = annual.g_per_kwh if g is None else g
        block = self._block(per, annual)
        if not len(self._samples):
            return replace(annual, live=block), per
        sig, factor = self._signal(), self._factor_type()
        ci = replace(annual, g_per_kwh=_run_g_per_kwh(phases, per, annual.g_per_kwh),
                     source=f"{SOURCE} (zone {self.zone}), energy-weighted over the run",
                     year=None, basis=f"location-based live {sig or 'average'} intensity"
                     + (f" ({factor})" if factor else ""), live=block)
        return ci, per

    def _signal(self) -> str | None:
        return "/".join(sorted(self._signals)) or None

    def _factor_type(self) -> str | None:
        return "/".join(sorted(self._kinds)) or None

    def _block(self, per: dict[str, float], annual: CarbonIntensity) -> LiveBlock:
        with self._lock:
            samples = [s.to_dict() for s in sorted(self._samples.items, key=_t_of)]
            fallbacks = [(replace(f, g_per_kwh=annual.g_per_kwh) if f.g_per_kwh is None else f).to_dict()
                         for f in sorted(self._fallbacks.items, key=_t_of)]
            return {
                "source": SOURCE, "zone": self.zone, "samples": samples, "fallbacks": fallbacks,
                "phases": dict(per), "annual_g_per_kwh": annual.g_per_kwh, "annual_source": annual.source,
                "signal": self._signal(), "emission_factor_type": self._factor_type(),
                "any_estimated": self._any_estimated,
                "sample_count": len(self._samples), "fallback_count": len(self._fallbacks),
                "not_requested": self._skipped,
                "rule": "phase: time-weighted mean of readings over the phase; run: energy-weighted mean of "
                        "top-level phases; missing readings use the annual figure",
            }


def _intensity(body: Mapping[str, Any]) -> float:
    """The answer's ``carbonIntensity``: a number within physical bounds, else the reading is refused."""
    g = body.get("carbonIntensity")
    if g is None or isinstance(g, bool) or not isinstance(g, (int, float)):
        raise LiveIntensityError(f"{SOURCE} gave no usable carbonIntensity")
    if not within(GRID_G_PER_KWH, g):
        raise LiveIntensityError(f"{SOURCE} gave a carbonIntensity outside the plausible range "
                                 f"({GRID_G_PER_KWH.describe()}); not used")
    return float(g)


def _level_at(pts: Sequence[tuple[float, Any]], t_s: float) -> Any:
    """The reading holding at *t_s*: the last one at or before it, else the first."""
    before = [g for t, g in pts if t <= t_s]
    return before[-1] if before else pts[0][1]


def _kinds(body: Mapping[str, Any]) -> str:
    """The answer's words for what kind of figure it is (factor type, signal, accounting), lower-cased."""
    return " ".join(v for k in ("emissionFactorType", "signal", "accountingMethod", "type")
                    if isinstance(v := body.get(k), str)).lower()


def _step_integral(pts: Sequence[tuple[float, float]], level: float, start_s: float, end_s: float) -> float:
    """The integral over [start_s, end_s] of a step series (*level* at start_s; each point holds until the next)."""
    total, t_prev = 0.0, start_s
    for t, g in pts:
        if t <= start_s:
            continue
        if t >= end_s:
            break
        total += level * (t - t_prev)
        t_prev, level = t, g
    return total + level * (end_s - t_prev)


def _run_g_per_kwh(phases: Sequence[Any], per: dict[str, float], annual_g: float) -> float:
    """The run's intensity: the energy-weighted mean over top-level phases (their plain mean with no energy)."""
    top = top_level(phases)
    e = sum(m.total_energy_j for m in top)
    if e > 0:
        return float(sum(m.total_energy_j * per[m.name] for m in top) / e)
    return sum(per[m.name] for m in top) / len(top) if top else annual_g


def _iso_time(x: Any) -> str | None:
    """An ISO 8601 time as given (at most 40 characters), else None."""
    if not isinstance(x, str) or len(x) > 40:
        return None
    try:
        datetime.fromisoformat(x.replace("Z", "+00:00"))
    except ValueError:
        return None
    return x


def _name(x: Any, clean: Any) -> str | None:
    return x if isinstance(x, str) and _NAME.fullmatch(x) and clean(x) else None


def _t_of(reading: LiveSample | LiveFallback) -> float:
    return reading.t_s  # readings arrive from threads, in any order


def make_live(arg: Any, annual: CarbonIntensity) -> LiveIntensity | None:
    """``None``/``False``: off. A zone string: live for that zone (token from the environment).
    A LiveIntensity: as is."""
    if arg is None or arg is False:
        return None
    live = arg if isinstance(arg, LiveIntensity) else LiveIntensity(str(arg)) if isinstance(arg, str) else None
    if live is None:
        raise LiveIntensityError(f"live_intensity={type(arg).__name__}: pass a zone name ('NL') or "
                                 "scer_hf.core.live_intensity.LiveIntensity(zone, token=...)")
    live.annual = annual
    return live


def phase_dicts(measurements: Sequence[Any], carbon: CarbonIntensity, per: dict[str, float],
                kinds: dict[str, str], boundary: str) -> list[PhaseRecord]:
    """Report phases, each with its own live intensity (``carbon_g_per_kwh``) behind its CO2e."""
    from .report import phase_from_measurement

    out: list[PhaseRecord] = []
    for m in measurements:
        g = per.get(m.name, carbon.g_per_kwh)
        out.append({**phase_from_measurement(m, replace(carbon, g_per_kwh=g), kinds.get(m.name, boundary)),
                    "carbon_g_per_kwh": g})
    return out
