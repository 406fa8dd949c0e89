"""Fixtures: a real emulator server (subprocess) shared by the session, boto3 helpers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

EMULATOR_DIR = Path(__file__).resolve().parent.parent
UPDATING_SECONDS = "1"  # short UPDATING window for the session server


@dataclass
class Server:
    endpoint: str
    process: subprocess.Popen
    port_file: Path
    log_path: Path

    def stop(self, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


def start_server(tmp_dir: Path, env_overrides: dict[str, str] | None = None) -> Server:
    port_file = tmp_dir / "port"
    log_path = tmp_dir / "server.log"
    env = dict(os.environ)
    env.update(
        {
            "XRAY_CMK_EMULATOR_UPDATING_SECONDS": UPDATING_SECONDS,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "PYTHONPATH": str(EMULATOR_DIR),
        }
    )
    env.update(env_overrides or {})
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "xray_cmk_emulator", "--host", "127.0.0.1", "--port", "0",
         "--port-file", str(port_file), "--quiet"],
        cwd=EMULATOR_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not port_file.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"emulator exited early:\n{log_path.read_text()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("emulator did not write its port file in time")
        time.sleep(0.05)
    port = int(port_file.read_text().strip())
    return Server(f"http://127.0.0.1:{port}", proc, port_file, log_path)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # No LookupEvents rate limit on the shared server (tests page through events quickly);
    # tests/test_kms_events.py starts its own server with the default limit.
    srv = start_server(tmp_path_factory.mktemp("emulator"), {"XRAY_CMK_EMULATOR_LOOKUP_RATE": "0"})
    yield srv
    assert srv.stop() == 0, srv.log_path.read_text()


@pytest.fixture(scope="session")
def endpoint(server: Server) -> str:
    return server.endpoint


def moto_api(endpoint: str, path: str) -> bytes:
    req = urllib.request.Request(f"{endpoint}{path}", data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.read()


@pytest.fixture
def clean(endpoint: str) -> str:
    """Reset moto and the emulator's own state before the test."""
    moto_api(endpoint, "/moto-api/reset")
    return endpoint


TEST_CREDS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


class Aws:
    """boto3 clients against the emulator, for a given set of credentials."""

    def __init__(self, endpoint: str, creds: dict[str, str] | None = None, account: str | None = None) -> None:
        self.endpoint = endpoint
        self.creds = creds or TEST_CREDS
        # moto's x-moto-account-id header: with unknown keys (test/test), act as this account's root.
        self.account = account

    def client(self, service: str, region: str = "us-east-1", validate: bool = True):
        client = boto3.client(
            service,
            region_name=region,
            endpoint_url=self.endpoint,
            config=Config(parameter_validation=validate, retries={"max_attempts": 1}),
            **self.creds,
        )
        if self.account:
            account = self.account

            def add_header(request, **_) -> None:
                request.headers["x-moto-account-id"] = account

            client.meta.events.register("before-sign", add_header)
        return client

    def assume(self, role_arn: str, session_name: str = "pytest") -> "Aws":
        creds = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
        return Aws(
            self.endpoint,
            {
                "aws_access_key_id": creds["AccessKeyId"],
                "aws_secret_access_key": creds["SecretAccessKey"],
                "aws_session_token": creds["SessionToken"],
            },
        )

    def other_account(self, account_id: str, role: str = "Admin") -> "Aws":
        """Credentials in another account: ``role`` is created there (as that account's root) trusting
        123456789012, then assumed. AssumeRole needs an existing role whose trust policy allows the caller."""
        return self.assume(create_role(Aws(self.endpoint, account=account_id), role))


@pytest.fixture
def aws(clean: str) -> Aws:
    return Aws(clean)


ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def create_role(
    aws: Aws, name: str, *policies: dict, account: str = "123456789012", allow_all: bool = True
) -> str:
    """A role trusting ``account``'s root. ``allow_all``: it also gets ``Allow *`` (as an
    administrator would), so that ``policies`` (typically Denies) are what the test is about; the
    emulator enforces Allow like AWS, so a role without any Allow may do nothing."""
    iam = aws.client("iam")
    if allow_all:
        policies = (ALLOW_ALL, *policies)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    for i, policy in enumerate(policies):
        iam.put_role_policy(RoleName=name, PolicyName=f"p{i}", PolicyDocument=json.dumps(policy))
    return arn


@contextlib.contextmanager
def aws_error(code: str, status: int) -> Iterator[pytest.ExceptionInfo[ClientError]]:
    """Expect the block to fail with this AWS error code and HTTP status; yields pytest's ExceptionInfo."""
    with pytest.raises(ClientError) as exc:
        yield exc
    resp = exc.value.response
    assert (resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)


def rejected_key_ref(aws: Aws, case: str) -> str:
    """A reference, by ``case``, to a us-east-1 KMS key that CloudWatch Logs ``kmsKeyId`` and X-Ray
    ``SpansLogGroupKmsKeyId`` refuse: both want the ARN of an enabled symmetric key in the caller's
    Region (X-Ray also refuses ``aws_managed`` keys)."""
    kms = aws.client("kms")
    if case == "unknown":
        return "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    if case == "other_region":
        return aws.client("kms", "eu-west-1").create_key()["KeyMetadata"]["Arn"]
    if case == "aws_managed":
        return kms.describe_key(KeyId="alias/aws/xray")["KeyMetadata"]["Arn"]
    if case == "asymmetric":
        return kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]
    key = kms.create_key()["KeyMetadata"]
    if case == "key_id":
        return key["KeyId"]
    if case == "alias_arn":
        kms.create_alias(AliasName="alias/rejected", TargetKeyId=key["KeyId"])
        return "arn:aws:kms:us-east-1:123456789012:alias/rejected"
    if case == "disabled":
        kms.disable_key(KeyId=key["KeyId"])
    elif case == "pending_deletion":
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    else:
        raise ValueError(case)
    return key["Arn"]
