"""Every error scer-hf raises on purpose.

All derive from :class:`SCERError`, so ``except scer_hf.errors.SCERError`` catches
them all. Each message says what went wrong *and* what to do about it.
"""

from __future__ import annotations

__all__ = [
    "SCERError",
    "MeterError",
    "MeterUnavailableError",
    "WindowError",
    "CarbonIntensityError",
    "LiveIntensityError",
    "UnknownRegionError",
    "UnknownCountryError",
    "GridConflictError",
    "HardwareNotFoundError",
    "ReportError",
    "ReportSchemaError",
    "UnsupportedSchemaVersionError",
    "ReferenceDataError",
    "RatingError",
    "RatingMismatchError",
    "ModelIdError",
    "UnknownTaskError",
    "ModelLoadError",
    "EmptyPromptsError",
    "CardError",
    "CardConflictError",
    "HubPushError",
    "HubReadError",
    "EstimateInputError",
    "VerificationError",
    "CallbackConfigError",
    "UnsupportedPipelineError",
    "BenchmarkSettingsError",
    "OutputExistsError",
    "OutputWriteError",
    "ReportExistsError",
    "InputFileError",
    "ImplausibleValueError",
    "EndpointError",
    "EndpointUnreachableError",
    "EndpointResponseError",
    "RemoteEndpointError",
]


class SCERError(Exception):
    """Base class of every scer-hf error."""


# --- measurement ----------------------------------------------------------------------
class MeterError(SCERError):
    """A meter could not be read (the window it belonged to is marked unmeasured)."""


class MeterUnavailableError(MeterError):
    """A meter backend does not exist on this machine; ``reason`` says why."""

    def __init__(self, meter: str, reason: str) -> None:
        self.meter = meter
        self.reason = reason
        super().__init__(f"{meter} meter unavailable: {reason}")


class WindowError(SCERError, KeyError):
    """A measurement window was started twice or ended without being started."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


# --- carbon, hardware -----------------------------------------------------------------
class CarbonIntensityError(SCERError, ValueError):
    """A carbon intensity or PUE value is invalid."""


class UnknownCountryError(CarbonIntensityError):
    """The ISO country code is not in the shipped grid-intensity data."""


class UnknownRegionError(UnknownCountryError):
    """A grid region or cloud region is not in the shipped grid-intensity data (the message has close matches)."""


class GridConflictError(CarbonIntensityError):
    """``grid=GridSpec(...)`` and one of the separate grid keywords were both given, with different values."""


class LiveIntensityError(CarbonIntensityError):
    """A live grid-intensity reading could not be used (unreachable, refused, or a market-based figure)."""


class HardwareNotFoundError(SCERError, LookupError):
    """A hardware name matches nothing in the shipped tables."""

    def __init__(self, message: str, suggestions: list[str] | None = None) -> None:
        self.suggestions = list(suggestions or [])
        super().__init__(message)


class EstimateInputError(SCERError, ValueError):
    """An input to the calculator (hours, count, watts, ...) is out of range."""


# --- reports --------------------------------------------------------------------------
class ReportError(SCERError):
    """A report could not be built, read or written."""


class ReportSchemaError(ReportError, ValueError):
    """A report file is not a valid scer-hf report."""


class UnsupportedSchemaVersionError(ReportSchemaError):
    """A report was written by a newer scer-hf than this one."""


# --- reference data and rating --------------------------------------------------------
class ReferenceDataError(SCERError, ValueError):
    """Reference data is missing, malformed, or has no rows for a category."""


class RatingError(SCERError, ValueError):
    """A rating could not be computed."""


class RatingMismatchError(RatingError):
    """A rating given with a report was made for another model, boundary or report.

    ``field`` names what differs (``"model"``, ``"boundary"`` or ``"report_digest"``); ``expected`` is the
    report's value, ``found`` the rating's.
    """

    def __init__(self, message: str, field: str, expected: object = None, found: object = None) -> None:
        self.field = field
        self.expected = expected
        self.found = found
        super().__init__(message)


class ModelIdError(SCERError, ValueError):
    """A model id is malformed."""


class UnknownTaskError(SCERError, ValueError):
    """A task name is not supported."""


class ModelLoadError(SCERError):
    """A model could not be loaded (offline, missing files, ...)."""


class EmptyPromptsError(SCERError, ValueError):
    """A benchmark was given no prompts."""


# --- model cards and the Hub ----------------------------------------------------------
class CardError(SCERError):
    """A model card could not be read or updated."""


class CardConflictError(CardError, ValueError):
    """The card already has a different value; pass ``overwrite=True`` to replace it."""


class HubPushError(CardError):
    """Pushing to the Hub failed; local files were kept."""


class HubReadError(CardError):
    """Reading a model card from the Hub failed (``scer-hf card show``); nothing was changed."""


class VerificationError(SCERError):
    """A manifest, card or label does not verify."""


class UnsupportedPipelineError(SCERError, TypeError):
    """``track_pipeline`` was given something that is not a pipeline it can measure."""


class BenchmarkSettingsError(SCERError, ValueError):
    """A benchmark setting (setting name, query counts, interval target) is invalid."""


class CallbackConfigError(SCERError, ValueError):
    """An ``SCERCallback`` argument is out of range."""


class OutputExistsError(SCERError, FileExistsError):
    """An output path exists (pass ``--overwrite`` / ``overwrite=True``) or is one of the command's inputs."""


class OutputWriteError(SCERError, OSError):
    """An output could not be written (read-only folder, full disk, missing folder, ...); nothing was changed.

    ``filename`` is the path that was being written and ``errno`` the system's reason (an ``OSError``, so code
    that catches ``OSError`` keeps working)."""

    def __init__(self, path: object, message: str, errno: int | None = None) -> None:
        super().__init__(errno, message, str(path))
        self.message = message

    def __str__(self) -> str:
        return self.message


class ReportExistsError(ReportError, OutputExistsError):
    """``Report.save`` met a different report at its path (pass ``overwrite=True``); both a ``ReportError`` (as
    before) and an ``OutputExistsError`` (as every writer)."""


# --- input from outside ---------------------------------------------------------------
class InputFileError(SCERError, ValueError):
    """A file cannot be read safely: not a regular file (a FIFO, socket or device), too large, nested too deeply,
    outside the folder it belongs to, or not UTF-8 / JSON. The message names the file, never its content.

    The reader of each kind of file raises its own error (``ReportSchemaError``, ``RatingError``, ``CardError``...);
    this one is for files with no more specific kind."""


class ImplausibleValueError(SCERError, ValueError):
    """A number from outside (an argument, a Hub answer, card metadata, a live reading) is outside the plausibility
    bounds of :mod:`scer_hf.core.bounds`."""


# --- serving endpoints ------------------------------------------------------------------
class EndpointError(SCERError, ValueError):
    """An inference endpoint cannot be benchmarked as given (bad URL, bad settings); the message says what to pass."""


class EndpointUnreachableError(EndpointError, ConnectionError):
    """No server answers at the endpoint (scer-hf never starts one: start it first)."""


class EndpointResponseError(EndpointError):
    """The server answers, but not as an OpenAI-compatible completion server (wrong route, model, key, format)."""


class RemoteEndpointError(EndpointError):
    """The endpoint is not on this machine, so its energy cannot be measured here; state its hardware to record
    its performance with the energy marked not measured here."""
