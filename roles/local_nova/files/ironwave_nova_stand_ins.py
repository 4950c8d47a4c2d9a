# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Stand-ins for the only Glance and Neutron reads Nova makes when booting onto Ironic with
networks='none' (nothing of ironwave talks to them):

- Glance: one raw image (id, name from the command line) on /v2/images[/<id>] and /v2/schemas/*.
- Neutron: every GET /v2.0/<collection> is an empty list (Nova asks for ports and networks).

Usage: ironwave_nova_stand_ins.py GLANCE_PORT NEUTRON_PORT IMAGE_ID IMAGE_NAME
(GLANCE_PORT 0: no Glance stand-in, the real Glance runs.)
"""
from __future__ import annotations

import json
import re
import socketserver
import sys
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

NOW = "2026-01-01T00:00:00Z"
SCHEMA = {"name": "image", "properties": {
    "id": {"type": "string"}, "name": {"type": ["null", "string"]},
    "status": {"type": "string"}, "tags": {"type": "array"}, "locations": {"type": "array"}},
    "additionalProperties": {"type": "string"},
    "links": [{"rel": "self", "href": "{self}"}]}


def image(image_id: str, name: str) -> dict:
    return {
        "id": image_id, "name": name, "status": "active", "visibility": "public",
        "protected": False, "os_hidden": False, "tags": [],
        "disk_format": "raw", "container_format": "bare",
        "size": 1048576, "virtual_size": 1048576, "min_disk": 0, "min_ram": 0,
        "checksum": "d41d8cd98f00b204e9800998ecf8427e", "os_hash_algo": "sha512",
        "os_hash_value": "0" * 128, "owner": "admin", "created_at": NOW, "updated_at": NOW,
        "file": f"/v2/images/{image_id}/file", "self": f"/v2/images/{image_id}",
        "schema": "/v2/schemas/image", "img_type": "whole-disk",
    }


def reply(start, status: str, body: dict) -> list[bytes]:
    data = json.dumps(body).encode()
    start(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def glance_app(images: dict, port: int):
    def app(env, start):
        path = env["PATH_INFO"].rstrip("/")
        method = env["REQUEST_METHOD"]
        if path in ("", "/versions"):
            return reply(start, "200 OK", {"versions": [{
                "id": "v2.16", "status": "CURRENT",
                "links": [{"rel": "self", "href": f"http://127.0.0.1:{port}/v2/"}]}]})
        if path == "/v2/schemas/image":
            return reply(start, "200 OK", SCHEMA)
        if path == "/v2/schemas/images":
            return reply(start, "200 OK", {"name": "images", "properties": {
                "images": {"type": "array", "items": SCHEMA}}, "links": []})
        if path == "/v2/images" and method == "GET":
            return reply(start, "200 OK", {"images": list(images.values()), "first": "/v2/images",
                                           "schema": "/v2/schemas/images"})
        found = re.match(r"^/v2/images/([^/]+)$", path)
        if found and method in ("GET", "HEAD") and found.group(1) in images:
            return reply(start, "200 OK", images[found.group(1)])
        return reply(start, "404 Not Found", {"message": f"not found {path}"})
    return app


def neutron_app(port: int):
    def app(env, start):
        path = env["PATH_INFO"].rstrip("/")
        if path == "":
            return reply(start, "200 OK", {"versions": [{
                "id": "v2.0", "status": "CURRENT",
                "links": [{"rel": "self", "href": f"http://127.0.0.1:{port}/v2.0/"}]}]})
        found = re.match(r"^/v2\.0/([a-z_-]+?)(\.json)?$", path)
        if found and env["REQUEST_METHOD"] == "GET":
            return reply(start, "200 OK", {found.group(1).replace("-", "_"): []})
        return reply(start, "404 Not Found", {"NeutronError": {
            "type": "NotFound", "message": f"not found {path}", "detail": ""}})
    return app


class ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class LogHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        sys.stderr.write(f"{self.server.server_port} {format % args}\n")


def serve(app, port: int) -> None:
    make_server("127.0.0.1", port, app, server_class=ThreadingServer,
                handler_class=LogHandler).serve_forever()


def main(argv: list[str]) -> None:
    glance_port, neutron_port, image_id, image_name = int(argv[0]), int(argv[1]), argv[2], argv[3]
    images = {image_id: image(image_id, image_name)}
    if glance_port:
        threading.Thread(target=serve, args=(glance_app(images, glance_port), glance_port), daemon=True).start()
    serve(neutron_app(neutron_port), neutron_port)


if __name__ == "__main__":
    main(sys.argv[1:])
