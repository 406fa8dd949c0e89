"""CloudWatch Logs AssociateKmsKey / DisassociateKmsKey / kmsKeyId (logs_patches)."""

from __future__ import annotations

import pytest
from conftest import Aws, aws_error, rejected_key_ref

GROUP = "app/traces"


@pytest.fixture
def setup(aws: Aws) -> tuple[Aws, dict]:
    aws.client("logs").create_log_group(logGroupName=GROUP)
    return aws, aws.client("kms").create_key()["KeyMetadata"]


def group_of(aws: Aws, name: str = GROUP, region: str = "us-east-1") -> dict:
    groups = aws.client("logs", region).describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return next(g for g in groups if g["logGroupName"] == name)


def test_associate_then_describe_then_disassociate(setup) -> None:
    aws, key = setup
    logs = aws.client("logs")
    assert "kmsKeyId" not in group_of(aws)
    logs.associate_kms_key(logGroupName=GROUP, kmsKeyId=key["Arn"])
    assert group_of(aws)["kmsKeyId"] == key["Arn"]
    logs.disassociate_kms_key(logGroupName=GROUP)
    assert "kmsKeyId" not in group_of(aws)


def test_associate_by_resource_identifier(setup) -> None:
    aws, key = setup
    logs = aws.client("logs")
    arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{GROUP}"
    logs.associate_kms_key(resourceIdentifier=arn, kmsKeyId=key["Arn"])
    assert group_of(aws)["kmsKeyId"] == key["Arn"]
    logs.disassociate_kms_key(resourceIdentifier=arn)
    assert "kmsKeyId" not in group_of(aws)
    # The account's query results target is accepted too.
    logs.associate_kms_key(resourceIdentifier="arn:aws:logs:us-east-1:123456789012:query-result:*", kmsKeyId=key["Arn"])


def test_cross_account_key_arn_is_accepted(setup) -> None:
    aws, _ = setup
    other = aws.other_account("111111111111")
    foreign = other.client("kms").create_key()["KeyMetadata"]
    aws.client("logs").associate_kms_key(logGroupName=GROUP, kmsKeyId=foreign["Arn"])
    assert group_of(aws)["kmsKeyId"] == foreign["Arn"]


@pytest.mark.parametrize(
    "case", ["key_id", "alias_arn", "unknown", "other_region", "disabled", "pending_deletion", "asymmetric"]
)
def test_invalid_keys_are_rejected(setup, case: str) -> None:
    aws, _ = setup
    key_id = rejected_key_ref(aws, case)
    logs = aws.client("logs")
    with aws_error("InvalidParameterException", 400):
        logs.associate_kms_key(logGroupName=GROUP, kmsKeyId=key_id)
    assert "kmsKeyId" not in group_of(aws)
    # CreateLogGroup validates kmsKeyId the same way.
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.create_log_group(logGroupName="other", kmsKeyId=key_id)


def test_unknown_log_group(setup) -> None:
    aws, key = setup
    logs = aws.client("logs")
    with aws_error("ResourceNotFoundException", 400):
        logs.associate_kms_key(logGroupName="missing", kmsKeyId=key["Arn"])
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.disassociate_kms_key(logGroupName="missing")


@pytest.mark.parametrize("target", ["both", "neither", "other_account"])
def test_target_must_be_one_log_group_of_the_caller(setup, target: str) -> None:
    aws, key = setup
    logs = aws.client("logs")
    kwargs = {
        "both": {"logGroupName": GROUP, "resourceIdentifier": f"arn:aws:logs:us-east-1:123456789012:log-group:{GROUP}"},
        "neither": {},
        "other_account": {"resourceIdentifier": f"arn:aws:logs:us-east-1:111111111111:log-group:{GROUP}"},
    }[target]
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.associate_kms_key(kmsKeyId=key["Arn"], **kwargs)


def test_create_log_group_with_key_and_reserved_prefix(aws: Aws) -> None:
    logs = aws.client("logs")
    key = aws.client("kms").create_key()["KeyMetadata"]
    logs.create_log_group(logGroupName="encrypted", kmsKeyId=key["Arn"])
    assert group_of(aws, "encrypted")["kmsKeyId"] == key["Arn"]
    # Names starting with aws/ are AWS's (X-Ray creates aws/spans itself).
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.create_log_group(logGroupName="aws/spans")
