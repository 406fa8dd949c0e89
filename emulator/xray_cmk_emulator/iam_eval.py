"""IAM policy evaluation, written from AWS's documentation (independently of xray-cmk's Rust model).

Sources: IAM User Guide, "Policy evaluation logic", "Cross-account policy evaluation logic",
"AWS JSON policy elements" (Principal, NotPrincipal, Action, NotAction, Resource, NotResource,
Condition), "IAM JSON policy elements: Condition operators", "Conditions with multiple context keys
or values"; KMS Developer Guide, "Key policies" and "Grants".

This module is pure: it decides over policy documents and a request context it is given. What it
does not support raises :class:`Unsupported` naming the construct; the caller refuses the request
(an evaluator that does not understand a policy must never allow).

Supported:

* statements: ``Effect`` Allow/Deny, ``Action``/``NotAction``, ``Resource``/``NotResource``
  (ARN patterns with ``*``/``?``), ``Principal``/``NotPrincipal`` (resource policies only: ``*``,
  ``AWS`` (``*``, account id, root, role, user and assumed-role session ARNs), ``Service``);
* condition operators: ``String(Not)Equals``, ``String(Not)EqualsIgnoreCase``, ``String(Not)Like``,
  ``Numeric*``, ``Date*``, ``Bool``, ``(Not)IpAddress`` (IPv4), ``Arn(Not)Equals``, ``Arn(Not)Like``,
  ``Null``; each with ``IfExists`` (except ``Null``) and ``ForAnyValue:``/``ForAllValues:``;
* any condition key: the caller fills the context; a key it does not carry is absent.

Refused (``Unsupported``): policy variables (``${...}``), ``BinaryEquals`` and unknown operators,
IPv6, ``Federated``/``CanonicalUser`` principals, malformed elements.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


class Unsupported(Exception):
    """A policy construct this evaluator does not implement. The request must be refused."""

    def __init__(self, construct: str) -> None:
        super().__init__(construct)
        self.construct = construct


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def glob(pattern: str, text: str, ignore_case: bool) -> bool:
    """IAM wildcards: ``*`` any run of characters (also none), ``?`` exactly one."""
    if ignore_case:
        pattern, text = pattern.lower(), text.lower()
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.DOTALL) is not None


# --- principals -----------------------------------------------------------------------------

_ACCOUNT = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class Caller:
    """Who is asking, as a policy's ``Principal`` can name it."""

    arn: str  # root ARN, user ARN, role ARN, assumed-role session ARN, or a service name
    kind: str  # "root" | "user" | "role" | "session" | "service" | "other"
    account: str | None = None
    partition: str = "aws"
    role_name: str | None = None  # for sessions
    role_arn: str | None = None  # for sessions, when known (the role's ARN with its path)


def caller_from_string(value: str, role_arn: str | None = None) -> Caller:
    """Parses the principal of a request: the forms the IAM guide names for ``Principal``."""
    if _ACCOUNT.match(value):
        return Caller(f"arn:aws:iam::{value}:root", "root", value)
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return Caller(value, "service")
    _, partition, service, _, account, resource = parts
    account_id = account if _ACCOUNT.match(account) else None
    if service == "iam" and account_id and resource == "root":
        return Caller(value, "root", account_id, partition)
    if service == "iam" and account_id and resource.startswith("user/"):
        return Caller(value, "user", account_id, partition)
    if service == "iam" and account_id and resource.startswith("role/"):
        return Caller(value, "role", account_id, partition, resource.rsplit("/", 1)[-1], value)
    if service == "sts" and account_id and resource.startswith("assumed-role/"):
        rest = resource[len("assumed-role/") :]
        if "/" in rest:
            return Caller(value, "session", account_id, partition, rest.split("/", 1)[0], role_arn)
    return Caller(value, "other", account_id, partition)


# How a Principal element covers a caller.
NO, ACCOUNT, DIRECT = 0, 1, 2


def _aws_entry_covers(entry: str, caller: Caller) -> int:
    if entry == "*":
        return DIRECT
    if _ACCOUNT.match(entry):
        entry = f"arn:aws:iam::{entry}:root"
    parts = entry.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[2] == "iam" and _ACCOUNT.match(parts[4]):
        account, resource = parts[4], parts[5]
        if resource == "root":
            # The account principal: the root user is the account itself; every other principal of
            # the account is covered only as far as its IAM policies allow (the KMS "enable IAM
            # policies" statement).
            if caller.kind == "root" and caller.account == account:
                return DIRECT
            return ACCOUNT if caller.account == account and caller.kind != "service" else NO
        if resource.startswith("role/"):
            if caller.arn == entry:
                return DIRECT
            # A role's sessions are covered by the role's ARN. The session ARN has no path; role
            # names are unique in an account whatever their path.
            if caller.kind == "session" and caller.account == account and caller.partition == parts[1]:
                if caller.role_arn is not None:
                    return DIRECT if caller.role_arn == entry else NO
                return DIRECT if caller.role_name == resource.rsplit("/", 1)[-1] else NO
            return NO
    return DIRECT if caller.arn == entry else NO


def principal_covers(element: Any, caller: Caller) -> int:
    """NO, ACCOUNT (delegated to the caller's account) or DIRECT, the strongest of any entry."""
    if element == "*":
        return DIRECT
    if not isinstance(element, dict) or not element:
        raise Unsupported(f"Principal {json.dumps(element)[:80]}")
    best = NO
    for kind, values in element.items():
        for value in as_list(values):
            if not isinstance(value, str):
                raise Unsupported(f"Principal {kind} value {json.dumps(value)[:80]}")
            if kind == "AWS":
                best = max(best, _aws_entry_covers(value, caller))
            elif kind == "Service":
                if caller.kind == "service" and caller.arn == value:
                    best = DIRECT
            else:
                raise Unsupported(f"Principal type {kind}")
    return best


def not_principal_names(element: Any, caller: Caller) -> bool:
    """Whether a ``NotPrincipal`` names the caller itself. As the IAM guide says, naming a role or
    an account does not exclude its sessions or users: each must be listed."""
    if element == "*":
        return True
    if not isinstance(element, dict) or not element:
        raise Unsupported(f"NotPrincipal {json.dumps(element)[:80]}")
    for kind, values in element.items():
        for value in as_list(values):
            if not isinstance(value, str):
                raise Unsupported(f"NotPrincipal {kind} value {json.dumps(value)[:80]}")
            if kind == "AWS":
                if value == "*":
                    return True
                if _ACCOUNT.match(value):
                    value = f"arn:aws:iam::{value}:root"
                if caller.arn == value:
                    return True
            elif kind == "Service":
                if caller.kind == "service" and caller.arn == value:
                    return True
            else:
                raise Unsupported(f"NotPrincipal type {kind}")
    return False


# --- conditions -----------------------------------------------------------------------------

_STRING_OPS = {"StringEquals", "StringEqualsIgnoreCase", "StringLike"}
_NUMERIC = {"Equals": "eq", "LessThan": "lt", "LessThanEquals": "le", "GreaterThan": "gt", "GreaterThanEquals": "ge"}


@dataclass(frozen=True)
class Operator:
    base: str  # StringEquals | StringEqualsIgnoreCase | StringLike | Numeric | Date | Bool | Ip | Arn | Null
    negated: bool = False
    cmp: str = "eq"  # for Numeric / Date
    if_exists: bool = False
    qualifier: str | None = None  # "any" | "all"


def parse_operator(name: str) -> Operator:
    if not isinstance(name, str):
        raise Unsupported("condition operator that is not a string")
    qualifier = None
    rest = name
    for prefix, q in (("ForAnyValue:", "any"), ("ForAllValues:", "all")):
        if rest.lower().startswith(prefix.lower()):
            qualifier, rest = q, rest[len(prefix) :]
    if_exists = rest.lower().endswith("ifexists")
    if if_exists:
        rest = rest[: -len("IfExists")]
    key = rest.lower()
    table: dict[str, tuple[str, bool, str]] = {
        "stringequals": ("StringEquals", False, "eq"),
        "stringnotequals": ("StringEquals", True, "eq"),
        "stringequalsignorecase": ("StringEqualsIgnoreCase", False, "eq"),
        "stringnotequalsignorecase": ("StringEqualsIgnoreCase", True, "eq"),
        "stringlike": ("StringLike", False, "eq"),
        "stringnotlike": ("StringLike", True, "eq"),
        "bool": ("Bool", False, "eq"),
        "ipaddress": ("Ip", False, "eq"),
        "notipaddress": ("Ip", True, "eq"),
        "arnequals": ("Arn", False, "eq"),
        "arnlike": ("Arn", False, "eq"),
        "arnnotequals": ("Arn", True, "eq"),
        "arnnotlike": ("Arn", True, "eq"),
        "null": ("Null", False, "eq"),
        "numericnotequals": ("Numeric", True, "eq"),
        "datenotequals": ("Date", True, "eq"),
    }
    for suffix, cmp in _NUMERIC.items():
        table[f"numeric{suffix.lower()}"] = ("Numeric", False, cmp)
        table[f"date{suffix.lower()}"] = ("Date", False, cmp)
    if key not in table:
        raise Unsupported(f"condition operator {name}")
    base, negated, cmp = table[key]
    if base == "Null" and if_exists:
        raise Unsupported(f"condition operator {name}")
    return Operator(base, negated, cmp, if_exists, qualifier)


def _number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if value == value and value not in (float("inf"), float("-inf")) else None


_ISO = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})?)?)?)?$"
)


def _date(text: str) -> float | None:
    """Epoch seconds, or the W3C profile of ISO 8601 the IAM guide names for Date operators."""
    text = text.strip()
    if text and all(c.isdigit() or c == "." for c in text) and len(text) != 4:
        return _number(text)
    m = _ISO.match(text)
    if not m:
        return None
    year, month, day, hour, minute, second, frac, zone = m.groups()
    try:
        dt = datetime(
            int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0),
            int(second or 0), tzinfo=timezone.utc,
        )  # fmt: skip
    except ValueError:
        return None
    seconds = dt.timestamp() + (float(frac) if frac else 0.0)
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return seconds


def _bool(text: str) -> bool | None:
    low = text.lower()
    return True if low == "true" else False if low == "false" else None


def _arn_like(pattern: str, value: str) -> bool:
    p, v = pattern.split(":", 5), value.split(":", 5)
    if len(p) == 6 and len(v) == 6:
        return all(glob(a, b, False) for a, b in zip(p, v))
    if len(p) < 6:
        return glob(pattern, value, False)
    return False


def _compare(op: Operator, request_value: str, policy_value: str) -> bool:
    """The positive comparison of one request value with one policy value."""
    if op.base in ("StringEquals", "StringEqualsIgnoreCase", "StringLike", "Arn") and "${" in policy_value:
        raise Unsupported(f"policy variable in {policy_value!r}")
    if op.base == "StringEquals":
        return request_value == policy_value
    if op.base == "StringEqualsIgnoreCase":
        return request_value.lower() == policy_value.lower()
    if op.base == "StringLike":
        return glob(policy_value, request_value, False)
    if op.base == "Arn":
        return _arn_like(policy_value, request_value)
    if op.base in ("Numeric", "Date"):
        read = _number if op.base == "Numeric" else _date
        p = read(policy_value)
        if p is None:
            raise Unsupported(f"{op.base} condition value {policy_value!r}")
        r = read(request_value)
        if r is None:
            return False
        return {"eq": r == p, "lt": r < p, "le": r <= p, "gt": r > p, "ge": r >= p}[op.cmp]
    if op.base == "Bool":
        p_bool = _bool(policy_value)
        if p_bool is None:
            raise Unsupported(f"Bool condition value {policy_value!r}")
        return _bool(request_value) == p_bool
    if op.base == "Ip":
        if ":" in request_value:
            raise Unsupported(f"IPv6 address {request_value!r}")
        try:
            address = ipaddress.IPv4Address(request_value.strip())
        except ValueError:
            return False
        if ":" in policy_value:
            return False  # an IPv6 range never holds an IPv4 address
        try:
            network = ipaddress.IPv4Network(policy_value.strip(), strict=False)
        except ValueError:
            raise Unsupported(f"IpAddress condition value {policy_value!r}") from None
        return address in network
    raise Unsupported(f"condition operator base {op.base}")


def _policy_values(values: Any, where: str) -> list[str]:
    out = []
    for v in as_list(values):
        if isinstance(v, bool):
            out.append("true" if v else "false")
        elif isinstance(v, (int, float)):
            out.append(json.dumps(v))
        elif isinstance(v, str):
            out.append(v)
        else:
            raise Unsupported(f"condition value {json.dumps(v)[:60]} in {where}")
    return out


def condition_holds(op_name: str, key: str, values: Any, context: dict[str, list[str]]) -> bool:
    """One operator on one key, against the request context (lower-case key -> values)."""
    op = parse_operator(op_name)
    policy_values = _policy_values(values, f"{op_name}/{key}")
    for v in policy_values:
        if "${" in v:  # unsupported even when the key is absent: refuse rather than reason around it
            raise Unsupported(f"policy variable in {v!r}")
    present = context.get(key.lower()) or None
    if op.base == "Null":
        results = []
        for v in policy_values:
            wants_absent = _bool(v)
            if wants_absent is None:
                raise Unsupported(f"Null condition value {v!r}")
            results.append(wants_absent == (present is None))
        return any(results)
    if present is None:
        if op.if_exists:
            return True
        if op.qualifier == "all":
            return True
        if op.qualifier == "any":
            return False
        return op.negated

    def one(request_value: str) -> bool:
        positive = any(_compare(op, request_value, pv) for pv in policy_values)
        return not positive if op.negated else positive

    if op.qualifier == "all":
        return all(one(rv) for rv in present)
    if op.qualifier == "any":
        return any(one(rv) for rv in present)
    positive = any(_compare(op, rv, pv) for rv in present for pv in policy_values)
    return not positive if op.negated else positive


def conditions_hold(block: Any, context: dict[str, list[str]]) -> bool:
    """All operators and all keys of a ``Condition`` block must hold."""
    if block is None:
        return True
    if not isinstance(block, dict):
        raise Unsupported("Condition that is not an object")
    # Evaluate every condition (not short-circuit) so an unsupported one always refuses.
    results = []
    for op_name, keys in block.items():
        if not isinstance(keys, dict):
            raise Unsupported(f"Condition operator {op_name} without a key map")
        for key, values in keys.items():
            results.append(condition_holds(op_name, key, values, context))
    return all(results)


# --- statements and documents ---------------------------------------------------------------


def parse_document(document: Any) -> dict[str, Any]:
    if isinstance(document, (str, bytes)):
        try:
            document = json.loads(document)
        except ValueError:
            raise Unsupported("policy document that is not JSON") from None
    if not isinstance(document, dict):
        raise Unsupported("policy document that is not an object")
    return document


def statements(document: Any) -> list[dict[str, Any]]:
    doc = parse_document(document)
    out = []
    for stmt in as_list(doc.get("Statement", [])):
        if not isinstance(stmt, dict):
            raise Unsupported("statement that is not an object")
        if stmt.get("Effect") not in ("Allow", "Deny"):
            raise Unsupported(f"Effect {stmt.get('Effect')!r}")
        out.append(stmt)
    return out


def _action_matches(stmt: dict[str, Any], action: str) -> bool:
    if "Action" in stmt and "NotAction" in stmt:
        raise Unsupported("statement with both Action and NotAction")
    if "Action" not in stmt and "NotAction" not in stmt:
        raise Unsupported("statement without Action or NotAction")
    element = "Action" if "Action" in stmt else "NotAction"
    patterns = as_list(stmt[element])
    if not all(isinstance(p, str) for p in patterns):
        raise Unsupported(f"{element} value that is not a string")
    hit = any(glob(p, action, True) for p in patterns)
    return hit if element == "Action" else not hit


def _resource_matches(stmt: dict[str, Any], resource: str | None) -> bool:
    """``resource`` None: the statement is in the resource's own policy (a key policy), where
    ``Resource`` means this resource."""
    if "Resource" in stmt and "NotResource" in stmt:
        raise Unsupported("statement with both Resource and NotResource")
    if "NotResource" in stmt:
        patterns = as_list(stmt["NotResource"])
        if not all(isinstance(p, str) for p in patterns):
            raise Unsupported("NotResource value that is not a string")
        if resource is None:
            if any(p and set(p) == {"*"} for p in patterns):
                return False
            raise Unsupported("NotResource in a key policy")
        return not any(_arn_like(p, resource) if p.startswith("arn:") else glob(p, resource, False) for p in patterns)
    patterns = as_list(stmt.get("Resource", "*"))
    if not all(isinstance(p, str) for p in patterns):
        raise Unsupported("Resource value that is not a string")
    if resource is None:
        return True
    return any(p == "*" or (_arn_like(p, resource) if p.startswith("arn:") else glob(p, resource, False)) for p in patterns)


@dataclass(frozen=True)
class Request:
    action: str  # "kms:Decrypt"
    resource: str | None  # ARN, "*", or None inside the resource's own policy
    caller: Caller
    context: dict[str, list[str]] = field(default_factory=dict)  # lower-case keys


@dataclass
class Verdict:
    """What one set of policies says about a request."""

    deny: str | None = None  # the Sid (or index) of the first matching Deny
    allow_direct: str | None = None
    allow_account: str | None = None  # resource policies: an Allow naming the caller's account
    account: str | None = None

    @property
    def allows(self) -> bool:
        return self.deny is None and (self.allow_direct is not None or self.allow_account is not None)


def _label(i: int, stmt: dict[str, Any]) -> str:
    return str(stmt.get("Sid") or f"statement {i + 1}")


def evaluate(
    documents: list[Any], request: Request, resource_policy: bool = False, caller_has_boundary: bool = False
) -> Verdict:
    """Evaluates identity (or SCP / boundary) documents, or with ``resource_policy`` one resource
    policy whose ``Principal`` decides who it applies to. ``NotPrincipal`` is supported with Deny
    only (the IAM guide: "Using it with Allow is not supported"), and such a Deny applies to a
    caller with a permissions boundary whatever it names (the guide's key points)."""
    verdict = Verdict()
    ctx = {k.lower(): v for k, v in request.context.items()}
    for document in documents:
        for i, stmt in enumerate(statements(document)):
            if resource_policy:
                if "Principal" in stmt and "NotPrincipal" in stmt:
                    raise Unsupported("statement with both Principal and NotPrincipal")
                if "Principal" in stmt:
                    who = principal_covers(stmt["Principal"], request.caller)
                elif "NotPrincipal" in stmt:
                    if stmt["Effect"] == "Allow":
                        raise Unsupported("NotPrincipal with Allow, which AWS does not support")
                    named = not_principal_names(stmt["NotPrincipal"], request.caller)
                    who = DIRECT if caller_has_boundary or not named else NO
                else:
                    raise Unsupported("resource policy statement without Principal")
            else:
                if "Principal" in stmt or "NotPrincipal" in stmt:
                    raise Unsupported("Principal in an identity policy")
                who = DIRECT
            if who == NO:
                continue
            if not _action_matches(stmt, request.action):
                continue
            if not _resource_matches(stmt, None if resource_policy and request.resource is None else request.resource):
                continue
            if not conditions_hold(stmt.get("Condition"), ctx):
                continue
            label = _label(i, stmt)
            if stmt["Effect"] == "Deny":
                verdict.deny = verdict.deny or label
            elif who == DIRECT:
                verdict.allow_direct = verdict.allow_direct or label
            else:
                verdict.allow_account = verdict.allow_account or label
                verdict.account = request.caller.account
    return verdict


# --- the key policy alone (what xray-cmk's Rust model decides) --------------------------------


@dataclass(frozen=True)
class KeyPolicyDecision:
    kind: str  # "allowed" | "delegated" | "explicit_deny" | "not_allowed"
    account: str | None = None
    sid: str | None = None


def key_policy_decision(
    policy: Any, principal: str, action: str, context: dict[str, list[str]], role_arn: str | None = None
) -> KeyPolicyDecision:
    """What a key policy alone says: an explicit Deny wins; an Allow naming the caller (or
    everyone) allows; an Allow naming only the caller's account delegates to its IAM policies."""
    caller = caller_from_string(principal, role_arn)
    v = evaluate([policy], Request(action, None, caller, context), resource_policy=True)
    if v.deny is not None:
        return KeyPolicyDecision("explicit_deny", sid=v.deny)
    if v.allow_direct is not None:
        return KeyPolicyDecision("allowed", sid=v.allow_direct)
    if v.allow_account is not None:
        return KeyPolicyDecision("delegated", account=v.account, sid=v.allow_account)
    return KeyPolicyDecision("not_allowed")


# --- the whole request ----------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # "allowed", or how it was denied: "explicit deny in ...", "implicit deny ..."
    explicit: bool = False


@dataclass
class Policies:
    """Everything that decides one request."""

    identity: list[Any] = field(default_factory=list)  # the principal's own (inline, attached, groups)
    boundary: Any = None  # a permissions boundary document, if one is set
    scp_levels: list[list[Any]] | None = None  # root..account, each level's SCPs; None = not under SCPs
    resource_policy: Any = None  # e.g. the key policy
    resource_account: str | None = None
    key_policy_required: bool = False  # KMS: the key policy must allow (directly or via the account)
    grant_allows: bool = False  # a live KMS grant gives the caller this operation
    is_root: bool = False  # the account's root user: every identity permission, no boundary


def decide(request: Request, policies: Policies) -> Decision:
    """AWS's evaluation order: explicit Deny anywhere; SCPs must allow; the resource policy (for KMS
    the key policy decides and reaches IAM only through the account principal); identity policies
    and the permissions boundary; otherwise implicit deny. Cross-account: both sides must allow.
    Reasons are worded as AWS words them in AccessDenied messages."""
    action = request.action
    scp_verdicts = [evaluate(level, request) for level in policies.scp_levels or []]
    identity = evaluate(policies.identity, request) if not policies.is_root else None
    boundary = (
        evaluate([policies.boundary], request) if policies.boundary is not None and not policies.is_root else None
    )
    resource = (
        evaluate([policies.resource_policy], request, True, caller_has_boundary=policies.boundary is not None)
        if policies.resource_policy is not None
        else None
    )
    for name, v in (
        ("a service control policy", next((s for s in scp_verdicts if s.deny), None)),
        ("a resource-based policy", resource),
        ("an identity-based policy", identity),
        ("a permissions boundary", boundary),
    ):
        if v is not None and v.deny is not None:
            return Decision(False, f"with an explicit deny in {name}", True)
    no = lambda what: Decision(False, f"because no {what} allows the {action} action")  # noqa: E731
    if policies.scp_levels is not None and not all(s.allows for s in scp_verdicts):
        return no("service control policy")

    identity_allows = policies.is_root or (identity is not None and identity.allows)
    boundary_allows = boundary is None or boundary.allows
    same_account = policies.resource_account in (None, request.caller.account)

    if policies.key_policy_required:
        if policies.grant_allows:
            return Decision(True, "allowed by a grant")
        if resource is None or not resource.allows:
            return no("resource-based policy")
        if resource.allow_direct is not None and same_account and boundary_allows:
            return Decision(True, "allowed by the key policy")
        # Delegated to the account (or another account's key): the caller's IAM must allow too.
        if not identity_allows:
            return no("identity-based policy")
        if not boundary_allows:
            return no("permissions boundary")
        return Decision(True, "allowed by the key policy and an identity-based policy")

    if resource is not None and resource.allow_direct is not None and same_account and boundary_allows:
        return Decision(True, "allowed by a resource-based policy")
    if not same_account and not (resource is not None and resource.allows):
        return no("resource-based policy")
    if not identity_allows:
        return no("identity-based policy")
    if not boundary_allows:
        return no("permissions boundary")
    return Decision(True, "allowed by an identity-based policy")
