"""Seed the emulator with a synthetic organization for the xray-cmk benchmark.

    python bench/seed_synthetic.py --endpoint http://127.0.0.1:PORT [--accounts 100] [--regions 17] \
        [--aws-config-out F] [--json-out F] [--workers 8] [--config-coverage 0.8 [--stale-fraction 0.1]]

``--accounts N`` accounts (the management account 123456789012 included) in an
organization with OUs ``Security`` and ``Workloads`` (containing ``Prod`` and
``NonProd``); members are spread over the three leaf OUs. ``--regions R``: the
first R of the 17 default-enabled regions, sorted.

Posture by account index (0 = management), repeating every 20 accounts, so any
N gets the same mix: 14 of 20 use one good customer managed key per account,
created in us-east-1 and used by X-Ray in all its regions (keys shared per
account, as organizations usually do it); 2 use ``alias/aws/xray`` (one AWS
managed key per region); 2 stay on the default ``NONE``; 1 has a key with
rotation off; 1 a key disabled (even blocks) or pending deletion (odd blocks)
after X-Ray was pointed at it. For 100 accounts: 70 / 10 / 10 / 5 / 3 / 2.

Deterministic: the server is reset and ``/moto-api/seed?a=42`` seeded, and
every call that draws an id from moto's random generator (accounts, access
keys, KMS keys, the lazily created AWS managed keys) runs sequentially in a
fixed order. Only id-free calls (aliases, rotation, X-Ray Puts, disable,
schedule deletion) run in the thread pool. Transaction Search stays at its
default and no CloudTrail trails are created.

``--config-coverage F`` (default 0: no AWS Config at all): after X-Ray is
configured, an AWS Config recorder (all supported types, started, with a
delivery channel) in round(F x targets) account-regions drawn with
``random.Random(42)``, so that Config discovers X-Ray's configuration there,
and an organization aggregator ``org-xray`` (``AllAwsRegions``) in the
management account's home region. ``--stale-fraction S``: of those, round(S x
covered) get their item moved 48 h back (the emulator's test hook), older than
xray-cmk's default ``--max-config-age`` of 24 h.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import boto3
from botocore.config import Config
from xray_cmk_emulator.seed import write_json_out

MANAGEMENT_ACCOUNT_ID = "123456789012"  # moto's default account: what test/test resolves to
HOME_REGION = "us-east-1"
RANDOM_SEED = 42
MEMBER_ROLE_NAME = "OrganizationAccountAccessRole"
PROFILE = "bench-admin"
KEY_ALIAS = "alias/xray-cmk"
# The regions that predate opt-in (enabled in every account), sorted.
DEFAULT_REGIONS = sorted(
    [
        "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-southeast-1",
        "ap-southeast-2", "ca-central-1", "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2",
        "eu-west-3", "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    ]
)  # fmt: skip
OUS = (("Security", None), ("Workloads", None), ("Prod", "Workloads"), ("NonProd", "Workloads"))
LEAF_OUS = ("Security", "Prod", "NonProd")

CMK = "cmk"
AWS_MANAGED = "aws-managed-key"
DEFAULT_NONE = "default-none"
ROTATION_OFF = "cmk-rotation-disabled"
DISABLED = "cmk-disabled"
PENDING_DELETION = "cmk-pending-deletion"
POSTURES = {
    CMK: "one good customer managed key in us-east-1, used by X-Ray in every region",
    AWS_MANAGED: "alias/aws/xray in every region",
    DEFAULT_NONE: "never configured: Type NONE",
    ROTATION_OFF: "customer managed key with automatic rotation off",
    DISABLED: "customer managed key disabled after X-Ray was set",
    PENDING_DELETION: "customer managed key scheduled for deletion (7 days) after X-Ray was set",
}
CUSTOMER_KEY_POSTURES = (CMK, ROTATION_OFF, DISABLED, PENDING_DELETION)

AGGREGATOR = "org-xray"
RECORDER_NAME = "default"
STALE_SECONDS = 48 * 3600  # older than xray-cmk's default --max-config-age (24 h)
AGE_HOOK = "/_xray_cmk/config-items/age"  # the emulator's test hook (emulator/README.md)


def posture_for(index: int) -> str:
    cycle = index % 20
    if cycle < 14:
        return CMK
    if cycle < 16:
        return AWS_MANAGED
    if cycle < 18:
        return DEFAULT_NONE
    if cycle == 18:
        return ROTATION_OFF
    return DISABLED if (index // 20) % 2 == 0 else PENDING_DELETION


def config_targets(
    account_ids: list[str], regions: list[str], coverage: float, stale_fraction: float = 0.0
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:  # fmt: skip
    """The account-regions with a recorder, and those of them whose item is made stale: the same
    for the same accounts and regions, drawn from a fixed seed, in (account, region) order."""
    if not 0 <= coverage <= 1 or not 0 <= stale_fraction <= 1:
        raise ValueError("--config-coverage and --stale-fraction must be in 0..1")
    targets = [(a, r) for a in account_ids for r in regions]
    rng = random.Random(RANDOM_SEED)
    covered = sorted(rng.sample(targets, round(coverage * len(targets))))
    stale = sorted(rng.sample(covered, round(stale_fraction * len(covered))))
    return covered, stale


def regions_for(count: int) -> list[str]:
    if not 1 <= count <= len(DEFAULT_REGIONS):
        raise ValueError(f"--regions must be 1..{len(DEFAULT_REGIONS)}")
    return DEFAULT_REGIONS[:count]


KEY_POLICY_ROLES = ("XrayAdmin", "TraceReader")  # the principals key_policy names, created with the key


def key_policy(account_id: str, regions: list[str]) -> dict[str, Any]:
    via_xray = {"StringEquals": {"kms:ViaService": [f"xray.{r}.amazonaws.com" for r in regions]}}
    root = f"arn:aws:iam::{account_id}:root"
    return {
        "Version": "2012-10-17",
        "Id": "xray-cmk-bench",
        "Statement": [
            {"Sid": "EnableRootAccess", "Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*",
             "Resource": "*"},
            {"Sid": "XRayConfigure", "Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{account_id}:role/XrayAdmin"},
             "Action": ["kms:CreateGrant", "kms:DescribeKey"], "Resource": "*", "Condition": via_xray},
            {"Sid": "TraceReaders", "Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{account_id}:role/TraceReader"},
             "Action": "kms:Decrypt", "Resource": "*", "Condition": via_xray},
        ],
    }  # fmt: skip


def aws_config_text() -> str:
    return f"[profile {PROFILE}]\naws_access_key_id = test\naws_secret_access_key = test\nregion = {HOME_REGION}\n"


@dataclass
class Account:
    index: int
    account_id: str
    name: str
    email: str
    ou: str | None  # None: the organization root (management account)
    posture: str
    key_arn: str | None = None


class Seeder:
    def __init__(self, endpoint: str, workers: int = 8) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.workers = workers
        # One session for every account (credentials go to each client): a boto3 Session per
        # account would load and parse each service model again, ~0.2 s per account and service.
        self.session = boto3.Session(region_name=HOME_REGION)
        self.credentials: dict[str, dict[str, str]] = {
            MANAGEMENT_ACCOUNT_ID: {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
        }
        self._client_lock = threading.Lock()  # boto3 sessions are not thread-safe when making clients
        self._config = Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=workers)

    def client(self, account_id: str, service: str, region: str = HOME_REGION) -> Any:
        with self._client_lock:
            return self.session.client(
                service, region_name=region, endpoint_url=self.endpoint, config=self._config,
                **self.credentials[account_id],
            )  # fmt: skip

    def moto_api(self, path: str, body: dict[str, Any] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        req = urllib.request.Request(f"{self.endpoint}{path}", data=data, method="POST")
        if body is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=30) as resp:
            resp.read()

    # --- sequential: everything that draws ids from moto's random generator ---------------------

    def organization(self, count: int) -> tuple[dict[str, Any], list[dict[str, Any]], list[Account]]:
        org = self.client(MANAGEMENT_ACCOUNT_ID, "organizations")
        info = org.create_organization(FeatureSet="ALL")["Organization"]
        root_id = org.list_roots()["Roots"][0]["Id"]
        ou_ids: dict[str, str] = {}
        ous = []
        for name, parent in OUS:
            parent_id = ou_ids[parent] if parent else root_id
            ou_ids[name] = org.create_organizational_unit(ParentId=parent_id, Name=name)["OrganizationalUnit"]["Id"]
            ous.append({"name": name, "id": ou_ids[name], "parent": parent, "parent_id": parent_id})
        accounts = [
            Account(0, MANAGEMENT_ACCOUNT_ID, "management", "management@example.com", None, posture_for(0))
        ]
        sts = self.client(MANAGEMENT_ACCOUNT_ID, "sts")
        for index in range(1, count):
            name = f"bench-{index:04d}"
            email = f"{name}@example.com"
            status = org.create_account(AccountName=name, Email=email)["CreateAccountStatus"]
            while status["State"] == "IN_PROGRESS":  # moto completes at once; AWS would not
                time.sleep(0.2)
                status = org.describe_create_account_status(CreateAccountRequestId=status["Id"])[
                    "CreateAccountStatus"
                ]
            if status["State"] != "SUCCEEDED":
                raise RuntimeError(f"CreateAccount {name}: {status}")
            account_id = status["AccountId"]
            ou = LEAF_OUS[(index - 1) % len(LEAF_OUS)]
            org.move_account(AccountId=account_id, SourceParentId=root_id, DestinationParentId=ou_ids[ou])
            # moto maps AssumeRole credentials to the role's account: the seeder works inside the member.
            creds = sts.assume_role(
                RoleArn=f"arn:aws:iam::{account_id}:role/{MEMBER_ROLE_NAME}", RoleSessionName="xray-cmk-bench-seed"
            )["Credentials"]
            self.credentials[account_id] = {
                "aws_access_key_id": creds["AccessKeyId"],
                "aws_secret_access_key": creds["SecretAccessKey"],
                "aws_session_token": creds["SessionToken"],
            }
            accounts.append(Account(index, account_id, name, email, ou, posture_for(index)))
        organization = {"id": info["Id"], "arn": info["Arn"], "root_id": root_id}
        return organization, ous, accounts

    def create_keys(self, accounts: list[Account], regions: list[str]) -> None:
        for acct in accounts:
            if acct.posture in CUSTOMER_KEY_POSTURES:
                # KMS rejects a key policy naming roles that do not exist (MalformedPolicyDocument).
                iam = self.client(acct.account_id, "iam")
                trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                         "Principal": {"AWS": f"arn:aws:iam::{acct.account_id}:root"}}]}  # fmt: skip
                for role in KEY_POLICY_ROLES:
                    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
                acct.key_arn = self.client(acct.account_id, "kms").create_key(
                    Description=f"xray-cmk bench key ({acct.posture})",
                    KeyUsage="ENCRYPT_DECRYPT",
                    KeySpec="SYMMETRIC_DEFAULT",
                    Policy=json.dumps(key_policy(acct.account_id, regions)),
                    Tags=[{"TagKey": "owner", "TagValue": "platform-security"},
                          {"TagKey": "data-classification", "TagValue": "confidential"}],
                )["KeyMetadata"]["Arn"]  # fmt: skip
            elif acct.posture == AWS_MANAGED:
                # The first use of alias/aws/xray creates the AWS managed key of that region.
                for region in regions:
                    self.client(acct.account_id, "xray", region).put_encryption_config(
                        Type="KMS", KeyId="alias/aws/xray"
                    )

    # --- parallel: id-free configuration ---------------------------------------------------------

    def configure(self, acct: Account, regions: list[str]) -> tuple[str, str, str] | None:
        """Alias, rotation, X-Ray in every region, then the defect. Returns the last (acct, region, status)."""
        if acct.key_arn is None:
            return None
        kms = self.client(acct.account_id, "kms")
        kms.create_alias(AliasName=KEY_ALIAS, TargetKeyId=acct.key_arn)
        if acct.posture != ROTATION_OFF:
            kms.enable_key_rotation(KeyId=acct.key_arn, RotationPeriodInDays=365)
        status = ""
        for region in regions:
            status = self.client(acct.account_id, "xray", region).put_encryption_config(
                Type="KMS", KeyId=acct.key_arn
            )["EncryptionConfig"]["Status"]
        # X-Ray only accepts an enabled key: break it after X-Ray uses it, as happens on AWS.
        if acct.posture == DISABLED:
            kms.disable_key(KeyId=acct.key_arn)
        elif acct.posture == PENDING_DELETION:
            kms.schedule_key_deletion(KeyId=acct.key_arn, PendingWindowInDays=7)
        return acct.account_id, regions[-1], status

    def record(self, account_id: str, regions: list[str]) -> None:
        """Turn on AWS Config in these regions of one account: recorder, delivery channel, start
        (which makes the emulator discover X-Ray's current configuration)."""
        role = f"arn:aws:iam::{account_id}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"
        for region in regions:
            cfg = self.client(account_id, "config", region)
            cfg.put_configuration_recorder(ConfigurationRecorder={
                "name": RECORDER_NAME, "roleARN": role,
                "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": region == HOME_REGION},
            })  # fmt: skip
            cfg.put_delivery_channel(
                DeliveryChannel={"name": RECORDER_NAME, "s3BucketName": f"config-bucket-{account_id}"}
            )
            cfg.start_configuration_recorder(ConfigurationRecorderName=RECORDER_NAME)

    def config(self, accounts: list[Account], regions: list[str], coverage: float, stale_fraction: float,
               pool: ThreadPoolExecutor) -> dict[str, Any]:  # fmt: skip
        started = time.monotonic()
        covered, stale = config_targets([a.account_id for a in accounts], regions, coverage, stale_fraction)
        by_account: dict[str, list[str]] = {}
        for account_id, region in covered:
            by_account.setdefault(account_id, []).append(region)
        list(pool.map(lambda item: self.record(*item), by_account.items()))
        body = lambda t: {"account_id": t[0], "region": t[1], "seconds": STALE_SECONDS}  # noqa: E731
        list(pool.map(lambda t: self.moto_api(AGE_HOOK, body(t)), stale))
        # Sequential and last: moto draws the aggregator ARN's suffix from its random generator.
        self.client(MANAGEMENT_ACCOUNT_ID, "config").put_configuration_aggregator(
            ConfigurationAggregatorName=AGGREGATOR,
            OrganizationAggregationSource={
                "RoleArn": f"arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:role/ConfigAggregator", "AllAwsRegions": True
            },
        )  # fmt: skip
        return {
            "aggregator": AGGREGATOR,
            "aggregator_region": HOME_REGION,
            "coverage": coverage,
            "stale_fraction": stale_fraction,
            "stale_seconds": STALE_SECONDS,
            "covered_targets": len(covered),
            "stale_targets": len(stale),
            "fresh_targets": len(covered) - len(stale),
            "covered": [list(t) for t in covered],
            "stale": [list(t) for t in stale],
            "seconds": round(time.monotonic() - started, 2),
        }

    def wait_active(self, account_id: str, region: str, timeout: float = 60.0) -> None:
        """An account's last Put ends its UPDATING window last, so that config covers the account."""
        xray = self.client(account_id, "xray", region)
        deadline = time.monotonic() + timeout
        while xray.get_encryption_config()["EncryptionConfig"]["Status"] != "ACTIVE":
            if time.monotonic() > deadline:
                raise RuntimeError(f"X-Ray encryption config of {account_id} {region} never became ACTIVE")
            time.sleep(0.25)

    def run(self, account_count: int, region_count: int, config_coverage: float = 0.0,
            stale_fraction: float = 0.0, aggregator: bool | None = None) -> dict[str, Any]:  # fmt: skip
        """``aggregator``: create ``org-xray`` (default: when ``config_coverage`` > 0)."""
        started = time.monotonic()
        regions = regions_for(region_count)
        if account_count < 1:
            raise ValueError("--accounts must be at least 1")
        config_targets([], regions, config_coverage, stale_fraction)  # checks the fractions before any call
        self.moto_api("/moto-api/reset")
        self.moto_api(f"/moto-api/seed?a={RANDOM_SEED}")
        organization, ous, accounts = self.organization(account_count)
        self.create_keys(accounts, regions)
        with ThreadPoolExecutor(self.workers) as pool:
            last = [r for r in pool.map(lambda a: self.configure(a, regions), accounts) if r]
        if any(status != "ACTIVE" for _, _, status in last):
            for account_id, region, _ in last:
                self.wait_active(account_id, region)
        config = None
        if aggregator or (aggregator is None and config_coverage > 0):
            with ThreadPoolExecutor(self.workers) as pool:
                config = self.config(accounts, regions, config_coverage, stale_fraction, pool)
        return describe(organization, ous, accounts, regions, time.monotonic() - started, config)


def describe(
    organization: dict[str, Any], ous: list[dict[str, Any]], accounts: list[Account], regions: list[str],
    seconds: float, config: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    by_posture = Counter(a.posture for a in accounts)
    return {
        "management_account_id": MANAGEMENT_ACCOUNT_ID,
        "organization": organization,
        "member_role_name": MEMBER_ROLE_NAME,
        "profile": PROFILE,
        "home_region": HOME_REGION,
        "regions": regions,
        "ous": ous,
        "accounts": [asdict(a) for a in accounts],
        "postures": POSTURES,
        "expected": {
            "accounts": len(accounts),
            "regions": len(regions),
            "targets": len(accounts) * len(regions),
            "accounts_by_posture": dict(sorted(by_posture.items())),
            "targets_by_posture": {p: n * len(regions) for p, n in sorted(by_posture.items())},
            "customer_managed_keys": sum(by_posture[p] for p in CUSTOMER_KEY_POSTURES),
            "aws_managed_keys": by_posture[AWS_MANAGED] * len(regions),
        },
        "config": config,  # None: no AWS Config recorders and no aggregator
        "seed_seconds": round(seconds, 2),
    }


def seed(endpoint: str, accounts: int = 100, regions: int = 17, workers: int = 8, config_coverage: float = 0.0,
         stale_fraction: float = 0.0, aggregator: bool | None = None) -> dict[str, Any]:  # fmt: skip
    return Seeder(endpoint, workers).run(accounts, regions, config_coverage, stale_fraction, aggregator)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoint", required=True, help="emulator URL (directly, not through the proxy)")
    p.add_argument("--accounts", type=int, default=100, help="accounts, management included (default 100)")
    p.add_argument("--regions", type=int, default=17, help="first R default-enabled regions (default 17)")
    p.add_argument("--workers", type=int, default=8, help="threads for the id-free calls")
    p.add_argument("--aws-config-out", help=f"AWS config file with profile {PROFILE} (test/test, {HOME_REGION})")
    p.add_argument("--json-out", help="accounts, OUs, postures and expected counts; - for stdout")
    p.add_argument("--config-coverage", type=float, default=0.0, metavar="F",
                   help=f"share of account-regions with an AWS Config recorder, plus the aggregator {AGGREGATOR} "
                   "(default 0: no Config)")  # fmt: skip
    p.add_argument("--stale-fraction", type=float, default=0.0, metavar="S",
                   help="share of the recorded account-regions whose item is made 48 h old (default 0)")
    args = p.parse_args(argv)
    try:
        result = seed(args.endpoint, args.accounts, args.regions, args.workers, args.config_coverage,
                      args.stale_fraction)  # fmt: skip
    except ValueError as exc:
        p.error(str(exc))
    if args.aws_config_out:
        with open(args.aws_config_out, "w") as fh:
            fh.write(aws_config_text())
    write_json_out(result, args.json_out)
    print(
        f"seeded {result['expected']['accounts']} accounts x {len(result['regions'])} regions "
        f"in {result['seed_seconds']} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
