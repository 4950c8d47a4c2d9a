# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The founding scenario, measured: N servers on exactly N Ironic nodes through a real Nova, built
three ways -

* ``all_at_once``: openstack.cloud.server for N hosts, strategy free, forks N, Nova's defaults
  (the scheduler picks the nodes);
* ``throttled``: the same with nova-compute's ``max_concurrent_builds = 2``;
* ``ours``: playbooks/nova_deploy.yml with ``deploy_limit`` (each build pinned to a picked node);
* ``burst`` (reference): the N creates sent by the harness at the same moment, no Ansible in
  between - the founding setup in its purest form.

Every number comes from the services, never from the tool under test: servers and faults from
Nova, nodes from Ironic, allocations from Placement, requests from nova-api's requestlog,
Placement's requestlog and Ironic's access log (one line per request), node conflicts from
nova-compute's log ("Chosen ironic node X is not available", "Failed to reserve node X").
The harness's own reads during a run carry one X-OpenStack-Request-ID (SAMPLER_ID) and are left
out of the counts.

The stack is described by a `Stack` (cloud, logs, flavor, image, how to change
max_concurrent_builds): `stack_from_env()` for a stack started by hand (reference layout),
`stack_from_local_nova()` for the tests' `local_nova` fixture.
"""
from __future__ import annotations

import collections
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from ironwave_testlib.paths import BIN, COLLECTIONS, REPO

HYPERVISOR = "OS-EXT-SRV-ATTR:hypervisor_hostname"
# Global request id of the harness's reads: nova-api, Placement and Ironic log it in each line's
# context, so the counts can leave the measuring out.
SAMPLER_ID = "req-1e0a5a3b-5a3b-4e0a-8a3b-5a3b1e0a5a3b"
SAMPLER_HEADERS = {"X-OpenStack-Request-ID": SAMPLER_ID}
COMPUTE_MV = "2.74"
POOL_REASON = "ironwave nova scenario: outside the pool"
PICK_KEY = "ironwave_pick"

# The baseline tool: openstack.cloud 2.5 as bundled in the `ansible` 12.3.0 wheel.
ANSIBLE_WHEEL = "ansible==12.3.0"
OC_STATE = REPO / ".state" / "openstack-cloud"
OC_COLLECTIONS = OC_STATE / "collections"
OC_PREFIX = "ansible_collections/openstack/cloud/"


# -- log lines (pure) -----------------------------------------------------------------------------
# nova-api:  ... nova.api.openstack.requestlog [None req-X admin admin - - - -] 127.0.0.1 "GET /v2.1/servers" status: 200 ...
# placement: ... placement.requestlog [req-G req-X admin admin - - - -] 127.0.0.1 "GET /allocations/U" status: 200 ...
# ironic:    ... ironic.api [None req-X - - - - - -] 127.0.0.1 - GET /v1/nodes - 200 (1.2ms)
LINES = {
    "compute": re.compile(r'nova\.api\.openstack\.requestlog \[(?P<ctx>[^\]]*)\] \S+ "(?P<method>[A-Z]+) '
                          r'(?P<path>[^ "]+)[^"]*" status: (?P<status>\d{3})'),
    "placement": re.compile(r'placement\.requestlog \[(?P<ctx>[^\]]*)\] \S+ "(?P<method>[A-Z]+) '
                            r'(?P<path>[^ "]+)[^"]*" status: (?P<status>\d{3})'),
    "baremetal": re.compile(r'ironic\.api \[(?P<ctx>[^\]]*)\] \S+ - (?P<method>[A-Z]+) (?P<path>\S+) - '
                            r'(?P<status>\d{3})'),
}
CONFLICT = re.compile(r"(?:Chosen ironic node (?P<a>[0-9a-f-]{36}) is not available"
                      r"|Failed to reserve node (?P<b>[0-9a-f-]{36}))")
INSTANCE = re.compile(r"\[instance: (?P<id>[0-9a-f-]{36})\]")


@dataclass(frozen=True)
class ApiRequest:
    service: str
    method: str
    path: str
    status: int
    harness: bool   # sent by the harness (SAMPLER_ID), not by the way under test
    anonymous: bool  # no global request id: a client's own request (Nova's services send theirs)


def api_requests(service: str, text: str) -> list[ApiRequest]:
    return [ApiRequest(service, m["method"], m["path"], int(m["status"]), SAMPLER_ID in m["ctx"],
                       m["ctx"].split(" ", 1)[0] == "None") for m in LINES[service].finditer(text)]


def count_requests(texts: dict[str, str]) -> dict[str, int]:
    """Requests per service in the given log texts, the harness's own left out."""
    return {svc: sum(1 for r in api_requests(svc, text) if not r.harness) for svc, text in texts.items()}


def placement_by_clients(text: str) -> int:
    """Placement requests a client made itself (no global request id), not Nova's services: in
    Placement's log Nova's scheduler, conductor and computes always pass their request id."""
    return sum(1 for r in api_requests("placement", text) if r.anonymous and not r.harness)


def request_kinds(service: str, text: str, top: int = 8) -> dict[str, int]:
    """Most frequent request shapes (ids replaced) - where the requests went."""
    shape = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
    kinds = collections.Counter(f"{r.method} {shape.sub('<id>', r.path.split('?')[0])}"
                                for r in api_requests(service, text) if not r.harness)
    return dict(kinds.most_common(top))


CREATE = re.compile(r'^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) .*nova\.api\.openstack\.requestlog '
                    r'\[[^\]]*\] \S+ "POST /v2\.1/servers" status: 202', re.M)


def creates(text: str) -> list[float]:
    """Epoch seconds of every accepted server create in a nova-api log text (the log writes this
    machine's local time)."""
    out = []
    for m in CREATE.finditer(text):
        whole, frac = m["ts"].split(".")
        out.append(time.mktime(time.strptime(whole, "%Y-%m-%d %H:%M:%S")) + float("0." + frac))
    return out


def first_create(text: str) -> float | None:
    return min(creates(text), default=None)


def compute_conflicts(text: str) -> dict[str, set[str]]:
    """nova-compute's own word that a node it was sent to was taken: node uuid -> instances."""
    out: dict[str, set[str]] = collections.defaultdict(set)
    for line in text.splitlines():
        m = CONFLICT.search(line)
        if m:
            inst = INSTANCE.search(line)
            out[m["a"] or m["b"]].add(inst["id"] if inst else "?")
    return dict(out)


def ideal_makespan(one_build_s: float, n: int, concurrency: int, canary: int = 0) -> float:
    """One build's time x the rounds the allowed concurrency needs (a canary wave first, if any)."""
    rest = n - canary
    return one_build_s * ((1 if canary else 0) + math.ceil(rest / max(concurrency, 1)))


# -- the stack ------------------------------------------------------------------------------------
@dataclass
class Stack:
    """Where a Nova + Placement + Ironic stack is and how to reach its logs."""
    cloud: str
    clouds_yaml: Path
    flavor: str
    image: str
    logs: dict[str, Path]                 # compute / placement / baremetal / "nova-compute ..." (one per service)
    set_max_concurrent_builds: Callable[[int], None] | None = None
    default_max_concurrent_builds: int = 10
    ensure_nodes: Callable[[int], list[str]] | None = None   # n nodes of the class for the pool: their names
    resource_class: str = "baremetal"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "OS_"))}
        env.update(OS_CLIENT_CONFIG_FILE=str(self.clouds_yaml), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                   ANSIBLE_DEPRECATION_WARNINGS="0", PYTHONDONTWRITEBYTECODE="1")
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        return env

    def connect(self):
        import openstack

        os.environ["OS_CLIENT_CONFIG_FILE"] = str(self.clouds_yaml)
        return openstack.connect(cloud=self.cloud, baremetal_status_code_retries=0)


def stack_from_env() -> Stack:
    """A stack started by hand (the reference layout: <base>/cfg/clouds.yaml, <base>/logs,
    <base>/keep/nova.conf, <base>/run/pids). Variables: IRONWAVE_NOVAREF_BASE (required),
    IRONWAVE_NOVAREF_CLOUD (novaref), IRONWAVE_NOVAREF_FLAVOR (bm), IRONWAVE_NOVAREF_IMAGE (fake-image)."""
    base = Path(os.environ["IRONWAVE_NOVAREF_BASE"])
    logs = base / "logs"
    return Stack(cloud=os.environ.get("IRONWAVE_NOVAREF_CLOUD", "novaref"),
                 clouds_yaml=Path(os.environ.get("IRONWAVE_NOVAREF_CLOUDS_YAML", base / "cfg" / "clouds.yaml")),
                 flavor=os.environ.get("IRONWAVE_NOVAREF_FLAVOR", "bm"),
                 image=os.environ.get("IRONWAVE_NOVAREF_IMAGE", "fake-image"),
                 logs={"compute": logs / "nova-api.log", "placement": logs / "placement.log",
                       "baremetal": logs / "ironic.log", "nova-compute 1": logs / "nova-compute.log"},
                 set_max_concurrent_builds=lambda n: _restart_reference_compute(base, n))


def _restart_reference_compute(base: Path, builds: int, timeout: float = 120) -> None:
    """Reference layout only: edit keep/nova.conf, restart exactly the nova-compute PID recorded in
    run/pids (log appended, not truncated, so cursors stay valid), wait until it reports up."""
    conf = base / "keep" / "nova.conf"
    text = conf.read_text()
    text = re.sub(r"(?m)^max_concurrent_builds\s*=.*$", f"max_concurrent_builds = {builds}", text)
    conf.write_text(text)
    pids = base / "run" / "pids"
    lines = pids.read_text().splitlines()
    old = next(int(line.split()[1]) for line in lines if line.startswith("nova-compute "))
    os.kill(old, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{old}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    if Path(f"/proc/{old}").exists():
        os.kill(old, signal.SIGKILL)
    env = dict(os.environ)
    env["PATH"] = f"{base / 'venv' / 'bin'}{os.pathsep}{env['PATH']}"
    with open(base / "logs" / "nova-compute.log", "ab") as log:
        proc = subprocess.Popen([str(base / "venv" / "bin" / "nova-compute"), "--config-file", str(conf)],
                                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    pids.write_text("\n".join(f"nova-compute {proc.pid}" if line.startswith("nova-compute ") else line
                              for line in lines) + "\n")
    _wait_compute_up(base, proc.pid, timeout)


def _wait_compute_up(base: Path, pid: int, timeout: float) -> None:
    """Up = the new process has started its first resource update (the update_resources pool is
    made for it); the pool's Placement view is then awaited by clean()."""
    deadline = time.monotonic() + timeout
    log = base / "logs" / "nova-compute.log"
    while time.monotonic() < deadline:
        tail = log.read_text(errors="replace")[-200000:]
        if re.search(rf" {pid} INFO nova\.(thread_pool_factory .*update_resources thread pool"
                     rf"|compute\.resource_tracker .*Final resource view)", tail):
            time.sleep(3)
            return
        time.sleep(1)
    raise TimeoutError(f"nova-compute {pid} did not finish its first resource update in {timeout} s")


def stack_from_local_nova(ln: Any, pool_prefix: str = "founding") -> Stack:
    """The tests' `local_nova` fixture (tests/lib/ironwave_testlib/local_nova.py): its cloud,
    clouds.yaml, logs (nova-api, Placement, its Ironic, every nova-compute), the bare metal flavor
    and the stand-in's image; max_concurrent_builds changes by rerunning the role
    (local_nova_max_concurrent_builds; the role restarts exactly the computes whose config changed);
    the pool's nodes come from its enroll helper."""
    logs = {"compute": ln.log("nova-api"), "placement": ln.log("placement"), "baremetal": ln.ironic.log_file}
    logs.update({f"nova-compute {host}": ln.compute_log(host) for host in ln.computes})
    default = int(ln.role_vars.get("local_nova_max_concurrent_builds", 10))

    def set_builds(n: int) -> None:
        # nova 34 (native threading) sizes one executor max(builds, snapshots): the throttle only
        # holds with snapshots limited alike (Nova's default 5 when back at the default builds).
        ln.start(local_nova_max_concurrent_builds=n,
                 local_nova_extra_config={"DEFAULT": {"max_concurrent_snapshots": min(n, 5)}})

    def ensure_nodes(n: int) -> list[str]:
        return [node.name for node in ln.enroll_nodes(n, prefix=pool_prefix)]

    return Stack(cloud=ln.cloud, clouds_yaml=Path(ln.clouds_yaml), flavor=ln.bare_metal_flavor().name,
                 image=ln.image_id, logs=logs, set_max_concurrent_builds=set_builds,
                 default_max_concurrent_builds=default, ensure_nodes=ensure_nodes)


class Cursors:
    """Marks on every log of the stack; `texts()` = what each logged since."""

    def __init__(self, logs: dict[str, Path]) -> None:
        self.logs = logs
        self.offsets = {k: (p.stat().st_size if p.exists() else 0) for k, p in logs.items()}

    def texts(self, settle: float = 1.5) -> dict[str, str]:
        time.sleep(settle)  # access lines are written after the response
        out = {}
        for key, path in self.logs.items():
            with open(path, "rb") as fh:
                fh.seek(self.offsets[key])
                out[key] = fh.read().decode("utf-8", errors="replace")
        return out


# -- raw reads (the harness's, tagged) ------------------------------------------------------------
def _get(proxy, path: str, tries: int = 3, **kwargs: Any) -> dict:
    """GET with the harness's request id; a dropped keep-alive connection is tried again."""
    from keystoneauth1 import exceptions as ksa

    # Popped once, before the loop: a retry after a dropped connection must send them too (it used to
    # go out without them - Placement at microversion 1.0 answered 404 to /allocation_candidates).
    headers = {**SAMPLER_HEADERS, **kwargs.pop("headers", {})}
    for attempt in range(tries):
        try:
            r = proxy.get(path, headers=headers, **kwargs)
            r.raise_for_status()
            return r.json()
        except ksa.ConnectFailure:
            if attempt == tries - 1:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")


def servers(conn) -> list[dict]:
    return _get(conn.compute, "/servers/detail?all_tenants=1", microversion=COMPUTE_MV)["servers"]


def nodes(conn) -> list[dict]:
    return _get(conn.baremetal, "/nodes?detail=True", microversion="1.82")["nodes"]


def placement_get(conn, path: str) -> dict:
    return _get(conn.placement, path, headers={"OpenStack-API-Version": "placement 1.28"})


def background_rates(stack: Stack, seconds: float = 20.0) -> dict[str, float]:
    """Requests per second each service logs with nothing running (nova-compute's periodic
    resource update reads Ironic and Placement on its own): measured, then subtracted from a
    run's counts over its wall time."""
    cursors = Cursors({k: v for k, v in stack.logs.items() if k in LINES})
    time.sleep(seconds)
    return {k: round(v / seconds, 3) for k, v in count_requests(cursors.texts(settle=0)).items()}


class Sampler(threading.Thread):
    """During a run: which live servers Nova shows on each node, every `interval` s. A node with
    two or more at one sample was double-booked (the most at once is kept per node)."""

    def __init__(self, conn, pool: set[str], interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.conn, self.pool, self.interval = conn, pool, interval
        self.most: dict[str, int] = collections.defaultdict(int)
        self.holders: dict[str, set[str]] = collections.defaultdict(set)
        self.active_at: dict[str, float] = {}   # server id -> epoch s first seen ACTIVE
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                per_node: dict[str, set[str]] = collections.defaultdict(set)
                listed = servers(self.conn)
                now = time.time()
                for s in listed:
                    if s.get("status") == "ACTIVE":
                        self.active_at.setdefault(s["id"], now)
                    node = s.get(HYPERVISOR)
                    if node in self.pool and s.get("status") not in ("DELETED", "SOFT_DELETED"):
                        per_node[node].add(s["id"])
                for node, ids in per_node.items():
                    self.most[node] = max(self.most[node], len(ids))
                    self.holders[node] |= ids
                self.samples += 1
            except Exception:  # noqa: BLE001 - a missed sample is only a missed sample
                pass
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)


# -- the pool -------------------------------------------------------------------------------------
PREFIXES = ("ours-", "allat-", "throt-", "burst-", "ideal-")   # names of the servers this harness makes


def offered(conn, stack: Stack) -> set[str]:
    """Providers Placement would give one node of the class to right now."""
    rc = "CUSTOM_" + re.sub(r"[^A-Z0-9_]", "_", stack.resource_class.upper())
    return set(placement_get(conn, f"/allocation_candidates?resources={rc}:1")["provider_summaries"])


def pool_nodes(conn, stack: Stack, n: int, names: list[str] | None = None) -> list[dict]:
    """Exactly `n` nodes of the flavor's class take part - those named, else the first n by name;
    every other node of the class goes into maintenance (reason POOL_REASON), so Placement stops
    offering it. Raises when there are fewer than n."""
    ours = sorted((x for x in nodes(conn) if x.get("resource_class") == stack.resource_class),
                  key=lambda x: x.get("name") or x["uuid"])
    pool = [x for x in ours if x.get("name") in set(names)] if names else ours[:n]
    if len(pool) != n:
        raise RuntimeError(f"{len(pool)} nodes of class {stack.resource_class} for the pool, {n} needed")
    keep = {x["uuid"] for x in pool}
    for node in ours:
        if node["uuid"] in keep:
            if node.get("maintenance") and node.get("maintenance_reason") == POOL_REASON:
                conn.baremetal.unset_node_maintenance(node["uuid"])
        elif not node.get("maintenance"):
            conn.baremetal.set_node_maintenance(node["uuid"], reason=POOL_REASON)
    return pool


def release_pool(conn) -> None:
    """Back out of pool_nodes: nodes it put in maintenance leave it."""
    for node in nodes(conn):
        if node.get("maintenance") and node.get("maintenance_reason") == POOL_REASON:
            conn.baremetal.unset_node_maintenance(node["uuid"])


def clean(conn, stack: Stack, pool: list[dict], timeout: float = 300) -> float:
    """Delete the harness's servers (PREFIXES) and any server on a pool node, then wait until every
    pool node is available with no instance and no pick marker and Placement offers exactly the
    pool (what the next build needs). Returns the seconds it took."""
    t0 = time.monotonic()
    uuids = {x["uuid"] for x in pool}

    def ours(s: dict) -> bool:
        return str(s.get("name")).startswith(PREFIXES) or s.get(HYPERVISOR) in uuids

    deleted: set[str] = set()
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        left = [s for s in servers(conn) if ours(s)]
        for s in left:
            if s["id"] not in deleted or s.get("status") == "ERROR":
                conn.compute.delete(f"/servers/{s['id']}", headers=SAMPLER_HEADERS)
                deleted.add(s["id"])
        pending = [f"server {s['name']}" for s in left]
        for node in nodes(conn):
            if node["uuid"] not in uuids or left:
                continue
            state, extra = node["provision_state"], node.get("extra") or {}
            if node.get("target_provision_state") or state in TRANSIENT:
                pending.append(f"{node.get('name')}:{state}")
            elif state in ("deploy failed", "error", "active"):
                conn.baremetal.set_node_provision_state(node["uuid"], "deleted")
                pending.append(f"{node.get('name')}:{state}")
            elif state == "clean failed":
                conn.baremetal.set_node_provision_state(node["uuid"], "manage")
                pending.append(f"{node.get('name')}:{state}")
            elif state == "manageable":
                conn.baremetal.set_node_provision_state(node["uuid"], "provide")
                pending.append(f"{node.get('name')}:{state}")
            elif node.get("instance_uuid") or any(k.startswith(PICK_KEY) for k in extra):
                # Leftovers of an interrupted build or pick (harness clean-up, not the product's).
                patch = [{"op": "remove", "path": f"/extra/{k}"} for k in extra
                         if k.startswith(PICK_KEY) and re.fullmatch(r"[\w-]+", k)]
                if node.get("instance_uuid"):
                    patch.append({"op": "remove", "path": "/instance_uuid"})
                if patch:
                    conn.baremetal.patch_node(node["uuid"], patch)
                pending.append(f"{node.get('name')}:leftovers")
        if not pending:
            missing = uuids - offered(conn, stack)
            extra_offered = offered(conn, stack) - uuids
            if not missing and not extra_offered:
                return time.monotonic() - t0
            pending = [f"Placement: {len(missing)} pool node(s) not offered, {len(extra_offered)} outside offered"]
        last = ", ".join(pending[:5])
        time.sleep(2)
    raise TimeoutError(f"pool not clean after {timeout} s: {last}")


TRANSIENT = ("deploying", "wait call-back", "deleting", "cleaning", "clean wait", "verifying")


# -- the baseline tool ----------------------------------------------------------------------------
def openstack_cloud_collection(cache: Path = OC_STATE) -> Path:
    """openstack.cloud 2.5 from the `ansible` 12.3.0 wheel (pip download, only that collection
    extracted), cached under .state; returns the collections path to put on ANSIBLE_COLLECTIONS_PATH."""
    dest = cache / "collections"
    marker = cache / ".installed"
    if marker.exists() and marker.read_text() == ANSIBLE_WHEEL:
        return dest
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    found = sorted(wheels.glob("ansible-12.3.0-*.whl"))
    if not found:
        subprocess.run([str(BIN / "pip"), "download", "-q", "--no-deps", "--disable-pip-version-check",
                        ANSIBLE_WHEEL, "-d", str(wheels)], check=True, capture_output=True, timeout=600)
        found = sorted(wheels.glob("ansible-12.3.0-*.whl"))
    shutil.rmtree(dest, ignore_errors=True)
    with zipfile.ZipFile(found[0]) as whl:
        for name in whl.namelist():
            if name.startswith(OC_PREFIX):
                whl.extract(name, dest)
    marker.write_text(ANSIBLE_WHEEL)
    return dest


# Two adaptations of the baseline to this stack, nothing else: openstacksdk 4.22 needs
# `openstack.version` imported before openstack.cloud 2.5 reads it, and, with no network named,
# the SDK asks Nova for networks "auto" - the Neutron stand-in cannot auto-allocate, so "none"
# (what an Ironic cloud without tenant networks asks for) is sent instead.
SITECUSTOMIZE = '''# Generated by tests/lib/ironwave_testlib/nova_scenarios.py for the openstack.cloud baseline only.
try:
    import openstack.version  # noqa: F401
    from openstack.compute.v2 import _proxy

    _create_server = _proxy.Proxy.create_server

    def create_server(self, **attrs):
        if attrs.get("networks") == "auto":
            attrs["networks"] = "none"
        return _create_server(self, **attrs)

    _proxy.Proxy.create_server = create_server
except ImportError:
    pass
'''

# openstack.cloud.server with wait: true deletes a server that goes ACTIVE with no IP address
# (openstacksdk get_active_server), which every server here does: the baseline creates without
# waiting and waits with server_info (every `delay` s, like ours' poll interval).
BASELINE_PLAY = """- name: Build the servers with openstack.cloud, all at once (Nova's scheduler picks the nodes)
  hosts: servers
  gather_facts: false
  strategy: ansible.builtin.free
  tasks:
    - name: Create the server
      openstack.cloud.server:
        cloud: {cloud}
        name: "{{{{ inventory_hostname }}}}"
        flavor: {flavor}
        image: {image}
        nics: []
        auto_ip: false
        wait: false
        timeout: {timeout}

    - name: Wait until the server is ACTIVE or ERROR
      openstack.cloud.server_info:
        cloud: {cloud}
        name: "{{{{ inventory_hostname }}}}"
      register: baseline_info
      until: >-
        baseline_info.servers | length > 0 and
        baseline_info.servers[0].status in ['ACTIVE', 'ERROR']
      retries: {retries}
      delay: {delay}

    - name: Fail when the build ended in ERROR
      ansible.builtin.assert:
        that: baseline_info.servers[0].status == 'ACTIVE'
        fail_msg: "{{{{ baseline_info.servers[0].fault | default('ERROR', true) | string }}}}"
"""


def write_baseline(work: Path, stack: Stack, names: list[str], timeout: int = 600,
                   delay: int = 2) -> tuple[Path, Path, dict[str, str]]:
    """The baseline playbook, its inventory and environment (forks = N)."""
    collections_dir = openstack_cloud_collection()
    site = work / "site"
    site.mkdir(parents=True, exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    cfg = work / "ansible.cfg"
    cfg.write_text("[defaults]\nretry_files_enabled = false\ninterpreter_python = auto_silent\n"
                   "stdout_callback = ansible.builtin.default\n")
    play = work / "baseline.yml"
    play.write_text(BASELINE_PLAY.format(cloud=stack.cloud, flavor=stack.flavor, image=stack.image,
                                         timeout=timeout, retries=timeout // delay, delay=delay))
    inv = work / "inventory.yml"
    inv.write_text(yaml.safe_dump({"servers": {"hosts": {n: {} for n in names}, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": str(BIN / "python")}}}))
    env = stack.env()
    env.update(ANSIBLE_CONFIG=str(cfg), ANSIBLE_COLLECTIONS_PATH=str(collections_dir),
               ANSIBLE_FORKS=str(len(names)), PYTHONPATH=str(site))
    return play, inv, env


def write_ours(work: Path, stack: Stack, names: list[str], deploy_limit: int) -> tuple[Path, Path, dict[str, str]]:
    """playbooks/nova_deploy.yml as shipped, its inventory (group `servers`) and environment;
    deploy_limit goes as an extra var (the play's own vars outrank inventory vars)."""
    inv = work / "inventory.yml"
    inv.write_text(yaml.safe_dump({"servers": {"hosts": {n: {} for n in names}, "vars": {
        "nova_deploy_cloud": stack.cloud, "nova_deploy_flavor": stack.flavor, "nova_deploy_image": stack.image}}}))
    env = stack.env()
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_FORKS=str(max(len(names), deploy_limit)),
               IRONWAVE_WAVE_REPORT_PATH=str(work / "wave-report.json"),
               IRONWAVE_WAVE_SVG_PATH=str(work / "wave-timeline.svg"),
               IRONWAVE_POLL_CACHE_DIR=str(work / "poll-cache"))
    return REPO / "playbooks" / "nova_deploy.yml", inv, env


# -- one run --------------------------------------------------------------------------------------
@dataclass
class Outcome:
    way: str
    n: int
    concurrency: int                      # builds allowed at once
    canary: int = 0
    rc: int | None = None
    wall_s: float | None = None           # the ansible-playbook process, start to end (makespan)
    span_s: float | None = None           # Nova side: first POST /servers (nova-api log) -> last ACTIVE seen
    create_spread_s: float | None = None  # first -> last POST /servers: how "at once" the creates were
    active: int = 0
    error: int = 0
    missing: int = 0                      # inventory hosts with no server at the end
    duplicated: list[str] = field(default_factory=list)      # names with 2+ servers
    faults: list[str] = field(default_factory=list)          # Nova's fault message of each ERROR server
    distinct_nodes: int = 0               # nodes holding the ACTIVE servers
    double_booked: list[str] = field(default_factory=list)   # node names (see double_booking)
    conflicts_logged: int = 0             # nova-compute "not available" / "failed to reserve" lines
    violations: list[str] = field(default_factory=list)      # cross-check at the end
    requests: dict[str, int] = field(default_factory=dict)   # per service, from the services' logs
    background: dict[str, float] = field(default_factory=dict)  # idle requests/s per service
    requests_per_server: dict[str, float] = field(default_factory=dict)  # (requests - background x wall) / N
    placement_by_tool_per_server: float | None = None   # of those, sent by the tool itself
    request_kinds: dict[str, dict[str, int]] = field(default_factory=dict)
    samples: int = 0
    clean_s: float | None = None
    log: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def crosscheck(conn, names: list[str]) -> list[str]:
    """The project's pure cross-check (plugins/module_utils/nova_crosscheck.fleet) on what Nova,
    Ironic and Placement say now, for the servers named."""
    if str(COLLECTIONS) not in sys.path:
        sys.path.insert(0, str(COLLECTIONS))  # `make link` puts the checkout there
    from ansible_collections.ironwave.baremetal.plugins.module_utils import nova_crosscheck

    mine = [s for s in servers(conn) if s.get("name") in set(names)]
    by_uuid = {x["uuid"]: x for x in nodes(conn)}
    allocations = {s["id"]: placement_get(conn, f"/allocations/{s['id']}").get("allocations", {}) for s in mine}
    _rows, violations = nova_crosscheck.fleet(mine, by_uuid, allocations)
    return [v.message for v in violations]


def run_way(stack: Stack, conn, way: str, names: list[str], pool: list[dict], work: Path, *,
            concurrency: int, canary: int = 0, deploy_limit: int = 5, timeout: int = 900,
            background: dict[str, float] | None = None) -> Outcome:
    """Run one way on a clean pool; read the outcome from the services. Does not clean up."""
    work.mkdir(parents=True, exist_ok=True)
    cmd: list[str] | None = None   # burst: no playbook, the harness sends the creates
    if way == "ours":
        play, inv, env = write_ours(work, stack, names, deploy_limit)
        cmd = [str(BIN / "ansible-playbook"), "-i", str(inv), str(play), "-e",
               json.dumps({"deploy_limit": deploy_limit})]
    elif way != "burst":
        play, inv, env = write_baseline(work, stack, names)
        cmd = [str(BIN / "ansible-playbook"), "-i", str(inv), str(play)]
    out = Outcome(way=way, n=len(names), concurrency=concurrency, canary=canary)
    by_uuid = {x["uuid"]: x for x in pool}
    sampler = Sampler(conn, set(by_uuid))
    cursors = Cursors(stack.logs)
    sampler.start()
    t0 = time.monotonic()
    if cmd is None:
        out.rc = burst(conn, stack, names, work / "ansible.log", timeout)
    else:
        with open(work / "ansible.log", "w", encoding="utf-8") as log:
            out.rc = subprocess.run(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout,
                                    check=False).returncode
    out.wall_s = round(time.monotonic() - t0, 2)
    sampler.stop()
    texts = cursors.texts()
    out.log = str(work / "ansible.log")
    out.samples = sampler.samples
    api = {k: v for k, v in texts.items() if k in LINES}
    out.requests = count_requests(api)
    out.background = dict(background or {})
    out.requests_per_server = {k: round(max(v - out.background.get(k, 0.0) * out.wall_s, 0) / len(names), 1)
                               for k, v in out.requests.items()}
    out.request_kinds = {k: request_kinds(k, v) for k, v in api.items()}
    out.placement_by_tool_per_server = round(placement_by_clients(api.get("placement", "")) / len(names), 1)
    conflicts = compute_conflicts("\n".join(v for k, v in texts.items() if k.startswith("nova-compute")))
    out.conflicts_logged = sum(len(v) for v in conflicts.values())
    booked = {u for u, most in sampler.most.items() if most >= 2} | (set(conflicts) & set(by_uuid))
    out.double_booked = sorted(by_uuid[u].get("name") or u for u in booked)

    final = [s for s in servers(conn) if s.get("name") in set(names)]
    named = collections.Counter(s["name"] for s in final)
    out.duplicated = sorted(n for n, c in named.items() if c > 1)
    out.missing = sum(1 for n in names if n not in named)
    out.active = sum(1 for s in final if s.get("status") == "ACTIVE")
    out.error = sum(1 for s in final if s.get("status") == "ERROR")
    out.faults = [f"{s['name']}: {(s.get('fault') or {}).get('message', '')}"[:300] for s in final
                  if s.get("status") == "ERROR"]
    out.distinct_nodes = len({s.get(HYPERVISOR) for s in final if s.get("status") == "ACTIVE"})
    posted = creates(texts.get("compute", ""))
    first_post = min(posted, default=None)
    out.create_spread_s = round(max(posted) - first_post, 1) if posted else None
    seen = [sampler.active_at[s["id"]] for s in final if s["id"] in sampler.active_at]
    if first_post is not None and seen:
        out.span_s = round(max(seen) - first_post, 1)
    out.violations = crosscheck(conn, names)
    (work / "outcome.json").write_text(json.dumps(out.as_dict(), indent=2))
    return out


def burst(conn, stack: Stack, names: list[str], log: Path, timeout: float) -> int:
    """The founding setup without Ansible in between: every create sent at the same moment
    (one thread each, straight through the compute API, networks none, the scheduler picks),
    then one listing every 2 s until each server is ACTIVE or ERROR. 0 when all went ACTIVE."""
    flavor = conn.compute.find_flavor(stack.flavor, ignore_missing=False).id
    image = conn.image.find_image(stack.image, ignore_missing=False).id
    gate = threading.Barrier(len(names))
    errors: list[str] = []

    def create(name: str) -> None:
        gate.wait()
        r = conn.compute.post("/servers", microversion=COMPUTE_MV, json={"server": {
            "name": name, "flavorRef": flavor, "imageRef": image, "networks": "none"}})
        if r.status_code != 202:
            errors.append(f"{name}: HTTP {r.status_code} {r.text[:200]}")

    threads = [threading.Thread(target=create, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    deadline = time.monotonic() + timeout
    status: dict[str, str] = {}
    while time.monotonic() < deadline:
        r = conn.compute.get("/servers/detail", microversion=COMPUTE_MV)
        status = {s["name"]: s["status"] for s in r.json()["servers"] if s["name"] in set(names)}
        if len(status) == len(names) and all(v in ("ACTIVE", "ERROR") for v in status.values()):
            break
        time.sleep(2)
    log.write_text("\n".join([*errors, *(f"{k}: {v}" for k, v in sorted(status.items()))]) + "\n")
    return 0 if not errors and status and set(status.values()) == {"ACTIVE"} else 1


def one_build_seconds(conn, stack: Stack, pool: list[dict], name: str = "ideal-1", timeout: float = 300) -> float:
    """One server built alone straight through the compute API (networks none, the scheduler
    picks): POST -> ACTIVE as seen by polling every 0.5 s. The unit of the ideal makespan."""
    flavor = conn.compute.find_flavor(stack.flavor, ignore_missing=False)
    image = conn.image.find_image(stack.image, ignore_missing=False)
    t0 = time.monotonic()
    r = conn.compute.post("/servers", microversion=COMPUTE_MV, headers=SAMPLER_HEADERS, json={"server": {
        "name": name, "flavorRef": flavor.id, "imageRef": image.id, "networks": "none"}})
    r.raise_for_status()
    sid = r.json()["server"]["id"]
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        s = conn.compute.get(f"/servers/{sid}", microversion=COMPUTE_MV, headers=SAMPLER_HEADERS).json()["server"]
        if s["status"] == "ACTIVE":
            return round(time.monotonic() - t0, 2)
        if s["status"] == "ERROR":
            raise RuntimeError(f"the single build failed: {s.get('fault')}")
        time.sleep(0.5)
    raise TimeoutError("the single build did not finish")


def names_for(way: str, n: int) -> list[str]:
    return [f"{way.replace('_', '')[:5]}-{i:02d}" for i in range(n)]


def run_scenario(stack: Stack, conn, way: str, n: int, pool: list[dict], work: Path, *,
                 deploy_limit: int = 5, throttle: int = 2, background: dict[str, float] | None = None) -> Outcome:
    """One way, start to finish: a clean pool, the run, the outcome, a clean pool again (the
    build limit restored for `throttled`)."""
    clean(conn, stack, pool)
    if way == "throttled":
        if stack.set_max_concurrent_builds is None:
            raise RuntimeError("this stack cannot change max_concurrent_builds")
        stack.set_max_concurrent_builds(throttle)
        clean(conn, stack, pool)  # the restarted compute's Placement view of the pool
    try:
        if way == "ours":
            out = run_way(stack, conn, way, names_for(way, n), pool, work, concurrency=deploy_limit, canary=1,
                          deploy_limit=deploy_limit, background=background)
        elif way == "throttled":
            out = run_way(stack, conn, way, names_for(way, n), pool, work, concurrency=throttle,
                          background=background)
        else:  # all_at_once, burst
            out = run_way(stack, conn, way, names_for(way, n), pool, work,
                          concurrency=min(n, stack.default_max_concurrent_builds), background=background)
        out.clean_s = round(clean(conn, stack, pool), 1)
    finally:
        if way == "throttled":
            stack.set_max_concurrent_builds(stack.default_max_concurrent_builds)
    return out
