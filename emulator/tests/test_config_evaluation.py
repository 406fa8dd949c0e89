"""AWS Config evaluates the guardrail's Guard rule with the real cfn-guard (config_rules), sends the
compliance change event (config_events) and runs the automatic remediation (remediation).

The Guard rule is the one `xray-cmk guard generate` writes: the committed insta snapshot
crates/xray-cmk-core/src/guard/snapshots/..remediate-xray-cmk-encryption.guard.snap, with its list
of approved key ARNs replaced by this test's keys. The EventBridge pattern is the StackSet's
`XrayCmkNonCompliantRule`, read from the StackSet snapshot. cfn-guard must be installed (scripts/test
installs it first); a missing engine fails these tests, it never skips them.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
import yaml
from conftest import Aws, aws_error, moto_api, start_server

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = ROOT / "crates/xray-cmk-core/src/guard/snapshots"
GUARD_SNAPSHOT = SNAPSHOTS / "xray_cmk_core__guard__tests__remediate-xray-cmk-encryption.guard.snap"
STACKSET_SNAPSHOT = SNAPSHOTS / "xray_cmk_core__guard__tests__remediate-xray-cmk-guard.stackset.yaml.snap"
XRAY_TYPE = "AWS::XRay::EncryptionConfig"
RULE = "xray-cmk-encryption"
ACCOUNT = "123456789012"
RUNBOOK = "AWSConfigRemediation-UpdateXRayKMSKey"


def _snapshot_body(path: Path) -> str:
    text = path.read_text()
    # insta: a front matter between two '---' lines, then the value.
    return text.split("---\n", 2)[2]


def guard_rule(approved: list[str]) -> str:
    text = _snapshot_body(GUARD_SNAPSHOT)
    listed = ", ".join(json.dumps(a) for a in approved)
    out, count = re.subn(r"configuration\.keyId IN \[[^\]]*\]", f"configuration.keyId IN [{listed}]", text)
    assert count == 1, text
    return out


def stackset() -> dict:
    class Cfn(yaml.SafeLoader):
        pass

    Cfn.add_multi_constructor("!", lambda loader, suffix, node: None)
    return yaml.load(_snapshot_body(STACKSET_SNAPSHOT), Loader=Cfn)


def non_compliant_pattern() -> dict:
    return stackset()["Resources"]["XrayCmkNonCompliantRule"]["Properties"]["EventPattern"]


def guard_engine() -> Path:
    configured = os.environ.get("XRAY_CMK_CFN_GUARD")
    return Path(configured) if configured else Path.home() / ".cache/xray-cmk/cfn-guard/bin/cfn-guard"


@pytest.fixture(autouse=True, scope="module")
def engine_installed() -> None:
    engine = guard_engine()
    if not (engine.is_file() and os.access(engine, os.X_OK)):
        pytest.fail(
            f"cfn-guard is not installed at {engine}: run scripts/check-guardrail --install-only and export "
            "XRAY_CMK_CFN_GUARD (scripts/test does both); these tests never skip",
            pytrace=False,
        )


def start_recorder(aws: Aws, region: str = "us-east-1") -> None:
    config, s3 = aws.client("config", region), aws.client("s3", region)
    bucket = f"config-items-{region}"
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    account = aws.client("sts", region).get_caller_identity()["Account"]
    config.put_configuration_recorder(
        ConfigurationRecorder={
            "name": "default",
            "roleARN": f"arn:aws:iam::{account}:role/config",
            "recordingGroup": {"allSupported": True},
        }
    )
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": bucket})
    config.start_configuration_recorder(ConfigurationRecorderName="default")


def put_rule(aws: Aws, approved: list[str], region: str = "us-east-1") -> None:
    """The ConfigRule as the StackSet declares it (its Source with the Guard text filled in)."""
    props = next(
        r["Properties"] for r in stackset()["Resources"].values() if r["Type"] == "AWS::Config::ConfigRule"
    )
    source = dict(props["Source"])
    source["CustomPolicyDetails"] = dict(source["CustomPolicyDetails"], PolicyText=guard_rule(approved))
    aws.client("config", region).put_config_rule(
        ConfigRule={"ConfigRuleName": props["ConfigRuleName"], "Scope": props["Scope"], "Source": source}
    )


def results(aws: Aws, region: str = "us-east-1", **kwargs) -> list[dict]:
    return aws.client("config", region).get_compliance_details_by_config_rule(ConfigRuleName=RULE, **kwargs)[
        "EvaluationResults"
    ]


def compliance(aws: Aws, region: str = "us-east-1") -> str:
    [row] = aws.client("config", region).describe_compliance_by_config_rule(ConfigRuleNames=[RULE])[
        "ComplianceByConfigRules"
    ]
    return row["Compliance"]["ComplianceType"]


def cmk(aws: Aws, alias: str | None = None, policy: dict | None = None) -> str:
    kms = aws.client("kms")
    key = kms.create_key(**({"Policy": json.dumps(policy)} if policy else {}))["KeyMetadata"]
    if alias:
        kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    return key["Arn"]


@pytest.fixture
def guarded(aws: Aws) -> tuple[Aws, str]:
    """A recorder, an approved CMK and the guardrail's rule: (aws, approved key ARN)."""
    start_recorder(aws)
    approved = cmk(aws, "alias/xray-cmk")
    put_rule(aws, [approved])
    return aws, approved


def test_type_none_is_non_compliant_with_the_rule_s_message(guarded) -> None:
    aws, _ = guarded
    aws.client("xray").put_encryption_config(Type="NONE")
    [result] = results(aws)
    assert result["ComplianceType"] == "NON_COMPLIANT"
    assert result["EvaluationResultIdentifier"]["EvaluationResultQualifier"] == {
        "ConfigRuleName": RULE, "ResourceType": XRAY_TYPE, "ResourceId": ACCOUNT, "EvaluationMode": "DETECTIVE",
    }  # fmt: skip
    assert result["Annotation"].startswith("X-Ray must encrypt with a customer managed KMS key")
    assert compliance(aws) == "NON_COMPLIANT"


def test_the_aws_managed_key_is_non_compliant(guarded) -> None:
    aws, _ = guarded
    aws.client("xray").put_encryption_config(Type="KMS", KeyId="alias/aws/xray")
    [result] = results(aws)
    assert result["ComplianceType"] == "NON_COMPLIANT"
    assert "approved" in result["Annotation"]


def test_an_approved_cmk_is_compliant_and_an_unapproved_one_is_not(guarded) -> None:
    aws, approved = guarded
    other = cmk(aws, "alias/team-x")
    xray = aws.client("xray")
    xray.put_encryption_config(Type="KMS", KeyId="alias/xray-cmk")  # the alias: recorded as the ARN
    assert [r["ComplianceType"] for r in results(aws)] == ["COMPLIANT"]
    assert compliance(aws) == "COMPLIANT"
    xray.put_encryption_config(Type="KMS", KeyId=other)
    assert [r["ComplianceType"] for r in results(aws)] == ["NON_COMPLIANT"]
    by_resource = aws.client("config").describe_compliance_by_resource(ResourceType=XRAY_TYPE)["ComplianceByResources"]
    assert by_resource == [
        {
            "ResourceType": XRAY_TYPE,
            "ResourceId": ACCOUNT,
            "Compliance": {
                "ComplianceType": "NON_COMPLIANT",
                "ComplianceContributorCount": {"CappedCount": 1, "CapExceeded": False},
            },
        }
    ]
    assert results(aws, ComplianceTypes=["COMPLIANT"]) == []
    assert approved != other


def test_a_rule_put_after_the_item_evaluates_it_at_once(aws: Aws) -> None:
    start_recorder(aws)
    approved = cmk(aws)
    aws.client("xray").put_encryption_config(Type="KMS", KeyId=approved)
    assert compliance_before_rule(aws) == []
    put_rule(aws, [approved])
    assert [r["ComplianceType"] for r in results(aws)] == ["COMPLIANT"]
    [status] = aws.client("config").describe_config_rule_evaluation_status(ConfigRuleNames=[RULE])[
        "ConfigRulesEvaluationStatus"
    ]
    assert status["FirstEvaluationStarted"] is True
    assert "LastSuccessfulEvaluationTime" in status and "LastErrorCode" not in status


def compliance_before_rule(aws: Aws) -> list:
    return aws.client("config").describe_compliance_by_config_rule()["ComplianceByConfigRules"]


def test_a_recorder_started_on_the_default_discovers_it_and_the_rule_judges_it(guarded) -> None:
    """Config records X-Ray's current configuration when the recorder starts (the default, NONE,
    when X-Ray was never configured), so the rule has an item to judge at once."""
    aws, _ = guarded
    assert compliance(aws) == "NON_COMPLIANT"
    assert [r["ComplianceType"] for r in results(aws)] == ["NON_COMPLIANT"]


def test_a_rule_with_no_item_has_insufficient_data(aws: Aws) -> None:
    """A recorder that does not record X-Ray's type: no item, nothing judged, never compliant."""
    config, s3 = aws.client("config"), aws.client("s3")
    s3.create_bucket(Bucket="config-items-other")
    account = aws.client("sts").get_caller_identity()["Account"]
    config.put_configuration_recorder(
        ConfigurationRecorder={
            "name": "default",
            "roleARN": f"arn:aws:iam::{account}:role/config",
            "recordingGroup": {"allSupported": False, "resourceTypes": ["AWS::S3::Bucket"]},
        }
    )
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "config-items-other"})
    config.start_configuration_recorder(ConfigurationRecorderName="default")
    put_rule(aws, [cmk(aws, "alias/xray-cmk")])
    aws.client("xray").put_encryption_config(Type="NONE")
    assert compliance(aws) == "INSUFFICIENT_DATA"
    assert results(aws) == []


def test_get_custom_rule_policy_returns_the_guard_text(guarded) -> None:
    aws, approved = guarded
    config = aws.client("config")
    assert config.get_custom_rule_policy(ConfigRuleName=RULE)["PolicyText"] == guard_rule([approved])
    with aws_error("NoSuchConfigRuleException", 400):
        config.get_custom_rule_policy(ConfigRuleName="no-such-rule")
    with aws_error("NoSuchConfigRuleException", 400):
        config.get_compliance_details_by_config_rule(ConfigRuleName="no-such-rule")
    with aws_error("InvalidNextTokenException", 400):
        config.get_compliance_details_by_config_rule(ConfigRuleName=RULE, NextToken="garbage")


def test_the_compliance_change_event_reaches_the_stackset_s_rule(guarded) -> None:
    aws, approved = guarded
    events, sqs, sns = aws.client("events"), aws.client("sqs"), aws.client("sns")
    direct = sqs.create_queue(QueueName="direct")["QueueUrl"]
    via_topic = sqs.create_queue(QueueName="via-topic")["QueueUrl"]
    arn = lambda url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]  # noqa: E731
    topic = sns.create_topic(Name="xray-cmk-guard-alerts")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn(via_topic), Attributes={"RawMessageDelivery": "true"})
    events.put_rule(Name="xray-cmk-encryption-non-compliant", EventPattern=json.dumps(non_compliant_pattern()))
    events.put_targets(
        Rule="xray-cmk-encryption-non-compliant",
        Targets=[{"Id": "queue", "Arn": arn(direct)}, {"Id": "alerts", "Arn": topic}],
    )
    xray = aws.client("xray")
    xray.put_encryption_config(Type="KMS", KeyId=approved)  # COMPLIANT: the pattern does not match
    xray.put_encryption_config(Type="NONE")  # NON_COMPLIANT
    xray.put_encryption_config(Type="NONE")  # unchanged compliance: no event
    messages = sqs.receive_message(QueueUrl=direct, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    event = json.loads(messages[0]["Body"])
    assert (event["source"], event["detail-type"], event["account"], event["region"]) == (
        "aws.config", "Config Rules Compliance Change", ACCOUNT, "us-east-1",
    )  # fmt: skip
    detail = event["detail"]
    assert detail["messageType"] == "ComplianceChangeNotification"
    assert (detail["configRuleName"], detail["resourceType"], detail["resourceId"]) == (RULE, XRAY_TYPE, ACCOUNT)
    assert (detail["awsRegion"], detail["awsAccountId"]) == ("us-east-1", ACCOUNT)
    assert detail["newEvaluationResult"]["complianceType"] == "NON_COMPLIANT"
    assert detail["oldEvaluationResult"]["complianceType"] == "COMPLIANT"
    [published] = sqs.receive_message(QueueUrl=via_topic, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(published["Body"])["detail"]["newEvaluationResult"]["complianceType"] == "NON_COMPLIANT"


# --- remediation ----------------------------------------------------------------------------


def remediation_role(aws: Aws, name: str, *, trust_service: str = "ssm.amazonaws.com", key_arns: list[str], without: str | None = None) -> str:
    """The StackSet's XrayCmkRemediationRole (trust and policy as generated, its `!Ref
    ApprovedKeyArns` resources made ``key_arns``), less the statement ``without`` names."""
    role = stackset()["Resources"]["XrayCmkRemediationRole"]["Properties"]
    trust = role["AssumeRolePolicyDocument"]
    trust["Statement"][0]["Principal"] = {"Service": trust_service}
    trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"] = ACCOUNT
    policy = role["Policies"][0]["PolicyDocument"]
    for stmt in policy["Statement"]:
        if stmt["Sid"] in ("DescribeApprovedKeys", "XrayGrantOnApprovedKeys"):
            stmt["Resource"] = key_arns
    policy["Statement"] = [s for s in policy["Statement"] if s["Sid"] != without]
    iam = aws.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="xray-cmk-guard-remediation", PolicyDocument=json.dumps(policy))
    return arn


def put_remediation(aws: Aws, role_arn: str, key_id: str, target: str = RUNBOOK, attempts: int = 1) -> None:
    out = aws.client("config").put_remediation_configurations(
        RemediationConfigurations=[
            {
                "ConfigRuleName": RULE,
                "TargetType": "SSM_DOCUMENT",
                "TargetId": target,
                "Automatic": True,
                "MaximumAutomaticAttempts": attempts,
                "RetryAttemptSeconds": 60,
                "Parameters": {
                    "AutomationAssumeRole": {"StaticValue": {"Values": [role_arn]}},
                    "KeyId": {"StaticValue": {"Values": [key_id]}},
                },
            }
        ]
    )
    assert out["FailedBatches"] == []


def finished_execution(aws: Aws, timeout: float = 30) -> dict:
    config = aws.client("config")
    deadline = time.monotonic() + timeout
    while True:
        statuses = config.describe_remediation_execution_status(ConfigRuleName=RULE)["RemediationExecutionStatuses"]
        if statuses and statuses[0]["State"] in ("SUCCEEDED", "FAILED"):
            return statuses[0]
        assert time.monotonic() < deadline, statuses
        time.sleep(0.2)


def test_automatic_remediation_puts_xray_back_on_the_approved_key(guarded) -> None:
    aws, approved = guarded
    role = remediation_role(aws, "xray-cmk-guard-remediation-us-east-1", key_arns=[approved])
    put_remediation(aws, role, "alias/xray-cmk")
    [described] = aws.client("config").describe_remediation_configurations(ConfigRuleNames=[RULE])[
        "RemediationConfigurations"
    ]
    assert (described["TargetId"], described["Automatic"], described["MaximumAutomaticAttempts"]) == (RUNBOOK, True, 1)
    assert described["Arn"].startswith(f"arn:aws:config:us-east-1:{ACCOUNT}:remediation-configuration/{RULE}/")
    xray = aws.client("xray")
    xray.put_encryption_config(Type="NONE")
    execution = finished_execution(aws)
    assert execution["State"] == "SUCCEEDED", execution
    assert execution["ResourceKey"] == {"resourceType": XRAY_TYPE, "resourceId": ACCOUNT}
    assert [s["State"] for s in execution["StepDetails"]] == ["SUCCEEDED"] * len(execution["StepDetails"])
    config = xray.get_encryption_config()["EncryptionConfig"]
    assert (config["Type"], config["KeyId"], config["Status"]) == ("KMS", approved, "ACTIVE")
    assert [r["ComplianceType"] for r in results(aws)] == ["COMPLIANT"]


def test_remediation_by_a_role_without_permission_fails_and_changes_nothing(guarded) -> None:
    aws, approved = guarded
    # Without the generated kms:CreateGrant statement X-Ray may not use the key for this role.
    role = remediation_role(aws, "no-grant", key_arns=[approved], without="XrayGrantOnApprovedKeys")
    put_remediation(aws, role, "alias/xray-cmk", attempts=2)
    aws.client("xray").put_encryption_config(Type="NONE")
    execution = finished_execution(aws)
    assert execution["State"] == "FAILED"
    [failed] = [s for s in execution["StepDetails"] if s["State"] == "FAILED"]
    assert failed["Name"] == "UpdateEncryptionConfig"
    assert "AccessDeniedException" in failed["ErrorMessage"] and "kms:CreateGrant" in failed["ErrorMessage"]
    assert aws.client("xray").get_encryption_config()["EncryptionConfig"]["Type"] == "NONE"
    assert compliance(aws) == "NON_COMPLIANT"


def test_remediation_needs_a_role_that_trusts_ssm(guarded) -> None:
    aws, approved = guarded
    role = remediation_role(
        aws, "trusts-lambda", trust_service="lambda.amazonaws.com", key_arns=[approved]
    )
    put_remediation(aws, role, "alias/xray-cmk")
    aws.client("xray").put_encryption_config(Type="NONE")
    execution = finished_execution(aws)
    assert execution["State"] == "FAILED"
    assert execution["StepDetails"][0]["Name"] == "AssumeAutomationRole"
    assert "trust policy" in execution["StepDetails"][0]["ErrorMessage"]
    assert aws.client("xray").get_encryption_config()["EncryptionConfig"]["Type"] == "NONE"


def test_another_runbook_is_refused_never_pretended(guarded) -> None:
    aws, approved = guarded
    role = remediation_role(aws, "r", key_arns=[approved])
    put_remediation(aws, role, "alias/xray-cmk", target="AWS-PublishSNSNotification")
    aws.client("xray").put_encryption_config(Type="NONE")
    execution = finished_execution(aws)
    assert execution["State"] == "FAILED"
    assert "does not run the SSM document AWS-PublishSNSNotification" in execution["StepDetails"][0]["ErrorMessage"]
    assert aws.client("xray").get_encryption_config()["EncryptionConfig"]["Type"] == "NONE"


def test_remediation_denied_by_an_scp_fails_and_changes_nothing(aws: Aws) -> None:
    org = aws.client("organizations")
    org.create_organization(FeatureSet="ALL")
    member_id = org.create_account(Email="m@example.com", AccountName="member")["CreateAccountStatus"]["AccountId"]
    root = org.list_roots()["Roots"][0]["Id"]
    org.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    scp = {"Version": "2012-10-17", "Statement": [
        {"Sid": "AllowAll", "Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Sid": "NoXrayKeys", "Effect": "Deny", "Action": "kms:CreateGrant", "Resource": "*"},
    ]}  # fmt: skip
    policy = org.create_policy(Name="no-grants", Description="d", Type="SERVICE_CONTROL_POLICY", Content=json.dumps(scp))
    org.attach_policy(PolicyId=policy["Policy"]["PolicySummary"]["Id"], TargetId=member_id)
    member = Aws(aws.endpoint, account=member_id)
    start_recorder(member)
    approved = cmk(member, "alias/xray-cmk")
    put_rule(member, [approved])
    role = member.client("iam").create_role(
        RoleName="remediation",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ssm.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
    )["Role"]["Arn"]  # fmt: skip
    member.client("iam").put_role_policy(
        RoleName="remediation", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
    )  # fmt: skip
    put_remediation(member, role, "alias/xray-cmk")
    member.client("xray").put_encryption_config(Type="NONE")
    execution = finished_execution(member)
    assert execution["State"] == "FAILED"
    failed = next(s for s in execution["StepDetails"] if s["State"] == "FAILED")
    assert "kms:CreateGrant" in failed["ErrorMessage"] and "service control policy" in failed["ErrorMessage"]
    assert member.client("xray").get_encryption_config()["EncryptionConfig"]["Type"] == "NONE"


def test_remediation_configurations_validate_and_delete(guarded) -> None:
    aws, _ = guarded
    config = aws.client("config")
    out = config.put_remediation_configurations(
        RemediationConfigurations=[{"ConfigRuleName": "no-such-rule", "TargetType": "SSM_DOCUMENT", "TargetId": RUNBOOK}]
    )
    assert out["FailedBatches"][0]["FailedItems"][0]["ConfigRuleName"] == "no-such-rule"
    with aws_error("NoSuchRemediationConfigurationException", 400):
        config.describe_remediation_execution_status(ConfigRuleName=RULE)
    config.put_remediation_configurations(
        RemediationConfigurations=[{"ConfigRuleName": RULE, "TargetType": "SSM_DOCUMENT", "TargetId": RUNBOOK}]
    )
    [stored] = config.describe_remediation_configurations(ConfigRuleNames=[RULE])["RemediationConfigurations"]
    assert (stored["Automatic"], stored["MaximumAutomaticAttempts"], stored["RetryAttemptSeconds"]) == (False, 5, 60)
    assert config.describe_remediation_execution_status(ConfigRuleName=RULE)["RemediationExecutionStatuses"] == []
    config.delete_remediation_configuration(ConfigRuleName=RULE)
    assert config.describe_remediation_configurations(ConfigRuleNames=[RULE])["RemediationConfigurations"] == []
    with aws_error("NoSuchRemediationConfigurationException", 400):
        config.delete_remediation_configuration(ConfigRuleName=RULE)


# --- the engine cannot run ------------------------------------------------------------------


@pytest.fixture(scope="module")
def engineless(tmp_path_factory: pytest.TempPathFactory):
    srv = start_server(tmp_path_factory.mktemp("engineless"), {"XRAY_CMK_CFN_GUARD": "/nonexistent/cfn-guard"})
    yield srv
    assert srv.stop() == 0, srv.log_path.read_text()


def test_without_the_engine_the_evaluation_fails_and_is_never_compliant(engineless) -> None:
    moto_api(engineless.endpoint, "/moto-api/reset")
    aws = Aws(engineless.endpoint)
    start_recorder(aws)
    approved = cmk(aws)
    put_rule(aws, [approved])
    aws.client("xray").put_encryption_config(Type="KMS", KeyId=approved)  # would be COMPLIANT
    assert results(aws) == []
    assert compliance(aws) == "INSUFFICIENT_DATA"
    [status] = aws.client("config").describe_config_rule_evaluation_status(ConfigRuleNames=[RULE])[
        "ConfigRulesEvaluationStatus"
    ]
    assert status["LastErrorCode"] == "GuardEngineUnavailable"
    assert "/nonexistent/cfn-guard" in status["LastErrorMessage"]
    assert "LastFailedEvaluationTime" in status and "LastSuccessfulEvaluationTime" not in status
    assert "GuardEngineUnavailable" in engineless.log_path.read_text()


def generated_scp() -> dict:
    path = SNAPSHOTS / "xray_cmk_core__guard__tests__remediate-xray-cmk-guard.scp.json.snap"
    return json.loads(_snapshot_body(path))


@pytest.mark.parametrize(
    ("role_name", "state"),
    [("xray-cmk-guard-remediation-us-east-1", "SUCCEEDED"), ("SomeOtherRemediation", "FAILED")],
)
def test_the_generated_scp_lets_only_the_stackset_s_remediation_role_remediate(aws: Aws, role_name: str, state: str) -> None:
    org = aws.client("organizations")
    org.create_organization(FeatureSet="ALL")
    member_id = org.create_account(Email="m@example.com", AccountName="member")["CreateAccountStatus"]["AccountId"]
    root = org.list_roots()["Roots"][0]["Id"]
    org.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    member = Aws(aws.endpoint, account=member_id)
    start_recorder(member)
    approved = cmk(member, "alias/xray-cmk")
    put_rule(member, [approved])
    member.client("xray").put_encryption_config(Type="NONE")  # before the SCP: the member's root may
    scp = generated_scp()
    policy = org.create_policy(Name="xray-cmk-guard", Description="d", Type="SERVICE_CONTROL_POLICY", Content=json.dumps(scp))
    org.attach_policy(PolicyId=policy["Policy"]["PolicySummary"]["Id"], TargetId=root)
    role = member.client("iam").create_role(
        RoleName=role_name,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ssm.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
    )["Role"]["Arn"]  # fmt: skip
    member.client("iam").put_role_policy(
        RoleName=role_name, PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
    )  # fmt: skip
    put_remediation(member, role, "alias/xray-cmk")
    put_rule(member, [approved])  # updating the rule re-evaluates the item: NON_COMPLIANT, remediation starts
    execution = finished_execution(member)
    assert execution["State"] == state, execution
    config = member.client("xray").get_encryption_config()["EncryptionConfig"]
    if state == "SUCCEEDED":
        assert (config["Type"], config["KeyId"]) == ("KMS", approved)
        assert compliance(member) == "COMPLIANT"
    else:
        failed = next(s for s in execution["StepDetails"] if s["State"] == "FAILED")
        assert "xray:PutEncryptionConfig" in failed["ErrorMessage"]
        assert "service control policy" in failed["ErrorMessage"]
        assert config["Type"] == "NONE"
        assert compliance(member) == "NON_COMPLIANT"


def test_rule_listings_page_and_filter(guarded) -> None:
    aws, approved = guarded
    config = aws.client("config")
    config.put_config_rule(ConfigRule={
        "ConfigRuleName": "a-bucket-rule", "Scope": {"ComplianceResourceTypes": ["AWS::S3::Bucket"]},
        "Source": {"Owner": "CUSTOM_POLICY",
                   "SourceDetails": [{"EventSource": "aws.config", "MessageType": "ConfigurationItemChangeNotification"}],
                   "CustomPolicyDetails": {"PolicyRuntime": "guard-2.x.x", "PolicyText": guard_rule([approved])}},
    })  # fmt: skip
    aws.client("xray").put_encryption_config(Type="NONE")
    first = config.describe_config_rule_evaluation_status(Limit=1)
    second = config.describe_config_rule_evaluation_status(Limit=1, NextToken=first["NextToken"])
    names = [s["ConfigRuleName"] for s in first["ConfigRulesEvaluationStatus"] + second["ConfigRulesEvaluationStatus"]]
    assert names == ["a-bucket-rule", RULE] and "NextToken" not in second
    # The bucket rule is out of scope for X-Ray: no data.
    rows = config.describe_compliance_by_config_rule(ComplianceTypes=["NON_COMPLIANT"])["ComplianceByConfigRules"]
    assert [r["ConfigRuleName"] for r in rows] == [RULE]
    assert compliance_of(config, "a-bucket-rule") == "INSUFFICIENT_DATA"
    with aws_error("NoSuchConfigRuleException", 400):
        config.describe_compliance_by_config_rule(ConfigRuleNames=["no-such-rule"])
    assert config.describe_compliance_by_resource(ResourceType="AWS::S3::Bucket")["ComplianceByResources"] == []
    assert approved


def compliance_of(config, name: str) -> str:
    [row] = config.describe_compliance_by_config_rule(ConfigRuleNames=[name])["ComplianceByConfigRules"]
    return row["Compliance"]["ComplianceType"]
