"""Response builders for the AWS wire protocols the middleware answers in.

Shapes follow botocore's protocol parsers (and the Rust SDK's, which read the
same things): rest-json errors carry the code in ``x-amzn-ErrorType`` and the
message in the body; awsJson errors carry ``__type`` in the body; query errors
are an XML ``ErrorResponse``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from xml.sax.saxutils import escape

from werkzeug.wrappers import Response


def _request_id() -> str:
    return str(uuid.uuid4())


def rest_json(body: dict[str, Any] | None, status: int = 200) -> Response:
    payload = "" if body is None else json.dumps(body)
    return Response(
        payload,
        status=status,
        headers={
            "Content-Type": "application/json",
            "x-amzn-RequestId": _request_id(),
        },
    )


def rest_json_error(
    status: int,
    code: str,
    message: str,
    message_member: str = "Message",
    extra: dict[str, Any] | None = None,
) -> Response:
    """restJson1 error: code in the x-amzn-ErrorType header, message in the body.

    ``message_member`` is the casing the service's error shape uses in its
    botocore model (X-Ray: ``Message``; Account: ``message``).
    """
    body: dict[str, Any] = {message_member: message}
    body.update(extra or {})
    return Response(
        json.dumps(body),
        status=status,
        headers={
            "Content-Type": "application/json",
            "x-amzn-ErrorType": code,
            "x-amzn-RequestId": _request_id(),
        },
    )


def aws_json_error(code: str, message: str, status: int = 400) -> Response:
    """awsJson1.0/1.1 error (KMS, Organizations): ``__type`` + ``message`` in the body."""
    return Response(
        json.dumps({"__type": code, "message": message}),
        status=status,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "x-amzn-RequestId": _request_id(),
        },
    )


def query_error(code: str, message: str, status: int = 403) -> Response:
    """awsQuery error (STS, IAM)."""
    request_id = _request_id()
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<Error><Type>Sender</Type><Code>{escape(code)}</Code>"
        f"<Message>{escape(message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return Response(
        body,
        status=status,
        headers={"Content-Type": "text/xml", "x-amzn-RequestId": request_id},
    )


def rest_xml_error(code: str, message: str, status: int = 403) -> Response:
    """restXml error (S3 style)."""
    request_id = _request_id()
    body = (
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<RequestId>{request_id}</RequestId></Error>"
    )
    return Response(
        body,
        status=status,
        headers={"Content-Type": "application/xml", "x-amzn-RequestId": request_id},
    )
