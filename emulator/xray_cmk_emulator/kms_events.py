"""CloudTrail events for the KMS calls the emulator serves, and for X-Ray's own use of KMS keys.

moto records no CloudTrail events. The middleware forwards each KMS request
(awsJson1.1, ``X-Amz-Target: TrentService.<Operation>``) to moto and, when moto
answers 2xx, records the call here in event_history (what ``LookupEvents`` reads).
Every KMS operation is recorded (as on AWS, where all KMS calls are management
events), among them Decrypt, Encrypt, GenerateDataKey*, ReEncrypt, CreateGrant,
DescribeKey, Enable/DisableKey, Put/GetKeyPolicy, Enable/DisableKeyRotation,
RotateKeyOnDemand, ScheduleKeyDeletion, CancelKeyDeletion, CreateKey, CreateAlias,
TagResource, GetKeyRotationStatus, ListKeyRotations and ListResourceTags. Failed
calls (4xx/5xx, or refused by the middleware) are not recorded.

The record is AWS's CloudTrail record format (eventVersion 1.08), as the KMS
developer guide's examples show it (``CloudTrailEvent`` in LookupEvents is its JSON)::

  {"eventVersion": "1.08",
   "userIdentity": {"type": "Root"|"IAMUser"|"AssumedRole", "principalId", "arn", "accountId",
                    "accessKeyId", "userName" (IAMUser), "sessionContext" (AssumedRole):
                    {"sessionIssuer": {"type": "Role", "principalId", "arn", "accountId", "userName"},
                     "webIdFederationData": {}, "attributes": {"creationDate", "mfaAuthenticated": "false"}}}
                 | {"type": "AWSService", "invokedBy": "xray.amazonaws.com"},
   "eventTime": "2024-01-01T00:00:00Z", "eventSource": "kms.amazonaws.com", "eventName": "Decrypt",
   "awsRegion", "sourceIPAddress", "userAgent", "requestParameters", "responseElements": null,
   "requestID", "eventID", "readOnly", "resources": [{"accountId", "type": "AWS::KMS::Key", "ARN"}],
   "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId",
   "sharedEventID" (only when the call is recorded in more than one account), "eventCategory": "Management"}

* ``userIdentity`` comes from caller.identify (the principal behind the access key:
  moto's root user of the account for unknown keys such as ``test``, an IAM user, or an
  AssumeRole session); ``accessKeyId`` is the key the request was signed with.
  LookupEvents' ``Username``: ``root``, the IAM user name, or the role session name.
* ``requestParameters``: the request's members as sent, with the lowerCamelCase names
  CloudTrail uses (``keyId``, ``encryptionContext``, ...), walked through botocore's
  ``kms/2014-11-01`` input shapes: blob members (``Plaintext``, ``CiphertextBlob``, ...) are
  never logged, map keys (encryption context) are kept verbatim. ``null`` when empty.
* ``responseElements`` is always ``null`` (AWS fills it for a few write calls, e.g.
  CreateKey's ``keyMetadata``; not emulated).
* ``resources``: the keys the call names, each as its **key ARN**: request members ``KeyId``,
  ``TargetKeyId``, ``SourceKeyId``, ``DestinationKeyId`` (key id, key ARN, alias name or alias
  ARN, resolved in moto's KMS without creating ``alias/aws/*`` keys; an alias is resolved
  before the call too, so DeleteAlias/UpdateAlias name the key it pointed to), then the
  response's ``KeyMetadata.Arn`` (CreateKey, DescribeKey), ``KeyId`` and ``SourceKeyId``
  (Decrypt/ReEncrypt without a KeyId: the key of the ciphertext); then the alias ARN of an
  ``AliasName`` (CreateAlias, UpdateAlias, DeleteAlias), type ``AWS::KMS::Key`` as AWS logs it.
  No resources (ListKeys, GenerateRandom, ...): the member is omitted.
* ``readOnly``: true for Describe*/Get*/List* and the cryptographic operations (Encrypt,
  Decrypt, ReEncrypt, GenerateDataKey*, GenerateMac, GenerateRandom, Sign, Verify, VerifyMac,
  DeriveSharedSecret), false for everything else.
* Where: in the (account, region) of each key named (the key's account and Region), and in
  the caller's own (account, region); normally one and the same. A call recorded in several
  accounts gets one ``eventID`` per account and a common ``sharedEventID``, as CloudTrail does
  for cross-account KMS use. ``recipientAccountId`` is the account holding the copy.
* ``requestID`` is moto's ``x-amzn-RequestId`` of the response; ``eventID`` a random UUID
  (never moto's seeded generator, so recording does not change seeded ids).

X-Ray's own use (``record_service_use``, called by xray_traces): X-Ray encrypts the segments
it stores under a KMS key with a data key from ``GenerateDataKey`` and decrypts them for
``BatchGetTraces`` with ``Decrypt``, as the AWS service principal. One event per call and key
(not per segment or trace), recorded in the key's account and Region, with ``userIdentity``
``{"type": "AWSService", "invokedBy": "xray.amazonaws.com"}``, ``sourceIPAddress`` and
``userAgent`` ``xray.amazonaws.com``, requestParameters ``{"keyId": ARN, "keySpec": "AES_256"}``
resp. ``{"keyId": ARN, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}``; no ``Username`` /
``AccessKeyId`` in LookupEvents.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from moto.utilities.utils import get_partition

from . import service_models
from .caller import Caller, identify
from .event_history import EventHistory
from .kms_keys import backend_and_ref, parse_key_arn

EVENT_VERSION = "1.08"
KMS_EVENT_SOURCE = "kms.amazonaws.com"
KMS_TARGET_PREFIX = "TrentService."
KEY_RESOURCE_TYPE = "AWS::KMS::Key"
XRAY_SERVICE = "xray.amazonaws.com"

REQUEST_KEY_MEMBERS = ("KeyId", "TargetKeyId", "SourceKeyId", "DestinationKeyId")
RESPONSE_KEY_MEMBERS = ("KeyId", "SourceKeyId")
ALIAS_OPERATIONS = ("CreateAlias", "UpdateAlias", "DeleteAlias")
READ_ONLY_PREFIXES = ("Describe", "Get", "List")
READ_ONLY_OPERATIONS = frozenset(
    {
        "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "GenerateMac", "GenerateRandom",
        "Sign", "Verify", "VerifyMac", "DeriveSharedSecret",
    }
)  # fmt: skip


def kms_operation(caller: Caller, environ: dict[str, Any]) -> str | None:
    """The KMS operation of this request (``TrentService.<Operation>``), or None if it is not one."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if caller.service != "kms" or not target.startswith(KMS_TARGET_PREFIX):
        return None
    return target[len(KMS_TARGET_PREFIX) :] or None


def read_only(operation: str) -> bool:
    return operation.startswith(READ_ONLY_PREFIXES) or operation in READ_ONLY_OPERATIONS


def _now() -> tuple[int, str]:
    """(epoch seconds, ISO 8601 Z): CloudTrail's eventTime has whole seconds."""
    seconds = int(time.time())
    return seconds, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _iso(dt: Any) -> str | None:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt is not None else None


# --- keys -------------------------------------------------------------------------------


def resolve_key_arn(ref: object, account: str, region: str) -> str | None:
    """Key ARN for a key id, key ARN, alias name or alias ARN in moto's KMS (None if unknown).

    Read-only: unlike moto's ``get_key_id_from_alias`` it never creates an AWS managed key.
    """
    if not isinstance(ref, str) or not ref:
        return None
    found = backend_and_ref(ref, account, region)
    if found is None:
        return None
    backend, _, _, ref = found
    if ref.startswith("alias/"):
        key = next((k for k in backend.keys.values() if ref in k.aliases), None)
    else:
        key = backend.keys.get(ref[len("key/") :] if ref.startswith("key/") else ref)
    return key.arn if key is not None else None


def _resource(arn: str) -> dict[str, str]:
    return {"accountId": arn.split(":")[4], "type": KEY_RESOURCE_TYPE, "ARN": arn}


def _request_key_arns(caller: Caller, params: dict[str, Any]) -> list[str]:
    arns = [resolve_key_arn(params.get(member), caller.account_id, caller.region) for member in REQUEST_KEY_MEMBERS]
    return [arn for arn in arns if arn]


def _response_key_arns(response: Any) -> list[str]:
    if not isinstance(response, dict):
        return []
    found = [response.get(member) for member in RESPONSE_KEY_MEMBERS]
    metadata = response.get("KeyMetadata")
    if isinstance(metadata, dict):
        found.insert(0, metadata.get("Arn"))
    return [arn for arn in found if parse_key_arn(arn) is not None]


# --- requestParameters --------------------------------------------------------------------


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _logged(shapes: dict[str, Any], shape_name: str | None, value: Any) -> Any:
    """``value`` as CloudTrail logs it, by its botocore shape (unknown shapes: names lower-cased only)."""
    shape = shapes.get(shape_name or "", {})
    kind = shape.get("type")
    if isinstance(value, dict) and kind == "map":
        return {k: _logged(shapes, shape["value"]["shape"], v) for k, v in value.items()}
    if isinstance(value, dict):
        members = shape.get("members", {})
        out = {}
        for name, member_value in value.items():
            member_shape = members.get(name, {}).get("shape")
            if shapes.get(member_shape or "", {}).get("type") == "blob":
                continue  # plaintext, ciphertext, signatures: never logged
            out[_camel(name)] = _logged(shapes, member_shape, member_value)
        return out
    if isinstance(value, list):
        member_shape = shape.get("member", {}).get("shape") if kind == "list" else None
        return [_logged(shapes, member_shape, item) for item in value]
    return value


def request_parameters(operation: str, params: dict[str, Any]) -> dict[str, Any] | None:
    model = service_models.service_model("kms") or {"operations": {}, "shapes": {}}
    input_shape = model["operations"].get(operation, {}).get("input", {}).get("shape")
    logged = _logged(model["shapes"], input_shape, params)
    return logged or None


# --- records ---------------------------------------------------------------------------------


def user_identity(caller: Caller) -> tuple[dict[str, Any], str]:
    """CloudTrail ``userIdentity`` of the request's principal, and LookupEvents' ``Username``."""
    ident = identify(caller)
    out: dict[str, Any] = {"type": ident.type}
    if ident.type == "IAMUser":
        out.update(
            principalId=ident.user.id, arn=ident.arn, accountId=ident.account_id,
            accessKeyId=caller.signing_key, userName=ident.user.name,
        )  # fmt: skip
        return out, ident.user.name
    if ident.type == "AssumedRole":
        role_arn = ident.role_arn or ""
        role_name = role_arn.rsplit("/", 1)[-1]
        session_name = ident.session.session_name if ident.session is not None else ident.arn.rsplit("/", 1)[-1]
        role_id = ident.role.id if ident.role is not None else None
        if role_id:
            out["principalId"] = f"{role_id}:{session_name}"
        out.update(arn=ident.arn, accountId=ident.account_id, accessKeyId=caller.signing_key)
        issuer: dict[str, Any] = {"type": "Role"}
        if role_id:
            issuer["principalId"] = role_id
        issuer.update(arn=role_arn, accountId=role_arn.split(":")[4], userName=role_name)
        attributes = {"mfaAuthenticated": "false"}
        created = _iso(getattr(ident.access_key, "create_date", None))
        if created:
            attributes = {"creationDate": created, **attributes}
        out["sessionContext"] = {"sessionIssuer": issuer, "webIdFederationData": {}, "attributes": attributes}
        return out, session_name
    out.update(principalId=ident.account_id, arn=ident.arn, accountId=ident.account_id, accessKeyId=caller.signing_key)
    return out, "root"


_FIELD_ORDER = (
    "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress",
    "userAgent", "requestParameters", "responseElements", "requestID", "eventID", "readOnly", "resources",
    "eventType", "managementEvent", "recipientAccountId", "sharedEventID", "eventCategory",
)  # fmt: skip


def _store(
    history: EventHistory,
    targets: list[tuple[str, str]],
    record: dict[str, Any],
    event_time: int,
    username: str | None,
    access_key_id: str | None,
) -> None:
    """One copy per (account, region), each with its own eventID and recipientAccountId."""
    shared = str(uuid.uuid4()) if len(targets) > 1 else None
    for account, region in targets:
        copy = dict(record, eventID=str(uuid.uuid4()), recipientAccountId=account, eventCategory="Management")
        if shared:
            copy["sharedEventID"] = shared
        ordered = {k: copy[k] for k in _FIELD_ORDER if k in copy}  # AWS's member order
        history.record(account, region, ordered, event_time, username, access_key_id)


def _record(
    *,
    identity: dict[str, Any],
    event_name: str,
    region: str,
    source_ip: str,
    user_agent: str,
    parameters: dict[str, Any] | None,
    request_id: str,
    resources: list[dict[str, str]],
    event_time: str,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": identity,
        "eventTime": event_time,
        "eventSource": KMS_EVENT_SOURCE,
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
        "requestParameters": parameters,
        "responseElements": None,
        "requestID": request_id,
        "readOnly": read_only(event_name),
        "eventType": "AwsApiCall",
        "managementEvent": True,
    }
    if resources:
        record["resources"] = resources
    return record


class KmsCall:
    """One KMS request on its way through moto: what is needed before and after it runs."""

    def __init__(self, caller: Caller, environ: dict[str, Any], operation: str, body: bytes) -> None:
        self.caller = caller
        self.operation = operation
        self.source_ip = environ.get("REMOTE_ADDR") or "127.0.0.1"
        self.user_agent = environ.get("HTTP_USER_AGENT") or ""
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
        self.params: dict[str, Any] = params if isinstance(params, dict) else {}
        # An alias may point elsewhere (or nowhere) once the call has run (UpdateAlias, DeleteAlias).
        self.keys_before = _request_key_arns(caller, self.params)
        if operation in ("UpdateAlias", "DeleteAlias"):
            old = resolve_key_arn(self.params.get("AliasName"), caller.account_id, caller.region)
            self.keys_before += [old] if old else []

    def resources(self, response: Any) -> list[dict[str, str]]:
        arns: list[str] = []
        for arn in _request_key_arns(self.caller, self.params) + self.keys_before + _response_key_arns(response):
            if arn not in arns:
                arns.append(arn)
        out = [_resource(arn) for arn in arns]
        alias = self.params.get("AliasName")
        if self.operation in ALIAS_OPERATIONS and isinstance(alias, str) and alias.startswith("alias/"):
            c = self.caller
            out.append(_resource(f"arn:{get_partition(c.region)}:kms:{c.region}:{c.account_id}:{alias}"))
        return out

    def record(self, history: EventHistory, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        """Record the call if moto answered it 2xx."""
        if not status.startswith("2"):
            return
        try:
            response = json.loads(body) if body else None
        except ValueError:
            response = None
        request_id = next((v for k, v in headers if k.lower() == "x-amzn-requestid"), None) or str(uuid.uuid4())
        identity, username = user_identity(self.caller)
        resources = self.resources(response)
        seconds, iso = _now()
        record = _record(
            identity=identity,
            event_name=self.operation,
            region=self.caller.region,
            source_ip=self.source_ip,
            user_agent=self.user_agent,
            parameters=request_parameters(self.operation, self.params),
            request_id=request_id,
            resources=resources,
            event_time=iso,
        )
        targets = [(self.caller.account_id, self.caller.region)]
        for res in resources:
            parsed = res["ARN"].split(":")
            target = (parsed[4], parsed[3])
            if target not in targets:
                targets.append(target)
        _store(history, targets, record, seconds, username, self.caller.signing_key or None)


def record_service_use(
    history: EventHistory,
    key_arn: str,
    event_name: str,
    parameters: dict[str, Any],
    service: str = XRAY_SERVICE,
) -> None:
    """An AWS service's own KMS call on ``key_arn`` (X-Ray: GenerateDataKey, Decrypt),
    recorded in the key's account and Region."""
    parsed = parse_key_arn(key_arn)
    if parsed is None:
        return
    region, account, _ = parsed
    seconds, iso = _now()
    record = _record(
        identity={"type": "AWSService", "invokedBy": service},
        event_name=event_name,
        region=region,
        source_ip=service,
        user_agent=service,
        parameters={"keyId": key_arn, **parameters},
        request_id=str(uuid.uuid4()),
        resources=[_resource(key_arn)],
        event_time=iso,
    )
    _store(history, [(account, region)], record, seconds, None, None)


def record_xray_generate_data_key(history: EventHistory, key_arn: str) -> None:
    record_service_use(history, key_arn, "GenerateDataKey", {"keySpec": "AES_256"})


def record_xray_decrypt(history: EventHistory, key_arn: str) -> None:
    record_service_use(history, key_arn, "Decrypt", {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"})
