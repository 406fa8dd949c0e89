"""CloudTrail events of KMS calls and of X-Ray's use of keys, read back with LookupEvents."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import timezone

import boto3
import pytest
from botocore.config import Config
from conftest import ALLOW_ALL, Aws, Server, aws_error, create_role, moto_api, start_server

ACCOUNT = "123456789012"
EVENT_FIELDS = [
    "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress",
    "userAgent", "requestParameters", "responseElements", "requestID", "eventID", "readOnly", "resources",
    "eventType", "managementEvent", "recipientAccountId", "eventCategory",
]  # fmt: skip


def lookup(aws: Aws, region: str = "us-east-1", **kwargs) -> list[dict]:
    """All events LookupEvents returns (one page: tests stay under 50 events)."""
    out = aws.client("cloudtrail", region).lookup_events(**kwargs)
    assert out["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"
    assert "NextToken" not in out
    return out["Events"]


def by(key: str, value: str) -> dict:
    return {"LookupAttributes": [{"AttributeKey": key, "AttributeValue": value}]}


def record(event: dict) -> dict:
    return json.loads(event["CloudTrailEvent"])


def names(events: list[dict]) -> list[str]:
    return [e["EventName"] for e in events]


def key_events(aws: Aws, key_arn: str, region: str = "us-east-1") -> list[dict]:
    return lookup(aws, region, **by("ResourceName", key_arn))


def test_assumed_role_calls_carry_the_session(aws: Aws) -> None:
    key = aws.client("kms").create_key()["KeyMetadata"]
    role_arn = create_role(aws, "KeyAdmin")
    admin = aws.assume(role_arn, "alice")
    kms = admin.client("kms")
    kms.describe_key(KeyId=key["KeyId"])
    kms.disable_key(KeyId=key["Arn"])
    kms.enable_key(KeyId=key["KeyId"])

    events = key_events(aws, key["Arn"])
    assert names(events) == ["EnableKey", "DisableKey", "DescribeKey", "CreateKey"]  # newest first
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/KeyAdmin/alice"
    role_id = aws.client("iam").get_role(RoleName="KeyAdmin")["Role"]["RoleId"]
    access_key = admin.creds["aws_access_key_id"]
    for event, read_only in zip(events[:3], (False, False, True)):
        assert (event["Username"], event["AccessKeyId"], event["EventSource"]) == (
            "alice", access_key, "kms.amazonaws.com",
        )  # fmt: skip
        assert event["ReadOnly"] == str(read_only).lower()
        assert event["Resources"] == [{"ResourceType": "AWS::KMS::Key", "ResourceName": key["Arn"]}]
        rec = record(event)
        assert list(rec) == EVENT_FIELDS
        assert rec["eventID"] == event["EventId"] and rec["eventName"] == event["EventName"]
        assert rec["eventTime"] == event["EventTime"].astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        ident = rec["userIdentity"]
        assert ident == {
            "type": "AssumedRole",
            "principalId": f"{role_id}:alice",
            "arn": session_arn,
            "accountId": ACCOUNT,
            "accessKeyId": access_key,
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": role_id, "arn": role_arn, "accountId": ACCOUNT,
                                  "userName": "KeyAdmin"},
                "webIdFederationData": {},
                "attributes": {"creationDate": ident["sessionContext"]["attributes"]["creationDate"],
                               "mfaAuthenticated": "false"},
            },
        }  # fmt: skip
        assert ident["sessionContext"]["attributes"]["creationDate"].endswith("Z")
        assert rec["readOnly"] is read_only
        assert (rec["eventVersion"], rec["eventSource"], rec["awsRegion"], rec["eventType"]) == (
            "1.08", "kms.amazonaws.com", "us-east-1", "AwsApiCall",
        )  # fmt: skip
        assert (rec["managementEvent"], rec["eventCategory"]) == (True, "Management")
        assert rec["recipientAccountId"] == ACCOUNT
        assert rec["resources"] == [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key["Arn"]}]
        assert rec["responseElements"] is None
        assert rec["sourceIPAddress"] == "127.0.0.1" and rec["userAgent"].startswith("Boto3/")
    assert record(events[0])["requestParameters"] == {"keyId": key["KeyId"]}
    assert record(events[1])["requestParameters"] == {"keyId": key["Arn"]}
    # moto's request id of the call
    assert len({record(e)["requestID"] for e in events}) == 4
    # The key's creation, by the account root (test/test).
    created = events[3]
    assert (created["Username"], created["AccessKeyId"]) == ("root", "test")
    assert record(created)["userIdentity"] == {
        "type": "Root", "principalId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root", "accountId": ACCOUNT,
        "accessKeyId": "test",
    }  # fmt: skip


def test_iam_user_identity(aws: Aws) -> None:
    iam = aws.client("iam")
    user = iam.create_user(UserName="bob")["User"]
    iam.put_user_policy(UserName="bob", PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL))
    creds = iam.create_access_key(UserName="bob")["AccessKey"]
    bob = Aws(aws.endpoint, {"aws_access_key_id": creds["AccessKeyId"],
                             "aws_secret_access_key": creds["SecretAccessKey"]})  # fmt: skip
    arn = bob.client("kms").create_key()["KeyMetadata"]["Arn"]
    [event] = key_events(aws, arn)
    assert (event["EventName"], event["Username"], event["AccessKeyId"]) == ("CreateKey", "bob", creds["AccessKeyId"])
    assert record(event)["userIdentity"] == {
        "type": "IAMUser", "principalId": user["UserId"], "arn": user["Arn"], "accountId": ACCOUNT,
        "accessKeyId": creds["AccessKeyId"], "userName": "bob",
    }  # fmt: skip


def test_lookup_by_key_arn_returns_only_that_key_newest_first(aws: Aws) -> None:
    kms = aws.client("kms")
    a = kms.create_key()["KeyMetadata"]
    b = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/a", TargetKeyId=a["KeyId"])
    blob = kms.encrypt(KeyId="alias/a", Plaintext=b"secret", EncryptionContext={"Purpose": "Test"})["CiphertextBlob"]
    kms.describe_key(KeyId=b["Arn"])
    kms.decrypt(CiphertextBlob=blob, EncryptionContext={"Purpose": "Test"})  # no KeyId: the ciphertext's key
    kms.enable_key_rotation(KeyId=a["KeyId"], RotationPeriodInDays=180)
    kms.get_key_rotation_status(KeyId=a["Arn"])
    kms.tag_resource(KeyId=b["KeyId"], Tags=[{"TagKey": "owner", "TagValue": "me"}])
    kms.list_resource_tags(KeyId=b["KeyId"])
    kms.generate_data_key(KeyId=f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/a", KeySpec="AES_256")  # an alias ARN
    kms.generate_data_key_without_plaintext(KeyId=a["KeyId"], NumberOfBytes=32)
    kms.list_keys()

    events_a, events_b = key_events(aws, a["Arn"]), key_events(aws, b["Arn"])
    assert names(events_a) == [
        "GenerateDataKeyWithoutPlaintext", "GenerateDataKey", "GetKeyRotationStatus", "EnableKeyRotation",
        "Decrypt", "Encrypt", "CreateAlias", "CreateKey",
    ]  # fmt: skip
    assert names(events_b) == ["ListResourceTags", "TagResource", "DescribeKey", "CreateKey"]
    everything = lookup(aws)
    assert names(everything)[0] == "ListKeys" and "Resources" not in everything[0]  # names no key
    assert {e["EventId"] for e in everything[1:]} == {e["EventId"] for e in events_a + events_b}
    assert len(everything) == 13

    by_name = {e["EventName"]: record(e) for e in events_a}
    # Plaintext and ciphertext are never logged; the encryption context is, verbatim.
    assert by_name["Encrypt"]["requestParameters"] == {"keyId": "alias/a", "encryptionContext": {"Purpose": "Test"}}
    assert by_name["Decrypt"]["requestParameters"] == {"encryptionContext": {"Purpose": "Test"}}
    assert by_name["EnableKeyRotation"]["requestParameters"] == {"keyId": a["KeyId"], "rotationPeriodInDays": 180}
    assert by_name["CreateKey"]["requestParameters"] is None
    # CreateAlias names the key and the alias, as AWS logs it.
    assert by_name["CreateAlias"]["resources"] == [
        {"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": a["Arn"]},
        {"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/a"},
    ]
    assert by_name["CreateAlias"]["requestParameters"] == {"aliasName": "alias/a", "targetKeyId": a["KeyId"]}
    assert record(events_a[1])["requestParameters"] == {
        "keyId": f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/a", "keySpec": "AES_256",
    }  # fmt: skip
    tags = record(events_b[1])["requestParameters"]
    assert tags == {"keyId": b["KeyId"], "tags": [{"tagKey": "owner", "tagValue": "me"}]}


def test_key_state_and_policy_operations_are_recorded(aws: Aws) -> None:
    kms = aws.client("kms")
    key = kms.create_key()["KeyMetadata"]
    policy = kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=policy)
    kms.disable_key_rotation(KeyId=key["KeyId"])
    kms.enable_key_rotation(KeyId=key["KeyId"])
    kms.rotate_key_on_demand(KeyId=key["KeyId"])
    kms.list_key_rotations(KeyId=key["KeyId"])
    kms.create_grant(KeyId=key["Arn"], GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:root", Operations=["Decrypt"])
    ciphertext = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    kms.re_encrypt(CiphertextBlob=ciphertext, DestinationKeyId=key["KeyId"])
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    kms.cancel_key_deletion(KeyId=key["Arn"])
    events = key_events(aws, key["Arn"])
    assert names(events) == [
        "CancelKeyDeletion", "ScheduleKeyDeletion", "ReEncrypt", "Encrypt", "CreateGrant", "ListKeyRotations",
        "RotateKeyOnDemand", "EnableKeyRotation", "DisableKeyRotation", "PutKeyPolicy", "GetKeyPolicy", "CreateKey",
    ]  # fmt: skip
    read_only = {e["EventName"] for e in events if e["ReadOnly"] == "true"}
    assert read_only == {"ReEncrypt", "Encrypt", "ListKeyRotations", "GetKeyPolicy"}
    assert record(events[9])["requestParameters"] == {"keyId": key["KeyId"], "policyName": "default", "policy": policy}


def test_failed_calls_are_not_recorded(aws: Aws) -> None:
    kms = aws.client("kms")
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.describe_key(KeyId="alias/nope")
    assert lookup(aws) == []


def test_events_are_per_account_and_region(aws: Aws) -> None:
    east = aws.client("kms").create_key()["KeyMetadata"]["Arn"]
    west = aws.client("kms", "eu-west-1").create_key()["KeyMetadata"]["Arn"]
    assert [e["Resources"][0]["ResourceName"] for e in lookup(aws)] == [east]
    assert [e["Resources"][0]["ResourceName"] for e in lookup(aws, "eu-west-1")] == [west]
    assert [record(e)["awsRegion"] for e in lookup(aws, "eu-west-1")] == ["eu-west-1"]
    other = Aws(aws.endpoint, account="111111111111")
    assert lookup(other) == []
    theirs = other.client("kms").create_key()["KeyMetadata"]["Arn"]
    [event] = lookup(other)
    assert event["Resources"][0]["ResourceName"] == theirs
    assert record(event)["recipientAccountId"] == "111111111111"
    assert record(event)["userIdentity"]["arn"] == "arn:aws:iam::111111111111:root"
    assert len(lookup(aws)) == 1


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("EventName", "DisableKey", ["DisableKey"]),
        ("ReadOnly", "true", ["ListAliases", "DescribeKey"]),
        ("ReadOnly", "false", ["DisableKey", "CreateKey"]),
        ("EventSource", "kms.amazonaws.com", ["ListAliases", "DisableKey", "DescribeKey", "CreateKey"]),
        ("ResourceType", "AWS::KMS::Key", ["DisableKey", "DescribeKey", "CreateKey"]),
        ("Username", "root", ["ListAliases", "DisableKey", "DescribeKey", "CreateKey"]),
        ("Username", "nobody", []),
        ("AccessKeyId", "test", ["ListAliases", "DisableKey", "DescribeKey", "CreateKey"]),
        ("EventSource", "s3.amazonaws.com", []),
    ],
)
def test_lookup_attributes(aws: Aws, key: str, value: str, expected: list[str]) -> None:
    kms = aws.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.describe_key(KeyId=key_id)
    kms.disable_key(KeyId=key_id)
    kms.list_aliases()
    assert names(lookup(aws, **by(key, value))) == expected


def test_lookup_by_event_id(aws: Aws) -> None:
    aws.client("kms").create_key()
    aws.client("kms").list_keys()
    first, second = lookup(aws)
    assert lookup(aws, **by("EventId", second["EventId"])) == [second]


def test_pagination_walks_every_event_once(aws: Aws) -> None:
    kms = aws.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(6):
        kms.describe_key(KeyId=key)
    expected = [e["EventId"] for e in lookup(aws)]
    assert len(expected) == 7

    ct = aws.client("cloudtrail")
    seen, token, pages = [], None, 0
    while True:
        page = ct.lookup_events(MaxResults=2, **({"NextToken": token} if token else {}))
        assert len(page["Events"]) <= 2
        seen += [e["EventId"] for e in page["Events"]]
        pages += 1
        if pages == 1:
            kms.list_keys()  # a new event while paging neither shifts nor repeats the pages
        token = page.get("NextToken")
        if token is None:
            break
    assert seen == expected and pages == 4
    # The SDK's paginator agrees.
    paginated = [e["EventId"] for p in ct.get_paginator("lookup_events").paginate(PaginationConfig={"PageSize": 3})
                 for e in p["Events"]]  # fmt: skip
    assert paginated[1:] == expected and names(lookup(aws))[0] == "ListKeys"

    # A filtered walk, MaxResults may change between pages.
    filtered = by("EventName", "DescribeKey")
    first = ct.lookup_events(MaxResults=4, **filtered)
    rest = ct.lookup_events(MaxResults=50, NextToken=first["NextToken"], **filtered)
    assert "NextToken" not in rest
    assert [e["EventId"] for e in first["Events"] + rest["Events"]] == expected[:6]

    # The token is bound to the original filter.
    with aws_error("InvalidNextTokenException", 400):
        ct.lookup_events(NextToken=first["NextToken"])
    with aws_error("InvalidNextTokenException", 400):
        ct.lookup_events(NextToken=first["NextToken"], **by("EventName", "CreateKey"))
    with aws_error("InvalidNextTokenException", 400):
        ct.lookup_events(NextToken="not-a-token")
    with aws_error("InvalidNextTokenException", 400):  # nor is it valid in another region
        aws.client("cloudtrail", "eu-west-1").lookup_events(MaxResults=4, NextToken=first["NextToken"], **filtered)


def test_time_range(aws: Aws) -> None:
    kms = aws.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    time.sleep(2.1)  # eventTime has whole seconds
    kms.describe_key(KeyId=key)
    later, earlier = lookup(aws)
    assert (later["EventName"], earlier["EventName"]) == ("DescribeKey", "CreateKey")
    assert later["EventTime"] > earlier["EventTime"]
    assert [e["EventId"] for e in lookup(aws, StartTime=later["EventTime"])] == [later["EventId"]]
    assert [e["EventId"] for e in lookup(aws, EndTime=earlier["EventTime"])] == [earlier["EventId"]]
    both = lookup(aws, StartTime=earlier["EventTime"], EndTime=later["EventTime"])  # inclusive bounds
    assert [e["EventId"] for e in both] == [later["EventId"], earlier["EventId"]]
    assert lookup(aws, EndTime=earlier["EventTime"].timestamp() - 1) == []
    assert lookup(aws, StartTime=later["EventTime"].timestamp() + 1) == []
    with aws_error("InvalidTimeRangeException", 400):
        aws.client("cloudtrail").lookup_events(StartTime=later["EventTime"], EndTime=earlier["EventTime"])


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "Decrypt"},
                               {"AttributeKey": "ReadOnly", "AttributeValue": "true"}]},
         "InvalidLookupAttributesException"),
        ({"LookupAttributes": [{"AttributeKey": "Color", "AttributeValue": "red"}]},
         "InvalidLookupAttributesException"),
        ({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": ""}]},
         "InvalidLookupAttributesException"),
        ({"LookupAttributes": [{"AttributeKey": "EventName"}]}, "InvalidLookupAttributesException"),
        ({"MaxResults": 0}, "InvalidMaxResultsException"),
        ({"MaxResults": 51}, "InvalidMaxResultsException"),
        ({"EventCategory": "data"}, "InvalidEventCategoryException"),
        ({"StartTime": 1_700_000_100, "EndTime": 1_700_000_000}, "InvalidTimeRangeException"),
    ],
    ids=["two-attributes", "unknown-key", "empty-value", "no-value", "max-0", "max-51", "bad-category",
         "start-after-end"],
)  # fmt: skip
def test_invalid_requests(aws: Aws, kwargs: dict, code: str) -> None:
    client = aws.client("cloudtrail", validate=False)
    with aws_error(code, 400) as exc:
        client.lookup_events(**kwargs)
    assert exc.value.response["Error"]["Message"]


def test_insight_category_and_limits(aws: Aws) -> None:
    kms = aws.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(55):
        kms.describe_key(KeyId=key)
    ct = aws.client("cloudtrail")
    assert ct.lookup_events(EventCategory="insight")["Events"] == []  # no Insights events are emulated
    default = ct.lookup_events()
    assert len(default["Events"]) == 50 and "NextToken" in default  # default MaxResults is 50
    assert len(ct.lookup_events(NextToken=default["NextToken"])["Events"]) == 6
    assert len(ct.lookup_events(MaxResults=1)["Events"]) == 1


def test_xray_use_of_the_key_is_recorded_as_aws_service(aws: Aws) -> None:
    kms = aws.client("kms")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    xray = aws.client("xray")
    # Under Type NONE X-Ray does not use KMS.
    start = time.time()
    plain = {"name": "svc", "id": uuid.uuid4().hex[:16], "trace_id": f"1-{int(start):08x}-{uuid.uuid4().hex[:24]}",
             "start_time": start, "end_time": start + 0.1}  # fmt: skip
    xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(plain)])
    xray.batch_get_traces(TraceIds=[plain["trace_id"]])
    assert lookup(aws, **by("EventSource", "kms.amazonaws.com")) == lookup(aws)
    assert names(lookup(aws)) == ["CreateKey"]

    xray.put_encryption_config(Type="KMS", KeyId=key)
    docs = [dict(plain, id=uuid.uuid4().hex[:16], trace_id=f"1-{int(start):08x}-{uuid.uuid4().hex[:24]}")
            for _ in range(3)]  # fmt: skip
    put = xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for d in docs])
    assert put["UnprocessedTraceSegments"] == []
    [generate] = key_events(aws, key)[:1]
    assert names(key_events(aws, key)) == ["GenerateDataKey", "CreateKey"]  # one per call, not per segment

    traces = xray.batch_get_traces(TraceIds=[d["trace_id"] for d in docs] + [plain["trace_id"]])["Traces"]
    assert len(traces) == 4
    events = key_events(aws, key)
    assert names(events) == ["Decrypt", "GenerateDataKey", "CreateKey"]  # one per call, not per trace
    for event, params in ((events[0], {"keyId": key, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
                          (generate, {"keyId": key, "keySpec": "AES_256"})):  # fmt: skip
        assert "Username" not in event and "AccessKeyId" not in event
        assert event["ReadOnly"] == "true"
        rec = record(event)
        assert list(rec) == EVENT_FIELDS
        assert rec["userIdentity"] == {"type": "AWSService", "invokedBy": "xray.amazonaws.com"}
        assert (rec["sourceIPAddress"], rec["userAgent"]) == ("xray.amazonaws.com", "xray.amazonaws.com")
        assert rec["requestParameters"] == params
        assert rec["resources"] == [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key}]
        assert (rec["recipientAccountId"], rec["awsRegion"]) == (ACCOUNT, "us-east-1")

    # Only traces under a key cost a Decrypt; a disabled key decrypts nothing.
    xray.batch_get_traces(TraceIds=[plain["trace_id"]])
    kms.disable_key(KeyId=key)
    assert xray.batch_get_traces(TraceIds=[docs[0]["trace_id"]])["Traces"] == []
    assert names(key_events(aws, key))[:2] == ["DisableKey", "Decrypt"]


def test_reset_clears_events(aws: Aws) -> None:
    aws.client("kms").create_key()
    assert len(lookup(aws)) == 1
    moto_api(aws.endpoint, "/moto-api/reset")
    assert lookup(aws) == []
    aws.client("kms").create_key()
    assert names(lookup(aws)) == ["CreateKey"]


def test_unlimited_lookups_on_the_session_server(aws: Aws) -> None:
    ct = aws.client("cloudtrail")
    for _ in range(6):  # XRAY_CMK_EMULATOR_LOOKUP_RATE=0 (conftest): never throttled
        ct.lookup_events()


# --- the default rate limit, on a server of its own ----------------------------------------


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("limited"), {"XRAY_CMK_EMULATOR_LOOKUP_RATE": ""})  # = default 2
    yield srv
    assert srv.stop() == 0, srv.log_path.read_text()


def test_third_lookup_within_a_second_is_throttled(limited: Server) -> None:
    aws = Aws(limited.endpoint)
    ct = aws.client("cloudtrail")  # no retries
    time.sleep(1.1)  # a fresh window
    ct.lookup_events()
    ct.lookup_events()
    with aws_error("ThrottlingException", 400) as exc:
        ct.lookup_events()
    assert exc.value.response["Error"]["Message"] == "Rate exceeded"
    # Per account and region: another region, and another account, have their own budget.
    aws.client("cloudtrail", "eu-west-1").lookup_events()
    Aws(limited.endpoint, account="111111111111").client("cloudtrail").lookup_events()

    # The SDK's own retries get through once the second is over.
    time.sleep(1.1)
    retrying = boto3.client(
        "cloudtrail", region_name="us-east-1", endpoint_url=limited.endpoint,
        config=Config(retries={"max_attempts": 10, "mode": "standard"}),
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    attempts = [retrying.lookup_events()["ResponseMetadata"]["RetryAttempts"] for _ in range(3)]
    assert attempts[:2] == [0, 0] and attempts[2] >= 1
