# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""A tiny threaded HTTP forwarder to put in front of the local Ironic, to play a load balancer
that fails in chosen ways: `FaultProxy(upstream, fault)` where fault(method, path, n) returns
None (forward), "after" (forward, then answer 504 instead of Ironic's answer - the request took
effect but the client cannot know), "before" (answer 504 without forwarding), "drop" (close the
connection without an answer and without forwarding - a keep-alive race) or "drop-after" (forward,
then close without an answer). `n` counts the
requests that matched method+path so far (0-based). Every request is recorded in `.seen`."""
from __future__ import annotations

import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "accept-encoding"}


class FaultProxy:
    def __init__(self, upstream: str, fault: Callable[[str, str, int], str | None] | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.fault = fault or (lambda method, path, n: None)
        self.seen: list[tuple[str, str, int]] = []   # (method, path, status answered)
        self._counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with proxy._lock:
                    key = (self.command, self.path.split("?")[0])
                    n = proxy._counts.get(key, 0)
                    proxy._counts[key] = n + 1
                action = proxy.fault(self.command, self.path, n)
                if action in ("drop", "drop-after"):
                    if action == "drop-after":
                        proxy._forward(self.command, self.path, self.headers, body)
                    proxy.seen.append((self.command, self.path, 0))
                    self.close_connection = True   # nothing sent: "Remote end closed connection"
                    return
                status, headers, data = 504, {}, b'{"error_message": "Gateway Timeout (test proxy)"}'
                if action != "before":
                    up_status, up_headers, up_data = proxy._forward(self.command, self.path, self.headers, body)
                    if action != "after":
                        status, headers, data = up_status, up_headers, up_data
                proxy.seen.append((self.command, self.path, status))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "Content-Type" not in headers:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _forward(self, method: str, path: str, headers, body: bytes | None) -> tuple[int, dict, bytes]:
        fwd = {k: v for k, v in headers.items() if k.lower() not in HOP_HEADERS}
        request = urllib.request.Request(self.upstream + path, data=body, method=method, headers=fwd)
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:
                return resp.status, {k: v for k, v in resp.headers.items() if k.lower() not in HOP_HEADERS}, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, {k: v for k, v in err.headers.items() if k.lower() not in HOP_HEADERS}, err.read()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FaultProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
