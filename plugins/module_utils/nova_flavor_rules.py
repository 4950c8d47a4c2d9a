# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""What a bare metal flavor must say (pure): one node of the resource class, nothing of the
standard classes (Nova would otherwise also claim VCPU/MEMORY_MB/DISK_GB on the node's provider,
which Ironic nodes do not report)."""
from __future__ import annotations

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors
from ansible_collections.ironwave.baremetal.plugins.module_utils.nova_capacity import placement_class

STANDARD = ("VCPU", "MEMORY_MB", "DISK_GB")


def wanted_specs(resource_class: str, extra: dict | None) -> dict[str, str]:
    """The extra specs of a bare metal flavor for `resource_class` (Ironic's name or CUSTOM_...)."""
    if not resource_class or not str(resource_class).strip():
        raise errors.BadInput("resource_class: empty; give the nodes' resource class (e.g. baremetal)")
    rc = resource_class if str(resource_class).startswith("CUSTOM_") else placement_class(resource_class)
    specs = {f"resources:{rc}": "1", **{f"resources:{std}": "0" for std in STANDARD}}
    for key, value in (extra or {}).items():
        if str(key).startswith("resources:CUSTOM_") and key != f"resources:{rc}":
            raise errors.BadInput(f"extra_specs: {key} asks for a second custom resource class; a bare metal "
                                  f"flavor takes exactly one node ({rc}); remove it")
        specs[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
    return specs


def spec_changes(current: dict, wanted: dict) -> dict[str, str]:
    """The specs to set (new or different values); keys not wanted are left alone."""
    return {k: v for k, v in wanted.items() if str(current.get(k)) != v}
