"""Organizations as AWS creates member accounts (moto 5.2.5 leaves out one piece).

``CreateAccount`` makes the role ``OrganizationAccountAccessRole`` (or ``RoleName``) in the new
account, trusting the management account. AWS attaches the managed policy ``AdministratorAccess``
to it; moto creates the role without any permission, so with authorization enforced nothing could
use it. The patch gives the role that policy's document (``Allow * on *``) as an inline policy named
``AdministratorAccess``.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from moto.organizations.models import FakeAccount

ADMINISTRATOR_ACCESS = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


def _with_administrator_access(init):
    @functools.wraps(init)
    def wrapper(self: FakeAccount, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        from moto.iam import iam_backends

        role_name = kwargs.get("RoleName", "OrganizationAccountAccessRole")
        iam = iam_backends[self.id]["global"]
        try:
            role = iam.get_role(role_name)
        except Exception:  # the role could not be created: nothing to attach to
            return
        if "AdministratorAccess" not in role.policies:
            iam.put_role_policy(role_name, "AdministratorAccess", ADMINISTRATOR_ACCESS)

    return wrapper


@functools.cache
def apply() -> None:
    FakeAccount.__init__ = _with_administrator_access(FakeAccount.__init__)  # type: ignore[method-assign]
