"""CloudTrail fixes for moto 5.2.5, applied in-process before the server starts.

botocore model ``cloudtrail/2013-11-01`` (awsJson1.1). Checked against moto 5.2.5's source;
each fix is pinned by tests/test_cloudtrail.py:

1. ``GetEventSelectors`` on a trail without custom selectors returned ``[]``; AWS
   returns its default (log all read and write management events):
   ``[{"ReadWriteType": "All", "IncludeManagementEvents": true, "DataResources": [],
   "ExcludeManagementEventSources": []}]``.
2. ``PutEventSelectors``: basic and advanced selectors are exclusive ("either,
   not both"), but moto kept the old advanced selectors when basic ones were
   put and returned both. Now the last put replaces the other kind; sending
   both or neither, more than 5 basic selectors, an invalid ``ReadWriteType``,
   an ``ExcludeManagementEventSources`` entry other than ``kms.amazonaws.com`` /
   ``rdsdata.amazonaws.com``, or an advanced selector without ``FieldSelectors``
   is InvalidEventSelectorsException. Basic selectors are returned with AWS's
   defaults filled in (``ReadWriteType`` All, ``IncludeManagementEvents`` true,
   empty lists); only the kind in use is returned.
3. ``HasCustomEventSelectors`` / ``HasInsightSelectors`` were always false.
   Trail descriptions no longer carry ``null`` members (AWS omits unset ones).
4. ``DescribeTrails`` ignored ``trailNameList``. Now names select trails whose
   home is the current Region, ARNs select any trail listed in the Region.
5. Shadow trails: a multi-Region trail is listed by ``DescribeTrails`` (with
   ``includeShadowTrails``, the default) in every Region of its account - moto
   already did this. ``GetTrailStatus`` resolved a shadow trail by *name*; AWS
   requires its ARN outside the home Region. ``GetTrail`` / ``GetEventSelectors``
   now also accept a shadow trail's ARN; ``PutEventSelectors``, ``StartLogging``,
   ``StopLogging`` and ``UpdateTrail`` on a shadow trail are InvalidHomeRegionException.
6. ``CreateTrail`` with an existing name silently replaced the trail; now
   TrailAlreadyExistsException.

Already right in moto (kept): CreateTrail checks the S3 bucket exists; StartLogging /
StopLogging / GetTrailStatus ``IsLogging``; ``IsMultiRegionTrail``, ``HomeRegion``,
``IsOrganizationTrail``, ``TrailARN`` in DescribeTrails.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from moto.cloudtrail.exceptions import TrailNameTooShort, TrailNotFoundException
from moto.cloudtrail.models import CloudTrailBackend, Trail, TrailStatus, cloudtrail_backends
from moto.cloudtrail.responses import CloudTrailResponse
from moto.core.exceptions import JsonRESTError

READ_WRITE_TYPES = ("ReadOnly", "WriteOnly", "All")
EXCLUDABLE_SOURCES = ("kms.amazonaws.com", "rdsdata.amazonaws.com")
MAX_BASIC_SELECTORS = 5
FIELD_OPERATORS = ("Equals", "StartsWith", "EndsWith", "NotEquals", "NotStartsWith", "NotEndsWith")
DEFAULT_EVENT_SELECTORS = [
    {"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": [], "ExcludeManagementEventSources": []}
]


class InvalidEventSelectorsException(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("InvalidEventSelectorsException", message)


class InvalidHomeRegionException(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("InvalidHomeRegionException", message)


class TrailAlreadyExistsException(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("TrailAlreadyExistsException", message)


# --- selectors -------------------------------------------------------------


def _basic_selector(sel: Any) -> dict[str, Any]:
    if not isinstance(sel, dict):
        raise InvalidEventSelectorsException("Each event selector must be an object.")
    rw = sel.get("ReadWriteType", "All")
    if rw not in READ_WRITE_TYPES:
        raise InvalidEventSelectorsException(
            f"Invalid ReadWriteType {rw!r}; valid values are ReadOnly, WriteOnly and All."
        )
    include = sel.get("IncludeManagementEvents", True)
    if not isinstance(include, bool):
        raise InvalidEventSelectorsException("IncludeManagementEvents must be a boolean.")
    excluded = sel.get("ExcludeManagementEventSources") or []
    for source in excluded:
        if source not in EXCLUDABLE_SOURCES:
            raise InvalidEventSelectorsException(
                f"Invalid ExcludeManagementEventSources value {source!r}; "
                f"supported values are {', '.join(EXCLUDABLE_SOURCES)}."
            )
    return {
        "ReadWriteType": rw,
        "IncludeManagementEvents": include,
        "DataResources": list(sel.get("DataResources") or []),
        "ExcludeManagementEventSources": list(excluded),
    }


def _advanced_selector(sel: Any) -> dict[str, Any]:
    if not isinstance(sel, dict) or not sel.get("FieldSelectors"):
        raise InvalidEventSelectorsException("Each advanced event selector needs at least one field selector.")
    fields = []
    for field in sel["FieldSelectors"]:
        if not isinstance(field, dict) or not field.get("Field"):
            raise InvalidEventSelectorsException("Each field selector needs a Field.")
        if not any(field.get(op) for op in FIELD_OPERATORS):
            raise InvalidEventSelectorsException(f"Field selector {field['Field']!r} has no operator.")
        fields.append({k: v for k, v in field.items() if k == "Field" or (k in FIELD_OPERATORS and v)})
    out: dict[str, Any] = {"FieldSelectors": fields}
    if sel.get("Name"):
        out = {"Name": sel["Name"], **out}
    return out


def trail_put_event_selectors(
    self: Trail, event_selectors: list[dict[str, Any]] | None, advanced_event_selectors: list[dict[str, Any]] | None
) -> None:
    basic_given, advanced_given = event_selectors is not None, advanced_event_selectors is not None
    if basic_given == advanced_given:
        raise InvalidEventSelectorsException(
            "Specify either EventSelectors or AdvancedEventSelectors, but not both."
        )
    if basic_given:
        if not isinstance(event_selectors, list) or not 1 <= len(event_selectors) <= MAX_BASIC_SELECTORS:
            raise InvalidEventSelectorsException(
                f"EventSelectors must contain between 1 and {MAX_BASIC_SELECTORS} event selectors."
            )
        self.event_selectors = [_basic_selector(s) for s in event_selectors]
        self.advanced_event_selectors = []
    else:
        if not isinstance(advanced_event_selectors, list) or not advanced_event_selectors:
            raise InvalidEventSelectorsException("AdvancedEventSelectors must not be empty.")
        self.advanced_event_selectors = [_advanced_selector(s) for s in advanced_event_selectors]
        self.event_selectors = []
    self.has_custom_event_selectors = True  # type: ignore[attr-defined]


def selectors_json(trail: Trail) -> dict[str, Any]:
    out: dict[str, Any] = {"TrailARN": trail.arn}
    if trail.advanced_event_selectors:
        out["AdvancedEventSelectors"] = trail.advanced_event_selectors
    else:
        out["EventSelectors"] = trail.event_selectors or json.loads(json.dumps(DEFAULT_EVENT_SELECTORS))
    return out


def _description(method):
    @functools.wraps(method)
    def wrapper(self: Trail, include_region: bool = False) -> dict[str, Any]:
        desc = method(self, include_region)
        desc["HasCustomEventSelectors"] = bool(getattr(self, "has_custom_event_selectors", False))
        desc["HasInsightSelectors"] = bool(self.insight_selectors)
        return {k: v for k, v in desc.items() if v is not None}

    return wrapper


# --- trail resolution (home Region vs shadow trails) -----------------------


def _visible(backend: CloudTrailBackend) -> list[Trail]:
    """Trails DescribeTrails lists in this Region with includeShadowTrails (own + multi-Region)."""
    return list(backend.describe_trails(include_shadow_trails=True))


def _resolve(backend: CloudTrailBackend, name_or_arn: str) -> Trail:
    if not isinstance(name_or_arn, str) or len(name_or_arn) < 3:
        raise TrailNameTooShort(actual_length=len(name_or_arn or ""))
    if name_or_arn.startswith("arn:"):
        for trail in _visible(backend):
            if trail.arn == name_or_arn:
                return trail
    elif name_or_arn in backend.trails:
        return backend.trails[name_or_arn]
    raise TrailNotFoundException(account_id=backend.account_id, name=name_or_arn)


def backend_get_trail(self: CloudTrailBackend, name_or_arn: str) -> Trail:
    return _resolve(self, name_or_arn)


def backend_get_trail_status(self: CloudTrailBackend, name: str) -> TrailStatus:
    try:
        return _resolve(self, name).status
    except TrailNotFoundException:
        if isinstance(name, str) and name.startswith("arn:"):
            raise
        arn = f"arn:{self.partition}:cloudtrail:{self.region_name}:{self.account_id}:trail/{name}"
        raise TrailNotFoundException(account_id=self.account_id, name=arn) from None


def backend_list_trails(self: CloudTrailBackend) -> list[Trail]:
    """ListTrails: every trail of the account whatever its home Region (moto lists only the
    Region's own and multi-Region trails, as DescribeTrails does)."""
    trails = [t for backend in cloudtrail_backends[self.account_id].values() for t in backend.trails.values()]
    return sorted(trails, key=lambda t: t.arn)


def _home_region_only(method):
    @functools.wraps(method)
    def wrapper(self: CloudTrailBackend, *args: Any, **kwargs: Any) -> Any:
        name = kwargs.get("name", kwargs.get("trail_name", args[0] if args else None))
        trail = _resolve(self, name)
        if trail.region_name != self.region_name:
            raise InvalidHomeRegionException(
                f"This operation can only be performed in the trail's home Region: {trail.region_name}"
            )
        return method(self, *args, **kwargs)

    return wrapper


def _unique_name(method):
    @functools.wraps(method)
    def wrapper(self: CloudTrailBackend, name: str, *args: Any, **kwargs: Any) -> Trail:
        if any(t.trail_name == name for t in _visible(self)):
            arn = f"arn:{self.partition}:cloudtrail:{self.region_name}:{self.account_id}:trail/{name}"
            raise TrailAlreadyExistsException(f"Trail {arn} already exists for customer: {self.account_id}")
        return method(self, name, *args, **kwargs)

    return wrapper


# --- responses ---------------------------------------------------------------


def response_put_event_selectors(self: CloudTrailResponse) -> str:
    params = json.loads(self.body or "{}")
    trail = self.cloudtrail_backend.get_trail(params.get("TrailName"))
    if trail.region_name != self.region:
        raise InvalidHomeRegionException(
            f"This operation can only be performed in the trail's home Region: {trail.region_name}"
        )
    trail.put_event_selectors(params.get("EventSelectors"), params.get("AdvancedEventSelectors"))
    return json.dumps(selectors_json(trail))


def response_get_event_selectors(self: CloudTrailResponse) -> str:
    params = json.loads(self.body or "{}")
    return json.dumps(selectors_json(self.cloudtrail_backend.get_trail(params.get("TrailName"))))


def response_describe_trails(self: CloudTrailResponse) -> str:
    include_shadow = self._get_bool_param("includeShadowTrails", True)
    wanted = self._get_param("trailNameList") or []
    backend = self.cloudtrail_backend
    trails = list(backend.describe_trails(include_shadow))
    if wanted:
        trails = [
            t for t in trails
            if t.arn in wanted or (t.trail_name in wanted and t.region_name == backend.region_name)
        ]  # fmt: skip
    return json.dumps({"trailList": [t.description(include_region=True) for t in trails]})


@functools.cache  # idempotent: a second call must not wrap moto's methods again
def apply() -> None:
    """Install the patches."""
    Trail.put_event_selectors = trail_put_event_selectors  # type: ignore[method-assign]
    Trail.description = _description(Trail.description)  # type: ignore[method-assign]
    CloudTrailBackend.get_trail = backend_get_trail  # type: ignore[method-assign]
    CloudTrailBackend.get_trail_status = backend_get_trail_status  # type: ignore[method-assign]
    CloudTrailBackend.list_trails = backend_list_trails  # type: ignore[method-assign]
    CloudTrailBackend.create_trail = _unique_name(CloudTrailBackend.create_trail)  # type: ignore[method-assign]
    for name in ("start_logging", "stop_logging", "update_trail"):
        setattr(CloudTrailBackend, name, _home_region_only(getattr(CloudTrailBackend, name)))
    CloudTrailResponse.put_event_selectors = response_put_event_selectors  # type: ignore[method-assign]
    CloudTrailResponse.get_event_selectors = response_get_event_selectors  # type: ignore[method-assign]
    CloudTrailResponse.describe_trails = response_describe_trails  # type: ignore[method-assign]
