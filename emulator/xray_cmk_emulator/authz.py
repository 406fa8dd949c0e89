"""Authorization of every signed request, as AWS decides it (``iam_eval`` does the evaluation).

For each request the middleware serves, before moto or our handlers see it:

* the caller: moto's root of the account (unknown keys such as ``test`` included), an IAM user,
  or an STS assumed-role session (its role must still exist);
* the action ``service:Operation`` and the resource: the KMS key (its ARN, aliases resolved) for
  key operations, the alias and the key for alias operations, the role for ``sts:AssumeRole``,
  the policy source for ``iam:SimulatePrincipalPolicy``, ``*`` otherwise;
* the context: ``aws:RequestedRegion``, ``aws:PrincipalArn``, ``aws:PrincipalAccount``,
  ``aws:PrincipalOrgID``, ``aws:PrincipalType``, ``aws:CurrentTime``, ``aws:EpochTime``,
  ``aws:SecureTransport`` (``true``, as AWS's endpoints are HTTPS), ``aws:SourceIp``; for KMS also
  ``kms:CallerAccount`` and ``aws:ResourceTag/*`` of the key;
* the policies: the principal's inline and attached managed policies (and its groups'), its
  permissions boundary, the SCPs of its account (member accounts of an organization whose root has
  SCPs enabled; never the management account), and for KMS the key policy and the key's grants.

KMS as its Developer Guide describes it: the key policy decides; it reaches IAM only where it
names the account. Operations KMS does not support across accounts (``GetKeyPolicy``,
``ListResourceTags``, ``ListAliases``, ...) never reach another account's key: KMS looks for the
key in the caller's account and answers ``NotFoundException``. Supported ones are served from the
key owner's account once both the key policy and the caller's IAM allow them.

A policy construct the evaluator does not support refuses the request and logs one line naming it.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

from werkzeug.wrappers import Response

from . import iam_eval, service_models, wire
from .caller import Caller, CallerIdentity, identify
from .kms_keys import backend_and_ref

_log = logging.getLogger(__name__)

NEVER_DENIED = {"sts:getcalleridentity"}

# KMS operations that accept a key of another account ("Cross-account use: Yes" in the KMS API
# permissions table). Every other operation looks for the key in the caller's own account.
KMS_CROSS_ACCOUNT = {
    "CreateGrant", "Decrypt", "DescribeKey", "Encrypt", "GenerateDataKey", "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext", "GenerateDataKeyWithoutPlaintext", "GenerateMac",
    "GetKeyRotationStatus", "GetPublicKey", "ListGrants", "ReEncrypt", "RetireGrant", "RevokeGrant",
    "Sign", "Verify", "VerifyMac", "DeriveSharedSecret",
}  # fmt: skip
# KMS operations whose permission is decided by IAM alone (no key involved).
KMS_IAM_ONLY = {
    "CreateKey", "ListKeys", "ListAliases", "GenerateRandom", "ListRetirableGrants",
    "DescribeCustomKeyStores", "CreateCustomKeyStore", "ConnectCustomKeyStore",
    "DeleteCustomKeyStore", "DisconnectCustomKeyStore", "UpdateCustomKeyStore",
}  # fmt: skip
KMS_ALIAS_OPS = {"CreateAlias", "DeleteAlias", "UpdateAlias"}


@dataclass
class Principal:
    """The signer, with everything that decides for it."""

    ident: CallerIdentity
    caller: iam_eval.Caller
    identity_docs: list[Any]
    boundary: Any
    principal_arn: str  # aws:PrincipalArn: the role's ARN for a session
    is_root: bool
    usable: bool = True  # False: an assumed-role session whose role no longer exists


def _managed_document(policy: Any) -> Any:
    for version in getattr(policy, "versions", []):
        if version.version_id == policy.default_version_id:
            return version.document
    return None


def _policy_by_arn(account_id: str, partition: str, arn: str) -> Any:
    from moto.iam.models import iam_backends

    try:
        return _managed_document(iam_backends[account_id][partition].get_policy(arn))
    except Exception:  # a boundary naming a policy that does not exist
        return None


def principal_of(caller: Caller) -> Principal:
    from moto.iam.models import iam_backends

    ident = identify(caller)
    partition = caller.partition
    docs: list[Any] = []
    boundary = None
    if ident.type == "AssumedRole":
        role = ident.role
        role_arn = ident.role_arn or ident.arn
        ev = iam_eval.caller_from_string(ident.arn, role_arn)
        if role is None:
            return Principal(ident, ev, [], None, role_arn, False, usable=False)
        docs += list(role.policies.values())
        docs += [_managed_document(p) for p in role.managed_policies.values()]
        if getattr(role, "permissions_boundary_arn", None):
            boundary = _policy_by_arn(caller.account_id, partition, role.permissions_boundary_arn) or {
                "Statement": []
            }
        return Principal(ident, ev, [d for d in docs if d], boundary, role.arn, False)
    if ident.type == "IAMUser":
        user = ident.user
        docs += list(user.policies.values())
        docs += [_managed_document(p) for p in user.managed_policies.values()]
        for group in iam_backends[caller.account_id][partition].get_groups_for_user(user.name):
            docs += list(group.policies.values())
            docs += [_managed_document(p) for p in group.managed_policies.values()]
        if getattr(user, "permissions_boundary_arn", None):
            boundary = _policy_by_arn(caller.account_id, partition, user.permissions_boundary_arn) or {
                "Statement": []
            }
        ev = iam_eval.caller_from_string(user.arn)
        return Principal(ident, ev, [d for d in docs if d], boundary, user.arn, False)
    ev = iam_eval.caller_from_string(ident.arn)
    return Principal(ident, ev, [], None, ident.arn, True)


# --- organizations ------------------------------------------------------------------------


def organization_of(account_id: str) -> tuple[Any, str] | None:
    """(moto's organization backend, management account id) of the account's organization."""
    from moto.organizations.models import organizations_backends

    found = organizations_backends.master_accounts.get(account_id)
    if found is None:
        try:
            backend = organizations_backends[account_id]["aws"]
        except KeyError:
            return None
        if backend.org is None:
            return None
        return backend, account_id
    management, partition = found
    return organizations_backends[management][partition], management


def org_id(account_id: str) -> str | None:
    found = organization_of(account_id)
    return found[0].org.id if found and found[0].org else None


def scp_levels(account_id: str) -> list[list[Any]] | None:
    """The SCPs that apply to principals of ``account_id``: one list per level, root first, then
    each OU down to the account, then the account. None when no SCP applies: not in an
    organization, the management account, or SCPs not enabled on the root."""
    found = organization_of(account_id)
    if found is None:
        return None
    backend, management = found
    if account_id == management or backend.org is None:
        return None
    roots = backend.ou and [r for r in backend.ou if type(r).__name__ == "FakeRoot"]
    root = roots[0] if roots else None
    if root is None or not any(t.get("Type") == "SERVICE_CONTROL_POLICY" for t in root.policy_types):
        return None
    account = next((a for a in backend.accounts if a.id == account_id), None)
    if account is None:
        return None
    chain = []
    parent = account.parent_id
    while parent and parent != root.id:
        ou = next((o for o in backend.ou if o.id == parent), None)
        if ou is None:
            break
        chain.append(ou)
        parent = ou.parent_id
    levels = [root] + list(reversed(chain)) + [account]

    def scps(entity: Any) -> list[Any]:
        return [p.content for p in entity.attached_policies if p.type == "SERVICE_CONTROL_POLICY"]

    return [scps(level) for level in levels]


# --- requests -----------------------------------------------------------------------------


def operation_name(service: str, environ: dict[str, Any], body: bytes) -> str | None:
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.split(".")[-1]
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" in query:
        return query["Action"][0]
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        form = parse_qs(body.decode("utf-8", "replace"))
        if "Action" in form:
            return form["Action"][0]
    return service_models.rest_operation(service, environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", ""))


def query_params(environ: dict[str, Any], body: bytes) -> dict[str, str]:
    params = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        params.update({k: v[0] for k, v in form.items()})
    return params


def json_params(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def base_context(caller: Caller, principal: Principal, environ: dict[str, Any] | None) -> dict[str, list[str]]:
    now = datetime.now(timezone.utc)
    kind = {"AssumedRole": "AssumedRole", "IAMUser": "User"}.get(principal.ident.type, "Account")
    ctx = {
        "aws:requestedregion": [caller.region],
        "aws:principalarn": [principal.principal_arn],
        "aws:principalaccount": [caller.account_id],
        "aws:principaltype": [kind],
        "aws:currenttime": [now.strftime("%Y-%m-%dT%H:%M:%SZ")],
        "aws:epochtime": [str(int(time.time()))],
        "aws:securetransport": ["true"],
    }
    org = org_id(caller.account_id)
    if org:
        ctx["aws:principalorgid"] = [org]
    if environ is not None and environ.get("REMOTE_ADDR"):
        ctx["aws:sourceip"] = [environ["REMOTE_ADDR"]]
    return ctx


@dataclass(frozen=True)
class KmsKey:
    key: Any  # moto's Key
    backend: Any
    account: str
    region: str

    @property
    def arn(self) -> str:
        return self.key.arn


def find_key(ref: str, account: str, region: str) -> KmsKey | None:
    """The key a KeyId names (key id, key ARN, alias name, alias ARN), in the account and region the
    reference names (an ARN's own, else the caller's)."""
    if not isinstance(ref, str) or not ref:
        return None
    found = backend_and_ref(ref, account, region)
    if found is None:
        return None
    backend, account, region, ref = found
    if ref.startswith("alias/"):
        # Never backend.get_key_id_from_alias: it creates AWS managed keys on first use.
        raw = next((k.id for k in backend.keys.values() if ref in getattr(k, "aliases", ())), None)
    else:
        raw = ref[len("key/") :] if ref.startswith("key/") else ref
    key = backend.keys.get(raw) if raw else None
    return KmsKey(key, backend, account, region) if key is not None else None


def ciphertext_key(blob: Any) -> str | None:
    """The key id moto's ciphertext format carries in its header."""
    import base64

    from moto.kms.utils import _deserialize_ciphertext_blob

    if not isinstance(blob, str):
        return None
    try:
        return _deserialize_ciphertext_blob(base64.b64decode(blob)).key_id
    except Exception:
        return None


def find_key_anywhere(key_id: str, region: str) -> KmsKey | None:
    from moto.kms.models import kms_backends

    for account, regions in list(kms_backends.items()):
        backend = regions.get(region) if hasattr(regions, "get") else None
        if backend is not None and key_id in backend.keys:
            return KmsKey(backend.keys[key_id], backend, account, region)
    return None


def key_tags(key: KmsKey) -> dict[str, str]:
    try:
        return dict(key.backend.tagger.get_tag_dict_for_resource(key.key.id))
    except Exception:
        return {}


def grant_allows(key: KmsKey, principal: Principal, operation: str) -> bool:
    names = {principal.caller.arn, principal.principal_arn}
    for grant in getattr(key.key, "grants", {}).values():
        if grant.grantee_principal in names and operation in (grant.operations or []):
            return True
    return False


def decide_kms(
    caller: Caller,
    principal: Principal,
    key: KmsKey,
    action: str,
    extra_context: dict[str, list[str]] | None = None,
    environ: dict[str, Any] | None = None,
    policy_override: Any = None,
) -> iam_eval.Decision:
    """May ``principal`` perform the KMS ``action`` on ``key``? The full evaluation."""
    ctx = base_context(caller, principal, environ)
    ctx["kms:calleraccount"] = [caller.account_id]
    for k, v in key_tags(key).items():
        ctx[f"aws:resourcetag/{k.lower()}"] = [v]
    for k, v in (extra_context or {}).items():
        ctx[k.lower()] = v
    request = iam_eval.Request(action, key.arn, principal.caller, ctx)
    policies = iam_eval.Policies(
        identity=principal.identity_docs,
        boundary=principal.boundary,
        scp_levels=scp_levels(caller.account_id),
        resource_policy=policy_override if policy_override is not None else key.key.policy,
        resource_account=key.account,
        key_policy_required=True,
        grant_allows=grant_allows(key, principal, action.split(":", 1)[1]),
        is_root=principal.is_root,
    )
    return iam_eval.decide(request, policies)


def decide_plain(
    caller: Caller, principal: Principal, action: str, resource: str, environ: dict[str, Any] | None
) -> iam_eval.Decision:
    ctx = base_context(caller, principal, environ)
    request = iam_eval.Request(action, resource, principal.caller, ctx)
    policies = iam_eval.Policies(
        identity=principal.identity_docs,
        boundary=principal.boundary,
        scp_levels=scp_levels(caller.account_id),
        is_root=principal.is_root,
    )
    return iam_eval.decide(request, policies)


# --- the answer ---------------------------------------------------------------------------


def access_denied(caller: Caller, principal_arn: str, action: str, resource: str, why: str) -> Response:
    """AccessDenied in the wire protocol of the called service, worded as AWS words it."""
    service = caller.service or ""
    on = f" on resource: {resource}" if resource and resource != "*" else ""
    message = f"User: {principal_arn} is not authorized to perform: {action}{on} {why}".strip()
    proto = service_models.protocol(service)
    if proto == "json":
        return wire.aws_json_error("AccessDeniedException", message, 400)
    if proto in ("query", "ec2"):
        return wire.query_error("AccessDenied", message, 403)
    if proto == "rest-xml":
        return wire.rest_xml_error("AccessDenied", message, 403)
    member = service_models.error_message_member(service, "AccessDeniedException")
    return wire.rest_json_error(403, "AccessDeniedException", message, member)


def _refused(caller: Caller, principal: Principal, action: str, resource: str, exc: iam_eval.Unsupported) -> Response:
    _log.warning(
        "authorization refused %s by %s: the policy evaluator does not support %s",
        action, principal.ident.arn, exc.construct,
    )  # fmt: skip
    return access_denied(
        caller, principal.ident.arn, action, resource,
        f"because the emulator's policy evaluator does not support {exc.construct}",
    )  # fmt: skip


@dataclass
class Outcome:
    """What the middleware does with a request: answer it (denied), or forward it, possibly to the
    key owner's account (``route_account``)."""

    response: Response | None = None
    route_account: str | None = None


def _kms(
    caller: Caller, principal: Principal, op: str, params: dict[str, Any], environ: dict[str, Any]
) -> Outcome:
    action = f"kms:{op}"

    def deny(d: iam_eval.Decision, resource: str) -> Outcome:
        return Outcome(access_denied(caller, principal.ident.arn, action, resource, d.reason))

    if op in KMS_IAM_ONLY:
        # These name no key: IAM alone decides, on resource `*` (the KMS permissions table).
        d = decide_plain(caller, principal, action, "*", environ)
        if not d.allowed:
            return deny(d, "*")
        if op == "CreateKey":
            refused = new_policy_refused(caller, principal, params, None, environ)
            if refused is not None:
                return Outcome(refused)
        return Outcome()
    if op in KMS_ALIAS_OPS:
        alias = params.get("AliasName")
        alias_arn = f"arn:{caller.partition}:kms:{caller.region}:{caller.account_id}:{alias}"
        d = decide_plain(caller, principal, action, alias_arn, environ)
        if not d.allowed:
            return deny(d, alias_arn)
        target = params.get("TargetKeyId") or alias
        key = find_key(target, caller.account_id, caller.region) if isinstance(target, str) else None
        if key is None or key.account != caller.account_id:
            return Outcome()  # moto answers NotFoundException
        d = decide_kms(caller, principal, key, action, environ=environ)
        return Outcome() if d.allowed else deny(d, key.arn)
    key_ref = params.get("KeyId")
    if not isinstance(key_ref, str) or not key_ref:
        if op == "RetireGrant" and params.get("GrantToken"):
            return Outcome()  # retiring by token: the token is the authorization
        key_ref = ciphertext_key(params.get("CiphertextBlob")) if op in ("Decrypt", "ReEncrypt") else None
        if key_ref is None:
            return Outcome()  # moto validates the missing parameter or the bad ciphertext
    key = find_key(key_ref, caller.account_id, caller.region)
    if key is None and key_ref and not key_ref.startswith(("arn:", "alias/")):
        key = find_key_anywhere(key_ref, caller.region)  # a ciphertext names its key by id only
    if key is None or (key.region != caller.region):
        # KMS answers NotFoundException for a key it cannot find; the caller still needs IAM.
        d = decide_plain(caller, principal, action, key_ref if key_ref.startswith("arn:") else "*", environ)
        return Outcome() if d.allowed else deny(d, key_ref)
    cross = key.account != caller.account_id
    if cross and op not in KMS_CROSS_ACCOUNT:
        return Outcome()  # looked up in the caller's own account: NotFoundException
    d = decide_kms(caller, principal, key, action, None, environ)
    if not d.allowed:
        return deny(d, key.arn)
    if op == "PutKeyPolicy":
        refused = new_policy_refused(caller, principal, params, key, environ)
        if refused is not None:
            return Outcome(refused)
    return Outcome(route_account=key.account if cross else None)


def malformed(message: str) -> Response:
    return wire.aws_json_error("MalformedPolicyDocumentException", message, 400)


def unknown_principals(policy: Any) -> list[str]:
    """IAM role and user ARNs a policy names that do not exist (KMS rejects such a policy)."""
    from moto.iam.models import iam_backends

    missing = []
    for stmt in iam_eval.statements(policy):
        for element in ("Principal", "NotPrincipal"):
            value = stmt.get(element)
            if not isinstance(value, dict):
                continue
            for arn in iam_eval.as_list(value.get("AWS", [])):
                parts = str(arn).split(":", 5)
                if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam":
                    continue
                partition, account, resource = parts[1], parts[4], parts[5]
                if "*" in arn or "?" in arn:
                    missing.append(arn)
                    continue
                try:
                    iam = iam_backends[account][partition]
                except KeyError:
                    missing.append(arn)
                    continue
                if resource.startswith("role/"):
                    try:
                        iam.get_role_by_arn(arn)
                    except Exception:
                        missing.append(arn)
                elif resource.startswith("user/"):
                    if not any(u.arn == arn for u in iam.users.values()):
                        missing.append(arn)
    return missing


class _PendingKey:
    """The key a CreateKey would make, for the lockout safety check."""

    def __init__(self, account: str, region: str, partition: str) -> None:
        self.arn = f"arn:{partition}:kms:{region}:{account}:key/new"
        self.policy = None
        self.id = "new"
        self.grants: dict[str, Any] = {}


def new_policy_refused(
    caller: Caller, principal: Principal, params: dict[str, Any], key: KmsKey | None, environ: dict[str, Any]
) -> Response | None:
    """CreateKey/PutKeyPolicy: the policy must parse, name only principals that exist, and (unless
    BypassPolicyLockoutSafetyCheck) still let the caller PutKeyPolicy."""
    text = params.get("Policy")
    if text is None:
        return None
    if not isinstance(text, str):
        return malformed("The key policy must be a JSON string.")
    try:
        policy = json.loads(text)
        missing = unknown_principals(policy)
    except (ValueError, iam_eval.Unsupported):
        return malformed("The new key policy is not a valid JSON policy document.")
    if missing:
        return malformed(f"Policy contains a statement with one or more invalid principals: {', '.join(missing)}")
    if params.get("BypassPolicyLockoutSafetyCheck") is True:
        return None
    target = key or KmsKey(_PendingKey(caller.account_id, caller.region, caller.partition), None, caller.account_id, caller.region)
    try:
        d = decide_kms(caller, principal, target, "kms:PutKeyPolicy", None, environ, policy_override=policy)
    except iam_eval.Unsupported as exc:
        return malformed(f"The new key policy uses {exc.construct}, which the emulator cannot evaluate.")
    if not d.allowed:
        return malformed(
            "The new key policy will not allow you to update the key policy in the future."
        )
    return None


def _assume_role(caller: Caller, principal: Principal, params: dict[str, str], environ: dict[str, Any]) -> Outcome:
    """The trust policy is the role's resource policy: naming the caller itself is enough in the
    same account; naming the caller's account (or any cross-account use) also needs the caller's
    IAM. A missing role or a trust policy that does not allow is answered by sts_assume_role."""
    from .sts_assume_role import find_role

    role_arn = params.get("RoleArn", "")
    role = find_role(role_arn)
    action = "sts:AssumeRole"
    if role is None:
        return Outcome()
    ctx = base_context(caller, principal, environ)
    if "ExternalId" in params:
        ctx["sts:externalid"] = [params["ExternalId"]]
    if "RoleSessionName" in params:
        ctx["sts:rolesessionname"] = [params["RoleSessionName"]]
    request = iam_eval.Request(action, role_arn, principal.caller, ctx)
    trust = iam_eval.evaluate([role.assume_role_policy_document], request, resource_policy=True)
    if not trust.allows:
        return Outcome()
    d = iam_eval.decide(
        request,
        iam_eval.Policies(
            identity=principal.identity_docs,
            boundary=principal.boundary,
            scp_levels=scp_levels(caller.account_id),
            resource_policy=role.assume_role_policy_document,
            resource_account=role_arn.split(":")[4],
            is_root=principal.is_root,
        ),
    )
    if d.allowed:
        return Outcome()
    return Outcome(access_denied(caller, principal.ident.arn, action, role_arn, d.reason))


def check(caller: Caller, environ: dict[str, Any], body: bytes) -> Outcome:
    """Authorize one signed request."""
    if not caller.service:
        return Outcome()
    service = caller.service
    op = operation_name(service, environ, body)
    action = f"{service}:{op}" if op else f"{service}:*"
    if action.lower() in NEVER_DENIED:
        return Outcome()
    principal = principal_of(caller)
    if not principal.usable:
        return Outcome(
            access_denied(caller, principal.ident.arn, action, "*", "because the role of this session no longer exists")
        )
    if op is None:
        # An operation botocore's model cannot name from the request (S3's REST paths, mostly; the
        # seed's trail buckets). Decided as `service:*`: only a policy that allows every action of
        # the service allows it, and a Deny of any of them denies it.
        _log.info("authorization of an unnamed %s operation decided as %s", service, action)
        try:
            for doc in principal.identity_docs + ([principal.boundary] if principal.boundary else []):
                for stmt in iam_eval.statements(doc):
                    patterns = [str(p).lower() for p in iam_eval.as_list(stmt.get("Action", []))]
                    if stmt["Effect"] == "Deny" and any(p == "*" or p.startswith(f"{service}:") for p in patterns):
                        if iam_eval.conditions_hold(stmt.get("Condition"), base_context(caller, principal, environ)):
                            return Outcome(access_denied(caller, principal.ident.arn, action, "*", "with an explicit deny in an identity-based policy"))
            d = decide_plain(caller, principal, action, "*", environ)
        except iam_eval.Unsupported as exc:
            return Outcome(_refused(caller, principal, action, "*", exc))
        return Outcome() if d.allowed else Outcome(access_denied(caller, principal.ident.arn, action, "*", d.reason))
    try:
        if service == "kms":
            return _kms(caller, principal, op, json_params(body), environ)
        resource = "*"
        if service == "sts" and op == "AssumeRole":
            return _assume_role(caller, principal, query_params(environ, body), environ)
        if service == "iam" and op == "SimulatePrincipalPolicy":
            resource = query_params(environ, body).get("PolicySourceArn", "*")
        d = decide_plain(caller, principal, action, resource, environ)
        if d.allowed:
            return Outcome()
        return Outcome(access_denied(caller, principal.ident.arn, action, resource, d.reason))
    except iam_eval.Unsupported as exc:
        return Outcome(_refused(caller, principal, action, "*", exc))
