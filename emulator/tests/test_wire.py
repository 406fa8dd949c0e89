"""Raw HTTP wire shapes, as the Rust SDK parses them (status, headers, body)."""

from __future__ import annotations

import json

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from conftest import Aws, create_role, moto_api


def signed_post(endpoint: str, path: str, body: dict, service: str, region: str, creds: Credentials) -> requests.Response:
    req = AWSRequest(
        method="POST",
        url=f"{endpoint}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    SigV4Auth(creds, service, region).add_auth(req)
    return requests.post(req.url, data=req.body, headers=dict(req.headers.items()), timeout=30)


TEST = Credentials("test", "test")


def test_get_encryption_config_wire_shape(aws: Aws) -> None:
    resp = signed_post(aws.endpoint, "/EncryptionConfig", {}, "xray", "us-east-1", TEST)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert "x-amzn-ErrorType" not in resp.headers
    assert resp.headers.get("x-amzn-RequestId")
    assert resp.json() == {"EncryptionConfig": {"Status": "ACTIVE", "Type": "NONE"}}


def test_put_encryption_config_wire_shape(aws: Aws) -> None:
    key = aws.client("kms").create_key()["KeyMetadata"]
    resp = signed_post(aws.endpoint, "/PutEncryptionConfig", {"Type": "KMS", "KeyId": key["KeyId"]}, "xray",
                       "us-east-1", TEST)  # fmt: skip
    assert resp.status_code == 200
    assert resp.json() == {"EncryptionConfig": {"KeyId": key["Arn"], "Status": "UPDATING", "Type": "KMS"}}


def test_invalid_request_wire_shape(aws: Aws) -> None:
    resp = signed_post(aws.endpoint, "/PutEncryptionConfig", {"Type": "KMS", "KeyId": "alias/nope"}, "xray",
                       "us-east-1", TEST)  # fmt: skip
    assert resp.status_code == 400
    assert resp.headers["x-amzn-ErrorType"] == "InvalidRequestException"
    assert resp.headers["Content-Type"] == "application/json"
    body = resp.json()
    # botocore model: InvalidRequestException {Message: ErrorMessage}
    assert set(body) == {"Message"} and "alias/nope" in body["Message"]


def test_access_denied_wire_shapes(aws: Aws) -> None:
    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-north-1"}}}]}  # fmt: skip
    audit = aws.assume(create_role(aws, "Audit", deny))
    creds = Credentials(audit.creds["aws_access_key_id"], audit.creds["aws_secret_access_key"],
                        audit.creds["aws_session_token"])  # fmt: skip

    xray = signed_post(aws.endpoint, "/EncryptionConfig", {}, "xray", "eu-north-1", creds)
    assert xray.status_code == 403
    assert xray.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert set(xray.json()) == {"Message"}

    account = signed_post(aws.endpoint, "/listRegions", {}, "account", "eu-north-1", creds)
    assert account.status_code == 403
    assert account.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert set(account.json()) == {"message"}  # Account's AccessDeniedException uses lower-case

    req = AWSRequest(method="POST", url=f"{aws.endpoint}/", data=b"{}", headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.ListKeys"})  # fmt: skip
    SigV4Auth(creds, "kms", "eu-north-1").add_auth(req)
    kms = requests.post(req.url, data=req.body, headers=dict(req.headers.items()), timeout=30)
    assert kms.status_code == 400
    assert kms.json()["__type"] == "AccessDeniedException" and kms.json()["message"]


def test_account_list_regions_wire_shape(aws: Aws) -> None:
    resp = signed_post(aws.endpoint, "/listRegions", {"MaxResults": 2}, "account", "us-east-1", TEST)
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"Regions", "NextToken"}
    assert body["Regions"][0] == {"RegionName": "af-south-1", "RegionOptStatus": "DISABLED"}
    bad = signed_post(aws.endpoint, "/listRegions", {"MaxResults": 0}, "account", "us-east-1", TEST)
    assert bad.status_code == 400 and bad.headers["x-amzn-ErrorType"] == "ValidationException"
    assert "message" in bad.json()


def test_moto_api_still_served(aws: Aws) -> None:
    assert moto_api(aws.endpoint, "/moto-api/seed?a=1") == b""
