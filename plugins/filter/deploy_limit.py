# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Filter `ironwave.baremetal.deploy_limit_plan`: the deploy role's limit variables (and the
deprecated ones) as what node_deploy's busy gate and wave_slot take. Decisions live in
plugins/plugin_utils/deploy_limit.py; this file only adapts them to Ansible (errors, deprecations)."""
from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

from ansible_collections.ironwave.baremetal.plugins.plugin_utils.deploy_limit import DeployLimitError, plan

display = Display()


def deploy_limit_plan(values):
    try:
        result = plan(values or {})
    except DeployLimitError as exc:
        raise AnsibleFilterError(str(exc)) from exc
    for message in result.deprecations:
        # Attached to the task that templated it and printed once per run (deduplicated).
        # The version is a literal for the sanity test; plugin_utils.deploy_limit.REMOVED_IN says the same.
        display.deprecated(message, version="0.3.0", collection_name="ironwave.baremetal")
    return result.as_dict()


class FilterModule:
    def filters(self):
        return {"deploy_limit_plan": deploy_limit_plan}
