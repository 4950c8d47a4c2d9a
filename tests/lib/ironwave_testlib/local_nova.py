# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""A real local Nova + Placement (+ the Ironic it drives) started and stopped through
playbooks/local_nova.yml (roles local_ironic and local_nova).

`LocalNova`: cloud name, env (OS_CLIENT_CONFIG_FILE) for ansible/openstacksdk, an openstacksdk
connection, log paths, recorded PIDs, the Ironic instance, and `enroll_nodes()` which makes N
fake-hardware nodes schedulable and waits until Placement offers them.
Venvs are shared: $IRONWAVE_NOVA_VENV (default <repo>/.state/nova-venv) and the Ironic venv of
ironwave_testlib.local_ironic.
"""
from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ironwave_testlib.local_ironic import IRONIC_VENV, LocalIronic, _install_lock
from ironwave_testlib.paths import PLAYBOOKS, REPO
from ironwave_testlib.playbook import PlaybookResult, base_env, run_playbook

PLAYBOOK = PLAYBOOKS / "local_nova.yml"
NOVA_VENV = Path(os.environ.get("IRONWAVE_NOVA_VENV") or REPO / ".state" / "nova-venv")
RESOURCE_CLASS = "baremetal"
# Fixed node UUIDs (the ironic driver's hash ring is deterministic): re-runs find the same nodes.
NODE_NAMESPACE = uuid.UUID("5b1f2a1e-8c55-4d8e-9a34-1c0ffee00001")


@dataclass
class LocalNova:
    """One Nova stack started through playbooks/local_nova.yml."""

    root: Path  # parent of the stack's state dirs (nova/, nova-ironic/) and of clouds.yaml
    ports: dict[str, int]
    computes: list[str]
    cloud: str = "ironwave-nova-test"
    role_vars: dict[str, Any] = field(default_factory=dict)
    _conn: Any = None

    @property
    def state_dir(self) -> Path:
        return self.root / "nova"

    @property
    def clouds_yaml(self) -> Path:
        return self.root / "clouds.yaml"

    @property
    def ironic(self) -> LocalIronic:
        return LocalIronic(name="nova-ironic", port=self.ports["ironic"], cloud=f"{self.cloud}-ironic",
                           state_dir=self.root / "nova-ironic", clouds_yaml=self.clouds_yaml)

    @property
    def env(self) -> dict[str, str]:
        env = base_env(self.clouds_yaml)
        env["OS_CLOUD"] = self.cloud
        return env

    def vars(self, **overrides: Any) -> dict[str, Any]:
        base: dict[str, Any] = dict(
            local_nova_state_dir=str(self.state_dir), local_nova_venv=str(NOVA_VENV),
            local_nova_clouds_yaml=str(self.clouds_yaml), local_nova_cloud_name=self.cloud,
            local_nova_computes=self.computes,
            local_nova_ironic_state_dir=str(self.root / "nova-ironic"),
            local_nova_ironic_port=self.ports["ironic"], local_nova_ironic_cloud_name=f"{self.cloud}-ironic",
            local_ironic_venv=str(IRONIC_VENV))
        base.update({f"local_nova_{name}_port": port for name, port in self.ports.items() if name != "ironic"})
        base.update(self.role_vars)
        base.update(overrides)
        return base

    def playbook(self, state: str = "started", **overrides: Any) -> PlaybookResult:
        return run_playbook(PLAYBOOK, self.vars(local_nova_state=state, **overrides), self.env)

    def start(self, **overrides: Any) -> PlaybookResult:
        with _install_lock():
            result = self.playbook("started", **overrides)
        assert result.rc == 0, result.output
        self._conn = None
        return result

    def stop(self) -> PlaybookResult:
        return self.playbook("stopped")

    # --- what the role recorded
    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    def pids(self) -> dict[str, int]:
        """name -> PID of every pidfile the role (and the Ironic role) wrote."""
        found = {}
        for pidfile in [*self.run_dir.glob("*.pid"), self.ironic.pidfile]:
            if pidfile.name in ("mysqld.pid", "rabbitmq-beam.pid"):
                continue  # written by mariadbd / RabbitMQ themselves
            try:
                found[pidfile.stem] = int(pidfile.read_text().strip())
            except (OSError, ValueError):
                pass
        return found

    def compute_log(self, host: str) -> Path:
        return self.log_dir / f"nova-compute-{host}.log"

    def log(self, name: str) -> Path:
        """nova-api, nova-conductor, nova-scheduler, placement, stand-ins, ..."""
        return self.log_dir / f"{name}.log"

    # --- API access
    @property
    def conn(self):
        if self._conn is None:
            import openstack

            assert os.environ.get("OS_CLIENT_CONFIG_FILE") == str(self.clouds_yaml)
            # connect_retries: nova-api here may reset a kept-alive connection the client reuses
            # (CI: "Connection reset by peer" on a GET while waiting for a server); keystoneauth
            # then sends again instead of failing the test.
            self._conn = openstack.connect(cloud=self.cloud, connect_retries=3)
        return self._conn

    def placement_get(self, path: str, version: str = "1.10") -> dict:
        """GET from Placement through the cloud's own auth (Keystone token, catalog)."""
        response = self.conn.placement.get(path, microversion=version)
        response.raise_for_status()
        return response.json()

    def offered(self) -> set[str]:
        """Resource providers Placement offers one CUSTOM_BAREMETAL from right now."""
        response = self.conn.placement.get("/allocation_candidates?resources=CUSTOM_BAREMETAL:1", microversion="1.10")
        if response.status_code == 400:
            return set()  # a fresh stack: no node has created the resource class yet
        response.raise_for_status()
        return set(response.json()["provider_summaries"])

    def enroll_nodes(self, count: int, prefix: str = "nova-test", timeout: float = 120) -> list[Any]:
        """`count` fake-hardware nodes (resource_class baremetal) available and powered off (the
        fake power interface reports no power state until one is set, and Nova reserves such
        nodes); returns when Placement offers every one of them."""
        bm = self.conn.baremetal
        nodes = []
        for index in range(count):
            node_id = str(uuid.uuid5(NODE_NAMESPACE, f"{prefix}-{index}"))
            node = bm.find_node(node_id)
            if node is None:
                node = bm.create_node(id=node_id, name=f"{prefix}-{index}", driver="fake-hardware",
                                      resource_class=RESOURCE_CLASS)
            if node.provision_state == "enroll":
                node = bm.set_node_provision_state(node, "manage", wait=True)
            if node.provision_state == "manageable":
                node = bm.set_node_provision_state(node, "provide", wait=True)
            if node.power_state is None:
                bm.set_node_power_state(node, "power off", wait=True)
            nodes.append(bm.get_node(node_id))
        wanted = {node.id for node in nodes if node.instance_id is None}
        deadline = time.monotonic() + timeout
        while not wanted <= self.offered():
            assert time.monotonic() < deadline, f"Placement does not offer {wanted - self.offered()}"
            time.sleep(1)
        return nodes

    def remove_nodes(self, nodes: list[Any]) -> None:
        for node in nodes:
            self.conn.baremetal.delete_node(node.id, ignore_missing=True)

    def bare_metal_flavor(self, name: str = "ironwave-bm") -> Any:
        """A flavor asking for one whole node: resources:CUSTOM_BAREMETAL=1, no VCPU/RAM/disk."""
        compute = self.conn.compute
        flavor = compute.find_flavor(name, ignore_missing=True)
        if flavor is None:
            flavor = compute.create_flavor(name=name, ram=1, vcpus=1, disk=0)
            compute.create_flavor_extra_specs(flavor, {
                "resources:CUSTOM_BAREMETAL": "1", "resources:VCPU": "0",
                "resources:MEMORY_MB": "0", "resources:DISK_GB": "0"})
        return flavor

    image_name: str = "ironwave-image"

    @property
    def image_id(self) -> str:
        """The image the role uploaded to Glance (local_nova_image_name), found through the catalog."""
        return self.conn.image.find_image(self.image_name, ignore_missing=False).id
