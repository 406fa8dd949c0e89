"""A stand-in for ``xray-cmk audit --org --format jsonl`` so bench/run can be tested without the Rust build.

    XRAY_CMK_BIN="python bench/tests/stub_xray_cmk.py" bench/run ...

It audits like the real tool, through AWS_ENDPOINT_URL (so through the proxy):
Organizations ListAccounts, AssumeRole into each member's
OrganizationAccountAccessRole, X-Ray GetEncryptionConfig per region, and
DescribeKey of each key in use, with botocore's standard retries (5 attempts).
Two rules: ``xray-default-encryption`` and ``xray-key-unusable``. What cannot
be read becomes an ``error`` result. Test hooks: ``STUB_FLIP_IN=<run label>``
flips the first result's status in that run (``XRAY_CMK_BENCH_RUN``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
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

    def client(self, service: str, region: str, creds: dict[str, str] | None = None) -> Any:
        with self.lock:  # boto3 sessions are not thread-safe when making clients
            return self.session.client(service, region_name=region, config=self.config, **(creds or {}))

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
            cfg = self.client("xray", region, creds).get_encryption_config()["EncryptionConfig"]
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
    args = p.parse_args(argv)
    stub = Stub(args.profile, args.concurrency)
    regions = args.regions.split(",")
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
    counts = {s: sum(1 for r in results if r["status"] == s) for s in ("pass", "fail", "error")}
    for r in results:
        print(json.dumps(r))
    print(json.dumps({"type": "summary", "targets": len(targets), "results": counts}))
    return 3 if counts["error"] else 1 if counts["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
