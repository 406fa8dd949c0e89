"""Seed a running emulator with the deterministic xray-cmk demo organization.

    python -m xray_cmk_emulator.seed --endpoint http://127.0.0.1:PORT \
        [--aws-config-out PATH] [--json-out PATH] [--policy-out PATH] [--no-reset]

Everything goes through the public APIs with boto3 (credentials test/test), as a
real operator would do it. The server is reset and its random generator seeded
(``/moto-api/seed?a=42``) first, so account ids and key ids are identical on
every run against a fresh (or reset) server. The JSON output is read back
through the APIs (key state, rotation, tags, policy Sids, aliases, trails,
segment destinations), so it describes what the emulator actually serves.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

DATA_DIR = Path(__file__).resolve().parent / "data"


def demo_posture() -> dict[str, Any]:
    """The posture table (data/demo-posture.json): what is seeded where, and what the audit reports."""
    return json.loads((DATA_DIR / "demo-posture.json").read_text())


def tool_policy(mode: str) -> str:
    """``xray-cmk iam-policy --mode MODE`` as committed (data/iam-policy-MODE.json, held to the binary)."""
    return (DATA_DIR / f"iam-policy-{mode}.json").read_text()


MANAGEMENT_ACCOUNT_ID = "123456789012"  # moto's default account
HOME_REGION = "us-east-1"
RANDOM_SEED = 42
MEMBER_ROLE_NAME = "OrganizationAccountAccessRole"
AUDIT_ROLE_NAME = "XrayCmkAudit"
OPT_IN_REGION = "eu-south-1"
ADMIN_PROFILE = "xray-cmk-demo-admin"  # static test credentials: the management account's root
AUDIT_PROFILE = "xray-cmk-demo"
# The roles xray-cmk runs as, in the management account (trusting its root), each with the managed
# policy `xray-cmk iam-policy --mode MODE` prints: (mode, role, managed policy, profile, session name).
TOOL_ROLES = (
    ("audit", AUDIT_ROLE_NAME, "XrayCmkAudit", AUDIT_PROFILE, "xray-cmk-audit"),
    ("remediate", "XrayCmkAdmin", "XrayCmkRemediate", "xray-cmk-demo-remediate", "xray-cmk-remediate"),
    ("respond", "XrayCmkResponder", "XrayCmkRespond", "xray-cmk-demo-respond", "xray-cmk-respond"),
)
MEMBERS = ("workload-prod", "workload-dev", "security")
SECURITY_MEMBER = "security"
# Added after everything else, so the ids above do not move: the 4th member, whose
# OrganizationAccountAccessRole trusts only an account outside the organization.
LEGACY_MEMBER = "legacy"
LEGACY_TRUSTED_ACCOUNT = "999999999999"
# Organizational units, in creation order: (name, parent OU name or None for the root, member names).
ORGANIZATIONAL_UNITS = (
    ("workloads", None, ("workload-prod", "workload-dev")),
    ("security", None, ("security",)),
    ("sandbox", "workloads", (LEGACY_MEMBER,)),
)
UNKNOWN_PARTNER_ACCOUNT = "444455556666"  # outside the organization
KEY_ROLES = ("KeyAdmin", "XrayAdmin", "TraceReader")
SECURITY_ROLE = "SecurityAudit"
GOOD_ROTATION_DAYS = 365
PENDING_WINDOW_DAYS = 7
SPANS_LOG_GROUP = "aws/spans"

APPROVED_ALIASES = ["alias/xray-cmk-*"]
SUGGESTED_ALIAS = "alias/xray-cmk-traces"  # matches APPROVED_ALIASES, as a remediated key must
REQUIRED_TAGS = ["owner", "data-classification"]
GOOD_TAGS = {"owner": "platform-security", "data-classification": "confidential"}
UNTAGGED_TAGS = {"owner": ""}

KEY_ADMIN_ACTIONS = [
    "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
    "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
    "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand",
]  # fmt: skip


def _sid(text: str) -> str:
    return "".join(ch for ch in text.title() if ch.isalnum())


def _allow_all_policy() -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    )


def _deny_region_policy(region: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": f"Deny{_sid(region)}",
                    "Effect": "Deny",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
                }
            ],
        }
    )


def _denied_region(entries: list[dict[str, Any]], principal: str) -> str:
    """The one region of the posture table whose explicit Deny is on ``principal``."""
    (region,) = [e["region"] for e in entries if e.get("denied") == principal]
    return region


def _trust_root(account_id: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


# --- key policies ------------------------------------------------------------


def _role(account_id: str, name: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{name}"


def _statements(account_id: str, region: str, security_id: str) -> dict[str, dict[str, Any]]:
    via_xray = {"StringEquals": {"kms:ViaService": f"xray.{region}.amazonaws.com"}}
    return {
        "EnableRootAccess": {
            "Sid": "EnableRootAccess",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        "KeyAdministrators": {
            "Sid": "KeyAdministrators",
            "Effect": "Allow",
            "Principal": {"AWS": _role(account_id, "KeyAdmin")},
            "Action": list(KEY_ADMIN_ACTIONS),
            "Resource": "*",
        },
        "XRayConfigureGrant": {
            "Sid": "XRayConfigureGrant",
            "Effect": "Allow",
            "Principal": {"AWS": _role(account_id, "XrayAdmin")},
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": {
                "Bool": {"kms:GrantIsForAWSResource": "true"},
                "StringEquals": {"kms:ViaService": f"xray.{region}.amazonaws.com"},
            },
        },
        "XRayConfigureDescribe": {
            "Sid": "XRayConfigureDescribe",
            "Effect": "Allow",
            "Principal": {"AWS": _role(account_id, "XrayAdmin")},
            "Action": "kms:DescribeKey",
            "Resource": "*",
        },
        "TraceReaders": {
            "Sid": "TraceReaders",
            "Effect": "Allow",
            "Principal": {"AWS": _role(account_id, "TraceReader")},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": copy.deepcopy(via_xray),
        },
        "CrossAccountSecurityReaders": {
            "Sid": "CrossAccountSecurityReaders",
            "Effect": "Allow",
            "Principal": {"AWS": _role(security_id, SECURITY_ROLE)},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": copy.deepcopy(via_xray),
        },
    }


GOOD_SIDS = [
    "EnableRootAccess", "KeyAdministrators", "XRayConfigureGrant", "XRayConfigureDescribe",
    "TraceReaders", "CrossAccountSecurityReaders",
]  # fmt: skip
LOCKED_SIDS = ["KeyAdministrators", "TraceReaders", "CrossAccountSecurityReaders"]


def key_policy(account_id: str, region: str, security_id: str, variant: str = "good") -> dict[str, Any]:
    """The demo key policies: ``good`` and its defective variants."""
    if variant == "default":
        # Exactly what KMS attaches when CreateKey gets no policy.
        return {
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    stmts = _statements(account_id, region, security_id)
    sids = LOCKED_SIDS if variant == "locked" else GOOD_SIDS
    statements = [stmts[sid] for sid in sids]
    if variant == "cross-account":
        statements.append(
            {
                "Sid": "UnknownPartner",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{UNKNOWN_PARTNER_ACCOUNT}:root"},
                "Action": "kms:Decrypt",
                "Resource": "*",
            }
        )
    elif variant == "public":
        statements.append(
            {"Sid": "OpenDecrypt", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*"}
        )
    elif variant not in ("good", "locked"):
        raise ValueError(variant)
    return {"Version": "2012-10-17", "Id": "xray-cmk", "Statement": statements}


# --- the policy file -----------------------------------------------------------


def policy_file_text(management_id: str, members: dict[str, str]) -> str:
    """The demo organization's xray-cmk policy file (TOML). ``members``: name -> account id."""

    def toml_list(values: list[str]) -> str:
        return "[" + ", ".join(json.dumps(v) for v in values) + "]"

    security_id = members[SECURITY_MEMBER]
    trusted = [management_id] + list(members.values())
    return f"""\
# xray-cmk policy for the demo organization seeded by `python -m xray_cmk_emulator.seed`.
# Management account {management_id}; members: {", ".join(f"{n}={i}" for n, i in members.items())}.

[rotation]
# Automatic rotation must be enabled with a period of at most this many days.
max_period_days = {GOOD_ROTATION_DAYS}

[tags]
# Tags every X-Ray CMK must carry.
required = {toml_list(REQUIRED_TAGS)}
# The values remediation gives them.
values = {{ {", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in GOOD_TAGS.items())} }}

[keys]
# Alias patterns of the CMKs approved for X-Ray.
approved = {toml_list(APPROVED_ALIASES)}
# The alias remediation gives a new CMK (it must be approved, or the new key would fail).
alias = "{SUGGESTED_ALIAS}"

[access]
# Principals expected in the key policy; {{account}} is the account that owns the key.
key_admins = ["arn:aws:iam::{{account}}:role/KeyAdmin"]
xray_admins = ["arn:aws:iam::{{account}}:role/XrayAdmin"]
trace_readers = ["arn:aws:iam::{{account}}:role/TraceReader"]
# Principals of other accounts allowed to read traces.
cross_account_readers = ["arn:aws:iam::{security_id}:role/{SECURITY_ROLE}"]
# Accounts a key policy may grant access to (the organization).
trusted_accounts = {toml_list(trusted)}

# Accepted deviations: (account, region, rule) until the expiry date.
[[exemptions]]
account = "{members["workload-dev"]}"
region = "us-east-1"
rule = "kms-rotation-disabled"
reason = "dev sandbox keys are rebuilt every quarter"
expires = 2099-12-31

# Deliberately expired: the finding must come back.
[[exemptions]]
account = "{members["workload-prod"]}"
region = "eu-west-1"
rule = "xray-aws-managed-key"
reason = "migration to a CMK planned for Q1"
expires = 2026-01-31
"""


# --- the seeder ----------------------------------------------------------------


@dataclass
class Account:
    account_id: str
    name: str
    email: str
    session: boto3.Session
    role_arn: str | None = None  # role the auditor assumes (members only)
    configured: list[str] = field(default_factory=list)  # regions with PutEncryptionConfig
    destinations: list[str] = field(default_factory=list)  # regions with UpdateTraceSegmentDestination


class Seeder:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.admin = boto3.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name=HOME_REGION
        )
        self.keys: list[dict[str, Any]] = []
        self._key_accounts: list[Account] = []
        self.postures: list[dict[str, Any]] = []
        self.trails: list[dict[str, Any]] = []
        self._trail_accounts: list[Account] = []
        self.destinations: list[dict[str, Any]] = []
        self._destination_accounts: list[Account] = []
        self.roles: list[str] = []
        self.security_id = ""
        self.ou_ids: dict[str, str] = {}  # OU name -> id
        self.table = demo_posture()

    def client(self, session: boto3.Session, service: str, region: str = HOME_REGION) -> Any:
        return session.client(service, region_name=region, endpoint_url=self.endpoint)

    def moto_api(self, path: str) -> None:
        req = urllib.request.Request(f"{self.endpoint}{path}", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=30) as resp:
            resp.read()

    # --- keys and X-Ray ----------------------------------------------------

    def apply_posture(self, acct: Account, entry: dict[str, Any]) -> dict[str, Any] | None:
        """Seed one entry of the posture table in ``acct``; returns its key entry, if it has a key."""
        region, posture, note, xray = entry["region"], entry["posture"], entry["note"], entry["xray"]
        key = None
        if xray == "cmk":
            key = self.create_key(acct, entry)
        elif xray == "aws-managed":
            key = self.aws_managed(acct, region, posture, note)
        elif xray == "none":
            self.put_xray(acct, region, "NONE")
            self.posture(acct, region, posture, None, note)
        elif xray == "unconfigured":
            if entry.get("denied") == "member-role":
                self.client(acct.session, "iam").put_role_policy(
                    RoleName=MEMBER_ROLE_NAME,
                    PolicyName=f"Deny{_sid(region)}",
                    PolicyDocument=_deny_region_policy(region),
                )
            self.posture(acct, region, posture, None, note)
        else:
            raise ValueError(f"{acct.name} {region}: xray {xray!r}")
        return key

    def create_key(self, acct: Account, entry: dict[str, Any]) -> dict[str, Any]:
        """Create a symmetric CMK (good unless the entry's ``key`` says otherwise), alias it, point X-Ray at it.

        The key's own posture is the region's unless ``key.posture`` says otherwise (a good key
        the auditor cannot see); ``key.then`` is what happens to it once X-Ray uses it.
        """
        region, spec = entry["region"], entry["key"]
        alias, posture = spec["alias"], spec.get("posture", entry["posture"])
        rotation_days = spec.get("rotation_days", GOOD_ROTATION_DAYS)
        tags = spec.get("tags", GOOD_TAGS)
        kms = self.client(acct.session, "kms", region)
        meta = kms.create_key(
            Description=f"xray-cmk demo key ({posture})",
            KeyUsage="ENCRYPT_DECRYPT",
            KeySpec="SYMMETRIC_DEFAULT",
            Tags=[{"TagKey": k, "TagValue": v} for k, v in tags.items()],
            Policy=json.dumps(key_policy(acct.account_id, region, self.security_id, spec.get("policy", "good"))),
        )["KeyMetadata"]
        kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
        if rotation_days is not None:
            kms.enable_key_rotation(KeyId=meta["KeyId"], RotationPeriodInDays=rotation_days)
        self.put_xray(acct, region, "KMS", meta["Arn"] if spec.get("set_by") == "arn" else alias)
        key = self._key_entry(acct, region, alias, meta, posture)
        self.posture(acct, region, entry["posture"], key, entry["note"])
        then = spec.get("then")
        if then == "disable":
            kms.disable_key(KeyId=meta["KeyId"])
        elif then == "schedule-deletion":
            kms.schedule_key_deletion(KeyId=meta["KeyId"], PendingWindowInDays=PENDING_WINDOW_DAYS)
        elif then == "lock-policy":
            kms.put_key_policy(
                KeyId=meta["KeyId"],
                PolicyName="default",
                Policy=json.dumps(key_policy(acct.account_id, region, self.security_id, "locked")),
                BypassPolicyLockoutSafetyCheck=True,
            )
        elif then is not None:
            raise ValueError(f"{acct.name} {region}: then {then!r}")
        return key

    def put_xray(self, acct: Account, region: str, enc_type: str, key_id: str | None = None) -> dict[str, Any]:
        xray = self.client(acct.session, "xray", region)
        kwargs = {"Type": enc_type} | ({"KeyId": key_id} if key_id else {})
        cfg = xray.put_encryption_config(**kwargs)["EncryptionConfig"]
        acct.configured.append(region)
        return cfg

    def posture(self, acct: Account, region: str, posture: str, key: dict[str, Any] | None, note: str) -> None:
        self.postures.append(
            {
                "account_id": acct.account_id,
                "account_name": acct.name,
                "region": region,
                "expected_posture": posture,
                "xray_type": "NONE" if key is None else "KMS",
                "key_arn": key["key_arn"] if key else None,
                "key_alias": key["alias"] if key else None,
                "note": note,
            }
        )

    def aws_managed(self, acct: Account, region: str, posture: str, note: str) -> dict[str, Any]:
        """Point X-Ray at alias/aws/xray (KMS creates the AWS managed key on first use)."""
        cfg = self.put_xray(acct, region, "KMS", "alias/aws/xray")
        meta = self.client(acct.session, "kms", region).describe_key(KeyId="alias/aws/xray")["KeyMetadata"]
        assert cfg["KeyId"] == meta["Arn"], (cfg, meta)
        key = self._key_entry(acct, region, "alias/aws/xray", meta, posture)
        self.posture(acct, region, posture, key, note)
        return key

    def _key_entry(self, acct: Account, region: str, alias: str, meta: dict[str, Any], posture: str) -> dict[str, Any]:
        """Add a key to the JSON's ``keys``; read_back_keys fills in the rest from the API."""
        entry = {
            "account_id": acct.account_id,
            "account_name": acct.name,
            "region": region,
            "alias": alias,
            "key_id": meta["KeyId"],
            "key_arn": meta["Arn"],
            "expected_posture": posture,
        }
        self.keys.append(entry)
        self._key_accounts.append(acct)
        return entry

    def read_back_keys(self) -> None:
        """Fill every key entry from the KMS API: state, manager, rotation, tags, policy Sids, aliases."""
        for entry, acct in zip(self.keys, self._key_accounts):
            kms = self.client(acct.session, "kms", entry["region"])
            key_id = entry["key_id"]
            aliases = kms.list_aliases(KeyId=key_id)["Aliases"]  # IAM alone decides ListAliases
            try:
                meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "AccessDeniedException":
                    raise
                # A key policy that names neither the account nor the seeder (cmk-locked): as on
                # AWS, only the principals it names can read the key. Read it as its KeyAdmin.
                kms = self.client(self.assume(acct, "KeyAdmin"), "kms", entry["region"])
                meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
            rotation = kms.get_key_rotation_status(KeyId=key_id)
            policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
            tags = kms.list_resource_tags(KeyId=key_id)["Tags"]
            entry.update(
                {
                    "key_manager": meta["KeyManager"],
                    "key_state": meta["KeyState"],
                    "rotation_enabled": rotation["KeyRotationEnabled"],
                    "rotation_period_in_days": rotation.get("RotationPeriodInDays"),
                    "tags": {t["TagKey"]: t["TagValue"] for t in tags},
                    "policy_sid_list": [s.get("Sid") for s in policy.get("Statement", [])],
                    "aliases": sorted(a["AliasName"] for a in aliases),
                }
            )

    def assume(self, acct: Account, role_name: str) -> boto3.Session:
        """A session of ``role_name`` in ``acct``, assumed from the seeder's session there."""
        creds = self.client(acct.session, "sts").assume_role(
            RoleArn=_role(acct.account_id, role_name), RoleSessionName="xray-cmk-seed"
        )["Credentials"]
        return boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=HOME_REGION,
        )

    # --- CloudTrail -----------------------------------------------------------

    def trail_bucket(self, acct: Account) -> str:
        bucket = f"xray-cmk-demo-trail-{acct.account_id}"
        self.client(acct.session, "s3", HOME_REGION).create_bucket(Bucket=bucket)
        return bucket

    def create_trail(
        self,
        acct: Account,
        bucket: str,
        name: str,
        region: str,
        *,
        multi_region: bool,
        selectors: dict[str, Any],
        records_kms_decrypt: bool,
        note: str,
        logging: bool = True,
    ) -> None:
        ct = self.client(acct.session, "cloudtrail", region)
        trail = ct.create_trail(Name=name, S3BucketName=bucket, IsMultiRegionTrail=multi_region)
        ct.put_event_selectors(TrailName=name, **selectors)
        ct.start_logging(Name=name)  # trails created in the console start logging at once
        if not logging:
            ct.stop_logging(Name=name)
        self.trails.append(
            {
                "account_id": acct.account_id,
                "account_name": acct.name,
                "name": name,
                "trail_arn": trail["TrailARN"],
                "home_region": region,
                "records_kms_decrypt": records_kms_decrypt,
                "note": note,
            }
        )
        self._trail_accounts.append(acct)

    def read_back_trails(self) -> None:
        for entry, acct in zip(self.trails, self._trail_accounts):
            ct = self.client(acct.session, "cloudtrail", entry["home_region"])
            desc = ct.describe_trails(trailNameList=[entry["trail_arn"]])["trailList"][0]
            status = ct.get_trail_status(Name=entry["trail_arn"])
            sel = ct.get_event_selectors(TrailName=entry["trail_arn"])
            if "AdvancedEventSelectors" in sel:
                selectors = {"type": "advanced", "advanced_event_selectors": sel["AdvancedEventSelectors"]}
            else:
                selectors = {"type": "basic", "event_selectors": sel["EventSelectors"]}
            entry.update(
                {
                    "home_region": desc["HomeRegion"],
                    "multi_region": desc["IsMultiRegionTrail"],
                    "organization_trail": desc["IsOrganizationTrail"],
                    "logging": status["IsLogging"],
                    "selectors": selectors,
                }
            )

    # --- Transaction Search (trace segment destination) -------------------------

    def segment_destination(
        self, acct: Account, region: str, *, associate: dict[str, Any] | None = None,
        create_with: dict[str, Any] | None = None, note: str,
    ) -> None:  # fmt: skip
        """Destination CloudWatchLogs; aws/spans keyed by AssociateKmsKey or SpansLogGroupKmsKeyId (or not)."""
        xray = self.client(acct.session, "xray", region)
        kwargs: dict[str, Any] = {"Destination": "CloudWatchLogs"}
        if create_with:
            kwargs["CloudWatchLogsConfiguration"] = {"SpansLogGroupKmsKeyId": create_with["key_arn"]}
        xray.update_trace_segment_destination(**kwargs)
        if associate:
            self.client(acct.session, "logs", region).associate_kms_key(
                logGroupName=SPANS_LOG_GROUP, kmsKeyId=associate["key_arn"]
            )
        key = associate or create_with
        acct.destinations.append(region)
        self.destinations.append(
            {
                "account_id": acct.account_id,
                "account_name": acct.name,
                "region": region,
                "spans_log_group": SPANS_LOG_GROUP,
                "spans_kms_key_alias": key["alias"] if key else None,
                "spans_kms_key_set_by": (
                    "logs:AssociateKmsKey" if associate
                    else "xray:UpdateTraceSegmentDestination SpansLogGroupKmsKeyId" if create_with
                    else None
                ),
                "note": note,
            }
        )  # fmt: skip
        self._destination_accounts.append(acct)

    def read_back_destinations(self) -> None:
        for entry, acct in zip(self.destinations, self._destination_accounts):
            region = entry["region"]
            dest = self.client(acct.session, "xray", region).get_trace_segment_destination()
            groups = self.client(acct.session, "logs", region).describe_log_groups(
                logGroupNamePrefix=SPANS_LOG_GROUP
            )["logGroups"]
            group = next(g for g in groups if g["logGroupName"] == SPANS_LOG_GROUP)
            entry.update(
                {
                    "destination": dest["Destination"],
                    "status": dest["Status"],
                    "spans_kms_key_arn": group.get("kmsKeyId"),
                }
            )

    # --- organization ----------------------------------------------------------

    def management_account(self) -> Account:
        return Account(MANAGEMENT_ACCOUNT_ID, "management", "management@example.com", self.admin)

    def create_member(self, org: Any, name: str, trust_account: str | None = None) -> Account:
        """Create a member and work inside it through its OrganizationAccountAccessRole.

        ``trust_account``: afterwards, replace the role's trust policy with one for that
        account's root only (the management account can no longer assume the role).
        """
        email = f"{name}@example.com"
        status = org.create_account(AccountName=name, Email=email)["CreateAccountStatus"]
        for _ in range(60):
            status = org.describe_create_account_status(CreateAccountRequestId=status["Id"])[
                "CreateAccountStatus"
            ]
            if status["State"] != "IN_PROGRESS":
                break
            time.sleep(0.5)
        if status["State"] != "SUCCEEDED":
            raise RuntimeError(f"CreateAccount {name} failed: {status}")
        account_id = status["AccountId"]
        role_arn = f"arn:aws:iam::{account_id}:role/{MEMBER_ROLE_NAME}"
        # Work from inside the member: moto maps AssumeRole credentials to the
        # target account. AWS (and moto 5.2.5) create the role with the account;
        # create it only if missing, then give it AWS's AdministratorAccess-like grant.
        creds = self.client(self.admin, "sts").assume_role(RoleArn=role_arn, RoleSessionName="xray-cmk-seed")[
            "Credentials"
        ]
        session = boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=HOME_REGION,
        )
        iam = self.client(session, "iam")
        try:
            iam.get_role(RoleName=MEMBER_ROLE_NAME)
        except iam.exceptions.NoSuchEntityException:
            iam.create_role(RoleName=MEMBER_ROLE_NAME, AssumeRolePolicyDocument=_trust_root(MANAGEMENT_ACCOUNT_ID))
        iam.put_role_policy(
            RoleName=MEMBER_ROLE_NAME, PolicyName="AdministratorAccess", PolicyDocument=_allow_all_policy()
        )
        if trust_account is not None:
            iam.update_assume_role_policy(RoleName=MEMBER_ROLE_NAME, PolicyDocument=_trust_root(trust_account))
        return Account(account_id, name, email, session, role_arn=role_arn)

    def create_organizational_units(self, org: Any, members: dict[str, Account]) -> None:
        """The OUs of ORGANIZATIONAL_UNITS, then the legacy member (created last, into its OU).

        Existing members are moved from the root with MoveAccount. Adds the legacy account to ``members``.
        """
        root_id = org.list_roots()["Roots"][0]["Id"]
        for name, parent, _ in ORGANIZATIONAL_UNITS:
            parent_id = root_id if parent is None else self.ou_ids[parent]
            ou = org.create_organizational_unit(ParentId=parent_id, Name=name)["OrganizationalUnit"]
            self.ou_ids[name] = ou["Id"]
        placement = {member: ou for ou, _, names in ORGANIZATIONAL_UNITS for member in names}
        for name, acct in members.items():
            self.move_account(org, acct, root_id, placement[name])
        legacy = self.create_member(org, LEGACY_MEMBER, trust_account=LEGACY_TRUSTED_ACCOUNT)
        self.move_account(org, legacy, root_id, placement[LEGACY_MEMBER])
        members[LEGACY_MEMBER] = legacy

    def move_account(self, org: Any, acct: Account, source_id: str, ou_name: str) -> None:
        org.move_account(AccountId=acct.account_id, SourceParentId=source_id, DestinationParentId=self.ou_ids[ou_name])

    def read_back_organizational_units(self, org: Any) -> list[dict[str, Any]]:
        out = []
        for name, _, _ in ORGANIZATIONAL_UNITS:
            ou_id = self.ou_ids[name]
            ou = org.describe_organizational_unit(OrganizationalUnitId=ou_id)["OrganizationalUnit"]
            parents = org.list_parents(ChildId=ou_id)["Parents"]
            accounts = org.list_accounts_for_parent(ParentId=ou_id)["Accounts"]
            out.append(
                {
                    "name": ou["Name"],
                    "id": ou["Id"],
                    "parent_id": parents[0]["Id"],
                    "account_ids": [a["Id"] for a in accounts],
                }
            )
        return out

    def assumable(self, auditor: boto3.Session, acct: Account) -> bool:
        """Whether the audit role may AssumeRole the member's OrganizationAccountAccessRole."""
        try:
            self.client(auditor, "sts").assume_role(RoleArn=acct.role_arn, RoleSessionName="xray-cmk-seed-check")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "AccessDenied":
                return False
            raise
        return True

    def create_key_roles(self, acct: Account) -> None:
        """The principals the key policies name (trust the account root, no permissions: in the
        key's own account a key policy that names a role needs no IAM permission of it). The
        security account's reader gets its IAM permission in `allow_security_reader`."""
        iam = self.client(acct.session, "iam")
        names = KEY_ROLES + ((SECURITY_ROLE,) if acct.name == SECURITY_MEMBER else ())
        for name in names:
            role = iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=_trust_root(acct.account_id),
                Description=f"xray-cmk demo principal {name}",
            )["Role"]
            self.roles.append(role["Arn"])

    def allow_security_reader(self, security: Account) -> None:
        """Across accounts KMS needs both the key policy and the caller's IAM policies to allow a
        request: the security account's reader, which the key policies name, may decrypt the
        organization's traces through X-Ray. (Last, so that no id drawn before moves.)"""
        self.client(security.session, "iam").put_role_policy(
            RoleName=SECURITY_ROLE,
            PolicyName="ReadOrganizationTraces",
            PolicyDocument=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "DecryptTracesThroughXRay",
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": "arn:aws:kms:*:*:key/*",
                    "Condition": {"StringLike": {"kms:ViaService": "xray.*.amazonaws.com"}},
                }],
            }),
        )  # fmt: skip

    def create_tool_roles(self, iam: Any) -> list[dict[str, Any]]:
        """The roles of TOOL_ROLES with their managed policies (the audit role exists already), read back."""
        out = []
        for mode, role_name, policy_name, _, _ in TOOL_ROLES:
            if role_name != AUDIT_ROLE_NAME:
                iam.create_role(
                    RoleName=role_name,
                    AssumeRolePolicyDocument=_trust_root(MANAGEMENT_ACCOUNT_ID),
                    Description=f"xray-cmk {mode} role (xray-cmk iam-policy --mode {mode})",
                )
            policy_arn = iam.create_policy(
                PolicyName=policy_name,
                PolicyDocument=tool_policy(mode),
                Description=f"xray-cmk iam-policy --mode {mode}",
            )["Policy"]["Arn"]
            iam.attach_role_policy(RoleName=role_name, PolicyArn=policy_arn)
        for mode, role_name, _, profile, _ in TOOL_ROLES:
            attached = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
            out.append(
                {
                    "mode": mode,
                    "role_name": role_name,
                    "role_arn": iam.get_role(RoleName=role_name)["Role"]["Arn"],
                    "profile": profile,
                    "managed_policies": [p["PolicyArn"] for p in attached],
                    "inline_policies": iam.list_role_policies(RoleName=role_name)["PolicyNames"],
                }
            )
        return out

    def wait_active(self, accounts: list[Account], timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        for acct in accounts:
            checks = [(r, "encryption") for r in acct.configured] + [(r, "segments") for r in acct.destinations]
            for region, what in checks:
                xray = self.client(acct.session, "xray", region)
                while True:
                    if what == "encryption":
                        status = xray.get_encryption_config()["EncryptionConfig"]["Status"]
                    else:
                        status = xray.get_trace_segment_destination()["Status"]
                    if status == "ACTIVE":
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"X-Ray {what} not ACTIVE: {acct.account_id} {region} {status}")
                    time.sleep(0.25)

    # --- the demo ----------------------------------------------------------------

    def run(self, reset: bool = True) -> dict[str, Any]:
        """Seeds the demo organization; returns its description. The order of the calls is part
        of the seed: moto draws ids from one seeded random stream, so a call moved changes ids."""
        self.reset(reset)
        org = self.client(self.admin, "organizations")
        org_info = org.create_organization(FeatureSet="ALL")["Organization"]
        mgmt = self.management_account()
        members = {name: self.create_member(org, name) for name in MEMBERS}
        prod, dev, sec = members["workload-prod"], members["workload-dev"], members["security"]
        self.security_id = sec.account_id
        for acct in (mgmt, prod, dev, sec):
            self.create_key_roles(acct)

        # Management account: an opt-in region, then one posture per region; then the members'.
        self.client(self.admin, "account").enable_region(RegionName=OPT_IN_REGION)
        accounts = {mgmt.name: mgmt} | members
        entries = self.table["regions"]
        keys = self.seed_management_postures(mgmt, entries)
        iam = self.client(self.admin, "iam")
        audit_role_arn = self.create_audit_role(iam, entries)
        self.create_management_trails(mgmt)
        self.create_management_destinations(mgmt, keys)
        self.seed_members(accounts, entries, mgmt, sec)

        self.wait_active([mgmt, prod, dev, sec])
        self.read_back_keys()
        self.read_back_trails()
        self.read_back_destinations()

        # Added last, so that every id and entry above is what it was before they existed:
        # OUs (members moved into them) and the legacy member the auditor cannot assume.
        self.create_organizational_units(org, members)
        organizational_units = self.read_back_organizational_units(org)
        tool_roles = self.create_tool_roles(iam)
        assumable = self.check_auditor(audit_role_arn, members)
        self.allow_security_reader(members[SECURITY_MEMBER])
        return self.describe(
            org_info, audit_role_arn, tool_roles, members, assumable, organizational_units, accounts, entries
        )

    def reset(self, reset: bool) -> None:
        if reset:
            self.moto_api("/moto-api/reset")
        self.moto_api(f"/moto-api/seed?a={RANDOM_SEED}")

    def seed_management_postures(
        self, mgmt: Account, entries: list[dict[str, Any]]
    ) -> dict[tuple[str, str], dict[str, Any] | None]:
        """The management account's posture in each of its regions; its keys by (account name, region)."""
        keys = {}
        for entry in (e for e in entries if e["account"] == mgmt.name):
            keys[(mgmt.name, entry["region"])] = self.apply_posture(mgmt, entry)
        return keys

    def create_audit_role(self, iam: Any, entries: list[dict[str, Any]]) -> str:
        """The audit role (profile xray-cmk-demo): denied one region here. Its permissions (the
        managed policy of `iam-policy --mode audit`) are attached at the end with the other tool
        roles; the GetRole takes the place of the request that once gave it Allow *, so every id
        drawn after it (member keys, OUs, legacy) stays what it was."""
        audit_denied = _denied_region(entries, "audit-role")
        audit_role_arn = iam.create_role(
            RoleName=AUDIT_ROLE_NAME,
            AssumeRolePolicyDocument=_trust_root(MANAGEMENT_ACCOUNT_ID),
            Description=f"xray-cmk audit role (read-only, denied in {audit_denied})",
        )["Role"]["Arn"]
        iam.put_role_policy(
            RoleName=AUDIT_ROLE_NAME,
            PolicyName=f"Deny{_sid(audit_denied)}",
            PolicyDocument=_deny_region_policy(audit_denied),
        )
        iam.get_role(RoleName=AUDIT_ROLE_NAME)
        return audit_role_arn

    def create_management_trails(self, mgmt: Account) -> None:
        bucket = self.trail_bucket(mgmt)
        all_events = {"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}]}
        self.create_trail(
            mgmt, bucket, "management-write-only", "us-east-1", multi_region=True,
            selectors={"EventSelectors": [{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}]},
            records_kms_decrypt=False,
            note="multi-region, write-only management events: KMS read events such as Decrypt are not logged",
        )  # fmt: skip
        self.create_trail(
            mgmt, bucket, "us-east-1-all", "us-east-1", multi_region=False, selectors=all_events,
            records_kms_decrypt=True, note="single-region, all management events",
        )  # fmt: skip
        self.create_trail(
            mgmt, bucket, "eu-west-1-advanced", "eu-west-1", multi_region=False,
            selectors={"AdvancedEventSelectors": [
                {"Name": "Management events", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}
            ]},
            records_kms_decrypt=True, note="single-region, advanced selector: all management events",
        )  # fmt: skip
        self.create_trail(
            mgmt, bucket, "eu-west-2-no-kms", "eu-west-2", multi_region=False,
            selectors={"EventSelectors": [
                {"ReadWriteType": "All", "IncludeManagementEvents": True,
                 "ExcludeManagementEventSources": ["kms.amazonaws.com"]}
            ]},
            records_kms_decrypt=False, note="single-region, all management events except kms.amazonaws.com",
        )  # fmt: skip
        self.create_trail(
            mgmt, bucket, "ap-south-1-stopped", "ap-south-1", multi_region=False, selectors=all_events,
            records_kms_decrypt=True, logging=False, note="single-region, all management events, logging stopped",
        )  # fmt: skip

    def create_management_destinations(
        self, mgmt: Account, keys: dict[tuple[str, str], dict[str, Any] | None]
    ) -> None:
        """Transaction Search in the management account."""
        self.segment_destination(
            mgmt, "us-east-1", associate=keys[(mgmt.name, "us-east-1")],
            note="Transaction Search on; aws/spans encrypted with the approved us-east-1 CMK (AssociateKmsKey)",
        )  # fmt: skip
        self.segment_destination(
            mgmt, "eu-west-1", note="Transaction Search on; aws/spans not encrypted with a KMS key"
        )
        self.segment_destination(
            mgmt, "eu-west-3", create_with=keys[(mgmt.name, "eu-west-3")],
            note="Transaction Search on; aws/spans encrypted with alias/team-x-traces (a CMK, not approved)",
        )  # fmt: skip

    def seed_members(
        self, accounts: dict[str, Account], entries: list[dict[str, Any]], mgmt: Account, sec: Account
    ) -> None:
        """The members' postures, and the security account's trail."""
        for entry in (e for e in entries if e["account"] != mgmt.name):
            self.apply_posture(accounts[entry["account"]], entry)
        all_events = {"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}]}
        self.create_trail(
            sec, self.trail_bucket(sec), "security-all", "us-east-1", multi_region=True, selectors=all_events,
            records_kms_decrypt=True, note="multi-region, all management events",
        )  # fmt: skip

    def check_auditor(self, audit_role_arn: str, members: dict[str, Account]) -> dict[str, bool]:
        """Whether the audit role can assume each member's role."""
        audit_creds = self.client(self.admin, "sts").assume_role(
            RoleArn=audit_role_arn, RoleSessionName="xray-cmk-seed-check"
        )["Credentials"]
        auditor = boto3.Session(
            aws_access_key_id=audit_creds["AccessKeyId"],
            aws_secret_access_key=audit_creds["SecretAccessKey"],
            aws_session_token=audit_creds["SessionToken"],
            region_name=HOME_REGION,
        )
        return {name: self.assumable(auditor, m) for name, m in members.items()}

    def describe(
        self,
        org_info: dict[str, Any],
        audit_role_arn: str,
        tool_roles: list[dict[str, Any]],
        members: dict[str, Account],
        assumable: dict[str, bool],
        organizational_units: list[dict[str, Any]],
        accounts: dict[str, Account],
        entries: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """The seeded organization, as `--json-out` writes it."""
        return {
            "management_account_id": MANAGEMENT_ACCOUNT_ID,
            "organization_id": org_info["Id"],
            "home_region": HOME_REGION,
            "audit_role_arn": audit_role_arn,
            "aws_profiles": {"admin": ADMIN_PROFILE} | {mode: profile for mode, _, _, profile, _ in TOOL_ROLES},
            "tool_roles": tool_roles,
            "member_accounts": [
                {
                    "account_id": m.account_id,
                    "name": m.name,
                    "email": m.email,
                    "role_arn": m.role_arn,
                    "assumable": assumable[name],
                }
                for name, m in members.items()
            ],
            "organizational_units": organizational_units,
            "key_policy_roles": self.roles,
            "enabled_opt_in_regions": {MANAGEMENT_ACCOUNT_ID: [OPT_IN_REGION]},
            "access_denied": [
                {
                    "principal": audit_role_arn if e["denied"] == "audit-role" else accounts[e["account"]].role_arn,
                    "account_id": accounts[e["account"]].account_id,
                    "region": e["region"],
                }
                for e in entries
                if e.get("denied")
            ],
            "keys": self.keys,
            "region_postures": self.postures,
            "default_posture": {
                "expected_posture": self.table["default"]["posture"],
                "xray": {"Type": "NONE", "Status": "ACTIVE"},
                "applies_to": "every other enabled region of every account (never configured)",
            },
            "trails": self.trails,
            "segment_destinations": self.destinations,
            "default_segment_destination": {
                "destination": "XRay",
                "status": "ACTIVE",
                "applies_to": "every other enabled region of every account (never configured)",
            },
        }


def aws_config_text(tool_roles: list[dict[str, Any]]) -> str:
    """The demo profiles: the admin (static test credentials: the account root) and a role profile
    sourcing it for each tool role. No endpoint here on purpose: the tool reads AWS_ENDPOINT_URL."""
    sessions = {mode: session for mode, _, _, _, session in TOOL_ROLES}
    text = f"[profile {ADMIN_PROFILE}]\naws_access_key_id = test\naws_secret_access_key = test\nregion = {HOME_REGION}\n"
    for role in tool_roles:
        text += (
            f"\n[profile {role['profile']}]\n"
            f"role_arn = {role['role_arn']}\n"
            f"source_profile = {ADMIN_PROFILE}\n"
            f"role_session_name = {sessions[role['mode']]}\n"
            f"region = {HOME_REGION}\n"
        )
    return text


def write_json_out(result: Any, path: str | None) -> None:
    """A seed's description: pretty-printed with sorted keys (stable for diffs), to a file or `-`."""
    text = json.dumps(result, indent=2, sort_keys=True) + "\n"
    if path == "-":
        sys.stdout.write(text)
    elif path:
        with open(path, "w") as fh:
            fh.write(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xray_cmk_emulator.seed", description=__doc__)
    parser.add_argument("--endpoint", required=True, help="emulator URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--aws-config-out", help="write an AWS shared config file with the demo profiles")
    parser.add_argument("--json-out", help="write the seeded organization as JSON ('-' for stdout)")
    parser.add_argument("--policy-out", help="write the demo organization's xray-cmk policy file (TOML)")
    parser.add_argument("--no-reset", action="store_true", help="do not POST /moto-api/reset first")
    args = parser.parse_args(argv)

    result = Seeder(args.endpoint).run(reset=not args.no_reset)
    write_json_out(result, args.json_out)
    if args.aws_config_out:
        with open(args.aws_config_out, "w") as fh:
            fh.write(aws_config_text(result["tool_roles"]))
    if args.policy_out:
        members = {m["name"]: m["account_id"] for m in result["member_accounts"]}
        with open(args.policy_out, "w") as fh:
            fh.write(policy_file_text(result["management_account_id"], members))
    print(
        f"seeded: management {MANAGEMENT_ACCOUNT_ID}, members "
        + ", ".join(f"{m['name']}={m['account_id']}" for m in result["member_accounts"]),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
