# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The deployment benchmark's Ironic log analysis (tests/benchmarks/deploy_waves.py), on real log line formats."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SPEC = importlib.util.spec_from_file_location(
    "deploy_waves", Path(__file__).resolve().parents[2] / "benchmarks" / "deploy_waves.py")
dw = importlib.util.module_from_spec(SPEC)
sys.modules["deploy_waves"] = dw  # dataclasses look their module up there
SPEC.loader.exec_module(dw)

A = "a94b8178-a557-486f-92a0-e444461bbc6a"
B = "5530ea55-3cd4-40c3-912e-8012fcda2868"


def moved(ts: str, node: str, state: str, prev: str) -> str:
    return (f"2026-11-21 {ts} 21192 INFO ironic.conductor.task_manager [None req-x - - - - - -] Node {node} "
            f'moved to provision state "{state}" from state "{prev}"; target provision state is "active"')


def access(ts: str, method: str, path: str, status: int = 200, ms: float = 10.0) -> str:
    return (f"2026-11-21 {ts} 19627 INFO ironic.api [None req-y - - - - - -] 127.0.0.1 - {method} {path} - "
            f"{status} ({ms}ms)")


LOG = "\n".join([
    access("13:00:00.000", "GET", f"/v1/nodes/{A}"),
    access("13:00:01.100", "PUT", f"/v1/nodes/{A}/states/provision", 202, 100.0),
    moved("13:00:01.050", A, "deploying", "available"),
    access("13:00:02.000", "PUT", f"/v1/nodes/{B}/states/provision", 503),
    moved("13:00:03.000", B, "deploying", "available"),
    access("13:00:04.000", "GET", "/v1/nodes?fields=uuid,provision_state"),
    moved("13:00:06.000", A, "active", "deploying"),
    moved("13:00:09.000", B, "active", "deploying"),
    moved("13:00:10.000", A, "deleting", "active"),
])


def test_parse_counts_requests_and_busy_intervals():
    win = dw.parse_log(LOG)
    assert len(win.requests) == 4
    assert win.deployed == 2
    assert round(win.busy[A][1] - win.busy[A][0], 2) == 4.95
    assert round(win.busy[B][1] - win.busy[B][0], 2) == 6.0


def test_analyse_ideal_span_peak():
    res = dw.analyse(dw.parse_log(LOG), concurrency=1)
    assert res["ideal_s"] == 10.95            # 4.95 + 6.0 over one slot
    assert res["span_s"] == 8.0               # first deploy request started 13:00:01.000 -> last active 13:00:09
    assert res["peak_busy"] == 2
    assert res["requests_per_node"] == 2.0
    assert res["http_503"] == 1
    assert res["request_kinds"]["GET /v1/nodes (listing)"] == 1
