#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: node_wait
short_description: Wait for bare metal nodes to reach a provision state, with shared polling
version_added: 0.1.0
description:
  - Waits until every node in O(nodes) is in O(target) with no pending target state, or one of
    them reaches a failure state (reported with Ironic's C(last_error)), or O(timeout) passes.
  - "Polling is shared: every Ansible worker process running this module against the same cloud
    reads one bulk listing (C(GET /v1/nodes?fields=...)) per tick from a short-lived cache on the
    controller (a file under C($TMPDIR/ironwave-poll-<uid>), or C(IRONWAVE_POLL_CACHE_DIR)),
    guarded by a file lock. Twenty hosts waiting at once cost one request per tick, not twenty."
  - With O(instance_uuid) or O(instance_name) (one node only) the association is verified at the end.
  - Never changes anything.
author:
  - ironwave.baremetal developers (@ironwave)
extends_documentation_fragment:
  - ironwave.baremetal.cloud
  - ironwave.baremetal.attributes
options:
  nodes:
    description: Node names or UUIDs.
    type: list
    elements: str
    required: true
  target:
    description: Provision state to wait for.
    type: str
    default: active
  failure_states:
    description: States that end the wait as failed.
    type: list
    elements: str
    default: [deploy failed, clean failed, error, inspect failed, rescue failed, service failed]
  timeout:
    description: Seconds to wait.
    type: int
    default: 1800
  poll_interval:
    description: Seconds per shared poll tick (the cache's time to live).
    type: float
    default: 2.0
  instance_name:
    description: Expected instance name (single node only); verified when the target is reached.
    type: str
  instance_uuid:
    description: Expected instance UUID (single node only); verified when the target is reached.
    type: str
notes:
  - Supports check mode (read-only).
attributes:
  check_mode:
    support: full
    details: 'Read-only: waits the same in check mode (nothing is sent but reads).'
  diff_mode:
    support: N/A
    details: 'Read-only: nothing changes, so there is no diff.'
  action_group:
    support: full
    membership:
      - ironwave.baremetal.ironwave
"""

EXAMPLES = r"""
- name: Wait for this host's node, verifying it is still ours
  ironwave.baremetal.node_wait:
    cloud: ironwave-local
    nodes: ["{{ reservation.node }}"]
    instance_uuid: "{{ reservation.instance_uuid }}"
    timeout: 3600
"""

RETURN = r"""
nodes:
  description: Per node UUID - name, provision_state, target_provision_state, last_error.
  returned: always
  type: dict
reached:
  description: UUIDs of nodes in the target state.
  returned: always
  type: list
  elements: str
failed:
  description: UUIDs of nodes in a failure state.
  returned: always
  type: list
  elements: str
timed_out:
  description: Whether the timeout passed first.
  returned: always
  type: bool
association:
  description: Verdict of the final association check (when an expected instance was given).
  returned: when instance_name or instance_uuid is given
  type: str
elapsed:
  description: Seconds waited.
  returned: always
  type: float
backpressure:
  description: True when Ironic answered HTTP 503 while polling.
  returned: always
  type: bool
backpressure_503_count:
  description: Number of HTTP 503 answers seen.
  returned: always
  type: int
retries:
  description: Requests retried by the per-cause policy.
  returned: always
  type: int
error_kinds_seen:
  description: Count of each classified Ironic error kind seen.
  returned: always
  type: dict
"""

from ansible_collections.ironwave.baremetal.plugins.module_utils.lifecycle_ops import Ops
from ansible_collections.ironwave.baremetal.plugins.module_utils.openstack_cloud import IronwaveModule
from ansible_collections.ironwave.baremetal.plugins.module_utils.waiting import wait_nodes


class NodeWait(IronwaveModule):
    argument_spec = dict(
        nodes=dict(type="list", elements="str", required=True),
        target=dict(type="str", default="active"),
        failure_states=dict(type="list", elements="str",
                            default=["deploy failed", "clean failed", "error", "inspect failed",
                                     "rescue failed", "service failed"]),
        timeout=dict(type="int", default=1800),
        poll_interval=dict(type="float", default=2.0),
        instance_name=dict(type="str"),
        instance_uuid=dict(type="str"),
    )

    def run(self) -> dict:
        return wait_nodes(Ops(self), self.params)


def main() -> None:
    NodeWait()()


if __name__ == "__main__":
    main()
