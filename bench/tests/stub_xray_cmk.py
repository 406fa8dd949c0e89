"""A stand-in for ``xray-cmk audit --org --format jsonl`` so bench/run can be tested without the Rust build.

    XRAY_CMK_BIN="python bench/tests/stub_xray_cmk.py" bench/run ...

It audits like the real tool, through AWS_ENDPOINT_URL (so through the proxy):
Organizations ListAccounts, AssumeRole into each member's
OrganizationAccountAccessRole, X-Ray GetEncryptionConfig per region, and
DescribeKey of each key in use, with botocore's standard retries (5 attempts).
Two rules: ``xray-default-encryption`` and ``xray-key-unusable``. What cannot
be read becomes an ``error`` result. Test hooks: ``STUB_FLIP_IN=<run label>``
flips the first result's status in that run (``XRAY_CMK_BENCH_RUN``);
``STUB_REWORD_IN=<run label>`` changes the first result's message only.

``--from-config-aggregator NAME`` reads X-Ray's configuration from the aggregator
first (one SelectAggregateResourceConfig query per region, 100 rows a page;
items captured more than 24 h ago are not used) and prints xray-cmk's stderr line
about it unless ``--quiet``; ``--stats-out F`` writes the operations it called.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

ROLE = "OrganizationAccountAccessRole"
SEVERITY = {"xray-default-encryption": "high", "xray-key-unusable": "critical"}


def result(rule: str, status: str, account: str, region: str, key: str | None, message: str) -> dict[str, Any]:
    return {
        "type": "result", "rule": rule, "status": status, "severity": SEVERITY[rule],
        "confidence": "low" if status == "error" else "high", "account": account, "region": region,
        "resource": "xray-encryption-config", "key": key, "message": message, "suppressed": False, "exemption": None,
    }  # fmt: skip


class Stub:
    def __init__(self, profile: str, concurrency: int) -> None:
        self.session = boto3.Session(profile_name=profile)
        self.config = Config(retries={"mode": "standard", "total_max_attempts": 5}, max_pool_connections=concurrency)
        self.lock = threading.Lock()
        self.operations: Counter[str] = Counter()
        self.items: dict[tuple[str, str], dict[str, Any]] = {}  # (account, region) -> X-Ray config from an item

    def client(self, service: str, region: str, creds: dict[str, str] | None = None) -> Any:
        with self.lock:  # boto3 sessions are not thread-safe when making clients
            c = self.session.client(service, region_name=region, config=self.config, **(creds or {}))

        def count(model: Any, **_: Any) -> None:
            with self.lock:
                self.operations[f"{service}:{model.name}"] += 1

        c.meta.events.register("before-call", count)
        return c

    def read_aggregator(self, name: str, regions: list[str]) -> int:
        """Items of AWS::XRay::EncryptionConfig no older than 24 h, per region; the number of queries."""
        cfg = self.client("config", self.session.region_name or "us-east-1")
        oldest = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=24)
        queries = 0
        for region in regions:
            expr = ("SELECT accountId, awsRegion, configuration, configurationItemCaptureTime WHERE resourceType = "
                    f"'AWS::XRay::EncryptionConfig' AND awsRegion = '{region}'")  # fmt: skip
            token = None
            while True:
                page = cfg.select_aggregate_resource_config(
                    ConfigurationAggregatorName=name, Expression=expr, MaxResults=100,
                    **({"NextToken": token} if token else {}),
                )  # fmt: skip
                queries += 1
                for row in map(json.loads, page["Results"]):
                    captured = dt.datetime.fromisoformat(row["configurationItemCaptureTime"].replace("Z", "+00:00"))
                    if captured >= oldest:
                        c = row["configuration"]
                        self.items[(row["accountId"], row["awsRegion"])] = {
                            "Type": c["type"], "KeyId": c.get("keyId"), "Status": c["status"]}  # fmt: skip
                token = page.get("NextToken")
                if not token:
                    break
        return queries

    def credentials(self, account: str, management: str) -> dict[str, str] | None:
        if account == management:
            return None
        c = self.client("sts", "us-east-1").assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="xray-cmk-stub"
        )["Credentials"]
        return {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
                "aws_session_token": c["SessionToken"]}  # fmt: skip

    def target(self, account: str, region: str, creds: Any) -> list[dict[str, Any]]:
        if isinstance(creds, Exception):
            return [result("xray-default-encryption", "error", account, region, None, f"AssumeRole failed: {creds}")]
        try:
            cfg = self.items.get((account, region)) or self.client("xray", region, creds).get_encryption_config()[
                "EncryptionConfig"
            ]
        except (BotoCoreError, ClientError) as exc:
            return [result("xray-default-encryption", "error", account, region, None, str(exc))]
        if cfg["Type"] == "NONE":
            return [result("xray-default-encryption", "fail", account, region, None, "Type NONE")]
        out = [result("xray-default-encryption", "pass", account, region, cfg["KeyId"], "KMS")]
        try:
            state = self.client("kms", cfg["KeyId"].split(":")[3], creds).describe_key(KeyId=cfg["KeyId"])
            state = state["KeyMetadata"]["KeyState"]
            out.append(result("xray-key-unusable", "pass" if state == "Enabled" else "fail", account, region,
                              cfg["KeyId"], state))  # fmt: skip
        except (BotoCoreError, ClientError) as exc:
            out.append(result("xray-key-unusable", "error", account, region, cfg["KeyId"], str(exc)))
        return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["audit"])
    p.add_argument("--org", action="store_true", required=True)
    p.add_argument("--profile", required=True)
    p.add_argument("--regions", required=True)
    p.add_argument("--format", choices=["jsonl"], required=True)
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--from-config-aggregator")
    p.add_argument("--stats-out")
    p.add_argument("--db")  # the history database each run records into; the stub records nothing
    args = p.parse_args(argv)
    stub = Stub(args.profile, args.concurrency)
    regions = args.regions.split(",")
    queries = stub.read_aggregator(args.from_config_aggregator, regions) if args.from_config_aggregator else 0
    management = stub.client("sts", "us-east-1").get_caller_identity()["Account"]
    pages = stub.client("organizations", "us-east-1").get_paginator("list_accounts").paginate()
    accounts = sorted(a["Id"] for page in pages for a in page["Accounts"])
    creds: dict[str, Any] = {}
    for account in accounts:
        try:
            creds[account] = stub.credentials(account, management)
        except (BotoCoreError, ClientError) as exc:
            creds[account] = exc
    targets = [(a, r) for a in accounts for r in regions]
    with ThreadPoolExecutor(args.concurrency) as pool:
        results = [r for rs in pool.map(lambda t: stub.target(t[0], t[1], creds[t[0]]), targets) for r in rs]
    if results and os.environ.get("STUB_FLIP_IN") == os.environ.get("XRAY_CMK_BENCH_RUN"):
        results[0]["status"] = "fail" if results[0]["status"] == "pass" else "pass"
    if results and os.environ.get("STUB_REWORD_IN") == os.environ.get("XRAY_CMK_BENCH_RUN"):
        results[0]["message"] += " (reworded)"
    counts = {s: sum(1 for r in results if r["status"] == s) for s in ("pass", "fail", "error")}
    for r in results:
        print(json.dumps(r))
    print(json.dumps({"type": "summary", "targets": len(targets), "results": counts}))
    if args.stats_out:
        with open(args.stats_out, "w") as fh:
            ops = dict(sorted(stub.operations.items()))
            json.dump({"api_calls": sum(ops.values()), "operations": ops}, fh)
    if args.from_config_aggregator and not args.quiet:
        used = sum(1 for t in targets if t in stub.items)
        print(f"xray-cmk: AWS Config aggregator {args.from_config_aggregator}: X-Ray configuration of {used} of "
              f"{len(targets)} account-regions from configuration items ({queries} queries); {len(targets) - used} "
              "read live", file=sys.stderr)  # fmt: skip
    return 3 if counts["error"] else 1 if counts["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
