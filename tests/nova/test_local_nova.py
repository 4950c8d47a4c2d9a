# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The local_nova role against the real services: idempotence, a server booted through Nova onto
an Ironic node, two nova-compute services sharing the nodes, refused bad input, and a stop that
leaves no recorded PID alive and no port listening. One stack for the whole session."""
from __future__ import annotations

import socket
import time

import pytest

from ironwave_testlib.processes import pid_alive

NODES = 6


def listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def nodes(local_nova):
    enrolled = local_nova.enroll_nodes(NODES)
    yield enrolled
    if any(pid_alive(pid) for pid in local_nova.pids().values()):
        for server in local_nova.conn.compute.servers():
            local_nova.conn.compute.delete_server(server)
        for server in local_nova.conn.compute.servers():
            local_nova.conn.compute.wait_for_delete(server, wait=120)
        local_nova.remove_nodes(enrolled)


def test_every_service_runs_and_second_run_changes_nothing(local_nova):
    before = local_nova.pids()
    expected = {"keystone", "glance", "nova-api", "nova-conductor", "nova-scheduler", "placement", "stand-ins", "mariadb",
                "rabbitmq", "epmd", "ironic"} | {f"nova-compute-{host}" for host in local_nova.computes}
    assert set(before) == expected
    assert all(pid_alive(pid) for pid in before.values()), before
    result = local_nova.start()
    assert result.changed == 0, result.output
    assert local_nova.pids() == before


def test_a_config_change_restarts_exactly_the_processes_reading_it(local_nova):
    before = local_nova.pids()
    changed = local_nova.start(local_nova_placement_extra_config={"DEFAULT": {"debug": True}})
    after = local_nova.pids()
    restored = local_nova.start()
    final = local_nova.pids()
    assert {name for name in before if after.get(name) != before[name]} == {"placement"}, changed.output
    assert {name for name in after if final.get(name) != after[name]} == {"placement"}, restored.output
    assert "debug = true" not in (local_nova.state_dir / "etc" / "placement.conf").read_text()


def test_two_computes_are_up_and_share_the_nodes(local_nova, nodes):
    compute = local_nova.conn.compute
    services = {s.host: s.state for s in compute.services() if s.binary == "nova-compute"}
    assert services == {host: "up" for host in local_nova.computes}
    node_ids = {node.id for node in nodes}
    deadline = time.monotonic() + 60
    while True:
        owners = {h.name: h.service_details["host"] for h in compute.hypervisors(details=True)
                  if h.name in node_ids}
        if set(owners) == node_ids or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert set(owners) == node_ids, owners
    # The ironic driver's hash ring gives each compute its share (the node UUIDs are fixed).
    assert set(owners.values()) == set(local_nova.computes), owners


def test_server_goes_active_on_an_ironic_node(local_nova, nodes):
    conn = local_nova.conn
    image = conn.image.get_image(local_nova.image_id)  # the real Glance, through Keystone's catalog
    assert (image.status, image.size, image.disk_format) == ("active", 1048576, "raw")
    flavor = local_nova.bare_metal_flavor()
    # Placement may offer nothing for a while after earlier files' runs (CI: the boot ended in
    # "No valid host" with the nodes free in Ironic): boot once it offers a node.
    deadline = time.monotonic() + 180
    while not local_nova.offered() and time.monotonic() < deadline:
        time.sleep(2)
    # Earlier test files may leave free nodes of their own: the server may land on any free node.
    free = {n.id for n in conn.baremetal.nodes(details=True)
            if n.provision_state == "available" and not n.instance_id and not n.is_maintenance}
    assert {n.id for n in nodes} <= free
    started = time.monotonic()
    server = conn.compute.create_server(name="nova-test-boot", flavor_id=flavor.id,
                                        image_id=local_nova.image_id, networks="none")
    server = conn.compute.wait_for_server(server, status="ACTIVE", wait=180)
    took = time.monotonic() - started
    node = conn.baremetal.get_node(server.hypervisor_hostname)
    assert node.id in free
    assert node.instance_id == server.id
    assert node.provision_state == "active"
    assert server.compute_host in local_nova.computes
    print(f"server ACTIVE after {took:.1f} s on {node.id} via {server.compute_host}")
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=120)


@pytest.mark.parametrize(("overrides", "named"), [
    ({"local_nova_computes": []}, "local_nova_computes"),
    ({"local_nova_extra_config": {"DEFAULT": "debug"}}, "local_nova_extra_config"),
])
def test_bad_input_is_refused_and_changes_nothing(local_nova, overrides, named):
    before = local_nova.pids()
    conf = (local_nova.state_dir / "etc" / "nova.conf").read_text()
    result = local_nova.playbook("started", **overrides)
    assert result.rc != 0
    assert named in result.stdout, result.output
    assert result.changed == 0, result.output
    assert local_nova.pids() == before
    assert (local_nova.state_dir / "etc" / "nova.conf").read_text() == conf


@pytest.mark.stops_local_nova
def test_stopped_leaves_no_recorded_pid_and_no_port(local_nova):
    """Runs last (conftest moves it): it stops the session stack; the fixture's own stop then has
    nothing to do."""
    pids = local_nova.pids()
    assert pids
    result = local_nova.stop()
    assert result.rc == 0, result.output
    alive = {name: pid for name, pid in pids.items() if pid_alive(pid)}
    assert not alive, alive  # epmd ignores SIGTERM and must be gone too
    busy = {name: port for name, port in local_nova.ports.items() if listening(port)}
    assert not busy, busy
    assert local_nova.pids() == {}
    again = local_nova.stop()
    assert again.rc == 0 and again.changed == 0, again.output
