"""KMS key checks that several emulated APIs make (X-Ray, CloudWatch Logs, KMS rotation)."""

from __future__ import annotations

import re

from typing import Any

from moto.kms.models import Key, kms_backends

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


def backend_and_ref(ref: str, account: str, region: str) -> tuple[Any, str, str, str] | None:
    """Where a KeyId points: (moto KMS backend, account, region, key id or alias name).

    A key or alias ARN names its own account and region; anything else is the caller's.
    None for a malformed ARN or an unknown account or region.
    """
    if ref.startswith("arn:"):
        parts = ref.split(":", 5)
        if len(parts) != 6 or parts[2] != "kms":
            return None
        region, account, ref = parts[3], parts[4], parts[5]
    try:
        backend = kms_backends[account][region]
    except KeyError:
        return None
    return backend, account, region, ref
