"""IAM ``SimulatePrincipalPolicy`` (moto 5.2.5 does not implement it), answered by ``iam_eval``.

botocore model ``iam/2010-05-08`` (awsQuery). Input: ``PolicySourceArn`` (a user, group or role;
required), ``ActionNames`` (required), ``ResourceArns``, ``ResourcePolicy``, ``ResourceOwner``,
``CallerArn``, ``ContextEntries`` (``ContextKeyName``, ``ContextKeyValues``, ``ContextKeyType``),
``MaxItems``, ``Marker``. Output ``SimulatePrincipalPolicyResult``: ``EvaluationResults`` (one per
action and resource: ``EvalActionName``, ``EvalResourceName``, ``EvalDecision`` =
``allowed | explicitDeny | implicitDeny``, ``MatchedStatements``, ``MissingContextValues``,
``OrganizationsDecisionDetail``, ``PermissionsBoundaryDecisionDetail``,
``ResourceSpecificResults``), ``IsTruncated``, ``Marker``.

As the IAM simulator does: the source's identity policies (a user's include its groups'), its
permissions boundary and the SCPs of its account are evaluated, plus ``ResourcePolicy`` when given
(as a generic resource policy: the simulator does not apply KMS's rule that a key policy must
delegate to the account), and only for IAM users: ``CallerArn`` (else the source) must be an IAM
user's ARN, as the API reference says. Only the context entries given are in the request context (the simulator does not
fill in ``aws:RequestedRegion`` and the like); condition keys the policies use that are missing are
listed in ``MissingContextValues``. Errors: ``NoSuchEntity`` (404) for a source that does not exist,
``InvalidInput`` (400) for malformed input; a construct the evaluator does not support is
``InvalidInput`` naming it (never a guess).
"""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape

from werkzeug.wrappers import Response

from . import authz, iam_eval, wire
from .caller import Caller

_NS = "https://iam.amazonaws.com/doc/2010-05-08/"


def _members(params: dict[str, str], name: str) -> list[str]:
    out = []
    i = 1
    while f"{name}.member.{i}" in params:
        out.append(params[f"{name}.member.{i}"])
        i += 1
    return out


def _context(params: dict[str, str]) -> dict[str, list[str]]:
    ctx: dict[str, list[str]] = {}
    i = 1
    while f"ContextEntries.member.{i}.ContextKeyName" in params:
        base = f"ContextEntries.member.{i}"
        ctx[params[f"{base}.ContextKeyName"].lower()] = _members(params, f"{base}.ContextKeyValues")
        i += 1
    return ctx


def _source(arn: str) -> tuple[list[Any], Any, str] | None:
    """(identity documents, boundary document or None, account) of a user, group or role ARN."""
    from moto.iam.models import iam_backends

    m = re.fullmatch(r"arn:(aws[a-z-]*):iam::(\d{12}):(user|group|role)/(.+)", arn)
    if m is None:
        return None
    partition, account, kind, path_name = m.groups()
    name = path_name.rsplit("/", 1)[-1]
    iam = iam_backends[account][partition]
    docs: list[Any] = []
    boundary_arn = None
    try:
        if kind == "role":
            entity = iam.get_role(name)
            groups: list[Any] = []
        elif kind == "user":
            entity = iam.get_user(name)
            groups = iam.get_groups_for_user(name)
        else:
            entity = iam.get_group(name)
            groups = []
    except Exception:
        return None
    if getattr(entity, "arn", arn) != arn:
        return None
    for e in [entity, *groups]:
        docs += list(e.policies.values())
        docs += [authz._managed_document(p) for p in e.managed_policies.values()]
    boundary_arn = getattr(entity, "permissions_boundary_arn", None)
    boundary = None
    if boundary_arn:
        boundary = authz._policy_by_arn(account, partition, boundary_arn) or {"Statement": []}
    return [d for d in docs if d], boundary, account


def _condition_keys(documents: list[Any]) -> set[str]:
    keys = set()
    for doc in documents:
        for stmt in iam_eval.statements(doc):
            for block in (stmt.get("Condition") or {}).values():
                if isinstance(block, dict):
                    keys.update(block.keys())
    return keys


def _result(action: str, resource: str, d: iam_eval.Decision, org_allows: bool, boundary_allows: bool | None, missing: list[str]) -> str:
    decision = "allowed" if d.allowed else "explicitDeny" if d.explicit else "implicitDeny"
    missing_xml = "".join(f"<member>{escape(k)}</member>" for k in missing)
    boundary_xml = (
        ""
        if boundary_allows is None
        else "<PermissionsBoundaryDecisionDetail><AllowedByPermissionsBoundary>"
        f"{'true' if boundary_allows else 'false'}</AllowedByPermissionsBoundary></PermissionsBoundaryDecisionDetail>"
    )
    return (
        "<member>"
        f"<EvalActionName>{escape(action)}</EvalActionName>"
        f"<EvalResourceName>{escape(resource)}</EvalResourceName>"
        f"<EvalDecision>{decision}</EvalDecision>"
        "<MatchedStatements/>"
        f"<MissingContextValues>{missing_xml}</MissingContextValues>"
        f"<OrganizationsDecisionDetail><AllowedByOrganizations>{'true' if org_allows else 'false'}"
        "</AllowedByOrganizations></OrganizationsDecisionDetail>"
        f"{boundary_xml}"
        "<ResourceSpecificResults><member>"
        f"<EvalResourceName>{escape(resource)}</EvalResourceName>"
        f"<EvalResourceDecision>{decision}</EvalResourceDecision>"
        "<MatchedStatements/>"
        f"<MissingContextValues>{missing_xml}</MissingContextValues>"
        "</member></ResourceSpecificResults>"
        "</member>"
    )


def _invalid(message: str) -> Response:
    return wire.query_error("InvalidInput", message, 400)


def simulate(params: dict[str, str]) -> Response:
    source_arn = params.get("PolicySourceArn", "")
    actions = _members(params, "ActionNames")
    if not source_arn or not actions:
        return _invalid("PolicySourceArn and ActionNames are required.")
    found = _source(source_arn)
    if found is None:
        return wire.query_error("NoSuchEntity", f"The entity {source_arn} does not exist.", 404)
    docs, boundary, account = found
    resources = _members(params, "ResourceArns") or ["*"]
    resource_policy = params.get("ResourcePolicy")
    owner = account
    if params.get("ResourceOwner"):
        # An account ARN, arn:PARTITION:iam::ACCOUNT:root, as the API reference writes it.
        m = re.fullmatch(r"arn:aws[a-z-]*:iam::(\d{12}):root", params["ResourceOwner"])
        if m is None:
            return _invalid(f"'{params['ResourceOwner']}' is not valid as a Resource Owner.")
        owner = m.group(1)
    caller_arn = params.get("CallerArn") or source_arn
    # "CallerArn ... must be the ARN of an IAM user" and "the resource-based policy is evaluated
    # only for IAM users" (IAM API reference): a role or group source cannot carry one.
    if params.get("CallerArn") and ":user/" not in params["CallerArn"]:
        return _invalid("CallerArn must be the ARN of an IAM user.")
    if resource_policy is not None and ":user/" not in caller_arn:
        return _invalid("A ResourcePolicy is evaluated only for IAM users: give CallerArn, an IAM user ARN.")
    caller = iam_eval.caller_from_string(caller_arn, caller_arn if ":role/" in caller_arn else None)
    context = _context(params)
    levels = authz.scp_levels(account)
    try:
        referenced = _condition_keys(docs + ([boundary] if boundary else []) + ([resource_policy] if resource_policy else []))
        for level in levels or []:
            referenced |= _condition_keys(level)
        missing = sorted(k for k in referenced if k.lower() not in context)
        results = []
        for action in actions:
            for resource in resources:
                request = iam_eval.Request(action, resource, caller, context)
                policies = iam_eval.Policies(
                    identity=docs, boundary=boundary, scp_levels=levels, resource_policy=resource_policy,
                    resource_account=owner,
                )  # fmt: skip
                d = iam_eval.decide(request, policies)
                org_allows = levels is None or all(iam_eval.evaluate(level, request).allows for level in levels)
                boundary_allows = None if boundary is None else iam_eval.evaluate([boundary], request).allows
                results.append(_result(action, resource, d, org_allows, boundary_allows, missing))
    except iam_eval.Unsupported as exc:
        return _invalid(f"The policy simulator in this emulator does not support {exc.construct}.")
    try:
        start = int(params.get("Marker") or 0)
        max_items = int(params.get("MaxItems") or 100)
    except ValueError:
        return _invalid("Marker and MaxItems must be numbers.")
    if max_items < 1 or max_items > 1000 or start < 0:
        return _invalid("MaxItems must be between 1 and 1000.")
    page = results[start : start + max_items]
    truncated = start + max_items < len(results)
    marker = f"<Marker>{start + max_items}</Marker>" if truncated else ""
    body = (
        f'<SimulatePrincipalPolicyResponse xmlns="{_NS}"><SimulatePrincipalPolicyResult>'
        f"<EvaluationResults>{''.join(page)}</EvaluationResults>"
        f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{marker}"
        "</SimulatePrincipalPolicyResult>"
        f"<ResponseMetadata><RequestId>{wire._request_id()}</RequestId></ResponseMetadata>"
        "</SimulatePrincipalPolicyResponse>"
    )
    return wire._response(body, 200, "text/xml")


def handle(caller: Caller, environ: dict[str, Any], body: bytes) -> Response:
    return simulate(authz.query_params(environ, body))
