# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: limits_plan
short_description: Compute nova/ironic concurrency limits that match the deployment waves
version_added: 0.1.0
description:
  - Read-only planner. From the fleet size, the wave size, the number of ironic conductors (and
    conductor groups), the number of nova-compute services for Ironic and the OpenStack release,
    computes values for nova C([DEFAULT] max_concurrent_builds), ironic C([conductor]
    max_concurrent_deploy), C(max_concurrent_clean), C(workers_pool_size),
    C(sync_power_state_workers) and C([DEFAULT] executor_thread_pool_size) (C(rpc_thread_pool_size)
    before Liberty), each with the reason and the formula, plus the matching wave size.
  - The server-side limits sit just above what the waves send, so they never trip in normal
    operation but still stop a runaway client; the pools are sized so nothing queues inside a
    service. Values are bounded by each option's minimum/maximum in the given release.
  - The release is looked up in the collection's documented release table; an unknown release is
    an error, not a guess. See docs/tuning.md for the formulas.
  - Pure computation, runs on the controller; never contacts a service.
author:
  - ironwave.baremetal developers (@ironwave)
options:
  release:
    description: OpenStack release, as series name or year (C(epoxy), C(2025.1), C(2026.2)).
    type: str
    required: true
  fleet_size:
    description: Number of nodes to deploy.
    type: int
    required: true
  wave_size:
    description:
      - Nodes in flight at once (the wave / window). Capped to O(fleet_size). Default
        C(min(fleet_size, 20 x conductors)).
    type: int
  conductors:
    description: Number of ironic-conductor services.
    type: int
    default: 1
  conductor_groups:
    description:
      - "Nodes per conductor group, as C({group: node count}) (C(\"\") is the default group); must
        add up to O(fleet_size). With two or more groups, and a release that has it, the limits
        are counted per group."
    type: dict
  compute_services:
    description: Number of nova-compute services using the Ironic driver (0 = standalone Ironic).
    type: int
    default: 0
  deploy_duration:
    description: Measured seconds for one node deploy; only used for the time estimate.
    type: float
  bmc_call_seconds:
    description: Seconds one BMC power-state query takes (sizes the power-sync pool).
    type: float
    default: 2.0
  sync_power_state_interval:
    description: Ironic's C([conductor] sync_power_state_interval) in seconds.
    type: int
    default: 60
  headroom_ratio:
    description: Headroom above the wave, as a fraction of it.
    type: float
    default: 0.1
  min_headroom:
    description: Minimum headroom above the wave, in nodes.
    type: int
    default: 2
notes:
  - Never changes anything; runs in check mode too.
extends_documentation_fragment:
  - ironwave.baremetal.attributes
attributes:
  check_mode:
    support: full
    details: Pure computation on the controller; never contacts a service, so it runs the same in check mode.
  diff_mode:
    support: N/A
    details: 'Read-only: nothing changes, so there is no diff.'
  action_group:
    support: none
    membership: []
"""

EXAMPLES = r"""
- name: Plan the limits for 400 nodes in waves of 40, 3 conductors, 2 nova-computes, 2025.1
  ironwave.baremetal.limits_plan:
    release: "2025.1"
    fleet_size: 400
    wave_size: 40
    conductors: 3
    compute_services: 2
  register: plan

- name: Push the ironic part
  ironwave.baremetal.service_config:
    path: /etc/ironic/ironic.conf
    service: ironic
    release: "2025.1"
    options: "{{ plan.service_options.ironic }}"
"""

RETURN = r"""
wave_size:
  description: The wave size the waves should use; the limits sit just above it.
  returned: always
  type: int
  sample: 40
wave_reason:
  description: Why that wave size.
  returned: always
  type: str
headroom:
  description: How far the limits sit above the wave.
  returned: always
  type: int
  sample: 4
recommendations:
  description: One entry per option, with value, default, mutable, reason, formula and scope.
  returned: always
  type: list
  elements: dict
  sample:
    - {service: ironic, section: conductor, option: max_concurrent_deploy, value: 44, default: 250,
       mutable: true, scope: "every conductor (same value everywhere)",
       formula: "min(W, largest group) + headroom", reason: "..."}
service_options:
  description: "The values as C({service: {section: {option: value}}}), ready for M(ironwave.baremetal.service_config)."
  returned: always
  type: dict
  sample: {ironic: {conductor: {max_concurrent_deploy: 44}}, nova: {DEFAULT: {max_concurrent_builds: 31}}}
not_applicable:
  description:
    - Options not set, with the reason (for example absent in that release, or nova options for a
      standalone Ironic). Not called C(skipped), which Ansible would read as "the task was skipped".
  returned: always
  type: list
  elements: dict
estimate:
  description: Number of waves and, with O(deploy_duration), lockstep and sliding-window durations.
  returned: always
  type: dict
release:
  description: The release series name used.
  returned: always
  type: str
release_year:
  description: The release as year.N.
  returned: always
  type: str
"""

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import limits_plan as lpm
from ansible_collections.ironwave.baremetal.plugins.module_utils import release_options as ro
from ansible_collections.ironwave.baremetal.plugins.module_utils.module_base import ModuleBase


class LimitsPlan(ModuleBase):
    argument_spec = dict(
        release=dict(type="str", required=True),
        fleet_size=dict(type="int", required=True),
        wave_size=dict(type="int"),
        conductors=dict(type="int", default=1),
        conductor_groups=dict(type="dict"),
        compute_services=dict(type="int", default=0),
        deploy_duration=dict(type="float"),
        bmc_call_seconds=dict(type="float", default=2.0),
        sync_power_state_interval=dict(type="int", default=60),
        headroom_ratio=dict(type="float", default=0.1),
        min_headroom=dict(type="int", default=2),
    )

    def run(self) -> dict:
        p = self.params
        try:
            plan = lpm.compute_plan(lpm.PlanInput(
                fleet_size=p["fleet_size"], release=p["release"], wave_size=p["wave_size"],
                conductors=p["conductors"], conductor_groups=conductor_groups(p["conductor_groups"]),
                compute_services=p["compute_services"], deploy_duration=p["deploy_duration"],
                bmc_call_seconds=p["bmc_call_seconds"], sync_power_state_interval=p["sync_power_state_interval"],
                headroom_ratio=p["headroom_ratio"], min_headroom=p["min_headroom"]))
        except (lpm.PlanError, ro.ReleaseError) as exc:
            raise errors.BadInput(str(exc)) from None
        data = plan.to_dict()
        # A result key "skipped" that is true marks the whole task as skipped in Ansible.
        data["not_applicable"] = data.pop("skipped")
        for warning in data.pop("warnings"):
            self.ansible.warn(warning)
        return dict(changed=False, **data)


def conductor_groups(groups: dict | None) -> dict | None:
    if groups is None:
        return None
    try:
        return {str(k): int(v) for k, v in groups.items()}
    except (TypeError, ValueError):
        raise errors.BadInput("conductor_groups must map group names to node counts, e.g. {rack1: 40}") from None


def main() -> None:
    LimitsPlan()()


if __name__ == "__main__":
    main()
