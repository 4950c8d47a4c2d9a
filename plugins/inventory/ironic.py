# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Inventory plugin: Ironic nodes as hosts, grouped by state, resource class, conductor group,
shard, traits, maintenance and (optionally) their nova-compute host.

Thin adapter: the connection and the Ironic client are the modules' own (openstack_cloud,
ironic_client: one bulk listing, all pages); every decision (filters, masking, names, groups) is
in module_utils/inventory_rules. What is cached is the masked listing, never a secret.
"""
from __future__ import annotations

DOCUMENTATION = r"""
name: ironic
short_description: Ironic bare metal nodes as inventory hosts
version_added: 0.1.0
description:
  - Lists every Ironic node in one bulk request (C(GET /v1/nodes/detail), all pages) and makes each
    node a host named after the node (its UUID when it has no name).
  - The node's fields become host variables under O(vars_prefix) (C(ironic_uuid),
    C(ironic_provision_state), C(ironic_power_state), C(ironic_resource_class),
    C(ironic_conductor_group), C(ironic_shard), C(ironic_traits), C(ironic_maintenance),
    C(ironic_instance_uuid), C(ironic_driver), C(ironic_driver_info), ...).
  - Values under a C(driver_info), C(instance_info) or C(driver_internal_info) key that names a
    secret (password, secret, token, key, community, passphrase, credential, ipmi_kg; not
    C(deploy_kernel)/C(deploy_ramdisk)/...) are shown as C(********), in the inventory and in its cache.
  - Groups (names sanitised to lower case C([a-z0-9_])) C(ironic_state_<provision_state>),
    C(ironic_rc_<resource_class>), C(ironic_group_<conductor_group>), C(ironic_shard_<shard>),
    C(ironic_trait_<trait>) (one per trait), C(ironic_maintenance) and, with O(compute_hosts),
    C(ironic_compute_<nova-compute host>). Nodes in the default (empty) conductor group, without a
    shard or without a resource class get no group of that kind.
  - The inventory file must be named C(ironic.yml), C(ironic.yaml) or end in C(.ironic.yml) /
    C(.ironic.yaml).
author:
  - ironwave.baremetal developers (@ironwave)
extends_documentation_fragment:
  - constructed
  - inventory_cache
  - ironwave.baremetal.cloud
options:
  plugin:
    description: Marks the file as this plugin's configuration.
    required: true
    type: str
    choices: [ironwave.baremetal.ironic]
  vars_prefix:
    description: Prefix of the host variables made from the node's fields.
    type: str
    default: ironic_
  group_by:
    description:
      - Which groups to make. C(compute_host) is added by O(compute_hosts).
    type: list
    elements: str
    default: [provision_state, resource_class, conductor_group, shard, traits, maintenance]
    choices: [provision_state, resource_class, conductor_group, shard, traits, maintenance, compute_host]
  resource_class:
    description: Only nodes of one of these resource classes (empty = all).
    type: list
    elements: str
    default: []
    aliases: [resource_classes]
  provision_states:
    description: Only nodes in one of these provision states (empty = all).
    type: list
    elements: str
    default: []
  filter:
    description:
      - A JMESPath expression evaluated on each node's dict (the API's field names, secrets already
        masked); the node is kept when the result is truthy. Needs the C(jmespath) library.
      - "Example: C(maintenance == `false` && contains(traits, 'CUSTOM_GPU'))."
    type: str
  compute_hosts:
    description:
      - Also read Nova's hypervisors (C(GET /os-hypervisors/detail), all pages; for Ironic
        C(hypervisor_hostname) is the node UUID) and put each node in
        C(ironic_compute_<service host>) of the nova-compute that owns it; the host variable
        C(ironic_compute_host) holds that host (null when no compute owns the node).
      - When the cloud has no compute endpoint or Nova does not answer, a warning is shown and
        the inventory is built without these groups.
    type: bool
    default: false
notes:
  - One listing request per page (no per-node requests); the Ironic API microversion is
    O(baremetal_api_version) when set, else the highest the server offers (C(shard) needs 1.82).
  - With O(cache) enabled the masked node listing (and the compute map) is cached per inventory file.
requirements:
  - python >= 3.9
  - openstacksdk >= 1.0.0
  - jmespath (only for O(filter))
"""

EXAMPLES = r"""
# inventory/prod.ironic.yml
plugin: ironwave.baremetal.ironic
cloud: prod-baremetal
resource_class: [baremetal, gpu]
provision_states: [available, active, manageable]
filter: "maintenance == `false` || maintenance_reason != null"
compose:
  ansible_host: ironic_extra.mgmt_ip | default(omit)
keyed_groups:
  - key: ironic_power_state
    prefix: power
groups:
  deployable: ironic_provision_state == 'available' and not ironic_maintenance
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/ironwave-inventory
"""

import os

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, inventory_rules

try:
    from ansible_collections.ironwave.baremetal.plugins.module_utils import ironic_client, openstack_cloud
    HAS_CLOUD = openstack_cloud.HAS_SDK
except ImportError:  # pragma: no cover - reported by parse()
    HAS_CLOUD = False

FILE_NAMES = ("ironic.yml", "ironic.yaml")
FILE_SUFFIXES = (".ironic.yml", ".ironic.yaml")


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "ironwave.baremetal.ironic"

    def verify_file(self, path: str) -> bool:
        if not super().verify_file(path):
            return False
        base = os.path.basename(path)
        return base in FILE_NAMES or base.endswith(FILE_SUFFIXES)

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        try:
            node_filter = inventory_rules.NodeFilter.build(self.get_option("resource_class"),
                                                           self.get_option("provision_states"),
                                                           self.get_option("filter"))
            group_by = list(self.get_option("group_by") or [])
            if self.get_option("compute_hosts") and "compute_host" not in group_by:
                group_by.append("compute_host")
            nodes, computes = self._listing(path, cache)
            hosts = inventory_rules.plan_hosts(nodes, node_filter, group_by, self.get_option("vars_prefix"),
                                               computes)
        except errors.IronwaveError as exc:
            raise AnsibleParserError(f"{self.NAME} ({path}): {exc.msg}") from exc
        self._populate(hosts)

    # -- reading (cached) --------------------------------------------------------------------
    def _listing(self, path: str, cache: bool) -> tuple[list[dict], dict | None]:
        """The masked node listing and the compute map (None when not asked or not reachable),
        from the inventory cache when enabled and fresh."""
        key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        update = self.get_option("cache") and not cache
        if use_cache:
            try:
                cached = self._cache[key]
                return cached["nodes"], cached["compute_hosts"]
            except KeyError:
                update = True
        nodes, computes = self._fetch()
        if update:
            self._cache[key] = {"nodes": nodes, "compute_hosts": computes}
        return nodes, computes

    def _fetch(self) -> tuple[list[dict], dict | None]:
        if not HAS_CLOUD:
            raise AnsibleError(f"{self.NAME} needs openstacksdk on the controller (pip install openstacksdk)")
        params = {name: self.get_option(name) for name in openstack_cloud.CLOUD_OPTION_NAMES}
        try:
            conn = openstack_cloud.connect(params)
        except Exception as exc:  # noqa: BLE001 - one clear line, as the modules give
            missing = openstack_cloud._cloud_not_found(params.get("cloud"), exc)
            raise AnsibleParserError(f"{self.NAME}: {missing or f'connecting to the cloud failed: {exc}'}") from exc
        budget = self.get_option("outage_budget")
        budget = ironic_client.DEFAULT_OUTAGE_BUDGET if budget is None else float(budget)
        client = ironic_client.IronicClient(conn, outage_budget=budget)
        try:
            client.microversion = self.get_option("baremetal_api_version") or self._max_version(client)
            # Masked before anything else sees it (cache included).
            nodes = [inventory_rules.mask_node(n) for n in client.list("/nodes/detail", "nodes")]
        except errors.IronwaveError as exc:
            raise AnsibleParserError(f"{self.NAME}: listing Ironic nodes at {client.endpoint} failed: {exc.msg}") from exc
        computes = self._compute_hosts(conn, budget) if self.get_option("compute_hosts") else None
        return nodes, computes

    @staticmethod
    def _max_version(client) -> str:
        """The server's highest microversion (GET /v1), so new fields (shard, ...) are listed."""
        root = client.get("") or {}
        return (root.get("version") or {}).get("version") or ironic_client.DEFAULT_MICROVERSION

    def _compute_hosts(self, conn, budget: float) -> dict | None:
        from ansible_collections.ironwave.baremetal.plugins.module_utils import nova_client
        try:
            # A short budget: an absent Nova should not hold the inventory for minutes.
            hypervisors = nova_client.NovaApi(conn, outage_budget=min(budget, 10.0)).hypervisors()
        except Exception as exc:  # noqa: BLE001 - Nova is optional here
            self.display.warning(f"{self.NAME}: compute_hosts: Nova is not reachable ({getattr(exc, 'msg', exc)}); "
                                 "the inventory has no ironic_compute_* groups")
            return None
        return inventory_rules.compute_hosts_by_node(hypervisors)

    # -- populating ----------------------------------------------------------------------------
    def _populate(self, hosts: list[inventory_rules.Host]) -> None:
        strict = self.get_option("strict")
        for host in hosts:
            self.inventory.add_host(host.name)
            for name, value in host.variables.items():
                self.inventory.set_variable(host.name, name, value)
            for group in host.groups:
                self.inventory.add_group(group)
                self.inventory.add_child(group, host.name)
            hostvars = self.inventory.get_host(host.name).get_vars()
            self._set_composite_vars(self.get_option("compose"), hostvars, host.name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), hostvars, host.name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, host.name, strict=strict)
