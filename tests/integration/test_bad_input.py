# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Bad input, as a table (issue 9, section 3): every row runs the module or playbook against the
real local Ironic and asserts that the error names the field and the fix, and that Ironic's own
log shows no POST/PUT/PATCH/DELETE from that run. docs/runbook.md ("Bad input") lists the same
rows; `test_runbook_lists_every_row` keeps the two in step.

Module rows use pytest-ansible's `ansible_module` fixture. Recipe (nothing on the command line):
- `@pytest.mark.ansible(inventory=<repo>/playbooks/inventory/localhost.yml, host_pattern="localhost",
  connection="local")` points the fixture at localhost; that inventory sets
  `ansible_python_interpreter: "{{ ansible_playbook_python }}"`, which in-process is the pytest
  interpreter, i.e. the repo's `.venv/bin/python` (no interpreter discovery, no pyenv shim).
- The collection resolves by FQCN: pytest-ansible reads galaxy.yml and puts the checkout on
  ANSIBLE_COLLECTIONS_PATH (a `collections/` symlink tree), the same code as `.build/collections`
  that ansible.cfg names for ansible-playbook.
- Call a module by its FQCN with getattr: `getattr(ansible_module, "ironwave.baremetal.fleet_enroll")
  (cloud=..., nodes=[...])["localhost"]` is the module result (a dict).
- The cloud: the session fixture exports OS_CLIENT_CONFIG_FILE; rows pass `cloud` explicitly.
Playbook rows (the wave strategy's settings) run ansible-playbook from the venv.
"""
from __future__ import annotations

import json
import os
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml

from ironwave_testlib.ironic_log import LogCursor
from ironwave_testlib.module_runner import ModuleRunner, module_env
from ironwave_testlib.paths import REPO
from ironwave_testlib.playbook import run_playbook

RUNBOOK = REPO / "docs" / "runbook.md"
LOCALHOST = pytest.mark.ansible(inventory=str(REPO / "playbooks" / "inventory" / "localhost.yml"),
                                host_pattern="localhost", connection="local")
PREFIX = "bi-"
OTHER_INSTANCE = "0b6f1f6e-0000-4000-8000-00000000b1b1"
MY_INSTANCE = "0b6f1f6e-0000-4000-8000-00000000a2a2"
WRONG_PASSWORD = "not-the-Passw0rd"


@dataclass(frozen=True)
class Row:
    id: str
    input: str                      # the bad input, as the runbook shows it
    needles: tuple[str, ...]        # the message must contain each (the field, the fix)
    module: str | None = None       # a module row ...
    args: dict[str, Any] = field(default_factory=dict)
    play_vars: dict[str, Any] | None = None   # ... or a wave strategy row (extra vars)
    xfail: str | None = None


def _fleet(*entries: dict) -> list[dict]:
    return [{"driver": "fake-hardware", **e} for e in entries]


ROWS = [
    # -- the cloud ------------------------------------------------------------------------------
    Row("unknown-cloud", "`cloud: no-such-cloud`", ("cloud: 'no-such-cloud'", "set cloud (or OS_CLOUD) to one of"),
        "fleet_info", {"cloud": "no-such-cloud"}),
    Row("wrong-password", "`auth.password` wrong (keystone answers 401)", ("401", "check the credentials"),
        "fleet_info", {"cloud": "@keystone"}),
    # -- fleet descriptions (fleet_enroll) -----------------------------------------------------
    Row("duplicate-name", "two nodes named alike",
        ("nodes[1] (bi-dup)", "duplicate name", "give each node its own name"),
        "fleet_enroll", {"nodes": _fleet({"name": "bi-dup"}, {"name": "bi-dup"})}),
    Row("duplicate-mac", "one MAC on two nodes", ("duplicate MAC 52:54:0b:00:00:01",
                                                  "a MAC address belongs to one node only"),
        "fleet_enroll", {"nodes": _fleet({"name": "bi-m1", "macs": ["52:54:0b:00:00:01"]},
                                         {"name": "bi-m2", "macs": ["52:54:0b:00:00:01"]})}),
    Row("bad-mac", "`macs: [52:54:zz:00:00:01]`", ("macs/ports", "write it as aa:bb:cc:dd:ee:ff"),
        "fleet_enroll", {"nodes": _fleet({"name": "bi-x", "macs": ["52:54:zz:00:00:01"]})}),
    Row("mac-of-another-node", "a MAC that Ironic has on another node",
        ("already belongs to node bi-node-0", "remove the port from the other node"),
        "fleet_enroll", {"nodes": _fleet({"name": "bi-thief", "macs": ["52:54:0b:ff:00:00"]})}),
    Row("unknown-node-field", "`colour: red` on a node", ("unknown field(s) colour", "allowed:"),
        "fleet_enroll", {"nodes": _fleet({"name": "bi-c", "colour": "red"})}),
    Row("generate-count", "`generate: {count: -1}`", ("generate.count", "non-negative integer"),
        "fleet_enroll", {"generate": {"count": -1}}),
    Row("enroll-poll-interval-0", "`poll_interval: 0`", ("poll_interval: must be more than 0",),
        "fleet_enroll", {"nodes": _fleet({"name": "bi-p"}), "poll_interval": 0}),
    Row("enroll-timeout-0", "`timeout: 0`", ("timeout: must be more than 0",),
        "fleet_enroll", {"nodes": _fleet({"name": "bi-t"}), "timeout": 0}),
    # -- reservation (node_reserve) -------------------------------------------------------------
    Row("reserve-unknown-node", "`node: no-such-node`", ("candidate_nodes=bi-no-such-node", "enroll more nodes"),
        "node_reserve", {"instance_name": "bi-i1", "node": "bi-no-such-node"}),
    Row("reserve-instance-uuid", "`instance_uuid: abc`", ("instance_uuid", "UUID"),
        "node_reserve", {"instance_name": "bi-i2", "instance_uuid": "abc", "resource_class": "bi-rc"}),
    Row("reserve-node-vs-instance", "`node: A` with the `instance_uuid` of an instance already on node B",
        ("bi-node-0", "bi-node-1"),
        "node_reserve", {"instance_name": "bi-i3", "instance_uuid": OTHER_INSTANCE, "node": "bi-node-0",
                         "mode": "instance_uuid"}),
    Row("reserve-traits", "`traits: [gpu]`", ("traits: 'gpu' is not a trait name", "CUSTOM_GPU"),
        "node_reserve", {"instance_name": "bi-i4", "resource_class": "bi-rc", "traits": ["gpu"]}),
    Row("reserve-batch-0", "`batch: 0`", ("batch: must be at least 1",),
        "node_reserve", {"instance_name": "bi-i5", "resource_class": "bi-rc", "batch": 0}),
    Row("reserve-max-attempts-0", "`max_attempts: 0`", ("max_attempts: must be at least 1",),
        "node_reserve", {"instance_name": "bi-i6", "resource_class": "bi-rc", "max_attempts": 0}),
    Row("reserve-timeout-0", "`timeout: 0`", ("timeout: must be more than 0",),
        "node_reserve", {"instance_name": "bi-i7", "resource_class": "bi-rc", "timeout": 0}),
    # -- deploy (node_deploy) -------------------------------------------------------------------
    Row("deploy-unknown-node", "`node: no-such-node`", ("'bi-no-such-node' not found", "check the name"),
        "node_deploy", {"node": "bi-no-such-node", "instance_uuid": MY_INSTANCE,
                        "instance_info": {"image_source": "http://127.0.0.1/x.img"}}),
    Row("deploy-conflicting-instance-uuid", "`instance_uuid` other than the node's",
        ("bi-node-1", OTHER_INSTANCE),
        "node_deploy", {"node": "bi-node-1", "instance_uuid": MY_INSTANCE,
                        "instance_info": {"image_source": "http://127.0.0.1/x.img"}}),
    Row("deploy-instance-info", "`instance_info: {image_source: 42}`", ("instance_info", "image_source"),
        "node_deploy", {"node": "@reserved", "instance_info": {"image_source": 42}}),
    Row("deploy-steps", "`deploy_steps: [{interface: deploy}]` (no step, no priority)", ("deploy_steps", "step"),
        "node_deploy", {"node": "@reserved",
                        "instance_info": {"image_source": "http://127.0.0.1/x.img"},
                        "deploy_steps": [{"interface": "deploy"}]}),
    Row("config-drive", "`config_drive: 42`", ("config_drive", "meta_data"),
        "node_deploy", {"node": "@reserved",
                        "instance_info": {"image_source": "http://127.0.0.1/x.img"}, "config_drive": 42}),
    Row("config-drive-keys", "`config_drive: {userdata: ...}` (misspelt key)", ("config_drive", "user_data"),
        "node_deploy", {"node": "@reserved",
                        "instance_info": {"image_source": "http://127.0.0.1/x.img"},
                        "config_drive": {"userdata": "#cloud-config"}}),
    Row("deploy-traits", "`traits: [lower_case]`", ("traits: 'lower_case' is not a trait name", "CUSTOM_"),
        "node_deploy", {"node": "@reserved",
                        "instance_info": {"image_source": "http://127.0.0.1/x.img"}, "traits": ["lower_case"]}),
    Row("deploy-poll-interval-0", "`poll_interval: 0` with `wait: true`", ("poll_interval: must be more than 0",),
        "node_deploy", {"node": "@reserved", "wait": True, "poll_interval": 0,
                        "instance_info": {"image_source": "http://127.0.0.1/x.img"}}),
    Row("deploy-busy-limit", "`busy_limit: -1`", ("busy_limit", "0"),
        "node_deploy", {"node": "@reserved", "busy_limit": -1,
                        "instance_info": {"image_source": "http://127.0.0.1/x.img"}}),
    # -- waiting and teardown (node_wait, node_undeploy, node_release) ---------------------------
    Row("wait-unknown-node", "`nodes: [bi-no-such-node]`", ("bi-no-such-node", "not found"),
        "node_wait", {"nodes": ["bi-no-such-node"], "timeout": 5, "poll_interval": 1}),
    Row("wait-poll-interval-0", "`poll_interval: 0`", ("poll_interval: must be more than 0",),
        "node_wait", {"nodes": ["bi-node-0"], "target": "active", "timeout": 5, "poll_interval": 0}),
    Row("undeploy-unknown-node", "`node: bi-no-such-node`", ("'bi-no-such-node' not found", "check the name"),
        "node_undeploy", {"node": "bi-no-such-node", "instance_uuid": MY_INSTANCE}),
    Row("undeploy-conflicting-instance-uuid", "`instance_uuid` other than the node's", ("bi-node-1", OTHER_INSTANCE),
        "node_undeploy", {"node": "bi-node-1", "instance_uuid": MY_INSTANCE}),
    Row("release-conflicting-instance-uuid", "`instance_uuid` other than the node's", ("bi-node-1", OTHER_INSTANCE),
        "node_release", {"node": "bi-node-1", "instance_uuid": MY_INSTANCE}),
    # -- the slot protocol (wave_slot): lease and poll settings that cannot work ------------------
    Row("slot-limit-0", "`limit: 0`", ("limit: must be an integer >= 1",),
        "wave_slot", {"node": "bi-slot-0", "limit": 0, "timeout": 5}),
    Row("slot-lease-ttl-5", "`lease_ttl: 5`", ("lease_ttl: must be between",),
        "wave_slot", {"node": "bi-slot-0", "limit": 2, "lease_ttl": 5, "timeout": 5}),
    Row("slot-poll-interval-120", "`poll_interval: 120`", ("poll_interval: must be between 0.05 and 60",),
        "wave_slot", {"node": "bi-slot-0", "limit": 2, "poll_interval": 120, "max_poll_interval": 120, "timeout": 5}),
    Row("slot-max-poll", "`poll_interval: 5, max_poll_interval: 1`", ("max_poll_interval: must be >= poll_interval",),
        "wave_slot", {"node": "bi-slot-0", "limit": 2, "poll_interval": 5, "max_poll_interval": 1, "timeout": 5}),
    # -- the wave strategy (play vars) ----------------------------------------------------------
    Row("wave-size-0", "`ironwave_wave_size: 0`", ("ironwave_wave_size: 0 hosts is not a size", "'20%'"),
        play_vars={"ironwave_wave_size": 0}),
    Row("wave-size-negative", "`ironwave_wave_size: -1`", ("ironwave_wave_size: -1 hosts is not a size", "'20%'"),
        play_vars={"ironwave_wave_size": -1}),
    Row("wave-size-abc", "`ironwave_wave_size: abc`", ("ironwave_wave_size: 'abc' is not a host count", "'20%'"),
        play_vars={"ironwave_wave_size": "abc"}),
    Row("wave-size-150pct", "`ironwave_wave_size: 150%`", ("ironwave_wave_size: percentage '150%' is out of range",
                                                           "0 < p <= 100"),
        play_vars={"ironwave_wave_size": "150%"}),
    Row("schedule-size-0", "`ironwave_wave_schedule: [1, 0]`", ("ironwave_wave_schedule[1]", "'20%'"),
        play_vars={"ironwave_wave_schedule": [1, 0]}),
    Row("budget-ge-wave", "`ironwave_wave_schedule: [2]`, `ironwave_wave_max_failures: 2`",
        ("ironwave_wave_max_failures", "2"), play_vars={"ironwave_wave_schedule": [2], "ironwave_wave_max_failures": 2}),
]


RESERVED_ROWS = [r for r in ROWS if r.args.get("node") == "@reserved"]


def _instance(row: Row) -> str:
    """The instance a `@reserved` row's own node is reserved for (instance_uuid set on it)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ironwave-bad-input/{row.id}"))


# -- fixtures: enrolled nodes; bi-node-1 held by another instance; one reserved node per deploy row --
@pytest.fixture(scope="module")
def cloud(local_ironic, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad-input")
    run = ModuleRunner(local_ironic.cloud, module_env(local_ironic.clouds_yaml, tmp / "cache"), tmp)
    names = ["bi-node-0", "bi-node-1", "bi-slot-0"] + [f"bi-deploy-{row.id}" for row in RESERVED_ROWS]
    result = run("fleet_enroll", nodes=[{"name": name, "driver": "fake-hardware", "resource_class": "bi-rc",
                                         "macs": [f"52:54:0b:ff:00:{i:02x}"]} for i, name in enumerate(names)])
    assert not result.get("failed"), result
    held = {"bi-node-1": OTHER_INSTANCE} | {f"bi-deploy-{row.id}": _instance(row) for row in RESERVED_ROWS}
    for name, instance in held.items():
        node = local_ironic.conn.baremetal.get_node(name)
        local_ironic.conn.baremetal.patch_node(node, [{"op": "add", "path": "/instance_uuid", "value": instance}])
    return local_ironic


class _Keystone(BaseHTTPRequestHandler):
    """Just enough identity v3 to refuse a password: discovery, then 401 on POST /v3/auth/tokens."""

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 - http.server's naming
        base = f"http://127.0.0.1:{self.server.server_address[1]}/v3/"
        self._send(200, {"version": {"id": "v3.14", "status": "stable", "links": [{"rel": "self", "href": base}],
                                     "media-types": [{"base": "application/json",
                                                      "type": "application/vnd.openstack.identity-v3+json"}]}})

    def do_POST(self):  # noqa: N802
        self._send(401, {"error": {"code": 401, "title": "Unauthorized",
                                   "message": "The request you have made requires authentication."}})

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture(scope="module")
def keystone():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Keystone)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v3"
    server.shutdown()


WAVE_PLAY = """
- name: A wave that must not start
  hosts: fleet
  gather_facts: false
  strategy: ironwave.baremetal.wave
  tasks:
    - name: Create a node (a mutating request, if the strategy let the host start)
      ironwave.baremetal.fleet_enroll:
        cloud: "{{ cloud }}"
        nodes: [{name: "bi-wave-{{ inventory_hostname }}", driver: fake-hardware}]
        target_state: manageable
        wait: false
"""


def _run_row(row: Row, cloud, keystone, ansible_module, tmp_path) -> str:
    """Run the row; return the failure message (the row must fail)."""
    if row.play_vars is not None:
        inv = {"fleet": {"hosts": {f"bi-w{i}": {} for i in range(4)},
                         "vars": {"ansible_connection": "local",
                                  "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}
        (tmp_path / "inv.yml").write_text(yaml.safe_dump(inv))
        (tmp_path / "wave.yml").write_text(WAVE_PLAY)
        result = run_playbook(tmp_path / "wave.yml", {"cloud": cloud.cloud, **row.play_vars}, cloud.env,
                              "-i", str(tmp_path / "inv.yml"))
        assert result.rc != 0, result.output
        return result.stdout + result.stderr
    args = {"cloud": cloud.cloud, **row.args}
    if args.get("node") == "@reserved":
        args.update(node=f"bi-deploy-{row.id}", instance_uuid=_instance(row))
    if args["cloud"] == "@keystone":
        args["cloud"] = {"auth_type": "password", "baremetal_endpoint_override": cloud.endpoint,
                         "auth": {"auth_url": keystone, "username": "operator", "password": WRONG_PASSWORD,
                                  "project_name": "fleet", "user_domain_name": "Default",
                                  "project_domain_name": "Default"}}
    result = getattr(ansible_module, f"ironwave.baremetal.{row.module}")(**args)["localhost"]
    if not result.get("failed") and row.module == "wave_slot":  # a slot taken by mistake: give it back
        getattr(ansible_module, "ironwave.baremetal.wave_slot")(cloud=cloud.cloud, node=args["node"], state="released")
    assert result.get("failed"), json.dumps(dict(result), default=str)
    assert WRONG_PASSWORD not in json.dumps(dict(result), default=str)
    return str(result.get("msg"))


@LOCALHOST
@pytest.mark.parametrize("row", [pytest.param(r, id=r.id, marks=[pytest.mark.xfail(reason=r.xfail, strict=True)]
                                              if r.xfail else []) for r in ROWS])
def test_bad_input_names_field_and_fix_and_changes_nothing(row, cloud, keystone, ansible_module, tmp_path):
    cursor = LogCursor(cloud.log_file)
    message = _run_row(row, cloud, keystone, ansible_module, tmp_path)
    if os.environ.get("IRONWAVE_BAD_INPUT_RECORD"):  # to refresh the runbook table's "error" column
        with open(os.environ["IRONWAVE_BAD_INPUT_RECORD"], "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"id": row.id, "msg": message[-1500:]}) + "\n")
    missing = [n for n in row.needles if n not in message]
    assert not missing, f"{row.id}: message lacks {missing}: {message}"
    sent = [f"{r.method} {r.path}" for r in cursor.mutating()]
    assert not sent, f"{row.id}: Ironic received mutating requests: {sent}"


def test_runbook_lists_every_row():
    """docs/runbook.md's bad-input table has one line per row (by id), and no stale ones."""
    text = RUNBOOK.read_text()
    section = text.split("## Bad input", 1)[1].split("\n## ", 1)[0]
    ids = [line.split("|")[1].strip().strip("`") for line in section.splitlines()
           if line.startswith("| `")]
    assert ids == [r.id for r in ROWS]
