"""The WSGI app: moto's own server app wrapped by the emulator middleware.

Order of handling for each request:
1. ``/moto-api/reset`` also clears the emulator's own state, then goes to moto.
2. Other ``/moto-api/*`` and unsigned requests go straight to moto.
   ``/_xray_cmk/*`` are the emulator's own test-only hooks (config_aggregator).
3. Authorization (authz, iam_eval) may answer AccessDenied, as AWS would.
4. STS AssumeRole of a missing role, or one whose trust policy does not allow
   the caller, is answered AccessDenied (sts_assume_role).
5. Paths moto lacks (X-Ray encryption config and trace segment destination,
   Account region opt-in) are served here, and so are X-Ray PutTraceSegments /
   BatchGetTraces, on top of moto's X-Ray backend (xray_traces: the KMS key).
   awsJson targets moto lacks (CloudTrail LookupEvents, event_history; EventBridge
   TestEventPattern, events_patterns; AWS Config compliance and remediation,
   config_rules and remediation) likewise, and Config's aggregator queries
   (config_aggregator; recorder calls go to moto, then Config discovers X-Ray's configuration).
   A PutConfigRule moto accepted is followed by the rule's evaluation of the recorded X-Ray
   item (config_rules).
6. KMS calls (``TrentService.*``) go to moto; a 2xx answer is recorded as a
   CloudTrail event (kms_events) before it is returned.
7. Everything else is moto's ``DomainDispatcherApplication``.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterable
from typing import Any, Callable

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from . import (
    account_index,
    authz,
    cloudtrail_patches,
    config_aggregator,
    config_items,
    config_patches,
    config_rules,
    event_history,
    events_patterns,
    iam_simulate,
    kms_events,
    kms_patches,
    logs_patches,
    org_patches,
    sts_patches,
    regions,
    remediation,
    sts_assume_role,
    xray_encryption,
    xray_segments,
    xray_traces,
)
from .caller import caller_from_environ, drop_account_override_of_issued_keys

StartResponse = Callable[..., Any]
_log = logging.getLogger(__name__)


class EmulatorState:
    def __init__(self) -> None:
        self.encryption = xray_encryption.EncryptionConfigStore()
        self.regions = regions.RegionOptStore()
        self.segments = xray_segments.SegmentDestinationStore()
        self.traces = xray_traces.TraceKeyStore()
        self.events = event_history.EventHistory()
        self.config_items = config_items.ConfigItemStore()
        self.config_rules = config_rules.ConfigRuleStore(self.config_items)
        self.remediation = remediation.RemediationStore(self.config_rules)

    def reset(self) -> None:
        self.remediation.reset()
        self.config_rules.reset()
        self.config_items.reset()
        self.events.reset()
        self.encryption.reset()
        self.regions.reset()
        self.segments.reset()
        self.traces.reset()


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read the request body and put it back so moto can read it again."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = stream.read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _json_content_type(start_response: StartResponse) -> StartResponse:
    """moto answers awsJson calls with text/html; AWS sends application/x-amz-json-1.1."""

    def wrapped(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
        fixed = [
            ("Content-Type", "application/x-amz-json-1.1")
            if name.lower() == "content-type" and value.startswith("text/html")
            else (name, value)
            for name, value in headers
        ]
        return start_response(status, fixed, *args)

    return wrapped


def _put_encryption(store: EmulatorState, caller: Any, body: bytes) -> Any:
    """X-Ray PutEncryptionConfig; on success AWS Config records the new configuration item."""
    response = xray_encryption.handle_put(store.encryption, caller, body)
    if response.status_code == 200:
        try:
            config = json.loads(response.get_data()).get("EncryptionConfig", {})
            store.config_items.record_xray(caller.account_id, caller.region, config)
        except Exception:  # recording must not fail the X-Ray call
            _log.exception("could not record the configuration item of X-Ray's encryption")
    return response


def _discover_xray(store: EmulatorState, caller: Any) -> None:
    """After a recorder starts or changes: Config records X-Ray's current configuration."""
    try:
        current = store.encryption.get(caller.account_id, caller.region)
        config_aggregator.discover(store.config_items, caller.account_id, caller.region, current)
    except Exception:  # recording must not fail the Config call
        _log.exception("could not record the configuration item of X-Ray's encryption at recorder start")


class EmulatorMiddleware:
    def __init__(self, moto_app: Any, state: EmulatorState | None = None) -> None:
        self.moto_app = moto_app
        self.state = state or EmulatorState()
        store = self.state
        self.routes: dict[tuple[str, str], Callable[[Any, bytes], Any]] = {
            ("xray", "/EncryptionConfig"): lambda c, b: xray_encryption.handle_get(store.encryption, c, b),
            ("xray", "/PutEncryptionConfig"): lambda c, b: _put_encryption(store, c, b),
            ("xray", "/GetTraceSegmentDestination"): lambda c, b: xray_segments.handle_get(store.segments, c, b),
            ("xray", "/UpdateTraceSegmentDestination"): (
                lambda c, b: xray_segments.handle_update(store.segments, c, b)
            ),
            ("xray", "/TraceSegments"): (
                lambda c, b: xray_traces.handle_put(store.encryption, store.traces, c, b, store.events)
            ),
            ("xray", "/Traces"): lambda c, b: xray_traces.handle_get(store.traces, c, b, store.events),
        }
        # awsJson operations served here: (signing name, X-Amz-Target) -> handler.
        self.targets: dict[tuple[str, str], Callable[[Any, bytes], Any]] = {
            ("cloudtrail", event_history.LOOKUP_EVENTS_TARGET): (
                lambda c, b: event_history.handle_lookup_events(store.events, c, b)
            ),
            ("cloudtrail", event_history.LOOKUP_EVENTS_SHORT_TARGET): (
                lambda c, b: event_history.handle_lookup_events(store.events, c, b)
            ),
            ("events", events_patterns.TARGET): events_patterns.handle,
        }
        # AWS Config rule evaluation and remediation (config_rules, remediation).
        for t in config_rules.TARGETS:
            self.targets[("config", t)] = lambda c, b, t=t: config_rules.handle(store.config_rules, c, t, b)
        for t in remediation.TARGETS:
            self.targets[("config", t)] = lambda c, b, t=t: remediation.handle(store.remediation, c, t, b)
        self.state.remediation.app = self  # the runbook's signed calls come back through here
        for path in regions.OPERATIONS:
            self.routes[("account", path)] = (
                lambda c, b, p=path: regions.handle(store.regions, c, p, b)
            )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith("/moto-api"):
            if path.rstrip("/") == "/moto-api/reset" and method == "POST":
                self.state.reset()
            return self.moto_app(environ, start_response)
        if path.startswith("/_xray_cmk/"):  # test-only control hooks (config_aggregator)
            hooked = config_aggregator.handle_control(self.state.config_items, method, path, _read_body(environ))
            return hooked(environ, start_response)

        drop_account_override_of_issued_keys(environ)
        caller = caller_from_environ(environ)
        if caller.service is None:
            return self.moto_app(environ, start_response)

        body = _read_body(environ)
        decided = authz.check(caller, environ, body)
        denied = decided.response
        if denied is None:
            denied = sts_assume_role.check(caller, environ, body)
        if denied is not None:
            return denied(environ, start_response)
        if decided.route_account is not None:
            # A KMS operation KMS supports across accounts: served from the key owner's account.
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = decided.route_account

        if caller.service == "iam" and authz.query_params(environ, body).get("Action") == "SimulatePrincipalPolicy":
            return iam_simulate.handle(caller, environ, body)(environ, start_response)

        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if caller.service == "config" and target == config_items.TARGET:
            answered = config_items.handle_history(self.state.config_items, caller, body)
            if answered is not None:
                return answered(environ, start_response)
        if caller.service == "config":
            answered = config_aggregator.handle(self.state.config_items, caller, target, body, environ)
            if answered is not None:
                return answered(environ, start_response)
            if target.removeprefix(config_aggregator.TARGET_PREFIX) in config_aggregator.RECORDER_OPERATIONS:
                forwarded = config_aggregator.forward_recorder_call(
                    self.moto_app, environ, lambda: _discover_xray(self.state, caller)
                )
                return forwarded(environ, start_response)
        route = self.targets.get((caller.service, target)) if target else None
        if route is None:
            route = self.routes.get((caller.service, path.rstrip("/")))
        if route is not None and method == "POST":
            return route(caller, body)(environ, start_response)

        if target:
            start_response = _json_content_type(start_response)
        if caller.service == "config" and target == config_rules.PUT_CONFIG_RULE_TARGET:
            return self._then(environ, start_response, lambda: config_rules.after_put_config_rule(
                self.state.config_rules, caller, body))
        operation = kms_events.kms_operation(caller, environ)
        if operation is not None:
            try:
                call = kms_events.KmsCall(caller, environ, operation, body)
            except Exception:  # a bug in recording must not fail the KMS call
                _log.exception("could not prepare the CloudTrail event of KMS %s", operation)
            else:
                return self._recorded(call, environ, start_response)
        return self.moto_app(environ, start_response)

    def _then(self, environ: dict[str, Any], start_response: StartResponse, after: Callable[[], None]) -> Iterable[bytes]:
        """Forward to moto; after a 2xx answer run ``after`` (errors logged), then return the body."""
        seen: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            seen["status"] = status
            return start_response(status, headers, *args)

        result = self.moto_app(environ, capture)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if str(seen.get("status", "")).startswith("2"):
            try:
                after()
            except Exception:
                _log.exception("the hook after %s failed", environ.get("HTTP_X_AMZ_TARGET"))
        return [body]

    def _recorded(
        self, call: kms_events.KmsCall, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        """Forward to moto; record the call from its status, headers and body, then return the body."""
        seen: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, *args)

        result = self.moto_app(environ, capture)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        try:
            call.record(self.state.events, seen.get("status", ""), seen.get("headers", []), body)
        except Exception:  # moto has already changed its state: never turn that into a failed call
            _log.exception("could not record the CloudTrail event of KMS %s", call.operation)
        return [body]


def create_app() -> EmulatorMiddleware:
    kms_patches.apply()
    logs_patches.apply()
    cloudtrail_patches.apply()
    config_patches.apply()
    config_aggregator.apply()
    org_patches.apply()
    sts_patches.apply()
    account_index.apply()
    return EmulatorMiddleware(DomainDispatcherApplication(create_backend_app))
