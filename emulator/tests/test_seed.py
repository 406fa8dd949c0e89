"""The demo seed: runs, is deterministic, and the API shows the documented postures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import EMULATOR_DIR, start_server

MGMT = "123456789012"


def run_seed(endpoint: str, out_dir: Path) -> tuple[dict, Path]:
    json_out, cfg_out = out_dir / "seed.json", out_dir / "aws-config"
    subprocess.run(
        [sys.executable, "-m", "xray_cmk_emulator.seed", "--endpoint", endpoint,
         "--json-out", str(json_out), "--aws-config-out", str(cfg_out)],
        cwd=EMULATOR_DIR, check=True, timeout=300,
    )  # fmt: skip
    return json.loads(json_out.read_text()), cfg_out


@pytest.fixture(scope="module")
def seeded(endpoint: str, tmp_path_factory) -> tuple[dict, Path, str]:
    out = tmp_path_factory.mktemp("seed")
    data, cfg = run_seed(endpoint, out)
    return data, cfg, (out / "seed.json").read_text()


@pytest.fixture(scope="module")
def auditor(seeded, endpoint: str):
    """boto3 session for profile xray-cmk-demo from the generated config (AssumeRole via source_profile)."""
    _, cfg, _ = seeded
    mp = pytest.MonkeyPatch()
    mp.setenv("AWS_CONFIG_FILE", str(cfg))
    mp.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    mp.setenv("AWS_ENDPOINT_URL", endpoint)
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        mp.delenv(var, raising=False)
    yield boto3.Session(profile_name="xray-cmk-demo")
    mp.undo()


def test_aws_config_file(seeded) -> None:
    _, cfg, _ = seeded
    assert cfg.read_text() == (
        "[profile xray-cmk-demo-admin]\naws_access_key_id = test\naws_secret_access_key = test\nregion = us-east-1\n\n"
        "[profile xray-cmk-demo]\nrole_arn = arn:aws:iam::123456789012:role/XrayCmkAudit\n"
        "source_profile = xray-cmk-demo-admin\nrole_session_name = xray-cmk-audit\nregion = us-east-1\n"
    )


def test_seed_json_summary(seeded) -> None:
    data, _, _ = seeded
    assert data["management_account_id"] == MGMT
    assert data["audit_role_arn"] == "arn:aws:iam::123456789012:role/XrayCmkAudit"
    names = [m["name"] for m in data["member_accounts"]]
    assert names == ["workload-prod", "workload-dev", "security"]
    for m in data["member_accounts"]:
        assert m["role_arn"] == f"arn:aws:iam::{m['account_id']}:role/OrganizationAccountAccessRole"
    assert len(data["keys"]) == 11
    assert {p["expected_posture"] for p in data["region_postures"]} == {
        "customer-managed-key", "explicit-none", "aws-managed-key", "cmk-rotation-disabled",
        "cmk-disabled", "cmk-pending-deletion", "access-denied",
    }  # fmt: skip


def test_seed_is_deterministic_on_a_fresh_server(seeded, tmp_path: Path) -> None:
    _, _, first = seeded
    fresh = start_server(tmp_path)
    try:
        run_seed(fresh.endpoint, tmp_path)
        assert (tmp_path / "seed.json").read_text() == first
    finally:
        assert fresh.stop() == 0


def check_posture(session: boto3.Session, posture: dict, key_by_arn: dict) -> None:
    region = posture["region"]
    cfg_kw = {"config": Config(retries={"max_attempts": 1})}
    xray = session.client("xray", region_name=region, **cfg_kw)
    kms = session.client("kms", region_name=region, **cfg_kw)
    expected = posture["expected_posture"]
    if expected == "access-denied":
        with pytest.raises(ClientError) as exc:
            xray.get_encryption_config()
        assert exc.value.response["Error"]["Code"] == "AccessDeniedException"
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        return
    cfg = xray.get_encryption_config()["EncryptionConfig"]
    assert cfg["Status"] == "ACTIVE"
    if expected == "explicit-none":
        assert cfg == {"Type": "NONE", "Status": "ACTIVE"}
        return
    assert cfg["Type"] == "KMS" and cfg["KeyId"] == posture["key_arn"]
    key = key_by_arn[cfg["KeyId"]]
    meta = kms.describe_key(KeyId=cfg["KeyId"])["KeyMetadata"]
    assert meta["KeySpec"] == "SYMMETRIC_DEFAULT"
    rotation = kms.get_key_rotation_status(KeyId=cfg["KeyId"])
    if expected == "aws-managed-key":
        assert meta["KeyManager"] == "AWS" and meta["KeyState"] == "Enabled"
        assert kms.describe_key(KeyId="alias/aws/xray")["KeyMetadata"]["Arn"] == cfg["KeyId"]
        return
    assert meta["KeyManager"] == "CUSTOMER"
    aliases = [a["AliasName"] for a in kms.list_aliases(KeyId=meta["KeyId"])["Aliases"]]
    assert aliases == [key["alias"]]
    if expected == "customer-managed-key":
        assert meta["KeyState"] == "Enabled"
        assert rotation["KeyRotationEnabled"] is True and rotation["RotationPeriodInDays"] == 365
        tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"]}
        assert tags == {"owner": "platform-security", "data-classification": "confidential"}
        policy = json.loads(kms.get_key_policy(KeyId=meta["KeyId"], PolicyName="default")["Policy"])
        via = [s for s in policy["Statement"] if "kms:ViaService" in json.dumps(s)]
        assert via and f"xray.{region}.amazonaws.com" in json.dumps(via)
    elif expected == "cmk-rotation-disabled":
        assert meta["KeyState"] == "Enabled" and rotation["KeyRotationEnabled"] is False
    elif expected == "cmk-disabled":
        assert meta["KeyState"] == "Disabled"
    elif expected == "cmk-pending-deletion":
        assert meta["KeyState"] == "PendingDeletion" and "DeletionDate" in meta
    else:
        raise AssertionError(expected)


def member_session(auditor: boto3.Session, role_arn: str) -> boto3.Session:
    creds = auditor.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="xray-cmk-audit")["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def test_postures_through_the_api(seeded, auditor: boto3.Session) -> None:
    data, _, _ = seeded
    ident = auditor.client("sts", region_name="us-east-1").get_caller_identity()
    assert ident["Arn"] == "arn:aws:sts::123456789012:assumed-role/XrayCmkAudit/xray-cmk-audit"

    accounts = auditor.client("organizations", region_name="us-east-1").list_accounts()["Accounts"]
    assert {a["Id"] for a in accounts} == {MGMT} | {m["account_id"] for m in data["member_accounts"]}

    regions = auditor.client("account", region_name="us-east-1").list_regions(
        RegionOptStatusContains=["ENABLED", "ENABLED_BY_DEFAULT"]
    )["Regions"]
    assert {"RegionName": "eu-south-1", "RegionOptStatus": "ENABLED"} in regions
    assert len(regions) == 18

    key_by_arn = {k["key_arn"]: k for k in data["keys"]}
    sessions = {MGMT: auditor}
    for m in data["member_accounts"]:
        sessions[m["account_id"]] = member_session(auditor, m["role_arn"])
    checked = set()
    for posture in data["region_postures"]:
        check_posture(sessions[posture["account_id"]], posture, key_by_arn)
        checked.add((posture["account_id"], posture["region"]))

    # Everything else enabled is never configured: default NONE.
    for account_id, session in sessions.items():
        for region in ("us-west-1", "sa-east-1") + (("eu-south-1",) if account_id == MGMT else ()):
            assert (account_id, region) not in checked
            cfg = session.client("xray", region_name=region).get_encryption_config()["EncryptionConfig"]
            assert cfg == {"Type": "NONE", "Status": "ACTIVE"}


def test_denied_region_is_readable_by_the_admin(seeded, endpoint: str) -> None:
    data, _, _ = seeded
    admin = boto3.client("xray", region_name="eu-north-1", endpoint_url=endpoint,
                         aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip
    cfg = admin.get_encryption_config()["EncryptionConfig"]
    hidden = next(p for p in data["region_postures"] if p["account_id"] == MGMT and p["region"] == "eu-north-1")
    assert cfg["Type"] == "KMS" and cfg["KeyId"] == hidden["key_arn"]
