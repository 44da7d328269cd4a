#!/usr/bin/env python3
"""logscale's local AWS stand-in: moto's server plus the two things tests need in front of it.

1. CloudWatch over CBOR. The Rust SDK's CloudWatch client speaks Smithy RPC v2 CBOR, which moto
   does not. Requests to /service/GraniteServiceVersion20100801/operation/<Op> are decoded,
   re-sent to moto as the same operation in its JSON protocol, and the answer is encoded back to
   CBOR with timestamps tagged as epoch seconds (CBOR tag 1), guided by botocore's service model.
2. Faults and a call log. AWS answers with errors moto never produces (ScalingActivityInProgress,
   ResourceContention, Throttling). POST /_logscale/faults queues such answers for an operation
   (optionally only for requests whose body contains "match", e.g. a group name, so concurrent
   tests do not take each other's faults), or a slow answer ("delay_seconds", then the error if a
   "code" is given, else the normal answer); GET /_logscale/calls lists the operations seen with
   the start of each request body, so a test can prove a call was (not) made.

Usage: standin.py [--host 127.0.0.1] [--port 0] [--port-file F] [--parent-pid PID]
Prints "standin ready http://HOST:PORT" once it accepts connections.
"""
import argparse
import base64
import datetime as dt
import gzip
import io
import json
import os
import sys
import threading
import time
import urllib.parse

import botocore.session
import cbor2
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

CBOR_PREFIX = "/service/GraniteServiceVersion20100801/operation/"
JSON_TARGET = "GraniteServiceVersion20100801."


def _cloudwatch_model():
    return botocore.session.get_session().get_service_model("cloudwatch")


def shape_values(shape, value):
    """JSON value → Python value typed as the CBOR wire wants (datetimes, floats, ints)."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: shape_values(shape.members.get(k), v) for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [shape_values(shape.member, v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: shape_values(shape.value, v) for k, v in value.items()}
    if kind == "timestamp":
        if isinstance(value, (int, float)):
            return dt.datetime.fromtimestamp(float(value), tz=dt.timezone.utc)
        if isinstance(value, str):
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
    if kind in ("double", "float") and isinstance(value, (int, float)):
        return float(value)
    if kind in ("integer", "long") and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def to_json_value(value):
    """CBOR-decoded request value → JSON-able value (moto's JSON protocol)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    if isinstance(value, dict):
        return {k: to_json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json_value(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def call_app(app, environ):
    """Runs a WSGI app and returns (status, headers, body bytes)."""
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"] = status
        captured["headers"] = headers
        return lambda data: None

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()
    return captured["status"], captured["headers"], body


class Standin:
    def __init__(self, app):
        self.app = app
        self.model = _cloudwatch_model()
        self.lock = threading.Lock()
        self.faults = []  # dicts: operation, code and/or delay_seconds, message, status, times
        self.calls = []  # operation names in arrival order

    # -- control endpoints -------------------------------------------------------------
    def control(self, environ, start_response):
        path = environ["PATH_INFO"]
        method = environ["REQUEST_METHOD"]
        if path == "/_logscale/faults" and method == "POST":
            fault = json.loads(read_body(environ) or b"{}")
            if "operation" not in fault or ("code" not in fault and "delay_seconds" not in fault):
                return respond(
                    start_response, "400 Bad Request", {"error": "needs operation, and code or delay_seconds"}
                )
            if "code" in fault:
                fault.setdefault("message", f"injected {fault['code']}")
            fault.setdefault("status", 400)
            fault.setdefault("times", 1)
            with self.lock:
                self.faults.append(fault)
            return respond(start_response, "200 OK", {"queued": fault})
        if path == "/_logscale/faults" and method == "DELETE":
            with self.lock:
                self.faults.clear()
            return respond(start_response, "200 OK", {"cleared": True})
        if path == "/_logscale/calls":
            with self.lock:
                return respond(start_response, "200 OK", {"calls": list(self.calls)})
        return respond(start_response, "404 Not Found", {"error": f"no control endpoint {path}"})

    def take_fault(self, operation, body):
        text = body.decode("utf-8", "replace")
        with self.lock:
            for fault in self.faults:
                wanted = fault.get("match")
                if wanted and wanted not in text and urllib.parse.quote(wanted) not in text:
                    continue
                if fault["operation"] == operation and fault["times"] > 0:
                    fault["times"] -= 1
                    if fault["times"] == 0:
                        self.faults.remove(fault)
                    taken = dict(fault)
                    break
            else:
                return None
        # A slow answer: this request's thread waits (the server is threaded, others go on),
        # then answers with the error, or normally when the fault has no code.
        time.sleep(taken.get("delay_seconds", 0))
        return taken if "code" in taken else None

    # -- WSGI ----------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_logscale/"):
            return self.control(environ, start_response)
        if path == "/moto-api/reset":
            with self.lock:
                self.faults.clear()
                self.calls.clear()
        if path.startswith(CBOR_PREFIX):
            return self.cbor(environ, start_response, path[len(CBOR_PREFIX):])

        body = read_body(environ)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        operation = target.rsplit(".", 1)[-1] if target else query_action(environ, body)
        if not operation and environ.get("REQUEST_METHOD") == "PUT" and path.count("/") >= 2:
            # S3 (REST): a PUT to /bucket/key. The path stands in for the body in the call log,
            # so faults can match on the key.
            operation = "PutObject"
            body_for_match = path.encode()
            self.note_call(operation, body_for_match)
            fault = self.take_fault(operation, body_for_match)
            if fault:
                return s3_error(start_response, fault)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            return self.app(environ, start_response)
        if operation:
            self.note_call(operation, body)
            fault = self.take_fault(operation, body)
            if fault and target:
                return respond(start_response, f"{fault['status']} Fault", {"__type": fault["code"], "message": fault["message"]})
            if fault:
                return query_error(start_response, fault)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)

    def note_call(self, operation, body):
        with self.lock:
            self.calls.append({"operation": operation, "body": body[:4000].decode("utf-8", "replace")})

    def cbor(self, environ, start_response, operation):
        raw = read_body(environ)
        if environ.get("HTTP_CONTENT_ENCODING", "").lower() == "gzip":
            raw = gzip.decompress(raw)
        request = to_json_value(cbor2.loads(raw)) if raw else {}
        body = json.dumps(request).encode()
        self.note_call(operation, body)
        fault = self.take_fault(operation, body)
        if fault:
            payload = {"__type": f"com.amazonaws.cloudwatch#{fault['code']}", "message": fault["message"]}
            return cbor_response(start_response, f"{fault['status']} Fault", payload)

        inner = dict(environ)
        inner.update(
            {
                "PATH_INFO": "/",
                "QUERY_STRING": "",
                "REQUEST_METHOD": "POST",
                "CONTENT_TYPE": "application/x-amz-json-1.0",
                "CONTENT_LENGTH": str(len(body)),
                "HTTP_X_AMZ_TARGET": JSON_TARGET + operation,
                "wsgi.input": io.BytesIO(body),
            }
        )
        inner.pop("HTTP_CONTENT_ENCODING", None)
        status, _headers, out = call_app(self.app, inner)
        try:
            answer = json.loads(out) if out.strip() else {}
        except ValueError:
            answer = {"__type": "InternalFailure", "message": out[:500].decode("utf-8", "replace")}
        if status.startswith("2"):
            shape = self.model.operation_model(operation).output_shape
            answer = shape_values(shape, answer)
        return cbor_response(start_response, status, answer)


def read_body(environ):
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ["wsgi.input"]
    return stream.read(length) if length else b""


def query_action(environ, body):
    """The operation of an awsQuery / ec2Query request (Auto Scaling, EC2, SNS)."""
    if environ.get("REQUEST_METHOD") != "POST":
        return None
    if "x-www-form-urlencoded" not in environ.get("CONTENT_TYPE", ""):
        return None
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    actions = form.get("Action")
    return actions[0] if actions else None


def respond(start_response, status, payload):
    data = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def query_error(start_response, fault):
    xml = (
        "<ErrorResponse><Error><Type>Sender</Type>"
        f"<Code>{fault['code']}</Code><Message>{fault['message']}</Message>"
        "</Error><RequestId>standin-fault</RequestId></ErrorResponse>"
    ).encode()
    status = f"{fault['status']} Fault"
    start_response(status, [("Content-Type", "text/xml"), ("Content-Length", str(len(xml)))])
    return [xml]


def s3_error(start_response, fault):
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{fault['code']}</Code><Message>{fault['message']}</Message>"
        "<RequestId>standin-fault</RequestId></Error>"
    ).encode()
    start_response(f"{fault['status']} Fault", [("Content-Type", "application/xml"), ("Content-Length", str(len(xml)))])
    return [xml]


def cbor_response(start_response, status, payload):
    data = cbor2.dumps(payload, datetime_as_timestamp=True, timezone=dt.timezone.utc)
    start_response(
        status,
        [
            ("Content-Type", "application/cbor"),
            ("smithy-protocol", "rpc-v2-cbor"),
            ("Content-Length", str(len(data))),
        ],
    )
    return [data]


def watch_parent(pid):
    """Exits when the process that started us is gone, so no stand-in outlives its tests."""
    while True:
        time.sleep(0.5)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", help="write the chosen port here")
    parser.add_argument("--parent-pid", type=int, help="exit when this process ends")
    args = parser.parse_args()

    app = Standin(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    port = server.server_address[1]
    os.environ.setdefault("MOTO_PORT", str(port))
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(port))
        os.replace(tmp, args.port_file)
    if args.parent_pid:
        threading.Thread(target=watch_parent, args=(args.parent_pid,), daemon=True).start()
    print(f"standin ready http://{args.host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
