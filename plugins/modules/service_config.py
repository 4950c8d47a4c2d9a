# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

DOCUMENTATION = r"""
module: service_config
short_description: Set validated options in an OpenStack service's INI config (ironic.conf, nova.conf)
version_added: 0.1.0
description:
  - Sets options in an oslo.config INI file and leaves everything else as it was - comments, blank
    lines, order, options it does not manage. Idempotent; check mode; diff mode shows a line diff.
  - Validates every option before writing anything. With O(registry_python) (the python of the
    service's own virtualenv, where C(oslo.config) and the service are installed) the names, types
    and bounds come from the service's real option registry (the C(oslo.config.opts) entry points
    that C(oslo-config-generator)/C(oslo-config-validator) read). Otherwise the collection's release
    table (which knows only the options the collection tunes) is used for O(service) and
    O(release). An unknown section/option or an out-of-range value fails naming it, and the file
    is left untouched, unless O(allow_unknown=true) (unknown names only; bounds are always checked).
  - Reports which changed options are C(mutable) (applied by C(SIGHUP)) and which need a restart.
    Writing a value equal to the option's default where the file had no value changes the file
    but not the running service, so it does not ask for a restart.
author:
  - ironwave.baremetal developers (@ironwave)
options:
  path:
    description: The configuration file.
    type: path
    required: true
  options:
    description:
      - "Options to set, as C({section: {option: value}}). Booleans are written C(true)/C(false),
        lists comma-separated."
      - A deprecated name (for example C([DEFAULT] rpc_thread_pool_size)) is accepted with a
        warning. When the file already carries the option under another of its names, that line is
        updated instead of adding a second one.
    type: dict
    required: true
  service:
    description:
      - Which service's table to fall back to when no registry is available (C(ironic) or
        C(nova)). Any other name works only with O(registry_python) or O(allow_unknown).
    type: str
    default: ironic
  release:
    description:
      - OpenStack release of the service (C(2025.1), C(epoxy), ...) for the table fallback. An
        unknown release is an error, not a guess. Not needed when the registry is read.
    type: str
  registry_python:
    description:
      - Python interpreter of the service's virtualenv (for example C(/opt/ironic/bin/python)).
        When it exists, the service's own option registry is dumped with it and used for
        validation. When it is given but cannot be run, the module fails (unless
        O(registry_required=false), then it falls back to the table with a warning).
    type: path
  registry_namespaces:
    description:
      - oslo.config namespaces to load from that environment. Default is every installed
        namespace (the service's own plus the libraries', such as C(oslo.messaging)).
    type: list
    elements: str
    default: []
  registry_required:
    description: Fail when O(registry_python) is given but the registry cannot be read.
    type: bool
    default: true
  allow_unknown:
    description:
      - Write options the registry/table does not know (for example options that a plugin
        registers at run time). Values of known options are still checked.
    type: bool
    default: false
  create:
    description: Create the file when it does not exist (otherwise that is an error).
    type: bool
    default: false
  backup:
    description: Keep a timestamped copy of the file before changing it.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.files
  - ironwave.baremetal.attributes
notes:
  - Supports check mode and diff mode.
attributes:
  check_mode:
    support: full
    details: Reports what would change without writing the file.
  diff_mode:
    support: full
    details: Shows a line diff of the file.
  action_group:
    support: none
    membership: []
"""

EXAMPLES = r"""
- name: Let ironic deploy at most 12 nodes at once, validated against ironic's own registry
  ironwave.baremetal.service_config:
    path: /etc/ironic/ironic.conf
    service: ironic
    registry_python: /opt/ironic/venv/bin/python
    options:
      conductor:
        max_concurrent_deploy: 12
        max_concurrent_clean: 12
    backup: true
  register: ironic_conf
  notify: Reload or restart ironic-conductor

- name: Nova-compute for Ironic, validated against the collection's table for 2025.1
  ironwave.baremetal.service_config:
    path: /etc/nova/nova.conf
    service: nova
    release: "2025.1"
    options:
      DEFAULT:
        max_concurrent_builds: 6
"""

RETURN = r"""
changes:
  description: Options whose line changed (or would change in check mode).
  returned: always
  type: list
  elements: dict
  sample:
    - {section: conductor, option: max_concurrent_deploy, before: "250", after: "12",
       mutable: true, effective: true}
restart_required:
  description: True when an effectively changed option is not mutable (or its mutability is unknown).
  returned: always
  type: bool
reload_sufficient:
  description: True when something effectively changed and every such option is mutable (SIGHUP applies it).
  returned: always
  type: bool
action:
  description: What the service needs - C(none), C(reload) or C(restart).
  returned: always
  type: str
  sample: reload
mutable:
  description: Changed options that are applied by a reload, as C(section.option).
  returned: always
  type: list
  elements: str
needs_restart:
  description: Changed options that need a restart, as C(section.option).
  returned: always
  type: list
  elements: str
validated_by:
  description: C(registry) (the service's own option registry), C(table) (the collection's) or C(none).
  returned: always
  type: str
backup_file:
  description: The backup copy, when one was made.
  returned: changed and backup requested
  type: str
"""

from ansible_collections.ironwave.baremetal.plugins.module_utils.module_base import ModuleBase
from ansible_collections.ironwave.baremetal.plugins.module_utils.service_config_run import configure


class ServiceConfig(ModuleBase):
    argument_spec = dict(
        path=dict(type="path", required=True),
        options=dict(type="dict", required=True),
        service=dict(type="str", default="ironic"),
        release=dict(type="str"),
        registry_python=dict(type="path"),
        registry_namespaces=dict(type="list", elements="str", default=[]),
        registry_required=dict(type="bool", default=True),
        allow_unknown=dict(type="bool", default=False),
        create=dict(type="bool", default=False),
        backup=dict(type="bool", default=False),
    )
    module_kwargs = dict(add_file_common_args=True)

    def run(self) -> dict:
        return configure(self.ansible)


def main() -> None:
    ServiceConfig()()


if __name__ == "__main__":
    main()
