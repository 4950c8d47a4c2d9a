# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Fleet scale: the inventory plugin and the audit reading a 1,000-node local Ironic.

Starts a fresh local Ironic of its own (playbooks/local_ironic.yml through the test library,
port 38560, cloud `ironwave-scale-bench`, state under .state/bench-scale), enrolls N fake-hardware
nodes straight through the API (concurrent POSTs), moves a share to `manageable` and part of that
share on to `available`, then measures, each `--repeat` times:

* `ansible-inventory --list` with an `ironwave.baremetal.ironic` inventory file (host count
  checked = N);
* `playbooks/audit.yml` with `audit_nova=never` (the `ironwave.baremetal.fleet_audit` module;
  findings read from the JSON report it writes).

Wall time is the whole process (Python and Ansible start-up included); peak RSS is the process and
its waited-for children (`wait4` ru_maxrss); requests are Ironic's own access-log lines written
during the run (per node, and Ironic's own time to answer them, summed). Prints a table, writes reports/benchmark-scale.json and stops the Ironic
it started (the role stops the PID in its pidfile after checking it is this Ironic). Asserts
nothing about time; exits 1 if a count is wrong (hosts != N, a run failed).

    .venv/bin/python tests/benchmarks/fleet_scale.py [--nodes 1000] [--repeat 3] [--keep]
"""
from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from ironwave_testlib.local_ironic import LocalIronic  # noqa: E402 - after the path it lives on
from ironwave_testlib.paths import BIN, REPO  # noqa: E402
from ironwave_testlib.processes import pid_alive  # noqa: E402

STATE = REPO / ".state" / "bench-scale"
REPORT = REPO / "reports" / "benchmark-scale.json"
# Apart from the demo (6385), the integration Ironics (6395+), the deploy benchmark (6440) and the
# Nova benchmark (38xxx: 38292, 38306, 38369, 38385, 38500, 38672-3, 38696, 38774, 38778).
PORT = 38560
CLOUD = "ironwave-scale-bench"
PREFIX = "scale-"
API_VERSION = "1.95"


# -- Ironic over plain HTTP (noauth): fast setup without per-call SDK overhead ---------------------
def api(endpoint: str, method: str, path: str, body: dict | None = None, tries: int = 8) -> dict:
    """One Ironic API call; retries the SQLite "database is locked" 5xx and NodeLocked 409."""
    data = json.dumps(body).encode() if body is not None else None
    for attempt in range(tries):
        req = urllib.request.Request(endpoint + path, data=data, method=method, headers={
            "Content-Type": "application/json", "X-OpenStack-Ironic-API-Version": API_VERSION})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                raw = resp.read()
                return json.loads(raw) if raw else {}
        except urllib.error.HTTPError as exc:
            if exc.code not in (409, 500, 503) or attempt == tries - 1:
                raise RuntimeError(f"{method} {path}: HTTP {exc.code} {exc.read()[:300]!r}") from exc
        time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def states(endpoint: str) -> collections.Counter:
    found: collections.Counter = collections.Counter()
    path: str | None = "/v1/nodes?fields=uuid,provision_state"
    while path:
        page = api(endpoint, "GET", path)
        found.update(n["provision_state"] for n in page["nodes"])
        path = page["next"].split(endpoint, 1)[-1] if page.get("next") and page["nodes"] else None
    return found


def wait_states(endpoint: str, want: dict[str, int], timeout: float = 300) -> collections.Counter:
    deadline = time.monotonic() + timeout
    while True:
        now = states(endpoint)
        if all(now.get(s, 0) >= n for s, n in want.items()) or time.monotonic() > deadline:
            return now
        time.sleep(2)


def populate(endpoint: str, n: int, threads: int) -> tuple[collections.Counter, float]:
    """N nodes: all enrolled, every 2nd managed, every 4th of all provided (enroll 50%,
    manageable 25%, available 25%). Returns the states and the seconds it took."""
    t0 = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        uuids = list(pool.map(lambda i: api(endpoint, "POST", "/v1/nodes", {
            "name": f"{PREFIX}{i:04d}", "driver": "fake-hardware", "resource_class": "baremetal",
            "properties": {"cpus": 8, "memory_mb": 16384, "local_gb": 100}})["uuid"], range(n)))
        managed = uuids[::2]
        list(pool.map(lambda u: api(endpoint, "PUT", f"/v1/nodes/{u}/states/provision", {"target": "manage"}),
                      managed))
        now = wait_states(endpoint, {"manageable": len(managed)})
        provided = managed[::2]
        list(pool.map(lambda u: api(endpoint, "PUT", f"/v1/nodes/{u}/states/provision", {"target": "provide"}),
                      provided))
        now = wait_states(endpoint, {"available": len(provided)})
    return now, time.monotonic() - t0


# -- measured runs -------------------------------------------------------------------------------
def timed(cmd: list[str], env: dict[str, str], log: Path) -> tuple[int, float, float, str]:
    """Run cmd; (rc, wall s, peak RSS MiB of it and its waited-for children, stdout)."""
    out_path = log.with_suffix(".out")
    with open(out_path, "w", encoding="utf-8") as out, open(log, "w", encoding="utf-8") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=err)
        status, usage = os.wait4(proc.pid, 0)[1:]
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, wall, usage.ru_maxrss / 1024.0, out_path.read_text(encoding="utf-8")


def request_kind(path: str, method: str) -> str:
    base = re.sub(r"/(nodes|allocations|conductors)/(?!detail$)[^/?]+", r"/\1/<id>", path.split("?")[0])
    return f"{method} {base}"


def measure(ironic: LocalIronic, what: str, n: int, repeat: int) -> dict[str, Any]:
    runs = []
    for i in range(repeat):
        cursor = ironic.log_cursor()
        log = STATE / "logs" / f"{what}-{i}.log"
        env = ironic.env
        if what == "inventory":
            inv = STATE / "fleet.ironic.yml"
            inv.write_text(f"plugin: ironwave.baremetal.ironic\ncloud: {CLOUD}\n")
            rc, wall, rss, out = timed([str(BIN / "ansible-inventory"), "-i", str(inv), "--list"], env, log)
            count = len(json.loads(out).get("_meta", {}).get("hostvars", {})) if rc == 0 else None
            ok = rc == 0 and count == n
        else:
            report = STATE / "audit.json"
            report.unlink(missing_ok=True)
            extra = {"ironwave_cloud": CLOUD, "audit_nova": "never", "audit_report_path": str(report)}
            rc, wall, rss, _out = timed([str(BIN / "ansible-playbook"), "playbooks/audit.yml", "-e",
                                         json.dumps(extra)], env, log)
            count = len(json.loads(report.read_text())) if rc == 0 and report.exists() else None
            ok = rc == 0 and count is not None
        reqs = cursor.requests(settle=1.0)
        runs.append({"rc": rc, "ok": ok, "wall_s": round(wall, 2), "peak_rss_mib": round(rss, 1),
                     "requests": len(reqs), "count": count, "ironic_ms": round(sum(r.ms or 0.0 for r in reqs), 1),
                     "request_kinds": dict(collections.Counter(request_kind(r.path, r.method) for r in reqs))})
        if not ok:
            sys.stderr.write(f"{what} run {i} failed (rc={rc}, count={count}); see {log}\n")
    requests = max(r["requests"] for r in runs)
    return {"what": what, "ok": all(r["ok"] for r in runs),
            "wall_s_median": round(statistics.median(r["wall_s"] for r in runs), 2),
            "wall_s_min": min(r["wall_s"] for r in runs),
            "ms_per_node": round(statistics.median(r["wall_s"] for r in runs) * 1000.0 / n, 2),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
            "ironic_ms_median": round(statistics.median(r["ironic_ms"] for r in runs), 1),
            "requests": requests, "requests_per_node": round(requests / n, 4),
            "count": runs[-1]["count"], "runs": runs}


def print_table(n: int, repeat: int, rows: list[dict[str, Any]]) -> None:
    print(f"{n} nodes in a local Ironic (SQLite, one process), median of {repeat} run(s)")
    head = ("", "wall s", "ms/node", "requests", "req/node", "Ironic ms", "peak RSS MiB", "count")
    print("%-30s %7s %8s %9s %9s %10s %12s %6s" % head)
    labels = {"inventory": "ansible-inventory --list", "audit": "playbooks/audit.yml (no Nova)"}
    for r in rows:
        cells = (labels[r["what"]], r["wall_s_median"], r["ms_per_node"], r["requests"], r["requests_per_node"],
                 r["ironic_ms_median"], r["peak_rss_mib"], r["count"])
        print("%-30s %7.2f %8.2f %9d %9.4f %10.1f %12.1f %6s" % cells)
        print("    requests: " + ", ".join(f"{k} x{v}" for k, v in sorted(r["runs"][-1]["request_kinds"].items())))
    print("count = hosts in the inventory (must equal the nodes) / audit findings. Wall = whole process,")
    print("Ansible start-up included; requests and Ironic ms (its own time to answer them, summed) from")
    print("Ironic's own access log. Not asserted.")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=8, help="concurrent API calls while populating")
    ap.add_argument("--keep", action="store_true", help="leave the Ironic running")
    args = ap.parse_args()
    if not (REPO / ".build" / "collections" / "ansible_collections" / "ironwave" / "baremetal").exists():
        print("run `make link` first", file=sys.stderr)
        return 2
    (STATE / "logs").mkdir(parents=True, exist_ok=True)
    ironic = LocalIronic(name="scale", port=PORT, cloud=CLOUD, state_dir=STATE / "ironic",
                         clouds_yaml=STATE / "clouds.yaml")
    # A fresh database every time: `absent` stops a previous instance and removes its state dir.
    ironic.playbook("absent")
    ok = False
    try:
        ironic.start()
        pid = ironic.pid
        print(f"== local Ironic pid {pid} on {ironic.endpoint}; populating {args.nodes} nodes", flush=True)
        node_states, setup_s = populate(ironic.endpoint, args.nodes, args.threads)
        print(f"   {dict(node_states)} in {setup_s:.1f} s", flush=True)
        rows = [measure(ironic, "inventory", args.nodes, args.repeat),
                measure(ironic, "audit", args.nodes, args.repeat)]
        print_table(args.nodes, args.repeat, rows)
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(json.dumps({
            "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(), "load_avg": list(os.getloadavg()), "nodes": args.nodes,
            "repeat": args.repeat, "node_states": dict(node_states), "populate_s": round(setup_s, 1),
            "rows": rows}, indent=2) + "\n")
        print(f"written {REPORT.relative_to(REPO)}")
        ok = all(r["ok"] for r in rows)
    finally:
        if not args.keep:
            pid = ironic.pid
            result = ironic.stop()
            if result.rc != 0 or pid_alive(pid):
                print(f"stopping our Ironic (pid {pid}) failed:\n{result.output[-2000:]}", file=sys.stderr)
                ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
