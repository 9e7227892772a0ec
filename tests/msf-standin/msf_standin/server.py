"""The HTTP server: the AWS JSON 1.1 endpoint on `POST /` and the side door on `/_standin/`.

Every request is SigV4-checked, its target resolved in the model and its body validated against
the input shape; every answer (errors included) is validated against its output or error shape
before it is sent: one that does not conform is a bug here, answered 500 and logged loudly.
"""

import argparse
import json
import logging
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import api, api_update, model, sidedoor, sigv4
from .errors import AwsError
from .standin import Standin

log = logging.getLogger("msf-standin")

HANDLERS = {
    "DescribeApplication": api.describe_application,
    "ListApplications": api.list_applications,
    "ListTagsForResource": api.list_tags_for_resource,
    "CreateApplicationSnapshot": api.create_application_snapshot,
    "ListApplicationSnapshots": api.list_application_snapshots,
    "DescribeApplicationSnapshot": api.describe_application_snapshot,
    "DeleteApplicationSnapshot": api.delete_application_snapshot,
    "ListApplicationOperations": api.list_application_operations,
    "DescribeApplicationOperation": api.describe_application_operation,
    "UpdateApplication": api_update.update_application,
    "RollbackApplication": api_update.rollback_application,
    "StartApplication": api_update.start_application,
    "StopApplication": api_update.stop_application,
}

CONTENT_TYPE = "application/x-amz-json-1.1"


def call(standin: Standin, target: str, raw: bytes):
    """One AWS call, already authenticated: (status, body) with the body checked."""
    prefix, _, name = (target or "").partition(".")
    op = None
    try:
        if prefix != model.TARGET_PREFIX:
            raise AwsError("UnknownOperationException", f"X-Amz-Target {target!r} is not {model.TARGET_PREFIX}.<Op>")
        op = model.operation(name)
        try:
            params = json.loads(raw or b"{}")
        except ValueError as error:
            raise AwsError("SerializationException", f"the body is not JSON: {error}") from error
        if not isinstance(params, dict):
            raise AwsError("SerializationException", "the body is not a JSON object")
        params = model.validate_request(op, params)
        handler = HANDLERS.get(name)
        if handler is None:
            raise AwsError("UnsupportedOperationException", f"the MSF stand-in does not implement {name}")
        body = handler(standin, params)
        found = model.output_problems(op, body)
        if found:
            log.error("STAND-IN BUG: %s answer does not validate against its output shape: %s; body %s",
                      name, found, body)
            return 500, {"__type": "InternalFailure", "message": f"stand-in answer invalid: {found}"}
        return 200, body
    except AwsError as error:
        found = model.error_problems(error)
        if found:
            log.error("STAND-IN BUG: error %s does not validate against its shape: %s", error.code, found)
            return 500, {"__type": "InternalFailure", "message": f"stand-in error invalid: {found}"}
        log.info("%s refused: %s", name or target, error)
        return error.status, error.body()


class Handler(BaseHTTPRequestHandler):
    standin: Standin = None
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        log.debug(fmt, *args)

    def _send(self, status: int, body: dict, content_type: str = CONTENT_TYPE):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", "00000000-0000-4000-8000-000000000000")
        if "__type" in body:
            self.send_header("X-Amzn-ErrorType", body["__type"])
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self):
        self._side_door("GET", b"")

    def do_POST(self):
        raw = self._body()
        url = urllib.parse.urlsplit(self.path)
        if url.path.startswith("/_standin/"):
            return self._side_door("POST", raw)
        if url.path != "/":
            return self._send(404, {"__type": "UnknownOperationException", "message": f"no route {url.path}"})
        try:
            if not (self.headers.get("Content-Type") or "").startswith(CONTENT_TYPE):
                raise AwsError("SerializationException", f"Content-Type must be {CONTENT_TYPE}")
            standin = self.standin
            sigv4.check("POST", url.path, url.query, self.headers, raw, standin.credentials, standin.region,
                        model.SIGNING_NAME)
        except AwsError as error:
            log.info("request refused before its operation: %s", error)
            return self._send(error.status, {"__type": error.code, "message": error.message})
        status, body = call(self.standin, self.headers.get("X-Amz-Target"), raw)
        self._send(status, body)

    def _side_door(self, method: str, raw: bytes):
        path = urllib.parse.urlsplit(self.path).path
        if not path.startswith("/_standin/"):
            return self._send(404, {"message": f"no route {method} {path}"}, "application/json")
        try:
            body = json.loads(raw) if raw else {}
            self._send(200, sidedoor.handle(self.standin, method, path, body), "application/json")
        except AwsError as error:
            self._send(error.status, {"__type": error.code, "message": error.message}, "application/json")
        except ValueError as error:
            self._send(400, {"message": f"bad side-door body: {error}"}, "application/json")


def main(argv=None):
    parser = argparse.ArgumentParser(description="A local Amazon Managed Service for Apache Flink endpoint")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", required=True, help="JSON: flink_rest_url, applications, …")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(threadName)s %(message)s")
    with open(args.config) as file:
        standin = Standin.from_config(json.load(file))
    Handler.standin = standin
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    standin.boot()
    log.info("MSF stand-in on http://127.0.0.1:%d, model %s %s, applications %s", args.port,
             model.SERVICE, model.TARGET_PREFIX, list(standin.apps))
    server.serve_forever()
