"""Account ListRegions / GetRegionOptStatus / EnableRegion / DisableRegion."""

from __future__ import annotations

import botocore.loaders
import pytest
from conftest import Aws, aws_error

ALL_AWS_REGIONS = sorted(
    next(p for p in botocore.loaders.create_loader().load_data("endpoints")["partitions"] if p["partition"] == "aws")[
        "regions"
    ]
)


def test_list_regions_returns_the_aws_partition(aws: Aws) -> None:
    regions = aws.client("account").list_regions()["Regions"]
    assert [r["RegionName"] for r in regions] == ALL_AWS_REGIONS
    status = {r["RegionName"]: r["RegionOptStatus"] for r in regions}
    assert status["us-east-1"] == "ENABLED_BY_DEFAULT"
    assert status["eu-north-1"] == "ENABLED_BY_DEFAULT"
    assert status["eu-south-1"] == "DISABLED"
    assert status["af-south-1"] == "DISABLED"
    assert set(status.values()) == {"ENABLED_BY_DEFAULT", "DISABLED"}


def test_pagination(aws: Aws) -> None:
    account = aws.client("account")
    first = account.list_regions(MaxResults=5)
    assert len(first["Regions"]) == 5 and first["NextToken"]
    seen, token = list(first["Regions"]), first["NextToken"]
    while token:
        page = account.list_regions(MaxResults=5, NextToken=token)
        assert len(page["Regions"]) <= 5
        seen += page["Regions"]
        token = page.get("NextToken")
    assert [r["RegionName"] for r in seen] == ALL_AWS_REGIONS
    # The SDK paginator agrees.
    pages = account.get_paginator("list_regions").paginate(PaginationConfig={"PageSize": 7})
    assert [r["RegionName"] for p in pages for r in p["Regions"]] == ALL_AWS_REGIONS


@pytest.mark.parametrize("max_results", [0, 51])
def test_max_results_out_of_range(aws: Aws, max_results: int) -> None:
    account = aws.client("account", validate=False)
    with aws_error("ValidationException", 400):
        account.list_regions(MaxResults=max_results)


def test_bad_next_token(aws: Aws) -> None:
    account = aws.client("account")
    with pytest.raises(account.exceptions.ValidationException):
        account.list_regions(NextToken="not-a-token")


def test_enable_region_and_filter(aws: Aws) -> None:
    account = aws.client("account")
    assert account.get_region_opt_status(RegionName="eu-south-1")["RegionOptStatus"] == "DISABLED"
    account.enable_region(RegionName="eu-south-1")
    assert account.get_region_opt_status(RegionName="eu-south-1") | {"ResponseMetadata": None} == {
        "RegionName": "eu-south-1",
        "RegionOptStatus": "ENABLED",
        "ResponseMetadata": None,
    }
    enabled = account.list_regions(RegionOptStatusContains=["ENABLED"])["Regions"]
    assert enabled == [{"RegionName": "eu-south-1", "RegionOptStatus": "ENABLED"}]
    usable = account.list_regions(RegionOptStatusContains=["ENABLED", "ENABLED_BY_DEFAULT"])["Regions"]
    assert len(usable) == 18 and "eu-south-1" in {r["RegionName"] for r in usable}
    account.disable_region(RegionName="eu-south-1")
    assert account.get_region_opt_status(RegionName="eu-south-1")["RegionOptStatus"] == "DISABLED"


def test_default_regions_cannot_be_toggled(aws: Aws) -> None:
    account = aws.client("account")
    with aws_error("ValidationException", 400):
        account.enable_region(RegionName="us-east-1")
    with pytest.raises(account.exceptions.ValidationException):
        account.get_region_opt_status(RegionName="mars-north-1")


def test_opt_in_is_per_account(aws: Aws) -> None:
    aws.client("account").enable_region(RegionName="me-south-1")
    other = aws.other_account("222222222222")
    assert other.client("account").get_region_opt_status(RegionName="me-south-1")["RegionOptStatus"] == "DISABLED"


def test_management_account_may_target_a_member(aws: Aws) -> None:
    org = aws.client("organizations")
    org.create_organization(FeatureSet="ALL")
    member = org.create_account(AccountName="m", Email="m@example.com")["CreateAccountStatus"]["AccountId"]
    account = aws.client("account")
    account.enable_region(AccountId=member, RegionName="ap-east-1")
    assert account.get_region_opt_status(AccountId=member, RegionName="ap-east-1")["RegionOptStatus"] == "ENABLED"
    assert account.get_region_opt_status(RegionName="ap-east-1")["RegionOptStatus"] == "DISABLED"
    with aws_error("AccessDeniedException", 403):
        account.list_regions(AccountId="999999999999")
