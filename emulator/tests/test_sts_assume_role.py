"""STS AssumeRole: the role must exist and its trust policy must allow the caller (moto accepts any RoleArn)."""

from __future__ import annotations

import json
import re

import pytest
import requests
from conftest import ALLOW_ALL, Aws, aws_error, create_role

MGMT = "123456789012"
ROOT = f"arn:aws:iam::{MGMT}:root"


def trust(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal, action="sts:AssumeRole", condition=None, effect="Allow") -> dict:
    stmt = {"Effect": effect, "Principal": principal, "Action": action}
    if condition is not None:
        stmt["Condition"] = condition
    return stmt


def role_with_trust(aws: Aws, name: str, document: dict, path: str = "/") -> str:
    return aws.client("iam").create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=json.dumps(document))[
        "Role"
    ]["Arn"]


def assume(aws: Aws, role_arn: str, **kwargs) -> dict:
    return aws.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="sess", **kwargs)


def denied(aws: Aws, role_arn: str, caller_arn: str, **kwargs) -> None:
    with aws_error("AccessDenied", 403) as exc:
        assume(aws, role_arn, **kwargs)
    err = exc.value.response["Error"]
    assert err["Type"] == "Sender"
    assert err["Message"] == f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"


def test_allowed_for_the_account_root_principal(aws: Aws) -> None:
    arn = create_role(aws, "Target")  # trusts arn:aws:iam::123456789012:root
    creds = assume(aws, arn)
    assert creds["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{MGMT}:assumed-role/Target/sess"
    # "Any principal of the account": a session of another role, and an IAM user, as far as their
    # own IAM policies allow sts:AssumeRole (the trust policy delegates to the account).
    other = aws.assume(create_role(aws, "Other"))
    assert assume(other, arn)["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{MGMT}:assumed-role/Target/sess"
    iam = aws.client("iam")
    iam.create_user(UserName="alice")
    key = iam.create_access_key(UserName="alice")["AccessKey"]
    alice = Aws(aws.endpoint, {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]})
    with aws_error("AccessDenied", 403) as err:
        assume(alice, arn)
    assert "because no identity-based policy allows the sts:AssumeRole action" in str(err.value)
    iam.put_user_policy(UserName="alice", PolicyName="assume", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": arn}]}))
    assume(alice, arn)
    bare = aws.assume(create_role(aws, "Bare", allow_all=False))
    with aws_error("AccessDenied", 403):
        assume(bare, arn)


def test_a_trust_policy_naming_the_caller_needs_no_identity_policy_in_the_same_account(aws: Aws) -> None:
    caller = create_role(aws, "Caller", allow_all=False)
    target = create_role(aws, "Direct", allow_all=False)
    aws.client("iam").update_assume_role_policy(RoleName="Direct", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": caller}, "Action": "sts:AssumeRole"}]}))
    assume(aws.assume(caller), target)


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": MGMT}, {"AWS": [ROOT]}, {"AWS": ["111111111111", ROOT]}])
def test_principal_forms_that_cover_the_caller(aws: Aws, principal) -> None:
    assume(aws, role_with_trust(aws, "Target", trust(allow(principal))))


@pytest.mark.parametrize(
    "action", ["sts:AssumeRole", ["sts:TagSession", "sts:AssumeRole"], "sts:*", "*", "STS:assumerole", "sts:Assume*"]
)
def test_action_patterns(aws: Aws, action) -> None:
    assume(aws, role_with_trust(aws, "Target", trust(allow({"AWS": ROOT}, action))))


def test_allowed_for_the_exact_role_arn_only(aws: Aws) -> None:
    caller = create_role(aws, "Caller")
    target = role_with_trust(aws, "Target", trust(allow({"AWS": caller})))
    session = aws.assume(caller, "audit")
    assert assume(session, target)["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{MGMT}:assumed-role/Target/sess"
    # Neither another role of the same account nor the account root is that principal.
    other = aws.assume(create_role(aws, "Other"), "xx")
    denied(other, target, f"arn:aws:sts::{MGMT}:assumed-role/Other/xx")
    denied(aws, target, ROOT)


def test_allowed_for_the_exact_user_arn(aws: Aws) -> None:
    iam = aws.client("iam")
    user_arn = iam.create_user(UserName="bob")["User"]["Arn"]
    key = iam.create_access_key(UserName="bob")["AccessKey"]
    bob = Aws(aws.endpoint, {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]})
    target = role_with_trust(aws, "Target", trust(allow({"AWS": user_arn})))
    assume(bob, target)
    denied(aws, target, ROOT)


def test_cross_account_root_trust(aws: Aws) -> None:
    """A role in another account that trusts this account is assumable; one trusting a third account is not."""
    other = Aws(aws.endpoint, account="111111111111")  # 111111111111's root
    ok = role_with_trust(other, "TrustsMgmt", trust(allow({"AWS": ROOT})))
    no = role_with_trust(other, "TrustsThird", trust(allow({"AWS": "arn:aws:iam::999999999999:root"})))
    creds = assume(aws, ok)
    assert creds["AssumedRoleUser"]["Arn"] == "arn:aws:sts::111111111111:assumed-role/TrustsMgmt/sess"
    denied(aws, no, ROOT)
    # The other account's root is named as itself.
    denied(other, role_with_trust(aws, "Local", trust(allow({"AWS": ROOT}))), "arn:aws:iam::111111111111:root")


@pytest.mark.parametrize(
    "operator,value", [("StringEquals", "s3cr3t"), ("StringEquals", ["other", "s3cr3t"]), ("StringLike", "s3c*"),
                       ("StringLike", "s3cr3?")],
)  # fmt: skip
def test_external_id(aws: Aws, operator: str, value) -> None:
    target = role_with_trust(aws, "Target", trust(allow({"AWS": ROOT}, condition={operator: {"sts:ExternalId": value}})))
    denied(aws, target, ROOT)  # without ExternalId
    denied(aws, target, ROOT, ExternalId="wrong-id")
    assume(aws, target, ExternalId="s3cr3t")


def test_missing_role(aws: Aws) -> None:
    denied(aws, f"arn:aws:iam::{MGMT}:role/Nope", ROOT)
    denied(aws, "arn:aws:iam::111111111111:role/Admin", ROOT)  # moto alone would hand out keys for 111111111111
    # The ARN must name the role with its path.
    arn = role_with_trust(aws, "Pathed", trust(allow({"AWS": ROOT})), path="/ops/")
    assert arn == f"arn:aws:iam::{MGMT}:role/ops/Pathed"
    assume(aws, arn)
    denied(aws, f"arn:aws:iam::{MGMT}:role/Pathed", ROOT)


@pytest.mark.parametrize(
    "statement",
    [
        allow({"AWS": "arn:aws:iam::999999999999:root"}),  # another account
        allow({"AWS": "999999999999"}),
        allow({"Service": "ec2.amazonaws.com"}),  # a service, not the caller
        allow({"AWS": ROOT}, action="sts:TagSession"),  # action not matched
        allow({"AWS": ROOT}, effect="Deny"),  # no Allow at all
        allow({"AWS": ROOT}, condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),  # unsupported: ignored
        allow({"AWS": ROOT}, condition={"StringEquals": {"aws:PrincipalTag/team": "x"}}),  # unsupported key
    ],
)
def test_denied_by_the_trust_policy(aws: Aws, statement: dict) -> None:
    denied(aws, role_with_trust(aws, "Target", trust(statement)), ROOT)


@pytest.mark.parametrize(
    "deny",
    [
        allow("*", effect="Deny"),
        allow({"AWS": ROOT}, action="sts:*", effect="Deny"),
        allow({"AWS": MGMT}, effect="Deny", condition={"StringLike": {"sts:ExternalId": "*"}}),
    ],
)
def test_explicit_deny_wins(aws: Aws, deny: dict) -> None:
    target = role_with_trust(aws, "Target", trust(allow({"AWS": ROOT}), deny))
    denied(aws, target, ROOT, ExternalId="abc")


def test_deny_for_one_role_session_only(aws: Aws) -> None:
    blocked = create_role(aws, "Blocked")
    target = role_with_trust(aws, "Target", trust(allow({"AWS": ROOT}), allow({"AWS": blocked}, effect="Deny")))
    denied(aws.assume(blocked, "bb"), target, f"arn:aws:sts::{MGMT}:assumed-role/Blocked/bb")
    assume(aws.assume(create_role(aws, "Fine")), target)
    assume(aws, target)


def test_deny_with_unsupported_condition_is_not_applied(aws: Aws) -> None:
    deny = allow({"AWS": ROOT}, effect="Deny", condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}})
    assume(aws, role_with_trust(aws, "Target", trust(allow({"AWS": ROOT}), deny)))


def test_error_wire_format(aws: Aws) -> None:
    """HTTP 403, awsQuery ErrorResponse, exactly as STS answers (botocore parses it as AccessDenied)."""
    role_arn = "arn:aws:iam::123456789012:role/Missing"
    auth = "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0"
    resp = requests.post(
        aws.endpoint,
        data={"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": role_arn, "RoleSessionName": "sess"},
        headers={"Authorization": auth},
        timeout=30,
    )
    assert resp.status_code == 403
    assert resp.headers["Content-Type"].startswith("text/xml")
    match = re.fullmatch(
        r'<ErrorResponse xmlns="https://sts\.amazonaws\.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        r"<Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:root is not authorized to perform: "
        r"sts:AssumeRole on resource: arn:aws:iam::123456789012:role/Missing</Message></Error>"
        r"<RequestId>([0-9a-f-]{36})</RequestId></ErrorResponse>",
        resp.text,
    )
    assert match, resp.text
    assert resp.headers["x-amzn-RequestId"] == match.group(1)
    # boto3: ClientError AccessDenied / 403, with the request id.
    with aws_error("AccessDenied", 403) as exc:
        assume(aws, role_arn)
    assert exc.value.response["ResponseMetadata"]["RequestId"]
    assert exc.value.operation_name == "AssumeRole"


def test_identity_policy_deny_still_comes_first(aws: Aws) -> None:
    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"}]}
    session = aws.assume(create_role(aws, "NoHop", deny), "nn")
    with aws_error("AccessDenied", 403) as exc:
        assume(session, create_role(aws, "Target"))
    assert "explicit deny in an identity-based policy" in exc.value.response["Error"]["Message"]


def test_organization_account_access_role(aws: Aws) -> None:
    """CreateAccount's OrganizationAccountAccessRole trusts the management account, as on AWS."""
    org = aws.client("organizations")
    org.create_organization(FeatureSet="ALL")
    member = org.create_account(AccountName="m", Email="m@example.com")["CreateAccountStatus"]["AccountId"]
    role_arn = f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole"
    inside = aws.assume(role_arn)
    assert inside.client("sts").get_caller_identity()["Account"] == member
    role = inside.client("iam").get_role(RoleName="OrganizationAccountAccessRole")["Role"]
    assert role["Arn"] == role_arn
    assert role["AssumeRolePolicyDocument"] == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "sts:AssumeRole"}],
    }
    # Another account's root cannot assume it.
    denied(Aws(aws.endpoint, account="999999999999"), role_arn, "arn:aws:iam::999999999999:root")
    # Once the member changes the trust policy, the management account is locked out.
    inside.client("iam").update_assume_role_policy(
        RoleName="OrganizationAccountAccessRole",
        PolicyDocument=json.dumps(trust(allow({"AWS": "arn:aws:iam::999999999999:root"}))),
    )
    denied(aws, role_arn, ROOT)
    assume(Aws(aws.endpoint, account="999999999999"), role_arn)
