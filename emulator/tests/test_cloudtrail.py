"""CloudTrail as the audit reads it: moto 5.2.5 plus cloudtrail_patches (one test per behaviour)."""

from __future__ import annotations

import pytest
from conftest import Aws, aws_error

BUCKET = "trail-bucket-123456789012"
DEFAULT_SELECTORS = [
    {"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": [], "ExcludeManagementEventSources": []}
]
ADVANCED = [{"Name": "Management events", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}]


@pytest.fixture
def ct(aws: Aws) -> Aws:
    aws.client("s3").create_bucket(Bucket=BUCKET)
    return aws


def make_trail(aws: Aws, name: str, region: str = "us-east-1", multi: bool = False) -> dict:
    return aws.client("cloudtrail", region).create_trail(Name=name, S3BucketName=BUCKET, IsMultiRegionTrail=multi)


def selectors(aws: Aws, trail: str, region: str = "us-east-1") -> dict:
    out = aws.client("cloudtrail", region).get_event_selectors(TrailName=trail)
    out.pop("ResponseMetadata")
    return out


def test_create_trail_needs_an_existing_bucket(aws: Aws) -> None:
    ct = aws.client("cloudtrail")
    with pytest.raises(ct.exceptions.S3BucketDoesNotExistException):
        ct.create_trail(Name="trail", S3BucketName="no-such-bucket")


def test_create_trail_twice_is_rejected(ct: Aws) -> None:
    make_trail(ct, "trail", multi=True)
    client = ct.client("cloudtrail")
    with pytest.raises(client.exceptions.TrailAlreadyExistsException):
        make_trail(ct, "trail")
    with pytest.raises(client.exceptions.TrailAlreadyExistsException):  # the multi-region trail exists there too
        make_trail(ct, "trail", "eu-west-1")


def test_new_trail_has_the_default_selectors_and_does_not_log(ct: Aws) -> None:
    arn = make_trail(ct, "trail")["TrailARN"]
    assert selectors(ct, "trail") == {"TrailARN": arn, "EventSelectors": DEFAULT_SELECTORS}
    assert ct.client("cloudtrail").get_trail_status(Name="trail")["IsLogging"] is False
    desc = ct.client("cloudtrail").describe_trails()["trailList"][0]
    assert desc["HasCustomEventSelectors"] is False
    assert "KmsKeyId" not in desc and "CloudWatchLogsLogGroupArn" not in desc  # unset members are omitted


def test_basic_selectors_round_trip_with_defaults_filled_in(ct: Aws) -> None:
    arn = make_trail(ct, "trail")["TrailARN"]
    put = ct.client("cloudtrail").put_event_selectors(
        TrailName="trail",
        EventSelectors=[{"ReadWriteType": "WriteOnly", "ExcludeManagementEventSources": ["kms.amazonaws.com"]}],
    )
    expected = [
        {"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True, "DataResources": [],
         "ExcludeManagementEventSources": ["kms.amazonaws.com"]}
    ]  # fmt: skip
    assert put["EventSelectors"] == expected and "AdvancedEventSelectors" not in put
    assert selectors(ct, arn) == {"TrailARN": arn, "EventSelectors": expected}
    assert ct.client("cloudtrail").get_trail(Name="trail")["Trail"]["HasCustomEventSelectors"] is True


def test_advanced_and_basic_selectors_replace_each_other(ct: Aws) -> None:
    arn = make_trail(ct, "trail")["TrailARN"]
    client = ct.client("cloudtrail")
    client.put_event_selectors(TrailName="trail", AdvancedEventSelectors=ADVANCED)
    assert selectors(ct, "trail") == {"TrailARN": arn, "AdvancedEventSelectors": ADVANCED}
    client.put_event_selectors(TrailName="trail", EventSelectors=[{"ReadWriteType": "All"}])
    assert selectors(ct, "trail") == {"TrailARN": arn, "EventSelectors": DEFAULT_SELECTORS}
    client.put_event_selectors(TrailName="trail", AdvancedEventSelectors=ADVANCED)
    assert selectors(ct, "trail") == {"TrailARN": arn, "AdvancedEventSelectors": ADVANCED}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"EventSelectors": [{"ReadWriteType": "All"}], "AdvancedEventSelectors": ADVANCED},
        {},
        {"EventSelectors": [{"ReadWriteType": "Sometimes"}]},
        {"EventSelectors": [{"ExcludeManagementEventSources": ["s3.amazonaws.com"]}]},
        {"EventSelectors": [{}] * 6},
        {"AdvancedEventSelectors": [{"Name": "x", "FieldSelectors": [{"Field": "eventCategory"}]}]},
    ],
    ids=["both", "neither", "bad-read-write-type", "bad-excluded-source", "too-many", "no-operator"],
)
def test_invalid_selectors_are_rejected(ct: Aws, kwargs: dict) -> None:
    make_trail(ct, "trail")
    client = ct.client("cloudtrail", validate=False)
    with aws_error("InvalidEventSelectorsException", 400):
        client.put_event_selectors(TrailName="trail", **kwargs)
    assert selectors(ct, "trail")["EventSelectors"] == DEFAULT_SELECTORS


def test_describe_trails_fields_and_shadow_trails(ct: Aws) -> None:
    multi = make_trail(ct, "org-wide", multi=True)["TrailARN"]
    single = make_trail(ct, "local", "eu-west-1")["TrailARN"]
    home = {t["Name"]: t for t in ct.client("cloudtrail").describe_trails()["trailList"]}
    assert set(home) == {"org-wide"}
    t = home["org-wide"]
    assert (t["TrailARN"], t["HomeRegion"], t["IsMultiRegionTrail"], t["IsOrganizationTrail"]) == (
        multi, "us-east-1", True, False,
    )  # fmt: skip
    # The multi-region trail is listed in every region of the account (with includeShadowTrails, the default).
    for region in ("eu-west-1", "ap-south-1", "sa-east-1"):
        listed = {t["TrailARN"]: t for t in ct.client("cloudtrail", region).describe_trails()["trailList"]}
        assert multi in listed and listed[multi]["HomeRegion"] == "us-east-1"
        assert (single in listed) == (region == "eu-west-1")
    # Without shadow trails only the region's own trails.
    own = ct.client("cloudtrail", "eu-west-1").describe_trails(includeShadowTrails=False)["trailList"]
    assert [t["TrailARN"] for t in own] == [single]
    # Another account does not see them.
    other = ct.other_account("111111111111")
    assert other.client("cloudtrail", "eu-west-1").describe_trails()["trailList"] == []


def test_list_trails_lists_every_trail_of_the_account_from_any_region(ct: Aws) -> None:
    multi = make_trail(ct, "org-wide", multi=True)["TrailARN"]
    single = make_trail(ct, "local", "eu-west-1")["TrailARN"]
    for region in ("us-east-1", "ap-south-1"):
        listed = ct.client("cloudtrail", region).list_trails()["Trails"]
        assert {(t["TrailARN"], t["HomeRegion"]) for t in listed} == {
            (multi, "us-east-1"),
            (single, "eu-west-1"),
        }
    # GetTrail by ARN in the home region gives the multi-region flag.
    t = ct.client("cloudtrail", "eu-west-1").get_trail(Name=single)["Trail"]
    assert t["IsMultiRegionTrail"] is False
    assert ct.other_account("111111111111").client("cloudtrail").list_trails()["Trails"] == []


def test_describe_trails_name_list(ct: Aws) -> None:
    multi = make_trail(ct, "org-wide", multi=True)["TrailARN"]
    make_trail(ct, "local", "eu-west-1")
    client = ct.client("cloudtrail", "eu-west-1")
    assert [t["Name"] for t in client.describe_trails(trailNameList=["local"])["trailList"]] == ["local"]
    assert [t["Name"] for t in client.describe_trails(trailNameList=[multi])["trailList"]] == ["org-wide"]
    # A shadow trail is selected by ARN only outside its home region.
    assert client.describe_trails(trailNameList=["org-wide"])["trailList"] == []


def test_logging_start_stop_and_status_from_every_region(ct: Aws) -> None:
    arn = make_trail(ct, "org-wide", multi=True)["TrailARN"]
    home = ct.client("cloudtrail")
    home.start_logging(Name="org-wide")
    assert home.get_trail_status(Name="org-wide")["IsLogging"] is True
    shadow = ct.client("cloudtrail", "eu-west-1")
    assert shadow.get_trail_status(Name=arn)["IsLogging"] is True
    assert shadow.get_event_selectors(TrailName=arn)["EventSelectors"] == DEFAULT_SELECTORS
    assert shadow.get_trail(Name=arn)["Trail"]["TrailARN"] == arn
    # Outside the home region a shadow trail needs its ARN ...
    with pytest.raises(shadow.exceptions.TrailNotFoundException):
        shadow.get_trail_status(Name="org-wide")
    # ... and cannot be changed there.
    for call in (lambda: shadow.stop_logging(Name=arn),
                 lambda: shadow.put_event_selectors(TrailName=arn, EventSelectors=[{"ReadWriteType": "All"}])):  # fmt: skip
        with pytest.raises(shadow.exceptions.InvalidHomeRegionException):
            call()
    home.stop_logging(Name=arn)
    status = home.get_trail_status(Name=arn)
    assert status["IsLogging"] is False and "StopLoggingTime" in status
