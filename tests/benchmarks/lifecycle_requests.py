# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Ironic API requests per deployed node for reserve -> deploy(wait) -> wait, N nodes in flight.

Counts the requests in Ironic's own access log (the `ironic.api ... METHOD PATH - STATUS` lines)
between the start and the end of one ansible-playbook run with N hosts and N forks, after the
nodes were enrolled. Target: <= 4 requests per deployed node at N = 20 (with an Ironic whose
max_concurrent_deploy >= N, so that no 503 retries are counted). Prints numbers; asserts nothing.

    OS_CLIENT_CONFIG_FILE=clouds.yaml .venv/bin/python tests/benchmarks/lifecycle_requests.py \
        --cloud ironwave-local --log .state/ironic/ironic.log [--nodes 20] [--poll 5]
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from ironwave_testlib import ironic_log  # noqa: E402 - after the path it lives on
from ironwave_testlib.nodes import make_available  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

PLAYBOOK = """
- name: Reserve, deploy, wait
  hosts: fleet
  gather_facts: false
  connection: local
  strategy: ansible.builtin.free
  tasks:
    - name: Reserve
      ironwave.baremetal.node_reserve:
        cloud: "{{ cloud }}"
        instance_name: "{{ inventory_hostname }}"
        resource_class: "{{ rc }}"
      register: reservation
    - name: Deploy
      ironwave.baremetal.node_deploy:
        cloud: "{{ cloud }}"
        node: "{{ reservation.node }}"
        instance_name: "{{ inventory_hostname }}"
        instance_uuid: "{{ reservation.instance_uuid }}"
        wait: true
        poll_interval: "{{ poll }}"
    - name: Wait and verify
      ironwave.baremetal.node_wait:
        cloud: "{{ cloud }}"
        nodes: ["{{ reservation.node }}"]
        instance_uuid: "{{ reservation.instance_uuid }}"
        poll_interval: "{{ poll }}"
"""


def access(log: Path) -> list[dict]:
    return [dict(method=r.method, path=r.path, status=str(r.status))
            for r in ironic_log.requests(log.read_text(encoding="utf-8", errors="replace"))]


def kind(line: dict) -> str:
    path = re.sub(r"/(nodes|allocations)/[^/?]+", r"/\1/<id>", line["path"].split("?")[0])
    return f"{line['method']} {path}" + (" (listing)" if "?fields=" in line["path"] or path.endswith(("/nodes", "/allocations")) else "")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cloud", required=True)
    ap.add_argument("--log", required=True, type=Path, help="Ironic log file with the ironic.api access lines")
    ap.add_argument("--nodes", type=int, default=20)
    ap.add_argument("--poll", type=float, default=5.0, help="poll_interval of deploy/wait (shared tick)")
    args = ap.parse_args()

    import openstack
    conn = openstack.connect(cloud=args.cloud, baremetal_status_code_retries=0)
    rc = f"bench-{uuid.uuid4().hex[:6]}"
    nodes = make_available(conn, [f"{rc}-{i}" for i in range(args.nodes)], timeout=300,
                           node_fields=lambda i: {"resource_class": rc})

    tmp = Path(tempfile.mkdtemp(prefix="ironwave-bench-"))
    hosts = {f"{rc}-host-{i}": {} for i in range(args.nodes)}
    (tmp / "inv.json").write_text(json.dumps({"fleet": {"hosts": hosts, "vars": {
        "ansible_python_interpreter": sys.executable}}}))
    (tmp / "play.yml").write_text(PLAYBOOK)
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), IRONWAVE_POLL_CACHE_DIR=str(tmp / "cache"))
    time.sleep(1)
    mark = len(access(args.log))
    t0 = time.monotonic()
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(tmp / "inv.json"),
                           str(tmp / "play.yml"), "-f", str(args.nodes),
                           "-e", json.dumps({"cloud": args.cloud, "rc": rc, "poll": args.poll})],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - t0
    time.sleep(1)
    lines = access(args.log)[mark:]
    active = sum(1 for n in nodes if conn.baremetal.get_node(n.id).provision_state == "active")
    print(f"playbook rc={proc.returncode} wall={wall:.1f}s nodes={args.nodes} active={active} poll={args.poll}s")
    print(f"Ironic API requests: {len(lines)}  per deployed node: {len(lines) / max(1, active):.2f}  (target <= 4)")
    print(f"HTTP 503 answers: {sum(1 for line in lines if line['status'] == '503')}")
    for k, v in collections.Counter(kind(line) for line in lines).most_common():
        print(f"  {v:5d}  {k}")
    if proc.returncode:
        print(proc.stdout[-3000:], proc.stderr[-2000:])


if __name__ == "__main__":
    main()
