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
notes:
  - Supports check mode and diff mode.
attributes:
  check_mode:
    description: Reports what would change without writing the file.
    support: full
  diff_mode:
    description: Shows a line diff of the file.
    support: full
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

import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ironwave.baremetal.plugins.module_utils import ini_config
from ansible_collections.ironwave.baremetal.plugins.module_utils import option_registry as reg
from ansible_collections.ironwave.baremetal.plugins.module_utils import release_options as ro


def _load_registry(module: AnsibleModule) -> tuple[reg.Registry | None, list[str]]:
    params = module.params
    warnings: list[str] = []
    python = params["registry_python"]
    if python:
        if os.path.exists(python):
            rc, out, err = module.run_command(
                [python, "-c", reg.DUMP_SCRIPT, *params["registry_namespaces"]], check_rc=False)
            if rc == 0:
                try:
                    data = json.loads(out)
                except ValueError:
                    data = None
                if data is not None:
                    for namespace, error in (data.get("errors") or {}).items():
                        warnings.append(f"registry namespace {namespace} could not be loaded: {error}")
                    if data.get("options"):
                        return reg.registry_from_dump(data), warnings
            problem = f"could not read the option registry with {python} (rc={rc}): {err.strip()[-400:]}"
        else:
            problem = f"registry_python {python} does not exist"
        if params["registry_required"]:
            module.fail_json(msg=f"{problem}; fix registry_python, or set registry_required: false "
                                 "to validate against the collection's table. Nothing was changed.")
        warnings.append(problem + "; validated against the collection's table instead")
    service = params["service"]
    if service in ro.SERVICES and params["release"]:
        try:
            return reg.registry_from_table(service, params["release"]), warnings
        except ro.ReleaseError as exc:
            module.fail_json(msg=f"release: {exc}. Nothing was changed.")
    if params["allow_unknown"]:
        warnings.append("no registry and no table (give registry_python, or service ironic/nova "
                        "with release): options are written unchecked")
        return None, warnings
    module.fail_json(msg="cannot validate the options: give registry_python (the service venv's "
                         "python), or service: ironic|nova with release: for the collection's table, "
                         "or allow_unknown: true to write them unchecked. Nothing was changed.")
    return None, warnings  # pragma: no cover


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
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
        ),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    params = module.params
    path = params["path"]
    registry, warnings = _load_registry(module)
    checked, errors, more_warnings = reg.validate(params["options"], registry, params["allow_unknown"])
    warnings += more_warnings
    if errors:
        module.fail_json(msg="invalid options, nothing was changed: " + "; ".join(errors), errors=errors)

    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            before = handle.read()
    elif params["create"]:
        before = ""
    else:
        module.fail_json(msg=f"path {path} does not exist; set create: true to create it. Nothing was changed.")

    wanted: dict[str, dict[str, str]] = {}
    aliases: dict[tuple[str, str], list[str]] = {}
    infos: dict[tuple[str, str], reg.Checked] = {}
    for item in checked:
        wanted.setdefault(item.section, {})[item.name] = item.value
        aliases[(item.section, item.name)] = item.aliases
        infos[(item.section, item.name)] = item

    def equal(section: str, key: str, old: str, new: str) -> bool:
        return reg.same_value(infos[(section, key)].info, old, new)

    try:
        after, changes = ini_config.apply_options(before, wanted, aliases, equal)
    except ValueError as exc:
        module.fail_json(msg=f"{exc}. Nothing was changed.")

    reported, mutable, restart = [], [], []
    for change in changes:
        item = infos.get((change.section, change.key)) or next(
            i for (s, _ignored), i in infos.items() if s == change.section and change.key in [i.name, *i.aliases])
        info = item.info
        # An absent option set to its default changes the file, not the running service.
        effective = not (change.before is None and info is not None and info.is_default(change.after))
        entry = dict(section=change.section, option=change.key, before=change.before, after=change.after,
                     mutable=item.mutable, effective=effective)
        reported.append(entry)
        if effective:
            (mutable if item.mutable else restart).append(f"{change.section}.{change.key}")
    action = "restart" if restart else ("reload" if mutable else "none")

    result = dict(changed=bool(changes), changes=reported, mutable=mutable, needs_restart=restart,
                  restart_required=bool(restart), reload_sufficient=bool(mutable) and not restart,
                  action=action, validated_by=registry.source if registry else "none")
    for warning in warnings:
        module.warn(warning)
    if module._diff:
        result["diff"] = dict(before=before, after=after, before_header=path, after_header=path)

    if changes and not module.check_mode:
        if params["backup"] and os.path.exists(path):
            result["backup_file"] = module.backup_local(path)
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".ironwave-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(after)
        if os.path.exists(path):
            # Keep owner/group/mode of the file being replaced.
            module.atomic_move(tmp, path)
        else:
            os.chmod(tmp, 0o600)
            module.atomic_move(tmp, path)
    if os.path.exists(path) or not module.check_mode:
        file_args = module.load_file_common_arguments(params)
        file_args["path"] = path
        if os.path.exists(path):
            result["changed"] = module.set_fs_attributes_if_different(file_args, result["changed"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
