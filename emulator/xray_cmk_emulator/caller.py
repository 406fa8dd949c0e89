"""Who is calling, in which region, for which service: read from the SigV4 request.

Service and region come from the SigV4 credential scope
(``Credential=AKID/20240101/us-east-1/xray/aws4_request``), exactly the fields
moto's ``DomainDispatcherApplication.infer_service_region_host`` uses to route.
The account id is resolved the way moto's ``BaseResponse.get_current_account``
does it, so our state lines up with moto's per-account backends.

``identify`` names the principal behind the access key (the moto root user of
the account, an IAM user, or an STS AssumeRole session) for everything that
needs it: the explicit-Deny subset, AssumeRole trust checks and CloudTrail's
``userIdentity``.
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
    signing_key: str = ""  # the access key id exactly as signed (e.g. "test"); "" if unsigned

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
        signing_key=scope[0] if scope else "",
    )


@dataclass(frozen=True)
class CallerIdentity:
    """The principal that signed a request, as moto's IAM and STS backends know it."""

    type: str  # CloudTrail userIdentity.type: "Root" | "IAMUser" | "AssumedRole"
    arn: str  # root ARN, user ARN, or the session's arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
    account_id: str
    known_key: bool = False  # the access key is one moto issued (never for e.g. "test")
    user: Any = None  # IAMUser: moto's iam User
    role_arn: str | None = None  # AssumedRole: the assumed role's ARN
    role: Any = None  # AssumedRole: moto's iam Role; None if it no longer exists
    session: Any = None  # AssumedRole: moto's sts AssumedRole; None if moto has no record of it
    access_key: Any = None  # moto's iam AccessKey, if known


def identify(caller: Caller) -> CallerIdentity:
    """Who is behind ``caller``'s access key.

    A key moto knows is an IAM user's (``IAMUser``) or AssumeRole credentials
    (``AssumedRole``); any other key (e.g. ``test``), or a user moto no longer
    has, is the root of the resolved account (``Root``).
    """
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    partition = caller.partition
    root = CallerIdentity("Root", f"arn:{partition}:iam::{caller.account_id}:root", caller.account_id)
    if caller.access_key == MOTO_UNKNOWN_ACCESS_KEY:
        return root
    try:
        iam = iam_backends[caller.account_id][partition]
    except KeyError:
        return root
    key = iam.access_keys.get(caller.access_key)
    if key is None:
        return root
    role_arn = getattr(key, "role_arn", None)
    if role_arn:
        try:
            role = iam.get_role_by_arn(role_arn)
        except Exception:  # assumed, then deleted (or never existed in moto)
            role = None
        session = sts_backends[caller.account_id][partition].get_assumed_role_from_access_key(caller.access_key)
        arn = session.arn if session is not None else role_arn
        return CallerIdentity(
            "AssumedRole", arn, caller.account_id, True, role_arn=role_arn, role=role, session=session, access_key=key
        )
    if key.user_name:
        try:
            user = iam.get_user(key.user_name)
        except Exception:
            return CallerIdentity("Root", root.arn, caller.account_id, True, access_key=key)
        return CallerIdentity("IAMUser", user.arn, caller.account_id, True, user=user, access_key=key)
    return CallerIdentity("Root", root.arn, caller.account_id, True, access_key=key)


def issued_by_moto(access_key: str) -> bool:
    """Whether moto issued this access key (an IAM user's or AssumeRole credentials)."""
    if access_key == MOTO_UNKNOWN_ACCESS_KEY:
        return False
    from moto.iam.models import get_account_id_from, iam_backends

    try:
        return access_key in iam_backends[get_account_id_from(access_key)]["global"].access_keys
    except KeyError:
        return False


def drop_account_override_of_issued_keys(environ: dict[str, Any]) -> None:
    """moto's ``x-moto-account-id`` header lets a request act as any account. That is a test hook
    for unknown keys (the root of an account, e.g. ``test``); credentials moto issued belong to one
    principal of one account, as on AWS, so for them the header is ignored."""
    if "HTTP_X_MOTO_ACCOUNT_ID" not in environ:
        return
    if issued_by_moto(moto_access_key(environ.get("HTTP_AUTHORIZATION"))):
        del environ["HTTP_X_MOTO_ACCOUNT_ID"]
