"""Organizations as AWS creates member accounts (moto 5.2.5 leaves out one piece).

``CreateAccount`` makes the role ``OrganizationAccountAccessRole`` (or ``RoleName``) in the new
account, trusting the management account. AWS attaches the managed policy ``AdministratorAccess``
to it; moto creates the role without any permission, so with authorization enforced nothing could
use it. The patch gives the role that policy's document (``Allow * on *``) as an inline policy named
``AdministratorAccess``.

``AttachPolicy`` refuses a policy whose type is not enabled in the root, with
``PolicyTypeNotEnabledException``, as AWS does ("You can't attach policies of the specified type to
entities in a root until you enable that type in the root"); moto attaches it anyway, and an SCP
attached that way would look in place to a reader while authorization (which applies SCPs only
once the type is enabled) ignores it.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from moto.organizations.exceptions import PolicyTypeNotEnabledException
from moto.organizations.models import FakeAccount
from moto.organizations.responses import OrganizationsResponse

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


def _only_enabled_policy_types(attach):
    """The API's AttachPolicy (not moto's own attachment of FullAWSAccess when it creates the
    organization)."""

    @functools.wraps(attach)
    def wrapper(self: Any) -> str:
        backend = self.organizations_backend
        policy = backend.get_policy_by_id(self.request_params["PolicyId"])
        roots = [r for r in backend.ou if type(r).__name__ == "FakeRoot"]
        enabled = {t.get("Type") for r in roots for t in r.policy_types if t.get("Status") == "ENABLED"}
        if policy.type not in enabled:
            raise PolicyTypeNotEnabledException
        return attach(self)

    return wrapper


@functools.cache
def apply() -> None:
    FakeAccount.__init__ = _with_administrator_access(FakeAccount.__init__)  # type: ignore[method-assign]
    OrganizationsResponse.attach_policy = _only_enabled_policy_types(OrganizationsResponse.attach_policy)  # type: ignore[method-assign]
