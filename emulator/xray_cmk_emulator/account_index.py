"""Which account an access key belongs to, in constant time.

moto 5.2.5 finds the caller's account (``moto.iam.models.get_account_id_from``, called for every
request) by walking every account's IAM access keys, so each request costs more the larger the
organization: 1.1 ms per call at 100 accounts, 2.6 ms at 1,000. AWS knows a key's account at once.
Here keys are indexed when moto issues them (``IAMBackend.create_access_key`` for IAM users,
``create_temp_access_key`` for STS sessions) and dropped when deleted, and the lookup checks the
index entry against the account's own keys, so a reset (``/moto-api/reset``) or a deleted key
never resolves to a stale account.

A key that is not indexed and does not look like one moto issues (``AKIA``/``ASIA`` and 20
characters; the emulator's root test credentials are ``test``) is the default account's at once,
as moto would decide after its walk. One that does look issued but is not indexed falls back to
moto's walk, so the answer never differs from moto's.
"""

from __future__ import annotations

import functools
from typing import Any

import moto.iam.models as iam_models
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam.models import IAMBackend
from moto.utilities.utils import PARTITION_NAMES

# access key id -> account id, for every key moto issued since the process started.
_INDEX: dict[str, str] = {}


def _looks_issued(access_key: str) -> bool:
    return len(access_key) == 20 and access_key[:4] in ("AKIA", "ASIA")


def _walk(access_key: str) -> str:
    """moto's own lookup: every account, every partition."""
    for account_id, account in list(iam_models.iam_backends.items()):
        for partition in PARTITION_NAMES:
            if access_key in account[partition].access_keys:
                return account_id
    return DEFAULT_ACCOUNT_ID


def _holds(account_id: str, access_key: str) -> bool:
    backends = iam_models.iam_backends
    if account_id not in backends:
        return False
    account = backends[account_id]
    return any(access_key in account[p].access_keys for p in PARTITION_NAMES if p in account)


def get_account_id_from(access_key: str) -> str:
    account_id = _INDEX.get(access_key)
    if account_id is not None:
        if _holds(account_id, access_key):
            return account_id
        del _INDEX[access_key]
    if not _looks_issued(access_key):
        return DEFAULT_ACCOUNT_ID
    found = _walk(access_key)
    if found != DEFAULT_ACCOUNT_ID or _holds(found, access_key):
        _INDEX[access_key] = found
    return found


def _indexing(method: Any) -> Any:
    @functools.wraps(method)
    def wrapper(self: IAMBackend, *args: Any, **kwargs: Any) -> Any:
        key = method(self, *args, **kwargs)
        _INDEX[key.physical_resource_id] = self.account_id
        return key

    return wrapper


def _unindexing(method: Any) -> Any:
    @functools.wraps(method)
    def wrapper(self: IAMBackend, name: str) -> Any:
        out = method(self, name)
        _INDEX.pop(name, None)
        return out

    return wrapper


@functools.cache
def apply() -> None:
    IAMBackend.create_access_key = _indexing(IAMBackend.create_access_key)  # type: ignore[method-assign]
    IAMBackend.create_temp_access_key = _indexing(IAMBackend.create_temp_access_key)  # type: ignore[method-assign]
    IAMBackend.delete_access_key_by_name = _unindexing(IAMBackend.delete_access_key_by_name)  # type: ignore[method-assign]
    iam_models.get_account_id_from = get_account_id_from  # type: ignore[assignment]
