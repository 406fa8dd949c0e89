"""AWS Config's ``Config Rules Compliance Change`` events, delivered through moto's EventBridge.

The event is the one AWS Config sends to the default bus of the rule's account and Region: source
``aws.config``, detail-type ``Config Rules Compliance Change``, ``resources`` the resource's ARN, and
a ``detail`` with ``resourceId``, ``awsRegion``, ``awsAccountId``, ``configRuleName``,
``recordVersion``, ``configRuleARN``, ``messageType`` ``ComplianceChangeNotification``,
``newEvaluationResult``, ``oldEvaluationResult`` (only when the rule had a result for the resource
before), ``notificationCreationTime`` and ``resourceType``.

Every rule of the default bus is matched with moto's own matcher (``Rule.send_to_targets``), which
delivers to the targets moto supports (CloudWatch Logs, archives, other buses, SQS with an input
transformer). moto 5.2.5 has no SNS target (it raises ``NotImplementedError``) and its default SQS
template drops the event's ``account``, so SNS topics (through moto's SNS backend: the topic's
subscriptions receive it) and plain SQS queues get the whole event from here. Other targets moto
cannot deliver to are logged and skipped. Event ids come from ``uuid``, not moto's seeded random.
"""

from __future__ import annotations

import copy
import json
import logging
import time
import uuid
from typing import Any

_log = logging.getLogger(__name__)

SOURCE = "aws.config"
DETAIL_TYPE = "Config Rules Compliance Change"


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch * 1000) % 1000:03d}Z"


def resource_arn(account_id: str, region: str, resource_type: str) -> str | None:
    if resource_type == "AWS::XRay::EncryptionConfig":
        return f"arn:aws:xray:{region}:{account_id}:encryption-config/EncryptionConfig"
    return None


def compliance_change(account_id: str, region: str, rule: Any, new: Any, old: Any | None) -> None:
    detail: dict[str, Any] = {
        "resourceId": new.resource_id,
        "awsRegion": region,
        "awsAccountId": account_id,
        "configRuleName": rule.config_rule_name,
        "recordVersion": "1.0",
        "configRuleARN": rule.config_rule_arn,
        "messageType": "ComplianceChangeNotification",
        "newEvaluationResult": new.event_shape(),
        "notificationCreationTime": iso(time.time()),
        "resourceType": new.resource_type,
    }
    if old is not None:
        detail["oldEvaluationResult"] = old.event_shape()
    arn = resource_arn(account_id, region, new.resource_type)
    put_event(account_id, region, SOURCE, DETAIL_TYPE, detail, [arn] if arn else [])


def put_event(account_id: str, region: str, source: str, detail_type: str, detail: dict[str, Any], resources: list[str]) -> int:
    """Deliver one event to the default bus; how many rules matched."""
    from moto.events.models import events_backends

    backend = events_backends[account_id][region]
    bus = backend.event_buses.get("default")
    if bus is None:
        return 0
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account_id,
        "time": time.time(),  # moto's targets format it (unix time, as moto's PutEvents stores it)
        "region": region,
        "resources": resources,
        "detail": detail,
        "ingestion-time": time.time(),  # moto's input transformer reads it
    }
    matched = 0
    for rule in list(bus.rules.values()):
        if getattr(rule, "state", "ENABLED") != "ENABLED" or not rule.event_pattern.matches_event(event):
            continue
        matched += 1
        own = [t for t in rule.targets if _delivered_here(t)]
        others = [t for t in rule.targets if t not in own]
        for target in own:
            _deliver(target, event)
        if others:
            view = copy.copy(rule)
            view.targets = others
            try:
                view.send_to_targets(copy.deepcopy(event))
            except NotImplementedError:
                _log.warning("EventBridge rule %s: moto cannot deliver to one of its targets", rule.name)
    return matched


def _service(arn: str) -> str:
    parts = arn.split(":")
    return parts[2] if len(parts) > 2 else ""


def _delivered_here(target: dict[str, Any]) -> bool:
    service = _service(target.get("Arn", ""))
    return service == "sns" or (service == "sqs" and not target.get("InputTransformer"))


def _deliver(target: dict[str, Any], event: dict[str, Any]) -> None:
    """SNS (moto has no SNS target) and SQS without an input transformer (moto's default template
    drops ``account``): the whole event, or the target's constant ``Input``."""
    from moto.sns.models import sns_backends
    from moto.sqs.models import sqs_backends

    arn = target["Arn"]
    parts = arn.split(":")
    message = dict(event, time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(event["time"]))))
    message.pop("ingestion-time", None)
    body = target["Input"] if target.get("Input") else json.dumps(message)
    try:
        if parts[2] == "sns":
            sns_backends[parts[4]][parts[3]].publish(message=body, arn=arn)
        else:
            group = (target.get("SqsParameters") or {}).get("MessageGroupId")
            sqs_backends[parts[4]][parts[3]].send_message(queue_name=parts[5], message_body=body, group_id=group)
    except Exception:
        _log.exception("EventBridge could not deliver to %s", arn)
