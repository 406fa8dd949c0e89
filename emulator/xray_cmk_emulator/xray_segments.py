"""X-Ray GetTraceSegmentDestination / UpdateTraceSegmentDestination (moto 5.2.5 has neither).

botocore model ``xray/2016-04-12`` (rest-json):
  GetTraceSegmentDestination     POST /GetTraceSegmentDestination    {} -> {Destination, Status}
  UpdateTraceSegmentDestination  POST /UpdateTraceSegmentDestination
      {Destination?: XRay|CloudWatchLogs, CloudWatchLogsConfiguration?: {SpansLogGroupKmsKeyId?}}
      -> {Destination, Status}
  TraceSegmentDestinationStatus  PENDING | ACTIVE
  InvalidRequestException {Message}   (no httpStatusCode -> 400)

State is per (account, region). A region never configured reports ``XRay`` /
``ACTIVE``. After an update the status is ``PENDING`` for
``XRAY_CMK_EMULATOR_UPDATING_SECONDS``, then ``ACTIVE``.

Switching to ``CloudWatchLogs`` (Transaction Search) creates the log group
``aws/spans`` in moto's CloudWatch Logs backend of that account and region if
it does not exist. ``SpansLogGroupKmsKeyId`` follows the model's documentation:
only with ``CloudWatchLogs``; a *key ARN* (key ids and alias ARNs are rejected)
of a customer managed, enabled, symmetric key in the same account and region;
applied only when X-Ray creates ``aws/spans`` - if the group already exists the
request fails with InvalidRequestException and nothing changes.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass

from moto.kms.models import kms_backends
from werkzeug.wrappers import Response

from . import wire
from .caller import Caller
from .xray_encryption import updating_seconds

DESTINATIONS = ("XRay", "CloudWatchLogs")
DEFAULT_DESTINATION = "XRay"
SPANS_LOG_GROUP = "aws/spans"
_KEY_ARN = re.compile(r"^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):key/([A-Za-z0-9-]+)$")


class InvalidRequest(Exception):
    pass


@dataclass
class _Destination:
    destination: str
    active_at: float  # time.monotonic() after which Status is ACTIVE

    def to_json(self) -> dict[str, str]:
        status = "ACTIVE" if time.monotonic() >= self.active_at else "PENDING"
        return {"Destination": self.destination, "Status": status}


def _logs_backend(account: str, region: str):
    from moto.logs.models import logs_backends

    return logs_backends[account][region]


def _validated_spans_key(caller: Caller, key_id: object) -> str:
    if not isinstance(key_id, str) or not key_id:
        raise InvalidRequest("SpansLogGroupKmsKeyId must be a non-empty string.")
    match = _KEY_ARN.match(key_id)
    if not match:
        raise InvalidRequest(
            f"SpansLogGroupKmsKeyId {key_id} is not a KMS key ARN. Key IDs and alias ARNs are not supported."
        )
    _, region, account, raw_id = match.groups()
    if (account, region) != (caller.account_id, caller.region):
        raise InvalidRequest(
            f"The KMS key {key_id} must be in the same account and Region as the aws/spans log group "
            f"({caller.account_id}, {caller.region})."
        )
    key = kms_backends[account][region].keys.get(raw_id)
    if key is None:
        raise InvalidRequest(f"The KMS key {key_id} does not exist or is not accessible.")
    if key.key_manager != "CUSTOMER":
        raise InvalidRequest(f"The KMS key {key_id} is not a customer managed key.")
    if key.key_spec != "SYMMETRIC_DEFAULT" or key.key_usage != "ENCRYPT_DECRYPT":
        raise InvalidRequest(f"The KMS key {key_id} is not a symmetric encryption key.")
    if key.key_state != "Enabled":
        raise InvalidRequest(f"The KMS key {key_id} is not enabled (state: {key.key_state}).")
    return key.arn


class SegmentDestinationStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._destinations: dict[tuple[str, str], _Destination] = {}

    def reset(self) -> None:
        with self._lock:
            self._destinations.clear()

    def get(self, account: str, region: str) -> dict[str, str]:
        with self._lock:
            dest = self._destinations.get((account, region))
        if dest is None:
            return {"Destination": DEFAULT_DESTINATION, "Status": "ACTIVE"}
        return dest.to_json()

    def update(self, caller: Caller, destination: object, cwl_config: object) -> dict[str, str]:
        if destination not in DESTINATIONS:
            raise InvalidRequest(
                f"Invalid destination: {destination!r}. Valid values are XRay and CloudWatchLogs."
            )
        key_arn = None
        if cwl_config is not None:
            if not isinstance(cwl_config, dict):
                raise InvalidRequest("CloudWatchLogsConfiguration must be an object.")
            if destination != "CloudWatchLogs":
                raise InvalidRequest("Specify CloudWatchLogsConfiguration only when Destination is CloudWatchLogs.")
            if "SpansLogGroupKmsKeyId" in cwl_config:
                key_arn = _validated_spans_key(caller, cwl_config["SpansLogGroupKmsKeyId"])
        with self._lock:
            if destination == "CloudWatchLogs":
                logs = _logs_backend(caller.account_id, caller.region)
                if SPANS_LOG_GROUP in logs.groups:
                    if key_arn is not None:
                        raise InvalidRequest(
                            "The aws/spans log group already exists; X-Ray applies SpansLogGroupKmsKeyId only "
                            "when it creates the group. Call UpdateTraceSegmentDestination without it, and use "
                            "CloudWatch Logs AssociateKmsKey to change the group's key."
                        )
                else:
                    kwargs = {"kmsKeyId": key_arn} if key_arn else {}
                    logs.create_log_group(SPANS_LOG_GROUP, {}, **kwargs)
            dest = _Destination(destination, time.monotonic() + updating_seconds())  # type: ignore[arg-type]
            self._destinations[(caller.account_id, caller.region)] = dest
        return dest.to_json()


def _invalid(message: str) -> Response:
    return wire.rest_json_error(400, "InvalidRequestException", message, "Message")


def handle_get(store: SegmentDestinationStore, caller: Caller, body: bytes) -> Response:
    return wire.rest_json(store.get(caller.account_id, caller.region))


def handle_update(store: SegmentDestinationStore, caller: Caller, body: bytes) -> Response:
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        return _invalid("The request body is not valid JSON.")
    if not isinstance(params, dict):
        return _invalid("The request body must be a JSON object.")
    try:
        out = store.update(caller, params.get("Destination"), params.get("CloudWatchLogsConfiguration"))
    except InvalidRequest as err:
        return _invalid(str(err))
    return wire.rest_json(out)
