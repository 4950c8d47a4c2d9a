#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: node_release
short_description: Release a bare metal node's reservation, only if it belongs to the expected instance
version_added: 0.1.0
description:
  - Removes the reservation made by M(ironwave.baremetal.node_reserve) from a node that is not
    deployed - deletes its allocation, or (for a node reserved with C(mode=instance_uuid)) clears C(instance_uuid) and
    C(instance_info.display_name).
  - Only when the node is associated with the expected instance, unless O(force=true).
  - A deployed node is refused - use M(ironwave.baremetal.node_undeploy), which also releases it.
  - Nothing reserved (no allocation with that name, node not associated) - C(changed=false).
author:
  - ironwave.baremetal developers (@ironwave)
extends_documentation_fragment:
  - ironwave.baremetal.cloud
  - ironwave.baremetal.attributes
options:
  node:
    description: Node name or UUID. When omitted, the node is found from the allocation named O(instance_name).
    type: str
  instance_name:
    description: Expected instance name (allocation name).
    type: str
  instance_uuid:
    description: Expected instance UUID.
    type: str
  force:
    description: Release whatever the node is associated with (never while it is deployed or busy).
    type: bool
    default: false
notes:
  - Supports check mode and diff.
attributes:
  check_mode:
    support: full
    details: Nothing is sent but reads; C(changed) says whether the reservation would be removed.
  diff_mode:
    support: full
    details: The node's instance_uuid and allocation before and after.
  action_group:
    support: full
    membership:
      - ironwave.baremetal.ironwave
"""

EXAMPLES = r"""
- name: Give web-1's reservation back
  ironwave.baremetal.node_release:
    cloud: ironwave-local
    instance_name: web-1
"""

RETURN = r"""
node:
  description: Node UUID (null when nothing was reserved).
  returned: always
  type: str
released:
  description: What was removed (C(allocation <uuid>) or C(instance_uuid <uuid>)).
  returned: when changed
  type: str
association:
  description: The association check before acting.
  returned: when a node was found
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
  description: On failure, the cause.
  returned: failure
  type: str
"""

from ansible_collections.ironwave.baremetal.plugins.module_utils import teardown
from ansible_collections.ironwave.baremetal.plugins.module_utils.lifecycle_ops import Ops
from ansible_collections.ironwave.baremetal.plugins.module_utils.openstack_cloud import IronwaveModule


class NodeRelease(IronwaveModule):
    argument_spec = dict(
        node=dict(type="str"),
        instance_name=dict(type="str"),
        instance_uuid=dict(type="str"),
        force=dict(type="bool", default=False),
    )
    module_kwargs = dict(required_one_of=[("node", "instance_name")],
                         required_if=[("force", False, ("instance_name", "instance_uuid"), True)])

    def run(self) -> dict:
        return teardown.release(Ops(self), self.params, self.ansible.check_mode)


def main() -> None:
    NodeRelease()()


if __name__ == "__main__":
    main()
