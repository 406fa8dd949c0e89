"""Targeted fixes to moto 5.2.5's KMS, applied in-process before the server starts.

Each fix corresponds to a behaviour the audit relies on and that moto 5.2.5
gets wrong (verified against moto's source and pinned by tests/test_kms_patches.py):

1. AWS managed keys (``alias/aws/*``) were created with KeyManager=CUSTOMER and
   description "Default key". Now KeyManager=AWS, an AWS-style description and
   key policy, and rotation enabled (AWS rotates AWS managed keys yearly).
2. ``EnableKeyRotation`` ignored ``RotationPeriodInDays`` (model shape
   RotationPeriodInDaysType: integer 90..2560) and ``GetKeyRotationStatus`` only
   returned KeyRotationEnabled. Now the period is validated (ValidationException),
   stored (default 365) and returned with KeyId and NextRotationDate.
3. ``EnableKeyRotation``/``DisableKeyRotation`` accepted asymmetric/HMAC keys;
   AWS answers UnsupportedOperationException (an error listed in the model).
4. ``DisableKey``/``EnableKey``/``ScheduleKeyDeletion``/``CancelKeyDeletion``
   crashed with HTTP 500 (KeyError) when given a key ARN; now any key id form
   that moto's own validation accepts works.
5. ``CreateKey`` without ``KeyUsage`` stored no key usage, so DescribeKey
   returned ``KeyUsage: null``; AWS defaults it to ENCRYPT_DECRYPT.
7. moto's own key-policy check (``KmsResponse._validate_key_policy``) denied any call a ``Deny``
   statement's action and resource named, whatever its principal and conditions. Authorization is
   the middleware's (authz: the full evaluation), so moto's check is switched off.
6. ``ListAliases`` listed reserved AWS aliases with a hard-coded TargetKeyId
   that names no key. AWS lists predefined aliases that have no key yet
   *without* TargetKeyId; once the key exists the real alias is listed.
9. ``CreateKey`` without ``MultiRegion`` stored ``None``, so DescribeKey returned
   ``MultiRegion: null``; AWS defaults it to ``false`` (a single-Region key) and always says so.
8. ``CreateAlias`` checked that the alias did not exist, then created it, with nothing between
   two concurrent requests (the server is threaded): both could succeed, the second silently
   moving the alias. On AWS an alias name is unique per account and region and exactly one of
   them gets ``AlreadyExistsException``; alias writes are now one step each.
"""

from __future__ import annotations

import functools
import json
import threading
from datetime import timedelta
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.utils import unix_time, utcnow
from moto.kms.exceptions import ValidationException
from moto.kms.models import Key, KmsBackend
from moto.kms.responses import KmsResponse
from moto.kms.utils import RESERVED_ALIASES
from moto.utilities.utils import get_partition

from .kms_keys import is_symmetric_encryption

DEFAULT_ROTATION_DAYS = 365
MIN_ROTATION_DAYS, MAX_ROTATION_DAYS = 90, 2560

# Descriptions AWS gives its managed keys ("Default key that protects my ... when no other key is defined").
_MANAGED_KEY_SUBJECT = {
    "alias/aws/xray": "X-Ray data",
    "alias/aws/s3": "S3 objects",
    "alias/aws/ebs": "EBS volumes",
    "alias/aws/rds": "RDS database volumes",
    "alias/aws/lambda": "Lambda functions",
    "alias/aws/secretsmanager": "Secrets Manager data",
    "alias/aws/ssm": "SSM Parameter Store data",
    "alias/aws/dynamodb": "DynamoDB data",
}

# Alias name -> the service principal prefix AWS puts in kms:ViaService.
_VIA_SERVICE = {"alias/aws/elasticfilesystem": "elasticfilesystem", "alias/aws/es": "es"}


class UnsupportedOperationException(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("UnsupportedOperationException", message)


def _managed_key_policy(account_id: str, region: str, alias: str) -> str:
    partition = get_partition(region)
    service = _VIA_SERVICE.get(alias, alias.split("/")[-1])
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": f"auto-{service}-1",
            "Statement": [
                {
                    "Sid": f"Allow access through {service} for all principals in the account that are authorized to use {service}",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:CreateGrant",
                        "kms:DescribeKey",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "kms:CallerAccount": account_id,
                            "kms:ViaService": f"{service}.{region}.amazonaws.com",
                        }
                    },
                },
                {
                    "Sid": "Allow direct access to key metadata to the account",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
                    "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
                    "Resource": "*",
                },
            ],
        }
    )


def _generate_default_keys(self: KmsBackend, alias_name: str) -> str | None:
    """Replacement for KmsBackend._generate_default_keys: create an AWS managed key."""
    if alias_name not in RESERVED_ALIASES:
        return None
    subject = _MANAGED_KEY_SUBJECT.get(alias_name, f"{alias_name.split('/')[-1]} data")
    key = self.create_key(
        policy=_managed_key_policy(self.account_id, self.region_name, alias_name),
        key_usage="ENCRYPT_DECRYPT",
        key_spec="SYMMETRIC_DEFAULT",
        description=f"Default key that protects my {subject} when no other key is defined",
        tags=None,
    )
    key.key_manager = "AWS"
    _set_rotation(key, True, DEFAULT_ROTATION_DAYS)
    self.create_alias(key.id, alias_name)
    return key.id


def _set_rotation(key: Key, enabled: bool, period: int | None = None) -> None:
    key.key_rotation_status = enabled
    if enabled:
        key.rotation_period_in_days = period or DEFAULT_ROTATION_DAYS  # type: ignore[attr-defined]
        key.rotation_enabled_at = utcnow()  # type: ignore[attr-defined]


def _key_for(resp: KmsResponse, key_id: str) -> Key:
    resp._validate_cmk_id(key_id)
    return resp.kms_backend.keys[resp.kms_backend.get_key_id(key_id)]


def _require_symmetric(key: Key) -> None:
    if not is_symmetric_encryption(key):
        raise UnsupportedOperationException(
            f"{key.arn} key usage/spec ({key.key_usage}/{key.key_spec}) is not supported "
            "for automatic key rotation; only symmetric encryption keys can be rotated."
        )


def enable_key_rotation(self: KmsResponse) -> str:
    key = _key_for(self, self._get_param("KeyId"))
    period = self._get_param("RotationPeriodInDays")
    if period is not None and (
        not isinstance(period, int)
        or isinstance(period, bool)
        or not MIN_ROTATION_DAYS <= period <= MAX_ROTATION_DAYS
    ):
        raise ValidationException(
            f"1 validation error detected: Value '{period}' at 'rotationPeriodInDays' failed to "
            f"satisfy constraint: Member must have value between {MIN_ROTATION_DAYS} and {MAX_ROTATION_DAYS}"
        )
    _require_symmetric(key)
    _set_rotation(key, True, period)
    return json.dumps(None)


def disable_key_rotation(self: KmsResponse) -> str:
    key = _key_for(self, self._get_param("KeyId"))
    _require_symmetric(key)
    _set_rotation(key, False)
    return json.dumps(None)


def get_key_rotation_status(self: KmsResponse) -> str:
    key = _key_for(self, self._get_param("KeyId"))
    out: dict[str, Any] = {"KeyId": key.arn, "KeyRotationEnabled": bool(key.key_rotation_status)}
    if key.key_rotation_status:
        period = getattr(key, "rotation_period_in_days", DEFAULT_ROTATION_DAYS)
        since = getattr(key, "rotation_enabled_at", None) or utcnow()
        out["RotationPeriodInDays"] = period
        out["NextRotationDate"] = unix_time(since + timedelta(days=period))
    return json.dumps(out)


def _accept_any_key_id(method):
    """Wrap a KmsBackend method that indexes self.keys[key_id] directly."""

    @functools.wraps(method)
    def wrapper(self: KmsBackend, key_id: str, *args: Any, **kwargs: Any) -> Any:
        return method(self, self.get_key_id(key_id), *args, **kwargs)

    return wrapper


def _list_aliases_without_phantom_targets(method):
    @functools.wraps(method)
    def wrapper(self: KmsResponse) -> str:
        body = json.loads(method(self))
        existing = self.kms_backend.keys
        for alias in body.get("Aliases", []):
            if alias.get("AliasName") in RESERVED_ALIASES and alias.get("TargetKeyId") not in existing:
                alias.pop("TargetKeyId", None)
        return json.dumps(body)

    return wrapper


_ALIAS_WRITES = threading.Lock()


def _one_alias_write_at_a_time(method):
    """Wrap a KmsResponse alias write: its existence check and its write become one step."""

    @functools.wraps(method)
    def wrapper(self: KmsResponse) -> str:
        with _ALIAS_WRITES:
            return method(self)

    return wrapper


def _default_key_usage(init):
    @functools.wraps(init)
    def wrapper(self: Key, policy: Any, key_usage: Any, *args: Any, **kwargs: Any) -> None:
        init(self, policy, key_usage or "ENCRYPT_DECRYPT", *args, **kwargs)
        if self.multi_region is None:
            self.multi_region = False

    return wrapper


@functools.cache  # idempotent: a second call must not wrap moto's methods again
def apply() -> None:
    """Install the patches."""
    Key.__init__ = _default_key_usage(Key.__init__)  # type: ignore[method-assign]
    KmsBackend._generate_default_keys = _generate_default_keys  # type: ignore[method-assign]
    for name in ("disable_key", "enable_key", "schedule_key_deletion", "cancel_key_deletion"):
        setattr(KmsBackend, name, _accept_any_key_id(getattr(KmsBackend, name)))
    KmsResponse._validate_key_policy = lambda self, key_id, action: None  # type: ignore[method-assign]
    KmsResponse.enable_key_rotation = enable_key_rotation  # type: ignore[method-assign]
    KmsResponse.disable_key_rotation = disable_key_rotation  # type: ignore[method-assign]
    KmsResponse.get_key_rotation_status = get_key_rotation_status  # type: ignore[method-assign]
    KmsResponse.list_aliases = _list_aliases_without_phantom_targets(KmsResponse.list_aliases)  # type: ignore[method-assign]
    for name in ("create_alias", "update_alias", "delete_alias"):
        setattr(KmsResponse, name, _one_alias_write_at_a_time(getattr(KmsResponse, name)))
