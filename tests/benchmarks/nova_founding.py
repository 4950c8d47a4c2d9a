# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Nova benchmark: the founding scenario (N servers on exactly N Ironic nodes through a real Nova)
built three ways in one run, side by side (tests/lib/ironwave_testlib/nova_scenarios.py):

* all at once  - openstack.cloud.server (2.5, from the `ansible` 12.3.0 wheel) for N hosts,
                 strategy free, forks N, Nova's defaults (max_concurrent_builds 10);
* throttled    - the same with nova-compute's max_concurrent_builds = 2;
* ours         - playbooks/nova_deploy.yml, deploy_limit C (a canary of 1, then C at a time);
* burst        - reference row: the N creates sent by the harness at one instant, straight through
                 the compute API (Ansible's fork start-up spreads the baseline's creates over
                 seconds; this is the founding setup without that spread).

Per way: makespan (the ansible-playbook process), span (first POST /servers in nova-api's log ->
last server seen ACTIVE), ideal = one server's build time (measured alone, straight through the
compute API) x the rounds the allowed concurrency needs (1 all at once, ceil(N/2) throttled,
1 + ceil((N-1)/C) ours), ERROR count and Nova's faults, double-booked nodes (two live servers on
a node at one sample, or nova-compute's "not available"/"failed to reserve" for it), cross-check
violations at the end, API requests per server by service from the services' own logs (the
harness's reads left out, the idle background rate x makespan subtracted; Placement's also split:
the tool's own requests, without a global request id, against Nova's). Asserts nothing.
Writes reports/benchmark-nova.json and reports/benchmark-nova.md.

Stack: its own local Nova (playbooks/local_nova.yml under .state/bench-nova, one nova-compute,
ports 38xxx), started and stopped here; with IRONWAVE_NOVAREF_BASE set, a stack started by hand
(nova_scenarios.stack_from_env) instead.

    .venv/bin/python tests/benchmarks/nova_founding.py [--n 10] [--deploy-limit 5] [--ways all_at_once,throttled,ours]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from ironwave_testlib import nova_scenarios as ns  # noqa: E402 - after the path it lives on

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / ".state" / "bench-nova"
REPORT = ROOT / "reports" / "benchmark-nova.json"
TABLE = ROOT / "reports" / "benchmark-nova.md"
# Apart from the demo (8774...), the tests (28xxx) and the integration Ironics (6395+).
PORTS = {"keystone": 38500, "api": 38774, "placement": 38778, "glance": 38292, "neutron": 38696, "mariadb": 38306,
         "rabbitmq": 38672, "rabbitmq_dist": 38673, "epmd": 38369, "ironic": 38385}
LABELS = {"all_at_once": "openstack.cloud all at once", "throttled": "openstack.cloud, max_concurrent_builds 2",
          "ours": "ours nova_deploy.yml", "burst": "reference: N creates at one instant (no Ansible)"}


def local_stack(keep: bool):
    """The project's own stack for the benchmark (one compute: the founding setup)."""
    from ironwave_testlib.local_nova import LocalNova

    STATE.mkdir(parents=True, exist_ok=True)
    ln = LocalNova(root=STATE, ports=PORTS, computes=["ironwave-bench-compute"], cloud="ironwave-nova-bench")
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(ln.clouds_yaml)
    ln.start()

    def stop() -> None:
        if not keep:
            ln.stop()

    return ns.stack_from_local_nova(ln, pool_prefix="bench"), stop


def nothing() -> None:
    """A stack started by hand is left as it is."""


def row(out: ns.Outcome, one_build: float) -> dict:
    ideal = ns.ideal_makespan(one_build, out.n, out.concurrency, out.canary)
    return {
        "way": LABELS.get(out.way, out.way), "n": out.n, "concurrency": out.concurrency, "canary": out.canary,
        "rc": out.rc, "makespan_s": out.wall_s, "span_s": out.span_s, "ideal_s": round(ideal, 1),
        "create_spread_s": out.create_spread_s, "missing": out.missing,
        "makespan_ideal": round(out.wall_s / ideal, 2) if ideal and out.wall_s else None,
        "span_ideal": round(out.span_s / ideal, 2) if ideal and out.span_s else None,
        "active": out.active, "error": out.error, "faults": out.faults, "double_booked": out.double_booked,
        "conflicts_logged": out.conflicts_logged, "violations": len(out.violations),
        "distinct_nodes": out.distinct_nodes, "duplicated": out.duplicated,
        "requests": out.requests, "requests_per_server": out.requests_per_server,
        "placement_by_tool_per_server": out.placement_by_tool_per_server,
        "request_kinds": out.request_kinds, "clean_s": out.clean_s,
    }


def markdown(rows: list[dict], meta: dict) -> str:
    head = ("| way | C | creates spread s | makespan s | span s | ideal s | makespan/ideal | span/ideal | ACTIVE | ERROR | "
            "double-booked | violations | req/server compute / placement (by the tool) / ironic |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        if r.get("skipped"):
            lines.append(f"| {r['way']} | skipped: {r['skipped']} |" + " |" * (head.count("|") - 4))
            continue
        per = r["requests_per_server"]
        lines.append(
            f"| {r['way']} | {r['concurrency']}{' (canary 1)' if r['canary'] else ''} | {r['create_spread_s']} | "
            f"{r['makespan_s']} | "
            f"{r['span_s']} | {r['ideal_s']} | {r['makespan_ideal']} | {r['span_ideal']} | {r['active']} | "
            f"{r['error']} | {len(r['double_booked'])} | {r['violations']} | "
            f"{per.get('compute')} / {per.get('placement')} ({r['placement_by_tool_per_server']}) / "
            f"{per.get('baremetal')} |")
    lines += ["", f"N = {meta['n']} servers on exactly {meta['n']} nodes; one server alone: {meta.get('one_build_s')} s "
              f"(mean of {meta.get('one_build_runs_s')}, before and after the runs); "
              f"idle background (requests/s, subtracted): {meta.get('background')}; load average at end "
              f"{meta['load_end']} on {meta['cpus']} cpus; {meta['generated']}."]
    for r in rows:
        if r.get("faults"):
            lines.append(f"- {r['way']} faults: " + "; ".join(r["faults"]))
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--deploy-limit", type=int, default=5)
    ap.add_argument("--throttle", type=int, default=2)
    ap.add_argument("--ways", default="all_at_once,throttled,ours,burst")
    ap.add_argument("--keep", action="store_true", help="leave the benchmark's Nova stack running")
    args = ap.parse_args()
    if not ns.COLLECTIONS.joinpath("ansible_collections", "ironwave", "baremetal").exists():
        print("run `make link` first", file=sys.stderr)
        return 2
    ways = [w.strip() for w in args.ways.split(",") if w.strip()]
    print(f"load average at start: {os.getloadavg()}  cpus: {os.cpu_count()}", flush=True)
    print("baseline tool: openstack.cloud from the ansible 12.3.0 wheel ...", flush=True)
    ns.openstack_cloud_collection()
    if os.environ.get("IRONWAVE_NOVAREF_BASE"):
        stack, stop = ns.stack_from_env(), nothing
    else:
        print(f"local Nova stack under {STATE.relative_to(ROOT)} ...", flush=True)
        stack, stop = local_stack(args.keep)
    rows, meta = [], {"n": args.n}
    try:
        conn = stack.connect()
        names = stack.ensure_nodes(args.n) if stack.ensure_nodes is not None else None
        pool = ns.pool_nodes(conn, stack, args.n, names)
        ns.clean(conn, stack, pool)
        meta["background"] = ns.background_rates(stack)
        singles = [ns.one_build_seconds(conn, stack, pool)]
        print(f"one server alone: {singles[0]} s; idle requests/s: {meta['background']}", flush=True)
        outcomes: list[tuple[str, ns.Outcome | str]] = []
        for way in ways:
            print(f"== {LABELS.get(way, way)} (N={args.n})", flush=True)
            try:
                out = ns.run_scenario(stack, conn, way, args.n, pool, STATE / "runs" / way,
                                      deploy_limit=args.deploy_limit, throttle=args.throttle,
                                      background=meta["background"])
                outcomes.append((way, out))
                print(f"   rc={out.rc} makespan={out.wall_s} s span={out.span_s} s creates spread={out.create_spread_s} s "
                      f"ACTIVE={out.active} ERROR={out.error} double-booked={out.double_booked} "
                      f"violations={len(out.violations)} req/server={out.requests_per_server}", flush=True)
            except Exception as exc:  # noqa: BLE001 - one broken row must not lose the others
                outcomes.append((way, f"error: {exc}"[:300]))
                print(f"   error: {exc}", flush=True)
        # The unit of the ideal, once more after the runs (the machine's load drifts): the mean.
        ns.clean(conn, stack, pool)
        singles.append(ns.one_build_seconds(conn, stack, pool))
        ns.clean(conn, stack, pool)
        meta["one_build_runs_s"] = singles
        meta["one_build_s"] = round(sum(singles) / len(singles), 2)
        rows = [row(out, meta["one_build_s"]) if isinstance(out, ns.Outcome)
                else {"way": LABELS.get(way, way), "skipped": out} for way, out in outcomes]
        ns.release_pool(conn)
    finally:
        stop()
    meta.update(generated=dt.datetime.now().isoformat(timespec="seconds"), cpus=os.cpu_count(),
                load_end=[round(x, 2) for x in os.getloadavg()])
    table = markdown(rows, meta)
    print()
    print(table)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps({**meta, "rows": rows}, indent=2))
    TABLE.write_text(table)
    print(f"JSON: {REPORT.relative_to(ROOT)}; table: {TABLE.relative_to(ROOT)}; runs under {STATE.relative_to(ROOT)}/runs/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
