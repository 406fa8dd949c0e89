"""X-Ray's use of a customer managed key, as authorization decides it.

* ``PutEncryptionConfig`` with Type ``KMS``: the caller must be allowed ``kms:CreateGrant`` (with
  ``kms:ViaService = xray.<region>.amazonaws.com`` and ``kms:GrantIsForAWSResource = true``) and
  ``kms:DescribeKey`` (via X-Ray) on the key, by the full evaluation (key policy, IAM, SCPs,
  grants). Otherwise the call fails with ``AccessDeniedException`` naming the missing action and
  nothing changes. On success X-Ray holds a grant on the key (grantee ``xray.amazonaws.com``,
  named for the account and Region), which it uses for every later write.
* X-Ray stores segments only while it can use the key: the key is ``Enabled``, X-Ray's grant on it
  is live (not retired or revoked), and the key policy does not explicitly deny X-Ray
  ``kms:GenerateDataKey``.
* ``BatchGetTraces`` returns a trace encrypted under a CMK only to a caller allowed ``kms:Decrypt``
  on the key via X-Ray; otherwise the trace is listed in ``UnprocessedTraceIds``.
"""

from __future__ import annotations

from typing import Any

from . import authz, iam_eval
from .caller import Caller

XRAY_PRINCIPAL = "xray.amazonaws.com"
GRANT_OPERATIONS = ["Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "DescribeKey"]


class AccessDenied(Exception):
    """The caller may not have X-Ray use the key; the message says which permission is missing."""


def via_xray(region: str) -> dict[str, list[str]]:
    return {"kms:viaservice": [f"xray.{region}.amazonaws.com"]}


def grant_name(account: str, region: str) -> str:
    return f"xray-encryption-{account}-{region}"


def _key(key_arn: str) -> authz.KmsKey | None:
    parts = key_arn.split(":", 5)
    if len(parts) != 6:
        return None
    return authz.find_key(key_arn, parts[4], parts[3])


def require_configurer(caller: Caller, key: Any) -> None:
    """Raise AccessDenied unless ``caller`` may have X-Ray encrypt with ``key`` (moto's Key)."""
    found = _key(key.arn)
    if found is None:
        raise AccessDenied(f"The KMS key {key.arn} does not exist or is not accessible.")
    principal = authz.principal_of(caller)
    checks = (
        ("kms:CreateGrant", {**via_xray(caller.region), "kms:grantisforawsresource": ["true"]}),
        ("kms:DescribeKey", via_xray(caller.region)),
    )
    for action, ctx in checks:
        try:
            d = authz.decide_kms(caller, principal, found, action, ctx)
        except iam_eval.Unsupported as exc:
            raise AccessDenied(
                f"User: {principal.ident.arn} is not authorized to perform: {action} on resource: {key.arn} "
                f"because the emulator's policy evaluator does not support {exc.construct}"
            ) from None
        if not d.allowed:
            raise AccessDenied(
                f"User: {principal.ident.arn} is not authorized to perform: {action} on resource: {key.arn} "
                f"{d.reason}. X-Ray needs {action} on the key to use it for encryption."
            )
    name = grant_name(caller.account_id, caller.region)
    if not any(g.name == name for g in found.key.grants.values()):
        found.key.add_grant(name, XRAY_PRINCIPAL, list(GRANT_OPERATIONS), constraints={}, retiring_principal=XRAY_PRINCIPAL)


def xray_can_use(account: str, region: str, key_arn: str) -> bool:
    """Whether X-Ray can encrypt new segments of (account, region) with the key."""
    found = _key(key_arn)
    if found is None or found.key.key_state != "Enabled":
        return False
    name = grant_name(account, region)
    if not any(g.name == name for g in found.key.grants.values()):
        return False
    ctx = {**via_xray(region), "kms:calleraccount": [account]}
    request = iam_eval.Request("kms:GenerateDataKey", key_arn, iam_eval.Caller(XRAY_PRINCIPAL, "service"), ctx)
    try:
        verdict = iam_eval.evaluate([found.key.policy], request, resource_policy=True)
    except iam_eval.Unsupported:
        return False
    return verdict.deny is None


def reader_may_decrypt(caller: Caller, key_arn: str) -> bool:
    found = _key(key_arn)
    if found is None:
        return False
    try:
        return authz.decide_kms(caller, authz.principal_of(caller), found, "kms:Decrypt", via_xray(caller.region)).allowed
    except iam_eval.Unsupported:
        return False
