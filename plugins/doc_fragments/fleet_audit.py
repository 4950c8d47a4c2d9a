# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations


class ModuleDocFragment:
    # The audit's options, shared by fleet_audit and fleet_recover (which audits first).
    DOCUMENTATION = r"""
options:
  thresholds:
    description:
      - Per-state age thresholds in seconds, overriding the defaults derived from Ironic's own
        timeouts (e.g. C(wait call-back) 900 = half of C(deploy_callback_timeout)).
      - Keys are Ironic provision states, Nova task states, C(dead_conductor_lock) or
        C(allocation); or sections C(node), C(server), C(other) holding them.
    type: dict
  policy:
    description:
      - "Per-kind or per-state overrides of the recovery action (for example C(deploy failed: undeploy));
        the audit shows what recovery would do, and an action that cannot start from a node's state
        makes that plan report only."
    type: dict
  nova:
    description:
      - C(auto) audits (and recovers) Nova when the cloud's catalog has a compute endpoint; C(always)
        requires it; C(never) covers Ironic only.
    type: str
    choices: [auto, always, never]
    default: auto
  compute_shards:
    description: Compute host -> the C([ironic] shard) it serves (null = every node), for C(shard_without_compute).
    type: dict
  compute_conductor_groups:
    description: Compute host -> the C([ironic] conductor_group) it serves, for C(conductor_group_without_compute).
    type: dict
  ours_nodes:
    description:
      - Node names or UUIDs recovery may deploy again besides those reserved through an Ironic
        allocation (this collection's standalone path, metalsmith). Nodes Nova deployed never are.
    type: list
    elements: str
    default: []
"""
