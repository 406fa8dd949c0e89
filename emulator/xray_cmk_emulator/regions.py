"""AWS Account region opt-in APIs (moto 5.2.5's ``account`` backend only has alternate contacts).

botocore model ``account/2021-02-01`` (rest-json, signing name ``account``):
  ListRegions         POST /listRegions        {AccountId?, MaxResults 1..50, NextToken?, RegionOptStatusContains?}
                                               -> {Regions: [{RegionName, RegionOptStatus}], NextToken?}
  GetRegionOptStatus  POST /getRegionOptStatus {AccountId?, RegionName} -> {RegionName, RegionOptStatus}
  EnableRegion        POST /enableRegion       {AccountId?, RegionName} -> (empty)
  DisableRegion       POST /disableRegion      {AccountId?, RegionName} -> (empty)
  Errors use a lower-case ``message`` member; ValidationException is 400, AccessDeniedException 403.

Regions are the ``aws`` partition from botocore's endpoints data. The regions
that existed before March 2019 are ENABLED_BY_DEFAULT; all others are opt-in
and DISABLED until EnableRegion. Simplification: EnableRegion/DisableRegion take
effect immediately (ENABLED/DISABLED, no ENABLING/DISABLING phase).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from typing import Any

from werkzeug.wrappers import Response

from . import wire
from .caller import Caller
from .service_models import partition_regions

# Regions that cannot be disabled (launched before 20 March 2019).
DEFAULT_REGIONS = frozenset(
    {
        "us-east-1", "us-east-2", "us-west-1", "us-west-2",
        "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
        "ap-southeast-1", "ap-southeast-2", "ca-central-1",
        "eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3", "eu-north-1",
        "sa-east-1",
    }
)  # fmt: skip

STATUSES = ("ENABLED", "ENABLING", "DISABLING", "DISABLED", "ENABLED_BY_DEFAULT")


class _Error(Exception):
    def __init__(self, status: int, code: str, message: str, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra or {}


def _validation(message: str, reason: str = "fieldValidationFailed", field: str | None = None) -> _Error:
    extra: dict[str, Any] = {"reason": reason}
    if field:
        extra["fieldList"] = [{"name": field, "message": message}]
    return _Error(400, "ValidationException", message, extra)


class RegionOptStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._enabled: dict[str, set[str]] = {}  # account -> opt-in regions enabled

    def reset(self) -> None:
        with self._lock:
            self._enabled.clear()

    def status(self, account: str, region: str) -> str:
        if region in DEFAULT_REGIONS:
            return "ENABLED_BY_DEFAULT"
        with self._lock:
            return "ENABLED" if region in self._enabled.get(account, set()) else "DISABLED"

    def set_enabled(self, account: str, region: str, enabled: bool) -> None:
        with self._lock:
            regions = self._enabled.setdefault(account, set())
            (regions.add if enabled else regions.discard)(region)

    def all_statuses(self, account: str) -> list[dict[str, str]]:
        return [
            {"RegionName": r, "RegionOptStatus": self.status(account, r)}
            for r in partition_regions("aws")
        ]


def _target_account(caller: Caller, params: dict[str, Any]) -> str:
    """Honour AccountId the way the API documents it (management account -> member)."""
    account_id = params.get("AccountId")
    if account_id is None:
        return caller.account_id
    if not isinstance(account_id, str) or not re.fullmatch(r"\d{12}", account_id):
        raise _validation("Invalid AccountId.", field="AccountId")
    if account_id == caller.account_id:
        raise _validation(
            "The management account can't specify its own AccountId.", field="AccountId"
        )
    from moto.organizations.models import organizations_backends

    master = organizations_backends.master_accounts.get(account_id)
    if not master or master[0] != caller.account_id:
        raise _Error(
            403,
            "AccessDeniedException",
            f"Account {caller.account_id} is not the management account of {account_id}.",
        )
    return account_id


def _region_name(params: dict[str, Any]) -> str:
    name = params.get("RegionName")
    if not isinstance(name, str) or not name:
        raise _validation("RegionName is required.", field="RegionName")
    if name not in partition_regions("aws"):
        raise _validation(f"Invalid region: {name}", reason="invalidRegionOptTarget", field="RegionName")
    return name


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode_token(token: str) -> int:
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
        if isinstance(offset, int) and offset >= 0:
            return offset
    except (ValueError, KeyError, TypeError):
        pass
    raise _validation("Invalid NextToken.", field="NextToken")


def _list_regions(store: RegionOptStore, caller: Caller, params: dict[str, Any]) -> Response:
    account = _target_account(caller, params)
    max_results = params.get("MaxResults")
    if max_results is not None and (
        not isinstance(max_results, int) or not 1 <= max_results <= 50
    ):
        raise _validation("MaxResults must be between 1 and 50.", field="MaxResults")
    wanted = params.get("RegionOptStatusContains")
    if wanted is not None:
        if not isinstance(wanted, list) or any(s not in STATUSES for s in wanted):
            raise _validation("Invalid RegionOptStatusContains.", field="RegionOptStatusContains")
    regions = store.all_statuses(account)
    if wanted:
        regions = [r for r in regions if r["RegionOptStatus"] in wanted]
    start = _decode_token(params["NextToken"]) if params.get("NextToken") else 0
    # Without MaxResults everything is returned in one page.
    end = len(regions) if max_results is None else start + max_results
    out: dict[str, Any] = {"Regions": regions[start:end]}
    if end < len(regions):
        out["NextToken"] = _encode_token(end)
    return wire.rest_json(out)


def _get_region_opt_status(store: RegionOptStore, caller: Caller, params: dict[str, Any]) -> Response:
    account = _target_account(caller, params)
    region = _region_name(params)
    return wire.rest_json({"RegionName": region, "RegionOptStatus": store.status(account, region)})


def _set_region(enabled: bool):
    def handler(store: RegionOptStore, caller: Caller, params: dict[str, Any]) -> Response:
        account = _target_account(caller, params)
        region = _region_name(params)
        if region in DEFAULT_REGIONS:
            raise _validation(
                f"{region} is enabled by default and cannot be enabled or disabled.",
                reason="invalidRegionOptTarget",
                field="RegionName",
            )
        store.set_enabled(account, region, enabled)
        return wire.rest_json(None)

    return handler


OPERATIONS = {
    "/listRegions": _list_regions,
    "/getRegionOptStatus": _get_region_opt_status,
    "/enableRegion": _set_region(True),
    "/disableRegion": _set_region(False),
}


def handle(store: RegionOptStore, caller: Caller, path: str, body: bytes) -> Response:
    try:
        params = json.loads(body or b"{}")
        if not isinstance(params, dict):
            raise ValueError
    except ValueError:
        return wire.rest_json_error(400, "ValidationException", "Invalid request body.", "message")
    try:
        return OPERATIONS[path](store, caller, params)
    except _Error as err:
        return wire.rest_json_error(err.status, err.code, err.message, "message", err.extra)
