"""STS ``AssumeRole`` fails as on AWS when the role cannot be assumed.

moto 5.2.5 accepts any ``RoleArn`` (even a role that does not exist). Checked here,
before moto sees the request (after authorization, authz, has allowed it):

* The role must exist in moto's IAM backend of the account named in ``RoleArn``
  (exact ARN, path included).
* Its trust policy (``AssumeRolePolicyDocument``) must allow the caller: an
  ``Allow`` statement whose ``Action`` matches ``sts:AssumeRole`` (string or list,
  ``*``/``?`` wildcards, case-insensitive) and whose ``Principal`` is ``"*"``,
  ``{"AWS": "*"}``, the caller's account id or ``arn:aws:iam::ACCOUNT:root`` (any
  principal of that account), or the caller's exact ARN: the IAM user, or for an
  assumed-role session its role ARN or its session ARN. Other principal types
  (``Service``, ``Federated``) never match.
* ``Condition``: ``StringEquals`` / ``StringLike`` on ``sts:ExternalId`` only (the
  request's ``ExternalId``; absent never matches). A statement using any other
  operator or key is ignored (so it does not allow, and does not deny).
  Statements with ``NotPrincipal`` or ``NotAction`` are ignored.
* Any matching ``Deny`` statement wins.

The caller: an access key moto knows (IAM user key, or AssumeRole credentials),
else (e.g. ``test``) the root of the resolved account (``arn:aws:iam::ACCOUNT:root``).

Otherwise the answer is STS's: HTTP 403, awsQuery ``ErrorResponse`` with code
``AccessDenied`` and ``User: CALLER is not authorized to perform: sts:AssumeRole on
resource: ROLE_ARN`` (the same for a missing role and a refusing trust policy).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Response

from . import wire
from .authz import query_params
from .caller import Caller, identify
from .policy_subset import as_list, condition_holds, like

ACTION = "sts:AssumeRole"
SUPPORTED_OPERATORS = {"StringEquals", "StringLike"}
SUPPORTED_CONDITION_KEYS = {"sts:externalid"}

_ROLE_ARN = re.compile(r"arn:(aws[a-z-]*):iam::(\d{12}):role/.+")
_ACCOUNT_ID = re.compile(r"\d{12}")
_ROOT_ARN = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):root")


@dataclass(frozen=True)
class Identity:
    arn: str  # as AWS names the caller in the error message
    account_id: str
    principal_arns: frozenset[str]  # ARNs a trust policy may name for exactly this caller


def caller_identity(caller: Caller) -> Identity:
    ident = identify(caller)
    if ident.type == "AssumedRole":
        return Identity(ident.arn, ident.account_id, frozenset({ident.role_arn or ident.arn, ident.arn}))
    if ident.type == "IAMUser":
        return Identity(ident.arn, ident.account_id, frozenset({ident.arn}))
    return Identity(ident.arn, ident.account_id, frozenset())


def find_role(role_arn: str) -> Any | None:
    match = _ROLE_ARN.fullmatch(role_arn)
    if match is None:
        return None
    from moto.iam.models import iam_backends

    partition, account_id = match.groups()
    try:
        return iam_backends[account_id][partition].get_role_by_arn(role_arn)
    except Exception:  # NotFoundException, unknown partition
        return None


def _action_matches(patterns: Any) -> bool:
    return any(like(ACTION.lower(), str(p).lower()) for p in as_list(patterns))


def _principal_matches(principal: Any, identity: Identity) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    for value in as_list(principal.get("AWS", [])):
        value = str(value)
        if value == "*" or value in identity.principal_arns:
            return True
        if _ACCOUNT_ID.fullmatch(value) and value == identity.account_id:
            return True
        root = _ROOT_ARN.fullmatch(value)
        if root and root.group(1) == identity.account_id:
            return True
    return False


def trust_allows(document: Any, identity: Identity, external_id: str | None) -> bool:
    try:
        policy = json.loads(document) if isinstance(document, str) else document
    except ValueError:
        return False
    allowed = False
    for stmt in as_list((policy or {}).get("Statement", []) if isinstance(policy, dict) else []):
        if not isinstance(stmt, dict) or "NotPrincipal" in stmt or "NotAction" in stmt:
            continue
        if not _action_matches(stmt.get("Action", [])) or not _principal_matches(stmt.get("Principal"), identity):
            continue
        context = {key: external_id for key in SUPPORTED_CONDITION_KEYS}
        if condition_holds(stmt.get("Condition"), context, SUPPORTED_OPERATORS) is not True:
            continue
        if stmt.get("Effect") == "Deny":
            return False
        if stmt.get("Effect") == "Allow":
            allowed = True
    return allowed


def check(caller: Caller, environ: dict[str, Any], body: bytes) -> Response | None:
    """AccessDenied if this is an AssumeRole the role's trust policy does not allow, else None."""
    if caller.service != "sts":
        return None
    params = query_params(environ, body)
    if params.get("Action") != "AssumeRole":
        return None
    role_arn = params.get("RoleArn", "")
    identity = caller_identity(caller)
    role = find_role(role_arn)
    if role is not None and trust_allows(role.assume_role_policy_document, identity, params.get("ExternalId")):
        return None
    message = f"User: {identity.arn} is not authorized to perform: {ACTION} on resource: {role_arn}"
    return wire.query_error("AccessDenied", message, 403)
