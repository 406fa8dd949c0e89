"""AWS Config custom policy rules (config_patches) and EventBridge TestEventPattern (events_patterns)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Aws, aws_error

XRAY_TYPE = "AWS::XRay::EncryptionConfig"
GUARD_RULE = "rule xray_on_approved_key { configuration.type == \"KMS\" }"
CHANGE_TRIGGER = [{"EventSource": "aws.config", "MessageType": "ConfigurationItemChangeNotification"}]
PATTERNS = Path(__file__).resolve().parents[2] / "crates/xray-cmk-core/tests/fixtures/event_patterns.json"


def custom_policy_rule(**source: object) -> dict:
    base: dict = {
        "Owner": "CUSTOM_POLICY",
        "SourceDetails": CHANGE_TRIGGER,
        "CustomPolicyDetails": {"PolicyRuntime": "guard-2.x.x", "PolicyText": GUARD_RULE},
    }
    base.update(source)
    return {
        "ConfigRuleName": "xray-cmk-encryption",
        "Scope": {"ComplianceResourceTypes": [XRAY_TYPE]},
        "Source": {k: v for k, v in base.items() if v is not None},
    }


def test_a_custom_policy_rule_is_accepted_and_described(aws: Aws) -> None:
    config = aws.client("config")
    config.put_config_rule(ConfigRule=custom_policy_rule())
    [rule] = config.describe_config_rules()["ConfigRules"]
    assert rule["ConfigRuleState"] == "ACTIVE"
    assert rule["Scope"]["ComplianceResourceTypes"] == [XRAY_TYPE]
    assert rule["Source"]["Owner"] == "CUSTOM_POLICY"
    # As on AWS, the policy text is not part of DescribeConfigRules.
    assert rule["Source"]["CustomPolicyDetails"] == {"PolicyRuntime": "guard-2.x.x", "EnableDebugLogDelivery": False}


@pytest.mark.parametrize(
    "source, code",
    [
        ({"CustomPolicyDetails": None}, "InvalidParameterValueException"),
        ({"SourceDetails": None}, "InvalidParameterValueException"),
        ({"SourceIdentifier": "AWS_CONFIG_PROCESS_CHECK"}, "InvalidParameterValueException"),
        ({"CustomPolicyDetails": {"PolicyRuntime": "guard-3.x.x", "PolicyText": GUARD_RULE}}, "ValidationException"),
        ({"CustomPolicyDetails": {"PolicyRuntime": "guard-2.x.x", "PolicyText": "x" * 10_001}}, "ValidationException"),
    ],
)
def test_a_malformed_custom_policy_rule_is_refused(aws: Aws, source: dict, code: str) -> None:
    # botocore validates lengths before sending; the server must refuse on its own too.
    config = aws.client("config", validate=False)
    with aws_error(code, 400):
        config.put_config_rule(ConfigRule=custom_policy_rule(**source))
    assert config.describe_config_rules()["ConfigRules"] == []


def test_custom_policy_details_need_the_custom_policy_owner(aws: Aws) -> None:
    config = aws.client("config")
    with aws_error("InvalidParameterValueException", 400):
        config.put_config_rule(
            ConfigRule={
                "ConfigRuleName": "r",
                "Source": {
                    "Owner": "AWS",
                    "SourceIdentifier": "S3_BUCKET_VERSIONING_ENABLED",
                    "CustomPolicyDetails": {"PolicyRuntime": "guard-2.x.x", "PolicyText": GUARD_RULE},
                },
            }
        )


def _cases() -> list[dict]:
    doc = json.loads(PATTERNS.read_text())
    return [dict(case, envelope=doc["envelope"]) for case in doc["cases"]]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["name"])
def test_test_event_pattern_answers_the_documented_cases(aws: Aws, case: dict) -> None:
    """The same cases the Rust evaluator is tested on: the two agree through them."""
    events = aws.client("events")
    event = dict(case["envelope"], **case["event"])
    if "matches" in case:
        got = events.test_event_pattern(EventPattern=json.dumps(case["pattern"]), Event=json.dumps(event))
        assert got["Result"] is case["matches"]
    else:
        with aws_error("InvalidEventPatternException", 400):
            events.test_event_pattern(EventPattern=json.dumps(case["pattern"]), Event=json.dumps(event))


def test_test_event_pattern_refuses_an_event_without_its_envelope(aws: Aws) -> None:
    with aws_error("ValidationException", 400):
        aws.client("events").test_event_pattern(EventPattern='{"source":["aws.xray"]}', Event='{"source":"aws.xray"}')


def _start_recorder(aws: Aws, group: dict) -> None:
    config, s3 = aws.client("config"), aws.client("s3")
    s3.create_bucket(Bucket="config-items")
    config.put_configuration_recorder(
        ConfigurationRecorder={"name": "default", "roleARN": "arn:aws:iam::123456789012:role/config", "recordingGroup": group}
    )
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "config-items"})
    config.start_configuration_recorder(ConfigurationRecorderName="default")


def _history(aws: Aws) -> list[dict]:
    return aws.client("config").get_resource_config_history(
        resourceType=XRAY_TYPE, resourceId="123456789012"
    )["configurationItems"]


def test_a_recording_recorder_records_xray_configuration_items(aws: Aws) -> None:
    xray, kms = aws.client("xray"), aws.client("kms")
    xray.put_encryption_config(Type="NONE")  # before any recorder: discovered when the recorder starts
    _start_recorder(aws, {"allSupported": True})
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/traces", TargetKeyId=key["KeyId"])
    xray.put_encryption_config(Type="KMS", KeyId="alias/traces")
    xray.put_encryption_config(Type="NONE")
    items = _history(aws)
    assert [json.loads(i["configuration"])["type"] for i in items] == ["NONE", "KMS", "NONE"]
    # The key as its ARN, never the alias X-Ray was given.
    assert json.loads(items[1]["configuration"])["keyId"] == key["Arn"]
    assert [i["configurationItemStatus"] for i in items] == ["OK", "OK", "ResourceDiscovered"]
    assert items[0]["resourceType"] == XRAY_TYPE


def test_nothing_is_recorded_without_a_recorder_that_records_the_type(aws: Aws) -> None:
    _start_recorder(aws, {"allSupported": False, "resourceTypes": ["AWS::S3::Bucket"]})
    aws.client("xray").put_encryption_config(Type="NONE")
    with aws_error("ResourceNotDiscoveredException", 400):
        _history(aws)
