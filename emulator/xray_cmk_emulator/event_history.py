"""CloudTrail event history: the recorded events and ``LookupEvents`` over them (moto 5.2.5 has neither).

moto records no CloudTrail events and does not implement ``LookupEvents`` (its
CloudTrail answers it with HTTP 500), so the middleware serves it itself, by
its awsJson1.1 target ``com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents``,
over the events other modules record here (kms_events: KMS calls and X-Ray's
own use of keys).

botocore model ``cloudtrail/2013-11-01`` (protocol json, jsonVersion 1.1):
  LookupEvents  {LookupAttributes?: [{AttributeKey, AttributeValue}], StartTime?: Date,
                 EndTime?: Date, EventCategory?: "insight", MaxResults?: 1..50, NextToken?}
      -> {Events?: [Event], NextToken?}
  LookupAttributeKey  EventId | EventName | ReadOnly | Username | ResourceType | ResourceName
                      | EventSource | AccessKeyId
  LookupAttributeValue  string, 1..2000 characters
  Event         {EventId, EventName, ReadOnly: String, AccessKeyId, EventTime: Date, EventSource,
                 Username, Resources: [{ResourceType, ResourceName}], CloudTrailEvent: String}
  errors        InvalidLookupAttributesException, InvalidTimeRangeException,
                InvalidMaxResultsException, InvalidNextTokenException, InvalidEventCategoryException
                (no members: ``__type`` + ``message`` in the body, HTTP 400), and ThrottlingException
  Date          a timestamp, epoch seconds on the wire (botocore sends a number)

Behaviour:

* Events are stored per (account, region), like the event history of that account's
  Region, and kept until ``/moto-api/reset`` (no 90-day expiry: the server never runs that long).
  LookupEvents reads the caller's (account, region).
* Newest first (recording order; ``EventTime`` has whole seconds, as CloudTrail's ``eventTime``).
* At most one lookup attribute (AWS's documented limit), matched exactly against the event's
  field; ``ResourceType`` / ``ResourceName`` match any of the event's resources; ``ReadOnly``
  is ``"true"`` or ``"false"``.
* ``StartTime`` / ``EndTime`` are inclusive; StartTime after EndTime is InvalidTimeRangeException.
* ``EventCategory`` ``insight`` returns no events (no Insights are emulated); management events
  are returned when it is absent, as documented.
* ``MaxResults`` 1..50, default 50 (else InvalidMaxResultsException). ``NextToken`` is opaque
  (the position after the last event returned, bound to the account, Region and the filter);
  one that does not decode, or comes with other filter parameters, is InvalidNextTokenException.
  Events recorded while paging do not shift pages (no duplicates, none skipped).
* Rate limit: AWS documents "two per second, per account, per Region". A request when
  ``XRAY_CMK_EMULATOR_LOOKUP_RATE`` (default 2) requests of that (account, region) were
  answered in the last second is ``ThrottlingException`` (HTTP 400, awsJson; retried by the SDKs).
  Throttled requests do not count. ``0`` switches the limit off; unset, empty, negative or not an
  integer means the default.
* Delivery delay: CloudTrail delivers an event minutes after the call (AWS gives about 5
  minutes on average, not guaranteed). An event recorded at t is returned by LookupEvents only
  from t + ``XRAY_CMK_EMULATOR_EVENT_DELAY_SECONDS`` (float, default 0; unset, empty, negative
  or not a finite number = 0; read per LookupEvents request); its ``EventTime`` stays t. Every
  event has the same delay, so events appear in recording order and NextToken pages stay
  consistent (one that appears while paging is newer than the first page).
"""

from __future__ import annotations

import base64
import binascii
import collections
import hashlib
import itertools
import json
import math
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Response

from . import wire
from .caller import Caller

TARGET_PREFIX = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
LOOKUP_EVENTS_TARGET = TARGET_PREFIX + "LookupEvents"
# The Smithy models (the AWS SDKs for Rust, Go v2, JavaScript v3) name the target by the service
# shape alone; CloudTrail accepts both.
LOOKUP_EVENTS_SHORT_TARGET = "CloudTrail_20131101.LookupEvents"
LOOKUP_RATE_ENV = "XRAY_CMK_EMULATOR_LOOKUP_RATE"
DEFAULT_LOOKUP_RATE = 2
EVENT_DELAY_ENV = "XRAY_CMK_EMULATOR_EVENT_DELAY_SECONDS"
RATE_WINDOW_SECONDS = 1.0
MAX_RESULTS, DEFAULT_MAX_RESULTS = 50, 50
MAX_ATTRIBUTE_VALUE = 2000
LOOKUP_ATTRIBUTE_KEYS = (
    "EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName", "EventSource", "AccessKeyId",
)  # fmt: skip
EVENT_CATEGORIES = ("insight",)


def lookup_rate() -> int:
    """Allowed LookupEvents per second per (account, region); 0 = unlimited. Read per request."""
    raw = os.environ.get(LOOKUP_RATE_ENV, "").strip()
    try:
        rate = int(raw) if raw else DEFAULT_LOOKUP_RATE
    except ValueError:
        return DEFAULT_LOOKUP_RATE
    return rate if rate >= 0 else DEFAULT_LOOKUP_RATE


def event_delay() -> float:
    """Seconds between recording an event and LookupEvents returning it; 0 = at once. Read per request."""
    raw = os.environ.get(EVENT_DELAY_ENV, "").strip()
    try:
        delay = float(raw) if raw else 0.0
    except ValueError:
        return 0.0
    return delay if math.isfinite(delay) and delay > 0 else 0.0


@dataclass(frozen=True)
class StoredEvent:
    seq: int  # recording order over the whole server (never reused, also across resets)
    record: dict[str, Any]  # the CloudTrail record, CloudTrailEvent is its JSON
    event_time: int  # epoch seconds (eventTime)
    username: str | None
    access_key_id: str | None
    recorded_at: float  # time.monotonic() when recorded, for the delivery delay

    def resources(self) -> list[dict[str, str]]:
        return [{"ResourceType": r["type"], "ResourceName": r["ARN"]} for r in self.record.get("resources", [])]

    def matches(self, key: str, value: str) -> bool:
        rec = self.record
        if key == "EventId":
            return rec["eventID"] == value
        if key == "EventName":
            return rec["eventName"] == value
        if key == "EventSource":
            return rec["eventSource"] == value
        if key == "ReadOnly":
            return ("true" if rec["readOnly"] else "false") == value
        if key == "Username":
            return self.username == value
        if key == "AccessKeyId":
            return self.access_key_id == value
        if key == "ResourceType":
            return any(r["ResourceType"] == value for r in self.resources())
        if key == "ResourceName":
            return any(r["ResourceName"] == value for r in self.resources())
        return False

    def to_json(self) -> dict[str, Any]:
        """The model's ``Event`` shape; members the event does not have are omitted."""
        out: dict[str, Any] = {
            "EventId": self.record["eventID"],
            "EventName": self.record["eventName"],
            "ReadOnly": "true" if self.record["readOnly"] else "false",
        }
        if self.access_key_id:
            out["AccessKeyId"] = self.access_key_id
        out["EventTime"] = self.event_time
        out["EventSource"] = self.record["eventSource"]
        if self.username:
            out["Username"] = self.username
        resources = self.resources()
        if resources:
            out["Resources"] = resources
        out["CloudTrailEvent"] = json.dumps(self.record)
        return out


class EventHistory:
    """(account, region) -> recorded events (oldest first), plus the LookupEvents rate window."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._events: dict[tuple[str, str], list[StoredEvent]] = {}
        self._lookups: dict[tuple[str, str], collections.deque[float]] = {}

    def reset(self) -> None:
        with self._lock:
            self._events.clear()
            self._lookups.clear()

    def record(
        self,
        account: str,
        region: str,
        record: dict[str, Any],
        event_time: int,
        username: str | None,
        access_key_id: str | None,
    ) -> None:
        """Store a CloudTrail record in the history of (account, region); ``event_time`` is its
        ``eventTime`` in epoch seconds."""
        with self._lock:
            event = StoredEvent(next(self._seq), record, event_time, username, access_key_id, time.monotonic())
            self._events.setdefault((account, region), []).append(event)

    def newest_first(self, account: str, region: str) -> list[StoredEvent]:
        """The events of (account, region) delivered by now (see the delivery delay), newest first."""
        delivered_before = time.monotonic() - event_delay()
        with self._lock:
            events = self._events.get((account, region), [])
            # recorded_at grows with seq (both taken under the lock): the undelivered are a suffix.
            end = len(events)
            while end and events[end - 1].recorded_at > delivered_before:
                end -= 1
            return list(reversed(events[:end]))

    def admit_lookup(self, account: str, region: str) -> bool:
        """Count a LookupEvents request against the rate limit; False if it is to be throttled."""
        rate = lookup_rate()
        if rate == 0:
            return True
        now = time.monotonic()
        with self._lock:
            window = self._lookups.setdefault((account, region), collections.deque())
            while window and now - window[0] >= RATE_WINDOW_SECONDS:
                window.popleft()
            if len(window) >= rate:
                return False
            window.append(now)
            return True


# --- LookupEvents ------------------------------------------------------------------------


class LookupEventsError(Exception):
    """A client error of LookupEvents: ``code`` is the model's exception name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _attribute(params: dict[str, Any]) -> tuple[str, str] | None:
    attrs = params.get("LookupAttributes")
    if attrs is None:
        return None
    if not isinstance(attrs, list):
        raise LookupEventsError("InvalidLookupAttributesException", "LookupAttributes must be a list.")
    if not attrs:
        return None
    if len(attrs) > 1:
        raise LookupEventsError(
            "InvalidLookupAttributesException", "You cannot specify more than one lookup attribute."
        )
    attr = attrs[0]
    key = attr.get("AttributeKey") if isinstance(attr, dict) else None
    value = attr.get("AttributeValue") if isinstance(attr, dict) else None
    if key not in LOOKUP_ATTRIBUTE_KEYS:
        raise LookupEventsError(
            "InvalidLookupAttributesException",
            f"Invalid AttributeKey {key!r}; valid keys are {', '.join(LOOKUP_ATTRIBUTE_KEYS)}.",
        )
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_ATTRIBUTE_VALUE:
        raise LookupEventsError(
            "InvalidLookupAttributesException",
            f"AttributeValue for {key} must be a string of 1 to {MAX_ATTRIBUTE_VALUE} characters.",
        )
    return key, value


def _time(params: dict[str, Any], member: str) -> float | None:
    value = params.get(member)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LookupEventsError("InvalidTimeRangeException", f"{member} must be a timestamp (epoch seconds).")
    return float(value)


def _max_results(params: dict[str, Any]) -> int:
    value = params.get("MaxResults")
    if value is None:
        return DEFAULT_MAX_RESULTS
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RESULTS:
        raise LookupEventsError(
            "InvalidMaxResultsException", f"MaxResults must be an integer from 1 to {MAX_RESULTS}; got {value!r}."
        )
    return value


def _filter_digest(caller: Caller, params: dict[str, Any]) -> str:
    """What a NextToken is bound to: the account, Region and every filter parameter (not MaxResults)."""
    bound = {
        "account": caller.account_id,
        "region": caller.region,
        **{k: params.get(k) for k in ("LookupAttributes", "StartTime", "EndTime", "EventCategory")},
    }
    return hashlib.sha256(json.dumps(bound, sort_keys=True).encode()).hexdigest()[:32]


def _encode_token(after_seq: int, digest: str) -> str:
    raw = json.dumps({"after": after_seq, "filter": digest}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: Any, digest: str) -> int:
    invalid = LookupEventsError("InvalidNextTokenException", "Invalid NextToken.")
    if not isinstance(token, str) or not token:
        raise invalid
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        raise invalid from None
    if not isinstance(decoded, dict) or not isinstance(decoded.get("after"), int):
        raise invalid
    if decoded.get("filter") != digest:
        raise LookupEventsError(
            "InvalidNextTokenException", "The NextToken must be passed with the parameters of the original call."
        )
    return decoded["after"]


def _page(events: Iterable[StoredEvent], limit: int) -> tuple[list[StoredEvent], bool]:
    page: list[StoredEvent] = []
    for event in events:
        if len(page) == limit:
            return page, True
        page.append(event)
    return page, False


def lookup_events(history: EventHistory, caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    attribute = _attribute(params)
    start, end = _time(params, "StartTime"), _time(params, "EndTime")
    if start is not None and end is not None and start > end:
        raise LookupEventsError("InvalidTimeRangeException", "StartTime must not be after EndTime.")
    category = params.get("EventCategory")
    if category is not None and category not in EVENT_CATEGORIES:
        raise LookupEventsError("InvalidEventCategoryException", f"Invalid EventCategory {category!r}; valid: insight.")
    limit = _max_results(params)
    digest = _filter_digest(caller, params)
    after = _decode_token(params["NextToken"], digest) if params.get("NextToken") is not None else None
    if category == "insight":
        return {"Events": []}  # no Insights events are emulated

    def wanted(event: StoredEvent) -> bool:
        return (
            (after is None or event.seq < after)
            and (start is None or event.event_time >= start)
            and (end is None or event.event_time <= end)
            and (attribute is None or event.matches(*attribute))
        )

    page, more = _page(filter(wanted, history.newest_first(caller.account_id, caller.region)), limit)
    out: dict[str, Any] = {"Events": [event.to_json() for event in page]}
    if more:
        out["NextToken"] = _encode_token(page[-1].seq, digest)
    return out


def handle_lookup_events(history: EventHistory, caller: Caller, body: bytes) -> Response:
    if not history.admit_lookup(caller.account_id, caller.region):
        return wire.aws_json_error("ThrottlingException", "Rate exceeded", 400)
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        return wire.aws_json_error("SerializationException", "The request body is not valid JSON.", 400)
    if not isinstance(params, dict):
        return wire.aws_json_error("SerializationException", "The request body must be a JSON object.", 400)
    try:
        out = lookup_events(history, caller, params)
    except LookupEventsError as err:
        return wire.aws_json_error(err.code, str(err), 400)
    return wire.aws_json(out)
