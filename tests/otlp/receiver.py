"""A real OTLP/HTTP trace receiver for the tests (issue 22).

Listens on 127.0.0.1:<port> (0 = any; the chosen port is printed first),
takes `POST /v1/traces` in protobuf (gzip or not), decodes each request
with the `opentelemetry-proto` package from PyPI and keeps every span.
`GET /spans` answers them as JSON, one object per span: ids in lowercase
hex, kind as OTLP's name (SPAN_KIND_SERVER, ...), attributes as a flat
object, status, service.name and the instrumentation scope.

Usage: python receiver.py [port] [--discard]
(--discard: answer every export without decoding or keeping it, for
benchmarks that export at full load: bench/README.md "Issue 22".)
"""

import gzip
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

SPANS = []
LOCK = threading.Lock()
MAX_BODY = 16 * 1024 * 1024
DISCARD = "--discard" in sys.argv


def value(any_value):
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind in ("array_value", "kvlist_value"):
        return MessageToDict(getattr(any_value, kind))
    if kind == "bytes_value":
        return any_value.bytes_value.hex()
    return getattr(any_value, kind)


def attributes(pairs):
    return {pair.key: value(pair.value) for pair in pairs}


def decode(body):
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    {
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "name": span.name,
                        "kind": Span.SpanKind.Name(span.kind),
                        "attributes": attributes(span.attributes),
                        "status": Status.StatusCode.Name(span.status.code),
                        "status_message": span.status.message,
                        "events": [event.name for event in span.events],
                        "start_unix_nano": span.start_time_unix_nano,
                        "end_unix_nano": span.end_time_unix_nano,
                        "service_name": resource.get("service.name"),
                        "scope": scope_spans.scope.name,
                    }
                )
    return spans


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        if self.path != "/v1/traces":
            return self.answer(404, b"", "text/plain")
        length = int(self.headers.get("content-length", "0"))
        if length > MAX_BODY:
            return self.answer(413, b"", "text/plain")
        body = self.rfile.read(length)
        if DISCARD:
            return self.answer(200, b"", "application/x-protobuf")
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        if self.headers.get("content-type") != "application/x-protobuf":
            return self.answer(415, b"", "text/plain")
        try:
            spans = decode(body)
        except Exception as error:  # a malformed export is the test's finding
            sys.stderr.write(f"receiver: undecodable export: {error}\n")
            return self.answer(400, b"", "text/plain")
        with LOCK:
            SPANS.extend(spans)
        self.answer(200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")

    def do_GET(self):
        if self.path != "/spans":
            return self.answer(404, b"", "text/plain")
        with LOCK:
            body = json.dumps(SPANS).encode()
        self.answer(200, body, "application/json")

    def answer(self, status, body, content_type):
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    arguments = [a for a in sys.argv[1:] if a != "--discard"]
    port = int(arguments[0]) if arguments else 0
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
