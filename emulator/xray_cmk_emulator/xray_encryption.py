"""X-Ray GetEncryptionConfig / PutEncryptionConfig (moto 5.2.5 has neither).

botocore model ``xray/2016-04-12`` (rest-json):
  GetEncryptionConfig  POST /EncryptionConfig     -> {"EncryptionConfig": EncryptionConfig}
  PutEncryptionConfig  POST /PutEncryptionConfig  {"KeyId"?, "Type"} -> same output
  EncryptionConfig     {KeyId: String, Status: UPDATING|ACTIVE, Type: NONE|KMS}
  InvalidRequestException {Message}   (no httpStatusCode -> 400)

State is per (account, region). KeyId is resolved against moto's KMS backend
and stored/returned as the key ARN, like the real service does.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass

from moto.kms.models import Key, kms_backends
from moto.kms.utils import RESERVED_ALIASES
from werkzeug.wrappers import Response

from . import wire
from .caller import Caller

UPDATING_SECONDS_ENV = "XRAY_CMK_EMULATOR_UPDATING_SECONDS"
DEFAULT_UPDATING_SECONDS = 2.0
ENCRYPTION_TYPES = ("NONE", "KMS")


def updating_seconds() -> float:
    # Read per request so a test can run the server with a short window.
    raw = os.environ.get(UPDATING_SECONDS_ENV, "")
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_UPDATING_SECONDS
    except ValueError:
        return DEFAULT_UPDATING_SECONDS


@dataclass
class _Config:
    type: str
    key_arn: str | None
    active_at: float  # time.monotonic() after which Status is ACTIVE

    def to_json(self) -> dict[str, str]:
        status = "ACTIVE" if time.monotonic() >= self.active_at else "UPDATING"
        out = {"Status": status, "Type": self.type}
        if self.type == "KMS" and self.key_arn:
            out["KeyId"] = self.key_arn
        return out


class InvalidRequest(Exception):
    pass


class EncryptionConfigStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._configs: dict[tuple[str, str], _Config] = {}

    def reset(self) -> None:
        with self._lock:
            self._configs.clear()

    def get(self, account: str, region: str) -> dict[str, str]:
        with self._lock:
            cfg = self._configs.get((account, region))
        if cfg is None:
            # A region never configured reports default encryption, as AWS does.
            return {"Status": "ACTIVE", "Type": "NONE"}
        return cfg.to_json()

    def put(self, caller: Caller, enc_type: object, key_id: object) -> dict[str, str]:
        if enc_type not in ENCRYPTION_TYPES:
            raise InvalidRequest(
                f"Invalid encryption type: {enc_type!r}. Valid values are NONE and KMS."
            )
        key_arn = None
        if enc_type == "KMS":
            if not isinstance(key_id, str) or not key_id:
                raise InvalidRequest("KeyId is required when Type is KMS.")
            key_arn = _validated_key(caller, key_id).arn
        cfg = _Config(enc_type, key_arn, time.monotonic() + updating_seconds())
        with self._lock:
            self._configs[(caller.account_id, caller.region)] = cfg
        return cfg.to_json()


def _lookup_key(caller: Caller, key_id: str) -> Key | None:
    """Resolve alias name/ARN, key id or key ARN to a moto KMS key."""
    account, region, ref = caller.account_id, caller.region, key_id
    if key_id.startswith("arn:"):
        parts = key_id.split(":", 5)
        if len(parts) != 6 or parts[2] != "kms":
            return None
        region, account, ref = parts[3], parts[4], parts[5]
    try:
        backend = kms_backends[account][region]
    except KeyError:
        return None
    if ref.startswith("alias/"):
        if ref in RESERVED_ALIASES and account != caller.account_id:
            # Another account's AWS managed key is never created on our behalf.
            raw = next((k.id for k in backend.keys.values() if ref in k.aliases), None)
        else:
            # For alias/aws/xray this creates the AWS managed key on first use,
            # like AWS does (kms_patches makes it KeyManager=AWS).
            raw = backend.get_key_id_from_alias(ref)
    else:
        raw = ref[len("key/") :] if ref.startswith("key/") else ref
    return backend.keys.get(raw) if raw else None


def _validated_key(caller: Caller, key_id: str) -> Key:
    key = _lookup_key(caller, key_id)
    if key is None:
        raise InvalidRequest(f"The KMS key {key_id} does not exist or is not accessible.")
    if key.key_spec != "SYMMETRIC_DEFAULT" or key.key_usage != "ENCRYPT_DECRYPT":
        raise InvalidRequest(
            f"The KMS key {key.arn} is not a symmetric encryption key. "
            "X-Ray does not support asymmetric KMS keys."
        )
    if key.key_state != "Enabled":
        raise InvalidRequest(f"The KMS key {key.arn} is not enabled (state: {key.key_state}).")
    return key


def _invalid(message: str) -> Response:
    return wire.rest_json_error(400, "InvalidRequestException", message, "Message")


def handle_get(store: EncryptionConfigStore, caller: Caller, body: bytes) -> Response:
    return wire.rest_json({"EncryptionConfig": store.get(caller.account_id, caller.region)})


def handle_put(store: EncryptionConfigStore, caller: Caller, body: bytes) -> Response:
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        return _invalid("The request body is not valid JSON.")
    if not isinstance(params, dict):
        return _invalid("The request body must be a JSON object.")
    try:
        cfg = store.put(caller, params.get("Type"), params.get("KeyId"))
    except InvalidRequest as err:
        return _invalid(str(err))
    return wire.rest_json({"EncryptionConfig": cfg})
