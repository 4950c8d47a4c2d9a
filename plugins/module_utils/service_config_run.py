# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Carry out service_config: load the option registry (the service's own, or the collection's
release table), validate, edit the INI file atomically (check mode, diff, backup) and say whether
the service needs a reload or a restart. The INI edit and the validation are pure
(ini_config, option_registry); this is their I/O, used by the service_config module."""
from __future__ import annotations

import json
import os
import tempfile

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors as ierrors
from ansible_collections.ironwave.baremetal.plugins.module_utils import ini_config
from ansible_collections.ironwave.baremetal.plugins.module_utils import option_registry as reg
from ansible_collections.ironwave.baremetal.plugins.module_utils import release_options as ro


def _load_registry(module) -> tuple[reg.Registry | None, list[str]]:
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
            raise ierrors.BadInput(f"{problem}; fix registry_python, or set registry_required: false "
                                   "to validate against the collection's table. Nothing was changed.")
        warnings.append(problem + "; validated against the collection's table instead")
    service = params["service"]
    if service in ro.SERVICES and params["release"]:
        try:
            return reg.registry_from_table(service, params["release"]), warnings
        except ro.ReleaseError as exc:
            raise ierrors.BadInput(f"release: {exc}. Nothing was changed.") from None
    if params["allow_unknown"]:
        warnings.append("no registry and no table (give registry_python, or service ironic/nova "
                        "with release): options are written unchecked")
        return None, warnings
    raise ierrors.BadInput("cannot validate the options: give registry_python (the service venv's "
                           "python), or service: ironic|nova with release: for the collection's table, "
                           "or allow_unknown: true to write them unchecked. Nothing was changed.")


def configure(module) -> dict:
    """Validate the options, edit the INI file (check mode and diff), say what the service needs."""
    params = module.params
    path = params["path"]
    registry, warnings = _load_registry(module)
    checked, errors, more_warnings = reg.validate(params["options"], registry, params["allow_unknown"])
    warnings += more_warnings
    if errors:
        raise ierrors.BadInput("invalid options, nothing was changed: " + "; ".join(errors), errors=errors)

    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            before = handle.read()
    elif params["create"]:
        before = ""
    else:
        raise ierrors.BadInput(f"path {path} does not exist; set create: true to create it. Nothing was changed.")

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
        raise ierrors.BadInput(f"{exc}. Nothing was changed.") from None

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
    return result
