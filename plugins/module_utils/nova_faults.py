# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""What a failed Nova build on Ironic means, and what to do about it (pure, stdlib only).

The server's `fault` is {"code", "message", "details"}; admins see `details` (the traceback, with
the chained causes) when code is 500. The texts matched below are Nova 34 / Ironic 39's own:
- nova/virt/ironic/driver.py `_set_instance_id`: "Failed to reserve node <n> when provisioning the
  instance <i>" (Ironic refused instance_uuid: NodeAssociated "Node <n> is associated with instance
  <i>." or NodeLocked "Node <n> is locked by host <h>, please retry after the current operation is
  completed."). It is raised in prepare_for_spawn, so the FAULT MESSAGE is the generic "Build of
  instance <i> aborted: Failure prepping block device." and the cause is only in `details`.
- `prepare_for_spawn`: "Chosen ironic node <n> is not available" as ComputeResourcesUnavailable
  ("Insufficient compute resources: ...") -> reschedule; with retries disabled that is the message.
- conductor: MaxRetriesExceeded "Exceeded maximum number of retries. Exhausted all hosts available
  for retrying build failures for instance <i>." (a pinned build has no alternate host, so any
  rescheduled failure ends so) or "... Exceeded max scheduling attempts 3 for instance <i>. Last
  exception: <reason>".
- scheduler: NoValidHost "No valid host was found. There are not enough hosts available." or
  "No valid host was found. " (Placement returned no candidate).
- `_wait_for_active`: "Failed to provision instance <i>: <node last_error>" (Ironic deploy failed)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

NODE_ASSOCIATED = "node_associated"
NODE_LOCKED = "node_locked"
NO_VALID_HOST_RACE = "no_valid_host_race"
NO_VALID_HOST = "no_valid_host"
COMPUTE_RESOURCES_UNAVAILABLE = "compute_resources_unavailable"
DEPLOY_FAILED = "deploy_failed"
BUILD_TIMEOUT = "build_timeout"      # ours: the server stayed in BUILD past our timeout
SERVER_GONE = "server_gone"          # ours: the server vanished while we waited (deleted behind our back)
WRONG_NODE = "wrong_node"            # ours: ACTIVE, but not on the pinned node (or the node holds another)
QUOTA_EXCEEDED = "quota_exceeded"   # the project's quota, rechecked by the conductor at build time
UNKNOWN = "unknown"

REBUILD = "rebuild"                     # delete the ERROR server, wait until its node is clean, build again
RECHECK_CAPACITY = "recheck_capacity"   # rebuild only if a fresh capacity check shows a usable node
FAIL = "fail"

_ACTIONS = {NODE_ASSOCIATED: REBUILD, NODE_LOCKED: REBUILD, NO_VALID_HOST_RACE: REBUILD,
            COMPUTE_RESOURCES_UNAVAILABLE: REBUILD, NO_VALID_HOST: RECHECK_CAPACITY}

_ADVICE = {
    NODE_ASSOCIATED: "another build claimed the node first (race); delete the server, wait for the node to be "
                     "available and build again",
    NODE_LOCKED: "a conductor held the node's lock when Nova claimed it (race); delete the server, wait for the "
                 "node to be available and build again",
    NO_VALID_HOST_RACE: "Nova rescheduled until it ran out of hosts (nodes taken by concurrent builds); delete "
                        "the server and build again on a node that is still free",
    COMPUTE_RESOURCES_UNAVAILABLE: "the node was taken or not ready when the build reached it (race); delete "
                                   "the server and build again",
    NO_VALID_HOST: "Placement offered no node for the request: check capacity again (flavor resource class, "
                   "free providers, compute services) before building again",
    DEPLOY_FAILED: "Ironic failed to deploy the node: read the node's last_error and the conductor log; fix the "
                   "node (or image) and rebuild",
    BUILD_TIMEOUT: "the server stayed in BUILD: check nova-compute and the node's provision state; delete the "
                   "server to release the node",
    SERVER_GONE: "someone deleted the server during its build; find out who before building again",
    WRONG_NODE: "Nova, Ironic and the pin disagree on the node: do not use the server; compare the server's "
                "hypervisor_hostname, the node's instance_uuid and Placement's allocations",
    QUOTA_EXCEEDED: "the project's Nova quota (instances, cores or RAM) is used up: raise it (openstack quota "
                    "set --instances N <project>) or delete servers; building again cannot help",
    UNKNOWN: "read the server's fault details and the nova-compute log",
}


@dataclass(frozen=True)
class BuildFault:
    kind: str
    action: str
    message: str
    advice: str


def make(kind: str, message: str) -> BuildFault:
    """A BuildFault of a known kind with its action and advice (for our own kinds too)."""
    return BuildFault(kind, _ACTIONS.get(kind, FAIL), message, _ADVICE.get(kind, _ADVICE[UNKNOWN]))


def _kind_of(text: str) -> str | None:
    """The kind a piece of Nova/Ironic text points to (checked most specific first)."""
    if "Quota exceeded" in text:
        return QUOTA_EXCEEDED
    if "is locked by host" in text:
        return NODE_LOCKED
    if "is associated with instance" in text or "is already associated with a node" in text or \
            "Failed to reserve node" in text:
        return NODE_ASSOCIATED
    if "Chosen ironic node" in text and "is not available" in text:
        return COMPUTE_RESOURCES_UNAVAILABLE
    if "Failed to provision instance" in text or "Failed to request Ironic to provision" in text:
        return DEPLOY_FAILED
    if "Insufficient compute resources" in text or "ComputeResourcesUnavailable" in text:
        return COMPUTE_RESOURCES_UNAVAILABLE
    return None


def classify(fault: Mapping | None, status: str, task_state: str | None = None) -> BuildFault:
    """Classify a build that did not reach ACTIVE. `status` BUILD means our wait timed out."""
    if str(status or "").upper() == "BUILD":
        return make(BUILD_TIMEOUT, f"server still in BUILD (task state {task_state or 'none'})")
    fault = fault if isinstance(fault, Mapping) else {}
    message = str(fault.get("message") or "")
    details = str(fault.get("details") or "")
    shown = message or f"server {status or 'in an unknown state'} without a fault"
    if "Exceeded maximum number of retries" in message:
        # "Last exception: ..." names the cause when retries ran out unpinned: a deploy failure
        # that Nova rescheduled is still a deploy failure.
        last = message.partition("Last exception:")[2]
        return make(DEPLOY_FAILED if _kind_of(last) == DEPLOY_FAILED else NO_VALID_HOST_RACE, shown)
    if "No valid host was found" in message or "NoValidHost" in message:
        return make(NO_VALID_HOST, shown)
    # The message first (retries disabled: the reason itself), then the chained causes in details.
    kind = _kind_of(message) or _kind_of(details)
    return make(kind or UNKNOWN, shown)
