"""EventBridge ``TestEventPattern``, which moto 5.2.5 leaves unimplemented.

The match is moto's own event-pattern matcher (``moto.events.models.EventPattern``, the one moto
uses to route ``PutEvents``), written independently of xray-cmk's evaluator in the Rust core, so
the two can be compared. Where moto is laxer than AWS the request is refused here as AWS refuses it
(``InvalidEventPatternException``): a pattern that is not a JSON object, an empty object or list, a
match value outside a list, or a content filter AWS does not define (moto matches an unknown
filter as true). The event must be JSON with the fields AWS requires (``id``, ``account``,
``source``, ``time``, ``region``, ``resources``, ``detail-type``).
"""

from __future__ import annotations

import json
from typing import Any

from moto.events.models import EventPattern

from . import wire
from .caller import Caller

TARGET = "AWSEvents.TestEventPattern"

FILTERS = {
    "prefix",
    "suffix",
    "equals-ignore-case",
    "wildcard",
    "anything-but",
    "numeric",
    "exists",
    "cidr",
}
REQUIRED_EVENT_FIELDS = ("id", "account", "source", "time", "region", "resources", "detail-type")


class Invalid(Exception):
    pass


def _check(pattern: Any, at: str) -> None:
    if not isinstance(pattern, dict) or not pattern:
        raise Invalid(f"{at}: must be a non-empty object")
    for field, value in pattern.items():
        here = f"{at}.{field}"
        if field == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise Invalid(f"{here}: must list at least two patterns")
            for alternative in value:
                _check(alternative, here)
        elif isinstance(value, dict):
            _check(value, here)
        elif isinstance(value, list):
            if not value:
                raise Invalid(f"{here}: empty arrays are not allowed")
            for item in value:
                if isinstance(item, list):
                    raise Invalid(f"{here}: a list inside a match list")
                if isinstance(item, dict):
                    if len(item) != 1 or next(iter(item)) not in FILTERS:
                        raise Invalid(f"{here}: unrecognized match type {sorted(item)}")
        else:
            raise Invalid(f"{here}: match value must be String, number, true, false, or null")


def handle(caller: Caller, body: bytes) -> Any:
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        return wire.aws_json_error("SerializationException", "the request body is not JSON")
    raw_pattern, raw_event = params.get("EventPattern"), params.get("Event")
    if not isinstance(raw_pattern, str) or not isinstance(raw_event, str):
        return wire.aws_json_error("ValidationException", "EventPattern and Event are required strings")
    try:
        pattern = json.loads(raw_pattern)
        _check(pattern, "Event pattern")
        matcher = EventPattern.load(raw_pattern)
    except (ValueError, Invalid) as exc:
        return wire.aws_json_error("InvalidEventPatternException", f"Event pattern is not valid. Reason: {exc}")
    except Exception as exc:  # moto's own parser refused it
        return wire.aws_json_error("InvalidEventPatternException", f"Event pattern is not valid. Reason: {exc}")
    try:
        event = json.loads(raw_event)
    except ValueError:
        return wire.aws_json_error("ValidationException", "Parameter Event is not valid.")
    if not isinstance(event, dict) or any(f not in event for f in REQUIRED_EVENT_FIELDS):
        return wire.aws_json_error("ValidationException", "Parameter Event is not valid.")
    return wire.aws_json({"Result": bool(matcher.matches_event(event))})
