"""KMS key checks that several emulated APIs make (X-Ray, CloudWatch Logs, KMS rotation)."""

from __future__ import annotations

import re

from moto.kms.models import Key

_KEY_ARN = re.compile(r"^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):key/([A-Za-z0-9-]+)$")


def parse_key_arn(value: object) -> tuple[str, str, str] | None:
    """(region, account, key id) of a KMS *key* ARN; None for anything else (key ids, aliases, non-strings)."""
    match = _KEY_ARN.match(value) if isinstance(value, str) else None
    if not match:
        return None
    _, region, account, key_id = match.groups()
    return region, account, key_id


def is_symmetric_encryption(key: Key) -> bool:
    """The only kind of key X-Ray and CloudWatch Logs accept, and KMS rotates automatically."""
    return key.key_spec == "SYMMETRIC_DEFAULT" and key.key_usage == "ENCRYPT_DECRYPT"
