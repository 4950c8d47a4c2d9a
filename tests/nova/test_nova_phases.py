# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""nova_server's `phases` on the real local Nova stack: two servers built through
playbooks/nova_deploy.yml, their phases read back from the wave_report callback's JSON report (the
path the operator's timeline takes) and checked against what Nova and Ironic hold afterwards."""
from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import yaml

from ironwave_testlib.nova_fleet import NovaFleet
from ironwave_testlib.paths import REPO
from ironwave_testlib.playbook import run_playbook

PLAYBOOK = REPO / "playbooks" / "nova_deploy.yml"
HYPERVISOR = "OS-EXT-SRV-ATTR:hypervisor_hostname"
PREFIX = "ph-"
NAMES = [f"{PREFIX}{i}" for i in range(2)]
NOVA_PHASES = {"scheduling", "networking", "block_device_mapping", "spawning", "active", "error"}


def _epoch(text: str) -> float:
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)).timestamp()


@pytest.fixture(scope="module")
def built(local_nova, tmp_path_factory):
    nova = NovaFleet(local_nova)
    nova.delete_servers(PREFIX)          # a clean start when the stack is kept between sessions
    nova.ensure_free_nodes(len(NAMES))
    tmp = tmp_path_factory.mktemp("nova-phases")
    inv = tmp / "inventory.yml"
    inv.write_text(yaml.safe_dump({"servers": {"hosts": {n: {} for n in NAMES}, "vars": {
        "nova_deploy_cloud": nova.cloud, "nova_deploy_flavor": nova.flavor, "nova_deploy_image": nova.image,
        "nova_deploy_poll_interval": 1.0}}}))
    env = {**nova.env, "IRONWAVE_WAVE_REPORT_PATH": str(tmp / "report.json"),
           "IRONWAVE_WAVE_SVG_PATH": str(tmp / "timeline.svg"), "IRONWAVE_WAVE_HTML_PATH": str(tmp / "report.html")}
    started = time.time()
    result = run_playbook(PLAYBOOK, {"deploy_limit": 2}, env, "-i", str(inv), "--forks", "4")
    ended = time.time()
    assert result.rc == 0, result.output
    servers = {s["name"]: s for s in nova.compute("GET", "/servers/detail")["servers"] if s["name"] in NAMES}
    nodes = {s[HYPERVISOR]: local_nova.conn.baremetal.get(f"/nodes/{s[HYPERVISOR]}").json() for s in servers.values()}
    play = json.loads((tmp / "report.json").read_text())["plays"][-1]
    hosts = {h["name"]: h for h in play["hosts"]}
    yield {"servers": servers, "nodes": nodes, "hosts": hosts, "started": started, "ended": ended}
    nova.delete_servers(PREFIX)


def test_each_server_reports_its_phases_in_time_order_within_the_run(built):
    assert sorted(built["servers"]) == NAMES and {s["status"] for s in built["servers"].values()} == {"ACTIVE"}
    for name in NAMES:
        phases = built["hosts"][name]["phases"]
        names = [p["phase"] for p in phases]
        times = [p["at"] for p in phases]
        assert names[:2] == ["reserved", "requested"] and names[-1] == "active", phases
        assert times == sorted(times), phases
        assert built["started"] <= times[0] and times[-1] <= built["ended"], (built["started"], phases)
        assert len(names) == len(set(names)), phases          # one build: no state twice
        assert {p["source"] for p in phases} <= {"module", "nova", "ironic"}
        assert all(p["phase"] in NOVA_PHASES for p in phases if p["source"] == "nova"), phases


def test_the_node_states_are_ironics_own_and_the_row_names_the_node(built):
    for name in NAMES:
        host, server = built["hosts"][name], built["servers"][name]
        node = built["nodes"][server[HYPERVISOR]]
        assert host["node"]["uuid"] == node["uuid"] and node["instance_uuid"] == server["id"]   # the row's node
        ironic = {p["phase"]: p for p in host["phases"] if p["source"] == "ironic"}
        assert {"deploying", "active"} & set(ironic), host["phases"]
        # A state both services report is kept once, from whichever listing showed it first: `active`
        # is Nova's when its listing showed ACTIVE before Ironic's showed the node active (CI).
        active = next(p for p in host["phases"] if p["phase"] == "active")
        assert active["source"] in ("ironic", "nova"), host["phases"]
        if active["source"] == "ironic":
            # The node's last state change is its deploy's end: the phase carries Ironic's own time.
            assert active["at"] == pytest.approx(_epoch(node["provision_updated_at"]), abs=1e-3), (
                host["phases"], node["provision_updated_at"])
        else:   # Nova's time of it (its `updated` then; Nova may write the instance again later)
            assert built["started"] <= active["at"] <= built["ended"], host["phases"]
        # Nothing Nova or Ironic did for the build is dated before the module asked for it.
        requested = next(p["at"] for p in host["phases"] if p["phase"] == "requested")
        assert all(p["at"] >= requested for p in host["phases"] if p["phase"] != "reserved"), host["phases"]
