"""Who is calling, in which region, for which service: read from the SigV4 request.

Service and region come from the SigV4 credential scope
(``Credential=AKID/20240101/us-east-1/xray/aws4_request``), exactly the fields
moto's ``DomainDispatcherApplication.infer_service_region_host`` uses to route.
The account id is resolved the way moto's ``BaseResponse.get_current_account``
does it, so our state lines up with moto's per-account backends.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import BaseResponse

DEFAULT_REGION = "us-east-1"

# moto only treats 20-character [A-Z0-9] ids as access keys; anything else
# (e.g. "test") falls back to this placeholder and the default account.
MOTO_UNKNOWN_ACCESS_KEY = "AKIAEXAMPLE"


@dataclass(frozen=True)
class Caller:
    access_key: str  # as moto extracts it (MOTO_UNKNOWN_ACCESS_KEY if unknown form)
    account_id: str
    region: str
    service: str | None  # SigV4 signing name, lower-case; None if unsigned

    @property
    def partition(self) -> str:
        from moto.utilities.utils import get_partition

        return get_partition(self.region)


def _credential_scope(auth: str) -> list[str] | None:
    # "AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, SignedHeaders=..., Signature=..."
    try:
        scope = auth.split(",")[0].split()[1]
        if scope.startswith("Credential="):
            scope = scope[len("Credential=") :]
        parts = scope.split("/")
        return parts if len(parts) == 5 else None
    except (IndexError, ValueError):
        return None


def moto_access_key(auth: str | None) -> str:
    """The access key id exactly as moto's BaseResponse.get_access_key finds it."""
    if auth:
        match = BaseResponse.access_key_regex.search(auth)
        if match:
            return match.group(1)
    return MOTO_UNKNOWN_ACCESS_KEY


def account_for(access_key: str, headers: Any) -> str:
    """Mirror of moto's BaseResponse.get_current_account (same priority order)."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    header = headers.get("HTTP_X_MOTO_ACCOUNT_ID")
    if header:
        return header
    from moto.iam.models import get_account_id_from

    if access_key == MOTO_UNKNOWN_ACCESS_KEY:
        return DEFAULT_ACCOUNT_ID
    return get_account_id_from(access_key)


def caller_from_environ(environ: dict[str, Any]) -> Caller:
    auth = environ.get("HTTP_AUTHORIZATION")
    scope = _credential_scope(auth) if auth else None
    region = scope[2] if scope else DEFAULT_REGION
    service = scope[3].lower() if scope else None
    key = moto_access_key(auth)
    return Caller(
        access_key=key,
        account_id=account_for(key, environ),
        region=region,
        service=service,
    )
