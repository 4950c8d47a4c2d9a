# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import random

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import ironic_errors as e

N = "11111111-1111-1111-1111-111111111111"
I = "22222222-2222-2222-2222-222222222222"

# Messages are Ironic's own _msg_fmt texts (ironic/common/exception.py, ironic 39).
CASES = [
    (409, f"Node {N} is associated with instance {I}.", "", e.NODE_ASSOCIATED, e.NEVER),
    (409, f"Node {N} is locked by host cond-1, please retry after the current operation is completed.",
     "", e.NODE_LOCKED, e.RETRY),
    (409, f"Instance {I} is already associated with a node, it cannot be associated with this other node {N}",
     "", e.INSTANCE_ASSOCIATED, e.NEVER),
    (503, "Unable to process request at this time. The concurrent action limit for provisioning has been "
          "reached. Please contact your administrator and try again later.", "", e.CONCURRENT_ACTION_LIMIT,
     e.BACKOFF),
    (503, "Requested action cannot be performed due to lack of free conductor workers.", "",
     e.NO_FREE_CONDUCTOR_WORKER, e.BACKOFF),
    (400, f'The requested action "deploy" can not be performed on node "{N}" while it is in state "active".',
     "", e.INVALID_STATE, e.NEVER),
    (400, f"The deploy operation can't be performed on node {N} because it's in maintenance mode.", "",
     e.MAINTENANCE, e.NEVER),
    (403, f"Node {N} is protected and cannot be undeployed, rebuilt or deleted", "", e.NODE_PROTECTED, e.NEVER),
    (400, f"The deploy operation can't be performed on node {N} because it is retired.", "",
     e.NODE_RETIRED, e.NEVER),
    (None, "Failed to process allocation abc: no available nodes match the resource class baremetal.", "",
     e.ALLOCATION_FAILED, e.NEVER),
    (None, "none of the requested nodes are available and match the resource class x", "",
     e.ALLOCATION_FAILED, e.NEVER),
    (None, "could not reserve any of 3 suitable nodes", "", e.ALLOCATION_FAILED, e.NEVER),
    (None, "all nodes were filtered out during reservation", "", e.ALLOCATION_FAILED, e.NEVER),
    (409, "An allocation with name web-1 already exists.", "", e.DUPLICATE, e.NEVER),
    (500, "(sqlite3.OperationalError) database is locked [SQL: DELETE FROM allocations]", "",
     e.DATABASE_BUSY, e.RETRY),
    (500, "(pymysql.err.OperationalError) (1213, 'Deadlock found when trying to get lock')", "",
     e.DATABASE_BUSY, e.RETRY),
    (None, "Failed to process allocation x: (sqlite3.OperationalError) database is locked", "",
     e.DATABASE_BUSY, e.RETRY),
    (401, "The request you have made requires authentication.", "", e.AUTH, e.NEVER),
    (None, "Could not find requested endpoint", "Unauthorized", e.AUTH, e.NEVER),
    (404, f"Node {N} could not be found.", "", e.NOT_FOUND, e.NEVER),
    (None, "no such thing", "NotFoundException", e.NOT_FOUND, e.NEVER),
    (503, "Service Unavailable", "", e.SERVER_ERROR, e.BACKOFF),
    (409, "Some other conflict", "", e.CONFLICT, e.NEVER),
    (409, "Node a can not be updated while a state transition is in progress.", "", e.IN_TRANSITION, e.NEVER),
    (400, "Invalid field", "", e.BAD_REQUEST, e.NEVER),
    (422, "Unprocessable", "", e.BAD_REQUEST, e.NEVER),
    (None, "Connection refused", "ConnectFailure", e.CONNECTION, e.RETRY),
    (None, "Remote end closed connection without response", "RemoteDisconnected", e.CONNECTION, e.RETRY),
    (None, "certificate verify failed", "SSLError", e.ENDPOINT, e.NEVER),
    (None, "no endpoint", "EndpointNotFound", e.ENDPOINT, e.NEVER),
    (502, "Bad gateway", "", e.SERVER_ERROR, e.RETRY),
    (504, "Gateway timeout", "", e.SERVER_ERROR, e.RETRY),
    (500, "Internal error", "", e.SERVER_ERROR, e.NEVER),
    (None, "something odd", "", e.UNKNOWN, e.NEVER),
]


@pytest.mark.parametrize("status,message,exc_name,kind,action", CASES)
def test_classify(status, message, exc_name, kind, action):
    err = e.classify(status, message, exc_name)
    assert (err.kind, err.action) == (kind, action)
    assert err.message == " ".join(message.split())


def test_every_kind_covered():
    kinds = {c[3] for c in CASES}
    declared = {v for k, v in vars(e).items() if k.isupper() and isinstance(v, str)
                and k not in ("RETRY", "BACKOFF", "NEVER")}
    assert declared <= kinds


def test_extracted_node_and_instance():
    err = e.classify(409, f"Node {N} is associated with instance {I}.")
    assert (err.node, err.instance) == (N, I)
    assert e.classify(409, f"Node {N} is locked by host c1, please retry").node == N
    assert e.classify(409, f"Instance {I} is already associated with a node").instance == I


def test_properties_and_one_line():
    lim = e.classify(503, "The concurrent action limit for provisioning has been reached")
    assert lim.retryable and lim.backpressure
    assoc = e.classify(409, f"Node {N} is associated with instance {I}.")
    assert not assoc.retryable and not assoc.backpressure
    line = assoc.one_line("reserving node")
    assert "\n" not in line and line.startswith("reserving node failed: HTTP 409") and "node_associated" in line
    assert e.classify(None, "x").one_line("y") == "y failed: x [unknown: see the error text]"
    assert e.classify(None, "x").advice == "see the error text"


def test_backoff_delay_bounds():
    rng = random.Random(1)
    assert all(0 <= e.backoff_delay(a, rng=rng) <= min(5.0, 0.2 * 2 ** a) for a in range(10))
    assert e.backoff_delay(-3, base=1, cap=1, rng=rng) <= 1


def test_retry_plan_by_kind():
    rng = random.Random(2)
    assoc = e.classify(409, f"Node {N} is associated with instance {I}.")
    locked = e.classify(409, f"Node {N} is locked by host c, please")
    limit = e.classify(503, "concurrent action limit")
    gateway = e.classify(502, "bad gateway")
    assert e.retry_plan(assoc, 0, 0, 60, rng) is None
    assert 0 <= e.retry_plan(locked, 0, 0, 60, rng) <= 0.2
    assert 1.0 <= e.retry_plan(limit, 0, 0, 60, rng) <= 2.0
    assert 0 <= e.retry_plan(gateway, 0, 0, 60, rng) <= 0.5
    assert e.retry_plan(limit, 5, 59.5, 60, rng) is None  # past the deadline


def test_call_stats_contract():
    s = e.CallStats()
    assert s.result_keys() == {"backpressure": False, "backpressure_503_count": 0, "retries": 0,
                               "error_kinds_seen": {}}
    s.record(e.classify(503, "concurrent action limit"))
    s.record(e.classify(503, "concurrent action limit"))
    s.record(e.classify(409, f"Node {N} is locked by host c, please"))
    s.retries = 3
    keys = s.result_keys()
    assert keys["backpressure"] and keys["backpressure_503_count"] == 2 and keys["retries"] == 3
    assert keys["error_kinds_seen"] == {e.CONCURRENT_ACTION_LIMIT: 2, e.NODE_LOCKED: 1}
    assert s.status_409 == 1 and s.requests_failed == 3
