"""bench/seed_synthetic.py: the posture mix, the organization it builds (read back through the APIs),
determinism, and its output files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import seed_synthetic as ss
from conftest import client


def test_posture_mix_for_100_accounts() -> None:
    assert Counter(ss.posture_for(i) for i in range(100)) == {
        ss.CMK: 70, ss.AWS_MANAGED: 10, ss.DEFAULT_NONE: 10, ss.ROTATION_OFF: 5, ss.DISABLED: 3,
        ss.PENDING_DELETION: 2,
    }  # fmt: skip
    assert ss.posture_for(0) == ss.CMK  # the management account


def test_regions_are_the_first_r_default_regions_sorted() -> None:
    assert len(ss.DEFAULT_REGIONS) == 17 and ss.DEFAULT_REGIONS == sorted(ss.DEFAULT_REGIONS)
    assert ss.regions_for(2) == ["ap-northeast-1", "ap-northeast-2"]
    with pytest.raises(ValueError):
        ss.regions_for(18)


def _creds(endpoint: str, account_id: str) -> dict[str, str] | None:
    from conftest import assumed_creds

    return None if account_id == ss.MANAGEMENT_ACCOUNT_ID else assumed_creds(endpoint, account_id)


@pytest.fixture(scope="module")
def seeded(emulator: str) -> dict[str, Any]:
    return ss.seed(emulator, accounts=40, regions=2)  # 40: every posture, pending deletion first at 39


def test_organization_and_ous(emulator: str, seeded: dict[str, Any]) -> None:
    org = client(emulator, "organizations")
    root = seeded["organization"]["root_id"]
    ous = org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]
    top = {ou["Name"]: ou["Id"] for ou in ous}
    assert sorted(top) == ["Security", "Workloads"]
    nested = org.list_organizational_units_for_parent(ParentId=top["Workloads"])["OrganizationalUnits"]
    assert sorted(ou["Name"] for ou in nested) == ["NonProd", "Prod"]
    ou_ids = {ou["name"]: ou["id"] for ou in seeded["ous"]}
    for name in ss.LEAF_OUS:
        members = {a["Id"] for a in org.list_accounts_for_parent(ParentId=ou_ids[name])["Accounts"]}
        assert members == {a["account_id"] for a in seeded["accounts"] if a["ou"] == name}
        assert len(members) == 13
    assert len(org.list_accounts()["Accounts"]) == 40


def test_every_account_region_has_its_posture(emulator: str, seeded: dict[str, Any]) -> None:
    assert seeded["expected"]["targets"] == 80
    assert seeded["expected"]["accounts_by_posture"] == {
        ss.CMK: 28, ss.AWS_MANAGED: 4, ss.DEFAULT_NONE: 4, ss.ROTATION_OFF: 2, ss.DISABLED: 1, ss.PENDING_DELETION: 1
    }
    for acct in seeded["accounts"]:
        creds = _creds(emulator, acct["account_id"])
        kms = client(emulator, "kms", "us-east-1", creds)
        for region in seeded["regions"]:
            cfg = client(emulator, "xray", region, creds).get_encryption_config()["EncryptionConfig"]
            assert cfg["Status"] == "ACTIVE"
            if acct["posture"] == ss.DEFAULT_NONE:
                assert cfg["Type"] == "NONE"
            elif acct["posture"] == ss.AWS_MANAGED:
                meta = client(emulator, "kms", region, creds).describe_key(KeyId=cfg["KeyId"])["KeyMetadata"]
                assert meta["KeyManager"] == "AWS" and cfg["KeyId"].split(":")[3] == region
            else:
                assert cfg == {"Type": "KMS", "KeyId": acct["key_arn"], "Status": "ACTIVE"}
        if acct["key_arn"]:
            meta = kms.describe_key(KeyId=acct["key_arn"])["KeyMetadata"]
            rotation = kms.get_key_rotation_status(KeyId=acct["key_arn"])["KeyRotationEnabled"]
            states = {ss.DISABLED: "Disabled", ss.PENDING_DELETION: "PendingDeletion"}
            expected_state = states.get(acct["posture"], "Enabled")
            assert (meta["KeyManager"], meta["KeyState"]) == ("CUSTOMER", expected_state), acct
            assert rotation is (acct["posture"] != ss.ROTATION_OFF), acct
            assert acct["key_arn"].split(":")[3:5] == ["us-east-1", acct["account_id"]]


def test_seeding_is_deterministic(emulator: str) -> None:
    first, second = ss.seed(emulator, 21, 1), ss.seed(emulator, 21, 1)
    first.pop("seed_seconds"), second.pop("seed_seconds")
    assert first == second


def test_cli_writes_the_aws_config_and_json(emulator: str, tmp_path: Path) -> None:
    outputs = ["--aws-config-out", str(tmp_path / "cfg"), "--json-out", str(tmp_path / "seed.json")]
    assert ss.main(["--endpoint", emulator, "--accounts", "3", "--regions", "1", *outputs]) == 0
    assert (tmp_path / "cfg").read_text() == (
        "[profile bench-admin]\naws_access_key_id = test\naws_secret_access_key = test\nregion = us-east-1\n"
    )
    data = json.loads((tmp_path / "seed.json").read_text())
    assert data["expected"]["targets"] == 3 and data["regions"] == ["ap-northeast-1"]
    assert [a["account_id"] for a in data["accounts"]][0] == "123456789012"


def test_config_targets_are_a_seeded_share() -> None:
    accounts = [f"{i:012d}" for i in range(50)]
    regions = ss.regions_for(17)
    covered, stale = ss.config_targets(accounts, regions, 0.8, 0.1)
    assert len(covered) == 680 and len(stale) == 68 and set(stale) <= set(covered)
    assert covered == sorted(covered) and len(set(covered)) == 680
    assert (covered, stale) == ss.config_targets(accounts, regions, 0.8, 0.1)  # deterministic
    assert ss.config_targets(accounts, regions, 0.0) == ([], [])
    assert len(ss.config_targets(accounts, regions, 1.0)[0]) == 850
    for bad in ((1.2, 0.0), (0.5, -0.1)):
        with pytest.raises(ValueError):
            ss.config_targets(accounts, regions, *bad)


def _aggregated(endpoint: str) -> dict[tuple[str, str], dict[str, Any]]:
    cfg = client(endpoint, "config")
    expr = ("SELECT accountId, awsRegion, configuration, configurationItemCaptureTime, configurationItemStatus "
            "WHERE resourceType = 'AWS::XRay::EncryptionConfig'")  # fmt: skip
    rows, token = [], None
    while True:
        page = cfg.select_aggregate_resource_config(
            ConfigurationAggregatorName=ss.AGGREGATOR, Expression=expr, MaxResults=100,
            **({"NextToken": token} if token else {}),
        )  # fmt: skip
        rows += [json.loads(r) for r in page["Results"]]
        token = page.get("NextToken")
        if not token:
            return {(r["accountId"], r["awsRegion"]): r for r in rows}


def test_config_coverage_records_xray_in_that_share_and_aggregates_it(emulator: str) -> None:
    import datetime as dt

    seeded = ss.seed(emulator, accounts=21, regions=2, config_coverage=0.5, stale_fraction=0.25)
    conf = seeded["config"]
    assert (conf["covered_targets"], conf["stale_targets"], conf["fresh_targets"]) == (21, 5, 16)
    covered, stale = {tuple(t) for t in conf["covered"]}, {tuple(t) for t in conf["stale"]}
    items = _aggregated(emulator)
    assert set(items) == covered  # an item exactly where a recorder runs
    now = dt.datetime.now(dt.timezone.utc)
    by_id = {a["account_id"]: a for a in seeded["accounts"]}
    for (account, region), item in items.items():
        age = now - dt.datetime.fromisoformat(item["configurationItemCaptureTime"].replace("Z", "+00:00"))
        assert (age > dt.timedelta(hours=47)) is ((account, region) in stale), (account, region, age)
        assert item["configurationItemStatus"] == "ResourceDiscovered"
        acct = by_id[account]
        if acct["posture"] == ss.DEFAULT_NONE:
            assert item["configuration"]["type"] == "NONE"
        elif acct["key_arn"]:
            assert item["configuration"] == {"type": "KMS", "status": "ACTIVE", "keyId": acct["key_arn"]}
        else:
            assert item["configuration"]["keyId"].split(":")[3] == region  # the region's AWS managed key
        status = client(emulator, "config", region, _creds(emulator, account)).describe_configuration_recorder_status()
        assert [s["recording"] for s in status["ConfigurationRecordersStatus"]] == [True]
    aggs = client(emulator, "config").describe_configuration_aggregators()["ConfigurationAggregators"]
    assert [(a["ConfigurationAggregatorName"], a["OrganizationAggregationSource"]["AllAwsRegions"]) for a in aggs] == [
        (ss.AGGREGATOR, True)
    ]
    uncovered = next((a, r) for a in by_id for r in seeded["regions"] if (a, r) not in covered)
    status = client(emulator, "config", uncovered[1], _creds(emulator, uncovered[0]))
    assert status.describe_configuration_recorders()["ConfigurationRecorders"] == []


def test_no_config_by_default_and_an_aggregator_on_request(emulator: str) -> None:
    assert ss.seed(emulator, accounts=2, regions=1)["config"] is None
    assert client(emulator, "config").describe_configuration_aggregators()["ConfigurationAggregators"] == []
    conf = ss.seed(emulator, accounts=2, regions=1, aggregator=True)["config"]
    assert conf["covered_targets"] == 0 and _aggregated(emulator) == {}
