"""The identity-policy explicit-Deny subset (aws:RequestedRegion conditions)."""

from __future__ import annotations

import json

import pytest
from conftest import Aws, aws_error, create_role

ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def deny(action="*", condition=None, **extra) -> dict:
    stmt = {"Effect": "Deny", "Action": action, "Resource": "*"} | extra
    if condition is not None:
        stmt["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [stmt]}


EU_NORTH_1 = {"StringEquals": {"aws:RequestedRegion": "eu-north-1"}}


@pytest.fixture
def audit(aws: Aws) -> Aws:
    arn = create_role(aws, "XrayCmkAudit", ALLOW_ALL, deny("*", EU_NORTH_1))
    return aws.assume(arn, "audit")


def test_denied_in_the_region_for_every_protocol(audit: Aws) -> None:
    xray = audit.client("xray", "eu-north-1")
    with aws_error("AccessDeniedException", 403) as exc:
        xray.get_encryption_config()
    assert "XrayCmkAudit/audit" in exc.value.response["Error"]["Message"]
    assert "xray:GetEncryptionConfig" in exc.value.response["Error"]["Message"]

    kms = audit.client("kms", "eu-north-1")
    with aws_error("AccessDeniedException", 400):
        kms.list_keys()

    account = audit.client("account", "eu-north-1")
    with aws_error("AccessDeniedException", 403):
        account.list_regions()

    iam = audit.client("iam", "eu-north-1")
    with aws_error("AccessDenied", 403):
        iam.list_roles()


def test_allowed_in_other_regions(audit: Aws) -> None:
    assert audit.client("xray", "us-east-1").get_encryption_config()["EncryptionConfig"]["Type"] == "NONE"
    assert audit.client("kms", "eu-west-1").list_keys()["Keys"] == []
    assert audit.client("account", "us-east-1").list_regions(MaxResults=1)["Regions"]


def test_get_caller_identity_is_never_denied(audit: Aws) -> None:
    ident = audit.client("sts", "eu-north-1").get_caller_identity()
    assert ident["Arn"] == "arn:aws:sts::123456789012:assumed-role/XrayCmkAudit/audit"


def test_unknown_access_keys_are_never_denied(aws: Aws) -> None:
    create_role(aws, "XrayCmkAudit", deny("*", EU_NORTH_1))
    assert aws.client("xray", "eu-north-1").get_encryption_config()["EncryptionConfig"]["Type"] == "NONE"
    assert aws.client("kms", "eu-north-1").list_keys()["Keys"] == []


def test_action_patterns(aws: Aws) -> None:
    arn = create_role(aws, "ReadDenied", deny(["xray:Get*", "kms:describekey"]))
    session = aws.assume(arn)
    xray = session.client("xray")
    with aws_error("AccessDeniedException", 403):
        xray.get_encryption_config()
    key = session.client("kms").create_key()["KeyMetadata"]  # not denied
    with aws_error("AccessDeniedException", 400):
        session.client("kms").describe_key(KeyId=key["KeyId"])
    # X-Ray needs its configurer to be allowed kms:DescribeKey on the key.
    with aws_error("AccessDeniedException", 403) as denied:
        xray.put_encryption_config(Type="KMS", KeyId=key["Arn"])
    assert "kms:DescribeKey" in str(denied.value)


@pytest.mark.parametrize(
    "condition,region,denied",
    [
        ({"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "us-west-2"]}}, "eu-west-1", True),
        ({"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "us-west-2"]}}, "us-west-2", False),
        ({"StringLike": {"aws:RequestedRegion": "ap-*"}}, "ap-southeast-2", True),
        ({"StringLike": {"aws:RequestedRegion": "ap-*"}}, "eu-west-1", False),
        ({"StringEquals": {"aws:PrincipalTag/team": "x"}}, "eu-west-1", False),  # key absent: StringEquals is false
        ({"Bool": {"aws:SecureTransport": "false"}}, "eu-west-1", False),  # requests arrive over HTTPS: SecureTransport is true
    ],
)
def test_condition_subset(aws: Aws, condition: dict, region: str, denied: bool) -> None:
    session = aws.assume(create_role(aws, "Conditional", deny("*", condition)))
    xray = session.client("xray", region)
    if denied:
        with aws_error("AccessDeniedException", 403):
            xray.get_encryption_config()
    else:
        assert xray.get_encryption_config()["EncryptionConfig"]["Status"] == "ACTIVE"


def test_statements_with_specific_resources_are_ignored(aws: Aws) -> None:
    policy = deny("*", EU_NORTH_1)
    policy["Statement"][0]["Resource"] = "arn:aws:kms:eu-north-1:123456789012:key/*"
    session = aws.assume(create_role(aws, "ResourceScoped", policy))
    assert session.client("xray", "eu-north-1").get_encryption_config()["EncryptionConfig"]["Type"] == "NONE"


def test_iam_user_with_managed_policy_via_group(aws: Aws) -> None:
    iam = aws.client("iam")
    policy_arn = iam.create_policy(
        PolicyName="DenyEu", PolicyDocument=json.dumps(deny("xray:*", {"StringLike": {"aws:RequestedRegion": "eu-*"}}))
    )["Policy"]["Arn"]
    iam.create_user(UserName="alice")
    iam.put_user_policy(UserName="alice", PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL))
    iam.create_group(GroupName="auditors")
    iam.add_user_to_group(GroupName="auditors", UserName="alice")
    iam.attach_group_policy(GroupName="auditors", PolicyArn=policy_arn)
    key = iam.create_access_key(UserName="alice")["AccessKey"]
    alice = Aws(aws.endpoint, {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]})
    with aws_error("AccessDeniedException", 403):
        alice.client("xray", "eu-central-1").get_encryption_config()
    assert alice.client("xray", "us-east-1").get_encryption_config()["EncryptionConfig"]["Type"] == "NONE"
    assert alice.client("kms", "eu-central-1").list_keys()["Keys"] == []  # action not matched


def test_member_role_deny(aws: Aws) -> None:
    """A role in another account (reached via AssumeRole) is evaluated in that account."""
    admin = aws.other_account("333333333333", "Bootstrap")
    arn = create_role(admin, "OrganizationAccountAccessRole", ALLOW_ALL,
                      deny("*", {"StringEquals": {"aws:RequestedRegion": "ap-northeast-1"}}), account="123456789012")  # fmt: skip
    assert arn == "arn:aws:iam::333333333333:role/OrganizationAccountAccessRole"
    member = aws.assume(arn)
    with aws_error("AccessDeniedException", 403):
        member.client("xray", "ap-northeast-1").get_encryption_config()
    assert member.client("xray", "eu-north-1").get_encryption_config()["EncryptionConfig"]["Type"] == "NONE"


def test_new_apis_are_covered_in_the_denied_region(audit: Aws) -> None:
    """Segment destination (rest-json URI), CloudWatch Logs and CloudTrail (json target) are denied too."""
    xray = audit.client("xray", "eu-north-1")
    for call, action in (
        (xray.get_trace_segment_destination, "xray:GetTraceSegmentDestination"),
        (lambda: xray.update_trace_segment_destination(Destination="CloudWatchLogs"), "xray:UpdateTraceSegmentDestination"),
    ):  # fmt: skip
        with aws_error("AccessDeniedException", 403) as exc:
            call()
        assert action in exc.value.response["Error"]["Message"]
    logs = audit.client("logs", "eu-north-1")
    with aws_error("AccessDeniedException", 400) as exc:
        logs.describe_log_groups()
    assert "logs:DescribeLogGroups" in exc.value.response["Error"]["Message"]
    with aws_error("AccessDeniedException", 400):
        logs.associate_kms_key(logGroupName="aws/spans", kmsKeyId="arn:aws:kms:eu-north-1:123456789012:key/x")
    cloudtrail = audit.client("cloudtrail", "eu-north-1")
    for call in (cloudtrail.describe_trails, lambda: cloudtrail.get_event_selectors(TrailName="trail")):
        with aws_error("AccessDeniedException", 400):
            call()
    # Elsewhere they work.
    assert audit.client("xray", "eu-west-1").get_trace_segment_destination()["Destination"] == "XRay"
    assert audit.client("cloudtrail", "eu-west-1").describe_trails()["trailList"] == []
