# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The descriptions of the attributes every module documents (ansible-core's conventions, see
ansible.builtin.action_common_attributes); each module sets `support` (and for action_group the
`membership`) itself, from what its code does, or extends a preset below that says it."""
from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  action_group:
    description:
      - Action is part of action_group(s), for convenient setting of module_defaults.
      - "C(module_defaults: {group/ironwave.baremetal.ironwave: {cloud: mycloud}}) sets the cloud of every
        module of the C(ironwave.baremetal.ironwave) group."
"""

    # A read-only cloud module of the ironwave.baremetal.ironwave action group:
    # extends_documentation_fragment: ironwave.baremetal.attributes.read_only
    READ_ONLY = r"""
attributes:
  check_mode:
    support: full
    details: 'Read-only: runs the same in check mode (nothing is sent but reads).'
  diff_mode:
    support: N/A
    details: 'Read-only: nothing changes, so there is no diff.'
  action_group:
    support: full
    membership:
      - ironwave.baremetal.ironwave
"""
