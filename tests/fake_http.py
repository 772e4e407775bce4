"""A local HTTP server for the tests of served models (``backend: openai``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JSONHandler(BaseHTTPRequestHandler):
    """A request handler with a JSON reply helper and no request logging; subclasses record
    the requests they see in ``seen`` (emptied by :func:`serving`)."""

    seen: list = []

    def send_json(self, payload: dict, code: int = 200) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return None


@contextmanager
def serving(handler: type[JSONHandler]) -> Iterator[str]:
    """Serve ``handler`` on a free local port; yields the OpenAI-style base URL (``.../v1``)."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    handler.seen = []
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    finally:
        srv.shutdown()
        srv.server_close()
