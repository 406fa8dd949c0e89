"""Small, cached look-ups into botocore's service models.

Used to name the operation of a request (for IAM action matching) and to pick
the wire protocol / error member casing of a service, straight from the same
model files the SDKs are generated from.
"""

from __future__ import annotations

import functools
from typing import Any

import botocore.loaders
from botocore.exceptions import DataNotFoundError, UnknownServiceError

# SigV4 signing names that differ from botocore's service directory name.
SIGNING_NAME_TO_SERVICE = {
    "execute-api": "apigateway",
    "monitoring": "cloudwatch",
    "email": "ses",
    "states": "stepfunctions",
    "elasticloadbalancing": "elbv2",
}


@functools.cache
def _loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


@functools.cache
def service_model(signing_name: str) -> dict[str, Any] | None:
    name = SIGNING_NAME_TO_SERVICE.get(signing_name, signing_name)
    try:
        return _loader().load_service_model(name, "service-2")
    except (DataNotFoundError, UnknownServiceError):
        return None


def protocol(signing_name: str) -> str | None:
    model = service_model(signing_name)
    return model["metadata"]["protocol"] if model else None


@functools.cache
def _literal_rest_routes(signing_name: str) -> dict[tuple[str, str], str]:
    """(METHOD, path) -> operation name, for operations whose URI has no labels."""
    model = service_model(signing_name)
    routes: dict[tuple[str, str], str] = {}
    if not model:
        return routes
    for name, op in model["operations"].items():
        http = op.get("http", {})
        uri = http.get("requestUri", "").split("?")[0]
        if "{" not in uri:
            routes[(http.get("method", "POST"), uri.rstrip("/") or "/")] = name
    return routes


def rest_operation(signing_name: str, method: str, path: str) -> str | None:
    return _literal_rest_routes(signing_name).get((method, path.rstrip("/") or "/"))


def error_message_member(signing_name: str, error_code: str) -> str:
    """Casing of the message member in the service's error shape (default ``Message``)."""
    model = service_model(signing_name)
    shape = (model or {}).get("shapes", {}).get(error_code, {})
    members = shape.get("members", {})
    if "message" in members:
        return "message"
    return "Message"


@functools.cache
def partition_regions(partition: str = "aws") -> list[str]:
    """Region codes of a partition, from botocore's endpoints data."""
    data = _loader().load_data("endpoints")
    for part in data["partitions"]:
        if part["partition"] == partition:
            return sorted(part["regions"])
    return []
