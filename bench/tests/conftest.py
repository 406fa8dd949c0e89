"""Fixtures: one emulator for the session (the bench launcher), proxies in front of it, boto3 helpers."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

BENCH = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH))

import runner  # noqa: E402

SESSION = boto3.Session(region_name="us-east-1")  # one session: clients share parsed service models
TEST_CREDS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    procs = runner.Processes(tmp_path_factory.mktemp("emulator"))
    env = dict(os.environ, XRAY_CMK_EMULATOR_UPDATING_SECONDS="0")
    cmd = [sys.executable, str(BENCH / "emulator.py"), "--host", "127.0.0.1", "--port", "0", "--quiet"]
    try:
        yield f"http://127.0.0.1:{procs.start('emulator', cmd, env)}"
    finally:
        procs.stop_all()


@dataclass
class ProxyHandle:
    endpoint: str
    stats_out: Path
    procs: runner.Processes
    name: str

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.endpoint}/_proxy/stats", timeout=10) as resp:
            return json.load(resp)

    def stop(self) -> dict[str, Any]:
        """SIGTERM; returns what --stats-out wrote."""
        self.procs.stop(self.name)
        return json.loads(self.stats_out.read_text())


@pytest.fixture
def start_proxy(emulator: str, tmp_path: Path) -> Iterator[Callable[..., ProxyHandle]]:
    procs = runner.Processes(tmp_path)
    count = 0

    def start(*args: str) -> ProxyHandle:
        nonlocal count
        count += 1
        name = f"proxy{count}"
        stats_out = tmp_path / f"{name}.stats.json"
        cmd = [sys.executable, str(BENCH / "proxy.py"), "--upstream", emulator, "--port", "0",
               "--stats-out", str(stats_out), *args]  # fmt: skip
        port = procs.start(name, cmd)
        return ProxyHandle(f"http://127.0.0.1:{port}", stats_out, procs, name)

    try:
        yield start
    finally:
        procs.stop_all()


def client(endpoint: str, service: str, region: str = "us-east-1", creds: dict[str, str] | None = None,
           attempts: int = 1) -> Any:  # fmt: skip
    """A boto3 client; attempts=1 so that a fault reaches the test instead of being retried."""
    config = Config(retries={"mode": "standard", "total_max_attempts": attempts}, connect_timeout=5, read_timeout=30)
    return SESSION.client(service, region_name=region, endpoint_url=endpoint, config=config, **(creds or TEST_CREDS))


def member_accounts(endpoint: str, count: int) -> list[str]:
    """New member accounts (an organization is created if there is none): moto only lets the
    management account assume OrganizationAccountAccessRole into accounts that exist."""
    org = client(endpoint, "organizations")
    try:
        org.create_organization(FeatureSet="ALL")
    except org.exceptions.AlreadyInOrganizationException:
        pass
    ids = []
    for _ in range(count):
        name = f"test-{time.monotonic_ns()}"
        status = org.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
        ids.append(status["AccountId"])
    return ids


def assumed_creds(endpoint: str, account_id: str) -> dict[str, str]:
    creds = client(endpoint, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="bench-test"
    )["Credentials"]
    return {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }
