#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: node_undeploy
short_description: Tear down a bare metal node, only if it belongs to the expected instance
version_added: 0.1.0
description:
  - Classifies the node's association first and tears it down (C(deleted) provision action) only
    when it is associated with the expected instance (O(instance_name) and/or O(instance_uuid)),
    unless O(force=true). A node busy in a transient state is never touched, even with O(force).
  - Ironic removes the node's allocation (and so its C(instance_uuid)) as part of the teardown.
  - With O(clean=true) the node's C(automated_clean) is switched on first, so Ironic cleans it before
    it becomes C(available) again (counted against C([conductor] max_concurrent_clean)).
  - Already C(available) and not associated with anyone - C(changed=false).
  - "HTTP 503 is retried with backoff and reported as C(backpressure: true)."
author:
  - ironwave.baremetal developers (@ironwave)
extends_documentation_fragment:
  - ironwave.baremetal.cloud
  - ironwave.baremetal.attributes
options:
  node:
    description: Node name or UUID.
    type: str
    required: true
  instance_name:
    description: Expected instance name (allocation name).
    type: str
  instance_uuid:
    description: Expected instance UUID.
    type: str
  force:
    description: Tear down whatever the node is associated with (still refused while the node is busy).
    type: bool
    default: false
  clean:
    description: Turn on automated cleaning for this node before tearing it down.
    type: bool
    default: false
  wait:
    description: Wait until the node is C(available) (or failed).
    type: bool
    default: false
  timeout:
    description: Seconds to wait with O(wait=true).
    type: int
    default: 1800
  poll_interval:
    description: Seconds between shared polls while waiting.
    type: float
    default: 2.0
  backpressure_timeout:
    description: Seconds to keep retrying a request answered with HTTP 503.
    type: int
    default: 300
notes:
  - Supports check mode and diff.
attributes:
  check_mode:
    support: full
    details: Nothing is sent but reads; C(changed) says whether the node would be torn down.
  diff_mode:
    support: full
    details: The provision state and instance_uuid before and after.
  action_group:
    support: full
    membership:
      - ironwave.baremetal.ironwave
"""

EXAMPLES = r"""
- name: Tear down web-1's node and wait for it to be available again
  ironwave.baremetal.node_undeploy:
    cloud: ironwave-local
    node: "{{ reservation.node }}"
    instance_name: web-1
    wait: true
"""

RETURN = r"""
node:
  description: Node UUID.
  returned: always
  type: str
provision_state:
  description: Provision state at the end.
  returned: success
  type: str
association:
  description: The association check before acting (verdict, owner, reasons, facts).
  returned: always
  type: dict
backpressure:
  description: True when Ironic answered HTTP 503.
  returned: always
  type: bool
backpressure_503_count:
  description: Number of HTTP 503 answers seen and retried.
  returned: always
  type: int
elapsed:
  description: Seconds the module spent deciding and calling Ironic (after Python imports).
  returned: always
  type: float
retries:
  description: Requests retried by the per-cause policy.
  returned: always
  type: int
error_kinds_seen:
  description: Count of each classified Ironic error kind seen.
  returned: always
  type: dict
error_kind:
  description: On failure, the cause (an association verdict or an Ironic error kind).
  returned: failure
  type: str
"""

from ansible_collections.ironwave.baremetal.plugins.module_utils import teardown
from ansible_collections.ironwave.baremetal.plugins.module_utils.lifecycle_ops import Ops
from ansible_collections.ironwave.baremetal.plugins.module_utils.openstack_cloud import IronwaveModule


class NodeUndeploy(IronwaveModule):
    argument_spec = dict(
        node=dict(type="str", required=True),
        instance_name=dict(type="str"),
        instance_uuid=dict(type="str"),
        force=dict(type="bool", default=False),
        clean=dict(type="bool", default=False),
        wait=dict(type="bool", default=False),
        timeout=dict(type="int", default=1800),
        poll_interval=dict(type="float", default=2.0),
        backpressure_timeout=dict(type="int", default=300),
    )
    module_kwargs = dict(required_if=[("force", False, ("instance_name", "instance_uuid"), True)])

    def run(self) -> dict:
        return teardown.undeploy(Ops(self), self.params, self.ansible.check_mode)


def main() -> None:
    NodeUndeploy()()


if __name__ == "__main__":
    main()
