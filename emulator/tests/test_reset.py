"""/moto-api/reset clears moto and the emulator's own state."""

from __future__ import annotations

from conftest import Aws, moto_api


def test_reset_clears_everything(aws: Aws) -> None:
    kms = aws.client("kms")
    key = kms.create_key()["KeyMetadata"]
    xray = aws.client("xray")
    xray.put_encryption_config(Type="KMS", KeyId=key["Arn"])
    account = aws.client("account")
    account.enable_region(RegionName="eu-south-1")

    assert moto_api(aws.endpoint, "/moto-api/reset") == b'{"status": "ok"}'

    assert xray.get_encryption_config()["EncryptionConfig"] == {"Type": "NONE", "Status": "ACTIVE"}
    assert account.get_region_opt_status(RegionName="eu-south-1")["RegionOptStatus"] == "DISABLED"
    assert kms.list_keys()["Keys"] == []
