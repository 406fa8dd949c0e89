"""Config aggregators over X-Ray's configuration items (xray_cmk_emulator/config_aggregator.py)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from conftest import Aws, aws_error, create_role

XRAY_TYPE = "AWS::XRay::EncryptionConfig"
MANAGEMENT = "123456789012"
ROLE = f"arn:aws:iam::{MANAGEMENT}:role/ConfigAggregator"
QUERY = f"SELECT accountId, awsRegion, configuration.type, configuration.keyId WHERE resourceType = '{XRAY_TYPE}'"


def _recorder(aws: Aws, region: str, group: dict | None = None) -> None:
    config = aws.client("config", region)
    config.put_configuration_recorder(
        ConfigurationRecorder={
            "name": "default",
            "roleARN": f"arn:aws:iam::{MANAGEMENT}:role/config",
            "recordingGroup": group or {"allSupported": True},
        }
    )
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "config-items"})
    config.start_configuration_recorder(ConfigurationRecorderName="default")


def _organization(aws: Aws, members: int = 2, feature_set: str = "ALL") -> list[str]:
    orgs = aws.client("organizations")
    orgs.create_organization(FeatureSet=feature_set)
    ids = []
    for i in range(members):
        status = orgs.create_account(AccountName=f"member{i}", Email=f"member{i}@example.com")["CreateAccountStatus"]
        ids.append(status["AccountId"])
    return ids


def _rows(config, name: str = "org", expression: str = QUERY, **kwargs) -> list[dict]:
    out, token = [], None
    while True:
        args = dict(ConfigurationAggregatorName=name, Expression=expression, **kwargs)
        if token:
            args["NextToken"] = token
        page = config.select_aggregate_resource_config(**args)
        out += [json.loads(r) for r in page["Results"]]
        token = page.get("NextToken")
        if not token:
            return out


def _org_aggregator(config, regions: list[str] | None = None) -> dict:
    source = {"RoleArn": ROLE, **({"AwsRegions": regions} if regions else {"AllAwsRegions": True})}
    return config.put_configuration_aggregator(ConfigurationAggregatorName="org", OrganizationAggregationSource=source)[
        "ConfigurationAggregator"
    ]


def _key_arn(aws: Aws, region: str) -> str:
    return aws.client("kms", region).create_key()["KeyMetadata"]["Arn"]


def test_an_organization_aggregator_returns_the_latest_item_of_each_recording_account_region(aws: Aws) -> None:
    member_a, member_b = _organization(aws)
    a, b = Aws(aws.endpoint, account=member_a), Aws(aws.endpoint, account=member_b)
    key = _key_arn(a, "us-east-1")
    # Recorders only in member_a/us-east-1, member_a/eu-west-1 and member_b/us-east-1.
    for acct, region in ((a, "us-east-1"), (a, "eu-west-1"), (b, "us-east-1")):
        _recorder(acct, region)
    a.client("xray", "us-east-1").put_encryption_config(Type="KMS", KeyId=key)
    a.client("xray", "us-east-1").put_encryption_config(Type="NONE")
    a.client("xray", "us-east-1").put_encryption_config(Type="KMS", KeyId=key)  # the latest one counts
    b.client("xray", "eu-west-1").put_encryption_config(Type="NONE")  # no recorder there: no item
    config = aws.client("config")
    _org_aggregator(config)
    rows = _rows(config)
    assert rows == sorted(
        [
            {"accountId": member_a, "awsRegion": "eu-west-1", "configuration": {"type": "NONE"}},
            {"accountId": member_a, "awsRegion": "us-east-1", "configuration": {"type": "KMS", "keyId": key}},
            {"accountId": member_b, "awsRegion": "us-east-1", "configuration": {"type": "NONE"}},
        ],
        key=lambda r: (r["accountId"], r["awsRegion"]),
    )


def test_query_info_names_the_selected_fields_and_rows_hold_only_those(aws: Aws) -> None:
    _organization(aws, members=0)
    _recorder(aws, "us-east-1")
    config = aws.client("config")
    _org_aggregator(config, ["us-east-1"])
    out = config.select_aggregate_resource_config(
        ConfigurationAggregatorName="org",
        Expression=f"select resourceId, resourceType, configuration, configurationItemCaptureTime, "
        f"configurationItemStatus where resourceType = '{XRAY_TYPE}' and awsRegion in ('us-east-1')",
    )
    assert out["QueryInfo"]["SelectFields"] == [
        {"Name": "resourceId"}, {"Name": "resourceType"}, {"Name": "configuration"},
        {"Name": "configurationItemCaptureTime"}, {"Name": "configurationItemStatus"},
    ]  # fmt: skip
    (row,) = [json.loads(r) for r in out["Results"]]
    assert set(row) == {
        "resourceId",
        "resourceType",
        "configuration",
        "configurationItemCaptureTime",
        "configurationItemStatus",
    }
    assert row["resourceId"] == MANAGEMENT and row["resourceType"] == XRAY_TYPE
    assert row["configuration"] == {"type": "NONE", "status": "ACTIVE"}  # discovered when the recorder started
    assert row["configurationItemStatus"] == "ResourceDiscovered"
    assert row["configurationItemCaptureTime"].endswith("Z") and "T" in row["configurationItemCaptureTime"]
    assert "NextToken" not in out


def test_an_organization_aggregator_covers_only_its_regions_and_the_where_clause_filters(aws: Aws) -> None:
    (member,) = _organization(aws, members=1)
    m = Aws(aws.endpoint, account=member)
    for region in ("us-east-1", "eu-west-1", "ap-south-1"):
        _recorder(m, region)
        _recorder(aws, region)
    config = aws.client("config")
    _org_aggregator(config, ["us-east-1", "eu-west-1"])
    assert {(r["accountId"], r["awsRegion"]) for r in _rows(config)} == {
        (a, r) for a in (MANAGEMENT, member) for r in ("us-east-1", "eu-west-1")
    }
    where = f"SELECT accountId, awsRegion WHERE resourceType = '{XRAY_TYPE}' AND awsRegion = 'eu-west-1' AND accountId IN ('{member}')"
    assert _rows(config, expression=where) == [{"accountId": member, "awsRegion": "eu-west-1"}]


def test_pages_follow_limit_and_max_results_with_a_token_bound_to_the_query(aws: Aws) -> None:
    _organization(aws, members=0)
    regions = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1"]
    for region in regions:
        _recorder(aws, region)
    config = aws.client("config")
    _org_aggregator(config, regions)
    first = config.select_aggregate_resource_config(ConfigurationAggregatorName="org", Expression=QUERY, Limit=2)
    assert len(first["Results"]) == 2 and first["NextToken"]
    assert len(_rows(config, MaxResults=2)) == 5
    assert [r["awsRegion"] for r in _rows(config, Limit=3)] == sorted(regions)
    other = QUERY.replace("accountId, ", "")
    with aws_error("InvalidNextTokenException", 400):
        config.select_aggregate_resource_config(
            ConfigurationAggregatorName="org", Expression=other, NextToken=first["NextToken"]
        )
    with aws_error("InvalidNextTokenException", 400):
        config.select_aggregate_resource_config(
            ConfigurationAggregatorName="org", Expression=QUERY, NextToken="garbage"
        )
    with aws_error("InvalidLimitException", 400):
        config.select_aggregate_resource_config(ConfigurationAggregatorName="org", Expression=QUERY, Limit=101)
    # The paginator the SDKs generate from the model walks the same pages.
    pages = config.get_paginator("select_aggregate_resource_config").paginate(
        ConfigurationAggregatorName="org", Expression=QUERY, PaginationConfig={"PageSize": 2}
    )
    assert sum(len(p["Results"]) for p in pages) == 5


def test_the_default_page_is_25(aws: Aws) -> None:
    members = _organization(aws, members=30)
    for member in members:
        _recorder(Aws(aws.endpoint, account=member), "us-east-1")
    config = aws.client("config")
    _org_aggregator(config, ["us-east-1"])
    first = config.select_aggregate_resource_config(ConfigurationAggregatorName="org", Expression=QUERY)
    assert len(first["Results"]) == 25 and first["NextToken"]
    assert len(_rows(config)) == 30


@pytest.mark.parametrize(
    "expression",
    [
        "SELECT * WHERE resourceType = 'AWS::XRay::EncryptionConfig'",
        "SELECT resourceId",
        "SELECT resourceId WHERE resourceType = 'AWS::S3::Bucket'",
        "SELECT resourceId WHERE resourceType = 'AWS::XRay::EncryptionConfig' OR awsRegion = 'us-east-1'",
        "SELECT resourceId WHERE awsRegion = 'us-east-1'",
        "SELECT tags WHERE resourceType = 'AWS::XRay::EncryptionConfig'",
        "SELECT resourceId WHERE resourceType = 'AWS::XRay::EncryptionConfig' AND awsRegion LIKE 'us-%'",
        "SELECT resourceId, COUNT(*) WHERE resourceType = 'AWS::XRay::EncryptionConfig' GROUP BY resourceId",
        "SELECT resourceId WHERE resourceType = 'AWS::XRay::EncryptionConfig' ORDER BY awsRegion",
        "SELECT resourceId WHERE resourceType = 'AWS::XRay::EncryptionConfig",
        "DELETE resourceId WHERE resourceType = 'AWS::XRay::EncryptionConfig'",
    ],
)
def test_sql_outside_the_subset_is_an_invalid_expression(aws: Aws, expression: str) -> None:
    _organization(aws, members=0)
    config = aws.client("config")
    _org_aggregator(config, ["us-east-1"])
    with aws_error("InvalidExpressionException", 400):
        config.select_aggregate_resource_config(ConfigurationAggregatorName="org", Expression=expression)
    with aws_error("InvalidExpressionException", 400):
        config.select_resource_config(Expression=expression)


def test_an_unknown_aggregator_is_no_such_configuration_aggregator(aws: Aws) -> None:
    config = aws.client("config")
    with aws_error("NoSuchConfigurationAggregatorException", 400):
        config.select_aggregate_resource_config(ConfigurationAggregatorName="nope", Expression=QUERY)
    with aws_error("NoSuchConfigurationAggregatorException", 400):
        config.describe_configuration_aggregator_sources_status(ConfigurationAggregatorName="nope")
    _organization(aws, members=0)
    _org_aggregator(config, ["us-east-1"])
    # Aggregators are regional: the same name in another region does not exist.
    with aws_error("NoSuchConfigurationAggregatorException", 400):
        aws.client("config", "eu-west-1").select_aggregate_resource_config(
            ConfigurationAggregatorName="org", Expression=QUERY
        )


def test_an_account_aggregator_aggregates_only_authorized_account_regions(aws: Aws) -> None:
    other = "210987654321"
    o = Aws(aws.endpoint, account=other)
    for acct in (aws, o):
        for region in ("us-east-1", "eu-west-1"):
            _recorder(acct, region)
    config = aws.client("config")
    config.put_configuration_aggregator(
        ConfigurationAggregatorName="accounts",
        AccountAggregationSources=[{"AccountIds": [MANAGEMENT, other], "AwsRegions": ["us-east-1", "eu-west-1"]}],
    )
    assert _rows(config, "accounts") == []  # nobody authorized the aggregator yet, not even its own account
    o.client("config", "eu-west-1").put_aggregation_authorization(
        AuthorizedAccountId=MANAGEMENT, AuthorizedAwsRegion="us-east-1"
    )
    o.client("config", "us-east-1").put_aggregation_authorization(
        AuthorizedAccountId=MANAGEMENT, AuthorizedAwsRegion="eu-west-1"
    )  # another aggregator region
    aws.client("config", "us-east-1").put_aggregation_authorization(
        AuthorizedAccountId=MANAGEMENT, AuthorizedAwsRegion="us-east-1"
    )
    assert {(r["accountId"], r["awsRegion"]) for r in _rows(config, "accounts")} == {
        (other, "eu-west-1"), (MANAGEMENT, "us-east-1"),
    }  # fmt: skip
    status = config.describe_configuration_aggregator_sources_status(ConfigurationAggregatorName="accounts")
    by_source = {(s["SourceId"], s["AwsRegion"]): s for s in status["AggregatedSourceStatusList"]}
    assert {k: s["LastUpdateStatus"] for k, s in by_source.items()} == {
        (MANAGEMENT, "us-east-1"): "SUCCEEDED", (MANAGEMENT, "eu-west-1"): "FAILED",
        (other, "us-east-1"): "FAILED", (other, "eu-west-1"): "SUCCEEDED",
    }  # fmt: skip
    assert all(s["SourceType"] == "ACCOUNT" for s in by_source.values())
    assert by_source[(other, "us-east-1")]["LastErrorCode"]
    failed = config.describe_configuration_aggregator_sources_status(
        ConfigurationAggregatorName="accounts", UpdateStatus=["FAILED"]
    )["AggregatedSourceStatusList"]
    assert len(failed) == 2
    # Deleting the authorization stops the aggregation.
    o.client("config", "eu-west-1").delete_aggregation_authorization(
        AuthorizedAccountId=MANAGEMENT, AuthorizedAwsRegion="us-east-1"
    )
    assert {(r["accountId"], r["awsRegion"]) for r in _rows(config, "accounts")} == {(MANAGEMENT, "us-east-1")}


def test_all_aws_regions_covers_every_region(aws: Aws) -> None:
    for region in ("us-east-1", "ap-southeast-2"):
        _recorder(aws, region)
        aws.client("config", region).put_aggregation_authorization(
            AuthorizedAccountId=MANAGEMENT, AuthorizedAwsRegion="us-east-1"
        )
    config = aws.client("config")
    config.put_configuration_aggregator(
        ConfigurationAggregatorName="all",
        AccountAggregationSources=[{"AccountIds": [MANAGEMENT], "AllAwsRegions": True}],
    )
    assert {r["awsRegion"] for r in _rows(config, "all")} == {"us-east-1", "ap-southeast-2"}


def test_organization_aggregators_only_in_the_management_account_or_a_delegated_administrator(aws: Aws) -> None:
    with aws_error("NoAvailableOrganizationException", 400):
        _org_aggregator(aws.client("config"))
    member, delegated = _organization(aws)
    with aws_error("OrganizationAccessDeniedException", 400):
        _org_aggregator(Aws(aws.endpoint, account=member).client("config"))
    orgs = aws.client("organizations")
    orgs.register_delegated_administrator(AccountId=delegated, ServicePrincipal="config.amazonaws.com")
    d = Aws(aws.endpoint, account=delegated)
    _recorder(Aws(aws.endpoint, account=member), "us-east-1")
    got = _org_aggregator(d.client("config"), ["us-east-1"])
    assert got["OrganizationAggregationSource"]["AwsRegions"] == ["us-east-1"]
    assert {r["accountId"] for r in _rows(d.client("config"))} == {member}
    # The management account's aggregator turns on trusted access for Config.
    _org_aggregator(aws.client("config"))
    enabled = orgs.list_aws_service_access_for_organization()["EnabledServicePrincipals"]
    assert "config.amazonaws.com" in [p["ServicePrincipal"] for p in enabled]
    names = [
        a["ConfigurationAggregatorName"]
        for a in aws.client("config").describe_configuration_aggregators()["ConfigurationAggregators"]
    ]
    assert names == ["org"]
    aws.client("config").delete_configuration_aggregator(ConfigurationAggregatorName="org")
    with aws_error("NoSuchConfigurationAggregatorException", 400):
        aws.client("config").select_aggregate_resource_config(ConfigurationAggregatorName="org", Expression=QUERY)


def test_an_organization_without_all_features_cannot_have_an_aggregator(aws: Aws) -> None:
    _organization(aws, members=0, feature_set="CONSOLIDATED_BILLING")
    with aws_error("OrganizationAllFeaturesNotEnabledException", 400):
        _org_aggregator(aws.client("config"))


def test_select_resource_config_queries_the_callers_account_and_region(aws: Aws) -> None:
    config = aws.client("config")
    assert config.select_resource_config(Expression=QUERY)["Results"] == []
    _recorder(aws, "us-east-1")
    _recorder(aws, "eu-west-1")
    key = _key_arn(aws, "us-east-1")
    aws.client("xray").put_encryption_config(Type="KMS", KeyId=key)
    out = config.select_resource_config(Expression=QUERY)
    assert [json.loads(r) for r in out["Results"]] == [
        {"accountId": MANAGEMENT, "awsRegion": "us-east-1", "configuration": {"type": "KMS", "keyId": key}}
    ]


def test_starting_a_recorder_discovers_the_current_configuration(aws: Aws) -> None:
    key = _key_arn(aws, "us-east-1")
    aws.client("xray").put_encryption_config(Type="KMS", KeyId=key)  # before any recorder
    _recorder(aws, "us-east-1")
    history = aws.client("config").get_resource_config_history(resourceType=XRAY_TYPE, resourceId=MANAGEMENT)
    (item,) = history["configurationItems"]
    assert item["configurationItemStatus"] == "ResourceDiscovered"
    assert json.loads(item["configuration"])["keyId"] == key
    # Restarting with nothing changed records nothing new.
    config = aws.client("config")
    config.stop_configuration_recorder(ConfigurationRecorderName="default")
    config.start_configuration_recorder(ConfigurationRecorderName="default")
    assert (
        len(config.get_resource_config_history(resourceType=XRAY_TYPE, resourceId=MANAGEMENT)["configurationItems"])
        == 1
    )


def test_a_recorder_that_does_not_record_the_type_discovers_nothing(aws: Aws) -> None:
    _recorder(aws, "us-east-1", {"allSupported": False, "resourceTypes": ["AWS::S3::Bucket"]})
    assert aws.client("config").select_resource_config(Expression=QUERY)["Results"] == []


def _post(endpoint: str, path: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(f"{endpoint}{path}", data=json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_the_age_hook_moves_the_latest_capture_time_back(aws: Aws) -> None:
    _organization(aws, members=0)
    _recorder(aws, "us-east-1")
    config = aws.client("config")
    _org_aggregator(config, ["us-east-1"])
    expression = f"SELECT configurationItemCaptureTime WHERE resourceType = '{XRAY_TYPE}'"
    (before,) = _rows(config, expression=expression)
    status, out = _post(
        aws.endpoint, "/_xray_cmk/config-items/age", {"account_id": MANAGEMENT, "region": "us-east-1", "seconds": 86400}
    )
    assert status == 200
    (after,) = _rows(config, expression=expression)
    assert after["configurationItemCaptureTime"] == out["configurationItemCaptureTime"]
    assert after["configurationItemCaptureTime"] < before["configurationItemCaptureTime"]
    assert (
        _post(
            aws.endpoint, "/_xray_cmk/config-items/age", {"account_id": MANAGEMENT, "region": "eu-west-1", "seconds": 1}
        )[0]
        == 404
    )
    assert _post(aws.endpoint, "/_xray_cmk/config-items/age", {"account_id": MANAGEMENT})[0] == 400


def test_a_caller_denied_select_aggregate_resource_config_gets_access_denied(aws: Aws) -> None:
    _organization(aws, members=0)
    _org_aggregator(aws.client("config"), ["us-east-1"])
    deny = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "config:SelectAggregateResourceConfig", "Resource": "*"}],
    }
    session = aws.assume(create_role(aws, "Auditor", deny))
    config = session.client("config")
    with aws_error("AccessDeniedException", 400) as exc:
        config.select_aggregate_resource_config(ConfigurationAggregatorName="org", Expression=QUERY)
    assert "config:SelectAggregateResourceConfig" in exc.value.response["Error"]["Message"]
    # The rest of Config stays allowed.
    config.describe_configuration_aggregators()


def test_keywords_are_case_insensitive_and_conditions_intersect(aws: Aws) -> None:
    _organization(aws, members=0)
    for region in ("us-east-1", "eu-west-1"):
        _recorder(aws, region)
    config = aws.client("config")
    _org_aggregator(config, ["us-east-1", "eu-west-1"])
    mixed = (
        f"SeLeCt awsRegion,configuration.type\n wHeRe resourceType In ('{XRAY_TYPE}') aNd awsRegion iN ('us-east-1', "
        "'eu-west-1') AND awsRegion = 'eu-west-1'"
    )
    assert _rows(config, expression=mixed) == [{"awsRegion": "eu-west-1", "configuration": {"type": "NONE"}}]
    disjoint = (
        f"SELECT awsRegion WHERE resourceType = '{XRAY_TYPE}' AND awsRegion = 'us-east-1' AND awsRegion = 'eu-west-1'"
    )
    assert _rows(config, expression=disjoint) == []
    # A selected nested property the item lacks is left out (no keyId for NONE).
    assert _rows(config, expression=f"SELECT awsRegion, configuration.keyId WHERE resourceType = '{XRAY_TYPE}'") == [
        {"awsRegion": "eu-west-1"}, {"awsRegion": "us-east-1"},
    ]  # fmt: skip


def test_request_validation(aws: Aws) -> None:
    _organization(aws, members=0)
    config = aws.client("config", validate=False)
    _org_aggregator(config, ["us-east-1"])
    with aws_error("ValidationException", 400):
        config.select_aggregate_resource_config(ConfigurationAggregatorName="org", Expression="S" * 4097)
    with aws_error("InvalidLimitException", 400):
        config.select_aggregate_resource_config(ConfigurationAggregatorName="org", Expression=QUERY, MaxResults=-1)
    # A token of the aggregator's query is not one of SelectResourceConfig, even for the same expression.
    for region in ("us-east-1", "eu-west-1"):
        _recorder(aws, region)
    config.put_configuration_aggregator(
        ConfigurationAggregatorName="org",
        OrganizationAggregationSource={"RoleArn": ROLE, "AwsRegions": ["us-east-1", "eu-west-1"]},
    )
    token = config.select_aggregate_resource_config(ConfigurationAggregatorName="org", Expression=QUERY, Limit=1)[
        "NextToken"
    ]
    with aws_error("InvalidNextTokenException", 400):
        config.select_resource_config(Expression=QUERY, NextToken=token)
    own = config.select_resource_config(Expression=QUERY, Limit=1)
    assert len(own["Results"]) == 1 and "NextToken" not in own


def test_the_sources_status_of_an_organization_aggregator(aws: Aws) -> None:
    _organization(aws, members=1)
    config = aws.client("config")
    _org_aggregator(config, ["us-east-1", "eu-west-1"])
    org_id = aws.client("organizations").describe_organization()["Organization"]["Id"]
    status = config.describe_configuration_aggregator_sources_status(ConfigurationAggregatorName="org")
    assert sorted((s["SourceId"], s["SourceType"], s["AwsRegion"], s["LastUpdateStatus"]) for s in status["AggregatedSourceStatusList"]) == [
        (org_id, "ORGANIZATION", "eu-west-1", "SUCCEEDED"), (org_id, "ORGANIZATION", "us-east-1", "SUCCEEDED"),
    ]  # fmt: skip
    page = config.describe_configuration_aggregator_sources_status(ConfigurationAggregatorName="org", Limit=1)
    assert len(page["AggregatedSourceStatusList"]) == 1 and page["NextToken"]
    rest = config.describe_configuration_aggregator_sources_status(
        ConfigurationAggregatorName="org", Limit=1, NextToken=page["NextToken"]
    )
    assert len(rest["AggregatedSourceStatusList"]) == 1 and "NextToken" not in rest


def test_a_denied_caller_cannot_create_an_aggregator(aws: Aws) -> None:
    _organization(aws, members=0)
    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "config:Put*", "Resource": "*"}]}
    session = aws.assume(create_role(aws, "NoPut", deny))
    with aws_error("AccessDeniedException", 400):
        _org_aggregator(session.client("config"), ["us-east-1"])
    assert aws.client("config").describe_configuration_aggregators()["ConfigurationAggregators"] == []


def test_member_recorders_set_through_organization_account_access_role(aws: Aws) -> None:
    """The way an end-to-end test sets it up: X-Ray first, then recorders in some member regions only,
    through the role Organizations creates in each member, then the management account's aggregator."""
    (member,) = _organization(aws, members=1)
    admin = aws.assume(f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole")
    key = _key_arn(admin, "eu-west-1")
    admin.client("xray", "eu-west-1").put_encryption_config(Type="KMS", KeyId=key)
    admin.client("xray", "us-east-1").put_encryption_config(Type="NONE")
    _recorder(admin, "eu-west-1")  # us-east-1 has no recorder: the tool must read it live
    config = aws.client("config")
    _org_aggregator(config)
    assert _rows(config) == [
        {"accountId": member, "awsRegion": "eu-west-1", "configuration": {"type": "KMS", "keyId": key}}
    ]


def test_config_calls_organizations_with_the_callers_permissions(aws: Aws) -> None:
    _organization(aws, members=0)
    # Allowed to create aggregators, not to let Config enable its trusted access.
    deny = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "organizations:EnableAWSServiceAccess", "Resource": "*"}],
    }
    session = aws.assume(create_role(aws, "ConfigOnly", deny))
    with aws_error("OrganizationAccessDeniedException", 400):
        _org_aggregator(session.client("config"), ["us-east-1"])
    # An account aggregator needs no Organizations call.
    session.client("config").put_configuration_aggregator(
        ConfigurationAggregatorName="accounts",
        AccountAggregationSources=[{"AccountIds": [MANAGEMENT], "AwsRegions": ["us-east-1"]}],
    )
