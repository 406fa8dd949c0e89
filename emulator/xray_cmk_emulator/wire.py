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


def _response(
    body: str, status: int, content_type: str, *, error_type: str | None = None, request_id: str | None = None
) -> Response:
    headers = {"Content-Type": content_type}
    if error_type is not None:
        headers["x-amzn-ErrorType"] = error_type
    headers["x-amzn-RequestId"] = request_id or _request_id()
    return Response(body, status=status, headers=headers)


def rest_json(body: dict[str, Any] | None, status: int = 200) -> Response:
    return _response("" if body is None else json.dumps(body), status, "application/json")


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
    return _response(json.dumps(body), status, "application/json", error_type=code)


def aws_json(body: dict[str, Any], status: int = 200) -> Response:
    """awsJson1.1 output (CloudTrail LookupEvents)."""
    return _response(json.dumps(body), status, "application/x-amz-json-1.1")


def aws_json_error(code: str, message: str, status: int = 400) -> Response:
    """awsJson1.0/1.1 error (KMS, Organizations): ``__type`` + ``message`` in the body."""
    return _response(json.dumps({"__type": code, "message": message}), status, "application/x-amz-json-1.1")


def _xml_error(template: str, content_type: str, code: str, message: str, status: int) -> Response:
    # The request id goes in the body too, so it is made here rather than in _response.
    request_id = _request_id()
    body = template.format(code=escape(code), message=escape(message), request_id=request_id)
    return _response(body, status, content_type, request_id=request_id)


_QUERY_ERROR = (
    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    "<Error><Type>Sender</Type><Code>{code}</Code>"
    "<Message>{message}</Message></Error>"
    "<RequestId>{request_id}</RequestId></ErrorResponse>"
)
_REST_XML_ERROR = "<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"


def query_error(code: str, message: str, status: int = 403) -> Response:
    """awsQuery error (STS, IAM)."""
    return _xml_error(_QUERY_ERROR, "text/xml", code, message, status)


def rest_xml_error(code: str, message: str, status: int = 403) -> Response:
    """restXml error (S3 style)."""
    return _xml_error(_REST_XML_ERROR, "application/xml", code, message, status)
