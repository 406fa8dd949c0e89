"""AWS Config evaluates custom policy (Guard) rules over X-Ray's configuration items.

moto 5.2.5 stores config rules but never evaluates one and has none of the compliance APIs. Here:

* **Evaluation.** When a configuration item of ``AWS::XRay::EncryptionConfig`` is recorded
  (config_items), and when a ``CUSTOM_POLICY`` rule is put while an item is recorded (AWS evaluates
  a new or updated rule at once), every ``ACTIVE``, change-triggered (``SourceDetails`` with
  ``ConfigurationItemChangeNotification`` or its oversized variant) ``CUSTOM_POLICY`` rule whose
  ``Scope`` covers the type (no scope, or ``ComplianceResourceTypes`` naming it; a
  ``ComplianceResourceId`` must match) is run by the real CloudFormation Guard engine: the
  ``cfn-guard validate --rules POLICY --data ITEM --output-format json`` CLI, over the item as AWS
  Config hands it to Guard (``configuration`` an object, not the JSON string of the history API).
  ``PASS`` is ``COMPLIANT``, ``FAIL`` ``NON_COMPLIANT`` (annotation: the first failing clause's
  custom message), ``SKIP`` ``NOT_APPLICABLE``. Synchronous: done before the triggering call returns.
* **Engine failures never pass.** The engine is ``$XRAY_CMK_CFN_GUARD`` or
  ``~/.cache/xray-cmk/cfn-guard/bin/cfn-guard``. If it is missing, times out
  (``XRAY_CMK_EMULATOR_GUARD_TIMEOUT_SECONDS``, default 20) or exits with anything but 0/19 or
  unreadable JSON, the rule's evaluation status records the failure (``LastFailedEvaluationTime``,
  ``LastErrorCode`` ``GuardEngineUnavailable`` / ``GuardEvaluationFailed``, ``LastErrorMessage``),
  the stored result stays what it was (none: ``INSUFFICIENT_DATA``) and a warning is logged.
* **Compliance change events.** A result whose compliance differs from the previous one for that
  rule and resource (or the first one) is sent to the account-region's default EventBridge bus as
  AWS Config sends it (config_events).
* **APIs** (awsJson 1.1, ``StarlingDoveService.*``, botocore's ``config/2014-11-12``):
  ``GetComplianceDetailsByConfigRule``, ``DescribeComplianceByConfigRule``,
  ``DescribeComplianceByResource``, ``DescribeConfigRuleEvaluationStatus``, ``GetCustomRulePolicy``.

Results are kept per rule id (moto's ``ConfigRuleId``), so a deleted and re-created rule starts
afresh; rules come from moto's config backend, which decides what exists.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import config_events, wire
from .caller import Caller
from .config_items import RESOURCE_TYPE, ConfigItemStore

_log = logging.getLogger(__name__)

PREFIX = "StarlingDoveService."
PUT_CONFIG_RULE_TARGET = PREFIX + "PutConfigRule"
COMPLIANCE_TYPES = ("COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE", "INSUFFICIENT_DATA")
CHANGE_TRIGGERS = {"ConfigurationItemChangeNotification", "OversizedConfigurationItemChangeNotification"}
ENGINE_ENV = "XRAY_CMK_CFN_GUARD"
TIMEOUT_ENV = "XRAY_CMK_EMULATOR_GUARD_TIMEOUT_SECONDS"
ENGINE_UNAVAILABLE = "GuardEngineUnavailable"
EVALUATION_FAILED = "GuardEvaluationFailed"
ANNOTATION_MAX = 256


def guard_binary() -> Path:
    configured = os.environ.get(ENGINE_ENV)
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "xray-cmk" / "cfn-guard" / "bin" / "cfn-guard"


def _timeout() -> float:
    try:
        value = float(os.environ.get(TIMEOUT_ENV, ""))
    except ValueError:
        return 20.0
    return value if value > 0 else 20.0


class EvaluationError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _annotation(report: dict[str, Any]) -> str | None:
    """The first custom message (else engine message) of a failing clause."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if found:
            return
        if isinstance(node, dict):
            messages = node.get("messages")
            if isinstance(messages, dict) and messages.get("custom_message"):
                found.append(str(messages["custom_message"]))
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(report.get("not_compliant", []))
    if not found:
        return None
    text = found[0].strip()
    return text[:ANNOTATION_MAX] if text else None


def run_guard(policy_text: str, item: dict[str, Any]) -> tuple[str, str | None]:
    """(compliance type, annotation) of one Guard policy over one configuration item."""
    binary = guard_binary()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        raise EvaluationError(
            ENGINE_UNAVAILABLE,
            f"the Guard engine (cfn-guard) is not installed at {binary} (set {ENGINE_ENV}, or run "
            "scripts/check-guardrail --install-only)",
        )
    with tempfile.TemporaryDirectory(prefix="xray-cmk-guard-") as tmp:
        rules = Path(tmp) / "policy.guard"
        data = Path(tmp) / "configuration-item.json"
        rules.write_text(policy_text)
        data.write_text(json.dumps(item))
        command = [str(binary), "validate", "--rules", str(rules), "--data", str(data),
                   "--output-format", "json", "--show-summary", "none"]  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, timeout=_timeout(), check=False)
        except subprocess.TimeoutExpired:
            raise EvaluationError(EVALUATION_FAILED, f"cfn-guard did not finish within {_timeout():g} seconds") from None
        except OSError as exc:
            raise EvaluationError(ENGINE_UNAVAILABLE, f"cfn-guard could not be run: {exc}") from None
    stderr = done.stderr.decode("utf-8", "replace").strip()
    stdout = done.stdout.decode("utf-8", "replace").strip()
    # cfn-guard exits 0 when every rule passes or is skipped, 19 when one fails; anything else is
    # an error of the engine or of the policy, never a verdict.
    if done.returncode not in (0, 19):
        detail = (stderr or stdout).splitlines()[:3]
        raise EvaluationError(EVALUATION_FAILED, f"cfn-guard exited {done.returncode}: {' '.join(detail)}"[:1000])
    try:
        report = json.loads(stdout)
        status = report["status"]
    except (ValueError, KeyError, TypeError):
        raise EvaluationError(EVALUATION_FAILED, f"cfn-guard's report is not readable: {stdout[:200]!r}") from None
    verdicts = {"PASS": "COMPLIANT", "FAIL": "NON_COMPLIANT", "SKIP": "NOT_APPLICABLE"}
    if status not in verdicts or (status == "FAIL") != (done.returncode == 19):
        raise EvaluationError(EVALUATION_FAILED, f"cfn-guard reported {status!r} with exit code {done.returncode}")
    return verdicts[status], (_annotation(report) if status == "FAIL" else None)


def guard_input(item: dict[str, Any]) -> dict[str, Any]:
    """The configuration item as AWS Config passes it to Guard: ``configuration`` as an object."""
    out = dict(item)
    configuration = out.get("configuration")
    if isinstance(configuration, str):
        try:
            out["configuration"] = json.loads(configuration)
        except ValueError:
            pass
    capture = out.get("configurationItemCaptureTime")
    if isinstance(capture, (int, float)):
        out["configurationItemCaptureTime"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(capture)) + (
            f".{int(capture * 1000) % 1000:03d}Z"
        )
    out.setdefault("arn", f"arn:aws:xray:{item.get('awsRegion')}:{item.get('accountId')}:encryption-config/EncryptionConfig")
    out.setdefault("resourceName", "EncryptionConfig")
    out.setdefault("tags", {})
    out.setdefault("relationships", [])
    out.setdefault("supplementaryConfiguration", {})
    return out


@dataclass
class Evaluation:
    rule_name: str
    resource_type: str
    resource_id: str
    compliance: str
    annotation: str | None
    ordering: float  # the configuration item's capture time
    invoked: float
    recorded: float

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "EvaluationResultIdentifier": {
                "EvaluationResultQualifier": {
                    "ConfigRuleName": self.rule_name,
                    "ResourceType": self.resource_type,
                    "ResourceId": self.resource_id,
                    "EvaluationMode": "DETECTIVE",
                },
                "OrderingTimestamp": self.ordering,
            },
            "ComplianceType": self.compliance,
            "ResultRecordedTime": self.recorded,
            "ConfigRuleInvokedTime": self.invoked,
        }
        if self.annotation:
            out["Annotation"] = self.annotation
        return out

    def event_shape(self) -> dict[str, Any]:
        """As the compliance change event carries it (lower camel case, ISO times)."""
        out: dict[str, Any] = {
            "evaluationResultIdentifier": {
                "evaluationResultQualifier": {
                    "configRuleName": self.rule_name,
                    "resourceType": self.resource_type,
                    "resourceId": self.resource_id,
                    "evaluationMode": "DETECTIVE",
                },
                "orderingTimestamp": config_events.iso(self.ordering),
            },
            "complianceType": self.compliance,
            "resultRecordedTime": config_events.iso(self.recorded),
            "configRuleInvokedTime": config_events.iso(self.invoked),
        }
        if self.annotation:
            out["annotation"] = self.annotation
        return out


@dataclass
class RuleStatus:
    first_activated: float
    first_evaluation_started: bool = False
    last_successful_invocation: float | None = None
    last_failed_invocation: float | None = None
    last_successful_evaluation: float | None = None
    last_failed_evaluation: float | None = None
    last_error_code: str | None = None
    last_error_message: str | None = None
    results: dict[tuple[str, str], Evaluation] = field(default_factory=dict)


Listener = Callable[[str, str, Any, Evaluation], None]


def _backend(account_id: str, region: str) -> Any:
    from moto.config.models import config_backends

    return config_backends[account_id][region]


def _in_scope(rule: Any, resource_type: str, resource_id: str) -> bool:
    scope = getattr(rule, "scope", None)
    if scope is None:
        return True
    types = getattr(scope, "compliance_resource_types", None) or []
    if types and resource_type not in types:
        return False
    wanted = getattr(scope, "compliance_resource_id", None)
    return not wanted or wanted == resource_id


def evaluated_here(rule: Any, resource_type: str = RESOURCE_TYPE, resource_id: str | None = None) -> bool:
    """Whether the emulator evaluates this rule on configuration items of the type."""
    source = rule.source
    if source.owner != "CUSTOM_POLICY" or getattr(rule, "config_rule_state", "ACTIVE") != "ACTIVE":
        return False
    triggers = {getattr(d, "message_type", None) for d in (source.source_details or [])}
    if not triggers & CHANGE_TRIGGERS:
        return False
    if resource_id is None:
        scope = getattr(rule, "scope", None)
        types = (getattr(scope, "compliance_resource_types", None) or []) if scope is not None else []
        return not types or resource_type in types
    return _in_scope(rule, resource_type, resource_id)


class ConfigRuleStore:
    def __init__(self, items: ConfigItemStore) -> None:
        self._lock = threading.RLock()
        self._items = items
        self._status: dict[tuple[str, str], dict[str, RuleStatus]] = {}
        self._listeners: list[Listener] = []
        items.subscribe(self.on_item)

    def subscribe(self, listener: Listener) -> None:
        """``listener(account, region, rule, evaluation)`` after each stored result."""
        self._listeners.append(listener)

    def reset(self) -> None:
        with self._lock:
            self._status.clear()

    def _rule_status(self, account_id: str, region: str, rule: Any) -> RuleStatus:
        rules = self._status.setdefault((account_id, region), {})
        status = rules.get(rule.config_rule_id)
        if status is None:
            status = rules[rule.config_rule_id] = RuleStatus(first_activated=time.time())
        return status

    def status_of(self, account_id: str, region: str, rule: Any) -> RuleStatus:
        with self._lock:
            return self._rule_status(account_id, region, rule)

    # --- evaluation -----------------------------------------------------------------------

    def on_item(self, account_id: str, region: str, item: dict[str, Any]) -> None:
        self.evaluate(account_id, region, item)

    def rule_put(self, account_id: str, region: str, rule_name: str) -> None:
        """After PutConfigRule succeeded: evaluate the recorded X-Ray item, as AWS does on creation."""
        rule = _backend(account_id, region).config_rules.get(rule_name)
        if rule is None:
            return
        self.status_of(account_id, region, rule)  # FirstActivatedTime
        history = self._items.history(account_id, region)
        if history and evaluated_here(rule):
            self.evaluate(account_id, region, history[0], only=rule_name)

    def evaluate(self, account_id: str, region: str, item: dict[str, Any], only: str | None = None) -> None:
        resource_type, resource_id = item["resourceType"], item["resourceId"]
        rules = [
            r
            for r in list(_backend(account_id, region).config_rules.values())
            if (only is None or r.config_rule_name == only) and evaluated_here(r, resource_type, resource_id)
        ]
        for rule in rules:
            self._evaluate_rule(account_id, region, rule, item)

    def _evaluate_rule(self, account_id: str, region: str, rule: Any, item: dict[str, Any]) -> None:
        from .config_patches import policy_text

        text = policy_text(account_id, region, rule.config_rule_name) or ""
        invoked = time.time()
        try:
            compliance, annotation = run_guard(text, guard_input(item))
        except EvaluationError as exc:
            _log.warning(
                "config rule %s in %s/%s: evaluation failed (%s): %s",
                rule.config_rule_name, account_id, region, exc.code, exc.message,
            )  # fmt: skip
            with self._lock:
                status = self._rule_status(account_id, region, rule)
                status.first_evaluation_started = True
                status.last_failed_invocation = status.last_failed_evaluation = time.time()
                status.last_error_code, status.last_error_message = exc.code, exc.message
            return
        capture = item.get("configurationItemCaptureTime")
        evaluation = Evaluation(
            rule.config_rule_name, item["resourceType"], item["resourceId"], compliance, annotation,
            capture if isinstance(capture, (int, float)) else invoked, invoked, time.time(),
        )  # fmt: skip
        with self._lock:
            status = self._rule_status(account_id, region, rule)
            status.first_evaluation_started = True
            status.last_successful_invocation = status.last_successful_evaluation = evaluation.recorded
            key = (evaluation.resource_type, evaluation.resource_id)
            old = status.results.get(key)
            status.results[key] = evaluation
        if old is None or old.compliance != evaluation.compliance:
            try:
                config_events.compliance_change(account_id, region, rule, evaluation, old)
            except Exception:  # an event that cannot be delivered must not lose the result
                _log.exception("could not send the compliance change event of %s", rule.config_rule_name)
        for listener in list(self._listeners):
            try:
                listener(account_id, region, rule, evaluation)
            except Exception:
                _log.exception("a listener of config rule %s failed", rule.config_rule_name)

    # --- reading --------------------------------------------------------------------------

    def results(self, account_id: str, region: str, rule: Any) -> list[Evaluation]:
        with self._lock:
            status = self._status.get((account_id, region), {}).get(rule.config_rule_id)
            return sorted(status.results.values(), key=lambda e: (e.resource_type, e.resource_id)) if status else []


# --- the API --------------------------------------------------------------------------------


class ApiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def no_such_rule(name: Any) -> ApiError:
    return ApiError(
        "NoSuchConfigRuleException",
        f"The ConfigRule '{name}' provided in the request is invalid. Please check the configRule name",
    )


def _rule(account_id: str, region: str, name: Any) -> Any:
    rule = _backend(account_id, region).config_rules.get(name) if isinstance(name, str) else None
    if rule is None:
        raise no_such_rule(name)
    return rule


def _rules(account_id: str, region: str, names: Any) -> list[Any]:
    if names is None or names == []:
        return sorted(_backend(account_id, region).config_rules.values(), key=lambda r: r.config_rule_name)
    if not isinstance(names, list):
        raise ApiError("InvalidParameterValueException", "ConfigRuleNames must be a list")
    return [_rule(account_id, region, n) for n in names]


def _compliance_filter(params: dict[str, Any]) -> set[str] | None:
    wanted = params.get("ComplianceTypes")
    if wanted is None or wanted == []:
        return None
    if not isinstance(wanted, list) or any(w not in COMPLIANCE_TYPES for w in wanted):
        raise ApiError(
            "InvalidParameterValueException",
            f"ComplianceTypes must list values of {', '.join(COMPLIANCE_TYPES)}",
        )
    return set(wanted)


def _limit(params: dict[str, Any], most: int) -> int:
    limit = params.get("Limit", 0)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= most:
        raise ApiError("InvalidParameterValueException", f"Limit must be an integer from 0 to {most}")
    return limit or most


def page(items: list[Any], params: dict[str, Any], kind: str, size: int) -> tuple[list[Any], str | None]:
    """One page and the next token (opaque: the offset, bound to the operation)."""
    token = params.get("NextToken")
    start = 0
    if token not in (None, ""):
        try:
            decoded = json.loads(base64.urlsafe_b64decode(str(token).encode()))
            if decoded["k"] != kind or not isinstance(decoded["o"], int) or decoded["o"] < 0:
                raise ValueError
            start = decoded["o"]
        except (ValueError, KeyError, TypeError):
            raise ApiError("InvalidNextTokenException", "The nextToken provided is invalid") from None
    chunk = items[start : start + size]
    more = start + size < len(items)
    next_token = base64.urlsafe_b64encode(json.dumps({"k": kind, "o": start + size}).encode()).decode() if more else None
    return chunk, next_token


def _compliance(results: list[Evaluation]) -> dict[str, Any]:
    """A rule's (or a resource's) compliance from its results, as AWS summarises it."""
    non_compliant = [r for r in results if r.compliance == "NON_COMPLIANT"]
    if non_compliant:
        return {
            "ComplianceType": "NON_COMPLIANT",
            "ComplianceContributorCount": {"CappedCount": len(non_compliant), "CapExceeded": False},
        }
    if any(r.compliance == "COMPLIANT" for r in results):
        return {"ComplianceType": "COMPLIANT"}
    if results and all(r.compliance == "NOT_APPLICABLE" for r in results):
        return {"ComplianceType": "NOT_APPLICABLE"}
    return {"ComplianceType": "INSUFFICIENT_DATA"}


def _details_by_rule(store: ConfigRuleStore, caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    rule = _rule(caller.account_id, caller.region, params.get("ConfigRuleName"))
    wanted = _compliance_filter(params)
    results = [
        r for r in store.results(caller.account_id, caller.region, rule) if wanted is None or r.compliance in wanted
    ]
    chunk, token = page(results, params, "GetComplianceDetailsByConfigRule", _limit(params, 100))
    out: dict[str, Any] = {"EvaluationResults": [r.wire() for r in chunk]}
    if token:
        out["NextToken"] = token
    return out


def _by_rule(store: ConfigRuleStore, caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    wanted = _compliance_filter(params)
    rows = []
    for rule in _rules(caller.account_id, caller.region, params.get("ConfigRuleNames")):
        compliance = _compliance(store.results(caller.account_id, caller.region, rule))
        if wanted is None or compliance["ComplianceType"] in wanted:
            rows.append({"ConfigRuleName": rule.config_rule_name, "Compliance": compliance})
    chunk, token = page(rows, params, "DescribeComplianceByConfigRule", 25)
    out: dict[str, Any] = {"ComplianceByConfigRules": chunk}
    if token:
        out["NextToken"] = token
    return out


def _by_resource(store: ConfigRuleStore, caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    wanted = _compliance_filter(params)
    resource_type, resource_id = params.get("ResourceType"), params.get("ResourceId")
    if resource_id is not None and resource_type is None:
        raise ApiError("InvalidParameterValueException", "ResourceType is required with ResourceId")
    by_resource: dict[tuple[str, str], list[Evaluation]] = {}
    for rule in _backend(caller.account_id, caller.region).config_rules.values():
        for result in store.results(caller.account_id, caller.region, rule):
            by_resource.setdefault((result.resource_type, result.resource_id), []).append(result)
    rows = []
    for (rtype, rid), results in sorted(by_resource.items()):
        if resource_type is not None and rtype != resource_type:
            continue
        if resource_id is not None and rid != resource_id:
            continue
        compliance = _compliance(results)
        if wanted is None or compliance["ComplianceType"] in wanted:
            rows.append({"ResourceType": rtype, "ResourceId": rid, "Compliance": compliance})
    chunk, token = page(rows, params, "DescribeComplianceByResource", _limit(params, 100))
    out: dict[str, Any] = {"ComplianceByResources": chunk}
    if token:
        out["NextToken"] = token
    return out


def _evaluation_status(store: ConfigRuleStore, caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    rows = []
    for rule in _rules(caller.account_id, caller.region, params.get("ConfigRuleNames")):
        status = store.status_of(caller.account_id, caller.region, rule)
        row: dict[str, Any] = {
            "ConfigRuleName": rule.config_rule_name,
            "ConfigRuleArn": rule.config_rule_arn,
            "ConfigRuleId": rule.config_rule_id,
            "FirstActivatedTime": status.first_activated,
            "FirstEvaluationStarted": status.first_evaluation_started,
        }
        optional = {
            "LastSuccessfulInvocationTime": status.last_successful_invocation,
            "LastFailedInvocationTime": status.last_failed_invocation,
            "LastSuccessfulEvaluationTime": status.last_successful_evaluation,
            "LastFailedEvaluationTime": status.last_failed_evaluation,
            "LastErrorCode": status.last_error_code,
            "LastErrorMessage": status.last_error_message,
        }
        row.update({k: v for k, v in optional.items() if v is not None})
        rows.append(row)
    chunk, token = page(rows, params, "DescribeConfigRuleEvaluationStatus", _limit(params, 50))
    out: dict[str, Any] = {"ConfigRulesEvaluationStatus": chunk}
    if token:
        out["NextToken"] = token
    return out


def _custom_rule_policy(store: ConfigRuleStore, caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    from .config_patches import policy_text

    rule = _rule(caller.account_id, caller.region, params.get("ConfigRuleName"))
    text = policy_text(caller.account_id, caller.region, rule.config_rule_name)
    return {} if text is None else {"PolicyText": text}


OPERATIONS: dict[str, Callable[[ConfigRuleStore, Caller, dict[str, Any]], dict[str, Any]]] = {
    "GetComplianceDetailsByConfigRule": _details_by_rule,
    "DescribeComplianceByConfigRule": _by_rule,
    "DescribeComplianceByResource": _by_resource,
    "DescribeConfigRuleEvaluationStatus": _evaluation_status,
    "GetCustomRulePolicy": _custom_rule_policy,
}
TARGETS = {PREFIX + name: name for name in OPERATIONS}


def json_body(body: bytes) -> dict[str, Any]:
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        raise ApiError("SerializationException", "the request body is not JSON") from None
    if not isinstance(params, dict):
        raise ApiError("SerializationException", "the request body is not a JSON object")
    return params


def handle(store: ConfigRuleStore, caller: Caller, target: str, body: bytes) -> Any:
    try:
        return wire.aws_json(OPERATIONS[TARGETS[target]](store, caller, json_body(body)))
    except ApiError as exc:
        return wire.aws_json_error(exc.code, exc.message)


def after_put_config_rule(store: ConfigRuleStore, caller: Caller, body: bytes) -> None:
    """Hook for a PutConfigRule moto accepted."""
    try:
        name = (json_body(body).get("ConfigRule") or {}).get("ConfigRuleName")
    except (ApiError, AttributeError):
        return
    if isinstance(name, str):
        store.rule_put(caller.account_id, caller.region, name)
