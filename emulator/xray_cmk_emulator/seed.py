"""Seed a running emulator with the deterministic xray-cmk demo organization.

    python -m xray_cmk_emulator.seed --endpoint http://127.0.0.1:PORT \
        [--aws-config-out PATH] [--json-out PATH] [--no-reset]

Everything goes through the public APIs with boto3 (credentials test/test), as a
real operator would do it. The server is reset and its random generator seeded
(``/moto-api/seed?a=42``) first, so account ids and key ids are identical on
every run against a fresh (or reset) server.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import boto3

MANAGEMENT_ACCOUNT_ID = "123456789012"  # moto's default account
HOME_REGION = "us-east-1"
RANDOM_SEED = 42
MEMBER_ROLE_NAME = "OrganizationAccountAccessRole"
AUDIT_ROLE_NAME = "XrayCmkAudit"
AUDIT_DENIED_REGION = "eu-north-1"
DEV_DENIED_REGION = "ap-northeast-1"
OPT_IN_REGION = "eu-south-1"
ADMIN_PROFILE = "xray-cmk-demo-admin"
AUDIT_PROFILE = "xray-cmk-demo"
MEMBERS = ("workload-prod", "workload-dev", "security")

# Expected audit outcome of an (account, region), as the JSON output names it.
POSTURE_CMK = "customer-managed-key"  # symmetric CMK, enabled, rotation on
POSTURE_NONE = "explicit-none"  # X-Ray explicitly set to Type NONE
POSTURE_AWS_MANAGED = "aws-managed-key"  # alias/aws/xray
POSTURE_NO_ROTATION = "cmk-rotation-disabled"
POSTURE_DISABLED = "cmk-disabled"
POSTURE_PENDING_DELETION = "cmk-pending-deletion"
POSTURE_DENIED = "access-denied"  # the auditing principal is denied in this region
POSTURE_DEFAULT = "default-none"  # never configured: Type NONE, Status ACTIVE


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


def _good_key_policy(account_id: str, region: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": "xray-cmk-key-policy",
            "Statement": [
                {
                    "Sid": "EnableRootAccountAdministration",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "AllowXRayToUseTheKey",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:DescribeKey",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "kms:ViaService": f"xray.{region}.amazonaws.com",
                            "kms:CallerAccount": account_id,
                        }
                    },
                },
            ],
        }
    )


GOOD_TAGS = [
    {"TagKey": "owner", "TagValue": "platform-security"},
    {"TagKey": "data-classification", "TagValue": "confidential"},
]


@dataclass
class Account:
    account_id: str
    name: str
    email: str
    session: boto3.Session
    role_arn: str | None = None  # role the auditor assumes (members only)
    configured: list[tuple[str, str]] = field(default_factory=list)  # (region, posture)


class Seeder:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.admin = boto3.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name=HOME_REGION
        )
        self.keys: list[dict[str, Any]] = []
        self.postures: list[dict[str, Any]] = []

    def client(self, session: boto3.Session, service: str, region: str = HOME_REGION) -> Any:
        return session.client(service, region_name=region, endpoint_url=self.endpoint)

    def moto_api(self, path: str) -> None:
        req = urllib.request.Request(f"{self.endpoint}{path}", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=30) as resp:
            resp.read()

    # --- building blocks -------------------------------------------------

    def create_key(
        self,
        acct: Account,
        region: str,
        alias: str,
        posture: str,
        *,
        rotation: bool,
        set_by: str = "alias",
    ) -> dict[str, Any]:
        """Create a symmetric CMK with alias, point X-Ray at it (by alias or ARN)."""
        kms = self.client(acct.session, "kms", region)
        good = posture == POSTURE_CMK
        meta = kms.create_key(
            Description=f"xray-cmk demo key ({posture})",
            KeyUsage="ENCRYPT_DECRYPT",
            KeySpec="SYMMETRIC_DEFAULT",
            Tags=GOOD_TAGS if good else [{"TagKey": "owner", "TagValue": acct.name}],
            Policy=_good_key_policy(acct.account_id, region),
        )["KeyMetadata"]
        kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
        if rotation:
            kms.enable_key_rotation(KeyId=meta["KeyId"], RotationPeriodInDays=365)
        self.put_xray(acct, region, "KMS", alias if set_by == "alias" else meta["Arn"])
        entry = {
            "account_id": acct.account_id,
            "account_name": acct.name,
            "region": region,
            "alias": alias,
            "key_id": meta["KeyId"],
            "key_arn": meta["Arn"],
            "key_manager": "CUSTOMER",
            "rotation_enabled": rotation,
            "rotation_period_in_days": 365 if rotation else None,
            "expected_posture": posture,
        }
        self.keys.append(entry)
        return entry

    def put_xray(self, acct: Account, region: str, enc_type: str, key_id: str | None = None) -> dict[str, Any]:
        xray = self.client(acct.session, "xray", region)
        kwargs = {"Type": enc_type} | ({"KeyId": key_id} if key_id else {})
        return xray.put_encryption_config(**kwargs)["EncryptionConfig"]

    def posture(self, acct: Account, region: str, posture: str, key: dict[str, Any] | None, note: str) -> None:
        acct.configured.append((region, posture))
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

    def aws_managed(self, acct: Account, region: str) -> dict[str, Any]:
        cfg = self.put_xray(acct, region, "KMS", "alias/aws/xray")
        meta = self.client(acct.session, "kms", region).describe_key(KeyId="alias/aws/xray")["KeyMetadata"]
        assert cfg["KeyId"] == meta["Arn"], (cfg, meta)
        entry = {
            "account_id": acct.account_id,
            "account_name": acct.name,
            "region": region,
            "alias": "alias/aws/xray",
            "key_id": meta["KeyId"],
            "key_arn": meta["Arn"],
            "key_manager": "AWS",
            "rotation_enabled": True,
            "rotation_period_in_days": 365,
            "expected_posture": POSTURE_AWS_MANAGED,
        }
        self.keys.append(entry)
        return entry

    # --- organization ----------------------------------------------------

    def management_account(self) -> Account:
        return Account(MANAGEMENT_ACCOUNT_ID, "management", "management@example.com", self.admin)

    def create_member(self, org: Any, name: str) -> Account:
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
        return Account(account_id, name, email, session, role_arn=role_arn)

    def wait_active(self, accounts: list[Account], timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        for acct in accounts:
            for region, _ in acct.configured:
                xray = self.client(acct.session, "xray", region)
                while True:
                    cfg = xray.get_encryption_config()["EncryptionConfig"]
                    if cfg["Status"] == "ACTIVE":
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"X-Ray config not ACTIVE: {acct.account_id} {region} {cfg}")
                    time.sleep(0.25)

    # --- the demo --------------------------------------------------------

    def run(self, reset: bool = True) -> dict[str, Any]:
        if reset:
            self.moto_api("/moto-api/reset")
        self.moto_api(f"/moto-api/seed?a={RANDOM_SEED}")

        org = self.client(self.admin, "organizations")
        org_info = org.create_organization(FeatureSet="ALL")["Organization"]
        mgmt = self.management_account()
        members = {name: self.create_member(org, name) for name in MEMBERS}

        # Management account: an opt-in region, then one posture per region.
        self.client(self.admin, "account").enable_region(RegionName=OPT_IN_REGION)

        k = self.create_key(mgmt, "us-east-1", "alias/xray-cmk-good", POSTURE_CMK, rotation=True)
        self.posture(mgmt, "us-east-1", POSTURE_CMK, k, "good CMK, set by alias name")

        self.put_xray(mgmt, "us-east-2", "NONE")
        self.posture(mgmt, "us-east-2", POSTURE_NONE, None, "X-Ray explicitly set to Type NONE")

        k = self.aws_managed(mgmt, "us-west-2")
        self.posture(mgmt, "us-west-2", POSTURE_AWS_MANAGED, k, "AWS managed key alias/aws/xray")

        k = self.create_key(
            mgmt, "eu-west-1", "alias/xray-cmk-no-rotation", POSTURE_NO_ROTATION, rotation=False, set_by="arn"
        )
        self.posture(mgmt, "eu-west-1", POSTURE_NO_ROTATION, k, "CMK without rotation, set by key ARN")

        k = self.create_key(mgmt, "eu-central-1", "alias/xray-cmk-disabled", POSTURE_DISABLED, rotation=True)
        self.client(mgmt.session, "kms", "eu-central-1").disable_key(KeyId=k["key_id"])
        k["key_state"] = "Disabled"
        self.posture(mgmt, "eu-central-1", POSTURE_DISABLED, k, "CMK disabled after X-Ray was set to it")

        k = self.create_key(
            mgmt, "ap-southeast-2", "alias/xray-cmk-pending-deletion", POSTURE_PENDING_DELETION, rotation=True
        )
        self.client(mgmt.session, "kms", "ap-southeast-2").schedule_key_deletion(
            KeyId=k["key_id"], PendingWindowInDays=7
        )
        k["key_state"] = "PendingDeletion"
        self.posture(mgmt, "ap-southeast-2", POSTURE_PENDING_DELETION, k, "CMK scheduled for deletion (7 days)")

        k = self.create_key(mgmt, AUDIT_DENIED_REGION, "alias/xray-cmk-good", POSTURE_CMK, rotation=True)
        self.posture(
            mgmt, AUDIT_DENIED_REGION, POSTURE_DENIED, k,
            "good CMK, but the audit role has an explicit Deny for this region",
        )  # fmt: skip

        # The audit role (profile xray-cmk-demo).
        iam = self.client(self.admin, "iam")
        audit_role_arn = iam.create_role(
            RoleName=AUDIT_ROLE_NAME,
            AssumeRolePolicyDocument=_trust_root(MANAGEMENT_ACCOUNT_ID),
            Description="xray-cmk audit role (read-only, denied in eu-north-1)",
        )["Role"]["Arn"]
        iam.put_role_policy(RoleName=AUDIT_ROLE_NAME, PolicyName="ReadOnlyAccess", PolicyDocument=_allow_all_policy())
        iam.put_role_policy(
            RoleName=AUDIT_ROLE_NAME,
            PolicyName=f"Deny{_sid(AUDIT_DENIED_REGION)}",
            PolicyDocument=_deny_region_policy(AUDIT_DENIED_REGION),
        )

        # Members.
        prod, dev, sec = members["workload-prod"], members["workload-dev"], members["security"]
        k = self.create_key(prod, "us-east-1", "alias/xray-cmk-good", POSTURE_CMK, rotation=True)
        self.posture(prod, "us-east-1", POSTURE_CMK, k, "good CMK")
        k = self.aws_managed(prod, "eu-west-1")
        self.posture(prod, "eu-west-1", POSTURE_AWS_MANAGED, k, "AWS managed key alias/aws/xray")

        k = self.create_key(dev, "us-east-1", "alias/xray-cmk-no-rotation", POSTURE_NO_ROTATION, rotation=False)
        self.posture(dev, "us-east-1", POSTURE_NO_ROTATION, k, "CMK without rotation")
        self.client(dev.session, "iam").put_role_policy(
            RoleName=MEMBER_ROLE_NAME,
            PolicyName=f"Deny{_sid(DEV_DENIED_REGION)}",
            PolicyDocument=_deny_region_policy(DEV_DENIED_REGION),
        )
        # Not configured, but the auditor (via OrganizationAccountAccessRole) cannot read it.
        self.postures.append(
            {
                "account_id": dev.account_id,
                "account_name": dev.name,
                "region": DEV_DENIED_REGION,
                "expected_posture": POSTURE_DENIED,
                "xray_type": "NONE",
                "key_arn": None,
                "key_alias": None,
                "note": f"{MEMBER_ROLE_NAME} has an explicit Deny for this region",
            }
        )

        for region in ("us-east-1", "eu-west-1"):
            k = self.create_key(sec, region, "alias/xray-cmk-good", POSTURE_CMK, rotation=True)
            self.posture(sec, region, POSTURE_CMK, k, "good CMK")

        self.wait_active([mgmt, prod, dev, sec])

        for key in self.keys:
            key.setdefault("key_state", "Enabled")
        return {
            "management_account_id": MANAGEMENT_ACCOUNT_ID,
            "organization_id": org_info["Id"],
            "home_region": HOME_REGION,
            "audit_role_arn": audit_role_arn,
            "aws_profiles": {"admin": ADMIN_PROFILE, "audit": AUDIT_PROFILE},
            "member_accounts": [
                {"account_id": m.account_id, "name": m.name, "email": m.email, "role_arn": m.role_arn}
                for m in members.values()
            ],
            "enabled_opt_in_regions": {MANAGEMENT_ACCOUNT_ID: [OPT_IN_REGION]},
            "access_denied": [
                {"principal": audit_role_arn, "account_id": MANAGEMENT_ACCOUNT_ID, "region": AUDIT_DENIED_REGION},
                {"principal": dev.role_arn, "account_id": dev.account_id, "region": DEV_DENIED_REGION},
            ],
            "keys": self.keys,
            "region_postures": self.postures,
            "default_posture": {
                "expected_posture": POSTURE_DEFAULT,
                "xray": {"Type": "NONE", "Status": "ACTIVE"},
                "applies_to": "every other enabled region of every account (never configured)",
            },
        }


def aws_config_text(audit_role_arn: str) -> str:
    # No endpoint here on purpose: the tool reads AWS_ENDPOINT_URL.
    return (
        f"[profile {ADMIN_PROFILE}]\n"
        "aws_access_key_id = test\n"
        "aws_secret_access_key = test\n"
        f"region = {HOME_REGION}\n"
        "\n"
        f"[profile {AUDIT_PROFILE}]\n"
        f"role_arn = {audit_role_arn}\n"
        f"source_profile = {ADMIN_PROFILE}\n"
        "role_session_name = xray-cmk-audit\n"
        f"region = {HOME_REGION}\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xray_cmk_emulator.seed", description=__doc__)
    parser.add_argument("--endpoint", required=True, help="emulator URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--aws-config-out", help="write an AWS shared config file with the demo profiles")
    parser.add_argument("--json-out", help="write the seeded organization as JSON ('-' for stdout)")
    parser.add_argument("--no-reset", action="store_true", help="do not POST /moto-api/reset first")
    args = parser.parse_args(argv)

    result = Seeder(args.endpoint).run(reset=not args.no_reset)
    text = json.dumps(result, indent=2, sort_keys=True) + "\n"
    if args.json_out == "-":
        sys.stdout.write(text)
    elif args.json_out:
        with open(args.json_out, "w") as fh:
            fh.write(text)
    if args.aws_config_out:
        with open(args.aws_config_out, "w") as fh:
            fh.write(aws_config_text(result["audit_role_arn"]))
    print(
        f"seeded: management {MANAGEMENT_ACCOUNT_ID}, members "
        + ", ".join(f"{m['name']}={m['account_id']}" for m in result["member_accounts"]),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
