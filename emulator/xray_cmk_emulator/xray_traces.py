"""X-Ray PutTraceSegments / BatchGetTraces, made to depend on the KMS key X-Ray encrypts with.

botocore model ``xray/2016-04-12`` (rest-json):
  PutTraceSegments  POST /TraceSegments  {TraceSegmentDocuments: [String]}   (required)
      -> {UnprocessedTraceSegments?: [{Id?, ErrorCode?, Message?}]}
  BatchGetTraces    POST /Traces         {TraceIds: [TraceId], NextToken?}   (TraceIds required)
      -> {Traces?: [Trace], UnprocessedTraceIds?: [TraceId], NextToken?}
  Trace             {Id: TraceId, Duration: NullableDouble, LimitExceeded: NullableBoolean,
                     Segments: [{Id: SegmentId, Document: SegmentDocument}]}
  errors            InvalidRequestException {Message} (400), ThrottledException {Message} (429)

moto 5.2.5 stores and returns segments (``XRayBackend.process_segment`` /
``get_trace_ids``); this module calls that backend directly and adds the
encryption behaviour:

* PutTraceSegments, while the caller's (account, region) encryption config is
  Type KMS and its key (looked up in moto's KMS by the stored ARN) is not
  ``Enabled`` (Disabled, PendingDeletion, gone): HTTP 200, documents validated
  as moto does, bad ones listed in ``UnprocessedTraceSegments`` as usual, the
  good ones *not stored*. X-Ray accepts data it then cannot encrypt and drops
  it; only reading back shows that. Otherwise segments are stored by moto.
* Each trace stored while on Type KMS records the key ARN(s) its segments were
  encrypted with (``TraceKeyStore``, per (account, region, trace id)).
* BatchGetTraces: a trace with any recorded key not ``Enabled`` cannot be
  decrypted and is listed in ``UnprocessedTraceIds`` instead of ``Traces``.
  Traces stored under Type NONE are unaffected; an AWS managed key
  (``alias/aws/xray``) is a key like any other here (AWS never disables it).
  Re-enabling the key makes its traces readable again.
* The config applies as soon as it is put (no mixing of old and new settings
  while Status is UPDATING).
* X-Ray's own use of the key is recorded as CloudTrail events (kms_events, AWSService
  identity ``xray.amazonaws.com``, in the key's account and Region): a ``GenerateDataKey``
  for a PutTraceSegments that stored segments under a key, a ``Decrypt`` per key for a
  BatchGetTraces that returned traces encrypted with it (one per call, not per trace).
  Dropped writes and unreadable traces record nothing (AWS would log a failed call).

Fixed relative to moto 5.2.5 (and the model):
* Responses were ``Content-Type: text/html``; now ``application/json``.
* A trace came back with ``Id`` null until a write found the segment that
  started last finished (e.g. only in-progress segments so far); now it
  always has its id.
* ``Duration`` was truncated to whole seconds (``int``) and ``0`` for
  unfinished traces; now the double the model documents: end of the last
  completed segment minus start of the earliest, omitted if none completed.
* A missing or mistyped ``TraceSegmentDocuments`` / ``TraceIds`` (or a body
  that is not a JSON object) was ``MissingParameter`` in the body; now
  ``InvalidRequestException`` (400), the error the model lists.
Kept from moto: unknown trace ids are listed in ``UnprocessedTraceIds``; a
document that is not JSON, or lacks a required field, is an
``UnprocessedTraceSegments`` entry; a document that breaks moto's parser
(e.g. a JSON number) fails the whole call with ``InternalFailure`` (500).
``NextToken`` is accepted and ignored (everything comes in one page).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.kms.models import kms_backends
from moto.xray.exceptions import BadSegmentException
from moto.xray.models import XRayBackend, xray_backends
from werkzeug.wrappers import Response

from . import kms_events, wire, xray_kms
from .caller import Caller
from .event_history import EventHistory
from .kms_keys import parse_key_arn
from .xray_encryption import EncryptionConfigStore
from .xray_settings import InvalidRequest, handle_json


class InternalFailure(Exception):
    """moto's answer to a document its parser chokes on: the whole call fails with HTTP 500."""


class TraceKeyStore:
    """(account, region, trace id) -> ARNs of the KMS keys the trace's segments were encrypted with.

    ``lock`` is held by the handlers around moto's backend access and the
    records, so a read never sees a trace without its keys.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._keys: dict[tuple[str, str, str], set[str]] = {}

    def reset(self) -> None:
        with self.lock:
            self._keys.clear()

    def record(self, caller: Caller, trace_id: str, key_arn: str) -> None:
        with self.lock:
            self._keys.setdefault((caller.account_id, caller.region, trace_id), set()).add(key_arn)

    def keys(self, caller: Caller, trace_id: str) -> set[str]:
        with self.lock:
            return set(self._keys.get((caller.account_id, caller.region, trace_id), ()))

    def readable(self, caller: Caller, trace_id: str) -> bool:
        return all(key_enabled(arn) for arn in self.keys(caller, trace_id))


def key_enabled(key_arn: str) -> bool:
    """Whether the key behind this ARN exists in moto's KMS and is ``Enabled``."""
    parsed = parse_key_arn(key_arn)
    if parsed is None:
        return False
    region, account, key_id = parsed
    try:
        key = kms_backends[account][region].keys.get(key_id)
    except KeyError:
        return False
    return key is not None and key.key_state == "Enabled"


def _encryption_key(encryption: EncryptionConfigStore, caller: Caller) -> str | None:
    """The key ARN new segments are encrypted with; None under Type NONE."""
    config = encryption.get(caller.account_id, caller.region)
    return config.get("KeyId") if config.get("Type") == "KMS" else None


def _string_list(params: dict[str, Any], member: str) -> list[str]:
    value = params.get(member)
    if value is None:
        raise InvalidRequest(f"{member} is required.")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidRequest(f"{member} must be a list of strings.")
    return value


def _process(backend: XRayBackend, doc: str) -> str:
    """Store ``doc`` in ``backend`` the way moto does; its trace id. Raises BadSegmentException like moto."""
    try:
        backend.process_segment(doc)
    except BadSegmentException:
        raise
    except Exception as err:  # moto's PutTraceSegments answers these with InternalFailure
        raise InternalFailure(str(err)) from err
    return json.loads(doc)["trace_id"]


def put_trace_segments(
    encryption: EncryptionConfigStore,
    traces: TraceKeyStore,
    caller: Caller,
    params: dict[str, Any],
    events: EventHistory | None = None,
) -> dict[str, Any]:
    docs = _string_list(params, "TraceSegmentDocuments")
    key_arn = _encryption_key(encryption, caller)
    if key_arn is not None and not xray_kms.xray_can_use(caller.account_id, caller.region, key_arn):
        # X-Ray cannot encrypt: validated exactly as when storing, into a backend nobody reads.
        backend, key_arn = XRayBackend(caller.region, caller.account_id), None
    else:
        backend = xray_backends[caller.account_id][caller.region]
    unprocessed = []
    stored = False
    with traces.lock:
        for doc in docs:
            try:
                trace_id = _process(backend, doc)
            except BadSegmentException as bad:
                unprocessed.append(bad.to_dict())
                continue
            if key_arn is not None:
                traces.record(caller, trace_id, key_arn)
                stored = True
    if stored and events is not None:
        kms_events.record_xray_generate_data_key(events, key_arn)
    return {"UnprocessedTraceSegments": unprocessed}


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None  # moto does not check types: an in-progress segment may carry a string start_time
    return float(value)


def _duration(segments: Iterable[dict[str, Any]]) -> float | None:
    """End of the last completed segment minus start of the earliest (model: Trace.Duration)."""
    docs = [json.loads(segment["Document"]) for segment in segments]  # moto only stores JSON objects
    starts = [t for t in (_seconds(doc.get("start_time")) for doc in docs) if t is not None]
    ends = [t for t in (_seconds(doc.get("end_time")) for doc in docs) if t is not None]
    return max(ends) - min(starts) if starts and ends else None


def _trace(trace_id: str, moto_trace: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"Id": trace_id, "Segments": moto_trace["Segments"]}
    duration = _duration(moto_trace["Segments"])
    if duration is not None:
        out["Duration"] = duration
    return out


def batch_get_traces(
    traces: TraceKeyStore, caller: Caller, params: dict[str, Any], events: EventHistory | None = None
) -> dict[str, Any]:
    trace_ids = _string_list(params, "TraceIds")
    decrypted_with: list[str] = []  # keys of the traces returned, in order of first use
    with traces.lock:
        found = xray_backends[caller.account_id][caller.region].get_trace_ids(trace_ids)
        # moto lists the traces of known ids in request order, and every other id as unprocessed.
        unknown = set(found["UnprocessedTraceIds"])
        moto_traces = iter(found["Traces"])
        readable, unprocessed = [], []
        for trace_id in trace_ids:
            if trace_id in unknown:
                unprocessed.append(trace_id)
                continue
            moto_trace = next(moto_traces)
            if traces.readable(caller, trace_id) and all(
                xray_kms.reader_may_decrypt(caller, arn) for arn in traces.keys(caller, trace_id)
            ):
                readable.append(_trace(trace_id, moto_trace))
                decrypted_with += sorted(traces.keys(caller, trace_id) - set(decrypted_with))
            else:
                unprocessed.append(trace_id)  # encrypted with a key that is not Enabled now
    if events is not None:
        for key_arn in decrypted_with:
            kms_events.record_xray_decrypt(events, key_arn)
    return {"Traces": readable, "UnprocessedTraceIds": unprocessed}


def _handle(body: bytes, operation: Callable[[dict[str, Any]], dict[str, Any]]) -> Response:
    try:
        return handle_json(body, operation)
    except InternalFailure as err:
        return wire.rest_json_error(500, "InternalFailure", str(err))


def handle_put(
    encryption: EncryptionConfigStore,
    traces: TraceKeyStore,
    caller: Caller,
    body: bytes,
    events: EventHistory | None = None,
) -> Response:
    return _handle(body, lambda params: put_trace_segments(encryption, traces, caller, params, events))


def handle_get(traces: TraceKeyStore, caller: Caller, body: bytes, events: EventHistory | None = None) -> Response:
    return _handle(body, lambda params: batch_get_traces(traces, caller, params, events))
