# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The `ironwave.baremetal.ironic` inventory plugin against a real local Ironic of its own.

One Ironic ("inventory", port 26485, conductor group rack1, pages of 3 nodes) with four fake-hardware nodes:
two available (one with a trait and a BMC password, one in maintenance), one manageable in a
shard and of another resource class, one left in enroll without a name (host = its UUID).
`ansible-inventory --list/--graph` and one `ansible-playbook` run read them through the plugin:
groups, host variables, masking, compose/keyed_groups/groups, filters, cache, one bulk listing.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from ironwave_testlib.nodes import make_available
from ironwave_testlib.paths import BIN, REPO
from ironwave_testlib.playbook import run_playbook

PORT = 26485
GROUP = "rack1"
PAGE = 3
BMC_PASSWORD = "Inv-Bmc-Pa55-71c3"
TOKEN = "inv-t0ken-9d2e"


@pytest.fixture(scope="module")
def ironic(local_ironic_factory):
    # max_limit 3: four nodes take two pages, so the listing must follow `next`.
    inst = local_ironic_factory("inventory", port=PORT, conductor_group=GROUP,
                                extra_config={"api": {"max_limit": PAGE}})
    conn = inst.conn
    for node in conn.baremetal.nodes(details=True):   # a kept state dir from an earlier run
        if node.name and node.name.startswith("inv-") or node.resource_class == "inv-other":
            conn.baremetal.set_node_maintenance(node, reason="cleanup")
            conn.baremetal.delete_node(node)
    make_available(conn, ["inv-avail-1", "inv-avail-2"], node_fields=lambda i: {
        "conductor_group": GROUP, "resource_class": "baremetal",
        "driver_info": {"redfish_password": BMC_PASSWORD, "redfish_username": "admin",
                        "deploy_kernel": "http://img/kernel"},
        "instance_info": {"image_source": "http://img/os.qcow2", "image_token": TOKEN}})
    make_available(conn, ["inv-manage"], node_fields=lambda i: {"conductor_group": GROUP, "resource_class": "gpu"})
    manage = conn.baremetal.get_node("inv-manage")
    conn.baremetal.set_node_provision_state(manage, "manage", wait=True, timeout=120)
    conn.baremetal.update_node(manage, shard="s1")
    avail1 = conn.baremetal.get_node("inv-avail-1")
    conn.baremetal.set_node_traits(avail1, ["CUSTOM_GPU", "HW_CPU_X86_VMX"])
    conn.baremetal.set_node_maintenance(conn.baremetal.get_node("inv-avail-2"), reason="inventory test")
    enroll = conn.baremetal.create_node(driver="fake-hardware", conductor_group=GROUP, resource_class="inv-other")
    inst.enroll_uuid = enroll.id
    return inst


def _write(path: Path, **config) -> Path:
    path.write_text(yaml.safe_dump({"plugin": "ironwave.baremetal.ironic", **config}))
    return path


def _inventory(ironic, source: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "ansible-inventory"), "-i", str(source), *args], cwd=REPO,
                          env={**ironic.env, **(env or {})}, capture_output=True, text=True, check=False,
                          timeout=300)


def _plain(value):
    """ansible-inventory's JSON marks values from the cloud as not-a-template
    ({"__ansible_unsafe": "..."}, the legacy inventory format): unwrap them."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _list(ironic, source: Path, env: dict | None = None) -> dict:
    proc = _inventory(ironic, source, "--list", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Unable to parse" not in proc.stderr, proc.stderr
    raw = json.loads(proc.stdout)
    assert raw["_meta"]["hostvars"]["inv-avail-1"]["ironic_name"] == {"__ansible_unsafe": "inv-avail-1"}, \
        "node data is never templated"
    return _plain(raw)


def _hosts(data: dict, group: str) -> set[str]:
    return set(data.get(group, {}).get("hosts", []))


@pytest.fixture(scope="module")
def full(ironic, tmp_path_factory) -> tuple[dict, list]:
    """The listing of a plain inventory file with compose, keyed_groups and groups, and the
    requests Ironic logged while it was made."""
    path = _write(tmp_path_factory.mktemp("inv") / "ironic.yml", cloud=ironic.cloud,
                  compose={"bm_state_upper": "ironic_provision_state | upper"},
                  keyed_groups=[{"key": "ironic_power_state", "prefix": "power"}],
                  groups={"deployable": "ironic_provision_state == 'available' and not ironic_maintenance"})
    cursor = ironic.log_cursor()
    data = _list(ironic, path)
    return data, cursor.requests()


def test_hosts_and_groups(ironic, full):
    data, _unused = full
    uuid = ironic.enroll_uuid
    assert _hosts(data, "ironic_state_available") == {"inv-avail-1", "inv-avail-2"}
    assert _hosts(data, "ironic_state_manageable") == {"inv-manage"}
    assert _hosts(data, "ironic_state_enroll") == {uuid}, "a node without a name is its UUID"
    assert _hosts(data, "ironic_rc_baremetal") == {"inv-avail-1", "inv-avail-2"}
    assert _hosts(data, "ironic_rc_gpu") == {"inv-manage"}
    assert _hosts(data, "ironic_rc_inv_other") == {uuid}, "group names are sanitised"
    assert _hosts(data, f"ironic_group_{GROUP}") == {"inv-avail-1", "inv-avail-2", "inv-manage", uuid}
    assert _hosts(data, "ironic_shard_s1") == {"inv-manage"}
    assert _hosts(data, "ironic_trait_custom_gpu") == {"inv-avail-1"}
    assert _hosts(data, "ironic_trait_hw_cpu_x86_vmx") == {"inv-avail-1"}
    assert _hosts(data, "ironic_maintenance") == {"inv-avail-2"}


def test_host_vars_and_masking(ironic, full):
    data, _unused = full
    hostvars = data["_meta"]["hostvars"]
    one = hostvars["inv-avail-1"]
    node = ironic.conn.baremetal.get_node("inv-avail-1")
    assert one["ironic_uuid"] == node.id
    assert one["ironic_name"] == "inv-avail-1"
    assert one["ironic_provision_state"] == "available"
    assert one["ironic_power_state"] == "power off"
    assert one["ironic_resource_class"] == "baremetal"
    assert one["ironic_conductor_group"] == GROUP
    assert one["ironic_driver"] == "fake-hardware"
    assert one["ironic_maintenance"] is False
    assert one["ironic_instance_uuid"] is None
    assert sorted(one["ironic_traits"]) == ["CUSTOM_GPU", "HW_CPU_X86_VMX"]
    assert one["ironic_driver_info"]["redfish_password"] == "********"
    assert one["ironic_driver_info"]["redfish_username"] == "admin"
    assert one["ironic_driver_info"]["deploy_kernel"] == "http://img/kernel", "known safe keys stay readable"
    assert one["ironic_instance_info"]["image_token"] == "********"
    assert one["ironic_instance_info"]["image_source"] == "http://img/os.qcow2"
    assert hostvars["inv-manage"]["ironic_shard"] == "s1"
    assert hostvars["inv-avail-2"]["ironic_maintenance_reason"] == "inventory test"
    assert BMC_PASSWORD not in json.dumps(data) and TOKEN not in json.dumps(data)


def test_constructed_features(ironic, full):
    data, _unused = full
    assert data["_meta"]["hostvars"]["inv-manage"]["bm_state_upper"] == "MANAGEABLE"
    assert _hosts(data, "deployable") == {"inv-avail-1"}
    assert {"inv-avail-1", "inv-avail-2"} <= _hosts(data, "power_power_off")


def test_one_bulk_listing(ironic, full):
    _unused, requests = full
    gets = [r for r in requests if r.method == "GET" and r.path.startswith("/v1/nodes")]
    assert gets and all(r.path.split("?")[0] == "/v1/nodes/detail" for r in gets), gets
    assert len(gets) == 2, "four nodes, pages of three: one bulk listing, both pages, no per-node GET"
    assert all(r.method == "GET" for r in requests), requests


def test_graph(ironic, full, tmp_path):
    path = _write(tmp_path / "ironic.yaml", cloud=ironic.cloud)
    proc = _inventory(ironic, path, "--graph")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    start = lines.index("  |--@ironic_state_available:")
    members = lines[start + 1:start + 3]
    assert sorted(line.split("|--")[-1] for line in members) == ["inv-avail-1", "inv-avail-2"], proc.stdout
    assert "  |--@ironic_maintenance:" in lines


def test_filters_and_default_cloud_from_os_cloud(ironic, tmp_path):
    """No `cloud` in the file: OS_CLOUD (set in the environment) names it, as for the modules."""
    path = _write(tmp_path / "gpu.ironic.yml", resource_class=["baremetal", "gpu"],
                  provision_states=["available", "manageable"], filter="maintenance == `false`")
    data = _list(ironic, path)
    assert set(data["_meta"]["hostvars"]) == {"inv-avail-1", "inv-manage"}
    path = _write(tmp_path / "trait.ironic.yml", filter="contains(traits, 'CUSTOM_GPU')")
    assert set(_list(ironic, path)["_meta"]["hostvars"]) == {"inv-avail-1"}


def test_bad_filter_names_the_option(ironic, tmp_path):
    path = _write(tmp_path / "bad.ironic.yml", filter="traits[?")
    proc = _inventory(ironic, path, "--list")
    assert "filter:" in proc.stderr and "not a valid JMESPath" in proc.stderr, proc.stderr


def test_other_file_names_are_not_ours(ironic, tmp_path):
    path = _write(tmp_path / "nodes.yml", cloud=ironic.cloud)
    proc = _inventory(ironic, path, "--list", "-vvv", env={"ANSIBLE_INVENTORY_ENABLED": "ironwave.baremetal.ironic"})
    assert "inv-avail-1" not in proc.stdout
    assert "did not pass its verify_file() method" in proc.stdout + proc.stderr, proc.stdout


def test_cache_holds_no_secret(ironic, tmp_path):
    cache = tmp_path / "cache"
    path = _write(tmp_path / "cached.ironic.yml", cloud=ironic.cloud, cache=True,
                  cache_plugin="ansible.builtin.jsonfile", cache_connection=str(cache))
    first = _list(ironic, path)
    files = [p for p in cache.iterdir() if p.is_file()]
    assert files, "the listing was cached"
    text = "".join(p.read_text() for p in files)
    assert "inv-avail-1" in text and BMC_PASSWORD not in text and TOKEN not in text
    cursor = ironic.log_cursor()
    assert _list(ironic, path)["_meta"]["hostvars"] == first["_meta"]["hostvars"]
    assert not [r for r in cursor.requests() if r.path.startswith("/v1/nodes")], "served from the cache"


def test_compute_hosts_without_nova_warns(ironic, tmp_path):
    path = _write(tmp_path / "cmp.ironic.yml", cloud=ironic.cloud, compute_hosts=True)
    proc = _inventory(ironic, path, "--list")
    assert proc.returncode == 0, proc.stderr
    assert "compute_hosts" in proc.stderr and "not reachable" in proc.stderr, proc.stderr
    data = _plain(json.loads(proc.stdout))
    assert _hosts(data, "ironic_state_available") == {"inv-avail-1", "inv-avail-2"}
    assert not [g for g in data if g.startswith("ironic_compute_")]


def test_playbook_targets_a_group(ironic, tmp_path):
    inventory = _write(tmp_path / "ironic.yml", cloud=ironic.cloud)
    playbook = tmp_path / "ping.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "ironic_state_available", "gather_facts": False, "connection": "local",
        "tasks": [{"ansible.builtin.debug": {"msg": "{{ inventory_hostname }} is {{ ironic_provision_state }}"}}]}]))
    result = run_playbook(playbook, {}, ironic.env, "-i", str(inventory))
    assert result.rc == 0, result.output
    assert set(result.recap) == {"inv-avail-1", "inv-avail-2"}, result.output
    assert "inv-avail-2 is available" in result.stdout
