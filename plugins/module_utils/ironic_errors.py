# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Classify Ironic / openstacksdk failures by cause and decide what to do about each.

Pure Python (no openstacksdk import): callers pass the HTTP status, the server's message and the
exception class name. openstacksdk retries every 409/503 blindly; we switch that off and decide here:
NodeLocked is transient (retry with jitter), NodeAssociated never succeeds on retry,
ConcurrentActionLimit / NoFreeConductorWorker are backpressure (back off, shrink the window).
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

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
SERVER_ERROR = "server_error"
CONFLICT = "conflict"
UNKNOWN = "unknown"

# What to do about it.
RETRY = "retry"          # transient: retry soon with jittered backoff
BACKOFF = "backoff"      # backpressure: wait longer, shrink the window
NEVER = "never"          # retrying cannot help

_NODE_ASSOCIATED_RE = re.compile(r"Node (?P<node>\S+) is associated with instance (?P<instance>[^\s.]+)")
_NODE_LOCKED_RE = re.compile(r"Node (?P<node>\S+) is locked by host (?P<host>\S+?),")
_INSTANCE_ASSOCIATED_RE = re.compile(r"Instance (?P<instance>\S+) is already associated with a node")
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
    SERVER_ERROR: "Ironic failed internally; check the ironic-conductor/api logs",
    CONFLICT: "Ironic reported a conflict; check the node's current state",
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
    if status == 409:
        return IronicError(CONFLICT, NEVER, status, msg)
    if status in (400, 406, 422):
        return IronicError(BAD_REQUEST, NEVER, status, msg)
    if name in ("ConnectFailure", "ConnectionError", "EndpointNotFound", "DiscoveryFailure",
                "ConnectTimeout", "SSLError", "EndpointException", "ServiceDiscoveryException",
                "ConfigException", "OpenStackCloudException"):
        return IronicError(ENDPOINT, NEVER, status, msg)
    if status is not None and status >= 500:
        return IronicError(SERVER_ERROR, RETRY if status in (502, 504) else NEVER, status, msg)
    return IronicError(UNKNOWN, NEVER, status, msg)


def backoff_delay(attempt: int, base: float = 0.2, cap: float = 5.0, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff: uniform(0, min(cap, base * 2**attempt))."""
    r = rng or random
    return r.uniform(0, min(cap, base * (2 ** max(0, attempt))))
