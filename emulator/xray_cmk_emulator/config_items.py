"""AWS Config configuration items of ``AWS::XRay::EncryptionConfig``, which moto 5.2.5 never records.

When X-Ray's ``PutEncryptionConfig`` succeeds in an account and region whose configuration
recorder is recording that type (moto's recorder: ``allSupported``, or the type in
``resourceTypes``, or an exclusion strategy that does not exclude it), a configuration item is
recorded as AWS documents it: ``configuration.type`` and ``configuration.keyId`` as the resolved key
ARN (never the alias X-Ray was given), ``resourceId`` the account id. ``GetResourceConfigHistory``
for the type answers from here, newest first; other types go to moto.

Subscribers (``subscribe``; config_rules evaluates the rules) are called with each new item after
it is stored, outside the store's lock.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from . import wire
from .caller import Caller

_log = logging.getLogger(__name__)

RESOURCE_TYPE = "AWS::XRay::EncryptionConfig"
TARGET = "StarlingDoveService.GetResourceConfigHistory"


def _records_xray(recorder: Any) -> bool:
    group = recorder.recording_group
    if group is None:
        return True
    strategy = (getattr(group, "recording_strategy", None) or {}).get("useOnly")
    if strategy == "EXCLUSION_BY_RESOURCE_TYPES":
        excluded = (getattr(group, "exclusion_by_resource_types", None) or {}).get("resourceTypes", [])
        return RESOURCE_TYPE not in excluded
    if group.all_supported:
        return True
    return RESOURCE_TYPE in (group.resource_types or [])


def recording(account_id: str, region: str) -> bool:
    from moto.config.models import config_backends

    backend = config_backends[account_id][region]
    return any(r.status.recording and _records_xray(r) for r in backend.recorders.values())


class ConfigItemStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._subscribers: list[Callable[[str, str, dict[str, Any]], None]] = []

    def subscribe(self, subscriber: Callable[[str, str, dict[str, Any]], None]) -> None:
        """``subscriber(account_id, region, item)`` after each recorded item."""
        self._subscribers.append(subscriber)

    def reset(self) -> None:
        with self._lock:
            self._items.clear()

    def record_xray(self, account_id: str, region: str, config: dict[str, Any]) -> bool:
        """Records X-Ray's new configuration if a recorder records it; whether it did."""
        if not recording(account_id, region):
            return False
        configuration = {"type": config.get("Type"), "status": config.get("Status")}
        if config.get("KeyId"):
            configuration["keyId"] = config["KeyId"]
        with self._lock:
            items = self._items.setdefault((account_id, region), [])
            item = {
                "version": "1.3",
                "accountId": account_id,
                "configurationItemCaptureTime": time.time(),
                "configurationItemStatus": "OK" if items else "ResourceDiscovered",
                "configurationStateId": str(int(time.time() * 1000)),
                "resourceType": RESOURCE_TYPE,
                "resourceId": account_id,
                "awsRegion": region,
                "configuration": json.dumps(configuration),
                "relatedEvents": [str(uuid.uuid4())],
            }
            items.insert(0, item)
        for subscriber in list(self._subscribers):
            try:
                subscriber(account_id, region, dict(item))
            except Exception:  # evaluating rules must not fail the recording
                _log.exception("a subscriber of X-Ray's configuration items failed")
        return True

    def history(self, account_id: str, region: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._items.get((account_id, region), []))


def age_latest(store: ConfigItemStore, account_id: str, region: str, seconds: float) -> float | None:
    """Test hook: move the capture time of the latest item ``seconds`` back; the new time, or None."""
    with store._lock:
        items = store._items.get((account_id, region))
        if not items:
            return None
        items[0]["configurationItemCaptureTime"] -= seconds
        return float(items[0]["configurationItemCaptureTime"])


def handle_history(store: ConfigItemStore, caller: Caller, body: bytes) -> Any | None:
    """The history of X-Ray's configuration; None for another type (moto answers)."""
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        return wire.aws_json_error("SerializationException", "the request body is not JSON")
    if params.get("resourceType") != RESOURCE_TYPE:
        return None
    if params.get("resourceId") != caller.account_id:
        return wire.aws_json_error(
            "ResourceNotDiscoveredException",
            f"Resource {params.get('resourceId')} of resourceType:{RESOURCE_TYPE} is unknown or has not been discovered",
        )
    items = store.history(caller.account_id, caller.region)
    if not items:
        return wire.aws_json_error(
            "ResourceNotDiscoveredException",
            f"Resource {caller.account_id} of resourceType:{RESOURCE_TYPE} is unknown or has not been discovered",
        )
    return wire.aws_json({"configurationItems": items})
