"""Loopback latency-and-fault HTTP/1.1 reverse proxy for the xray-cmk benchmark.

    python bench/proxy.py --upstream http://127.0.0.1:PORT --port 0 --port-file F \
        [--latency-ms 50] [--throttle-rate 0.1] [--error-rate 0.02] [--drop-rate 0.01] \
        [--dead-account 123456789012 ...] [--seed 1] [--stats-out F]

Sits between an AWS SDK (``AWS_ENDPOINT_URL``) and the emulator. Every request
waits ``--latency-ms`` (a stand-in for the round trip to a real AWS region),
then may be faulted. Faults are drawn per request from one seeded RNG and are
shaped exactly like AWS's for the request's protocol, so that SDKs classify
them the way they would classify the real thing (throttling vs. transient):

* protocol: ``X-Amz-Target`` means awsJson (KMS, CloudTrail, Logs,
  Organizations); otherwise botocore's model of the service named by the SigV4
  credential scope decides (rest-json: X-Ray, Account; query: STS);
* ``throttle``: awsJson 400 ``ThrottlingException``; rest-json 429 with the
  model's 429 error shape (X-Ray ``ThrottledException``, Account
  ``TooManyRequestsException``); query 400 XML ``Throttling``;
* ``error``: HTTP 500 ``InternalFailure`` (rest-json: the model's 500 shape if
  it has one, e.g. Account ``InternalServerException``);
* ``drop``: the connection is closed without a response;
* ``dead_account``: every request signed with an access key of a
  ``--dead-account`` is dropped. Keys are mapped to accounts by watching
  ``sts:AssumeRole`` go through (RoleArn in the request, AccessKeyId in the
  response); unknown keys belong to no dead account.

``/moto-api/*`` and ``/_proxy/*`` are never faulted. ``GET /_proxy/stats``
returns request counts by ``service:Operation`` and faults by kind as JSON;
``--stats-out`` writes the same at exit (SIGTERM/SIGINT). ``POST /_proxy/reset``
zeroes the counters (the RNG and learnt keys are kept).

The upstream (werkzeug, HTTP/1.0) closes after every response, so each
forwarded request opens its own upstream connection; client connections are
kept alive as HTTP/1.1 says.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import re
import signal
import sys
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import botocore.loaders
from botocore.exceptions import DataNotFoundError, UnknownServiceError

FAULT_KINDS = ("throttle", "error", "drop", "dead_account")
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "transfer-encoding", "upgrade", "content-length", "expect",
}  # fmt: skip
MAX_HEADERS = 200
# The emulator's werkzeug server listens with a backlog of 128 and a thread per
# connection; more simultaneous upstream connections only queue SYNs there.
UPSTREAM_CONNECTIONS = 64
THROTTLE_MESSAGE = "Rate exceeded"
ERROR_MESSAGE = "We encountered an internal error. Please try again."
CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/([^/]+)/aws4_request")
ACCESS_KEY_ID_RE = re.compile(rb"<AccessKeyId>\s*([^<\s]+)\s*</AccessKeyId>")


class BadRequest(Exception):
    pass


# --- botocore service models ---------------------------------------------------------------


@functools.cache
def _loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


@functools.cache
def service_model(signing_name: str) -> dict[str, Any] | None:
    try:
        return _loader().load_service_model(signing_name, "service-2")
    except (DataNotFoundError, UnknownServiceError):
        return None


@functools.cache
def _rest_routes(service: str) -> list[tuple[str, re.Pattern[str], str]]:
    """(method, path regex, operation) from the model's http.requestUri, literal URIs first."""
    model = service_model(service) or {"operations": {}}
    routes = []
    for name, op in model["operations"].items():
        http = op.get("http", {})
        uri = http.get("requestUri", "/").split("?")[0]
        pattern = re.sub(r"\\\{[^}]+\\\+\\\}", ".+", re.escape(uri))  # {Key+}: greedy label
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)  # {Label}: one segment
        routes.append((uri.count("{"), http.get("method", "POST"), re.compile(pattern + "/?$"), name))
    routes.sort(key=lambda r: r[0])
    return [(method, regex, name) for _, method, regex, name in routes]


@functools.cache
def error_shape(service: str, status: int, fallback: str) -> tuple[str, str]:
    """(code, message member) of the model's error shape with this httpStatusCode, else fallback."""
    shapes = (service_model(service) or {}).get("shapes", {})
    for name, shape in sorted(shapes.items()):
        if shape.get("exception") and shape.get("error", {}).get("httpStatusCode") == status:
            return name, "message" if "message" in shape.get("members", {}) else "Message"
    return fallback, "Message"


# --- requests --------------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    target: str  # request-target as sent (path and query)
    version: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def keep_alive(self) -> bool:
        conn = (self.header("connection") or "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn


@dataclass
class Call:
    """What an AWS request is: service (SigV4 signing name), operation, protocol, access key."""

    service: str | None = None
    operation: str | None = None
    protocol: str | None = None
    access_key: str | None = None
    form: dict[str, list[str]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.service or '-'}:{self.operation or '?'}"


def identify(req: Request) -> Call:
    match = CREDENTIAL_RE.search(req.header("authorization") or "")
    if not match:
        return Call()
    call = Call(service=match.group(3).lower(), access_key=match.group(1))
    model = service_model(call.service)
    target = req.header("x-amz-target")
    if target:
        call.protocol, call.operation = "json", target.rsplit(".", 1)[-1]
        return call
    call.protocol = model["metadata"]["protocol"] if model else None
    if call.protocol in ("query", "ec2"):
        form = parse_qs(urlsplit(req.target).query)
        form.update(parse_qs(req.body.decode("utf-8", "replace")))
        call.form = form
        call.operation = form.get("Action", [None])[0]
    elif model:
        path = req.path
        call.operation = next(
            (name for method, regex, name in _rest_routes(call.service) if method == req.method and regex.match(path)),
            None,
        )
    return call


# --- fault responses, in each protocol's wire shape ----------------------------------------------


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway"}  # fmt: skip


def _json_response(status: int, body: dict[str, Any], content_type: str, error_type: str) -> Response:
    return Response(
        status,
        REASONS[status],
        [("Content-Type", content_type), ("x-amzn-ErrorType", error_type), ("x-amzn-RequestId", str(uuid.uuid4()))],
        json.dumps(body).encode(),
    )


def fault_response(kind: str, call: Call) -> Response | None:
    """The AWS-shaped response for a ``throttle`` or ``error`` fault; None if the protocol is unknown."""
    throttle = kind == "throttle"
    if call.protocol == "json":
        version = (service_model(call.service) or {}).get("metadata", {}).get("jsonVersion", "1.1")
        code, status = ("ThrottlingException", 400) if throttle else ("InternalFailure", 500)
        return _json_response(
            status, {"__type": code, "message": THROTTLE_MESSAGE if throttle else ERROR_MESSAGE},
            f"application/x-amz-json-{version}", code,
        )  # fmt: skip
    if call.protocol == "rest-json":
        status = 429 if throttle else 500
        code, member = error_shape(call.service, status, "TooManyRequestsException" if throttle else "InternalFailure")
        return _json_response(
            status, {member: THROTTLE_MESSAGE if throttle else ERROR_MESSAGE}, "application/json", code
        )
    if call.protocol == "query":
        request_id = str(uuid.uuid4())
        code, sender, status, message = (
            ("Throttling", "Sender", 400, THROTTLE_MESSAGE) if throttle
            else ("InternalFailure", "Receiver", 500, ERROR_MESSAGE)
        )  # fmt: skip
        body = (
            f"<ErrorResponse><Error><Type>{sender}</Type><Code>{code}</Code><Message>{message}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return Response(
            status, REASONS[status],
            [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body.encode(),
        )  # fmt: skip
    return None


# --- HTTP/1.1 framing ---------------------------------------------------------------------------


async def _read_headers(reader: asyncio.StreamReader) -> list[tuple[str, str]]:
    headers = []
    while True:
        line = await reader.readline()
        if not line:
            raise BadRequest("connection closed in headers")
        if line in (b"\r\n", b"\n"):
            return headers
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep or len(headers) >= MAX_HEADERS:
            raise BadRequest(f"bad header line {line!r}")
        headers.append((name.strip(), value.strip()))


async def _read_body(reader: asyncio.StreamReader, headers: list[tuple[str, str]], until_eof: bool) -> bytes:
    lookup = {k.lower(): v for k, v in headers}
    if "chunked" in lookup.get("transfer-encoding", "").lower():
        chunks = []
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await _read_headers(reader)  # trailers
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
    if "content-length" in lookup:
        return await reader.readexactly(int(lookup["content-length"]))
    return await reader.read() if until_eof else b""


async def read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Request | None:
    line = await reader.readline()
    while line in (b"\r\n", b"\n"):  # tolerate stray CRLF between requests (RFC 9112 2.2)
        line = await reader.readline()
    if not line:
        return None
    try:
        method, target, version = line.decode("latin-1").split()
    except ValueError:
        raise BadRequest(f"bad request line {line!r}") from None
    headers = await _read_headers(reader)
    if any(k.lower() == "expect" and v.lower() == "100-continue" for k, v in headers):
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    body = await _read_body(reader, headers, until_eof=False)
    return Request(method, target, version, headers, body)


def write_response(writer: asyncio.StreamWriter, resp: Response, keep_alive: bool, head: bool = False) -> None:
    lines = [f"HTTP/1.1 {resp.status} {resp.reason}"]
    lines += [f"{k}: {v}" for k, v in resp.headers if k.lower() not in HOP_BY_HOP]
    lines.append(f"Content-Length: {len(resp.body)}")
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head else resp.body))


# --- the proxy ------------------------------------------------------------------------------------


@dataclass
class Config:
    upstream_host: str
    upstream_port: int
    latency_ms: float = 0.0
    throttle_rate: float = 0.0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    dead_accounts: frozenset[str] = frozenset()
    seed: int = 1


class Proxy:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.key_accounts: dict[str, str] = {}  # access key id -> account, learnt from sts:AssumeRole
        self.upstream_slots = asyncio.Semaphore(UPSTREAM_CONNECTIONS)
        self.reset_stats()

    def reset_stats(self) -> None:
        self.by_operation: Counter[str] = Counter()
        self.faults: Counter[str] = Counter({k: 0 for k in FAULT_KINDS})
        self.faults_by_operation: dict[str, Counter[str]] = defaultdict(Counter)
        self.passthrough = 0  # /moto-api and other unsigned requests
        self.upstream_errors = 0

    def stats(self) -> dict[str, Any]:
        cfg = self.config
        return {
            "requests": sum(self.by_operation.values()),
            "by_operation": dict(sorted(self.by_operation.items())),
            "faults": dict(self.faults),
            "faults_by_operation": {k: dict(sorted(v.items())) for k, v in sorted(self.faults_by_operation.items())},
            "passthrough": self.passthrough,
            "upstream_errors": self.upstream_errors,
            "learnt_access_keys": len(self.key_accounts),
            "config": {
                "upstream": f"http://{cfg.upstream_host}:{cfg.upstream_port}",
                "latency_ms": cfg.latency_ms, "throttle_rate": cfg.throttle_rate,
                "error_rate": cfg.error_rate, "drop_rate": cfg.drop_rate,
                "dead_accounts": sorted(cfg.dead_accounts), "seed": cfg.seed,
            },
        }  # fmt: skip

    def draw_fault(self, call: Call) -> str | None:
        """The fault for this request, if any. Dead accounts first, without consuming the RNG."""
        if call.access_key and self.key_accounts.get(call.access_key) in self.config.dead_accounts:
            return "dead_account"
        cfg = self.config
        if not (cfg.drop_rate or cfg.error_rate or cfg.throttle_rate):
            return None
        u = self.rng.random()  # exactly one draw per faultable request keeps runs reproducible
        for kind, rate in (("drop", cfg.drop_rate), ("error", cfg.error_rate), ("throttle", cfg.throttle_rate)):
            if u < rate:
                return kind
            u -= rate
        return None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                req = await read_request(reader, writer)
                if req is None or not await self.serve(req, writer):
                    break
                await writer.drain()
        except (BadRequest, ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    async def serve(self, req: Request, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False closes the client connection."""
        path = req.path
        if path.startswith("/_proxy/"):
            write_response(writer, self.control(req, path), req.keep_alive)
            return req.keep_alive
        if self.config.latency_ms:
            await asyncio.sleep(self.config.latency_ms / 1000)
        call = identify(req)
        if path.startswith("/moto-api") or call.service is None:
            self.passthrough += 1
            return await self.pass_through(req, writer, call)
        self.by_operation[call.name] += 1
        fault = self.draw_fault(call)
        if fault in ("drop", "dead_account"):
            self.count_fault(fault, call)
            return False  # handle() closes the socket: no response at all
        if fault:
            resp = fault_response(fault, call)
            if resp is not None:  # None: a protocol whose error shape we cannot fake; let it through
                self.count_fault(fault, call)
                write_response(writer, resp, req.keep_alive, head=req.method == "HEAD")
                return req.keep_alive
        return await self.pass_through(req, writer, call)

    def count_fault(self, fault: str, call: Call) -> None:
        self.faults[fault] += 1
        self.faults_by_operation[fault][call.name] += 1

    async def pass_through(self, req: Request, writer: asyncio.StreamWriter, call: Call) -> bool:
        resp = await self.forward(req)
        if call.service == "sts" and call.operation == "AssumeRole" and resp.status == 200:
            self.learn_assume_role(call, resp.body)
        write_response(writer, resp, req.keep_alive, head=req.method == "HEAD")
        return req.keep_alive

    def learn_assume_role(self, call: Call, body: bytes) -> None:
        role_arn = call.form.get("RoleArn", [""])[0]
        parts = role_arn.split(":")
        match = ACCESS_KEY_ID_RE.search(body)
        if len(parts) > 4 and parts[4] and match:
            self.key_accounts[match.group(1).decode()] = parts[4]

    def control(self, req: Request, path: str) -> Response:
        if path == "/_proxy/stats" and req.method == "GET":
            return Response(200, "OK", [("Content-Type", "application/json")], json.dumps(self.stats()).encode())
        if path == "/_proxy/reset" and req.method == "POST":
            self.reset_stats()
            return Response(200, "OK", [("Content-Type", "application/json")], b"{}")
        return Response(404, "Not Found", [("Content-Type", "text/plain")], b"not found\n")

    async def forward(self, req: Request) -> Response:
        async with self.upstream_slots:
            return await self._forward(req)

    async def _forward(self, req: Request) -> Response:
        try:
            reader, writer = await asyncio.open_connection(self.config.upstream_host, self.config.upstream_port)
        except OSError as exc:
            self.upstream_errors += 1
            return Response(502, "Bad Gateway", [("Content-Type", "text/plain")], f"upstream: {exc}\n".encode())
        try:
            # The Host header is kept as sent: it is part of the SigV4 signature.
            lines = [f"{req.method} {req.target} HTTP/1.1"]
            lines += [f"{k}: {v}" for k, v in req.headers if k.lower() not in HOP_BY_HOP]
            lines += [f"Content-Length: {len(req.body)}", "Connection: close"]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + req.body)
            await writer.drain()
            status_line = (await reader.readline()).decode("latin-1").split(None, 2)
            if len(status_line) < 2:
                raise BadRequest("empty upstream response")
            headers = await _read_headers(reader)
            status = int(status_line[1])
            no_body = req.method == "HEAD" or status in (204, 304) or 100 <= status < 200
            body = b"" if no_body else await _read_body(reader, headers, until_eof=True)
            reason = status_line[2].strip() if len(status_line) > 2 else REASONS.get(status, "")
            return Response(status, reason, headers, body)
        except (OSError, BadRequest, asyncio.IncompleteReadError, ValueError) as exc:
            self.upstream_errors += 1
            return Response(502, "Bad Gateway", [("Content-Type", "text/plain")], f"upstream: {exc}\n".encode())
        finally:
            writer.close()


# --- main -------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--upstream", required=True, help="emulator URL, e.g. http://127.0.0.1:5000")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--port-file", help="written atomically with the bound port once listening")
    p.add_argument("--latency-ms", type=float, default=0.0, help="added to every request")
    p.add_argument("--throttle-rate", type=float, default=0.0)
    p.add_argument("--error-rate", type=float, default=0.0, help="HTTP 500s")
    p.add_argument("--drop-rate", type=float, default=0.0, help="connections closed without a response")
    p.add_argument("--dead-account", action="append", default=[], help="drop every request of this account")
    p.add_argument("--seed", type=int, default=1, help="seed of the fault RNG")
    p.add_argument("--stats-out", help="write the stats JSON here at exit")
    args = p.parse_args(argv)
    if args.throttle_rate + args.error_rate + args.drop_rate > 1 or min(
        args.throttle_rate, args.error_rate, args.drop_rate
    ) < 0:
        p.error("fault rates must be >= 0 and sum to at most 1")
    return args


def _write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


async def serve(args: argparse.Namespace) -> Proxy:
    upstream = urlsplit(args.upstream)
    proxy = Proxy(
        Config(
            upstream_host=upstream.hostname or "127.0.0.1",
            upstream_port=upstream.port or 80,
            latency_ms=args.latency_ms,
            throttle_rate=args.throttle_rate,
            error_rate=args.error_rate,
            drop_rate=args.drop_rate,
            dead_accounts=frozenset(args.dead_account),
            seed=args.seed,
        )
    )
    server = await asyncio.start_server(proxy.handle, args.host, args.port, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.port_file:
        _write_atomic(args.port_file, f"{port}\n")
    print(f"proxy on http://{args.host}:{port} -> {args.upstream}", file=sys.stderr, flush=True)
    async with server:
        await stop.wait()
    return proxy


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    proxy = asyncio.run(serve(args))
    if args.stats_out:
        _write_atomic(args.stats_out, json.dumps(proxy.stats(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
