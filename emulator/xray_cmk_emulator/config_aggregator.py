"""AWS Config aggregators and advanced queries over the ``AWS::XRay::EncryptionConfig`` items.

moto 5.2.5 stores aggregators and aggregation authorizations (Put/Describe/Delete of both, kept)
but aggregates nothing: it has no ``SelectAggregateResourceConfig`` and no
``DescribeConfigurationAggregatorSourcesStatus``, its ``SelectResourceConfig`` only replays canned
results, and it creates an organization aggregator in any account. Served here, over the items
``config_items`` records:

* ``PutConfigurationAggregator`` with an ``OrganizationAggregationSource`` is checked first, as
  AWS documents it: the account must be in an organization (else
  ``NoAvailableOrganizationException``) with all features (else
  ``OrganizationAllFeaturesNotEnabledException``), and be its management account (Config then
  enables trusted access for ``config.amazonaws.com``) or a delegated administrator registered for
  ``config.amazonaws.com`` (else ``OrganizationAccessDeniedException``); Config calls Organizations
  with the caller's permissions, so the caller also needs ``organizations:EnableAWSServiceAccess``
  resp. ``organizations:ListDelegatedAdministrators``. Then moto stores it.
* The sources of an aggregator are (account, region) pairs: an account source's accounts, each
  only where that account has authorized the aggregator's account and region in that source region
  (``PutAggregationAuthorization``; "authorization is required for all source accounts and Regions",
  the aggregator's own account included), in the listed regions or all; an organization source's
  ACTIVE accounts, no authorization needed. Each pair contributes the latest X-Ray item, if Config
  ever recorded one there.
* ``SelectAggregateResourceConfig`` / ``SelectResourceConfig`` (the caller's own account and
  region) accept a small subset of the advanced-query SQL (``parse``); any other expression is
  ``InvalidExpressionException``.
* Starting a recorder (or changing one that records) records the current X-Ray configuration when
  it differs from the latest item (``ResourceDiscovered`` for the first), as Config discovers
  existing resources when recording starts.
* A test-only control route shifts the capture time of an (account, region)'s latest item back.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from werkzeug.wrappers import Response

from . import authz, config_items, iam_eval, service_models, wire
from .caller import Caller

TARGET_PREFIX = "StarlingDoveService."
SELECT_AGGREGATE = "SelectAggregateResourceConfig"
SELECT = "SelectResourceConfig"
PUT_AGGREGATOR = "PutConfigurationAggregator"
SOURCES_STATUS = "DescribeConfigurationAggregatorSourcesStatus"
RECORDER_OPERATIONS = ("StartConfigurationRecorder", "PutConfigurationRecorder")
CONTROL_AGE_PATH = "/_xray_cmk/config-items/age"
CONFIG_PRINCIPAL = "config.amazonaws.com"

DEFAULT_PAGE = 25  # a non-aggregation query without Limit/MaxResults (API reference)
MAX_PAGE = 100  # the Limit shape's range is 0-100
EXPRESSION_MAX = 4096

# The properties of a configuration item the subset lets a query select.
SELECTABLE = (
    "accountId", "arn", "awsRegion", "configuration", "configuration.keyId", "configuration.status",
    "configuration.type", "configurationItemCaptureTime", "configurationItemStatus",
    "configurationStateId", "resourceId", "resourceName", "resourceType",
)  # fmt: skip
FILTERABLE = {"resourceType", "awsRegion", "accountId"}


def apply() -> None:
    """moto lets only some services have a delegated administrator; Config's aggregators need one."""
    from moto.organizations.models import FakeDelegatedAdministrator

    if CONFIG_PRINCIPAL not in FakeDelegatedAdministrator.SUPPORTED_SERVICES:
        FakeDelegatedAdministrator.SUPPORTED_SERVICES.append(CONFIG_PRINCIPAL)


# --- errors ---------------------------------------------------------------------------------


class ConfigError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _invalid_expression(message: str) -> ConfigError:
    return ConfigError("InvalidExpressionException", message)


def _no_aggregator() -> ConfigError:
    return ConfigError(
        "NoSuchConfigurationAggregatorException",
        "The configuration aggregator does not exist. Check the configuration aggregator name and try again.",
    )


def _null(member: str) -> ConfigError:
    return ConfigError(
        "ValidationException",
        f"1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null",
    )


# --- the SQL subset -------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)|(?P<punct>[,()=]))"
)
_KEYWORDS = {"select", "where", "and", "in"}


@dataclass(frozen=True)
class Query:
    fields: tuple[str, ...]
    regions: frozenset[str] | None  # None: any
    accounts: frozenset[str] | None


def _tokens(expression: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(expression):
        if not expression[pos:].strip():
            break
        m = _TOKEN.match(expression, pos)
        if m is None:
            raise _invalid_expression(f"Invalid expression: unexpected character at position {pos + 1}.")
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "string":
            value = value[1:-1].replace("''", "'")
        elif kind == "ident" and value.lower() in _KEYWORDS:
            kind, value = "keyword", value.lower()
        out.append((kind, value))
        pos = m.end()
    return out


def parse(expression: str) -> Query:
    """``SELECT f [, f]... WHERE c [AND c]...`` with ``c`` one of ``resourceType = 'AWS::XRay::EncryptionConfig'``
    (required), ``awsRegion``/``accountId`` ``= 'v'`` or ``IN ('v' [, 'v']...)``; keywords in any case."""
    toks = _tokens(expression)
    i = 0

    def peek() -> tuple[str, str] | None:
        return toks[i] if i < len(toks) else None

    def take(kind: str, value: str | None = None) -> str:
        nonlocal i
        tok = peek()
        if tok is None or tok[0] != kind or (value is not None and tok[1] != value):
            got = "the end of the expression" if tok is None else repr(tok[1])
            want = value.upper() if kind == "keyword" and value else (value or kind)
            raise _invalid_expression(f"Invalid expression: expected {want}, found {got}.")
        i += 1
        return tok[1]

    take("keyword", "select")
    fields: list[str] = []
    while True:
        field = take("ident")
        if field not in SELECTABLE:
            raise _invalid_expression(f"Invalid expression: the property {field} cannot be selected.")
        if field not in fields:
            fields.append(field)
        if peek() != ("punct", ","):
            break
        i += 1
    if peek() is None:
        raise _invalid_expression("Invalid expression: a WHERE clause on resourceType is required.")
    take("keyword", "where")
    types: list[frozenset[str]] = []
    filters: dict[str, frozenset[str]] = {}
    while True:
        name = take("ident")
        if name not in FILTERABLE:
            raise _invalid_expression(f"Invalid expression: the property {name} cannot be filtered on.")
        if peek() == ("keyword", "in"):
            i += 1
            take("punct", "(")
            values = [take("string")]
            while peek() == ("punct", ","):
                i += 1
                values.append(take("string"))
            take("punct", ")")
        else:
            take("punct", "=")
            values = [take("string")]
        if name == "resourceType":
            types.append(frozenset(values))
        else:
            filters[name] = filters.get(name, frozenset(values)) & frozenset(values)
        if peek() is None:
            break
        take("keyword", "and")
    if not types or any(t != {config_items.RESOURCE_TYPE} for t in types):
        raise _invalid_expression(
            f"Invalid expression: only resourceType = '{config_items.RESOURCE_TYPE}' is supported."
        )
    return Query(tuple(fields), filters.get("awsRegion"), filters.get("accountId"))


def _iso(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(epoch * 1000) % 1000:03d}Z"
    )


def row(item: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """The selected properties of an item, nested as advanced queries return them; absent ones omitted."""
    configuration = json.loads(item["configuration"])
    out: dict[str, Any] = {}
    for field in fields:
        if field == "configuration":
            out["configuration"] = configuration
        elif field.startswith("configuration."):
            key = field.split(".", 1)[1]
            if key in configuration:
                nested = out.setdefault("configuration", {})
                nested[key] = configuration[key]
        elif field == "configurationItemCaptureTime":
            out[field] = _iso(item[field])
        elif field in item:
            out[field] = item[field]
    return out


# --- aggregators and their sources ----------------------------------------------------------


def _config_backend(account: str, region: str) -> Any:
    from moto.config.models import config_backends

    return config_backends[account][region]


def _regions(aws_regions: list[str] | None, all_regions: bool | None) -> list[str]:
    return service_models.partition_regions("aws") if all_regions else sorted(set(aws_regions or []))


@dataclass(frozen=True)
class Source:
    source_type: str  # ACCOUNT | ORGANIZATION
    source_id: str
    account: str
    region: str
    authorized: bool


def sources(aggregator: Any, agg_account: str, agg_region: str) -> list[Source]:
    out: list[Source] = []
    for src in aggregator.account_aggregation_sources or []:
        for account in src.account_ids:
            for region in _regions(src.aws_regions, src.all_aws_regions):
                try:
                    auths = _config_backend(account, region).aggregation_authorizations
                except KeyError:  # a region moto does not know: nothing to aggregate from there
                    auths = {}
                out.append(Source("ACCOUNT", account, account, region, f"{agg_account}/{agg_region}" in auths))
    org_src = aggregator.organization_aggregation_source
    if org_src is not None:
        found = authz.organization_of(agg_account)
        if found is not None and found[0].org is not None:
            backend = found[0]
            accounts = [a.id for a in backend.accounts if getattr(a, "status", "ACTIVE") == "ACTIVE"]
            for region in _regions(org_src.aws_regions, org_src.all_aws_regions):
                for account in accounts:
                    out.append(Source("ORGANIZATION", backend.org.id, account, region, True))
    return out


def _aggregator(caller: Caller, name: Any) -> Any:
    if not isinstance(name, str) or not name:
        raise _null("configurationAggregatorName")
    found = _config_backend(caller.account_id, caller.region).config_aggregators.get(name)
    if found is None:
        raise _no_aggregator()
    return found


# --- requests -------------------------------------------------------------------------------


def _params(body: bytes) -> dict[str, Any]:
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        raise ConfigError("SerializationException", "the request body is not JSON") from None
    if not isinstance(params, dict):
        raise ConfigError("SerializationException", "the request body is not a JSON object")
    return params


def _limit(params: dict[str, Any], member: str) -> int:
    """A ``Limit``-shaped member (0-100, 0 when absent)."""
    value = params.get(member)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PAGE:
        raise ConfigError(
            "InvalidLimitException",
            f"Value '{value}' at '{member[0].lower()}{member[1:]}' failed to satisfy constraint: "
            f"Member must have value between 0 and {MAX_PAGE}",
        )
    return value


def _page_size(params: dict[str, Any]) -> int:
    sizes = [size for size in (_limit(params, "Limit"), _limit(params, "MaxResults")) if size]
    return min(sizes) if sizes else DEFAULT_PAGE


def _binding(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def _token(binding: str, offset: int) -> str:
    raw = json.dumps({"b": binding, "o": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _offset(token: Any, binding: str) -> int:
    if token is None:
        return 0
    invalid = ConfigError("InvalidNextTokenException", "The nextToken provided is invalid")
    if not isinstance(token, str) or not token:
        raise invalid
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset = data["o"]
        ok = data["b"] == binding and isinstance(offset, int) and offset >= 0
    except (ValueError, KeyError, TypeError):
        raise invalid from None
    if not ok:
        raise invalid
    return offset


def _select(
    store: config_items.ConfigItemStore, pairs: Iterable[tuple[str, str]], params: dict[str, Any], binding: str
) -> dict[str, Any]:
    query = parse(params["Expression"])
    size = _page_size(params)
    offset = _offset(params.get("NextToken"), binding)
    items = []
    for account, region in sorted(set(pairs)):
        if query.accounts is not None and account not in query.accounts:
            continue
        if query.regions is not None and region not in query.regions:
            continue
        history = store.history(account, region)
        if history:
            items.append(history[0])
    page = items[offset : offset + size]
    out: dict[str, Any] = {
        "Results": [json.dumps(row(item, query.fields), separators=(",", ":")) for item in page],
        "QueryInfo": {"SelectFields": [{"Name": f} for f in query.fields]},
    }
    if offset + size < len(items):
        out["NextToken"] = _token(binding, offset + size)
    return out


def _expression(params: dict[str, Any]) -> str:
    expression = params.get("Expression")
    if not isinstance(expression, str):
        raise _null("expression")
    if not 1 <= len(expression) <= EXPRESSION_MAX:
        raise ConfigError(
            "ValidationException",
            f"1 validation error detected: Value at 'expression' failed to satisfy constraint: "
            f"Member must have length between 1 and {EXPRESSION_MAX}",
        )
    return expression


def select_aggregate(store: config_items.ConfigItemStore, caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    expression = _expression(params)
    name = params.get("ConfigurationAggregatorName")
    aggregator = _aggregator(caller, name)
    pairs = [(s.account, s.region) for s in sources(aggregator, caller.account_id, caller.region) if s.authorized]
    binding = _binding(SELECT_AGGREGATE, caller.account_id, caller.region, name, expression)
    return _select(store, pairs, params, binding)


def select_own(store: config_items.ConfigItemStore, caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    expression = _expression(params)
    if "MaxResults" in params:  # not a member of SelectResourceConfigRequest
        params = {k: v for k, v in params.items() if k != "MaxResults"}
    binding = _binding(SELECT, caller.account_id, caller.region, expression)
    return _select(store, [(caller.account_id, caller.region)], params, binding)


def sources_status(caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
    aggregator = _aggregator(caller, params.get("ConfigurationAggregatorName"))
    wanted = params.get("UpdateStatus")
    now = time.time()
    entries: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    for s in sources(aggregator, caller.account_id, caller.region):
        key = (s.source_type, s.source_id, s.region)
        if key in seen:
            continue
        seen.add(key)
        entry: dict[str, Any] = {
            "SourceId": s.source_id, "SourceType": s.source_type, "AwsRegion": s.region, "LastUpdateTime": now,
        }  # fmt: skip
        if s.authorized:
            entry["LastUpdateStatus"] = "SUCCEEDED"
        else:
            entry.update(
                LastUpdateStatus="FAILED",
                LastErrorCode="AuthorizationNotFound",
                LastErrorMessage=(
                    f"Account {s.account} has not authorized aggregator account {caller.account_id} "
                    f"in region {caller.region} to collect data from region {s.region}."
                ),
            )
        if not wanted or entry["LastUpdateStatus"] in wanted:
            entries.append(entry)
    size = _limit(params, "Limit") or MAX_PAGE  # "The default is maximum"
    name = aggregator.configuration_aggregator_name
    binding = _binding(SOURCES_STATUS, caller.account_id, caller.region, name, json.dumps(wanted))
    offset = _offset(params.get("NextToken"), binding)
    out: dict[str, Any] = {"AggregatedSourceStatusList": entries[offset : offset + size]}
    if offset + size < len(entries):
        out["NextToken"] = _token(binding, offset + size)
    return out


def _may(caller: Caller, environ: dict[str, Any] | None, action: str) -> bool:
    """Whether the caller's own permissions allow ``action`` (Config calls Organizations as the caller)."""
    try:
        return authz.decide_plain(caller, authz.principal_of(caller), action, "*", environ).allowed
    except iam_eval.Unsupported:
        return False


def _organization_refusal(caller: Caller, environ: dict[str, Any] | None = None) -> ConfigError | None:
    """Why AWS Config refuses an organization aggregator in the caller's account, or None."""
    account_id = caller.account_id
    found = authz.organization_of(account_id)
    if found is None or found[0].org is None:
        return ConfigError("NoAvailableOrganizationException", "Organization is no longer available.")
    backend, management = found
    if backend.org.feature_set != "ALL":
        return ConfigError(
            "OrganizationAllFeaturesNotEnabledException",
            "Config resource cannot be created because your organization does not have all features enabled.",
        )
    if account_id == management:
        # "If the caller is a management account, Config calls EnableAwsServiceAccess".
        if not _may(caller, environ, "organizations:EnableAWSServiceAccess"):
            return ConfigError(
                "OrganizationAccessDeniedException",
                "No permission to call EnableAWSServiceAccess API.",
            )
        backend.enable_aws_service_access(ServicePrincipal=CONFIG_PRINCIPAL)
        return None
    registered = any(a.account.id == account_id and CONFIG_PRINCIPAL in a.services for a in backend.admins)
    if registered and _may(caller, environ, "organizations:ListDelegatedAdministrators"):
        return None
    return ConfigError(
        "OrganizationAccessDeniedException",
        "You are not a registered delegated administrator for AWS Config with permissions to call "
        "ListDelegatedAdministrators API. Ensure that the management account registers delegated administrator "
        "for AWS Config service principal name before the delegated administrator creates an aggregator.",
    )


def _error(err: ConfigError) -> Response:
    return wire.aws_json_error(err.code, str(err))


def handle(
    store: config_items.ConfigItemStore,
    caller: Caller,
    target: str,
    body: bytes,
    environ: dict[str, Any] | None = None,
) -> Response | None:
    """Config operations answered here; None lets moto answer (also after the organization check)."""
    if not target.startswith(TARGET_PREFIX):
        return None
    operation = target[len(TARGET_PREFIX) :]
    try:
        if operation == SELECT_AGGREGATE:
            return wire.aws_json(select_aggregate(store, caller, _params(body)))
        if operation == SELECT:
            return wire.aws_json(select_own(store, caller, _params(body)))
        if operation == SOURCES_STATUS:
            return wire.aws_json(sources_status(caller, _params(body)))
        if operation == PUT_AGGREGATOR:
            params = _params(body)
            if params.get("OrganizationAggregationSource") and not params.get("AccountAggregationSources"):
                refusal = _organization_refusal(caller, environ)
                if refusal is not None:
                    return _error(refusal)
    except ConfigError as err:
        return _error(err)
    return None


# --- recorders: discovery of the current configuration --------------------------------------


def discover(store: config_items.ConfigItemStore, account: str, region: str, current: dict[str, Any]) -> bool:
    """Record X-Ray's current configuration if a recorder records the type and the latest item
    (if any) says otherwise; whether it recorded."""
    history = store.history(account, region)
    if history:
        latest = json.loads(history[0]["configuration"])
        if (latest.get("type"), latest.get("keyId")) == (current.get("Type"), current.get("KeyId")):
            return False
    return store.record_xray(account, region, current)


def forward_recorder_call(
    moto_app: Callable[..., Iterable[bytes]],
    environ: dict[str, Any],
    after: Callable[[], None],
) -> Response:
    """Let moto run a recorder operation; on success run ``after`` (discovery) before answering."""
    seen: dict[str, Any] = {}

    def capture(status: str, headers: list[tuple[str, str]], *_: Any) -> Callable[[bytes], None]:
        seen["status"], seen["headers"] = status, headers
        return lambda _data: None

    result = moto_app(environ, capture)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status = seen.get("status", "500 INTERNAL SERVER ERROR")
    if status.startswith("2"):
        after()
    headers = [
        ("Content-Type", "application/x-amz-json-1.1") if k.lower() == "content-type" else (k, v)
        for k, v in seen.get("headers", [])
        if k.lower() != "content-length"
    ]
    return Response(body, status=status, headers=headers)


# --- test-only control ----------------------------------------------------------------------


def handle_control(store: config_items.ConfigItemStore, method: str, path: str, body: bytes) -> Response:
    """``POST /_xray_cmk/config-items/age`` ``{"account_id", "region", "seconds"}``: the latest item's
    capture time moves ``seconds`` back. 200 ``{"configurationItemCaptureTime": ISO}``; 404 without an item."""
    if path.rstrip("/") != CONTROL_AGE_PATH or method != "POST":
        return wire.rest_json({"message": f"no test hook {method} {path}"}, 404)
    try:
        params = json.loads(body or b"{}")
        account, region, seconds = params["account_id"], params["region"], params["seconds"]
        if not (isinstance(account, str) and isinstance(region, str)):
            raise TypeError
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return wire.rest_json(
            {"message": 'body must be {"account_id": str, "region": str, "seconds": non-negative number}'}, 400
        )
    captured = config_items.age_latest(store, account, region, float(seconds))
    if captured is None:
        return wire.rest_json({"message": f"no configuration item in {account}/{region}"}, 404)
    return wire.rest_json({"configurationItemCaptureTime": _iso(captured)})
