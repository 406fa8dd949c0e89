"""AWS Config remediation configurations, and the one runbook the emulator runs.

moto 5.2.5 has no remediation APIs. Here (awsJson 1.1, botocore's ``config/2014-11-12``):

* ``PutRemediationConfigurations``: up to 25 configurations, one per rule (a second put replaces
  it). ``TargetType`` must be ``SSM_DOCUMENT``; ``MaximumAutomaticAttempts`` 1-25 (default 5) and
  ``RetryAttemptSeconds`` 1-2678000 (default 60); a configuration naming a rule that does not exist
  comes back in ``FailedBatches``. Stored with an ``Arn``.
* ``DescribeRemediationConfigurations`` (unknown names are skipped),
  ``DeleteRemediationConfiguration`` (``NoSuchRemediationConfigurationException``),
  ``DescribeRemediationExecutionStatus`` (``NoSuchRemediationConfigurationException`` without a
  configuration; ``ResourceKeys`` filter, ``Limit`` 0-100, ``NextToken``).

**Automatic remediation.** When an ``Automatic`` configuration's rule stores a ``NON_COMPLIANT``
result (config_rules) and no execution is queued or running for that resource, an execution
starts in a background thread (``QUEUED`` -> ``IN_PROGRESS`` -> ``SUCCEEDED`` | ``FAILED``):

* ``TargetId`` ``AWSConfigRemediation-UpdateXRayKMSKey`` runs the runbook as AWS documents it,
  with the static parameters ``AutomationAssumeRole`` and ``KeyId``: SSM Automation assumes the
  role (it must exist and its trust policy allow ``ssm.amazonaws.com``, with ``aws:SourceAccount``
  the rule's account), then, as that role session, ``xray:PutEncryptionConfig`` (Type ``KMS``),
  waits for ``GetEncryptionConfig`` ``Status`` ``ACTIVE``, ``kms:DescribeKey`` the key and checks
  X-Ray names its ARN. Every call is a SigV4-signed request through the emulator's own middleware,
  so authorization (identity policies, boundary, SCPs, key policy for X-Ray's ``kms:CreateGrant``
  and ``kms:DescribeKey``) decides as for any caller. The new configuration item is recorded and
  evaluated by the X-Ray call itself.
* Any other ``TargetId`` is ``FAILED`` at once: the emulator runs no other document.
* A failed attempt is retried until ``MaximumAutomaticAttempts`` attempts were made, after
  ``min(RetryAttemptSeconds, XRAY_CMK_EMULATOR_REMEDIATION_RETRY_SECONDS)`` (default 1) seconds;
  the execution is ``IN_PROGRESS`` meanwhile and ``FAILED`` with the last attempt's steps after.
  After a failed execution, a new ``NON_COMPLIANT`` result starts another only once
  ``RetryAttemptSeconds`` have passed since it started.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from . import config_rules, iam_eval, wire
from .caller import Caller

_log = logging.getLogger(__name__)

PREFIX = config_rules.PREFIX
RUNBOOK = "AWSConfigRemediation-UpdateXRayKMSKey"
SSM_PRINCIPAL = "ssm.amazonaws.com"
RETRY_ENV = "XRAY_CMK_EMULATOR_REMEDIATION_RETRY_SECONDS"
WAIT_ACTIVE_SECONDS = 60.0


class StepFailed(Exception):
    pass


@dataclass
class Step:
    name: str
    state: str = "PENDING"
    error: str | None = None
    start: float | None = None
    stop: float | None = None

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Name": self.name, "State": self.state}
        if self.error:
            out["ErrorMessage"] = self.error
        if self.start is not None:
            out["StartTime"] = self.start
        if self.stop is not None:
            out["StopTime"] = self.stop
        return out


@dataclass
class Execution:
    resource_type: str
    resource_id: str
    invoked: float
    state: str = "QUEUED"
    updated: float = field(default_factory=time.time)
    steps: list[Step] = field(default_factory=list)
    attempts: int = 0

    def wire(self) -> dict[str, Any]:
        return {
            "ResourceKey": {"resourceType": self.resource_type, "resourceId": self.resource_id},
            "State": self.state,
            "StepDetails": [s.wire() for s in self.steps],
            "InvocationTime": self.invoked,
            "LastUpdatedTime": self.updated,
        }


def _retry_seconds() -> float:
    try:
        value = float(os.environ.get(RETRY_ENV, ""))
    except ValueError:
        return 1.0
    return value if value >= 0 else 1.0


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, *_: Any, **__: Any) -> Any:
        yield self._data


class RemediationStore:
    def __init__(self, rules: config_rules.ConfigRuleStore) -> None:
        self._lock = threading.RLock()
        self._configs: dict[tuple[str, str], dict[str, tuple[str, dict[str, Any]]]] = {}  # name -> (rule id, config)
        self._executions: dict[tuple[str, str, str], dict[tuple[str, str], Execution]] = {}
        self._generation = 0
        self.app: Any = None  # the WSGI app the runbook's signed calls go through (the middleware)
        rules.subscribe(self.on_evaluation)

    def reset(self) -> None:
        with self._lock:
            self._generation += 1
            self._configs.clear()
            self._executions.clear()

    # --- configurations -------------------------------------------------------------------

    def config_for(self, account_id: str, region: str, rule: Any) -> dict[str, Any] | None:
        with self._lock:
            found = self._configs.get((account_id, region), {}).get(rule.config_rule_name)
        if found is None or found[0] != rule.config_rule_id:
            return None  # none, or one of a deleted rule of the same name
        return found[1]

    def put(self, account_id: str, region: str, rule: Any, config: dict[str, Any]) -> None:
        with self._lock:
            self._configs.setdefault((account_id, region), {})[rule.config_rule_name] = (rule.config_rule_id, config)

    def delete(self, account_id: str, region: str, rule_name: str) -> bool:
        with self._lock:
            return self._configs.get((account_id, region), {}).pop(rule_name, None) is not None

    def executions(self, account_id: str, region: str, rule: Any) -> list[Execution]:
        with self._lock:
            found = self._executions.get((account_id, region, rule.config_rule_id), {})
            return sorted(found.values(), key=lambda e: (e.resource_type, e.resource_id))

    # --- automatic remediation ------------------------------------------------------------

    def on_evaluation(self, account_id: str, region: str, rule: Any, evaluation: Any) -> None:
        if evaluation.compliance != "NON_COMPLIANT":
            return
        config = self.config_for(account_id, region, rule)
        if config is None or not config.get("Automatic"):
            return
        key = (evaluation.resource_type, evaluation.resource_id)
        with self._lock:
            runs = self._executions.setdefault((account_id, region, rule.config_rule_id), {})
            previous = runs.get(key)
            if previous is not None and previous.state in ("QUEUED", "IN_PROGRESS"):
                return
            if (
                previous is not None
                and previous.state == "FAILED"
                and time.time() - previous.invoked < config["RetryAttemptSeconds"]
            ):
                return  # the attempts of this window are spent
            execution = runs[key] = Execution(*key, invoked=time.time())
            generation = self._generation
        thread = threading.Thread(
            target=self._run,
            args=(generation, account_id, region, rule.config_rule_name, config, execution),
            name=f"remediation-{rule.config_rule_name}",
            daemon=True,
        )
        thread.start()

    def _current(self, generation: int) -> bool:
        with self._lock:
            return generation == self._generation

    def _run(self, generation: int, account_id: str, region: str, rule_name: str, config: dict[str, Any], execution: Execution) -> None:
        attempts = int(config["MaximumAutomaticAttempts"])
        delay = min(float(config["RetryAttemptSeconds"]), _retry_seconds())
        for attempt in range(1, attempts + 1):
            if not self._current(generation):
                return
            steps: list[Step] = []
            with self._lock:
                execution.state, execution.attempts, execution.updated = "IN_PROGRESS", attempt, time.time()
                execution.steps = steps
            try:
                final = self._attempt(account_id, region, config, steps)
            except Exception as exc:  # a bug here must show as a failed execution, never hang
                _log.exception("remediation of %s in %s/%s failed unexpectedly", rule_name, account_id, region)
                steps.append(Step("Emulator", "FAILED", f"internal error: {exc}", time.time(), time.time()))
                final = "FAILED"
            with self._lock:
                execution.updated = time.time()
                if final == "SUCCEEDED" or final == "NO_RETRY" or attempt == attempts:
                    execution.state = "SUCCEEDED" if final == "SUCCEEDED" else "FAILED"
                    if execution.state == "FAILED":
                        _log.warning(
                            "remediation of %s in %s/%s failed after %d attempt(s): %s",
                            rule_name, account_id, region, attempt,
                            next((s.error for s in steps if s.error), "unknown"),
                        )  # fmt: skip
                    return
            time.sleep(delay)

    def _attempt(self, account_id: str, region: str, config: dict[str, Any], steps: list[Step]) -> str:
        def step(name: str, action: Any) -> Any:
            current = Step(name, "IN_PROGRESS", start=time.time())
            steps.append(current)
            try:
                result = action()
            except StepFailed as exc:
                current.state, current.error, current.stop = "FAILED", str(exc), time.time()
                raise
            current.state, current.stop = "SUCCEEDED", time.time()
            return result

        if config["TargetId"] != RUNBOOK:
            now = time.time()
            steps.append(Step(
                "StartAutomationExecution", "FAILED",
                f"The emulator does not run the SSM document {config['TargetId']}: it runs only {RUNBOOK}.", now, now,
            ))  # fmt: skip
            return "NO_RETRY"
        try:
            role_arn, key_id = _static(config, "AutomationAssumeRole"), _static(config, "KeyId")
        except StepFailed as exc:
            now = time.time()
            steps.append(Step("StartAutomationExecution", "FAILED", str(exc), now, now))
            return "NO_RETRY"

        def assume() -> tuple[Any, Any]:
            creds = assume_as_ssm(account_id, region, role_arn)
            return self._client(creds, "xray", region), self._client(creds, "kms", region)

        try:
            xray, kms = step("AssumeAutomationRole", assume)
            step("UpdateEncryptionConfig", lambda: _call(xray.put_encryption_config, Type="KMS", KeyId=key_id))
            step("WaitForEncryptionStatusToBeActive", lambda: _wait_active(xray))
            arn = step("GetKMSKeyArn", lambda: _call(kms.describe_key, KeyId=key_id)["KeyMetadata"]["Arn"])
            step("VerifyEncryptionConfiguration", lambda: _verify(xray, arn))
        except StepFailed:
            return "FAILED"
        return "SUCCEEDED"

    def _client(self, creds: dict[str, str], service: str, region: str) -> Any:
        """A boto3 client whose requests are signed with the session's keys and answered in-process
        by the middleware (authorization included), never sent over the network."""
        import boto3
        from botocore.awsrequest import AWSResponse
        from botocore.config import Config
        from werkzeug.test import Client

        app = self.app
        if app is None:
            raise StepFailed("the emulator has no request dispatcher bound for remediation")
        client = boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=region,
        ).client(
            service,
            endpoint_url=f"https://{service}.{region}.amazonaws.com",
            config=Config(retries={"max_attempts": 1}),
        )

        def send(request: Any, **_: Any) -> Any:
            url = urlsplit(request.url)
            body = request.body
            if hasattr(body, "read"):
                body = body.read()
            headers = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()]
            answer = Client(app).open(
                path=url.path or "/",
                query_string=url.query,
                method=request.method,
                headers=headers,
                data=body or b"",
                base_url=f"{url.scheme}://{url.netloc}",
                environ_overrides={"REMOTE_ADDR": "127.0.0.1"},
            )
            return AWSResponse(request.url, answer.status_code, dict(answer.headers), _Raw(answer.get_data()))

        client.meta.events.register("before-send", send)
        return client


def _static(config: dict[str, Any], name: str) -> str:
    value = (config.get("Parameters") or {}).get(name) or {}
    values = (value.get("StaticValue") or {}).get("Values") or []
    if len(values) != 1 or not isinstance(values[0], str) or not values[0]:
        raise StepFailed(f"The runbook parameter {name} needs exactly one StaticValue")
    return values[0]


def _call(method: Any, **kwargs: Any) -> Any:
    from botocore.exceptions import ClientError

    try:
        return method(**kwargs)
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise StepFailed(f"{err.get('Code')}: {err.get('Message')}") from None


def _wait_active(xray: Any) -> None:
    deadline = time.monotonic() + WAIT_ACTIVE_SECONDS
    while True:
        if _call(xray.get_encryption_config)["EncryptionConfig"].get("Status") == "ACTIVE":
            return
        if time.monotonic() > deadline:
            raise StepFailed(f"X-Ray's encryption Status did not become ACTIVE within {WAIT_ACTIVE_SECONDS:g} seconds")
        time.sleep(0.2)


def _verify(xray: Any, arn: str) -> None:
    config = _call(xray.get_encryption_config)["EncryptionConfig"]
    if config.get("Type") != "KMS" or config.get("KeyId") != arn:
        raise StepFailed(f"X-Ray encrypts with {config.get('Type')} {config.get('KeyId')}, not {arn}")


def assume_as_ssm(account_id: str, region: str, role_arn: str) -> dict[str, str]:
    """SSM Automation assumes the role: it must exist and trust ssm.amazonaws.com."""
    from moto.sts.models import sts_backends

    from .sts_assume_role import find_role

    role = find_role(role_arn)
    if role is None:
        raise StepFailed(f"The AutomationAssumeRole {role_arn} does not exist")
    request = iam_eval.Request(
        "sts:AssumeRole",
        role_arn,
        iam_eval.Caller(SSM_PRINCIPAL, "service"),
        {"aws:sourceaccount": [account_id], "aws:principalservicename": [SSM_PRINCIPAL]},
    )
    try:
        verdict = iam_eval.evaluate([role.assume_role_policy_document], request, resource_policy=True)
    except iam_eval.Unsupported as exc:
        raise StepFailed(f"The trust policy of {role_arn} uses {exc.construct}, which the emulator cannot evaluate") from None
    if verdict.deny is not None or not verdict.allows:
        raise StepFailed(f"{SSM_PRINCIPAL} is not authorized to perform sts:AssumeRole on {role_arn}: its trust policy does not allow SSM Automation")
    partition = role_arn.split(":")[1]
    session = sts_backends[role_arn.split(":")[4]][partition].assume_role(
        region_name=region,
        role_session_name=f"Remediation-{uuid.uuid4().hex[:12]}",
        role_arn=role_arn,
        policy=None,
        duration=3600,
        external_id=None,
    )
    return {
        "AccessKeyId": session.access_key_id,
        "SecretAccessKey": session.secret_access_key,
        "SessionToken": session.session_token,
    }


def _validated(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise config_rules.ApiError("InvalidParameterValueException", "each RemediationConfiguration must be a structure")
    for name in ("ConfigRuleName", "TargetType", "TargetId"):
        if not isinstance(raw.get(name), str) or not raw[name]:
            raise config_rules.ApiError("ValidationException", f"RemediationConfiguration.{name} is required")
    if raw["TargetType"] != "SSM_DOCUMENT":
        raise config_rules.ApiError("InvalidParameterValueException", "TargetType must be SSM_DOCUMENT")
    params = raw.get("Parameters") or {}
    if not isinstance(params, dict) or len(params) > 25:
        raise config_rules.ApiError("InvalidParameterValueException", "Parameters must be a map of at most 25 entries")
    for name, value in params.items():
        if not isinstance(value, dict) or (("StaticValue" in value) == ("ResourceValue" in value)):
            raise config_rules.ApiError(
                "InvalidParameterValueException", f"Parameter {name} needs exactly one of StaticValue and ResourceValue"
            )
    config = dict(raw)
    attempts = config.setdefault("MaximumAutomaticAttempts", 5)
    seconds = config.setdefault("RetryAttemptSeconds", 60)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= 25:
        raise config_rules.ApiError("InvalidParameterValueException", "MaximumAutomaticAttempts must be from 1 to 25")
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not 1 <= seconds <= 2678000:
        raise config_rules.ApiError("InvalidParameterValueException", "RetryAttemptSeconds must be from 1 to 2678000")
    config["Automatic"] = bool(config.get("Automatic", False))
    return config


def _put(store: RemediationStore, caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    configs = params.get("RemediationConfigurations")
    if not isinstance(configs, list) or len(configs) > 25:
        raise config_rules.ApiError("ValidationException", "RemediationConfigurations must list at most 25 configurations")
    validated = [_validated(c) for c in configs]
    failed = []
    backend = config_rules._backend(caller.account_id, caller.region)
    for config in validated:
        rule = backend.config_rules.get(config["ConfigRuleName"])
        if rule is None:
            failed.append(config)
            continue
        config["Arn"] = (
            f"arn:{caller.partition}:config:{caller.region}:{caller.account_id}:remediation-configuration/"
            f"{config['ConfigRuleName']}/{uuid.uuid4()}"
        )
        store.put(caller.account_id, caller.region, rule, config)
    out: dict[str, Any] = {"FailedBatches": []}
    if failed:
        out["FailedBatches"].append(
            {"FailureMessage": "No config rule exists with the given name", "FailedItems": failed}
        )
    return out


def _describe(store: RemediationStore, caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    names = params.get("ConfigRuleNames")
    if not isinstance(names, list):
        raise config_rules.ApiError("ValidationException", "ConfigRuleNames is required")
    backend = config_rules._backend(caller.account_id, caller.region)
    found = []
    for name in names:
        rule = backend.config_rules.get(name)
        config = store.config_for(caller.account_id, caller.region, rule) if rule is not None else None
        if config is not None:
            found.append(config)
    return {"RemediationConfigurations": found}


def _no_configuration(name: Any) -> config_rules.ApiError:
    return config_rules.ApiError(
        "NoSuchRemediationConfigurationException", f"No RemediationConfiguration for rule exists with name {name}"
    )


def _delete(store: RemediationStore, caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    name = params.get("ConfigRuleName")
    rule = config_rules._backend(caller.account_id, caller.region).config_rules.get(name)
    if rule is None or store.config_for(caller.account_id, caller.region, rule) is None:
        raise _no_configuration(name)
    store.delete(caller.account_id, caller.region, name)
    return {}


def _execution_status(store: RemediationStore, caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    name = params.get("ConfigRuleName")
    rule = config_rules._backend(caller.account_id, caller.region).config_rules.get(name)
    if rule is None or store.config_for(caller.account_id, caller.region, rule) is None:
        raise _no_configuration(name)
    keys = params.get("ResourceKeys")
    wanted = None
    if keys is not None:
        if not isinstance(keys, list) or not 1 <= len(keys) <= 100:
            raise config_rules.ApiError("InvalidParameterValueException", "ResourceKeys must list 1 to 100 keys")
        wanted = {(k.get("resourceType"), k.get("resourceId")) for k in keys if isinstance(k, dict)}
    with store._lock:
        rows = [
            e.wire()
            for e in store.executions(caller.account_id, caller.region, rule)
            if wanted is None or (e.resource_type, e.resource_id) in wanted
        ]
    limit = config_rules._limit(params, 100)
    chunk, token = config_rules.page(rows, params, "DescribeRemediationExecutionStatus", limit)
    out: dict[str, Any] = {"RemediationExecutionStatuses": chunk}
    if token:
        out["NextToken"] = token
    return out


OPERATIONS = {
    "PutRemediationConfigurations": _put,
    "DescribeRemediationConfigurations": _describe,
    "DeleteRemediationConfiguration": _delete,
    "DescribeRemediationExecutionStatus": _execution_status,
}
TARGETS = {PREFIX + name: name for name in OPERATIONS}


def handle(store: RemediationStore, caller: Caller, target: str, body: bytes) -> Any:
    try:
        params = config_rules.json_body(body)
        return wire.aws_json(OPERATIONS[TARGETS[target]](store, caller, params))
    except config_rules.ApiError as exc:
        return wire.aws_json_error(exc.code, exc.message)
