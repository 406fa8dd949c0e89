"""A deliberately small subset of IAM evaluation: identity-policy explicit Deny.

moto does not evaluate IAM in server mode by default, but the demo needs "a
region the audit role cannot read". Evaluated here, before moto sees the request:

* Principal: the access key must be one moto knows (an IAM user's key or STS
  AssumeRole credentials). Unknown keys (e.g. ``test``) are never denied.
* Policies: inline and attached managed policies of the role, or of the user
  and its groups (default version). Only ``"Effect": "Deny"`` statements count;
  Allow statements are not evaluated (everything not denied is allowed).
* Action: ``Action`` as string or list; ``*``, ``service:*`` and wildcards
  (``*``, ``?``) match case-insensitively against ``service:Operation``.
  The operation comes from ``X-Amz-Target`` (json), ``Action=`` (query) or the
  literal request URI in botocore's model (rest-json, e.g. ``/EncryptionConfig``).
  Statements with ``NotAction`` are ignored.
* Resource: only statements whose ``Resource`` is ``*`` (or absent) apply;
  statements with ``NotResource`` or a specific resource are ignored.
* Condition: operators ``StringEquals``, ``StringNotEquals``, ``StringLike``,
  ``StringNotLike`` on the key ``aws:RequestedRegion`` only (= the SigV4
  credential-scope region). A statement using any other operator or key is
  ignored, i.e. not applied.
* ``sts:GetCallerIdentity`` is never denied (as on AWS).

A denied request gets ``AccessDeniedException`` in the service's wire protocol.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from werkzeug.wrappers import Response

from . import service_models, wire
from .caller import Caller, identify
from .policy_subset import as_list, condition_holds

SUPPORTED_CONDITION_KEYS = {"aws:requestedregion"}
SUPPORTED_OPERATORS = {"StringEquals", "StringNotEquals", "StringLike", "StringNotLike"}
NEVER_DENIED = {"sts:getcalleridentity"}


@dataclass
class Principal:
    arn: str
    policy_documents: list[str]


def _managed_document(policy: Any) -> str:
    for version in getattr(policy, "versions", []):
        if version.version_id == policy.default_version_id:
            return version.document
    return ""


def find_principal(caller: Caller) -> Principal | None:
    ident = identify(caller)
    docs: list[str] = []
    if ident.type == "AssumedRole":
        if ident.role is None:  # role assumed but not existing in moto: nothing to evaluate
            return None
        docs += list(ident.role.policies.values())
        docs += [_managed_document(p) for p in ident.role.managed_policies.values()]
        return Principal(ident.arn, docs)
    if ident.type == "IAMUser":
        user = ident.user
        docs += list(user.policies.values())
        docs += [_managed_document(p) for p in user.managed_policies.values()]
        from moto.iam.models import iam_backends

        for group in iam_backends[caller.account_id][caller.partition].get_groups_for_user(user.name):
            docs += list(group.policies.values())
            docs += [_managed_document(p) for p in group.managed_policies.values()]
        return Principal(user.arn, docs)
    return None  # root (unknown keys such as "test" included) is never denied


def deny_statements(principal: Principal) -> list[dict[str, Any]]:
    out = []
    for doc in principal.policy_documents:
        try:
            parsed = json.loads(doc) if isinstance(doc, str) else doc
        except ValueError:
            continue
        for stmt in as_list((parsed or {}).get("Statement", [])):
            if isinstance(stmt, dict) and stmt.get("Effect") == "Deny":
                out.append(stmt)
    return out


def _action_matches(patterns: Any, action: str | None, service: str) -> bool:
    for pattern in as_list(patterns):
        pattern = str(pattern).lower()
        if pattern in ("*", f"{service}:*"):
            return True
        if action and fnmatch.fnmatchcase(action.lower(), pattern):
            return True
    return False


def statement_denies(stmt: dict[str, Any], action: str | None, service: str, region: str) -> bool:
    if "NotAction" in stmt or "NotResource" in stmt or "NotPrincipal" in stmt:
        return False
    if any(r != "*" for r in as_list(stmt.get("Resource", "*"))):
        return False
    if not _action_matches(stmt.get("Action", []), action, service):
        return False
    context = {key: region for key in SUPPORTED_CONDITION_KEYS}
    return condition_holds(stmt.get("Condition"), context, SUPPORTED_OPERATORS) is True


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
    return service_models.rest_operation(
        service, environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
    )


def access_denied(caller: Caller, principal_arn: str, action: str, environ: dict[str, Any]) -> Response:
    """AccessDeniedException in the wire protocol of the called service."""
    service = caller.service or ""
    message = (
        f"User: {principal_arn} is not authorized to perform: {action} "
        "with an explicit deny in an identity-based policy"
    )
    proto = service_models.protocol(service)
    if proto is None:
        proto = "json" if environ.get("HTTP_X_AMZ_TARGET") else "rest-json"
    if proto == "json":
        return wire.aws_json_error("AccessDeniedException", message, 400)
    if proto in ("query", "ec2"):
        return wire.query_error("AccessDenied", message, 403)
    if proto == "rest-xml":
        return wire.rest_xml_error("AccessDenied", message, 403)
    member = service_models.error_message_member(service, "AccessDeniedException")
    return wire.rest_json_error(403, "AccessDeniedException", message, member)


def check(caller: Caller, environ: dict[str, Any], body: bytes) -> Response | None:
    """Return an AccessDenied response if an explicit Deny applies, else None."""
    if not caller.service:
        return None
    principal = find_principal(caller)
    if principal is None:
        return None
    statements = deny_statements(principal)
    if not statements:
        return None
    op = operation_name(caller.service, environ, body)
    action = f"{caller.service}:{op}" if op else None
    if action and action.lower() in NEVER_DENIED:
        return None
    for stmt in statements:
        if statement_denies(stmt, action, caller.service, caller.region):
            return access_denied(caller, principal.arn, action or f"{caller.service}:*", environ)
    return None
