"""What the emulated X-Ray settings APIs share (encryption config, trace segment destination).

Both settings are stored per (account, region) and, as on AWS, a write is not
applied at once: ``Status`` reads as a transitional value (``UPDATING`` resp.
``PENDING``) for ``XRAY_CMK_EMULATOR_UPDATING_SECONDS`` after each write, then
``ACTIVE``. Both APIs are rest-json with a JSON object body, and report every
client error as ``InvalidRequestException {Message}`` (no httpStatusCode -> 400).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from werkzeug.wrappers import Response

from . import wire

UPDATING_SECONDS_ENV = "XRAY_CMK_EMULATOR_UPDATING_SECONDS"
DEFAULT_UPDATING_SECONDS = 2.0


def updating_seconds() -> float:
    # Read per request so a test can run the server with a short window.
    raw = os.environ.get(UPDATING_SECONDS_ENV, "")
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_UPDATING_SECONDS
    except ValueError:
        return DEFAULT_UPDATING_SECONDS


class Setting(Protocol):
    def to_json(self, status: str) -> dict[str, str]:
        """The API's output shape, with ``status`` as its Status member."""
        ...


class RegionalSettings:
    """(account, region) -> Setting, with the transitional Status after each write.

    ``lock`` is reentrant so a caller can hold it around side effects that must
    happen atomically with ``set`` (X-Ray creating ``aws/spans``).
    """

    def __init__(self, default: Setting, pending_status: str) -> None:
        self.lock = threading.RLock()
        self._default = default  # what a region never configured reports, always ACTIVE
        self._pending_status = pending_status
        self._settings: dict[tuple[str, str], tuple[Setting, float]] = {}  # -> (setting, monotonic ACTIVE time)

    def reset(self) -> None:
        with self.lock:
            self._settings.clear()

    def get(self, account: str, region: str) -> dict[str, str]:
        with self.lock:
            stored = self._settings.get((account, region))
        if stored is None:
            return self._default.to_json("ACTIVE")
        setting, active_at = stored
        return setting.to_json(self._status(active_at))

    def set(self, account: str, region: str, setting: Setting) -> dict[str, str]:
        active_at = time.monotonic() + updating_seconds()
        with self.lock:
            self._settings[(account, region)] = (setting, active_at)
        return setting.to_json(self._status(active_at))

    def _status(self, active_at: float) -> str:
        return "ACTIVE" if time.monotonic() >= active_at else self._pending_status


class InvalidRequest(Exception):
    """A client error; the handler answers InvalidRequestException with this message."""


def invalid_request(message: str) -> Response:
    return wire.rest_json_error(400, "InvalidRequestException", message, "Message")


def handle_json(body: bytes, operation: Callable[[dict[str, Any]], dict[str, Any]]) -> Response:
    """Run ``operation`` on the request's JSON object; InvalidRequest becomes a 400 InvalidRequestException."""
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        return invalid_request("The request body is not valid JSON.")
    if not isinstance(params, dict):
        return invalid_request("The request body must be a JSON object.")
    try:
        out = operation(params)
    except InvalidRequest as err:
        return invalid_request(str(err))
    return wire.rest_json(out)
