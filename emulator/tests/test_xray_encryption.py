"""X-Ray Get/PutEncryptionConfig as served by the middleware."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError
from conftest import Aws, aws_error


def make_key(aws: Aws, region: str = "us-east-1", alias: str | None = None, **kwargs) -> dict:
    kms = aws.client("kms", region)
    meta = kms.create_key(**kwargs)["KeyMetadata"]
    if alias:
        kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    return meta


def wait_active(xray, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        cfg = xray.get_encryption_config()["EncryptionConfig"]
        if cfg["Status"] == "ACTIVE" or time.monotonic() > deadline:
            return cfg
        time.sleep(0.1)


def test_unconfigured_region_defaults_to_none_active(aws: Aws) -> None:
    cfg = aws.client("xray").get_encryption_config()["EncryptionConfig"]
    assert cfg == {"Type": "NONE", "Status": "ACTIVE"}


@pytest.mark.parametrize("form", ["alias_name", "alias_arn", "key_id", "key_arn"])
def test_put_resolves_every_key_id_form_to_the_key_arn(aws: Aws, form: str) -> None:
    meta = make_key(aws, alias="alias/xray-test")
    key_id = {
        "alias_name": "alias/xray-test",
        "alias_arn": "arn:aws:kms:us-east-1:123456789012:alias/xray-test",
        "key_id": meta["KeyId"],
        "key_arn": meta["Arn"],
    }[form]
    xray = aws.client("xray")
    put = xray.put_encryption_config(Type="KMS", KeyId=key_id)["EncryptionConfig"]
    assert put["KeyId"] == meta["Arn"]
    assert put["Type"] == "KMS"
    got = xray.get_encryption_config()["EncryptionConfig"]
    assert got["KeyId"] == meta["Arn"] and got["Type"] == "KMS"


def test_type_none_has_no_key_id(aws: Aws) -> None:
    xray = aws.client("xray")
    xray.put_encryption_config(Type="KMS", KeyId=make_key(aws)["Arn"])
    put = xray.put_encryption_config(Type="NONE")["EncryptionConfig"]
    assert "KeyId" not in put and put["Type"] == "NONE"
    got = wait_active(xray)
    assert got == {"Type": "NONE", "Status": "ACTIVE"}


@pytest.mark.parametrize("case", ["unknown_alias", "unknown_key_id", "asymmetric", "disabled", "pending_deletion"])
def test_invalid_keys_are_rejected(aws: Aws, case: str) -> None:
    kms = aws.client("kms")
    if case == "unknown_alias":
        key_id = "alias/does-not-exist"
    elif case == "unknown_key_id":
        key_id = "11111111-2222-3333-4444-555555555555"
    elif case == "asymmetric":
        key_id = make_key(aws, KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["Arn"]
    elif case == "disabled":
        key_id = make_key(aws)["KeyId"]
        kms.disable_key(KeyId=key_id)
    else:
        key_id = make_key(aws)["KeyId"]
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    xray = aws.client("xray")
    with aws_error("InvalidRequestException", 400):
        xray.put_encryption_config(Type="KMS", KeyId=key_id)
    # Nothing was stored.
    assert xray.get_encryption_config()["EncryptionConfig"] == {"Type": "NONE", "Status": "ACTIVE"}


def test_bad_type_is_rejected(aws: Aws) -> None:
    xray = aws.client("xray", validate=False)
    with aws_error("InvalidRequestException", 400):
        xray.put_encryption_config(Type="AES", KeyId="alias/aws/xray")


def test_kms_without_key_id_is_rejected(aws: Aws) -> None:
    xray = aws.client("xray")
    with aws_error("InvalidRequestException", 400):
        xray.put_encryption_config(Type="KMS")


def test_status_is_updating_then_active(aws: Aws) -> None:
    # The session server runs with XRAY_CMK_EMULATOR_UPDATING_SECONDS=1.
    xray = aws.client("xray")
    put = xray.put_encryption_config(Type="KMS", KeyId=make_key(aws)["KeyId"])["EncryptionConfig"]
    assert put["Status"] == "UPDATING"
    assert xray.get_encryption_config()["EncryptionConfig"]["Status"] == "UPDATING"
    time.sleep(1.2)
    assert xray.get_encryption_config()["EncryptionConfig"]["Status"] == "ACTIVE"


def test_state_is_per_region(aws: Aws) -> None:
    meta = make_key(aws, "eu-west-1")
    aws.client("xray", "eu-west-1").put_encryption_config(Type="KMS", KeyId=meta["Arn"])
    assert aws.client("xray", "eu-west-1").get_encryption_config()["EncryptionConfig"]["KeyId"] == meta["Arn"]
    assert aws.client("xray", "us-east-1").get_encryption_config()["EncryptionConfig"]["Type"] == "NONE"
    # A key of another region is not found by id in this region.
    with aws_error("InvalidRequestException", 400):
        aws.client("xray", "us-east-1").put_encryption_config(Type="KMS", KeyId=meta["KeyId"])


def test_state_is_per_account(aws: Aws) -> None:
    other = aws.other_account("111111111111")
    assert other.client("sts").get_caller_identity()["Account"] == "111111111111"
    meta = make_key(other, alias="alias/mine")
    assert ":111111111111:" in meta["Arn"]
    put = other.client("xray").put_encryption_config(Type="KMS", KeyId="alias/mine")["EncryptionConfig"]
    assert put["KeyId"] == meta["Arn"]
    # The default account (test/test) still has nothing configured, and cannot see the alias.
    xray = aws.client("xray")
    assert xray.get_encryption_config()["EncryptionConfig"]["Type"] == "NONE"
    with pytest.raises(xray.exceptions.InvalidRequestException):
        xray.put_encryption_config(Type="KMS", KeyId="alias/mine")
    # By full ARN (a cross-account key, as the API documents) only once the key policy lets this
    # account (and its IAM) have X-Ray use it: KMS's default key policy names only its own account.
    with pytest.raises(ClientError) as denied:
        xray.put_encryption_config(Type="KMS", KeyId=meta["Arn"])
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "kms:CreateGrant" in denied.value.response["Error"]["Message"]
    assert xray.get_encryption_config()["EncryptionConfig"]["Type"] == "NONE"
    policy = json.loads(other.client("kms").get_key_policy(KeyId=meta["KeyId"], PolicyName="default")["Policy"])
    policy["Statement"].append({
        "Sid": "XrayFrom123456789012", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": ["kms:CreateGrant", "kms:DescribeKey"], "Resource": "*",
    })  # fmt: skip
    other.client("kms").put_key_policy(KeyId=meta["KeyId"], PolicyName="default", Policy=json.dumps(policy))
    assert xray.put_encryption_config(Type="KMS", KeyId=meta["Arn"])["EncryptionConfig"]["KeyId"] == meta["Arn"]


def test_aws_managed_key_is_created_lazily(aws: Aws) -> None:
    kms = aws.client("kms", "us-west-2")
    before = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/aws/xray"]
    # AWS lists predefined aliases that have no key yet without TargetKeyId.
    assert before and "TargetKeyId" not in before[0]
    assert not kms.list_keys()["Keys"]

    put = aws.client("xray", "us-west-2").put_encryption_config(Type="KMS", KeyId="alias/aws/xray")
    arn = put["EncryptionConfig"]["KeyId"]
    assert arn.startswith("arn:aws:kms:us-west-2:123456789012:key/")
    meta = kms.describe_key(KeyId="alias/aws/xray")["KeyMetadata"]
    assert meta["Arn"] == arn
    assert meta["KeyManager"] == "AWS"
    assert meta["Description"] == "Default key that protects my X-Ray data when no other key is defined"
    after = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/aws/xray"]
    assert after[0]["TargetKeyId"] == meta["KeyId"]
    # Using it again does not create a second key.
    aws.client("xray", "us-west-2").put_encryption_config(Type="KMS", KeyId="alias/aws/xray")
    assert len(kms.list_keys()["Keys"]) == 1
