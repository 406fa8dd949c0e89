"""The demo seed: runs, is deterministic, and the API shows the documented postures."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from conftest import EMULATOR_DIR, aws_error, start_server

MGMT = "123456789012"
DATA = EMULATOR_DIR / "xray_cmk_emulator" / "data"
TABLE = json.loads((DATA / "demo-posture.json").read_text())  # the posture table the seed reads


def run_seed(endpoint: str, out_dir: Path) -> tuple[dict, Path]:
    json_out, cfg_out, policy_out = out_dir / "seed.json", out_dir / "aws-config", out_dir / "policy.toml"
    subprocess.run(
        [sys.executable, "-m", "xray_cmk_emulator.seed", "--endpoint", endpoint,
         "--json-out", str(json_out), "--aws-config-out", str(cfg_out), "--policy-out", str(policy_out)],
        cwd=EMULATOR_DIR, check=True, timeout=300,
    )  # fmt: skip
    return json.loads(json_out.read_text()), cfg_out


@pytest.fixture(scope="module")
def seeded(endpoint: str, tmp_path_factory) -> tuple[dict, Path, str]:
    out = tmp_path_factory.mktemp("seed")
    data, cfg = run_seed(endpoint, out)
    return data, cfg, (out / "seed.json").read_text()


@pytest.fixture(scope="module")
def policy_text(seeded) -> str:
    _, cfg, _ = seeded
    return (cfg.parent / "policy.toml").read_text()


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
    role = "source_profile = xray-cmk-demo-admin\nrole_session_name = xray-cmk-{}\nregion = us-east-1\n"
    assert cfg.read_text() == (
        "[profile xray-cmk-demo-admin]\naws_access_key_id = test\naws_secret_access_key = test\nregion = us-east-1\n\n"
        "[profile xray-cmk-demo]\nrole_arn = arn:aws:iam::123456789012:role/XrayCmkAudit\n" + role.format("audit") + "\n"
        "[profile xray-cmk-demo-remediate]\nrole_arn = arn:aws:iam::123456789012:role/XrayCmkAdmin\n"
        + role.format("remediate") + "\n"
        "[profile xray-cmk-demo-respond]\nrole_arn = arn:aws:iam::123456789012:role/XrayCmkResponder\n"
        + role.format("respond")
    )


def expected_region_postures(data: dict) -> list[dict]:
    """The seed JSON's region_postures as the posture table defines them (the key ARNs aside)."""
    acct = ids(data)
    out = []
    for e in TABLE["regions"]:
        alias = e["key"]["alias"] if "key" in e else "alias/aws/xray" if e["xray"] == "aws-managed" else None
        out.append(
            {
                "account_id": acct[e["account"]],
                "account_name": e["account"],
                "region": e["region"],
                "expected_posture": e["posture"],
                "xray_type": "KMS" if alias else "NONE",
                "key_alias": alias,
                "note": e["note"],
            }
        )
    return out


GOOD_TAGS = {"owner": "platform-security", "data-classification": "confidential"}


def ids(data: dict) -> dict[str, str]:
    return {"management": MGMT} | {m["name"]: m["account_id"] for m in data["member_accounts"]}


def reachable(data: dict) -> dict[str, str]:
    """The accounts the auditor can get into (all but legacy)."""
    return {"management": MGMT} | {m["name"]: m["account_id"] for m in data["member_accounts"] if m["assumable"]}


def test_seed_json_summary(seeded) -> None:
    data, _, _ = seeded
    assert data["management_account_id"] == MGMT
    assert data["audit_role_arn"] == "arn:aws:iam::123456789012:role/XrayCmkAudit"
    names = [m["name"] for m in data["member_accounts"]]
    assert names == ["workload-prod", "workload-dev", "security", "legacy"]
    for m in data["member_accounts"]:
        assert m["role_arn"] == f"arn:aws:iam::{m['account_id']}:role/OrganizationAccountAccessRole"
        assert m["email"] == f"{m['name']}@example.com"
        assert m["assumable"] is (m["name"] != "legacy")
    assert len(data["keys"]) == 18
    assert [{k: v for k, v in p.items() if k != "key_arn"} for p in data["region_postures"]] == expected_region_postures(data)
    assert data["default_posture"]["expected_posture"] == TABLE["default"]["posture"] == "default-none"
    role = {m["name"]: m["role_arn"] for m in data["member_accounts"]}
    assert data["access_denied"] == [
        {"principal": data["audit_role_arn"] if e["denied"] == "audit-role" else role[e["account"]],
         "account_id": ids(data)[e["account"]], "region": e["region"]}
        for e in TABLE["regions"] if e.get("denied")
    ]  # fmt: skip
    for key in data["keys"]:
        assert set(key) >= {"tags", "policy_sid_list", "rotation_period_in_days", "aliases", "key_state", "key_manager"}
        assert key["aliases"] == [key["alias"]]
    assert [(t["account_name"], t["name"]) for t in data["trails"]] == [
        ("management", "management-write-only"), ("management", "us-east-1-all"),
        ("management", "eu-west-1-advanced"), ("management", "eu-west-2-no-kms"),
        ("management", "ap-south-1-stopped"), ("security", "security-all"),
    ]  # fmt: skip
    dests = {(d["account_id"], d["region"]): (d["destination"], d["status"], d["spans_kms_key_alias"])
             for d in data["segment_destinations"]}  # fmt: skip
    assert dests == {
        (MGMT, "us-east-1"): ("CloudWatchLogs", "ACTIVE", "alias/xray-cmk-good"),
        (MGMT, "eu-west-1"): ("CloudWatchLogs", "ACTIVE", None),
        (MGMT, "eu-west-3"): ("CloudWatchLogs", "ACTIVE", "alias/team-x-traces"),
    }


def test_seed_is_deterministic_on_a_fresh_server(seeded, policy_text: str, tmp_path: Path) -> None:
    _, _, first = seeded
    fresh = start_server(tmp_path)
    try:
        run_seed(fresh.endpoint, tmp_path)
        assert (tmp_path / "seed.json").read_text() == first
        assert (tmp_path / "policy.toml").read_text() == policy_text
    finally:
        assert fresh.stop() == 0


def test_policy_file(seeded, policy_text: str) -> None:
    data, _, _ = seeded
    acct = ids(data)
    assert tomllib.loads(policy_text) == {
        "rotation": {"max_period_days": 365},
        "tags": {
            "required": ["owner", "data-classification"],
            "values": {"owner": "platform-security", "data-classification": "confidential"},
        },
        "keys": {"approved": ["alias/xray-cmk-*"], "alias": "alias/xray-cmk-traces"},
        "access": {
            "key_admins": ["arn:aws:iam::{account}:role/KeyAdmin"],
            "xray_admins": ["arn:aws:iam::{account}:role/XrayAdmin"],
            "trace_readers": ["arn:aws:iam::{account}:role/TraceReader"],
            "cross_account_readers": [f"arn:aws:iam::{acct['security']}:role/SecurityAudit"],
            "trusted_accounts": [MGMT, acct["workload-prod"], acct["workload-dev"], acct["security"], acct["legacy"]],
        },
        "exemptions": [
            {"account": acct["workload-dev"], "region": "us-east-1", "rule": "kms-rotation-disabled",
             "reason": "dev sandbox keys are rebuilt every quarter", "expires": datetime.date(2099, 12, 31)},
            {"account": acct["workload-prod"], "region": "eu-west-1", "rule": "xray-aws-managed-key",
             "reason": "migration to a CMK planned for Q1", "expires": datetime.date(2026, 1, 31)},
        ],
    }  # fmt: skip
    assert policy_text.lstrip().startswith("#")  # commented


# --- key policies, as the brief specifies them (A = account, R = region, S = security account) ---


def spec_statements(a: str, r: str, s: str) -> dict[str, dict]:
    via = {"StringEquals": {"kms:ViaService": f"xray.{r}.amazonaws.com"}}
    return {
        "EnableRootAccess": {"Sid": "EnableRootAccess", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{a}:root"},
                             "Action": "kms:*", "Resource": "*"},
        "KeyAdministrators": {"Sid": "KeyAdministrators", "Effect": "Allow",
                              "Principal": {"AWS": f"arn:aws:iam::{a}:role/KeyAdmin"},
                              "Action": ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*",
                                         "kms:Update*", "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*",
                                         "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion",
                                         "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand"],
                              "Resource": "*"},
        "XRayConfigureGrant": {"Sid": "XRayConfigureGrant", "Effect": "Allow",
                               "Principal": {"AWS": f"arn:aws:iam::{a}:role/XrayAdmin"}, "Action": "kms:CreateGrant",
                               "Resource": "*",
                               "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"},
                                             "StringEquals": {"kms:ViaService": f"xray.{r}.amazonaws.com"}}},
        "XRayConfigureDescribe": {"Sid": "XRayConfigureDescribe", "Effect": "Allow",
                                  "Principal": {"AWS": f"arn:aws:iam::{a}:role/XrayAdmin"},
                                  "Action": "kms:DescribeKey", "Resource": "*"},
        "TraceReaders": {"Sid": "TraceReaders", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{a}:role/TraceReader"},
                         "Action": "kms:Decrypt", "Resource": "*", "Condition": via},
        "CrossAccountSecurityReaders": {"Sid": "CrossAccountSecurityReaders", "Effect": "Allow",
                                        "Principal": {"AWS": f"arn:aws:iam::{s}:role/SecurityAudit"},
                                        "Action": "kms:Decrypt", "Resource": "*", "Condition": via},
    }  # fmt: skip


def expected_policy(posture: str, a: str, r: str, s: str) -> dict:
    if posture == "cmk-default-policy":
        return {"Version": "2012-10-17", "Id": "key-default-1", "Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{a}:root"},
             "Action": "kms:*", "Resource": "*"}]}  # fmt: skip
    stmts = spec_statements(a, r, s)
    if posture == "cmk-locked":
        statements = [stmts["KeyAdministrators"], stmts["TraceReaders"], stmts["CrossAccountSecurityReaders"]]
    else:
        statements = list(stmts.values())
    if posture == "cmk-cross-account":
        statements.append({"Sid": "UnknownPartner", "Effect": "Allow",
                           "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "kms:Decrypt",
                           "Resource": "*"})  # fmt: skip
    if posture == "cmk-public":
        statements.append({"Sid": "OpenDecrypt", "Effect": "Allow", "Principal": {"AWS": "*"},
                           "Action": "kms:Decrypt", "Resource": "*"})  # fmt: skip
    return {"Version": "2012-10-17", "Id": "xray-cmk", "Statement": statements}


def check_key(kms, key: dict, security_id: str, iam_only_kms=None) -> None:
    """Everything about a CMK from the API, against the brief's definition of its posture.

    ``iam_only_kms``: the client for ListAliases, which IAM alone decides (default ``kms``)."""
    posture = key["expected_posture"]
    meta = kms.describe_key(KeyId=key["key_arn"])["KeyMetadata"]
    assert meta["KeyManager"] == "CUSTOMER" and meta["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert meta["KeyUsage"] == "ENCRYPT_DECRYPT"
    state = {"cmk-disabled": "Disabled", "cmk-pending-deletion": "PendingDeletion"}.get(posture, "Enabled")
    assert meta["KeyState"] == state == key["key_state"]
    if state == "PendingDeletion":
        assert "DeletionDate" in meta
    rotation = kms.get_key_rotation_status(KeyId=key["key_arn"])
    if posture == "cmk-rotation-disabled":
        assert rotation["KeyRotationEnabled"] is False and "RotationPeriodInDays" not in rotation
        assert (key["rotation_enabled"], key["rotation_period_in_days"]) == (False, None)
    else:
        period = 730 if posture == "cmk-slow-rotation" else 365
        assert rotation["KeyRotationEnabled"] is True and rotation["RotationPeriodInDays"] == period
        assert (key["rotation_enabled"], key["rotation_period_in_days"]) == (True, period)
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"]}
    assert tags == ({"owner": ""} if posture == "cmk-untagged" else GOOD_TAGS) == key["tags"]
    policy = json.loads(kms.get_key_policy(KeyId=meta["KeyId"], PolicyName="default")["Policy"])
    assert policy == expected_policy(posture, key["account_id"], key["region"], security_id)
    assert key["policy_sid_list"] == [st["Sid"] for st in policy["Statement"]]
    aliases = [a["AliasName"] for a in (iam_only_kms or kms).list_aliases(KeyId=meta["KeyId"])["Aliases"]]
    assert aliases == key["aliases"] == [key["alias"]]


def check_posture(
    session: boto3.Session, posture: dict, key_by_arn: dict, security_id: str, key_admin: Callable[[], boto3.Session]
) -> None:
    region = posture["region"]
    cfg_kw = {"config": Config(retries={"max_attempts": 1})}
    xray = session.client("xray", region_name=region, **cfg_kw)
    kms = session.client("kms", region_name=region, **cfg_kw)
    expected = posture["expected_posture"]
    if expected == "access-denied":
        with aws_error("AccessDeniedException", 403):
            xray.get_encryption_config()
        return
    cfg = xray.get_encryption_config()["EncryptionConfig"]
    assert cfg["Status"] == "ACTIVE"
    if expected == "explicit-none":
        assert cfg == {"Type": "NONE", "Status": "ACTIVE"}
        return
    assert cfg["Type"] == "KMS" and cfg["KeyId"] == posture["key_arn"]
    key = key_by_arn[cfg["KeyId"]]
    assert key["expected_posture"] == expected
    if expected == "aws-managed-key":
        meta = kms.describe_key(KeyId=cfg["KeyId"])["KeyMetadata"]
        assert meta["KeyManager"] == "AWS" == key["key_manager"] and meta["KeyState"] == "Enabled"
        assert kms.describe_key(KeyId="alias/aws/xray")["KeyMetadata"]["Arn"] == cfg["KeyId"]
        assert key["aliases"] == ["alias/aws/xray"] and key["tags"] == {}
        return
    if expected == "cmk-locked":
        # Its policy names neither the account nor the auditor: as on AWS, only the principals it
        # names (KeyAdmin here) may read the key.
        with aws_error("AccessDeniedException", 400):
            kms.describe_key(KeyId=cfg["KeyId"])
        check_key(key_admin().client("kms", region_name=region, **cfg_kw), key, security_id, kms)
        return
    check_key(kms, key, security_id)


def member_session(auditor: boto3.Session, role_arn: str, session_name: str = "xray-cmk-audit") -> boto3.Session:
    creds = auditor.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


@pytest.fixture(scope="module")
def sessions(seeded, auditor: boto3.Session) -> dict[str, boto3.Session]:
    """What the audit sees: the audit role, and in each member the role it assumes there."""
    data, _, _ = seeded
    out = {MGMT: auditor}
    for m in data["member_accounts"]:
        if m["assumable"]:
            out[m["account_id"]] = member_session(auditor, m["role_arn"])
    return out


@pytest.fixture(scope="module")
def admin_sessions(seeded, auditor: boto3.Session) -> dict[str, boto3.Session]:
    """What is there, read with more than the audit role may call: the management account's root
    (profile xray-cmk-demo-admin), and the members' OrganizationAccountAccessRole assumed from it.
    (``auditor`` for the environment that points boto3 at the emulator.)"""
    data, _, _ = seeded
    root = boto3.Session(profile_name="xray-cmk-demo-admin")
    out = {MGMT: root}
    for m in data["member_accounts"]:
        if m["assumable"]:
            out[m["account_id"]] = member_session(root, m["role_arn"])
    return out


def test_postures_through_the_api(seeded, auditor: boto3.Session, sessions, admin_sessions) -> None:
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
    security_id = ids(data)["security"]
    checked = set()
    for posture in data["region_postures"]:
        account_id = posture["account_id"]

        def key_admin() -> boto3.Session:
            return member_session(admin_sessions[account_id], f"arn:aws:iam::{account_id}:role/KeyAdmin", "test")

        check_posture(sessions[account_id], posture, key_by_arn, security_id, key_admin)
        checked.add((posture["account_id"], posture["region"]))

    # Everything else enabled is never configured: default NONE.
    for account_id, session in sessions.items():
        for region in ("us-west-1", "ap-northeast-3") + (("eu-south-1",) if account_id == MGMT else ()):
            assert (account_id, region) not in checked
            cfg = session.client("xray", region_name=region).get_encryption_config()["EncryptionConfig"]
            assert cfg == {"Type": "NONE", "Status": "ACTIVE"}


def test_denied_region_key_is_good(seeded, endpoint: str) -> None:
    """The region hidden from the auditor (eu-north-1) holds a good CMK; checked with the admin credentials."""
    data, _, _ = seeded
    (region,) = [e["region"] for e in TABLE["regions"] if e.get("denied") == "audit-role"]
    admin = dict(region_name=region, endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test")
    cfg = boto3.client("xray", **admin).get_encryption_config()["EncryptionConfig"]
    hidden = next(p for p in data["region_postures"] if p["account_id"] == MGMT and p["region"] == region)
    assert cfg["Type"] == "KMS" and cfg["KeyId"] == hidden["key_arn"]
    key = next(k for k in data["keys"] if k["key_arn"] == hidden["key_arn"])
    check_key(boto3.client("kms", **admin), dict(key, expected_posture="customer-managed-key"), ids(data)["security"])


def test_key_policy_roles_exist(seeded, admin_sessions) -> None:
    data, _, _ = seeded
    acct = reachable(data)
    for name, account_id in acct.items():
        iam = admin_sessions[account_id].client("iam", region_name="us-east-1")
        roles = {"KeyAdmin", "XrayAdmin", "TraceReader"} | ({"SecurityAudit"} if name == "security" else set())
        for role in roles:
            arn = iam.get_role(RoleName=role)["Role"]["Arn"]
            assert arn == f"arn:aws:iam::{account_id}:role/{role}" and arn in data["key_policy_roles"]
        if name != "security":
            with aws_error("NoSuchEntity", 404):
                iam.get_role(RoleName="SecurityAudit")


TOOL_ROLES = {
    # mode: (role, managed policy, profile)
    "audit": ("XrayCmkAudit", "XrayCmkAudit", "xray-cmk-demo"),
    "remediate": ("XrayCmkAdmin", "XrayCmkRemediate", "xray-cmk-demo-remediate"),
    "respond": ("XrayCmkResponder", "XrayCmkRespond", "xray-cmk-demo-respond"),
}


def test_tool_roles_have_what_iam_policy_prints(seeded, admin_sessions) -> None:
    """Each tool role trusts the account root and holds one managed policy, the committed output of
    `xray-cmk iam-policy --mode MODE` (crates/xray-cmk/tests/iam_policy_files.rs holds the files to
    the binary); the audit role's only other policy is its inline Deny of eu-north-1."""
    data, _, _ = seeded
    iam = admin_sessions[MGMT].client("iam", region_name="us-east-1")
    assert data["aws_profiles"] == {"admin": "xray-cmk-demo-admin"} | {m: p for m, (_, _, p) in TOOL_ROLES.items()}
    assert [r["mode"] for r in data["tool_roles"]] == list(TOOL_ROLES)
    for entry in data["tool_roles"]:
        role_name, policy_name, profile = TOOL_ROLES[entry["mode"]]
        policy_arn = f"arn:aws:iam::{MGMT}:policy/{policy_name}"
        assert entry == {
            "mode": entry["mode"], "role_name": role_name, "role_arn": f"arn:aws:iam::{MGMT}:role/{role_name}",
            "profile": profile, "managed_policies": [policy_arn],
            "inline_policies": ["DenyEuNorth1"] if entry["mode"] == "audit" else [],
        }  # fmt: skip
        role = iam.get_role(RoleName=role_name)["Role"]
        assert role["AssumeRolePolicyDocument"]["Statement"] == [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{MGMT}:root"}, "Action": "sts:AssumeRole"}
        ]
        attached = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
        assert attached == [{"PolicyName": policy_name, "PolicyArn": policy_arn}]
        version = iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=policy_arn, VersionId=version)["PolicyVersion"]["Document"]
        assert document == json.loads((DATA / f"iam-policy-{entry['mode']}.json").read_text())
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow" and "*" not in statement["Action"], statement
    deny = iam.get_role_policy(RoleName="XrayCmkAudit", PolicyName="DenyEuNorth1")["PolicyDocument"]
    assert deny["Statement"] == [
        {"Sid": "DenyEuNorth1", "Effect": "Deny", "Action": "*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-north-1"}}}
    ]  # fmt: skip


@pytest.mark.parametrize("mode", list(TOOL_ROLES))
def test_tool_profiles_assume_their_roles(seeded, auditor, mode: str) -> None:
    role_name, _, profile = TOOL_ROLES[mode]
    ident = boto3.Session(profile_name=profile).client("sts", region_name="us-east-1").get_caller_identity()
    assert ident["Arn"] == f"arn:aws:sts::{MGMT}:assumed-role/{role_name}/xray-cmk-{mode}"


WRITE_ONLY = [{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True, "DataResources": [],
               "ExcludeManagementEventSources": []}]  # fmt: skip
ALL = [{"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": [], "ExcludeManagementEventSources": []}]
NO_KMS = [{"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": [],
           "ExcludeManagementEventSources": ["kms.amazonaws.com"]}]  # fmt: skip
ADVANCED = [{"Name": "Management events", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}]
TRAILS = {
    # name: (home region, multi-region, logging, selectors as GetEventSelectors returns them)
    "management-write-only": ("us-east-1", True, True, {"EventSelectors": WRITE_ONLY}),
    "us-east-1-all": ("us-east-1", False, True, {"EventSelectors": ALL}),
    "eu-west-1-advanced": ("eu-west-1", False, True, {"AdvancedEventSelectors": ADVANCED}),
    "eu-west-2-no-kms": ("eu-west-2", False, True, {"EventSelectors": NO_KMS}),
    "ap-south-1-stopped": ("ap-south-1", False, False, {"EventSelectors": ALL}),
    "security-all": ("us-east-1", True, True, {"EventSelectors": ALL}),
}


def test_trails_through_the_api(seeded, admin_sessions) -> None:
    data, _, _ = seeded
    acct = reachable(data)
    owner = {"security-all": acct["security"]}
    by_name = {t["name"]: t for t in data["trails"]}
    assert set(by_name) == set(TRAILS)
    denied = {(e["account"], e["region"]) for e in TABLE["regions"] if e.get("denied") == "member-role"}
    for region in ("us-east-1", "eu-west-1", "eu-west-2", "ap-south-1", "ap-northeast-1", "eu-north-1"):
        for name, account_id in acct.items():
            if (name, region) in denied:
                continue  # OrganizationAccountAccessRole is denied there
            ct = admin_sessions[account_id].client("cloudtrail", region_name=region)
            listed = {t["Name"]: t for t in ct.describe_trails()["trailList"]}
            expected = {
                n for n, (home, multi, _, _) in TRAILS.items()
                if owner.get(n, MGMT) == account_id and (multi or home == region)
            }  # fmt: skip
            assert set(listed) == expected, (name, region)
            for trail_name, desc in listed.items():
                home, multi, logging, selectors = TRAILS[trail_name]
                entry = by_name[trail_name]
                assert desc["TrailARN"] == entry["trail_arn"] == f"arn:aws:cloudtrail:{home}:{account_id}:trail/{trail_name}"
                assert (desc["HomeRegion"], desc["IsMultiRegionTrail"], desc["IsOrganizationTrail"]) == (home, multi, False)
                assert ct.get_trail_status(Name=desc["TrailARN"])["IsLogging"] is logging
                got = ct.get_event_selectors(TrailName=desc["TrailARN"])
                got.pop("ResponseMetadata")
                assert got == {"TrailARN": desc["TrailARN"], **selectors}
                assert (entry["home_region"], entry["multi_region"], entry["logging"]) == (home, multi, logging)
                kind = "advanced" if "AdvancedEventSelectors" in selectors else "basic"
                assert entry["selectors"]["type"] == kind
    assert {n for n, t in by_name.items() if t["records_kms_decrypt"]} == {
        "us-east-1-all", "eu-west-1-advanced", "ap-south-1-stopped", "security-all"
    }


def test_segment_destinations_through_the_api(seeded, sessions) -> None:
    data, _, _ = seeded
    key_arn = {(k["account_id"], k["region"], k["alias"]): k["key_arn"] for k in data["keys"]}
    expected = {
        "us-east-1": key_arn[(MGMT, "us-east-1", "alias/xray-cmk-good")],
        "eu-west-1": None,
        "eu-west-3": key_arn[(MGMT, "eu-west-3", "alias/team-x-traces")],
    }
    entries = {d["region"]: d for d in data["segment_destinations"]}
    for account_id, session in sessions.items():
        for region in ("us-east-1", "us-east-2", "eu-west-1", "eu-west-3", "ap-south-1", "sa-east-1"):
            dest = session.client("xray", region_name=region).get_trace_segment_destination()
            groups = session.client("logs", region_name=region).describe_log_groups()["logGroups"]
            spans = [g for g in groups if g["logGroupName"] == "aws/spans"]
            if account_id == MGMT and region in expected:
                assert (dest["Destination"], dest["Status"]) == ("CloudWatchLogs", "ACTIVE")
                assert len(spans) == 1 and spans[0].get("kmsKeyId") == expected[region]
                assert entries[region]["spans_kms_key_arn"] == expected[region]
                assert entries[region]["destination"] == "CloudWatchLogs"
            else:
                assert (dest["Destination"], dest["Status"]) == ("XRay", "ACTIVE")
                assert spans == []


def test_organizational_units(seeded, admin_sessions) -> None:
    """OUs under the root, read through Organizations; the management account stays in the root."""
    data, _, _ = seeded
    acct = ids(data)
    org = admin_sessions[MGMT].client("organizations", region_name="us-east-1")
    root_id = org.list_roots()["Roots"][0]["Id"]
    assert [a["Id"] for a in org.list_accounts_for_parent(ParentId=root_id)["Accounts"]] == [MGMT]
    top = {ou["Name"]: ou["Id"] for ou in org.list_organizational_units_for_parent(ParentId=root_id)["OrganizationalUnits"]}
    assert set(top) == {"workloads", "security"}
    nested = org.list_organizational_units_for_parent(ParentId=top["workloads"])["OrganizationalUnits"]
    assert [ou["Name"] for ou in nested] == ["sandbox"]
    assert org.list_organizational_units_for_parent(ParentId=top["security"])["OrganizationalUnits"] == []
    ou_ids = top | {"sandbox": nested[0]["Id"]}
    assert data["organizational_units"] == [
        {"name": "workloads", "id": ou_ids["workloads"], "parent_id": root_id,
         "account_ids": [acct["workload-prod"], acct["workload-dev"]]},
        {"name": "security", "id": ou_ids["security"], "parent_id": root_id, "account_ids": [acct["security"]]},
        {"name": "sandbox", "id": ou_ids["sandbox"], "parent_id": ou_ids["workloads"], "account_ids": [acct["legacy"]]},
    ]  # fmt: skip
    for ou in data["organizational_units"]:
        listed = org.list_accounts_for_parent(ParentId=ou["id"])["Accounts"]
        assert [a["Id"] for a in listed] == ou["account_ids"]
        for account_id in ou["account_ids"]:
            assert org.list_parents(ChildId=account_id)["Parents"] == [{"Id": ou["id"], "Type": "ORGANIZATIONAL_UNIT"}]
    legacy = org.describe_account(AccountId=acct["legacy"])["Account"]
    assert (legacy["Name"], legacy["Email"], legacy["Status"]) == ("legacy", "legacy@example.com", "ACTIVE")


def test_legacy_member_cannot_be_assumed(seeded, auditor: boto3.Session, endpoint: str) -> None:
    """Its OrganizationAccountAccessRole trusts only 999999999999: AssumeRole is AccessDenied, as on AWS."""
    data, _, _ = seeded
    legacy = next(m for m in data["member_accounts"] if m["name"] == "legacy")
    admin = dict(region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test")
    for caller, caller_arn in (
        (auditor.client("sts", region_name="us-east-1"), "arn:aws:sts::123456789012:assumed-role/XrayCmkAudit/xray-cmk-audit"),
        (boto3.client("sts", **admin), "arn:aws:iam::123456789012:root"),
    ):  # fmt: skip
        with aws_error("AccessDenied", 403) as exc:
            caller.assume_role(RoleArn=legacy["role_arn"], RoleSessionName="xray-cmk-audit")
        assert exc.value.response["Error"]["Message"] == (
            f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {legacy['role_arn']}"
        )
    # Seen from inside (its root, via moto's account header): the trust policy, and nothing configured.
    inside = boto3.Session(**{k: v for k, v in admin.items() if k != "endpoint_url"})

    def client(service: str, region: str = "us-east-1"):
        c = inside.client(service, region_name=region, endpoint_url=endpoint)
        c.meta.events.register(
            "before-sign", lambda request, **_: request.headers.__setitem__("x-moto-account-id", legacy["account_id"])
        )
        return c

    role = client("iam").get_role(RoleName="OrganizationAccountAccessRole")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole"}
    ]
    for region in ("us-east-1", "eu-west-1"):
        assert client("xray", region).get_encryption_config()["EncryptionConfig"] == {"Type": "NONE", "Status": "ACTIVE"}
        assert client("kms", region).list_keys()["Keys"] == []
        assert client("cloudtrail", region).describe_trails()["trailList"] == []
    assert not any(legacy["account_id"] in arn for arn in data["key_policy_roles"])
    for entries in ("region_postures", "keys", "trails", "segment_destinations"):
        assert all(e["account_id"] != legacy["account_id"] for e in data[entries]), entries
