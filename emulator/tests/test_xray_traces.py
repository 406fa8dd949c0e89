"""X-Ray PutTraceSegments / BatchGetTraces and the KMS key X-Ray encrypts with."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from conftest import Aws, aws_error, create_role, moto_api


def new_trace_id() -> str:
    return f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"


def segment(trace_id: str | None = None, **fields) -> dict:
    """A finished segment (start_time and end_time set), 0.25 s long."""
    start = time.time()
    doc = {"name": "xray-cmk-verify", "id": uuid.uuid4().hex[:16], "trace_id": trace_id or new_trace_id(),
           "start_time": start, "end_time": start + 0.25, "annotations": {"xray_cmk_marker": "verify"}}  # fmt: skip
    doc.update(fields)
    return {k: v for k, v in doc.items() if v is not None}


def put(xray, *docs: dict) -> dict:
    out = xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for d in docs])
    assert out["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/json"
    return out


def write(xray, doc: dict | None = None) -> dict:
    """Write one good segment; X-Ray accepts it (whether or not it is then stored)."""
    doc = doc or segment()
    assert put(xray, doc)["UnprocessedTraceSegments"] == []
    return doc


def read(xray, *trace_ids: str) -> tuple[list[dict], list[str]]:
    out = xray.batch_get_traces(TraceIds=list(trace_ids))
    assert out["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/json"
    assert "NextToken" not in out
    return out["Traces"], out["UnprocessedTraceIds"]


def readable(xray, doc: dict) -> bool:
    traces, unprocessed = read(xray, doc["trace_id"])
    if not traces:
        assert unprocessed == [doc["trace_id"]]
        return False
    assert unprocessed == [] and [t["Id"] for t in traces] == [doc["trace_id"]]
    assert [json.loads(s["Document"]) for s in traces[0]["Segments"]] == [doc]
    return True


def use_key(aws: Aws, key_id: str, region: str = "us-east-1") -> str:
    return aws.client("xray", region).put_encryption_config(Type="KMS", KeyId=key_id)["EncryptionConfig"]["KeyId"]


def make_cmk(aws: Aws, region: str = "us-east-1") -> str:
    return aws.client("kms", region).create_key()["KeyMetadata"]["Arn"]


def test_default_encryption_write_and_read_back(aws: Aws) -> None:
    xray = aws.client("xray")
    doc = write(xray)
    traces, unprocessed = read(xray, doc["trace_id"])
    assert unprocessed == []
    [trace] = traces
    assert trace["Id"] == doc["trace_id"]
    assert trace["Duration"] == pytest.approx(0.25)  # a double, not moto's whole seconds
    assert trace["Segments"] == [{"Id": doc["id"], "Document": json.dumps(doc)}]


def test_enabled_cmk_write_and_read_back(aws: Aws) -> None:
    use_key(aws, make_cmk(aws))
    xray = aws.client("xray")
    assert readable(xray, write(xray))


def test_aws_managed_key_write_and_read_back(aws: Aws) -> None:
    arn = use_key(aws, "alias/aws/xray", "us-west-2")
    assert aws.client("kms", "us-west-2").describe_key(KeyId=arn)["KeyMetadata"]["KeyManager"] == "AWS"
    xray = aws.client("xray", "us-west-2")
    assert readable(xray, write(xray))


@pytest.mark.parametrize("state", ["Disabled", "PendingDeletion"])
def test_key_not_enabled_erases_traces_and_drops_new_data(aws: Aws, state: str) -> None:
    kms, xray = aws.client("kms"), aws.client("xray")
    key = use_key(aws, make_cmk(aws))
    before = write(xray)
    assert readable(xray, before)

    if state == "Disabled":
        kms.disable_key(KeyId=key)
    else:
        kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == state
    # The config still names the key (as on AWS); the earlier trace cannot be decrypted.
    assert aws.client("xray").get_encryption_config()["EncryptionConfig"]["KeyId"] == key
    assert not readable(xray, before)
    # A write is accepted (HTTP 200, nothing unprocessed) but the data is not stored.
    during = write(xray)
    assert not readable(xray, during)

    if state == "PendingDeletion":
        kms.cancel_key_deletion(KeyId=key)  # leaves the key Disabled
        assert not readable(xray, before)
    kms.enable_key(KeyId=key)
    assert readable(xray, before)  # decryptable again
    assert not readable(xray, during)  # dropped for good
    assert readable(xray, write(xray))


def test_each_trace_depends_on_the_key_it_was_written_with(aws: Aws) -> None:
    kms, xray = aws.client("kms"), aws.client("xray")
    plain = write(xray)  # Type NONE
    first = use_key(aws, make_cmk(aws))
    with_first = write(xray)
    second = use_key(aws, make_cmk(aws))
    with_second = write(xray)
    # A trace with segments under both keys needs both.
    mixed = write(xray, segment())
    use_key(aws, first)
    write(xray, segment(mixed["trace_id"]))

    kms.disable_key(KeyId=first)
    traces, unprocessed = read(xray, plain["trace_id"], with_first["trace_id"], with_second["trace_id"],
                               mixed["trace_id"], "1-00000000-000000000000000000000000")  # fmt: skip
    assert [t["Id"] for t in traces] == [plain["trace_id"], with_second["trace_id"]]
    assert unprocessed == [with_first["trace_id"], mixed["trace_id"], "1-00000000-000000000000000000000000"]
    kms.enable_key(KeyId=first)
    kms.disable_key(KeyId=second)
    traces, unprocessed = read(xray, plain["trace_id"], with_first["trace_id"], with_second["trace_id"],
                               mixed["trace_id"])  # fmt: skip
    assert [t["Id"] for t in traces] == [plain["trace_id"], with_first["trace_id"]]
    assert unprocessed == [with_second["trace_id"], mixed["trace_id"]]
    # Back on Type NONE, new data is stored whatever the keys' state.
    xray.put_encryption_config(Type="NONE")
    assert readable(xray, write(xray))


def test_bad_segments_are_reported_the_same_way_whatever_the_key_state(aws: Aws) -> None:
    kms, xray = aws.client("kms"), aws.client("xray")
    key = use_key(aws, make_cmk(aws))
    docs = ["not json", json.dumps(segment(end_time=None)), json.dumps({"name": "no-id"})]
    expected = [
        {"ErrorCode": "JSONFormatError", "Message": "Bad JSON data"},
        {"Id": json.loads(docs[1])["id"], "ErrorCode": "MissingParam", "Message": "Missing end_time or in_progress"},
        {"ErrorCode": "MissingParam", "Message": "Missing segment ID"},
    ]
    assert xray.put_trace_segments(TraceSegmentDocuments=docs)["UnprocessedTraceSegments"] == expected
    kms.disable_key(KeyId=key)
    assert xray.put_trace_segments(TraceSegmentDocuments=docs)["UnprocessedTraceSegments"] == expected


def test_a_document_moto_cannot_parse_fails_the_call(aws: Aws) -> None:
    with aws_error("InternalFailure", 500):
        aws.client("xray").put_trace_segments(TraceSegmentDocuments=["5"])


def test_in_progress_trace_has_its_id(aws: Aws) -> None:
    xray = aws.client("xray")
    doc = write(xray, segment(end_time=None, in_progress=True))
    [trace], _ = read(xray, doc["trace_id"])
    assert trace["Id"] == doc["trace_id"]  # moto 5.2.5 sent null
    assert "Duration" not in trace  # no segment completed yet


@pytest.mark.parametrize("operation,params", [
    ("put_trace_segments", {}),
    ("put_trace_segments", {"TraceSegmentDocuments": [1]}),
    ("batch_get_traces", {}),
    ("batch_get_traces", {"TraceIds": [1]}),
])  # fmt: skip
def test_invalid_input_is_invalid_request(aws: Aws, operation: str, params: dict) -> None:
    xray = aws.client("xray", validate=False)
    with aws_error("InvalidRequestException", 400) as exc:
        getattr(xray, operation)(**params)
    assert exc.value.response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/json"


def test_state_is_per_account_and_region(aws: Aws) -> None:
    kms, xray = aws.client("kms"), aws.client("xray")
    key = use_key(aws, make_cmk(aws))
    doc = write(xray)
    kms.disable_key(KeyId=key)
    # The same trace id written elsewhere under Type NONE does not depend on that key.
    for other in (aws.client("xray", "eu-west-1"), aws.other_account("111111111111").client("xray")):
        assert not read(other, doc["trace_id"])[0]
        assert readable(other, write(other, doc))
    assert not readable(xray, doc)


def test_writes_are_covered_by_the_explicit_deny(aws: Aws) -> None:
    deny = {"Effect": "Deny", "Action": "xray:PutTraceSegments", "Resource": "*"}
    policy = {"Version": "2012-10-17", "Statement": [deny]}
    xray = aws.assume(create_role(aws, "NoTraceWrites", policy)).client("xray")
    with aws_error("AccessDeniedException", 403) as exc:
        write(xray)
    assert "xray:PutTraceSegments" in exc.value.response["Error"]["Message"]
    assert read(xray, new_trace_id())[0] == []


def test_reset_forgets_the_keys_of_traces(aws: Aws) -> None:
    kms, xray = aws.client("kms"), aws.client("xray")
    key = use_key(aws, make_cmk(aws))
    doc = write(xray)
    kms.disable_key(KeyId=key)
    assert not readable(xray, doc)

    moto_api(aws.endpoint, "/moto-api/reset")
    assert read(xray, doc["trace_id"]) == ([], [doc["trace_id"]])  # moto's traces are gone
    # Written again under Type NONE, the trace id no longer depends on the (also gone) key.
    assert readable(xray, write(xray, doc))
