# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The shared test helpers' reading of Ironic's log, on real log line formats."""
from __future__ import annotations

from ironwave_testlib import ironic_log

A = "a94b8178-a557-486f-92a0-e444461bbc6a"
B = "5530ea55-3cd4-40c3-912e-8012fcda2868"


def moved(ts: str, node: str, state: str, prev: str) -> str:
    return (f"2026-11-21 {ts} 21192 INFO ironic.conductor.task_manager [None req-x - - - - - -] Node {node} "
            f'moved to provision state "{state}" from state "{prev}"; target provision state is "active"')


def access(ts: str, method: str, path: str, status: int = 200) -> str:
    return (f"2026-11-21 {ts} 19627 INFO ironic.api [None req-y - - - - - -] 127.0.0.1 - {method} {path} - "
            f"{status} (10.0ms)")


LOG = "\n".join([
    access("13:00:00.000", "GET", f"/v1/nodes/{A}"),
    access("13:00:01.100", "PUT", f"/v1/nodes/{A}/states/provision", 202),
    moved("13:00:01.050", A, "deploying", "available"),
    access("13:00:02.000", "PATCH", f"/v1/nodes/{B}", 200),
    moved("13:00:03.000", B, "deploying", "available"),
    access("13:00:04.000", "GET", "/v1/nodes?fields=uuid,provision_state"),
    moved("13:00:06.000", A, "active", "deploying"),
    moved("13:00:09.000", B, "active", "deploying"),
])


def test_requests_with_times_nodes_and_kinds():
    reqs = ironic_log.requests(LOG)
    assert [(r.method, r.status) for r in reqs] == [("GET", 200), ("PUT", 202), ("PATCH", 200), ("GET", 200)]
    assert reqs[1].is_deploy and reqs[1].node == A and reqs[2].node == B and reqs[3].node is None
    assert round(reqs[1].ts - reqs[0].ts, 3) == 1.1
    assert [r.method for r in ironic_log.mutating(LOG)] == ["PUT", "PATCH"]


def test_peak_busy_replays_state_changes():
    assert ironic_log.peak_busy(LOG) == 2
    assert ironic_log.peak_busy(LOG, {A}) == 1
    assert [m.state for m in ironic_log.moves(LOG)] == ["deploying", "deploying", "active", "active"]


def test_cursor_reads_only_what_came_after_the_mark(tmp_path):
    log = tmp_path / "ironic.log"
    log.write_text(access("13:00:00.000", "POST", "/v1/allocations", 201) + "\n")
    cursor = ironic_log.LogCursor(log)
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(access("13:00:01.000", "GET", "/v1/nodes") + "\n")
    assert cursor.mutating(settle=0) == []
    assert [r.method for r in cursor.requests(settle=0)] == ["GET"]
