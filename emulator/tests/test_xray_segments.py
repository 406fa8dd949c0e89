"""X-Ray Get/UpdateTraceSegmentDestination as served by the middleware."""

from __future__ import annotations

import time

import pytest
from conftest import Aws, aws_error, rejected_key_ref

SPANS = "aws/spans"


def spans_group(aws: Aws, region: str = "us-east-1") -> dict | None:
    groups = aws.client("logs", region).describe_log_groups(logGroupNamePrefix=SPANS)["logGroups"]
    return next((g for g in groups if g["logGroupName"] == SPANS), None)


def fields(out: dict) -> dict:
    return {k: v for k, v in out.items() if k != "ResponseMetadata"}


def test_unconfigured_region_defaults_to_xray_active(aws: Aws) -> None:
    assert fields(aws.client("xray").get_trace_segment_destination()) == {"Destination": "XRay", "Status": "ACTIVE"}


def test_update_is_pending_then_active(aws: Aws) -> None:
    # The session server runs with XRAY_CMK_EMULATOR_UPDATING_SECONDS=1.
    xray = aws.client("xray")
    out = xray.update_trace_segment_destination(Destination="CloudWatchLogs")
    assert fields(out) == {"Destination": "CloudWatchLogs", "Status": "PENDING"}
    assert fields(xray.get_trace_segment_destination()) == {"Destination": "CloudWatchLogs", "Status": "PENDING"}
    time.sleep(1.2)
    assert fields(xray.get_trace_segment_destination()) == {"Destination": "CloudWatchLogs", "Status": "ACTIVE"}
    assert xray.update_trace_segment_destination(Destination="XRay")["Status"] == "PENDING"
    time.sleep(1.2)
    assert fields(xray.get_trace_segment_destination()) == {"Destination": "XRay", "Status": "ACTIVE"}


@pytest.mark.parametrize("body", [{"Destination": "S3"}, {"Destination": "xray"}, {}])
def test_invalid_destination_is_rejected(aws: Aws, body: dict) -> None:
    xray = aws.client("xray", validate=False)
    with aws_error("InvalidRequestException", 400):
        xray.update_trace_segment_destination(**body)
    assert fields(xray.get_trace_segment_destination()) == {"Destination": "XRay", "Status": "ACTIVE"}


def test_cloudwatch_logs_creates_aws_spans_once(aws: Aws) -> None:
    assert spans_group(aws) is None
    xray = aws.client("xray")
    xray.update_trace_segment_destination(Destination="XRay")
    assert spans_group(aws) is None  # XRay does not create it
    xray.update_trace_segment_destination(Destination="CloudWatchLogs")
    group = spans_group(aws)
    assert group is not None and "kmsKeyId" not in group
    assert group["logGroupArn"] == "arn:aws:logs:us-east-1:123456789012:log-group:aws/spans"
    # Existing group (and its key) are kept on later updates, also when switching back to XRay.
    key = aws.client("kms").create_key()["KeyMetadata"]
    aws.client("logs").associate_kms_key(logGroupName=SPANS, kmsKeyId=key["Arn"])
    xray.update_trace_segment_destination(Destination="CloudWatchLogs")
    xray.update_trace_segment_destination(Destination="XRay")
    assert spans_group(aws)["kmsKeyId"] == key["Arn"]
    # Only in this region.
    assert spans_group(aws, "eu-west-1") is None


def test_state_is_per_account_and_region(aws: Aws) -> None:
    aws.client("xray", "eu-west-1").update_trace_segment_destination(Destination="CloudWatchLogs")
    assert aws.client("xray", "eu-west-1").get_trace_segment_destination()["Destination"] == "CloudWatchLogs"
    assert aws.client("xray", "us-east-1").get_trace_segment_destination()["Destination"] == "XRay"
    other = aws.other_account("111111111111")
    assert other.client("xray", "eu-west-1").get_trace_segment_destination()["Destination"] == "XRay"
    assert spans_group(other, "eu-west-1") is None
    assert spans_group(aws, "eu-west-1") is not None


def test_spans_kms_key_applies_when_x_ray_creates_the_group(aws: Aws) -> None:
    key = aws.client("kms").create_key()["KeyMetadata"]
    xray = aws.client("xray")
    out = xray.update_trace_segment_destination(
        Destination="CloudWatchLogs", CloudWatchLogsConfiguration={"SpansLogGroupKmsKeyId": key["Arn"]}
    )
    assert out["Destination"] == "CloudWatchLogs"
    assert spans_group(aws)["kmsKeyId"] == key["Arn"]
    # The group exists now: a key is refused and nothing changes ...
    other = aws.client("kms").create_key()["KeyMetadata"]
    with aws_error("InvalidRequestException", 400):
        xray.update_trace_segment_destination(
            Destination="CloudWatchLogs", CloudWatchLogsConfiguration={"SpansLogGroupKmsKeyId": other["Arn"]}
        )
    assert spans_group(aws)["kmsKeyId"] == key["Arn"]
    # ... while the same call without the key succeeds.
    xray.update_trace_segment_destination(Destination="CloudWatchLogs", CloudWatchLogsConfiguration={})


@pytest.mark.parametrize(
    "case", ["key_id", "alias_arn", "other_region", "unknown", "aws_managed", "disabled", "asymmetric", "with_xray"]
)
def test_invalid_spans_kms_key_is_rejected(aws: Aws, case: str) -> None:
    if case == "with_xray":  # a good key, but only CloudWatchLogs takes one
        key_id, destination = aws.client("kms").create_key()["KeyMetadata"]["Arn"], "XRay"
    else:
        key_id, destination = rejected_key_ref(aws, case), "CloudWatchLogs"
    xray = aws.client("xray")
    with aws_error("InvalidRequestException", 400):
        xray.update_trace_segment_destination(
            Destination=destination, CloudWatchLogsConfiguration={"SpansLogGroupKmsKeyId": key_id}
        )
    assert fields(xray.get_trace_segment_destination()) == {"Destination": "XRay", "Status": "ACTIVE"}
    assert spans_group(aws) is None
