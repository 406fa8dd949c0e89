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

from dataclasses import dataclass

from moto.kms.models import kms_backends
from werkzeug.wrappers import Response

from . import wire
from .caller import Caller
from .kms_keys import is_symmetric_encryption, parse_key_arn
from .xray_settings import InvalidRequest, RegionalSettings, handle_json

DESTINATIONS = ("XRay", "CloudWatchLogs")
DEFAULT_DESTINATION = "XRay"
SPANS_LOG_GROUP = "aws/spans"


@dataclass(frozen=True)
class _Destination:
    destination: str

    def to_json(self, status: str) -> dict[str, str]:
        return {"Destination": self.destination, "Status": status}


def _logs_backend(account: str, region: str):
    from moto.logs.models import logs_backends

    return logs_backends[account][region]


def _validated_spans_key(caller: Caller, key_id: object) -> str:
    if not isinstance(key_id, str) or not key_id:
        raise InvalidRequest("SpansLogGroupKmsKeyId must be a non-empty string.")
    parsed = parse_key_arn(key_id)
    if not parsed:
        raise InvalidRequest(
            f"SpansLogGroupKmsKeyId {key_id} is not a KMS key ARN. Key IDs and alias ARNs are not supported."
        )
    region, account, raw_id = parsed
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
    if not is_symmetric_encryption(key):
        raise InvalidRequest(f"The KMS key {key_id} is not a symmetric encryption key.")
    if key.key_state != "Enabled":
        raise InvalidRequest(f"The KMS key {key_id} is not enabled (state: {key.key_state}).")
    return key.arn


class SegmentDestinationStore(RegionalSettings):
    def __init__(self) -> None:
        super().__init__(default=_Destination(DEFAULT_DESTINATION), pending_status="PENDING")

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
        # Held across the aws/spans check-and-create and the write, so concurrent updates cannot both create it.
        with self.lock:
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
            return self.set(caller.account_id, caller.region, _Destination(destination))  # type: ignore[arg-type]


def handle_get(store: SegmentDestinationStore, caller: Caller, body: bytes) -> Response:
    return wire.rest_json(store.get(caller.account_id, caller.region))


def handle_update(store: SegmentDestinationStore, caller: Caller, body: bytes) -> Response:
    return handle_json(
        body, lambda params: store.update(caller, params.get("Destination"), params.get("CloudWatchLogsConfiguration"))
    )
