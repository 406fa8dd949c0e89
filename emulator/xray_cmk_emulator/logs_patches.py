"""CloudWatch Logs fixes for moto 5.2.5, applied in-process before the server starts.

botocore model ``logs/2014-03-28`` (awsJson1.1). Checked against moto 5.2.5's source:

* ``AssociateKmsKey`` / ``DisassociateKmsKey`` are not implemented (HTTP 500).
  Now implemented: target is ``logGroupName`` *or* ``resourceIdentifier`` (a
  log-group ARN, or ``arn:aws:logs:REGION:ACCOUNT:query-result:*``), exactly
  one of them (else InvalidParameterException); an unknown log group is
  ResourceNotFoundException.
* ``CreateLogGroup`` stored any ``kmsKeyId`` string unchecked, and accepted
  names starting with ``aws/`` (reserved for AWS: the docs forbid them; X-Ray
  creates ``aws/spans`` itself).
* ``kmsKeyId`` (CreateLogGroup, AssociateKmsKey) is validated like AWS documents
  it: the ARN of a symmetric KMS key that exists and is enabled, in the log
  group's Region (any account: cross-account keys are allowed). Key ids, alias
  names and alias ARNs are rejected. Errors: InvalidParameterException.

Already right in moto (kept): ``DescribeLogGroups`` returns ``kmsKeyId`` when set.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from moto.kms.models import kms_backends
from moto.logs.exceptions import InvalidParameterException, ResourceNotFoundException
from moto.logs.responses import LogsResponse

from .kms_keys import is_symmetric_encryption, parse_key_arn

_LOG_GROUP_ARN = re.compile(r"^arn:(aws[a-z-]*):logs:([a-z0-9-]+):(\d{12}):log-group:(.+?)(:\*)?$")
_QUERY_RESULT_ARN = re.compile(r"^arn:(aws[a-z-]*):logs:([a-z0-9-]+):(\d{12}):query-result:\*$")
RESERVED_PREFIX = "aws/"


def validated_kms_key_arn(region: str, kms_key_id: Any, resource: str) -> str:
    """The key ARN if it names an enabled symmetric key in ``region``; else InvalidParameterException."""
    parsed = parse_key_arn(kms_key_id)
    if not parsed:
        raise InvalidParameterException(
            f"Specified KMS key {kms_key_id!r} is not a valid KMS key ARN "
            "(arn:aws:kms:REGION:ACCOUNT:key/KEY_ID)."
        )
    key_region, key_account, raw_id = parsed
    not_usable = f"Specified KMS key '{kms_key_id}' does not exist or is not allowed to be used with {resource}"
    if key_region != region:
        raise InvalidParameterException(not_usable)
    try:
        key = kms_backends[key_account][key_region].keys.get(raw_id)
    except KeyError:
        key = None
    if key is None or key.key_state != "Enabled":
        raise InvalidParameterException(not_usable)
    if not is_symmetric_encryption(key):
        raise InvalidParameterException(
            f"Specified KMS key '{kms_key_id}' is not a symmetric encryption key; "
            "CloudWatch Logs supports only symmetric KMS keys."
        )
    return kms_key_id


def _target(resp: LogsResponse) -> tuple[str, str]:
    """('log-group', name) or ('query-result', '*') from logGroupName / resourceIdentifier."""
    name = resp._get_param("logGroupName")
    ident = resp._get_param("resourceIdentifier")
    if (name is None) == (ident is None):
        raise InvalidParameterException(
            "You must specify either logGroupName or resourceIdentifier, but not both."
        )
    if name is not None:
        return "log-group", name
    account, region = resp.current_account, resp.region
    for pattern, kind in ((_QUERY_RESULT_ARN, "query-result"), (_LOG_GROUP_ARN, "log-group")):
        match = pattern.match(ident)
        if match:
            if (match.group(3), match.group(2)) != (account, region):
                raise InvalidParameterException(
                    f"resourceIdentifier {ident} must be in this account and Region ({account}, {region})."
                )
            return kind, (match.group(4) if kind == "log-group" else "*")
    raise InvalidParameterException(f"Invalid resourceIdentifier: {ident}")


def _group(resp: LogsResponse, name: str) -> Any:
    group = resp.logs_backend.groups.get(name)
    if group is None:
        raise ResourceNotFoundException("The specified log group does not exist.")
    return group


def associate_kms_key(self: LogsResponse) -> str:
    kind, name = _target(self)
    kms_key_id = self._get_param("kmsKeyId")
    if kind == "query-result":
        resource = f"query-result in {self.current_account}"
        self.logs_backend.query_results_kms_key_id = validated_kms_key_arn(self.region, kms_key_id, resource)
        return ""
    group = _group(self, name)
    group.kms_key_id = validated_kms_key_arn(self.region, kms_key_id, f"Arn '{group.arn}'")
    return ""


def disassociate_kms_key(self: LogsResponse) -> str:
    kind, name = _target(self)
    if kind == "query-result":
        self.logs_backend.query_results_kms_key_id = None
        return ""
    _group(self, name).kms_key_id = None
    return ""


def _validated_create_log_group(method):
    @functools.wraps(method)
    def wrapper(self: LogsResponse) -> str:
        name = self._get_param("logGroupName")
        if isinstance(name, str) and name.startswith(RESERVED_PREFIX):
            raise InvalidParameterException(
                f"Log group name {name!r} is not valid: log group names can't start with the string 'aws/'."
            )
        kms_key_id = self._get_param("kmsKeyId")
        if kms_key_id is not None:
            arn = f"arn:aws:logs:{self.region}:{self.current_account}:log-group:{name}"
            validated_kms_key_arn(self.region, kms_key_id, f"Arn '{arn}'")
        return method(self)

    return wrapper


@functools.cache  # idempotent: a second call must not wrap moto's methods again
def apply() -> None:
    """Install the patches."""
    LogsResponse.associate_kms_key = associate_kms_key  # type: ignore[attr-defined]
    LogsResponse.disassociate_kms_key = disassociate_kms_key  # type: ignore[attr-defined]
    LogsResponse.create_log_group = _validated_create_log_group(LogsResponse.create_log_group)  # type: ignore[method-assign]
