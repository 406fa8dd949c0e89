"""STS ``GetCallerIdentity`` for the account's root credentials, as AWS answers it.

moto 5.2.5 answers keys it did not issue (such as ``test``, which the emulator treats as the root of
the account) with ``arn:aws:sts::ACCOUNT:user/moto``, a principal that exists nowhere. AWS answers
root credentials with ``Arn = arn:aws:iam::ACCOUNT:root`` and ``UserId = ACCOUNT``; that is what
authorization (authz) treats such a caller as, so the tool must see the same identity.
"""

from __future__ import annotations

import functools

from moto.sts.models import STSBackend
from moto.utilities.utils import get_partition


def _root_identity(method):
    @functools.wraps(method)
    def wrapper(self: STSBackend, access_key_id: str, region: str) -> tuple[str, str, str]:
        user_id, arn, account_id = method(self, access_key_id, region)
        if arn == f"arn:{get_partition(region)}:sts::{account_id}:user/moto":
            return account_id, f"arn:{get_partition(region)}:iam::{account_id}:root", account_id
        return user_id, arn, account_id

    return wrapper


@functools.cache
def apply() -> None:
    STSBackend.get_caller_identity = _root_identity(STSBackend.get_caller_identity)  # type: ignore[method-assign]
