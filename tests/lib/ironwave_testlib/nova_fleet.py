# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""What the Nova-path tests need on top of a LocalNova stack: a flavor and image, free nodes on
demand, raw compute/Placement calls as the admin, nova-api's request log, a cross-check of the
whole cloud (the collection's own pure rules) and a clouds.yaml variant (e.g. compute behind a
fault proxy)."""
from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import yaml

from ansible_collections.ironwave.baremetal.plugins.module_utils import nova_crosscheck
from ironwave_testlib.ironic_log import LogCursor
from ironwave_testlib.playbook import base_env

COMPUTE_VERSION = "2.74"


class NovaFleet:
    def __init__(self, stack, flavor: str = "ironwave-test-bm") -> None:
        self.stack = stack
        self.cloud = stack.cloud
        self.env = stack.env
        self.ironic = stack.ironic
        self.flavor = flavor
        self.flavor_id = stack.bare_metal_flavor(flavor).id
        self.image_id = stack.image_id
        self.image = self.image_id
        self._batch = 0

    # -- raw API as the admin ---------------------------------------------------------------
    def compute(self, method: str, path: str, json: Any = None) -> Any:
        resp = self.stack.conn.compute.request(path, method, json=json, microversion=COMPUTE_VERSION,
                                               raise_exc=True)
        return resp.json() if resp.content else None

    def placement(self, method: str, path: str) -> Any:
        resp = self.stack.conn.placement.request(path, method, microversion="1.20", raise_exc=True)
        return resp.json() if resp.content else None

    @property
    def compute_endpoint(self) -> str:
        return self.stack.conn.compute.get_endpoint().rstrip("/")

    def api_log_cursor(self) -> LogCursor:
        return LogCursor(self.stack.log("nova-api"))

    # -- nodes ---------------------------------------------------------------------------------
    def free_nodes(self) -> int:
        offered = self.stack.offered()
        return sum(1 for n in self.stack.conn.baremetal.nodes(details=True)
                   if n.provision_state == "available" and not n.instance_id and not n.is_maintenance
                   and n.id in offered and not any(k.startswith("ironwave_pick_") for k in (n.extra or {})))

    def ensure_free_nodes(self, count: int) -> None:
        missing = count - self.free_nodes()
        if missing > 0:
            self._batch += 1
            self.stack.enroll_nodes(missing, prefix=f"fleet{self._batch}-{int(time.time())}")

    # -- servers -------------------------------------------------------------------------------
    def wait_server_active(self, server_id: str, timeout: float = 300) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            server = self.compute("GET", f"/servers/{server_id}")["server"]
            if server["status"] in ("ACTIVE", "ERROR") or time.monotonic() > deadline:
                assert server["status"] == "ACTIVE", server
                return server
            time.sleep(1)

    def delete_servers(self, prefix: str, timeout: float = 300) -> None:
        """Delete every server whose name starts with `prefix`; wait until Nova no longer lists them
        and their nodes are available again."""
        servers = [s for s in self.compute("GET", "/servers/detail")["servers"] if s["name"].startswith(prefix)]
        for s in servers:
            self.compute("DELETE", f"/servers/{s['id']}")
        deadline = time.monotonic() + timeout
        ids = {s["id"] for s in servers}
        while time.monotonic() < deadline:
            left = {s["id"] for s in self.compute("GET", "/servers/detail")["servers"]} & ids
            held = [n for n in self.stack.conn.baremetal.nodes(details=True) if n.instance_id in ids]
            if not left and not held:
                return
            time.sleep(1)
        raise AssertionError(f"servers {prefix}* not gone after {timeout} s")

    def crosscheck(self) -> dict:
        """Every server against Ironic and Placement, by the collection's own rules."""
        servers = self.compute("GET", "/servers/detail")["servers"]
        nodes = {n.id: {"uuid": n.id, "name": n.name, "provision_state": n.provision_state,
                        "instance_uuid": n.instance_id} for n in self.stack.conn.baremetal.nodes(details=True)}
        allocations = {s["id"]: self.placement("GET", f"/allocations/{s['id']}") for s in servers}
        rows, violations = nova_crosscheck.fleet(servers, nodes, allocations)
        return {"rows": rows, "violations": [v.message for v in violations]}

    # -- clouds.yaml variants -------------------------------------------------------------------
    def env_with(self, directory: Path, **entry: Any) -> dict[str, str]:
        """An env whose clouds.yaml has this cloud's entry with `entry` merged over it."""
        data = yaml.safe_load(self.stack.clouds_yaml.read_text())
        data = copy.deepcopy(data)
        data["clouds"][self.cloud].update(entry)
        path = Path(directory) / "clouds-variant.yaml"
        path.write_text(yaml.safe_dump(data))
        env = base_env(path)
        env["OS_CLOUD"] = self.cloud
        return env
