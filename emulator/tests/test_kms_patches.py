"""KMS behaviours moto 5.2.5 gets wrong and kms_patches fixes (one test each)."""

from __future__ import annotations

import pytest
from conftest import Aws, aws_error


def test_aws_managed_key_manager_by_alias_id_and_arn(aws: Aws) -> None:
    kms = aws.client("kms")
    by_alias = kms.describe_key(KeyId="alias/aws/xray")["KeyMetadata"]
    by_id = kms.describe_key(KeyId=by_alias["KeyId"])["KeyMetadata"]
    by_arn = kms.describe_key(KeyId=by_alias["Arn"])["KeyMetadata"]
    alias_arn = kms.describe_key(KeyId="arn:aws:kms:us-east-1:123456789012:alias/aws/xray")["KeyMetadata"]
    for meta in (by_alias, by_id, by_arn, alias_arn):
        assert meta["KeyId"] == by_alias["KeyId"]
        assert meta["KeyManager"] == "AWS"
        assert meta["KeyState"] == "Enabled"
    # AWS managed keys rotate yearly.
    status = kms.get_key_rotation_status(KeyId=by_alias["KeyId"])
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 365


def test_customer_keys_stay_customer_managed(aws: Aws) -> None:
    meta = aws.client("kms").create_key()["KeyMetadata"]
    assert meta["KeyManager"] == "CUSTOMER"


def test_key_usage_defaults_to_encrypt_decrypt(aws: Aws) -> None:
    kms = aws.client("kms")
    meta = kms.create_key()["KeyMetadata"]
    assert meta["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["KeyUsage"] == "ENCRYPT_DECRYPT"


def test_a_key_is_single_region_unless_created_multi_region(aws: Aws) -> None:
    kms = aws.client("kms")
    single = kms.create_key()["KeyMetadata"]
    assert single["MultiRegion"] is False
    assert kms.describe_key(KeyId=single["KeyId"])["KeyMetadata"]["MultiRegion"] is False
    multi = kms.create_key(MultiRegion=True)["KeyMetadata"]
    assert kms.describe_key(KeyId=multi["KeyId"])["KeyMetadata"]["MultiRegion"] is True


def test_rotation_period_is_stored_and_returned(aws: Aws) -> None:
    kms = aws.client("kms")
    key = kms.create_key()["KeyMetadata"]
    off = kms.get_key_rotation_status(KeyId=key["KeyId"])
    assert off["KeyRotationEnabled"] is False and "RotationPeriodInDays" not in off

    kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=180)
    status = kms.get_key_rotation_status(KeyId=key["Arn"])
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 180
    assert status["KeyId"] == key["Arn"]
    assert "NextRotationDate" in status

    kms.enable_key_rotation(KeyId=key["Arn"])  # default period
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["RotationPeriodInDays"] == 365
    kms.disable_key_rotation(KeyId=key["KeyId"])
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False


@pytest.mark.parametrize("days", [89, 2561, 0])
def test_rotation_period_range_is_checked(aws: Aws, days: int) -> None:
    kms = aws.client("kms", validate=False)  # botocore would refuse client-side
    key = kms.create_key()["KeyMetadata"]
    with aws_error("ValidationException", 400):
        kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=days)
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False


@pytest.mark.parametrize("days", [90, 2560])
def test_rotation_period_bounds_are_accepted(aws: Aws, days: int) -> None:
    kms = aws.client("kms")
    key = kms.create_key()["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=days)
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["RotationPeriodInDays"] == days


@pytest.mark.parametrize(
    "spec,usage", [("RSA_2048", "ENCRYPT_DECRYPT"), ("ECC_NIST_P256", "SIGN_VERIFY"), ("HMAC_256", "GENERATE_VERIFY_MAC")]
)
def test_rotation_refused_on_non_symmetric_keys(aws: Aws, spec: str, usage: str) -> None:
    kms = aws.client("kms")
    key = kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]
    with aws_error("UnsupportedOperationException", 400):
        kms.enable_key_rotation(KeyId=key["KeyId"])
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False


def test_disable_and_enable_key_by_arn(aws: Aws) -> None:
    kms = aws.client("kms")
    key = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=key["Arn"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    kms.enable_key(KeyId=key["Arn"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    kms.disable_key(KeyId=key["KeyId"])  # key id still works
    assert kms.describe_key(KeyId=key["Arn"])["KeyMetadata"]["Enabled"] is False


def test_schedule_and_cancel_deletion_by_arn(aws: Aws) -> None:
    kms = aws.client("kms")
    key = kms.create_key()["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=key["Arn"], PendingWindowInDays=7)
    meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion" and "DeletionDate" in meta
    kms.cancel_key_deletion(KeyId=key["Arn"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"


def test_unknown_key_arn_is_not_found(aws: Aws) -> None:
    kms = aws.client("kms")
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.disable_key(KeyId="arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555")


def test_reserved_aliases_listed_without_phantom_target(aws: Aws) -> None:
    kms = aws.client("kms")
    aliases = {a["AliasName"]: a for a in kms.list_aliases()["Aliases"]}
    assert "alias/aws/xray" in aliases and "TargetKeyId" not in aliases["alias/aws/xray"]
    key_id = kms.describe_key(KeyId="alias/aws/xray")["KeyMetadata"]["KeyId"]
    aliases = {a["AliasName"]: a for a in kms.list_aliases()["Aliases"]}
    assert aliases["alias/aws/xray"]["TargetKeyId"] == key_id
    assert [a["AliasName"] for a in kms.list_aliases(KeyId=key_id)["Aliases"]] == ["alias/aws/xray"]


def test_json_responses_have_json_content_type(aws: Aws) -> None:
    resp = aws.client("kms").list_keys()
    assert resp["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"


def test_concurrent_create_alias_of_one_name_succeeds_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process, with the window between moto's existence check and its write made wide."""
    import threading
    import time

    import boto3
    from moto import mock_aws
    from moto.kms.models import KmsBackend

    from xray_cmk_emulator import kms_patches

    kms_patches.apply()
    real = KmsBackend.alias_exists

    def slow(self: KmsBackend, name: str) -> bool:
        found = real(self, name)
        time.sleep(0.2)
        return found

    monkeypatch.setattr(KmsBackend, "alias_exists", slow)
    with mock_aws():
        kms = boto3.client("kms", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
        keys = [kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(2)]
        outcomes: list[str] = []

        def create(key: str) -> None:
            try:
                kms.create_alias(AliasName="alias/race", TargetKeyId=key)
                outcomes.append("created")
            except kms.exceptions.AlreadyExistsException:
                outcomes.append("taken")

        threads = [threading.Thread(target=create, args=(k,)) for k in keys]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["created", "taken"]
        assert [a["TargetKeyId"] for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/race"] in (
            [keys[0]],
            [keys[1]],
        )
