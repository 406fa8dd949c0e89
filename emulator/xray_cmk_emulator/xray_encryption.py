"""X-Ray GetEncryptionConfig / PutEncryptionConfig (moto 5.2.5 has neither).

botocore model ``xray/2016-04-12`` (rest-json):
  GetEncryptionConfig  POST /EncryptionConfig     -> {"EncryptionConfig": EncryptionConfig}
  PutEncryptionConfig  POST /PutEncryptionConfig  {"KeyId"?, "Type"} -> same output
  EncryptionConfig     {KeyId: String, Status: UPDATING|ACTIVE, Type: NONE|KMS}
  InvalidRequestException {Message}   (no httpStatusCode -> 400)

State is per (account, region), with Status UPDATING for a while after each
Put (xray_settings). KeyId is resolved against moto's KMS backend and
stored/returned as the key ARN, like the real service does.
"""

from __future__ import annotations

from dataclasses import dataclass

from moto.kms.models import Key
from moto.kms.utils import RESERVED_ALIASES
from werkzeug.wrappers import Response

from . import wire, xray_kms
from .caller import Caller
from .kms_keys import backend_and_ref, is_symmetric_encryption
from .xray_settings import InvalidRequest, RegionalSettings, handle_json

ENCRYPTION_TYPES = ("NONE", "KMS")


@dataclass(frozen=True)
class _Config:
    type: str
    key_arn: str | None

    def to_json(self, status: str) -> dict[str, str]:
        out = {"Status": status, "Type": self.type}
        if self.type == "KMS" and self.key_arn:
            out["KeyId"] = self.key_arn
        return out


class EncryptionConfigStore(RegionalSettings):
    def __init__(self) -> None:
        # A region never configured reports default encryption, as AWS does.
        super().__init__(default=_Config("NONE", None), pending_status="UPDATING")

    def put(self, caller: Caller, enc_type: object, key_id: object) -> dict[str, str]:
        if enc_type not in ENCRYPTION_TYPES:
            raise InvalidRequest(
                f"Invalid encryption type: {enc_type!r}. Valid values are NONE and KMS."
            )
        key_arn = None
        if enc_type == "KMS":
            if not isinstance(key_id, str) or not key_id:
                raise InvalidRequest("KeyId is required when Type is KMS.")
            key = _validated_key(caller, key_id)
            xray_kms.require_configurer(caller, key)
            key_arn = key.arn
        return self.set(caller.account_id, caller.region, _Config(enc_type, key_arn))


def _lookup_key(caller: Caller, key_id: str) -> Key | None:
    """Resolve alias name/ARN, key id or key ARN to a moto KMS key."""
    found = backend_and_ref(key_id, caller.account_id, caller.region)
    if found is None:
        return None
    backend, account, _, ref = found
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
    if not is_symmetric_encryption(key):
        raise InvalidRequest(
            f"The KMS key {key.arn} is not a symmetric encryption key. "
            "X-Ray does not support asymmetric KMS keys."
        )
    if key.key_state != "Enabled":
        raise InvalidRequest(f"The KMS key {key.arn} is not enabled (state: {key.key_state}).")
    return key


def handle_get(store: EncryptionConfigStore, caller: Caller, body: bytes) -> Response:
    return wire.rest_json({"EncryptionConfig": store.get(caller.account_id, caller.region)})


def handle_put(store: EncryptionConfigStore, caller: Caller, body: bytes) -> Response:
    try:
        return handle_json(
            body, lambda params: {"EncryptionConfig": store.put(caller, params.get("Type"), params.get("KeyId"))}
        )
    except xray_kms.AccessDenied as denied:
        return wire.rest_json_error(403, "AccessDeniedException", str(denied), "Message")
