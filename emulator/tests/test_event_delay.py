"""CloudTrail's delivery delay: XRAY_CMK_EMULATOR_EVENT_DELAY_SECONDS holds events back from LookupEvents."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from conftest import Aws, Server, start_server

from xray_cmk_emulator import event_history

DELAY = 2.0


def serve(tmp_path_factory: pytest.TempPathFactory, delay: str) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("delay"),
        {event_history.EVENT_DELAY_ENV: delay, "XRAY_CMK_EMULATOR_LOOKUP_RATE": "0"},
    )
    yield srv
    assert srv.stop() == 0, srv.log_path.read_text()


@pytest.fixture(scope="module")
def delayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from serve(tmp_path_factory, str(DELAY))


def key_events(aws: Aws, key_arn: str, **kwargs) -> dict:
    return aws.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": key_arn}], **kwargs
    )


def create_key(aws: Aws) -> tuple[str, float, float]:
    """A new key's ARN, the wall-clock time before its CreateKey, and the monotonic time after it."""
    before = time.time()
    arn = aws.client("kms").create_key()["KeyMetadata"]["Arn"]
    return arn, before, time.monotonic()


def wait_delivered(aws: Aws, key_arn: str, count: int) -> float:
    """Poll until LookupEvents returns ``count`` events on the key; the monotonic time it did."""
    deadline = time.monotonic() + DELAY + 10
    while len(key_events(aws, key_arn)["Events"]) < count:
        assert time.monotonic() < deadline, "never delivered"
        time.sleep(0.05)
    return time.monotonic()


def test_an_event_is_delivered_after_the_delay_with_its_original_event_time(delayed: Server) -> None:
    aws = Aws(delayed.endpoint)
    arn, wall_before, created = create_key(aws)
    assert key_events(aws, arn)["Events"] == []
    assert aws.client("cloudtrail").lookup_events()["Events"] == []  # not in any lookup
    delivered = wait_delivered(aws, arn, 1)
    # Not before t + delay, where t is when the server recorded it (before `created`).
    assert delivered - created >= DELAY - 0.05
    assert delivered - created < DELAY + 2, "delivered about when due"
    [event] = key_events(aws, arn)["Events"]
    assert event["EventName"] == "CreateKey"
    # EventTime is the call's time (whole seconds), not the delivery's.
    event_time = event["EventTime"].timestamp()
    assert int(wall_before) <= event_time <= wall_before + 1
    assert time.time() - event_time >= DELAY - 1


def test_time_filters_use_the_event_time(delayed: Server) -> None:
    aws = Aws(delayed.endpoint)
    arn, wall_before, _ = create_key(aws)
    window = {"StartTime": int(wall_before), "EndTime": int(wall_before) + 1}
    assert key_events(aws, arn, **window)["Events"] == []  # recorded in the window, not yet delivered
    wait_delivered(aws, arn, 1)
    assert [e["EventName"] for e in key_events(aws, arn, **window)["Events"]] == ["CreateKey"]


def test_pages_stay_consistent_while_events_are_delivered(delayed: Server) -> None:
    aws = Aws(delayed.endpoint)
    arn, _, _ = create_key(aws)
    kms = aws.client("kms")
    kms.describe_key(KeyId=arn)
    wait_delivered(aws, arn, 2)
    kms.disable_key(KeyId=arn)  # recorded now, delivered DELAY later
    first = key_events(aws, arn, MaxResults=1)
    assert [e["EventName"] for e in first["Events"]] == ["DescribeKey"]
    wait_delivered(aws, arn, 3)
    # The page after the token goes on from where the first ended; DisableKey is newer than both.
    rest = key_events(aws, arn, MaxResults=1, NextToken=first["NextToken"])
    assert [e["EventName"] for e in rest["Events"]] == ["CreateKey"]
    assert "NextToken" not in rest
    assert [e["EventName"] for e in key_events(aws, arn)["Events"]] == ["DisableKey", "DescribeKey", "CreateKey"]


@pytest.fixture(scope="module", params=["abc", "-2"])
def invalid(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from serve(tmp_path_factory, request.param)


def test_an_invalid_delay_delivers_at_once(invalid: Server) -> None:
    aws = Aws(invalid.endpoint)
    arn, _, _ = create_key(aws)
    assert [e["EventName"] for e in key_events(aws, arn)["Events"]] == ["CreateKey"]


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [(None, 0.0), ("", 0.0), (" ", 0.0), ("abc", 0.0), ("-2", 0.0), ("nan", 0.0), ("inf", 0.0),
     ("0", 0.0), ("1.5", 1.5), (" 90 ", 90.0)],
)  # fmt: skip
def test_the_variable_is_parsed_as_documented(monkeypatch: pytest.MonkeyPatch, raw: str | None, seconds: float) -> None:
    if raw is None:
        monkeypatch.delenv(event_history.EVENT_DELAY_ENV, raising=False)
    else:
        monkeypatch.setenv(event_history.EVENT_DELAY_ENV, raw)
    assert event_history.event_delay() == seconds
