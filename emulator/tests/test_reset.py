"""/moto-api/reset clears moto and the emulator's own state."""

from __future__ import annotations

from conftest import Aws, moto_api


def test_reset_clears_everything(aws: Aws) -> None:
    kms = aws.client("kms")
    key = kms.create_key()["KeyMetadata"]
    xray = aws.client("xray")
    xray.put_encryption_config(Type="KMS", KeyId=key["Arn"])
    xray.update_trace_segment_destination(Destination="CloudWatchLogs")
    logs = aws.client("logs")
    logs.associate_kms_key(logGroupName="aws/spans", kmsKeyId=key["Arn"])
    aws.client("s3").create_bucket(Bucket="trail-bucket-reset")
    cloudtrail = aws.client("cloudtrail")
    cloudtrail.create_trail(Name="trail", S3BucketName="trail-bucket-reset", IsMultiRegionTrail=True)
    cloudtrail.put_event_selectors(TrailName="trail", AdvancedEventSelectors=[
        {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}
    ])  # fmt: skip
    account = aws.client("account")
    account.enable_region(RegionName="eu-south-1")

    assert cloudtrail.lookup_events()["Events"]  # CreateKey
    assert moto_api(aws.endpoint, "/moto-api/reset") == b'{"status": "ok"}'

    assert xray.get_encryption_config()["EncryptionConfig"] == {"Type": "NONE", "Status": "ACTIVE"}
    dest = xray.get_trace_segment_destination()
    assert (dest["Destination"], dest["Status"]) == ("XRay", "ACTIVE")
    assert logs.describe_log_groups()["logGroups"] == []
    assert cloudtrail.describe_trails()["trailList"] == []
    assert cloudtrail.lookup_events()["Events"] == []  # the KMS calls above were recorded, now forgotten
    assert aws.client("cloudtrail", "eu-west-1").describe_trails()["trailList"] == []
    assert account.get_region_opt_status(RegionName="eu-south-1")["RegionOptStatus"] == "DISABLED"
    assert kms.list_keys()["Keys"] == []
