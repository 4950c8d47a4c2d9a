# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Classify Ironic / openstacksdk failures by cause and decide what to do about each.

Pure Python (no openstacksdk import): callers pass the HTTP status, the server's message and the
exception class name. openstacksdk retries every 409/503 blindly; we switch that off and decide here:
NodeLocked is transient (retry with jitter), NodeAssociated never succeeds on retry,
ConcurrentActionLimit / NoFreeConductorWorker are backpressure (back off, shrink the window),
connection errors (refused, reset, closed without an answer, timed out) are transient - the client
(ironic_client.py) rides them out, like 502/503/504 from a proxy, up to its outage budget.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

# Kinds of failure.
NODE_LOCKED = "node_locked"
NODE_ASSOCIATED = "node_associated"
INSTANCE_ASSOCIATED = "instance_associated"
CONCURRENT_ACTION_LIMIT = "concurrent_action_limit"
NO_FREE_CONDUCTOR_WORKER = "no_free_conductor_worker"
INVALID_STATE = "invalid_state"
MAINTENANCE = "maintenance"
NOT_FOUND = "not_found"
DUPLICATE = "duplicate"
BAD_REQUEST = "bad_request"
AUTH = "auth"
ENDPOINT = "endpoint"
CONNECTION = "connection"    # transient transport failure: refused, reset, closed, timed out
SERVER_ERROR = "server_error"
CONFLICT = "conflict"
IN_TRANSITION = "in_transition"   # 409: the node is moving (deploying, cleaning, ...); no update now
ALLOCATION_FAILED = "allocation_failed"
DATABASE_BUSY = "database_busy"
NODE_PROTECTED = "node_protected"
NODE_RETIRED = "node_retired"
UNKNOWN = "unknown"

# What to do about it.
RETRY = "retry"          # transient: retry soon with jittered backoff
BACKOFF = "backoff"      # backpressure: wait longer, shrink the window
NEVER = "never"          # retrying cannot help

# Transport exceptions (keystoneauth, requests/urllib3, builtins) that mean "the API or the way to it
# is away right now" (an API restart, a load-balancer failover, a keep-alive race), not a
# misconfiguration: the client rides them out up to its outage budget.
CONNECTION_EXCEPTIONS = ("ConnectFailure", "ConnectTimeout", "UnknownConnectionError",
                         "RetriableConnectionFailure", "RemoteDisconnected", "ReadTimeout",
                         "ProtocolError", "ConnectionRefusedError", "ConnectionResetError",
                         "ConnectionAbortedError", "BrokenPipeError")

_NODE_ASSOCIATED_RE = re.compile(r"Node (?P<node>\S+) is associated with instance (?P<instance>[^\s.]+)")
_NODE_LOCKED_RE = re.compile(r"Node (?P<node>\S+) is locked by host (?P<host>\S+?),")
_INSTANCE_ASSOCIATED_RE = re.compile(r"Instance (?P<instance>\S+) is already associated with a node")
_ALLOCATION_FAILED_RE = re.compile(
    r"Failed to process allocation (?P<allocation>\S+?):|none of the requested nodes are available"
    r"|no available nodes match|could not reserve any of \d+ suitable nodes"
    r"|all nodes were filtered out during reservation"
)
_DATABASE_BUSY_RE = re.compile(r"database is locked|Deadlock found|Lock wait timeout exceeded|DBDeadlock")
_NODE_PROTECTED_RE = re.compile(r"Node (?P<node>\S+) is protected")
_NODE_RETIRED_RE = re.compile(r"on node (?P<node>\S+) because it is retired")
IN_TRANSITION_RE = re.compile(r"can not be updated while a state transition is in progress")
_INVALID_STATE_RE = re.compile(
    r'The requested action "(?P<action>[^"]+)" can not be performed on node "(?P<node>[^"]+)" '
    r'while it is in state "(?P<state>[^"]+)"'
)

_ADVICE = {
    NODE_LOCKED: "a conductor holds the node's lock; retried with backoff",
    NODE_ASSOCIATED: "the node belongs to another instance; pick another node or release it first",
    INSTANCE_ASSOCIATED: "the instance is already on another node; release that node first",
    CONCURRENT_ACTION_LIMIT: "Ironic's [conductor] max_concurrent_deploy/clean limit was hit; "
                             "lower the wave size or raise the limit (see limits_plan)",
    NO_FREE_CONDUCTOR_WORKER: "the conductors have no free workers; lower the wave size or raise "
                              "[conductor] workers_pool_size",
    INVALID_STATE: "the node is not in a state that allows this action; check provision_state",
    MAINTENANCE: "the node is in maintenance; clear maintenance (and its reason) first",
    NOT_FOUND: "check the node name/UUID and that you talk to the right cloud",
    DUPLICATE: "the name or MAC address is already used by another resource",
    BAD_REQUEST: "Ironic rejected the request as invalid; fix the named field",
    AUTH: "check the credentials (cloud, auth, OS_CLOUD / OS_CLIENT_CONFIG_FILE)",
    ENDPOINT: "check that the bare metal endpoint is reachable (auth_url, "
              "baremetal_endpoint_override, interface, region_name)",
    CONNECTION: "the connection to the API failed or dropped; retried with backoff up to the "
                "outage budget (outage_budget)",
    SERVER_ERROR: "Ironic failed internally; check the ironic-conductor/api logs",
    CONFLICT: "Ironic reported a conflict; check the node's current state",
    IN_TRANSITION: "the node is in a state transition (someone is deploying, cleaning or inspecting it); "
                   "wait for it to settle or pick another node",
    ALLOCATION_FAILED: "no candidate node could be reserved; widen the filter, add nodes or "
                       "release unused ones",
    NODE_PROTECTED: "the node is protected; clear its 'protected' flag first if it really must change",
    NODE_RETIRED: "the node is retired; it cannot be deployed again",
    DATABASE_BUSY: "Ironic's database was locked or deadlocked for a moment; retried. Frequent? Ironic "
                   "on sqlite does not take concurrent writers well; use MySQL/PostgreSQL",
    UNKNOWN: "see the error text",
}


@dataclass(frozen=True)
class IronicError:
    """A failure, classified."""

    kind: str
    action: str              # RETRY, BACKOFF or NEVER
    status: int | None
    message: str             # the server's message, one line
    node: str | None = None
    instance: str | None = None

    @property
    def retryable(self) -> bool:
        return self.action in (RETRY, BACKOFF)

    @property
    def backpressure(self) -> bool:
        return self.kind in (CONCURRENT_ACTION_LIMIT, NO_FREE_CONDUCTOR_WORKER)

    @property
    def advice(self) -> str:
        return _ADVICE.get(self.kind, _ADVICE[UNKNOWN])

    def one_line(self, what: str) -> str:
        """'<what failed>: <server message> (<kind>: <what to do>)' on a single line."""
        status = f"HTTP {self.status} " if self.status else ""
        text = " ".join(f"{what} failed: {status}{self.message}".split())
        return f"{text} [{self.kind}: {self.advice}]"


def _first_line(text: str) -> str:
    return " ".join((text or "").split())


def classify(status: int | None, message: str, exc_name: str = "") -> IronicError:
    """Classify one failure from its HTTP status, message text and exception class name."""
    msg = _first_line(message)
    m = _NODE_ASSOCIATED_RE.search(msg)
    if m:
        return IronicError(NODE_ASSOCIATED, NEVER, status, msg, m.group("node"), m.group("instance"))
    m = _NODE_LOCKED_RE.search(msg)
    if m:
        return IronicError(NODE_LOCKED, RETRY, status, msg, m.group("node"))
    m = _INSTANCE_ASSOCIATED_RE.search(msg)
    if m:
        return IronicError(INSTANCE_ASSOCIATED, NEVER, status, msg, instance=m.group("instance"))
    if "concurrent action limit" in msg.lower():
        return IronicError(CONCURRENT_ACTION_LIMIT, BACKOFF, status, msg)
    if "lack of free conductor workers" in msg.lower():
        return IronicError(NO_FREE_CONDUCTOR_WORKER, BACKOFF, status, msg)
    m = _INVALID_STATE_RE.search(msg)
    if m:
        return IronicError(INVALID_STATE, NEVER, status, msg, m.group("node"))
    if "maintenance mode" in msg:
        return IronicError(MAINTENANCE, NEVER, status, msg)
    m = _NODE_PROTECTED_RE.search(msg)
    if m:  # HTTP 403, but not an auth problem
        return IronicError(NODE_PROTECTED, NEVER, status, msg, m.group("node"))
    m = _NODE_RETIRED_RE.search(msg)
    if m:
        return IronicError(NODE_RETIRED, NEVER, status, msg, m.group("node"))
    if _DATABASE_BUSY_RE.search(msg):
        return IronicError(DATABASE_BUSY, RETRY, status, msg)
    if _ALLOCATION_FAILED_RE.search(msg):
        return IronicError(ALLOCATION_FAILED, NEVER, status, msg)
    if re.search(r"already exists", msg):
        return IronicError(DUPLICATE, NEVER, status, msg)
    name = exc_name or ""
    if status in (401, 403) or name in ("Unauthorized", "Forbidden", "HttpError401", "AuthorizationFailure",
                                        "MissingRequiredOptions", "NoMatchingPlugin", "Unauthorized"):
        return IronicError(AUTH, NEVER, status, msg)
    if status == 404 or name in ("NotFoundException", "ResourceNotFound"):
        return IronicError(NOT_FOUND, NEVER, status, msg)
    if status == 503:
        return IronicError(SERVER_ERROR, BACKOFF, status, msg)
    if status == 409 and IN_TRANSITION_RE.search(msg):
        return IronicError(IN_TRANSITION, NEVER, status, msg)
    if status == 409:
        return IronicError(CONFLICT, NEVER, status, msg)
    if status in (400, 406, 422):
        return IronicError(BAD_REQUEST, NEVER, status, msg)
    if status is None and name in CONNECTION_EXCEPTIONS:
        return IronicError(CONNECTION, RETRY, status, msg)
    if name in ("ConnectionError", "EndpointNotFound", "DiscoveryFailure",
                "SSLError", "EndpointException", "ServiceDiscoveryException",
                "ConfigException", "OpenStackCloudException"):
        return IronicError(ENDPOINT, NEVER, status, msg)
    if status is not None and status >= 500:
        return IronicError(SERVER_ERROR, RETRY if status in (502, 504) else NEVER, status, msg)
    return IronicError(UNKNOWN, NEVER, status, msg)


def backoff_delay(attempt: int, base: float = 0.2, cap: float = 5.0, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff: uniform(0, min(cap, base * 2**attempt))."""
    r = rng or random
    return r.uniform(0, min(cap, base * (2 ** max(0, attempt))))


@dataclass
class CallStats:
    """What one module run saw from Ironic, for the result (the wave strategy reads it)."""

    requests_failed: int = 0
    status_503: int = 0
    status_409: int = 0
    retries: int = 0
    kinds: dict = field(default_factory=dict)

    def record(self, err: IronicError) -> None:
        self.requests_failed += 1
        if err.status == 503:
            self.status_503 += 1
        elif err.status == 409:
            self.status_409 += 1
        self.kinds[err.kind] = self.kinds.get(err.kind, 0) + 1

    @property
    def backpressure(self) -> bool:
        limits = (CONCURRENT_ACTION_LIMIT, NO_FREE_CONDUCTOR_WORKER)
        return self.status_503 > 0 or any(k in self.kinds for k in limits)

    def result_keys(self) -> dict:
        """The documented result contract: backpressure, backpressure_503_count, error_kinds_seen."""
        return {"backpressure": self.backpressure, "backpressure_503_count": self.status_503,
                "retries": self.retries, "error_kinds_seen": dict(self.kinds)}


def retry_plan(err: IronicError, attempt: int, elapsed: float, deadline: float,
               rng: random.Random | None = None) -> float | None:
    """Seconds to wait before retrying after `err` on the given attempt (0-based), or None to stop.

    NodeLocked: short jittered backoff (locks last seconds). Backpressure (503): longer backoff,
    capped at 15 s, because a deploy slot frees only when a deploy finishes. NEVER kinds: stop.
    Nothing retries past `deadline` seconds of total elapsed time.
    """
    if err.action == NEVER:
        return None
    if err.kind == NODE_LOCKED:
        delay = backoff_delay(attempt, base=0.2, cap=3.0, rng=rng)
    elif err.action == BACKOFF:
        delay = 1.0 + backoff_delay(attempt, base=1.0, cap=15.0, rng=rng)
    else:
        delay = backoff_delay(attempt, base=0.5, cap=5.0, rng=rng)
    if elapsed + delay > deadline:
        return None
    return delay
