"""A recording HTTP proxy for OpenAI-compatible chat requests (standard library only).

It listens on 127.0.0.1, forwards every request unchanged to an upstream server (llama-cpp-python's
OpenAI-compatible server in the replication run) and appends one JSON line per request to a log:
``{"i", "path", "request", "status", "response", "seconds"}`` with the request and reply bodies
as JSON, in call order. Requests are forwarded one at a time (a lock around forward and log),
so the log order is the call order.

The original code hard-codes ``http://localhost:8000/v1`` as its server, so the proxy usually
listens on 127.0.0.1:8000 and the model server on another port.

Usage: ``python record_proxy.py --port 8000 --upstream http://127.0.0.1:8011 --log calls.jsonl``
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def make_handler(upstream: str, log_path: Path) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()
    counter = {"i": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self, method: str) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else None
            req = urllib.request.Request(upstream.rstrip("/") + self.path, data=body,
                                         method=method)
            for key in ("Content-Type", "Authorization", "Accept"):
                if self.headers.get(key):
                    req.add_header(key, self.headers[key])
            with lock:
                self._send(method, req, body)

        def _send(self, method: str, req: urllib.request.Request, body: bytes | None) -> None:
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(req, timeout=3600) as resp:
                    status, payload = resp.status, resp.read()
                    ctype = resp.headers.get("Content-Type", "application/json")
            except urllib.error.HTTPError as exc:
                status, payload = exc.code, exc.read()
                ctype = exc.headers.get("Content-Type", "application/json")
            seconds = time.perf_counter() - t0
            if method == "POST":
                record = {"i": counter["i"], "path": self.path, "request": _json_or_text(body),
                          "status": status, "response": _json_or_text(payload),
                          "seconds": round(seconds, 3)}
                counter["i"] += 1
                with open(log_path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            self._forward("POST")

        def do_GET(self) -> None:  # noqa: N802
            self._forward("GET")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    return Handler


def _json_or_text(data: bytes | None) -> object:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", errors="replace")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:8011")
    ap.add_argument("--log", required=True, type=Path, help="JSONL file appended to")
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.upstream, args.log))
    server.serve_forever()


if __name__ == "__main__":
    main()
