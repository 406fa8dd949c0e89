"""bench/proxy.py against the real emulator: latency, fault wire shapes per protocol (and how botocore
classifies them), drops, dead accounts, determinism, stats, passthrough, HTTP/1.1 framing."""

from __future__ import annotations

import http.client
import json
import socket
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import proxy
import pytest
import runner
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, ConnectionClosedError
from botocore.retries.standard import RetryEventAdapter, ThrottlingErrorDetector, TransientRetryableChecker
from conftest import BENCH, assumed_creds, client, member_accounts

STS_BODY = b"Action=GetCallerIdentity&Version=2011-06-15"
STS_HEADERS = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def signed_headers(endpoint: str, service: str, method: str, path: str, body: bytes,
                   headers: dict[str, str], region: str = "us-east-1") -> dict[str, str]:  # fmt: skip
    req = AWSRequest(method=method, url=endpoint + path, data=body, headers=headers)
    SigV4Auth(Credentials("test", "test"), service, region).add_auth(req)
    return dict(req.headers.items())


def sts_headers(endpoint: str) -> dict[str, str]:
    return signed_headers(endpoint, "sts", "POST", "/", STS_BODY, STS_HEADERS)


def raw_sts(endpoint: str) -> int | str:
    """One GetCallerIdentity on a fresh connection: the HTTP status, or 'drop'."""
    url = urlsplit(endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request("POST", "/", body=STS_BODY, headers=sts_headers(endpoint))
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except (http.client.RemoteDisconnected, ConnectionResetError):
        return "drop"
    finally:
        conn.close()


def call_and_classify(c: Any, method: str, **params: Any) -> dict[str, Any]:
    """Call once (no retries) and ask botocore's standard retry checks what the outcome was."""
    captured: dict[str, Any] = {}
    c.meta.events.register("needs-retry", lambda **kwargs: captured.update(kwargs))
    error = None
    try:
        getattr(c, method)(**params)
    except (ClientError, ConnectionClosedError) as exc:
        error = exc
    adapter = RetryEventAdapter()
    ctx = adapter.create_retry_context(**captured)
    return {
        "error": error,
        "http": ctx.http_response,
        "throttling": ThrottlingErrorDetector(adapter).is_throttling_error_from_context(ctx),
        "transient": TransientRetryableChecker().is_retryable(ctx),
    }


# service, client method, protocol
SERVICES = [
    ("kms", "list_keys", "json"),
    ("organizations", "describe_organization", "json"),
    ("cloudtrail", "describe_trails", "json"),
    ("logs", "describe_log_groups", "json"),
    ("xray", "get_encryption_config", "rest-json"),
    ("account", "list_regions", "rest-json"),
    ("sts", "get_caller_identity", "query"),
]
# (protocol or service, fault) -> status, error code, message member
EXPECTED = {
    ("json", "throttle"): (400, "ThrottlingException", "message"),
    ("json", "error"): (500, "InternalFailure", "message"),
    ("xray", "throttle"): (429, "ThrottledException", "Message"),
    ("xray", "error"): (500, "InternalFailure", "Message"),
    ("account", "throttle"): (429, "TooManyRequestsException", "message"),
    ("account", "error"): (500, "InternalServerException", "message"),
    ("query", "throttle"): (400, "Throttling", "Message"),
    ("query", "error"): (500, "InternalFailure", "Message"),
}


@pytest.fixture(scope="module")
def fault_proxies(emulator: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One proxy per fault kind that faults every request (started once: the matrix is large)."""
    procs = runner.Processes(tmp_path_factory.mktemp("fault-proxies"))
    endpoints = {}
    for kind, flag in (("throttle", "--throttle-rate"), ("error", "--error-rate"), ("drop", "--drop-rate")):
        cmd = [sys.executable, str(BENCH / "proxy.py"), "--upstream", emulator, "--port", "0", flag, "1"]
        endpoints[kind] = f"http://127.0.0.1:{procs.start(kind, cmd)}"
    yield endpoints
    procs.stop_all()


@pytest.mark.parametrize("fault", ["throttle", "error"])
@pytest.mark.parametrize(("service", "method", "protocol"), SERVICES)
def test_fault_wire_shape_and_botocore_classification(fault_proxies: dict[str, str], service: str, method: str,
                                                      protocol: str, fault: str) -> None:  # fmt: skip
    status, code, member = EXPECTED.get((service, fault)) or EXPECTED[(protocol, fault)]
    out = call_and_classify(client(fault_proxies[fault], service, "eu-west-1"), method)
    assert isinstance(out["error"], ClientError)
    assert out["error"].response["Error"]["Code"] == code
    assert out["error"].response["Error"]["Message"] in ("Rate exceeded", proxy.ERROR_MESSAGE)
    resp = out["http"]
    assert resp.status_code == status
    assert resp.headers["x-amzn-RequestId"]
    if protocol == "query":
        assert resp.headers["Content-Type"] == "text/xml"
        root = ET.fromstring(resp.content)
        assert root.tag == "ErrorResponse"
        assert root.findtext("Error/Type") == ("Sender" if fault == "throttle" else "Receiver")
        assert root.findtext("Error/Code") == code
        assert root.findtext("Error/Message")
        assert root.findtext("RequestId") == resp.headers["x-amzn-RequestId"]
    else:
        assert resp.headers["x-amzn-ErrorType"] == code
        body = json.loads(resp.content)
        if protocol == "json":
            assert resp.headers["Content-Type"] == "application/x-amz-json-1.1"
            assert body == {"__type": code, "message": body["message"]}
        else:
            assert resp.headers["Content-Type"] == "application/json"
            assert list(body) == [member]
    if fault == "throttle":
        assert body_message(resp) == "Rate exceeded"
    # What an SDK does with it: throttling errors are throttling, 5xx are transient (and not throttling).
    assert out["throttling"] is (fault == "throttle")
    assert out["transient"] is (fault == "error")


def body_message(resp: Any) -> str | None:
    if resp.headers["Content-Type"] == "text/xml":
        return ET.fromstring(resp.content).findtext("Error/Message")
    body = json.loads(resp.content)
    return body.get("message") or body.get("Message")


@pytest.mark.parametrize(("service", "method", "protocol"), SERVICES)
def test_drop_closes_the_connection_without_a_response(fault_proxies: dict[str, str], service: str, method: str,
                                                       protocol: str) -> None:  # fmt: skip
    out = call_and_classify(client(fault_proxies["drop"], service), method)
    assert isinstance(out["error"], ConnectionClosedError)
    assert out["http"] is None
    assert out["transient"] is True


def test_drop_on_the_wire(fault_proxies: dict[str, str]) -> None:
    url = urlsplit(fault_proxies["drop"])
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        headers = sts_headers(fault_proxies["drop"])
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(f"POST / HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Length: {len(STS_BODY)}\r\n{head}\r\n".encode()
                     + STS_BODY)  # fmt: skip
        assert sock.recv(1024) == b""  # EOF, not a single byte of response


def test_latency_is_added_to_every_request_and_concurrent(start_proxy: Any, emulator: str) -> None:
    p = start_proxy("--latency-ms", "300")
    sts = client(p.endpoint, "sts")
    sts.get_caller_identity()  # warm up the connection pool
    started = time.monotonic()
    sts.get_caller_identity()
    assert time.monotonic() - started >= 0.3
    # Hundreds of concurrent connections: the latency overlaps instead of adding up (300 x 0.3 s serially).
    with ThreadPoolExecutor(300) as pool:
        started = time.monotonic()
        statuses = list(pool.map(lambda _: raw_sts(p.endpoint), range(300)))
        elapsed = time.monotonic() - started
    assert statuses == [200] * 300
    assert 0.3 <= elapsed < 10
    assert p.stats()["by_operation"]["sts:GetCallerIdentity"] == 302


def test_same_seed_same_faults_other_seed_other_faults(start_proxy: Any) -> None:
    rates = ("--throttle-rate", "0.3", "--error-rate", "0.2", "--drop-rate", "0.2")
    runs = []
    for seed in ("7", "7", "8"):
        p = start_proxy(*rates, "--seed", seed)
        outcomes = [raw_sts(p.endpoint) for _ in range(60)]
        stats = p.stop()
        assert stats["faults"]["throttle"] == outcomes.count(400)
        assert stats["faults"]["error"] == outcomes.count(500)
        assert stats["faults"]["drop"] == outcomes.count("drop")
        assert stats["requests"] == 60
        runs.append(outcomes)
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert {200, 400, 500, "drop"} <= set(runs[0])


def test_dead_account_learnt_from_assume_role(start_proxy: Any, emulator: str) -> None:
    dead, alive = member_accounts(emulator, 2)
    early = assumed_creds(emulator, dead)  # straight to the emulator: this proxy never sees the key
    p = start_proxy("--dead-account", dead)
    dead_creds, alive_creds = assumed_creds(p.endpoint, dead), assumed_creds(p.endpoint, alive)
    out = call_and_classify(client(p.endpoint, "xray", "eu-west-1", dead_creds), "get_encryption_config")
    assert isinstance(out["error"], ConnectionClosedError)
    out = call_and_classify(client(p.endpoint, "kms", "us-east-1", dead_creds), "list_keys")
    assert isinstance(out["error"], ConnectionClosedError)
    # Other accounts, static keys, and keys it did not see issued all pass.
    assert client(p.endpoint, "sts", creds=alive_creds).get_caller_identity()["Account"] == alive
    assert client(p.endpoint, "sts").get_caller_identity()["Account"] == "123456789012"
    assert client(p.endpoint, "sts", creds=early).get_caller_identity()["Account"] == dead
    stats = p.stop()
    assert stats["faults"]["dead_account"] == 2
    assert stats["faults_by_operation"]["dead_account"] == {"kms:ListKeys": 1, "xray:GetEncryptionConfig": 1}
    assert stats["learnt_access_keys"] == 2
    assert stats["by_operation"]["sts:AssumeRole"] == 2


def test_stats_by_operation_and_stats_out_at_sigterm(start_proxy: Any) -> None:
    p = start_proxy()
    client(p.endpoint, "kms").list_keys()
    client(p.endpoint, "kms").list_aliases()
    client(p.endpoint, "kms").list_keys()
    client(p.endpoint, "xray", "eu-west-1").get_encryption_config()
    client(p.endpoint, "xray").get_trace_segment_destination()
    client(p.endpoint, "account").list_regions()
    client(p.endpoint, "sts").get_caller_identity()
    client(p.endpoint, "cloudtrail").describe_trails()
    client(p.endpoint, "logs").describe_log_groups()
    expected = {
        "account:ListRegions": 1, "cloudtrail:DescribeTrails": 1, "kms:ListAliases": 1, "kms:ListKeys": 2,
        "logs:DescribeLogGroups": 1, "sts:GetCallerIdentity": 1, "xray:GetEncryptionConfig": 1,
        "xray:GetTraceSegmentDestination": 1,
    }  # fmt: skip
    live = p.stats()
    assert live["by_operation"] == expected
    assert live["requests"] == 9
    assert live["faults"] == {"throttle": 0, "error": 0, "drop": 0, "dead_account": 0}
    assert p.stop() == live


def test_proxy_reset_zeroes_counters(start_proxy: Any) -> None:
    p = start_proxy()
    client(p.endpoint, "kms").list_keys()
    req = urllib.request.Request(f"{p.endpoint}/_proxy/reset", data=b"", method="POST")
    urllib.request.urlopen(req, timeout=5).read()
    assert p.stats()["requests"] == 0


def test_moto_api_and_proxy_paths_are_never_faulted(start_proxy: Any) -> None:
    p = start_proxy("--drop-rate", "1", "--latency-ms", "1")
    req = urllib.request.Request(f"{p.endpoint}/moto-api/seed?a=42", data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
    stats = p.stats()
    assert stats["passthrough"] == 1
    assert stats["requests"] == 0
    assert stats["faults"]["drop"] == 0


def test_keep_alive_and_chunked_request_bodies(start_proxy: Any) -> None:
    p = start_proxy()
    url = urlsplit(p.endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    for _ in range(3):
        conn.request("POST", "/", body=STS_BODY, headers=sts_headers(p.endpoint))
        resp = conn.getresponse()
        assert resp.status == 200 and b"<Account>123456789012</Account>" in resp.read()
        assert resp.getheader("Connection") == "keep-alive"
    sock = conn.sock
    body = b"{}"
    headers = signed_headers(p.endpoint, "kms", "POST", "/", body,
                             {"X-Amz-Target": "TrentService.ListKeys", "Content-Type": "application/x-amz-json-1.1"})
    headers.pop("Content-Length", None)
    conn.request("POST", "/", body=iter([body]), headers=headers, encode_chunked=True)
    resp = conn.getresponse()
    assert resp.status == 200 and "Keys" in json.loads(resp.read())
    assert conn.sock is sock  # all four on one connection
    conn.close()
    assert p.stats()["by_operation"] == {"kms:ListKeys": 1, "sts:GetCallerIdentity": 3}


# --- unit tests: no server ---------------------------------------------------------------------


def _request(method: str, path: str, service: str, headers: dict[str, str] | None = None,
             body: bytes = b"") -> proxy.Request:  # fmt: skip
    scope = f"AKIDEXAMPLE/20260101/us-east-1/{service}/aws4_request"
    auth = f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0"
    return proxy.Request(method, path, "HTTP/1.1", [("Authorization", auth), *(headers or {}).items()], body)


def test_identify_names_operations_per_protocol() -> None:
    kms = _request("POST", "/", "kms", {"X-Amz-Target": "TrentService.DescribeKey"})
    assert proxy.identify(kms).name == "kms:DescribeKey"
    assert proxy.identify(_request("POST", "/EncryptionConfig", "xray")).name == "xray:GetEncryptionConfig"
    assert proxy.identify(_request("POST", "/listRegions", "account")).name == "account:ListRegions"
    assert proxy.identify(_request("POST", "/", "sts", body=b"Action=AssumeRole&RoleArn=x")).name == "sts:AssumeRole"
    # Labelled URIs (not used by xray-cmk, but the model lookup is generic).
    assert proxy.identify(_request("GET", "/2015-03-31/functions/my-fn", "lambda")).name == "lambda:GetFunction"
    assert proxy.identify(_request("POST", "/NoSuchPath", "xray")).name == "xray:?"
    call = proxy.identify(proxy.Request("GET", "/", "HTTP/1.1", [], b""))
    assert call.service is None and call.access_key is None


def test_fault_rates_must_be_a_distribution() -> None:
    with pytest.raises(SystemExit):
        proxy.parse_args(["--upstream", "http://x", "--throttle-rate", "0.6", "--error-rate", "0.6"])
    with pytest.raises(SystemExit):
        proxy.parse_args(["--upstream", "http://x", "--drop-rate", "-0.1"])
